from odoo import api, fields, models
from odoo.tools import SQL


class HousekeepingCleanerQualityReport(models.Model):
    """Service quality per cleaner and service type, read from the facts
    (``housekeeping.visit.fact``: done visits per company, local day, service
    type and cleaner). The averages stay right at any grouping: the average
    score is the sum of the scores over the rated visits, the complaint rate the
    visits with a complaint over the done visits (``_read_group_select``)."""

    _name = "housekeeping.cleaner.quality.report"
    _description = "Cleaner Quality Analysis"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "employee_id"

    date = fields.Date(readonly=True)
    employee_id = fields.Many2one("hr.employee", string="Cleaner", readonly=True)
    service_type_id = fields.Many2one("housekeeping.service.type", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    visit_count = fields.Integer(string="Done Visits", readonly=True)
    rated_count = fields.Integer(string="Rated Visits", readonly=True)
    rating_sum = fields.Float(string="Sum of Scores", readonly=True)
    rating = fields.Float(string="Average Score", readonly=True, aggregator="avg")
    complaint_count = fields.Integer(string="Complaints", readonly=True)
    complained_visit_count = fields.Integer(string="Visits with Complaints", readonly=True)
    complaint_rate = fields.Float(
        string="Complaint Rate (%)",
        readonly=True,
        aggregator="avg",
        help="Share of done visits with at least one complaint.",
    )

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        # ratios of the group's sums, not averages of the rows' ratios
        ratios = {
            "rating:avg": ("rating_sum", "rated_count", 1.0),
            "complaint_rate:avg": ("complained_visit_count", "visit_count", 100.0),
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
            SELECT f.id, f.date, f.employee_id, f.service_type_id, f.company_id,
                   f.visit_count, f.rated_count, f.rating_sum,
                   f.rating_sum / NULLIF(f.rated_count, 0) AS rating,
                   f.complaint_count, f.complained_visit_count,
                   100.0 * f.complained_visit_count / f.visit_count AS complaint_rate
              FROM housekeeping_visit_fact f
            """
        )
