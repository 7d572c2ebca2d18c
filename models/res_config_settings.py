from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    hk_visits_from_sale = fields.Boolean(related="company_id.hk_visits_from_sale", readonly=False)
    hk_rfm_window_months = fields.Integer(related="company_id.hk_rfm_window_months", readonly=False)
