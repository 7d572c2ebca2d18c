from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResCompany(models.Model):
    _inherit = "res.company"

    hk_points_per_currency = fields.Float(
        string="Points per Currency Unit",
        default=1.0,
        help="Points earned per unit of money spent on a done visit (before the tier "
        "multiplier), rounded down.",
    )
    hk_points_validity_months = fields.Integer(
        string="Points Validity (months)",
        default=12,
        help="Earned points expire after this many months; 0 = never.",
    )
    hk_points_allow_negative = fields.Boolean(
        string="Allow Negative Balance on Cancellation",
        help="Cancelling a done visit whose points were already spent leaves a negative "
        "balance. Otherwise only a membership manager can cancel such a visit.",
    )
    hk_points_approval_threshold = fields.Integer(
        string="Adjustment Approval Above",
        default=500,
        help="Manual adjustments of more points than this need a manager's approval.",
    )
    hk_points_adjust_cap = fields.Integer(
        string="Unapproved Adjustments per User per Month",
        default=2000,
        help="Points (credits and debits added up) that one user may adjust in a month "
        "without a manager's approval; beyond it, adjustments go to approval. 0 = no cap.",
    )
    hk_points_reminder_days = fields.Integer(
        string="Expiry Reminder (days)",
        default=30,
        help="Customers are reminded this many days before their points expire.",
    )
    hk_point_value = fields.Float(
        string="Value of a Point",
        default=0.01,
        digits=(12, 4),
        help="Money value of one point, for the outstanding liability report.",
    )
    hk_points_when_paid = fields.Boolean(
        string="Earn When Paid",
        help="Points of a visit are credited once it is done and marked paid, instead of "
        "as soon as it is done.",
    )
    hk_referral_points = fields.Integer(string="Referral Points", default=200)
    hk_referral_new_points = fields.Integer(
        string="Points for the Referred Customer",
        default=0,
    )
    hk_referral_monthly_cap = fields.Integer(
        string="Referrals Rewarded per Month",
        default=5,
        help="Referral points a customer can earn per month at most; 0 = no limit.",
    )
    hk_birthday_points = fields.Integer(string="Birthday Points", default=100)
    hk_birthday_points_date = fields.Date(
        string="Birthday Points Given On",
        readonly=True,
        copy=False,
        help="Last day the birthday points were given (kept on the main company): the "
        "next run also gives the birthdays of the days after it that the scheduler "
        "missed.",
    )
    hk_profile_points = fields.Integer(string="Profile Completion Points", default=50)
    hk_checkin_points = fields.Integer(string="Check-in Points", default=5)
    hk_checkin_streak_days = fields.Integer(string="Streak Length (days)", default=7)
    hk_checkin_streak_points = fields.Integer(string="Streak Bonus Points", default=20)
    hk_checkin_streak_program_id = fields.Many2one(
        "loyalty.program",
        string="Streak Coupon",
        help="A coupon of this program is given at the end of every streak.",
    )

    @api.constrains(
        "hk_points_per_currency",
        "hk_points_validity_months",
        "hk_points_approval_threshold",
        "hk_points_adjust_cap",
        "hk_points_reminder_days",
        "hk_point_value",
        "hk_checkin_points",
        "hk_checkin_streak_days",
        "hk_checkin_streak_points",
        "hk_referral_points",
        "hk_referral_new_points",
        "hk_referral_monthly_cap",
        "hk_birthday_points",
        "hk_profile_points",
    )
    def _check_points_settings(self):
        for company in self:
            if (
                min(
                    company.hk_points_per_currency,
                    company.hk_points_validity_months,
                    company.hk_points_approval_threshold,
                    company.hk_points_adjust_cap,
                    company.hk_points_reminder_days,
                    company.hk_point_value,
                    company.hk_checkin_points,
                    company.hk_checkin_streak_points,
                    company.hk_referral_points,
                    company.hk_referral_new_points,
                    company.hk_referral_monthly_cap,
                    company.hk_birthday_points,
                    company.hk_profile_points,
                )
                < 0
            ):
                raise ValidationError(self.env._("Points settings cannot be negative."))
            if company.hk_checkin_streak_days < 2:
                raise ValidationError(self.env._("A check-in streak lasts at least 2 days."))
