from odoo import fields, models

from .lifecycle_rules import LIFECYCLE_STAGES


class HousekeepingStageLog(models.Model):
    _name = "housekeeping.stage.log"
    _description = "Lifecycle Stage Change"
    _order = "date desc, id desc"
    _log_access = True

    partner_id = fields.Many2one("res.partner", required=True, index=True, ondelete="cascade")
    from_stage = fields.Selection(LIFECYCLE_STAGES)
    to_stage = fields.Selection(LIFECYCLE_STAGES, required=True)
    date = fields.Date(required=True, index=True)
    trigger = fields.Selection(
        [("cron", "Scheduled Evaluation"), ("visit", "Visit"), ("manual", "Manual")],
        required=True,
    )
    reason = fields.Char()
    churn_reason_id = fields.Many2one("housekeeping.churn.reason", ondelete="set null")
    days_in_previous_stage = fields.Integer(help="Days the customer spent in the previous stage.")
    # no index of its own: the (company_id, date) index of the reports serves it
    company_id = fields.Many2one("res.company")

    # the reports read the log per company and period
    _company_date_idx = models.Index("(company_id, date)")
    # the staff audit report reads the manual changes only (a few among millions)
    _manual_idx = models.Index("(date) WHERE trigger = 'manual'")
