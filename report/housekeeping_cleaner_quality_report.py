from odoo import fields, models
from odoo.tools import SQL


class HousekeepingCleanerQualityReport(models.Model):
    """Service quality per cleaner and service type: one row per done visit, so
    that averages stay right at any grouping (average score over rated visits,
    complaint rate over done visits)."""

    _name = "housekeeping.cleaner.quality.report"
    _description = "Cleaner Quality Analysis"
    _auto = False
    _order = "date desc"
    _rec_name = "visit_id"

    visit_id = fields.Many2one("housekeeping.visit", readonly=True)
    date = fields.Datetime(readonly=True)
    employee_id = fields.Many2one("hr.employee", string="Cleaner", readonly=True)
    service_type_id = fields.Many2one("housekeeping.service.type", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    visit_count = fields.Integer(string="Done Visits", readonly=True)
    rated_count = fields.Integer(string="Rated Visits", readonly=True)
    rating = fields.Float(string="Average Score", readonly=True, aggregator="avg")
    complaint_count = fields.Integer(string="Complaints", readonly=True)
    complaint_rate = fields.Float(
        string="Complaint Rate (%)",
        readonly=True,
        aggregator="avg",
        help="Share of done visits with at least one complaint.",
    )

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT v.id, v.id AS visit_id, v.date, v.employee_id, v.service_type_id,
                   v.partner_id, v.company_id, 1 AS visit_count,
                   (r.rating IS NOT NULL)::int AS rated_count, r.rating,
                   COALESCE(cp.n, 0) AS complaint_count,
                   CASE WHEN cp.n > 0 THEN 100.0 ELSE 0.0 END AS complaint_rate
              FROM housekeeping_visit v
              LEFT JOIN LATERAL (
                   SELECT rr.rating FROM rating_rating rr
                    WHERE rr.res_model = 'housekeeping.visit' AND rr.res_id = v.id
                      AND rr.consumed AND rr.rating > 0
                    ORDER BY rr.write_date DESC, rr.id DESC LIMIT 1) r ON TRUE
              LEFT JOIN LATERAL (
                   SELECT count(*) AS n FROM housekeeping_complaint c
                    WHERE c.visit_id = v.id AND c.state != 'cancelled') cp ON TRUE
             WHERE v.state = 'done'
            """
        )
