from odoo import fields, models
from odoo.tools import SQL


class HousekeepingReportVisit(models.Model):
    """Done visits with revenue, rating and complaints: visits per month and
    service type (seasonality: year × month of year, or the pivot's comparison
    with the previous year), satisfaction per cleaner, service type and month."""

    _name = "housekeeping.report.visit"
    _description = "Visits Analysis"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "name"

    name = fields.Char(string="Reference", readonly=True)
    date = fields.Datetime(readonly=True)
    year = fields.Char(readonly=True)
    month_of_year = fields.Selection(
        [
            ("01", "January"),
            ("02", "February"),
            ("03", "March"),
            ("04", "April"),
            ("05", "May"),
            ("06", "June"),
            ("07", "July"),
            ("08", "August"),
            ("09", "September"),
            ("10", "October"),
            ("11", "November"),
            ("12", "December"),
        ],
        string="Month of Year",
        readonly=True,
    )
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    service_type_id = fields.Many2one("housekeeping.service.type", readonly=True)
    employee_id = fields.Many2one("hr.employee", string="Cleaner", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    visit_count = fields.Integer(string="Visits", readonly=True, aggregator="sum")
    amount = fields.Monetary(string="Revenue", readonly=True, aggregator="sum")
    rating = fields.Float(string="Average Rating", readonly=True, aggregator="avg", digits=(16, 2))
    rated_count = fields.Integer(string="Rated Visits", readonly=True, aggregator="sum")
    complaint_count = fields.Integer(string="Complaints", readonly=True, aggregator="sum")

    @property
    def _table_query(self):
        tz = self.env.context.get("tz") or self.env.user.tz or "UTC"
        return SQL(
            """
            SELECT v.id, v.name, v.date, v.partner_id, v.service_type_id, v.employee_id,
                   v.company_id, c.currency_id, 1 AS visit_count, v.amount,
                   to_char(timezone(%(tz)s, v.date AT TIME ZONE 'UTC'), 'YYYY') AS year,
                   to_char(timezone(%(tz)s, v.date AT TIME ZONE 'UTC'), 'MM') AS month_of_year,
                   r.rating, (r.rating IS NOT NULL)::int AS rated_count,
                   COALESCE(cp.n, 0) AS complaint_count
              FROM housekeeping_visit v
              JOIN res_company c ON c.id = v.company_id
              LEFT JOIN (SELECT rr.res_id, avg(rr.rating) AS rating
                           FROM rating_rating rr
                          WHERE rr.res_model = 'housekeeping.visit' AND rr.consumed
                            AND rr.rating > 0
                          GROUP BY rr.res_id) r ON r.res_id = v.id
              LEFT JOIN (SELECT hc.visit_id, count(*) AS n
                           FROM housekeeping_complaint hc
                          WHERE hc.visit_id IS NOT NULL
                          GROUP BY hc.visit_id) cp ON cp.visit_id = v.id
             WHERE v.state = 'done'
            """,
            tz=tz,
        )
