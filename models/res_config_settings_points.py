from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    hk_points_per_currency = fields.Float(
        related="company_id.hk_points_per_currency", readonly=False
    )
    hk_points_validity_months = fields.Integer(
        related="company_id.hk_points_validity_months", readonly=False
    )
    hk_points_allow_negative = fields.Boolean(
        related="company_id.hk_points_allow_negative", readonly=False
    )
    hk_points_approval_threshold = fields.Integer(
        related="company_id.hk_points_approval_threshold", readonly=False
    )
    hk_points_adjust_cap = fields.Integer(related="company_id.hk_points_adjust_cap", readonly=False)
    hk_points_reminder_days = fields.Integer(
        related="company_id.hk_points_reminder_days", readonly=False
    )
    hk_point_value = fields.Float(related="company_id.hk_point_value", readonly=False)
    hk_checkin_points = fields.Integer(related="company_id.hk_checkin_points", readonly=False)
    hk_checkin_streak_days = fields.Integer(
        related="company_id.hk_checkin_streak_days", readonly=False
    )
    hk_checkin_streak_points = fields.Integer(
        related="company_id.hk_checkin_streak_points", readonly=False
    )
    hk_checkin_streak_program_id = fields.Many2one(
        related="company_id.hk_checkin_streak_program_id", readonly=False
    )
    hk_points_when_paid = fields.Boolean(related="company_id.hk_points_when_paid", readonly=False)
    hk_referral_points = fields.Integer(related="company_id.hk_referral_points", readonly=False)
    hk_referral_new_points = fields.Integer(
        related="company_id.hk_referral_new_points", readonly=False
    )
    hk_referral_monthly_cap = fields.Integer(
        related="company_id.hk_referral_monthly_cap", readonly=False
    )
    hk_birthday_points = fields.Integer(related="company_id.hk_birthday_points", readonly=False)
    hk_profile_points = fields.Integer(related="company_id.hk_profile_points", readonly=False)
