from odoo import fields, models


class HousekeepingTierSet(models.TransientModel):
    _name = "housekeeping.tier.set"
    _description = "Set Membership Tier"

    partner_ids = fields.Many2many("res.partner", string="Customers", required=True)
    tier_id = fields.Many2one("housekeeping.tier", required=True)
    reason = fields.Char(required=True)
    date_until = fields.Date(
        string="Until",
        help="The tier holds until this date; empty: one qualification window.",
    )

    def action_apply(self):
        self.ensure_one()
        self.partner_ids.action_set_tier(self.tier_id, self.reason, until=self.date_until)
        return {"type": "ir.actions.act_window_close"}
