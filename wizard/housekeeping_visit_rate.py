from odoo import fields, models


class HousekeepingVisitRate(models.TransientModel):
    """Record a satisfaction score given on the phone (回访)."""

    _name = "housekeeping.visit.rate"
    _description = "Record a Phone Score"

    visit_id = fields.Many2one("housekeeping.visit", required=True, ondelete="cascade")
    score = fields.Selection(
        [
            ("5", "5 - Very satisfied"),
            ("4", "4 - Satisfied"),
            ("3", "3 - Okay"),
            ("2", "2 - Dissatisfied"),
            ("1", "1 - Very dissatisfied"),
        ],
        required=True,
        default="5",
    )
    feedback = fields.Text()

    def action_record(self):
        self.ensure_one()
        self.visit_id.action_record_rating(int(self.score), self.feedback)
        return {"type": "ir.actions.act_window_close"}
