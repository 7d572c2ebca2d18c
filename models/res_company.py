"""Everything this addon adds to res.company, in one class (STYLE.md §6): the
per-company settings of each capability, with their checks."""

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from .lifecycle_rules import LIFECYCLE_SETTINGS


class ResCompany(models.Model):
    _inherit = "res.company"

    # Settings are per company (a chain of stores runs one company each);
    # res.config.settings shows them for the current company.

    # ------------------------------------------------------------
    # General: visits from sale orders, RFM scoring
    # ------------------------------------------------------------
    hk_visits_from_sale = fields.Boolean(
        string="Create Visits from Sale Orders",
        default=True,
        help="Confirming a sale order of service products creates one visit per unit.",
    )
    hk_rfm_window_months = fields.Integer(
        string="RFM Window (months)",
        default=12,
        help="Frequency and monetary scores count the done visits of this many months.",
    )

    # ------------------------------------------------------------
    # Tiers: qualification window and grace period
    # ------------------------------------------------------------
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

    # ------------------------------------------------------------
    # Priority booking: days and time of day reserved for priority tiers
    # ------------------------------------------------------------
    hk_reserved_weekday_ids = fields.Many2many(
        "housekeeping.weekday",
        "hk_company_reserved_weekday_rel",
        string="Days Reserved for Priority Tiers",
    )
    hk_reserved_time_window = fields.Selection(
        [
            ("morning", "Morning (8:00-12:00)"),
            ("afternoon", "Afternoon (12:00-18:00)"),
            ("evening", "Evening (18:00-21:00)"),
        ],
        string="Time Reserved for Priority Tiers",
        help="On the reserved days, visits in this time of day are booked only for "
        "customers of a tier with priority booking.",
    )

    # ------------------------------------------------------------
    # Points: earning, expiry, adjustments, referrals, birthdays, check-ins
    # ------------------------------------------------------------
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
        help="Money value of one point when the rewards catalog gives none (no active "
        "coupon or free service with a value); values the outstanding points.",
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

    # ------------------------------------------------------------
    # Lifecycle: stage thresholds
    # ------------------------------------------------------------
    hk_new_min_visits = fields.Integer(
        string="Visits to Become Loyal",
        default=3,
        help="A new customer becomes loyal after this many done visits…",
    )
    hk_new_max_days = fields.Integer(
        string="Days to Become Loyal",
        default=90,
        help="…or after this many days as a customer with at least a second visit.",
    )
    hk_at_risk_factor = fields.Float(
        string="At-Risk Factor",
        default=2.0,
        help="At risk when the time since the last visit exceeds the customer's typical "
        "interval times this factor.",
    )
    hk_at_risk_floor_days = fields.Integer(
        string="At-Risk Days (no interval yet)",
        default=45,
        help="At risk after this many days without a visit for customers without a "
        "typical interval yet (a single visit).",
    )
    hk_churn_factor = fields.Float(string="Churn Factor", default=4.0)
    hk_churn_floor_days = fields.Integer(
        string="Churn Floor (days)",
        default=180,
        help="Churned when the time since the last visit exceeds the typical interval times "
        "the churn factor, and at least this many days.",
    )
    hk_low_rating = fields.Integer(
        string="Low Rating",
        default=2,
        help="A rating at or below this score (1-5) on one of the last rated visits puts "
        "the customer at risk.",
    )
    hk_rated_visits_window = fields.Integer(string="Recent Visits Checked", default=3)
    hk_price_increase_pct = fields.Integer(
        string="Price Increase Signal (%)",
        default=10,
        help="When a customer is lost and the last visit of their usual service cost this "
        "much more than the average of the earlier ones, price is suggested as the reason.",
    )
    hk_lifecycle_override_days = fields.Integer(
        string="Manual Stage Holds (days)",
        default=30,
        help="A stage set by hand holds this many days or until the next done visit.",
    )
    hk_season_max_days = fields.Integer(
        string="Longest Season (days)",
        default=150,
        help="A customer is seasonal when, over at least two years, their visits fall in "
        "one stretch of the calendar of at most this many days (it may cross the new "
        "year).",
    )
    hk_season_off_share = fields.Integer(
        string="Off-Season Visits Tolerated (%)",
        default=10,
        help="This share of a customer's visits (rounded to the nearest visit) may fall "
        "outside their season.",
    )
    hk_season_grace_days = fields.Integer(
        string="Season Grace (days)",
        default=30,
        help="A seasonal customer is at risk when this many days have passed since the "
        "start of their season without a visit, and churned a season later.",
    )
    hk_at_risk_probability_enabled = fields.Boolean(
        string="At Risk by Probability",
        help="Also mark a customer at risk when the probability that they are still a "
        "customer (nightly prediction) is below the threshold. Customers without a "
        "prediction, and seasonal customers, follow the other rules only.",
    )
    hk_at_risk_probability = fields.Integer(
        string="At-Risk Probability (%)",
        default=20,
    )
    hk_cleaner_daily_visits = fields.Float(
        string="Visits per Cleaner per Day",
        default=2.5,
        digits=(16, 2),
        help="The capacity of the dashboard's 90-day forecast: the visits a cleaner does per "
        "day on average over the whole week, days off included (e.g. 3 visits on 6 days of "
        "7: 2.57).",
    )

    @api.constrains("hk_cleaner_daily_visits")
    def _check_cleaner_daily_visits(self):
        if any(company.hk_cleaner_daily_visits < 0 for company in self):
            raise ValidationError(self.env._("The visits per cleaner per day cannot be negative."))

    @api.constrains(*LIFECYCLE_SETTINGS, "hk_lifecycle_override_days", "hk_price_increase_pct")
    def _check_lifecycle_settings(self):
        for company in self:
            if (
                min(
                    company.hk_new_min_visits,
                    company.hk_new_max_days,
                    company.hk_at_risk_floor_days,
                    company.hk_churn_floor_days,
                    company.hk_rated_visits_window,
                    company.hk_lifecycle_override_days,
                )
                < 1
            ):
                raise ValidationError(
                    self.env._("Lifecycle day and visit thresholds must be at least 1.")
                )
            if (
                company.hk_at_risk_factor <= 0
                or company.hk_churn_factor <= company.hk_at_risk_factor
            ):
                raise ValidationError(
                    self.env._(
                        "The churn factor must be greater than the at-risk factor, and both positive."
                    )
                )
            if company.hk_churn_floor_days <= company.hk_at_risk_floor_days:
                raise ValidationError(
                    self.env._("The churn floor must be longer than the at-risk period.")
                )
            if company.hk_price_increase_pct < 0:
                raise ValidationError(
                    self.env._("The price increase signal is a percentage of 0 or more.")
                )
            if not 1 <= company.hk_low_rating <= 5:
                raise ValidationError(
                    self.env._("The low rating threshold is a score from 1 to 5.")
                )
            if not 7 <= company.hk_season_max_days <= 300:
                raise ValidationError(
                    self.env._("A season lasts from 7 to 300 days of the calendar.")
                )
            if not 0 <= company.hk_season_off_share < 50:
                raise ValidationError(
                    self.env._("The off-season visits tolerated are a share from 0 to 49%.")
                )
            if company.hk_season_grace_days < 0:
                raise ValidationError(self.env._("The season grace cannot be negative."))
            if not 0 < company.hk_at_risk_probability < 100:
                raise ValidationError(
                    self.env._("The at-risk probability is a percentage from 1 to 99.")
                )

    def write(self, vals):
        """New thresholds: every customer of these companies is evaluated at the next
        run (one UPDATE; the company whose settings apply, ``_settings_company_sql``)."""
        result = super().write(vals)
        if set(LIFECYCLE_SETTINGS).intersection(vals):
            engine = self.env["housekeeping.engine"]
            self.env["res.partner"].flush_model(["company_id", "hk_visit_company_id"])
            engine._apply(
                SQL(
                    "SELECT p.id FROM res_partner p WHERE %s = ANY(%s)",
                    engine._settings_company_sql("p"),
                    self.ids,
                ),
                {"lifecycle_next_check": SQL("NULL::date")},
            )
        return result

    # ------------------------------------------------------------
    # Engagement: satisfaction survey, complaints, VIP, journeys
    # ------------------------------------------------------------
    hk_survey_enabled = fields.Boolean(
        string="Satisfaction Survey",
        default=True,
        help="Send a rating request by e-mail when a visit is done (customers with an "
        "e-mail address and e-mail consent only).",
    )
    hk_complaint_score = fields.Integer(
        string="Complaint at Score",
        default=2,
        help="A rating at or below this score (1-5) opens a complaint with a service-recovery "
        "activity due in 24 hours.",
    )
    hk_service_desk_user_id = fields.Many2one(
        "res.users",
        string="Service Desk",
        domain="[('share', '=', False)]",
        help="Complaints and service-recovery activities of customers with neither a "
        "dedicated agent nor a salesperson go to this user.",
    )
    hk_vip_min_average = fields.Float(
        string="VIP Average Score",
        default=4.5,
        help="Customers whose last rated visits average at least this score are VIP.",
    )
    hk_vip_rated_visits = fields.Integer(
        string="VIP Rated Visits",
        default=3,
        help="Number of last rated visits averaged (a customer needs that many ratings).",
    )
    hk_vip_callback_days = fields.Integer(
        string="VIP Callback Every (days)",
        default=30,
        help="A callback activity is planned for the agent of each VIP customer this often.",
    )
    hk_conversion_days = fields.Integer(
        string="Conversion Window (days)",
        default=14,
        help="A visit done within this many days after a journey message converts it.",
    )

    @api.constrains(
        "hk_complaint_score",
        "hk_vip_min_average",
        "hk_vip_rated_visits",
        "hk_vip_callback_days",
        "hk_conversion_days",
    )
    def _check_engagement_settings(self):
        for company in self:
            if not 0 <= company.hk_complaint_score <= 5:
                raise ValidationError(
                    self.env._("The complaint score is a score from 0 (never) to 5.")
                )
            if not 1 <= company.hk_vip_min_average <= 5:
                raise ValidationError(self.env._("The VIP average score is between 1 and 5."))
            if (
                min(
                    company.hk_vip_rated_visits,
                    company.hk_vip_callback_days,
                    company.hk_conversion_days,
                )
                < 1
            ):
                raise ValidationError(
                    self.env._(
                        "VIP rated visits, callback days and conversion days must be at least 1."
                    )
                )

    # ------------------------------------------------------------
    # Prepaid balances (models/housekeeping_prepaid.py, engines/prepaid.py)
    # ------------------------------------------------------------
    hk_prepaid_program_id = fields.Many2one(
        "loyalty.program",
        string="Prepaid eWallet",
        domain="[('program_type', '=', 'ewallet'), ('company_id', 'in', [id, False])]",
        help="The eWallet program holding the customers' prepaid balances in this company "
        "(created with the first top-up).",
    )
    hk_prepaid_topup_counts_as_spend = fields.Boolean(
        string="Top-ups Count Towards Tiers",
        help="Tier qualification counts prepaid top-ups as spend. Off: only consumption "
        "(done visits) counts.",
    )
    hk_prepaid_topup_points = fields.Boolean(
        string="Points on Top-ups",
        help="A top-up earns points on its principal (not its bonus) at the customer's tier "
        "multiplier, and the part of a visit paid from the prepaid balance earns none; a "
        "refund or a cancelled top-up takes its points back. Off: points are earned on "
        "consumption only.",
    )

    # ------------------------------------------------------------
    # Customer portal: cancelling and moving visits
    # ------------------------------------------------------------
    hk_portal_notice_hours = fields.Integer(
        string="Notice to Cancel or Move a Visit (hours)",
        default=24,
        help="On the portal, customers can cancel a visit, or ask to move it, up to this many "
        "hours before it starts; later, they call the company.",
    )

    @api.constrains("hk_portal_notice_hours")
    def _check_portal_settings(self):
        for company in self:
            if not 0 <= company.hk_portal_notice_hours <= 720:
                raise ValidationError(
                    self.env._("The notice to cancel or move a visit is 0 to 720 hours.")
                )

    # ------------------------------------------------------------
    # Dispatch and service plans (models/engines/dispatch.py, service_plan.py)
    # ------------------------------------------------------------
    hk_dispatch_travel_buffer = fields.Integer(
        string="Travel Buffer (minutes)",
        default=30,
        help="Dispatch proposes a cleaner only if they are free this long before and after "
        "the visit, to travel from and to their other visits.",
    )
    hk_plan_horizon_weeks = fields.Integer(
        string="Service Plan Horizon (weeks)",
        default=4,
        help="The service plans' visits are created this many weeks ahead.",
    )

    @api.constrains("hk_dispatch_travel_buffer", "hk_plan_horizon_weeks")
    def _check_dispatch_settings(self):
        for company in self:
            if not 0 <= company.hk_dispatch_travel_buffer <= 240:
                raise ValidationError(self.env._("The travel buffer is 0 to 240 minutes."))
            if not 1 <= company.hk_plan_horizon_weeks <= 26:
                raise ValidationError(self.env._("The service plan horizon is 1 to 26 weeks."))
