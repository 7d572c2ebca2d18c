from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    hk_new_min_visits = fields.Integer(related="company_id.hk_new_min_visits", readonly=False)
    hk_new_max_days = fields.Integer(related="company_id.hk_new_max_days", readonly=False)
    hk_at_risk_factor = fields.Float(related="company_id.hk_at_risk_factor", readonly=False)
    hk_at_risk_floor_days = fields.Integer(
        related="company_id.hk_at_risk_floor_days", readonly=False
    )
    hk_churn_factor = fields.Float(related="company_id.hk_churn_factor", readonly=False)
    hk_churn_floor_days = fields.Integer(related="company_id.hk_churn_floor_days", readonly=False)
    hk_low_rating = fields.Integer(related="company_id.hk_low_rating", readonly=False)
    hk_rated_visits_window = fields.Integer(
        related="company_id.hk_rated_visits_window", readonly=False
    )
    hk_price_increase_pct = fields.Integer(
        related="company_id.hk_price_increase_pct", readonly=False
    )
    hk_lifecycle_override_days = fields.Integer(
        related="company_id.hk_lifecycle_override_days", readonly=False
    )

    def action_hk_preview_lifecycle(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": "housekeeping.lifecycle.preview",
            "view_mode": "form",
            "target": "new",
            "context": {"default_company_id": self.company_id.id},
        }
