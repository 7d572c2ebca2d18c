from odoo import api, fields, models
from odoo.tools import SQL

# A customer counts as rebooked when their next visit (any cleaner, not cancelled)
# comes within their usual interval (``visit_interval_days``, else
# DEFAULT_INTERVAL_DAYS) times REBOOK_TOLERANCE after the cleaner's last visit of
# the month; as lost when their stage turned churned within LOST_WITHIN_DAYS of it.
DEFAULT_INTERVAL_DAYS = 30
REBOOK_TOLERANCE = 1.25
LOST_WITHIN_DAYS = 90


class HousekeepingReportCleaner(models.Model):
    """Cleaner scorecard (员工绩效): one row per cleaner, company and month (local
    month of the done visits): visits, hours, revenue, average rating,
    complaints and serious ones, customers served, rebooked and lost, and the
    customers who prefer or block the cleaner today."""

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
    rating_avg = fields.Float(string="Average Rating", readonly=True, aggregator="avg")
    complaint_count = fields.Integer(string="Complaints", readonly=True)
    complaint_serious_count = fields.Integer(
        string="Serious Complaints", readonly=True, help="Complaints of high or critical severity."
    )
    customer_count = fields.Integer(string="Customers Served", readonly=True)
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
    def _tz(self):
        return self.env.user.tz or "Asia/Shanghai"

    @property
    def _table_query(self):
        return SQL(
            """
        WITH vm AS (
            SELECT v.employee_id, v.company_id, v.partner_id,
                   date_trunc('month', (v.date AT TIME ZONE 'UTC') AT TIME ZONE %(tz)s)::date
                       AS month,
                   count(*) AS n, sum(COALESCE(v.duration, 0)) AS hours,
                   sum(COALESCE(v.amount, 0)) AS revenue, max(v.date) AS last_date,
                   sum(r.rating) AS rating_sum, count(r.rating) AS rated
              FROM housekeeping_visit v
              LEFT JOIN LATERAL (
                   SELECT rr.rating FROM rating_rating rr
                    WHERE rr.res_model = 'housekeeping.visit' AND rr.res_id = v.id
                      AND rr.consumed AND rr.rating > 0
                    ORDER BY rr.write_date DESC, rr.id DESC LIMIT 1) r ON TRUE
             WHERE v.state = 'done' AND v.employee_id IS NOT NULL AND v.date IS NOT NULL
             GROUP BY 1, 2, 3, 4
        ), pc AS (
            SELECT vm.*,
                   EXISTS (SELECT 1 FROM housekeeping_visit w
                            WHERE w.partner_id = vm.partner_id AND w.state != 'cancelled'
                              AND w.date > vm.last_date
                              AND w.date <= vm.last_date + make_interval(
                                  secs => COALESCE(NULLIF(p.visit_interval_days, 0), %(interval)s)
                                          * %(tolerance)s * 86400)) AS rebooked,
                   EXISTS (SELECT 1 FROM housekeeping_stage_log l
                            WHERE l.partner_id = vm.partner_id AND l.to_stage = 'churned'
                              AND l.date >= vm.last_date::date
                              AND l.date <= vm.last_date::date + %(lost)s) AS lost
              FROM vm JOIN res_partner p ON p.id = vm.partner_id
        ), em AS (
            SELECT employee_id, company_id, month, sum(n) AS n, sum(hours) AS hours,
                   sum(revenue) AS revenue, sum(rating_sum) AS rating_sum,
                   sum(rated) AS rated, count(*) AS customers,
                   count(*) FILTER (WHERE rebooked) AS rebooked,
                   count(*) FILTER (WHERE lost) AS lost
              FROM pc GROUP BY 1, 2, 3
        ), cm AS (
            SELECT COALESCE(c.employee_id, v.employee_id) AS employee_id, c.company_id,
                   date_trunc('month', (COALESCE(v.date, c.create_date) AT TIME ZONE 'UTC')
                                       AT TIME ZONE %(tz)s)::date AS month,
                   count(*) AS complaints,
                   count(*) FILTER (WHERE c.severity IN ('high', 'critical')) AS serious
              FROM housekeeping_complaint c
              LEFT JOIN housekeeping_visit v ON v.id = c.visit_id
             WHERE c.state != 'cancelled' AND COALESCE(c.employee_id, v.employee_id) IS NOT NULL
             GROUP BY 1, 2, 3
        )
        SELECT row_number() OVER (ORDER BY k.employee_id, k.company_id, k.month) AS id,
               k.employee_id, k.company_id, co.currency_id, k.month,
               COALESCE(em.n, 0) AS visit_count, COALESCE(em.hours, 0) AS hours,
               COALESCE(em.revenue, 0) AS revenue, COALESCE(em.rated, 0) AS rated_count,
               CASE WHEN em.rated > 0 THEN em.rating_sum / em.rated END AS rating_avg,
               COALESCE(cm.complaints, 0) AS complaint_count,
               COALESCE(cm.serious, 0) AS complaint_serious_count,
               COALESCE(em.customers, 0) AS customer_count,
               COALESCE(em.rebooked, 0) AS rebooked_count,
               CASE WHEN em.customers > 0 THEN 100.0 * em.rebooked / em.customers END
                   AS rebooking_rate,
               COALESCE(em.lost, 0) AS lost_count,
               (SELECT count(*) FROM hk_partner_preferred_employee_rel x
                  JOIN res_partner xp ON xp.id = x.partner_id AND xp.active
                 WHERE x.employee_id = k.employee_id) AS preferred_by_count,
               (SELECT count(*) FROM hk_partner_blocked_employee_rel x
                  JOIN res_partner xp ON xp.id = x.partner_id AND xp.active
                 WHERE x.employee_id = k.employee_id) AS blocked_by_count
          FROM (SELECT employee_id, company_id, month FROM em
                UNION SELECT employee_id, company_id, month FROM cm) k
          JOIN res_company co ON co.id = k.company_id
          LEFT JOIN em ON em.employee_id = k.employee_id AND em.company_id = k.company_id
                      AND em.month = k.month
          LEFT JOIN cm ON cm.employee_id = k.employee_id AND cm.company_id = k.company_id
                      AND cm.month = k.month
            """,
            tz=self._tz(),
            interval=DEFAULT_INTERVAL_DAYS,
            tolerance=REBOOK_TOLERANCE,
            lost=LOST_WITHIN_DAYS,
        )
