from odoo import api, fields, models
from odoo.exceptions import UserError


class HousekeepingPrepaidWizard(models.TransientModel):
    """At the counter: a top-up (a sale order of the offer's product, confirmed:
    the confirmation credits the eWallet), a refund of unused principal or a
    manual correction (managers, with a reason)."""

    _name = "housekeeping.prepaid.wizard"
    _description = "Prepaid Balance Operation"

    mode = fields.Selection(
        [("topup", "Top Up"), ("refund", "Refund"), ("correction", "Correction")],
        required=True,
        default="topup",
    )
    partner_id = fields.Many2one("res.partner", string="Customer", required=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    balance = fields.Monetary(related="partner_id.prepaid_balance")
    principal = fields.Monetary(related="partner_id.prepaid_principal", string="Principal Left")
    offer_id = fields.Many2one(
        "housekeeping.prepaid.offer",
        domain="[('company_id', '=', company_id)]",
    )
    amount = fields.Monetary()
    reason = fields.Char()
    sale_order_id = fields.Many2one("sale.order", readonly=True)

    @api.model
    def _open(self, partner, mode):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_id": partner.id, "default_mode": mode},
        }

    def action_apply(self):
        self.ensure_one()
        self.partner_id._hk_check_staff()
        engine = self.env["housekeeping.engine.prepaid"]
        if self.mode == "refund":
            engine._refund(self.partner_id, self.company_id, self.amount, self.reason)
            return {"type": "ir.actions.act_window_close"}
        if self.mode == "correction":
            engine._correct(self.partner_id, self.company_id, self.amount, self.reason)
            return {"type": "ir.actions.act_window_close"}
        if not self.offer_id:
            raise UserError(self.env._("Choose the top-up offer the customer pays for."))
        # back to the customer, whose balance the form shows again
        self.sale_order_id = self._topup_order()
        return {"type": "ir.actions.act_window_close"}

    def _topup_order(self):
        """The confirmed sale order of the top-up (as superuser: service agents
        sell top-ups without the Sales rights; the order records who sold it)."""
        offer = self.offer_id
        order = (
            self.env["sale.order"]
            .sudo()
            .with_company(self.company_id)
            .create(
                {
                    "partner_id": self.partner_id.id,
                    "company_id": self.company_id.id,
                    "user_id": self.env.user.id,
                    "order_line": [
                        (
                            0,
                            0,
                            {
                                "product_id": offer.product_id.id,
                                "product_uom_qty": 1,
                                "price_unit": offer.amount,
                                "tax_ids": [(5, 0, 0)],
                            },
                        )
                    ],
                }
            )
        )
        order.action_confirm()
        return order
