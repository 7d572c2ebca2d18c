from odoo import api, fields, models
from odoo.tools import SQL


class HousekeepingEngineCohort(models.AbstractModel):
    """Retention cohorts (nightly, ``ir_cron_cohort_refresh``): rewrites the
    snapshot of ``housekeeping.report.cohort`` (the report reads it) in one
    statement over the done visits: no batches, no position. Then the snapshots
    of the Membership Overview and the lifecycle reports
    (``housekeeping.engine.snapshot``)."""

    _name = "housekeeping.engine.cohort"
    _inherit = ["housekeeping.engine"]
    _description = "Retention Cohort Engine"

    _engine_key = "cohort"

    @api.model
    def _run(self):
        """Nightly: rewrite the snapshot from the done visits with one INSERT …
        SELECT, after deleting the old cells in the same transaction (the report
        never shows a half-made snapshot). Returns the number of cells."""
        self.env["housekeeping.visit"].flush_model(["company_id", "partner_id", "state", "date"])
        self.env["res.company"].flush_model(["partner_id"])
        self.env["res.partner"].flush_model(["tz"])
        Cohort = self.env["housekeeping.report.cohort"]
        self.env.cr.execute(SQL("DELETE FROM %s", SQL.identifier(Cohort._table)))
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO %(table)s
                   (company_id, cohort_month, month_offset, cohort_size, active_count,
                    retention, snapshot_date, create_uid, create_date, write_uid, write_date)
            %(query)s
            """,
                table=SQL.identifier(Cohort._table),
                query=self._cohort_query(),
            )
        )
        count = self.env.cr.rowcount
        Cohort.invalidate_model()
        # the other nightly snapshots (the dashboard's, the lifecycle reports'),
        # after the night's lifecycle evaluation (an earlier priority)
        self.env["housekeeping.engine.snapshot"]._run()
        return count

    @api.model
    def _cohort_query(self):
        tz = self.env.context.get("tz") or self.env.user.tz or "UTC"
        return SQL(
            """
            WITH zone AS (
                SELECT c.id AS company_id, COALESCE(NULLIF(cp.tz, ''), %(tz)s) AS tz
                  FROM res_company c JOIN res_partner cp ON cp.id = c.partner_id
            ), pm AS (
                -- GROUP BY, not DISTINCT: PostgreSQL 15 runs a parallel DISTINCT
                -- over millions of groups pathologically slowly (> 10 min at 1M)
                SELECT v.company_id, v.partner_id,
                       date_trunc('month', timezone(z.tz, v.date AT TIME ZONE 'UTC'))::date
                           AS month
                  FROM housekeeping_visit v
                  JOIN zone z ON z.company_id = v.company_id
                 WHERE v.state = 'done'
                 GROUP BY 1, 2, 3
            ), firsts AS (
                SELECT company_id, partner_id, min(month) AS cohort
                  FROM pm GROUP BY company_id, partner_id
            ), sizes AS (
                SELECT company_id, cohort, count(*) AS n FROM firsts GROUP BY company_id, cohort
            ), active AS (
                SELECT f.company_id, f.cohort,
                       ((extract(year FROM pm.month) - extract(year FROM f.cohort)) * 12
                        + extract(month FROM pm.month) - extract(month FROM f.cohort))::int AS k,
                       count(*) AS n
                  FROM pm JOIN firsts f USING (company_id, partner_id)
                 GROUP BY 1, 2, 3
            ), grid AS (
                SELECT s.company_id, s.cohort, s.n, k
                  FROM sizes s
                 CROSS JOIN LATERAL generate_series(0, GREATEST(0,
                       ((extract(year FROM %(today)s::date) - extract(year FROM s.cohort)) * 12
                        + extract(month FROM %(today)s::date)
                        - extract(month FROM s.cohort))::int)) k
            )
            SELECT g.company_id, g.cohort AS cohort_month, g.k AS month_offset,
                   g.n AS cohort_size, COALESCE(a.n, 0) AS active_count,
                   round(100.0 * COALESCE(a.n, 0) / g.n, 1) AS retention,
                   %(today)s::date, %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s,
                   now() AT TIME ZONE 'UTC'
              FROM grid g
              LEFT JOIN active a ON a.company_id = g.company_id AND a.cohort = g.cohort
                                AND a.k = g.k
            """,
            tz=tz,
            today=fields.Date.context_today(self),
            uid=self.env.uid,
        )
