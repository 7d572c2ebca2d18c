from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    hk_survey_enabled = fields.Boolean(related="company_id.hk_survey_enabled", readonly=False)
    hk_complaint_score = fields.Integer(related="company_id.hk_complaint_score", readonly=False)
    hk_vip_min_average = fields.Float(related="company_id.hk_vip_min_average", readonly=False)
    hk_vip_rated_visits = fields.Integer(related="company_id.hk_vip_rated_visits", readonly=False)
    hk_vip_callback_days = fields.Integer(related="company_id.hk_vip_callback_days", readonly=False)
    hk_conversion_days = fields.Integer(related="company_id.hk_conversion_days", readonly=False)
