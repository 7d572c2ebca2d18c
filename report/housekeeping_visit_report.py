from odoo import api, fields, models
from odoo.tools import SQL


class HousekeepingReportVisit(models.Model):
    """Done visits with revenue, rating and complaints: visits per month and
    service type (seasonality: year × month of year, or the pivot's comparison
    with the previous year), satisfaction per cleaner, service type and month.

    Reads the facts (``housekeeping.visit.fact``: done visits per company, local
    day, service type and cleaner), not the visits: a report over ten million
    visits reads a few hundred thousand rows. The average rating is a true
    average over the rated visits (sum of the ratings / rated visits at any
    grouping), not an average of the rows' averages."""

    _name = "housekeeping.report.visit"
    _description = "Visits Analysis"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "date"

    date = fields.Date(readonly=True)
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
    service_type_id = fields.Many2one("housekeeping.service.type", readonly=True)
    employee_id = fields.Many2one("hr.employee", string="Cleaner", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    visit_count = fields.Integer(string="Visits", readonly=True, aggregator="sum")
    amount = fields.Monetary(string="Revenue", readonly=True, aggregator="sum")
    rating = fields.Float(string="Average Rating", readonly=True, aggregator="avg", digits=(16, 2))
    rated_count = fields.Integer(string="Rated Visits", readonly=True, aggregator="sum")
    rating_sum = fields.Float(string="Sum of Ratings", readonly=True, aggregator="sum")
    complaint_count = fields.Integer(string="Complaints", readonly=True, aggregator="sum")

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        # the average rating over the rated visits of the group
        if aggregate_spec == "rating:avg":
            return SQL(
                "SUM(%s)::float8 / NULLIF(SUM(%s), 0)",
                self._field_to_sql(self._table, "rating_sum", query),
                self._field_to_sql(self._table, "rated_count", query),
            )
        return super()._read_group_select(aggregate_spec, query)

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT f.id, f.date, f.service_type_id, f.employee_id, f.company_id,
                   c.currency_id, f.visit_count, f.amount,
                   to_char(f.date, 'YYYY') AS year, to_char(f.date, 'MM') AS month_of_year,
                   f.rating_sum / NULLIF(f.rated_count, 0) AS rating, f.rated_count,
                   f.rating_sum, f.complaint_count
              FROM housekeeping_visit_fact f
              JOIN res_company c ON c.id = f.company_id
            """
        )
