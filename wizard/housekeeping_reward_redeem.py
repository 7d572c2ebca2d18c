from odoo import fields, models


class HousekeepingRewardRedeem(models.TransientModel):
    _name = "housekeeping.reward.redeem"
    _description = "Redeem Points for a Reward"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True)
    points_balance = fields.Integer(related="partner_id.points_balance", string="Points balance")
    reward_id = fields.Many2one(
        "housekeeping.reward",
        required=True,
        domain="[('company_id', 'in', [False, company_id])]",
    )
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    points_cost = fields.Integer(related="reward_id.points_cost")

    def action_redeem(self):
        self.ensure_one()
        result = self.reward_id.redeem(self.partner_id)
        if result._name == "loyalty.card":
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "success",
                    "title": self.env._("Reward redeemed"),
                    "message": self.env._(
                        "Coupon code %(code)s issued to %(customer)s.",
                        code=result.code,
                        customer=self.partner_id.display_name,
                    ),
                    "next": {"type": "ir.actions.act_window_close"},
                },
            }
        return {"type": "ir.actions.act_window_close"}
