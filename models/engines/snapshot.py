import json

from odoo import api, fields, models
from odoo.tools import SQL

from ..lifecycle_rules import FUNNEL_FLAGS_SQL


class HousekeepingEngineSnapshot(models.AbstractModel):
    """The snapshots of the *Membership Overview* and the lifecycle reports
    (nightly, run by the cohort refresh, ``ir_cron_cohort_refresh``, which already
    reads every done visit each night; after the lifecycle evaluation of the
    night). Incremental, a few statements whatever the history:

    - ``housekeeping.dashboard.snapshot``: today's row of each company (one scan
      of two years of done visits, grouped by company and customer; one of the
      customers, per stage and tier, with their expected visits; the points
      dated before today); earlier rows stay;
    - ``housekeeping.lifecycle.month``: the months closed since the last one
      stored (read from their log rows only);
    - ``housekeeping.lifecycle.reach``: the log rows written since the last run,
      folded into each customer's funnel flags;
    - ``housekeeping.lifecycle.transition.count``: the log rows written since the
      last run, added to the transitions per move, day, trigger, reason and company;
    - ``housekeeping.tier.member.count``: the day's changes of the members added
      up, one row per tier and company.
    """

    _name = "housekeeping.engine.snapshot"
    _inherit = ["housekeeping.engine"]
    _description = "Membership Overview Snapshot Engine"

    _engine_key = "snapshot"

    @api.model
    def _run(self):
        """Returns the number of dashboard rows written."""
        for model in (
            "housekeeping.visit",
            "housekeeping.stage.log",
            "housekeeping.points.entry",
            "res.partner",
        ):
            self.env[model].flush_model()
        self._without_jit()
        today = fields.Date.context_today(self)
        self._store_months(today)
        self._fold_reach()
        self._count_funnel()
        self._fold_transitions()
        self.env["housekeeping.tier.member.count"]._fold()
        count = self._write_dashboard_rows(today)
        for model in (
            "housekeeping.dashboard.snapshot",
            "housekeeping.lifecycle.month",
            "housekeeping.lifecycle.reach",
            "housekeeping.lifecycle.funnel.count",
            "housekeeping.lifecycle.transition.count",
        ):
            self.env[model].invalidate_model()
        return count

    @api.model
    def _store_months(self, today):
        """Fold the stage log rows written since the last run into the stored
        month-end stage counts (``housekeeping.lifecycle.month``): the months
        from the first one those rows touch (the current one, as a rule) are
        rewritten as the report computes them, the months before are left alone;
        and their moves per day and company (into churned, won back, into and out
        of at risk) are added."""
        Month = self.env["housekeeping.lifecycle.month"]
        self.env.cr.execute(
            """SELECT (SELECT COALESCE(max(id), 0) FROM housekeeping_stage_log),
                      (SELECT COALESCE(max(log_id), 0) FROM housekeeping_lifecycle_month)"""
        )
        upto, mark = self.env.cr.fetchone()
        self.env.cr.execute(
            SQL(
                """SELECT date_trunc('month', min(date))::date FROM housekeeping_stage_log
                    WHERE id > %s AND id <= %s AND date <= %s""",
                mark,
                upto,
                today,
            )
        )
        since = self.env.cr.fetchone()[0]
        stamp = SQL(
            "%s, now() AT TIME ZONE 'UTC', %s, now() AT TIME ZONE 'UTC'", *[self.env.uid] * 2
        )
        if not since:
            return 0
        self.env.cr.execute(
            SQL(
                """
            WITH computed AS MATERIALIZED (
                SELECT * FROM (%(months)s) q WHERE q.month >= %(since)s
            ), gone AS (
                DELETE FROM housekeeping_lifecycle_month
                 WHERE (lifecycle_stage IS NOT NULL AND month >= %(since)s)
                    OR (lifecycle_stage IS NULL AND log_id IS NOT NULL)
            )
            INSERT INTO housekeeping_lifecycle_month
                   (month, day, lifecycle_stage, company_id, customer_count, churned_count,
                    won_back_count, at_risk_in_count, at_risk_out_count, log_id,
                    create_uid, create_date, write_uid, write_date)
            SELECT month, NULL, stage, company_id, customers, 0, 0, 0, 0, %(upto)s, %(stamp)s
              FROM computed
             UNION ALL
            -- the moves of the rows read, per day and company
            SELECT date_trunc('month', l.date)::date, l.date, NULL, l.company_id, 0,
                   count(*) FILTER (WHERE l.to_stage = 'churned'),
                   count(*) FILTER (WHERE l.from_stage IN ('at_risk', 'churned')
                                      AND l.to_stage IN ('new', 'loyal')),
                   count(*) FILTER (WHERE l.to_stage = 'at_risk'),
                   count(*) FILTER (WHERE l.from_stage = 'at_risk'),
                   NULL, %(stamp)s
              FROM housekeeping_stage_log l
             WHERE l.id > %(mark)s AND l.id <= %(upto)s
             GROUP BY l.date, l.company_id
             UNION ALL
            -- the last log row read, kept even when no count is left
            SELECT %(since)s, NULL, NULL, NULL, 0, 0, 0, 0, 0, %(upto)s, %(stamp)s
            """,
                months=self.env["housekeeping.report.lifecycle.snapshot"]._months_query(
                    today, upto=upto
                ),
                since=since,
                mark=mark,
                upto=upto,
                stamp=stamp,
            )
        )
        count = self.env.cr.rowcount
        Month.invalidate_model()
        return count

    @api.model
    def _fold_reach(self):
        """Fold the stage log rows written since the last run into the customers'
        funnel flags (first day, reached new, reached loyal): one upsert."""
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO housekeeping_lifecycle_reach
                   (partner_id, date, reached_new, reached_loyal, log_id,
                    create_uid, create_date, write_uid, write_date)
            SELECT l.partner_id, %(flags)s, max(l.id),
                   %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
              FROM housekeeping_stage_log l
             WHERE l.id > (SELECT COALESCE(max(log_id), 0) FROM housekeeping_lifecycle_reach)
             GROUP BY l.partner_id
                ON CONFLICT (partner_id) DO UPDATE
               SET date = LEAST(housekeeping_lifecycle_reach.date, EXCLUDED.date),
                   reached_new = housekeeping_lifecycle_reach.reached_new
                                 OR EXCLUDED.reached_new,
                   reached_loyal = housekeeping_lifecycle_reach.reached_loyal
                                   OR EXCLUDED.reached_loyal,
                   log_id = GREATEST(housekeeping_lifecycle_reach.log_id, EXCLUDED.log_id),
                   write_uid = EXCLUDED.write_uid, write_date = EXCLUDED.write_date
            """,
                uid=self.env.uid,
                flags=SQL(FUNNEL_FLAGS_SQL),
            )
        )
        return self.env.cr.rowcount

    @api.model
    def _count_funnel(self):
        """Rewrite the funnel's counts per step, company and first day
        (``housekeeping.lifecycle.funnel.count``) from the customers' flags just
        folded: one pass over the flags of the active customers, a few hundred
        rows written."""
        self.env.cr.execute("DELETE FROM housekeeping_lifecycle_funnel_count")
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO housekeeping_lifecycle_funnel_count
                   (step, date, company_id, customer_count,
                    create_uid, create_date, write_uid, write_date)
            SELECT s.step, k.date, p.company_id, count(*),
                   %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
              FROM housekeeping_lifecycle_reach k
              JOIN res_partner p ON p.id = k.partner_id AND p.active
             CROSS JOIN LATERAL (VALUES ('1_potential', true), ('2_new', k.reached_new),
                                        ('3_loyal', k.reached_loyal)) s(step, ok)
             WHERE s.ok
             GROUP BY 1, 2, 3
            """,
                uid=self.env.uid,
            )
        )
        return self.env.cr.rowcount

    @api.model
    def _fold_transitions(self):
        """Add the stage log rows written since the last run (after the last one
        folded, ``log_id``, up to the last one now) to the transitions per move,
        day, trigger, churn reason and company
        (``housekeeping.lifecycle.transition.count``): one upsert; every row it
        touches gets the new mark, so the mark (the greatest ``log_id``) is the
        last row folded. Nothing new: nothing written."""
        self.env.cr.execute(
            SQL(
                """
            WITH mark AS (
                SELECT (SELECT COALESCE(max(log_id), 0)
                          FROM housekeeping_lifecycle_transition_count) AS id,
                       (SELECT COALESCE(max(id), 0) FROM housekeeping_stage_log) AS upto
            )
            INSERT INTO housekeeping_lifecycle_transition_count
                   (from_stage, to_stage, date, trigger, churn_reason_id, company_id,
                    transition_count, days_sum, days_count, log_id,
                    create_uid, create_date, write_uid, write_date)
            SELECT l.from_stage, l.to_stage, l.date, l.trigger, l.churn_reason_id,
                   l.company_id, count(*), COALESCE(sum(l.days_in_previous_stage), 0),
                   count(l.days_in_previous_stage), mark.upto,
                   %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
              FROM housekeeping_stage_log l, mark
             WHERE l.id > mark.id AND l.id <= mark.upto
             GROUP BY l.from_stage, l.to_stage, l.date, l.trigger, l.churn_reason_id,
                      l.company_id, mark.upto
                ON CONFLICT (from_stage, to_stage, date, trigger, churn_reason_id, company_id)
                DO UPDATE
               SET transition_count = housekeeping_lifecycle_transition_count.transition_count
                                      + EXCLUDED.transition_count,
                   days_sum = housekeeping_lifecycle_transition_count.days_sum
                              + EXCLUDED.days_sum,
                   days_count = housekeeping_lifecycle_transition_count.days_count
                                + EXCLUDED.days_count,
                   log_id = EXCLUDED.log_id,
                   write_uid = EXCLUDED.write_uid, write_date = EXCLUDED.write_date
            """,
                uid=self.env.uid,
            )
        )
        return self.env.cr.rowcount

    @api.model
    def _write_dashboard_rows(self, today):
        """Today's snapshot row of every company (rewritten when run again the same
        day): the dashboard's own live queries, over every company at once. The
        customers per stage are stored with the last stage log row they include
        (``log_id``, read in the same statement): the dashboard adds the moves of
        the log rows after it for its customers at risk now."""
        Dashboard = self.env["housekeeping.dashboard"]
        company_ids = self.env["res.company"].sudo().search([]).ids
        visits = {row[0]: row[1:] for row in Dashboard._visit_kpi_rows(company_ids, today)}
        stages, tiers, expected, log_id = Dashboard._population_counts(company_ids)
        self.env.cr.execute(
            SQL(
                """SELECT e.company_id, sum(e.points) FROM housekeeping_points_entry e
                    WHERE e.company_id = ANY(%s) AND e.date < %s GROUP BY e.company_id""",
                company_ids,
                today,
            )
        )
        points = dict(self.env.cr.fetchall())
        rows = []
        for company_id in company_ids:
            kpis = visits.get(company_id) or (0,) * 9
            rows.append(
                SQL(
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s,"
                    " %s::numeric, %s)",
                    company_id,
                    today,
                    *kpis,
                    json.dumps(stages.get(company_id, {})),
                    json.dumps(tiers.get(company_id, {})),
                    int(points.get(company_id) or 0),
                    expected.get(company_id, 0),
                    log_id,
                )
            )
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO housekeeping_dashboard_snapshot
                   (company_id, date, active_count, active_prev_count, active_prev2_count,
                    retained_count, retained_prev_count, buyer_count, repeat_buyer_count,
                    buyer_prev_count, repeat_buyer_prev_count, stage_counts, tier_counts,
                    points_closed, expected_visits, log_id,
                    create_uid, create_date, write_uid, write_date)
            SELECT v.*, %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
              FROM (VALUES %(rows)s) v
                ON CONFLICT (company_id, date) DO UPDATE
               SET active_count = EXCLUDED.active_count,
                   active_prev_count = EXCLUDED.active_prev_count,
                   active_prev2_count = EXCLUDED.active_prev2_count,
                   retained_count = EXCLUDED.retained_count,
                   retained_prev_count = EXCLUDED.retained_prev_count,
                   buyer_count = EXCLUDED.buyer_count,
                   repeat_buyer_count = EXCLUDED.repeat_buyer_count,
                   buyer_prev_count = EXCLUDED.buyer_prev_count,
                   repeat_buyer_prev_count = EXCLUDED.repeat_buyer_prev_count,
                   stage_counts = EXCLUDED.stage_counts,
                   tier_counts = EXCLUDED.tier_counts,
                   points_closed = EXCLUDED.points_closed,
                   expected_visits = EXCLUDED.expected_visits,
                   log_id = EXCLUDED.log_id,
                   write_uid = EXCLUDED.write_uid, write_date = EXCLUDED.write_date
            """,
                rows=SQL(", ").join(rows),
                uid=self.env.uid,
            )
        )
        return self.env.cr.rowcount
