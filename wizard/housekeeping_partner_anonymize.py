from odoo import fields, models
from odoo.exceptions import UserError


class HousekeepingPartnerAnonymize(models.TransientModel):
    """Confirmation of a PIPL deletion request: the anonymization is irreversible."""

    _name = "housekeeping.partner.anonymize"
    _description = "Anonymize Customers"

    partner_ids = fields.Many2many("res.partner", string="Customers", required=True)
    confirm = fields.Boolean(
        string="I understand that this cannot be undone",
        help="The personal data is erased for good; the points ledger and the visits' "
        "amounts are kept for accounting.",
    )

    def action_apply(self):
        self.ensure_one()
        if not self.confirm:
            raise UserError(
                self.env._("Tick the confirmation: anonymizing a customer cannot be undone.")
            )
        self.partner_ids.action_hk_anonymize()
        return {"type": "ir.actions.act_window_close"}
