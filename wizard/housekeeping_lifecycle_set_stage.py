from odoo import fields, models

from ..models.lifecycle_rules import LIFECYCLE_STAGES


class HousekeepingLifecycleSetStage(models.TransientModel):
    _name = "housekeeping.lifecycle.set.stage"
    _description = "Set Lifecycle Stage"

    partner_ids = fields.Many2many("res.partner", string="Customers", required=True)
    stage = fields.Selection(LIFECYCLE_STAGES, required=True)
    reason = fields.Char(required=True)

    def action_apply(self):
        self.ensure_one()
        self.partner_ids.action_set_lifecycle_stage(self.stage, self.reason)
        return {"type": "ir.actions.act_window_close"}
