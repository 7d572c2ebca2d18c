from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    hk_tier_window_months = fields.Integer(
        related="company_id.hk_tier_window_months", readonly=False
    )
    hk_tier_grace_months = fields.Integer(related="company_id.hk_tier_grace_months", readonly=False)
