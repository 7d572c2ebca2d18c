import logging

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# A customer counts as rebooked when their next visit (any cleaner, not cancelled)
# comes within their usual interval (``visit_interval_days``, else
# DEFAULT_INTERVAL_DAYS) times REBOOK_TOLERANCE after the cleaner's last visit of
# the month; as lost when their stage turned churned within LOST_WITHIN_DAYS of it.
DEFAULT_INTERVAL_DAYS = 30
REBOOK_TOLERANCE = 1.25
LOST_WITHIN_DAYS = 90
# the nightly refresh recomputes the customers of the months whose rebooking and
# loss windows may still be open (the current month and the RECENT_MONTHS before)
RECENT_MONTHS = 6


class HousekeepingReportCleanerCustomers(models.Model):
    """The customers side of the cleaner scorecard, per cleaner, company and
    month (local month in the company's time zone): customers served, rebooked
    and lost. Reading them needs every visit of the customers (a rebooking is
    the customer's next visit with anyone; a loss a later stage change), so
    they are computed by the nightly refresh (the recent months) and the
    upgrade (every month), not when the report is read."""

    _name = "housekeeping.report.cleaner.customers"
    _description = "Cleaner Scorecard: Customers per Month"
    _log_access = False
    _rec_name = "employee_id"

    employee_id = fields.Many2one("hr.employee", string="Cleaner", required=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    month = fields.Date(required=True, readonly=True)
    customer_count = fields.Integer(string="Customers Served", readonly=True)
    rebooked_count = fields.Integer(string="Customers Rebooked", readonly=True)
    lost_count = fields.Integer(string="Customers Lost", readonly=True)

    _key_uniq = models.UniqueIndex("(employee_id, company_id, month)")

    @api.model
    def _refresh(self, since=None):
        """Recompute the months from ``since`` (a date; None: every month) in one
        statement. Returns the number of rows written."""
        Facts = self.env["housekeeping.visit.fact"]
        Facts._flush_inputs()
        self.env["res.partner"].flush_model(["visit_interval_days"])
        self.env["housekeeping.stage.log"].flush_model(["partner_id", "to_stage", "date"])
        since = since.replace(day=1) if since else None
        self.env.cr.execute(
            SQL(
                """
            SET LOCAL jit = off;
            DELETE FROM housekeeping_report_cleaner_customers
             WHERE %(since)s::date IS NULL OR month >= %(since)s::date;
            WITH z AS (%(tz)s), nv AS (
                -- the customers' visits (not cancelled), each with the date of the
                -- customer's next later visit (one sort, no lookup per customer)
                SELECT v.employee_id, v.company_id, v.partner_id, v.state, v.date,
                       min(v.date) OVER (PARTITION BY v.partner_id ORDER BY v.date
                                         RANGE BETWEEN interval '1 microsecond' FOLLOWING
                                               AND UNBOUNDED FOLLOWING) AS next_date
                  FROM housekeeping_visit v
                 WHERE v.state != 'cancelled' AND v.date IS NOT NULL
                   AND (%(since)s::date IS NULL OR v.date >= %(since)s::date - 1)
            ), vm AS (
                -- per cleaner, customer and local month: the cleaner's last visit
                -- and the customer's next visit after it (next dates grow with the
                -- dates: the largest is the last visit's)
                SELECT nv.employee_id, nv.company_id, nv.partner_id,
                       date_trunc('month', (nv.date AT TIME ZONE 'UTC') AT TIME ZONE z.tz)::date
                           AS month,
                       max(nv.date) AS last_date, max(nv.next_date) AS next_date
                  FROM nv
                  JOIN z ON z.company_id = nv.company_id
                 WHERE nv.state = 'done' AND nv.employee_id IS NOT NULL
                 GROUP BY 1, 2, 3, 4
            ), pc AS (
                SELECT vm.employee_id, vm.company_id, vm.month,
                       vm.next_date > vm.last_date
                       AND vm.next_date <= vm.last_date + make_interval(
                           secs => COALESCE(NULLIF(p.visit_interval_days, 0), %(interval)s)
                                   * %(tolerance)s * 86400) AS rebooked,
                       EXISTS (SELECT 1 FROM housekeeping_stage_log l
                                WHERE l.partner_id = vm.partner_id AND l.to_stage = 'churned'
                                  AND l.date >= vm.last_date::date
                                  AND l.date <= vm.last_date::date + %(lost)s) AS lost
                  FROM vm JOIN res_partner p ON p.id = vm.partner_id
                 WHERE %(since)s::date IS NULL OR vm.month >= %(since)s::date
            )
            INSERT INTO housekeeping_report_cleaner_customers
                   (employee_id, company_id, month, customer_count, rebooked_count, lost_count)
            SELECT employee_id, company_id, month, count(*),
                   count(*) FILTER (WHERE rebooked), count(*) FILTER (WHERE lost)
              FROM pc GROUP BY 1, 2, 3
                """,
                tz=Facts._tz_sql(),
                since=since,
                interval=DEFAULT_INTERVAL_DAYS,
                tolerance=REBOOK_TOLERANCE,
                lost=LOST_WITHIN_DAYS,
            )
        )
        written = self.env.cr.rowcount
        self.env.cr.execute("SET LOCAL jit = DEFAULT")
        self.invalidate_model()
        return written

    @api.model
    def _cron_refresh(self):
        """Nightly: the months whose rebooking and loss windows may still be open
        (a past visit edited or cancelled later shows at the next full refresh,
        ``_refresh()`` without a date: the upgrade, or by hand)."""
        today = fields.Date.context_today(self)
        written = self._refresh(today - relativedelta(months=RECENT_MONTHS))
        _logger.info("cleaner scorecard: %s cleaner-months of customers refreshed", written)
        return written


class HousekeepingReportCleaner(models.Model):
    """Cleaner scorecard (员工绩效): one row per cleaner, company and month (local
    month in the company's time zone): visits, hours, revenue, average rating
    (from the visit facts, exact at once), complaints and serious ones, customers
    served, rebooked and lost (as of the nightly refresh,
    ``housekeeping.report.cleaner.customers``), and the customers who prefer or
    block the cleaner today."""

    _name = "housekeeping.report.cleaner"
    _description = "Cleaner Scorecard"
    _auto = False
    _order = "month desc, employee_id"
    _rec_name = "employee_id"

    employee_id = fields.Many2one("hr.employee", string="Cleaner", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    month = fields.Date(readonly=True)
    visit_count = fields.Integer(string="Visits Done", readonly=True)
    hours = fields.Float(readonly=True)
    revenue = fields.Monetary(readonly=True)
    rated_count = fields.Integer(string="Rated Visits", readonly=True)
    rating_sum = fields.Float(string="Sum of Ratings", readonly=True)
    rating_avg = fields.Float(string="Average Rating", readonly=True, aggregator="avg")
    complaint_count = fields.Integer(string="Complaints", readonly=True)
    complaint_serious_count = fields.Integer(
        string="Serious Complaints", readonly=True, help="Complaints of high or critical severity."
    )
    customer_count = fields.Integer(
        string="Customers Served",
        readonly=True,
        help="Customers served, rebooked and lost are computed every night.",
    )
    rebooked_count = fields.Integer(string="Customers Rebooked", readonly=True)
    rebooking_rate = fields.Float(
        string="Rebooking Rate (%)",
        readonly=True,
        aggregator="avg",
        help="Share of the customers served who booked again within their usual interval.",
    )
    lost_count = fields.Integer(
        string="Customers Lost",
        readonly=True,
        help=f"Customers served who churned within {LOST_WITHIN_DAYS} days after the visit.",
    )
    preferred_by_count = fields.Integer(string="Preferred By", readonly=True, aggregator="max")
    blocked_by_count = fields.Integer(string="Blocked By", readonly=True, aggregator="max")

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        # ratios of the group's sums, not averages of the rows' ratios
        ratios = {
            "rating_avg:avg": ("rating_sum", "rated_count", 1.0),
            "rebooking_rate:avg": ("rebooked_count", "customer_count", 100.0),
        }
        if aggregate_spec in ratios:
            numerator, denominator, scale = ratios[aggregate_spec]
            return SQL(
                "%s * SUM(%s)::float8 / NULLIF(SUM(%s), 0)",
                scale,
                self._field_to_sql(self._table, numerator, query),
                self._field_to_sql(self._table, denominator, query),
            )
        return super()._read_group_select(aggregate_spec, query)

    @property
    def _table_query(self):
        return SQL(
            """
        WITH em AS (
            SELECT f.employee_id, f.company_id, date_trunc('month', f.date)::date AS month,
                   sum(f.visit_count) AS n, sum(f.duration) AS hours, sum(f.amount) AS revenue,
                   sum(f.rating_sum) AS rating_sum, sum(f.rated_count) AS rated
              FROM housekeeping_visit_fact f
             WHERE f.employee_id IS NOT NULL
             GROUP BY 1, 2, 3
        ), cm AS (
            SELECT COALESCE(c.employee_id, v.employee_id) AS employee_id, c.company_id,
                   date_trunc('month', (COALESCE(v.date, c.create_date) AT TIME ZONE 'UTC')
                                       AT TIME ZONE z.tz)::date AS month,
                   count(*) AS complaints,
                   count(*) FILTER (WHERE c.severity IN ('high', 'critical')) AS serious
              FROM housekeeping_complaint c
              JOIN (%(tz)s) z ON z.company_id = c.company_id
              LEFT JOIN housekeeping_visit v ON v.id = c.visit_id
             WHERE c.state != 'cancelled' AND COALESCE(c.employee_id, v.employee_id) IS NOT NULL
             GROUP BY 1, 2, 3
        ), k AS (
            SELECT employee_id, company_id, month FROM em
             UNION SELECT employee_id, company_id, month FROM cm
             UNION SELECT employee_id, company_id, month FROM housekeeping_report_cleaner_customers
        ), fans AS (
            SELECT x.employee_id, count(*) AS n FROM hk_partner_preferred_employee_rel x
              JOIN res_partner xp ON xp.id = x.partner_id AND xp.active
             WHERE x.employee_id IN (SELECT employee_id FROM k)
             GROUP BY 1
        ), blocks AS (
            SELECT x.employee_id, count(*) AS n FROM hk_partner_blocked_employee_rel x
              JOIN res_partner xp ON xp.id = x.partner_id AND xp.active
             WHERE x.employee_id IN (SELECT employee_id FROM k)
             GROUP BY 1
        )
        SELECT row_number() OVER (ORDER BY k.employee_id, k.company_id, k.month) AS id,
               k.employee_id, k.company_id, co.currency_id, k.month,
               COALESCE(em.n, 0) AS visit_count, COALESCE(em.hours, 0) AS hours,
               COALESCE(em.revenue, 0) AS revenue, COALESCE(em.rated, 0) AS rated_count,
               COALESCE(em.rating_sum, 0) AS rating_sum,
               CASE WHEN em.rated > 0 THEN em.rating_sum / em.rated END AS rating_avg,
               COALESCE(cm.complaints, 0) AS complaint_count,
               COALESCE(cm.serious, 0) AS complaint_serious_count,
               COALESCE(cu.customer_count, 0) AS customer_count,
               COALESCE(cu.rebooked_count, 0) AS rebooked_count,
               CASE WHEN cu.customer_count > 0
                    THEN 100.0 * cu.rebooked_count / cu.customer_count END AS rebooking_rate,
               COALESCE(cu.lost_count, 0) AS lost_count,
               COALESCE(fans.n, 0) AS preferred_by_count,
               COALESCE(blocks.n, 0) AS blocked_by_count
          FROM k
          JOIN res_company co ON co.id = k.company_id
          LEFT JOIN em ON em.employee_id = k.employee_id AND em.company_id = k.company_id
                      AND em.month = k.month
          LEFT JOIN cm ON cm.employee_id = k.employee_id AND cm.company_id = k.company_id
                      AND cm.month = k.month
          LEFT JOIN housekeeping_report_cleaner_customers cu
                 ON cu.employee_id = k.employee_id AND cu.company_id = k.company_id
                AND cu.month = k.month
          LEFT JOIN fans ON fans.employee_id = k.employee_id
          LEFT JOIN blocks ON blocks.employee_id = k.employee_id
            """,
            tz=self.env["housekeeping.visit.fact"]._tz_sql(),
        )
