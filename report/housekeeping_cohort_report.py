from odoo import api, fields, models
from odoo.tools import SQL


class HousekeepingReportCohort(models.Model):
    """Retention cohorts: customers grouped by the month of their first done visit
    (per company), and the share of them with a done visit N months later.

    One row per cohort month × month offset (0 up to the current month): laid out
    in a pivot with cohorts as rows and offsets as columns, it is the classic
    retention triangle. Months are local months in the company's time zone (its
    partner's), else the refreshing user's.

    A snapshot, not a view: the figures read every done visit ever (22 s at 1M
    customers, 12M visits), for a report whose cells move once a month. The
    nightly scheduled action rewrites the snapshot in one statement
    (``_cron_refresh``); the pivot reads a few hundred rows.
    """

    _name = "housekeeping.report.cohort"
    _description = "Customer Retention Cohorts"
    _order = "cohort_month desc, month_offset"
    _rec_name = "cohort_month"

    cohort_month = fields.Date(
        string="Cohort", readonly=True, help="Month of the first done visit."
    )
    month_offset = fields.Integer(string="Months Since First Visit", readonly=True, aggregator=None)
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    cohort_size = fields.Integer(string="Cohort Customers", readonly=True, aggregator="max")
    active_count = fields.Integer(string="Still Visiting", readonly=True, aggregator="sum")
    retention = fields.Float(
        string="Retention (%)",
        readonly=True,
        aggregator="avg",
        digits=(16, 1),
        help="Share of the cohort with a done visit in that month.",
    )
    snapshot_date = fields.Date(
        string="Computed On", readonly=True, help="Day of the nightly computation."
    )

    @api.model
    def _cron_refresh(self):
        """Nightly: rewrite the snapshot from the done visits with one INSERT …
        SELECT, after deleting the old cells in the same transaction (the report
        never shows a half-made snapshot). Returns the number of cells."""
        self.env["housekeeping.visit"].flush_model(["company_id", "partner_id", "state", "date"])
        self.env["res.company"].flush_model(["partner_id"])
        self.env["res.partner"].flush_model(["tz"])
        self.env.cr.execute(SQL("DELETE FROM %s", SQL.identifier(self._table)))
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO %(table)s
                   (company_id, cohort_month, month_offset, cohort_size, active_count,
                    retention, snapshot_date, create_uid, create_date, write_uid, write_date)
            %(query)s
            """,
                table=SQL.identifier(self._table),
                query=self._hk_cohort_query(),
            )
        )
        count = self.env.cr.rowcount
        self.invalidate_model()
        return count

    @api.model
    def _hk_cohort_query(self):
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
