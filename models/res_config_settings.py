"""Everything this addon adds to res.config.settings, in one class (STYLE.md §6):
the settings of res.company (models/res_company.py) for the current company, in
the same sections."""

from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    # ------------------------------------------------------------
    # General: visits from sale orders, RFM scoring
    # ------------------------------------------------------------
    hk_visits_from_sale = fields.Boolean(related="company_id.hk_visits_from_sale", readonly=False)
    hk_rfm_window_months = fields.Integer(related="company_id.hk_rfm_window_months", readonly=False)

    # ------------------------------------------------------------
    # Tiers: qualification window and grace period
    # ------------------------------------------------------------
    hk_tier_window_months = fields.Integer(
        related="company_id.hk_tier_window_months", readonly=False
    )
    hk_tier_grace_months = fields.Integer(related="company_id.hk_tier_grace_months", readonly=False)

    # ------------------------------------------------------------
    # Priority booking: days and time of day reserved for priority tiers
    # ------------------------------------------------------------
    hk_reserved_weekday_ids = fields.Many2many(
        related="company_id.hk_reserved_weekday_ids", readonly=False
    )
    hk_reserved_time_window = fields.Selection(
        related="company_id.hk_reserved_time_window", readonly=False
    )

    # ------------------------------------------------------------
    # Points: earning, expiry, adjustments, referrals, birthdays, check-ins
    # ------------------------------------------------------------
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

    # ------------------------------------------------------------
    # Lifecycle: stage thresholds
    # ------------------------------------------------------------
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
    hk_season_max_days = fields.Integer(related="company_id.hk_season_max_days", readonly=False)
    hk_season_off_share = fields.Integer(related="company_id.hk_season_off_share", readonly=False)
    hk_season_grace_days = fields.Integer(related="company_id.hk_season_grace_days", readonly=False)
    hk_at_risk_probability_enabled = fields.Boolean(
        related="company_id.hk_at_risk_probability_enabled", readonly=False
    )
    hk_at_risk_probability = fields.Integer(
        related="company_id.hk_at_risk_probability", readonly=False
    )
    hk_cleaner_daily_visits = fields.Float(
        related="company_id.hk_cleaner_daily_visits", readonly=False
    )

    def action_hk_preview_lifecycle(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": "housekeeping.lifecycle.preview",
            "view_mode": "form",
            "target": "new",
            "context": {"default_company_id": self.company_id.id},
        }

    # ------------------------------------------------------------
    # Engagement: satisfaction survey, complaints, VIP, journeys
    # ------------------------------------------------------------
    hk_survey_enabled = fields.Boolean(related="company_id.hk_survey_enabled", readonly=False)
    hk_complaint_score = fields.Integer(related="company_id.hk_complaint_score", readonly=False)
    hk_service_desk_user_id = fields.Many2one(
        related="company_id.hk_service_desk_user_id", readonly=False
    )
    hk_vip_min_average = fields.Float(related="company_id.hk_vip_min_average", readonly=False)
    hk_vip_rated_visits = fields.Integer(related="company_id.hk_vip_rated_visits", readonly=False)
    hk_vip_callback_days = fields.Integer(related="company_id.hk_vip_callback_days", readonly=False)
    hk_conversion_days = fields.Integer(related="company_id.hk_conversion_days", readonly=False)

    # ------------------------------------------------------------
    # Prepaid balances
    # ------------------------------------------------------------
    hk_prepaid_program_id = fields.Many2one(related="company_id.hk_prepaid_program_id")
    hk_prepaid_topup_counts_as_spend = fields.Boolean(
        related="company_id.hk_prepaid_topup_counts_as_spend", readonly=False
    )
    hk_prepaid_topup_points = fields.Boolean(
        related="company_id.hk_prepaid_topup_points", readonly=False
    )

    # ------------------------------------------------------------
    # Customer portal: cancelling and moving visits
    # ------------------------------------------------------------
    hk_portal_notice_hours = fields.Integer(
        related="company_id.hk_portal_notice_hours", readonly=False
    )

    # ------------------------------------------------------------
    # Dispatch and service plans
    # ------------------------------------------------------------
    hk_dispatch_travel_buffer = fields.Integer(
        related="company_id.hk_dispatch_travel_buffer", readonly=False
    )
    hk_plan_horizon_weeks = fields.Integer(
        related="company_id.hk_plan_horizon_weeks", readonly=False
    )
