from odoo import api, fields, models
from odoo.tools import SQL

from ..models.lifecycle_rules import FUNNEL_FLAGS_SQL, LIFECYCLE_STAGES

# the stage log rows the nightly snapshot has not folded into the customers' flags
# (housekeeping.lifecycle.reach, up to its last log row): their flags per customer
FUNNEL_FRESH_CTES = f"""mark AS (
                SELECT COALESCE(max(log_id), 0) AS id FROM housekeeping_lifecycle_reach
            ), fresh AS (
                SELECT l.partner_id, {FUNNEL_FLAGS_SQL}
                  FROM housekeeping_stage_log l, mark
                 WHERE l.id > mark.id
                 GROUP BY l.partner_id
            )"""


def churn_reason_sql(env, stage, reason):
    """SQL: the churn reason label of a move to ``stage`` whose reason is the row
    ``reason`` (an alias) of housekeeping_churn_reason, in the user's language,
    never empty (grouped, an empty many2one reads "None")."""
    return SQL(
        """CASE WHEN %(stage)s IN ('at_risk', 'churned')
                THEN COALESCE(%(name)s->>%(lang)s, %(name)s->>'en_US', %(none)s)
                ELSE %(na)s END""",
        stage=stage,
        name=SQL.identifier(reason, "name"),
        lang=env.lang or "en_US",
        none=env._("Not confirmed"),
        na=env._("Not applicable"),
    )


class HousekeepingReportLifecycleTransitionFields(models.AbstractModel):
    """The figures of the lifecycle transitions, per stage change
    (``housekeeping.report.lifecycle.transition``) or counted per move and day
    (``housekeeping.report.lifecycle.transition.day``)."""

    _name = "housekeeping.report.lifecycle.transition.fields"
    _description = "Lifecycle Transition Figures"

    from_stage = fields.Selection(LIFECYCLE_STAGES, readonly=True)
    to_stage = fields.Selection(LIFECYCLE_STAGES, readonly=True)
    date = fields.Date(readonly=True)
    trigger = fields.Selection(
        [("cron", "Scheduled Evaluation"), ("visit", "Visit"), ("manual", "Manual")],
        readonly=True,
    )
    # (a label of its own: two fields of a model may not share one)
    churn_reason_id = fields.Many2one(
        "housekeeping.churn.reason", string="Churn Reason Given", readonly=True
    )
    churn_reason = fields.Char(
        readonly=True,
        help='The churn reason of a move to at risk or churned, "Not confirmed" when '
        'none was given; "Not applicable" for the other moves.',
    )
    company_id = fields.Many2one("res.company", readonly=True)
    transition_count = fields.Integer(string="Transitions", readonly=True, aggregator="sum")
    days_in_previous_stage = fields.Float(
        string="Days in Previous Stage", readonly=True, aggregator="avg"
    )


class HousekeepingReportLifecycleTransition(models.Model):
    """Lifecycle transitions (one row per stage change): transition matrix
    (from × to), churn by reason, time spent in the previous stage. Grouped
    reads that do not look at the customers are counted per move and day
    (``housekeeping.report.lifecycle.transition.day``): a few thousand rows
    instead of a row per stage change (1M+ at 1M customers: 0.15 s a pivot)."""

    _name = "housekeeping.report.lifecycle.transition"
    _inherit = ["housekeeping.report.lifecycle.transition.fields", "housekeeping.report.counted"]
    _description = "Lifecycle Transitions Analysis"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "partner_id"

    _hk_counts_model = "housekeeping.report.lifecycle.transition.day"
    _hk_counts_fields = frozenset(
        {
            "from_stage",
            "to_stage",
            "date",
            "trigger",
            "churn_reason_id",
            "churn_reason",
            "company_id",
        }
    )
    _hk_counts_aggregates = {
        "__count": "transition_count:sum",
        "transition_count:sum": "transition_count:sum",
        "days_in_previous_stage:avg": "days_in_previous_stage:avg",
    }

    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    reason = fields.Char(readonly=True)

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT l.id, l.partner_id, l.from_stage, l.to_stage, l.date, l.trigger,
                   l.reason, l.churn_reason_id, %s AS churn_reason,
                   l.company_id, 1 AS transition_count, l.days_in_previous_stage
              FROM housekeeping_stage_log l
              LEFT JOIN housekeeping_churn_reason r ON r.id = l.churn_reason_id
            """,
            churn_reason_sql(self.env, SQL.identifier("l", "to_stage"), "r"),
        )


class HousekeepingReportLifecycleTransitionDay(models.Model):
    """The lifecycle transitions counted per move (from, to), day, trigger, churn
    reason and company: what the transition matrix's pivot and graph read
    (``housekeeping.report.lifecycle.transition`` hands over its grouped reads
    that do not look at the customers). The transitions counted by the last
    nightly snapshot (``housekeeping.lifecycle.transition.count``, up to its last
    log row), plus the stage log rows written since: always current, a few
    thousand rows whatever the number of customers. Nothing counted yet (a fresh
    install, the night after an upgrade): every log row is read, the same
    figures, only slower. The average days in the previous stage is the sum of
    the days over the transitions that have them (``_read_group_select``)."""

    _name = "housekeeping.report.lifecycle.transition.day"
    _inherit = ["housekeeping.report.lifecycle.transition.fields"]
    _description = "Lifecycle Transitions per Day"
    _auto = False
    _order = "date desc, from_stage, to_stage"
    _rec_name = "date"

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        # the average over the transitions whose days are known, not of the rows
        if aggregate_spec == "days_in_previous_stage:avg":
            return SQL(
                "SUM(%s)::float8 / NULLIF(SUM(%s), 0)",
                SQL.identifier(self._table, "days_sum"),
                SQL.identifier(self._table, "days_count"),
            )
        return super()._read_group_select(aggregate_spec, query)

    @property
    def _table_query(self):
        # a reason deleted since the night reads as none, as on its log rows
        return SQL(
            """
            WITH mark AS (
                SELECT COALESCE(max(log_id), 0) AS id
                  FROM housekeeping_lifecycle_transition_count
            ), moves AS (
                SELECT from_stage, to_stage, date, trigger, churn_reason_id, company_id,
                       sum(n) AS n, sum(days_sum) AS days_sum, sum(days_count) AS days_count
                  FROM (SELECT c.from_stage, c.to_stage, c.date, c.trigger,
                               c.churn_reason_id, c.company_id, c.transition_count AS n,
                               c.days_sum, c.days_count
                          FROM housekeeping_lifecycle_transition_count c
                        UNION ALL
                        SELECT l.from_stage, l.to_stage, l.date, l.trigger,
                               l.churn_reason_id, l.company_id, count(*),
                               COALESCE(sum(l.days_in_previous_stage), 0),
                               count(l.days_in_previous_stage)
                          FROM housekeeping_stage_log l, mark
                         WHERE l.id > mark.id
                         GROUP BY 1, 2, 3, 4, 5, 6) u
                 GROUP BY 1, 2, 3, 4, 5, 6
            )
            SELECT row_number() OVER (
                       ORDER BY m.date, m.from_stage, m.to_stage, m.trigger,
                                m.churn_reason_id, m.company_id) AS id,
                   m.from_stage, m.to_stage, m.date, m.trigger, r.id AS churn_reason_id,
                   %(churn_reason)s AS churn_reason, m.company_id,
                   m.n::int AS transition_count, m.days_sum::float8 AS days_sum,
                   m.days_count::int AS days_count,
                   m.days_sum::float8 / NULLIF(m.days_count, 0) AS days_in_previous_stage
              FROM moves m
              LEFT JOIN housekeeping_churn_reason r ON r.id = m.churn_reason_id
            """,
            churn_reason=churn_reason_sql(self.env, SQL.identifier("m", "to_stage"), "r"),
        )


class HousekeepingReportLifecycleSnapshot(models.Model):
    """Customers per stage at the end of each month, derived from the stage log.

    The stage of a customer at a month end is the target stage of their last log
    row up to that day. The nightly snapshot engine keeps these counts
    (``housekeeping.lifecycle.month``) as of the last log row it read (its
    ``log_id``); the stage log is append-only, so the months closed by then never
    change. The report adds the log rows written since: running totals of
    monthly deltas (+1 into the month-end stage, -1 out of the previous month-end
    stage, the stage before them looked up for the customers who moved since),
    so its cost follows the log rows of the day, not the history. Nothing stored
    yet (a fresh install): every log row is new, the same computation in one pass.
    """

    _name = "housekeeping.report.lifecycle.snapshot"
    _description = "Customers per Stage over Time"
    _auto = False
    _order = "date desc, lifecycle_stage"
    _rec_name = "date"

    date = fields.Date(string="Month", readonly=True, help="Stages at the end of this month.")
    lifecycle_stage = fields.Selection(LIFECYCLE_STAGES, string="Stage", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    customer_count = fields.Integer(string="Customers", readonly=True, aggregator="sum")

    def _months_query(self, today, upto=None):
        """SQL: ``(month, stage, company_id, customers)``, customers <> 0, up to
        the month of ``today``: the stored counts plus the log rows after the
        last one they read (up to the log row ``upto``)."""
        return SQL(
            """
            WITH mark AS (
                SELECT COALESCE(max(log_id), 0) AS id FROM housekeeping_lifecycle_month
            ), fresh AS (
                SELECT DISTINCT ON (l.partner_id, date_trunc('month', l.date))
                       l.partner_id, date_trunc('month', l.date)::date AS month,
                       l.to_stage AS stage, l.company_id, false AS base
                  FROM housekeeping_stage_log l
                 WHERE l.id > (SELECT id FROM mark) AND l.id <= %(upto)s
                   AND l.date <= %(today)s
                 ORDER BY l.partner_id, date_trunc('month', l.date), l.date DESC, l.id DESC
            ), base AS (
                -- the last row read before, of the customers who moved since
                SELECT b.partner_id, date_trunc('month', b.date)::date, b.to_stage,
                       b.company_id, true
                  FROM (SELECT DISTINCT partner_id FROM fresh) r
                 CROSS JOIN LATERAL (
                       SELECT l.partner_id, l.date, l.to_stage, l.company_id
                         FROM housekeeping_stage_log l
                        WHERE l.partner_id = r.partner_id AND l.id <= (SELECT id FROM mark)
                          AND l.date <= %(today)s
                        ORDER BY l.date DESC, l.id DESC LIMIT 1) b
            ), moves AS (
                SELECT month, stage, company_id, base,
                       lag(stage) OVER w AS prev_stage, lag(company_id) OVER w AS prev_company
                  FROM (SELECT * FROM fresh UNION ALL SELECT * FROM base) monthly
                WINDOW w AS (PARTITION BY partner_id ORDER BY month, base DESC)
            ), deltas AS (
                -- (a row read before is counted already: it only gives the -1)
                SELECT d.month, d.stage, d.company_id, sum(d.delta) AS delta
                  FROM (SELECT month, stage, company_id, 1 AS delta FROM moves WHERE NOT base
                        UNION ALL
                        SELECT month, prev_stage, prev_company, -1 FROM moves
                         WHERE NOT base AND prev_stage IS NOT NULL) d
                 GROUP BY d.month, d.stage, d.company_id
            ), stored AS (
                SELECT s.month, s.lifecycle_stage AS stage, s.company_id, s.customer_count AS n
                  FROM housekeeping_lifecycle_month s
                 WHERE s.lifecycle_stage IS NOT NULL AND s.month <= %(today)s
            ), last AS (
                SELECT max(month) AS month FROM stored
            ), months AS (
                SELECT generate_series(
                           LEAST((SELECT min(month) FROM stored), (SELECT min(month) FROM deltas)),
                           date_trunc('month', %(today)s::date), interval '1 month')::date
                       AS month
            ), keys AS (
                SELECT stage, company_id FROM deltas
                 UNION
                SELECT stage, company_id FROM stored
            ), series AS (
                -- a month after the last one stored carries its counts on
                SELECT m.month, k.stage, k.company_id,
                       COALESCE(s.n, 0) + sum(COALESCE(d.delta, 0)) OVER (
                           PARTITION BY k.stage, k.company_id ORDER BY m.month) AS customers
                  FROM months m
                 CROSS JOIN keys k
                 CROSS JOIN last
                  LEFT JOIN stored s ON s.month = LEAST(m.month, last.month)
                                    AND s.stage = k.stage
                                    AND s.company_id IS NOT DISTINCT FROM k.company_id
                  LEFT JOIN deltas d ON d.month = m.month AND d.stage = k.stage
                                    AND d.company_id IS NOT DISTINCT FROM k.company_id
            )
            SELECT month, stage, company_id, customers FROM series WHERE customers <> 0
            """,
            today=today,
            upto=upto or 2**31 - 1,
        )

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT row_number() OVER (ORDER BY month, company_id, stage) AS id,
                   month AS date, stage AS lifecycle_stage, company_id,
                   customers::int AS customer_count
              FROM (%s) months
            """,
            self._months_query(fields.Date.context_today(self)),
        )


class HousekeepingReportLifecycleFunnel(models.Model):
    """Lifecycle funnel: customers who reached potential, new (a first visit) and
    loyal at least once. Grouped reads that do not look at the customers are
    counted per step, company and first day
    (``housekeeping.report.lifecycle.funnel.day``): a few hundred rows instead of
    a row per customer and step (3M at 1M customers: 2.9 s a pivot)."""

    _name = "housekeeping.report.lifecycle.funnel"
    _inherit = ["housekeeping.lifecycle.funnel.fields", "housekeeping.report.counted"]
    _description = "Lifecycle Funnel"
    _auto = False
    _order = "step, partner_id"
    _rec_name = "partner_id"

    _hk_counts_model = "housekeeping.report.lifecycle.funnel.day"
    _hk_counts_fields = frozenset({"step", "date", "company_id"})
    _hk_counts_aggregates = {
        "__count": "customer_count:sum",
        "customer_count:sum": "customer_count:sum",
    }

    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)

    @property
    def _table_query(self):
        # what the nightly snapshot engine folded in (housekeeping.lifecycle.reach,
        # up to its last log row), and the log rows after it
        return SQL(
            """
            WITH %(fresh)s, reached AS (
                SELECT COALESCE(k.partner_id, f.partner_id) AS partner_id,
                       LEAST(k.date, f.date) AS date,
                       COALESCE(k.reached_new, false) OR COALESCE(f.reached_new, false)
                           AS reached_new,
                       COALESCE(k.reached_loyal, false) OR COALESCE(f.reached_loyal, false)
                           AS reached_loyal
                  FROM housekeeping_lifecycle_reach k
                  FULL JOIN fresh f ON f.partner_id = k.partner_id
            )
            SELECT r.partner_id * 10 + s.rank AS id, r.partner_id, s.step, r.date,
                   p.company_id, 1 AS customer_count
              FROM reached r
              JOIN res_partner p ON p.id = r.partner_id AND p.active
             CROSS JOIN LATERAL (VALUES (1, '1_potential', true),
                                        (2, '2_new', r.reached_new),
                                        (3, '3_loyal', r.reached_loyal)) s(rank, step, ok)
             WHERE s.ok
            """,
            fresh=SQL(FUNNEL_FRESH_CTES),
        )


class HousekeepingReportLifecycleFunnelDay(models.Model):
    """The lifecycle funnel counted per step, company and first day: what the
    funnel's pivot and graph read (``housekeeping.report.lifecycle.funnel`` hands
    over its grouped reads that do not look at the customers). The customers
    counted by the last nightly snapshot (``housekeeping.lifecycle.funnel.count``),
    plus the steps reached in the stage log rows written since: always current,
    a few hundred rows whatever the number of customers. A customer archived since
    the night still counts until the next one (the per-customer rows drop them at
    once)."""

    _name = "housekeeping.report.lifecycle.funnel.day"
    _inherit = ["housekeeping.lifecycle.funnel.fields"]
    _description = "Lifecycle Funnel per Day"
    _auto = False
    _order = "step, date"
    _rec_name = "step"

    @property
    def _table_query(self):
        return SQL(
            """
            WITH %(fresh)s, since AS (
                -- the steps the rows since the night add: a customer new to the
                -- funnel counts from their first day, a step reached again is not
                SELECT p.company_id, LEAST(k.date, f.date) AS date, s.step, count(*) AS n
                  FROM fresh f
                  JOIN res_partner p ON p.id = f.partner_id AND p.active
                  LEFT JOIN housekeeping_lifecycle_reach k ON k.partner_id = f.partner_id
                 CROSS JOIN LATERAL (
                       VALUES ('1_potential', k.partner_id IS NULL),
                              ('2_new', f.reached_new AND NOT COALESCE(k.reached_new, false)),
                              ('3_loyal',
                               f.reached_loyal AND NOT COALESCE(k.reached_loyal, false))
                       ) s(step, ok)
                 WHERE s.ok
                 GROUP BY 1, 2, 3
            )
            SELECT row_number() OVER (ORDER BY step, date, company_id) AS id,
                   step, date, company_id, sum(n)::int AS customer_count
              FROM (SELECT c.step, c.date, c.company_id, c.customer_count AS n
                      FROM housekeeping_lifecycle_funnel_count c
                    UNION ALL
                    SELECT step, date, company_id, n FROM since) u
             GROUP BY step, date, company_id
            """,
            fresh=SQL(FUNNEL_FRESH_CTES),
        )
