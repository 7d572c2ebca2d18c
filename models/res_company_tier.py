from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResCompany(models.Model):
    _inherit = "res.company"

    hk_tier_window_months = fields.Integer(
        string="Tier Qualification Window (months)",
        default=12,
        help="Spend, visits and activity that qualify for a tier are counted over this many "
        "months up to today.",
    )
    hk_tier_grace_months = fields.Integer(
        string="Tier Grace Period (months)",
        default=3,
        help="A member who no longer qualifies keeps the tier this many months before being "
        "moved down one tier; 0 moves them down at the next evaluation.",
    )

    @api.constrains("hk_tier_window_months", "hk_tier_grace_months")
    def _check_tier_settings(self):
        for company in self:
            if not 1 <= company.hk_tier_window_months <= 120:
                raise ValidationError(
                    self.env._("The tier qualification window is 1 to 120 months.")
                )
            if not 0 <= company.hk_tier_grace_months <= 60:
                raise ValidationError(self.env._("The tier grace period is 0 to 60 months."))
