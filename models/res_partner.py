import re
import secrets
from datetime import date, datetime, timedelta

import pytz
from babel.dates import get_month_names
from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Domain
from odoo.tools import SQL, LazyTranslate, consteq, format_amount
from odoo.tools.misc import babel_locale_parse, hmac

from .housekeeping_journey import OPEN_SEND_STATES, offer_description
from .housekeeping_partner_rfm import RFM_COLUMNS, RFM_SEGMENTS
from .lifecycle_rules import LIFECYCLE_INPUTS, LIFECYCLE_STAGES, LOST_STAGES
from .trust import closed_fields, engine_writes, is_open

_lt = LazyTranslate(__name__)

# Mainland China mobile numbers: optional +86 / 86 prefix, then 1[3-9] and 9 digits.
CN_MOBILE_RE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
PHONE_NOISE_RE = re.compile(r"[\s\-().]")

# ---------------------------------------------------------------------- points
# Fields that make a complete profile (profile completion bonus, campaign task).
PROFILE_FIELDS = ("phone", "birthday", "street", "household_size", "home_area")
REFERRAL_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def _new_referral_code():
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _i in range(8))


# ---------------------------------------------------------------------- engagement
CONSENT_SOURCES = [
    ("form", "Signed Form"),
    ("phone", "Phone"),
    ("wechat", "WeChat"),
    ("website", "Website / Portal"),
    ("store", "In Store"),
    ("import", "Import"),
    ("unsubscribe", "Unsubscribe Link"),
]
UNSUBSCRIBE_SCOPE = "hk-unsubscribe"

# ---------------------------------------------------------------------- privacy
# opened by action_hk_anonymize only: personal data of an anonymized customer
ANONYMIZE = "hk_anonymize"

# Personal data wiped by the anonymization (fields absent from the database's
# modules are skipped). What accounting needs stays: the ledger, the visits'
# amounts, dates and service types, the sale orders.
PERSONAL_FIELDS = (
    "email",
    "phone",
    "mobile",
    "street",
    "street2",
    "zip",
    "city",
    "state_id",
    "website",
    "function",
    "title",
    "comment",
    "vat",
    "ref",
    "image_1920",
    # customer database
    "birthday",
    "gender",
    "acquisition_channel",
    "household_tag_ids",
    "household_size",
    "home_area",
    "home_type",
    "preferred_weekday_ids",
    "preferred_time_window",
    "prefers_eco_products",
    "prefers_hypoallergenic",
    "preferred_employee_ids",
    "blocked_employee_ids",
    "special_instructions",
    "category_id",
    "referral_code",
    # marketing consent (PIPL): withdrawn
    "consent_email",
    "consent_sms",
)

# ---------------------------------------------------------------------- trust
# The engine-owned customer fields that an action owns rather than an engine;
# the engines' own are their ``_engine_fields`` (see ResPartner._hk_engine_fields).
ACTION_FIELDS = (
    # the ledger (housekeeping.points.entry) is the only source of the balance
    "points_balance",
    # action_generate_referral_code
    "referral_code",
    # privacy (action_hk_anonymize, the portal's deletion request)
    "hk_anonymized",
    "hk_anonymized_date",
    "hk_anonymized_uid",
    "hk_deletion_requested",
)


class ResPartner(models.Model):
    """The customer, extended once: a section per capability (profile,
    lifecycle, tiers, points, engagement, RFM, privacy, trust) with its fields,
    constraints, computes and user actions, then the one ``create()`` /
    ``write()`` (the trust boundary first) and the aliases of the engines'
    scheduled actions. The engines' work is theirs (``models/engines``)."""

    _inherit = "res.partner"

    # ------------------------------------------------------------------ profile: basic data
    gender = fields.Selection(
        [("female", "Female"), ("male", "Male"), ("other", "Other")],
    )
    birthday = fields.Date(tracking=True)
    age = fields.Integer(compute="_compute_age")
    customer_since = fields.Date(
        help="Date of the first completed visit, or set by hand for imported customers."
    )
    acquisition_channel = fields.Selection(
        [
            ("referral", "Referral"),
            ("store", "Store / Walk-in"),
            ("wechat", "WeChat"),
            ("mini_program", "Mini Program / Online"),
            ("platform", "Local Services Platform"),
            ("phone", "Phone"),
            ("community", "Community Event"),
            ("other", "Other"),
        ],
    )
    referred_by_id = fields.Many2one(
        "res.partner",
        index="btree_not_null",
        ondelete="set null",
    )
    is_prospect = fields.Boolean(
        string="Prospect", help="A potential customer who has not been served yet."
    )
    # the search view's default field: a name, or a phone number (search only)
    hk_name_phone = fields.Char(string="Name or Phone", store=False, search="_search_hk_name_phone")

    # ------------------------------------------------------------------ profile: household
    household_tag_ids = fields.Many2many(
        "housekeeping.household.tag",
        string="Household",
        help="Household composition: elderly, infants, children, pets, …",
    )
    household_size = fields.Integer(string="People in Household")
    home_area = fields.Float(string="Home Size (m²)")
    home_type = fields.Selection(
        [
            ("apartment", "Apartment"),
            ("villa", "Villa"),
            ("townhouse", "Townhouse"),
            ("office", "Office"),
            ("other", "Other"),
        ],
    )
    preferred_weekday_ids = fields.Many2many("housekeeping.weekday", string="Preferred Days")
    preferred_time_window = fields.Selection(
        [
            ("morning", "Morning (8:00-12:00)"),
            ("afternoon", "Afternoon (12:00-18:00)"),
            ("evening", "Evening (18:00-21:00)"),
            ("any", "Any Time"),
        ],
        string="Preferred Time",
    )
    prefers_eco_products = fields.Boolean(string="Eco-Friendly Products")
    prefers_hypoallergenic = fields.Boolean(string="Hypoallergenic Products")
    preferred_employee_ids = fields.Many2many(
        "hr.employee",
        "hk_partner_preferred_employee_rel",
        "partner_id",
        "employee_id",
        string="Preferred Cleaners",
    )
    blocked_employee_ids = fields.Many2many(
        "hr.employee",
        "hk_partner_blocked_employee_rel",
        "partner_id",
        "employee_id",
        string="Blocked Cleaners",
    )
    special_instructions = fields.Text(help="Keys, parking, allergies, access codes, …")

    # ------------------------------------------------------------------ profile: service records
    visit_ids = fields.One2many("housekeeping.visit", "partner_id", string="Visits")
    complaint_ids = fields.One2many("housekeeping.complaint", "partner_id", string="Complaints")
    complaint_count = fields.Integer(compute="_compute_complaint_count")
    open_complaint_count = fields.Integer(compute="_compute_complaint_count")
    hk_rating_avg = fields.Float(
        string="Average Satisfaction",
        compute="_compute_hk_rating_stats",
        compute_sudo=True,
        help="Average score (1-5) the customer gave on their rated visits.",
    )
    hk_rated_visit_count = fields.Integer(
        string="Rated Visits", compute="_compute_hk_rating_stats", compute_sudo=True
    )

    # Consumption statistics: stored, searchable, maintained set-based in SQL.
    hk_currency_id = fields.Many2one("res.currency", compute="_compute_hk_currency_id")
    visit_count = fields.Integer(string="Done Visits", readonly=True, copy=False, default=0)
    total_spent = fields.Monetary(
        currency_field="hk_currency_id", readonly=True, copy=False, default=0.0
    )
    average_ticket = fields.Monetary(
        currency_field="hk_currency_id", readonly=True, copy=False, default=0.0
    )
    # (indexed: the dashboard counts the new customers of a period live)
    first_visit_date = fields.Date(readonly=True, copy=False, index="btree_not_null")
    # (indexed with the id, ``_hk_last_visit_idx``: the customer list sorted by
    # last visit reads its first page from the index instead of sorting 1M rows)
    last_visit_date = fields.Date(readonly=True, copy=False)
    _hk_last_visit_idx = models.Index("(last_visit_date, id)")
    visit_interval_days = fields.Float(
        string="Typical Interval (days)",
        readonly=True,
        copy=False,
        digits=(16, 1),
        help="Median number of days between two done visits.",
    )
    preferred_service_type_id = fields.Many2one(
        "housekeeping.service.type", readonly=True, copy=False
    )
    coupon_usage_rate = fields.Float(
        string="Coupon Usage (%)", readonly=True, copy=False, digits=(16, 1)
    )
    hk_visit_company_id = fields.Many2one(
        "res.company",
        string="Company of Latest Visit",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The company of the customer's latest done visit: its settings apply to a "
        "customer without a company of their own.",
    )

    # ------------------------------------------------------------------ profile: computes
    def _search_hk_name_phone(self, operator, value):
        """The name, or the phone and mobile (``phone_mobile_search``: spaces,
        dashes and the country prefix ignored) once the text holds 3 digits."""
        domain = Domain("display_name", operator, value)
        if (
            operator in ("ilike", "like", "=ilike", "=like")
            and isinstance(value, str)
            and len(re.sub(r"\D", "", value)) >= 3
        ):
            domain |= Domain("phone_mobile_search", operator, value)
        return domain

    @api.depends("birthday")
    def _compute_age(self):
        today = fields.Date.context_today(self)
        for partner in self:
            partner.age = relativedelta(today, partner.birthday).years if partner.birthday else 0

    @api.depends("company_id", "hk_visit_company_id")
    def _compute_hk_currency_id(self):
        for partner in self:
            partner.hk_currency_id = partner._hk_settings_company().currency_id

    def _compute_complaint_count(self):
        complaint = self.env["housekeeping.complaint"]
        groups = complaint._read_group(
            [("partner_id", "in", self.ids)], ["partner_id", "state"], ["__count"]
        )
        total, open_ = {}, {}
        for partner, state, count in groups:
            total[partner.id] = total.get(partner.id, 0) + count
            if state in complaint._OPEN_STATES:
                open_[partner.id] = open_.get(partner.id, 0) + count
        for partner in self:
            partner.complaint_count = total.get(partner.id, 0)
            partner.open_complaint_count = open_.get(partner.id, 0)

    def _compute_hk_rating_stats(self):
        """Average score and number of rated visits, one ``_read_group`` on Odoo's
        ratings for the whole recordset (as ``rating.mixin`` does for a record)."""
        groups = self.env["rating.rating"]._read_group(
            [
                ("res_model", "=", "housekeeping.visit"),
                ("partner_id", "in", self.ids),
                ("consumed", "=", True),
                ("rating", ">=", 1),
            ],
            ["partner_id"],
            ["rating:avg", "res_id:count_distinct"],
        )
        stats = {partner.id: (avg, count) for partner, avg, count in groups}
        for partner in self:
            partner.hk_rating_avg, partner.hk_rated_visit_count = stats.get(
                partner._origin.id, (0.0, 0)
            )

    def _hk_service_responsible(self):
        """The person who handles the customer's complaints and service recovery:
        their dedicated agent, else their salesperson, else the service desk of
        the company whose settings apply to them, else a membership manager of that
        company; always a person who works (an active internal user), never
        OdooBot or the superuser. Returns ``res.users`` (empty if nobody)."""
        self.ensure_one()
        company = self._hk_settings_company()
        for user in (self.tier_agent_id, self.user_id, company.hk_service_desk_user_id):
            if user._hk_is_working_person():
                return user
        managers = (
            self.env["res.users"]
            .sudo()
            .search(
                [
                    (
                        "group_ids",
                        "in",
                        self.env.ref("housekeeping_membership.group_membership_manager").ids,
                    ),
                    ("share", "=", False),
                    ("company_ids", "in", company.ids),
                ],
                order="id",
            )
        )
        return next(
            (user for user in managers if user._hk_is_working_person()), self.env["res.users"]
        )

    # ------------------------------------------------------------------ profile: constraints
    @api.constrains("phone", "country_id", "is_company")
    def _check_cn_mobile(self):
        """Individuals in China are reached on their mobile phone; companies keep
        their landline or 400 number."""
        china = self.env.ref("base.cn", raise_if_not_found=False)
        for partner in self:
            if not partner.phone or not china or partner.country_id != china or partner.is_company:
                continue
            if not CN_MOBILE_RE.match(PHONE_NOISE_RE.sub("", partner.phone)):
                raise ValidationError(
                    self.env._(
                        "%(phone)s is not a valid mainland China mobile number "
                        "(11 digits starting with 13-19, optionally prefixed by +86).",
                        phone=partner.phone,
                    )
                )

    @api.constrains("birthday")
    def _check_birthday(self):
        today = fields.Date.context_today(self)
        for partner in self:
            if partner.birthday and partner.birthday > today:
                raise ValidationError(self.env._("A birthday cannot be in the future."))
            if partner.birthday and partner.birthday.year < 1900:
                raise ValidationError(self.env._("A birthday before 1900 is not plausible."))

    @api.constrains("referred_by_id")
    def _check_referred_by(self):
        for partner in self:
            if partner.referred_by_id and partner.referred_by_id == partner:
                raise ValidationError(self.env._("A customer cannot refer themselves."))

    @api.constrains("home_area", "household_size")
    def _check_household_numbers(self):
        for partner in self:
            # written as "not in range" so that NaN (float("nan") from a form) fails too
            if not 0 <= partner.home_area <= 100000:
                raise ValidationError(self.env._("The home size must be between 0 and 100,000 m²."))
            if not 0 <= partner.household_size <= 100:
                raise ValidationError(self.env._("The household size must be between 0 and 100."))

    # ------------------------------------------------------------------ shared machinery
    @api.model
    @tools.ormcache()
    def _hk_main_company_id(self):
        return self.env["res.company"].sudo().search([], order="id", limit=1).id

    @api.model
    def _hk_main_company(self):
        """The company whose settings apply to customers shared between companies (no
        company of their own): the first active company, whoever asks (as superuser:
        a user of another company reads its settings too). Cached: Odoo clears the
        cache when a company is created, archived or deleted."""
        return self.env["res.company"].sudo().browse(self._hk_main_company_id())

    def _hk_settings_company(self):
        """The company whose settings (thresholds, ladder, currency) apply to the
        customer: their own company, else the one of their latest done visit, else
        the main company (``housekeeping.engine._settings_company_sql`` in SQL)."""
        self.ensure_one()
        return self.company_id.sudo() or self.hk_visit_company_id.sudo() or self._hk_main_company()

    # ------------------------------------------------------------------ profile: actions
    def action_view_visits(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "housekeeping_membership.housekeeping_visit_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id, "search_default_filter_open": 0}
        return action

    def action_view_complaints(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "housekeeping_membership.housekeeping_complaint_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    def action_schedule_callback(self):
        """Plan a callback (回访) for the customer, assigned to the current user."""
        self._hk_check_staff()
        self.ensure_one()
        self.activity_schedule(
            "housekeeping_membership.mail_activity_type_callback",
            user_id=self.user_id.id or self.env.uid,
        )
        return True

    # ------------------------------------------------------------------ profile: reports and helpers
    def _hk_profile_data(self):
        """Last five done visits of the customer with their rating (customer
        profile PDF)."""
        self.ensure_one()
        visits = self.env["housekeeping.visit"].search(
            [("partner_id", "=", self.id), ("state", "=", "done")], order="date desc", limit=5
        )
        ratings = dict(
            self.env["rating.rating"]
            .sudo()
            ._read_group(
                [
                    ("res_model", "=", "housekeeping.visit"),
                    ("res_id", "in", visits.ids),
                    ("consumed", "=", True),
                    ("rating", ">", 0),
                ],
                ["res_id"],
                ["rating:avg"],
            )
        )
        stages = dict(self._fields["lifecycle_stage"]._description_selection(self.env))
        return {
            "visits": [(visit, ratings.get(visit.id)) for visit in visits],
            "stage": stages.get(self.lifecycle_stage, ""),
        }

    def _hk_company(self):
        return self.company_id or self.env.company

    def _hk_expiry_date(self, day):
        months = self._hk_company().hk_points_validity_months
        return day + relativedelta(months=months) if months else None

    def _hk_local_today(self):
        tz = self.tz or self.env.user.tz or "Asia/Shanghai"
        return datetime.now(pytz.timezone(tz)).date()

    def _hk_booking_url(self):
        """One-click booking link (portal) for the customer's usual service on the
        predicted next visit date (last visit + typical interval, not before tomorrow)."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        day = today + relativedelta(days=1)
        if self.last_visit_date and self.visit_interval_days:
            day = max(
                day, self.last_visit_date + relativedelta(days=round(self.visit_interval_days))
            )
        service = self.preferred_service_type_id
        query = f"?date={day.isoformat()}" + (f"&service_type_id={service.id}" if service else "")
        return f"{self.get_base_url()}/my/visits{query}"

    def _hk_fallback_agent(self):
        """Who gets a customer's activity when the customer has no service agent:
        the current user if internal, else the administrator."""
        user = self.env.user
        if user._is_internal() and not user._is_superuser():
            return user
        return self.env.ref("base.user_admin", raise_if_not_found=False) or user

    # ------------------------------------------------------------------ lifecycle
    # (the rules, their writes and the win-back playbooks are the lifecycle engine's:
    # models/engines/lifecycle.py)
    lifecycle_stage = fields.Selection(
        LIFECYCLE_STAGES,
        index=True,
        readonly=True,
        tracking=True,
        copy=False,
        group_expand="_group_expand_lifecycle_stage",
    )
    lifecycle_stage_date = fields.Date(string="Stage Since", copy=False)
    lifecycle_days_in_stage = fields.Integer(
        string="Days in Stage", compute="_compute_lifecycle_days_in_stage"
    )
    won_back_date = fields.Date(copy=False)
    churn_reason_id = fields.Many2one(
        "housekeeping.churn.reason",
        tracking=True,
        copy=False,
        ondelete="set null",
        # grouped by reason, the customers without one: never "None"
        falsy_value_label=_lt("Not confirmed"),  # pylint: disable=translation-field
    )
    churn_reason_confirmed = fields.Boolean(
        copy=False, help="Staff confirmed the suggested churn reason."
    )
    lifecycle_override_until = fields.Date(
        string="Manual Stage Until",
        copy=False,
        help="A manually set stage holds until this date or until the next done visit.",
    )
    lifecycle_seasonal = fields.Boolean(
        string="Seasonal Customer",
        readonly=True,
        copy=False,
        help="Visits cluster in the same months every year (e.g. deep cleaning before the "
        "Spring Festival): the customer is only at risk once the next season passes "
        "without a visit.",
    )
    # the season's arc of the calendar, as days of a common year (1 = 1 January, 365 =
    # 31 December; 29 February counts as 1 March); the end is before the start when
    # the season crosses the new year
    lifecycle_season_start = fields.Integer(
        string="Season Starts (day of year)", readonly=True, copy=False
    )
    lifecycle_season_end = fields.Integer(
        string="Season Ends (day of year)", readonly=True, copy=False
    )
    lifecycle_season_display = fields.Char(
        string="Season", compute="_compute_lifecycle_season_display"
    )
    lifecycle_next_check = fields.Date(
        string="Next Lifecycle Check",
        index=True,
        readonly=True,
        copy=False,
        help="The day the lifecycle rules look at this customer again: the first day "
        "the stage can change with time alone (a threshold of days without a visit, the "
        "end of a manual stage), at the latest about a year later. Empty: at the next "
        "run (new customers, and those whose visits, complaints or ratings changed).",
    )
    stage_log_ids = fields.One2many("housekeeping.stage.log", "partner_id", string="Stage History")

    def _group_expand_lifecycle_stage(self, stages, domain):
        return [key for key, _label in LIFECYCLE_STAGES]

    @api.depends_context("lang")
    @api.depends("lifecycle_seasonal", "lifecycle_season_start", "lifecycle_season_end")
    def _compute_lifecycle_season_display(self):
        months = get_month_names(
            "abbreviated", context="stand-alone", locale=babel_locale_parse(self.env.lang)
        )
        common_year = date(2001, 1, 1)
        for partner in self:
            start, end = partner.lifecycle_season_start, partner.lifecycle_season_end
            if not (partner.lifecycle_seasonal and start and end):
                partner.lifecycle_season_display = False
                continue
            first = months[(common_year + timedelta(days=start - 1)).month]
            last = months[(common_year + timedelta(days=end - 1)).month]
            partner.lifecycle_season_display = (
                self.env._("Every year %(start)s–%(end)s", start=first, end=last)
                if first != last
                else self.env._("Every year in %(month)s", month=first)
            )

    @api.depends("lifecycle_stage_date")
    def _compute_lifecycle_days_in_stage(self):
        today = fields.Date.context_today(self)
        for partner in self:
            partner.lifecycle_days_in_stage = (
                (today - partner.lifecycle_stage_date).days if partner.lifecycle_stage_date else 0
            )

    def action_set_lifecycle_stage(self, stage, reason):
        """Set the stage by hand, with a reason; it holds for the company's override
        period or until the next done visit, then the rules apply again."""
        self._hk_check_staff()
        if stage not in dict(LIFECYCLE_STAGES):
            raise UserError(self.env._("Unknown lifecycle stage: %(stage)s", stage=stage))
        if not (reason or "").strip():
            raise UserError(self.env._("Give a reason for changing the lifecycle stage by hand."))
        today = fields.Date.context_today(self)
        with engine_writes("lifecycle_override_until"):
            for partner in self:
                days = (partner.company_id or self.env.company).hk_lifecycle_override_days
                partner.lifecycle_override_until = today + timedelta(days=days or 30)
        # the rules look again the day after the manual stage ends
        self.flush_recordset()
        engine = self.env["housekeeping.engine.lifecycle"]
        engine._lifecycle_load(
            SQL(
                """SELECT p.id, p.lifecycle_stage AS old_stage, %(stage)s::varchar AS new_stage,
                          p.lifecycle_seasonal AS seasonal,
                          p.lifecycle_season_start AS season_start,
                          p.lifecycle_season_end AS season_end, NULL::varchar AS suggestion,
                          p.lifecycle_override_until + 1 AS next_check,
                          p.lifecycle_stage IS DISTINCT FROM %(stage)s AS changed,
                          p.lifecycle_stage_date AS old_stage_date, p.company_id
                     FROM res_partner p
                    WHERE p.id = ANY(%(ids)s)""",
                stage=stage,
                ids=self.ids,
            )
        )
        engine._lifecycle_apply(engine._lifecycle_rows, today, "manual", reason=reason.strip())
        return True

    def action_confirm_churn_reason(self):
        self._hk_check_staff()
        with engine_writes("churn_reason_confirmed"):
            self.filtered("churn_reason_id").write({"churn_reason_confirmed": True})
        return True

    # ------------------------------------------------------------------ tiers
    # (the qualification, upgrades and downgrades are the tier engine's:
    # models/engines/tier.py)
    membership_tier_id = fields.Many2one(
        "housekeeping.tier",
        index=True,
        readonly=True,
        copy=False,
        ondelete="restrict",
        help="Reached at once when a done visit qualifies the customer; lowered only by the "
        "scheduled evaluation, after a grace period.",
    )
    tier_color = fields.Integer(related="membership_tier_id.color")
    tier_grace_until = fields.Date(
        copy=False,
        help="The customer no longer qualifies for the tier: it is kept until this date, "
        "then lowered by one tier unless the customer qualifies again.",
    )
    tier_manual_until = fields.Date(
        string="Manual Tier Until",
        copy=False,
        help="A tier set by hand is kept until this date (upgrades still apply).",
    )
    tier_agent_id = fields.Many2one(
        "res.users",
        string="Dedicated Agent",
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        tracking=True,
    )
    tier_progress = fields.Char(string="Next Tier", compute="_compute_tier_progress")
    tier_progress_pct = fields.Float(string="Tier Progress (%)", compute="_compute_tier_progress")
    tier_log_ids = fields.One2many("housekeeping.tier.log", "partner_id", string="Tier History")

    def _hk_tier_gap(self, tier, spend, visits, activity, currency):
        """What the customer still needs for ``tier``: ``(text, percent)``; the text is
        empty when the customer qualifies."""
        parts, ratios, met = [], [], False
        if tier.min_spend > 0:
            ratios.append(min(spend / tier.min_spend, 1.0))
            met = met or spend >= tier.min_spend
            if spend < tier.min_spend:
                parts.append(
                    self.env._(
                        "spend %(amount)s more",
                        amount=format_amount(self.env, tier.min_spend - spend, currency),
                    )
                )
        if tier.min_visits > 0:
            ratios.append(min(visits / tier.min_visits, 1.0))
            met = met or visits >= tier.min_visits
            if visits < tier.min_visits:
                parts.append(
                    self.env._("%(count)s more visits", count=tier.min_visits - visits)
                    if tier.min_visits - visits > 1
                    else self.env._("1 more visit")
                )
        if tier.min_activity > 0:
            ratios.append(min(activity / tier.min_activity, 1.0))
            met = met or activity >= tier.min_activity
            if activity < tier.min_activity:
                parts.append(
                    self.env._(
                        "%(count)s more ratings or referrals",
                        count=tier.min_activity - activity,
                    )
                )
        if not ratios:
            return "", 100.0
        if tier.qualification == "any":
            if met:
                return "", 100.0
            return self.env._(" or ").join(parts), 100.0 * max(ratios)
        return self.env._(" and ").join(parts), 100.0 * min(ratios)

    @api.depends(
        "membership_tier_id", "visit_count", "total_spent", "company_id", "hk_visit_company_id"
    )
    def _compute_tier_progress(self):
        today = fields.Date.context_today(self)
        main = self._hk_main_company()
        stats = {}
        real_ids = [partner._origin.id for partner in self if partner._origin.id]
        if real_ids:
            engine = self.env["housekeeping.engine.tier"]
            engine._tier_flush()
            self.env.cr.execute(
                engine._tier_query(today, partner_ids=real_ids, downgrade=False, only_changed=False)
            )
            stats = {row["id"]: row for row in self.env.cr.dictfetchall()}
        companies = self.env["res.company"].sudo().browse({row["cid"] for row in stats.values()})
        ladders = self.env["housekeeping.tier"]._hk_ladders(self.company_id | main | companies)
        for partner in self:
            row = stats.get(partner._origin.id, {})
            company = companies.browse(row.get("cid")) or partner._hk_settings_company()
            ladder = ladders.get(company.id) or self.env["housekeeping.tier"]
            current = partner.membership_tier_id
            if current:
                upper = ladder.filtered(lambda t, c=current: t.sequence > c.sequence)
            elif partner.visit_count:
                upper = ladder.filtered(lambda t: t._hk_has_threshold())
            else:  # not a customer (yet): nothing to tell
                partner.tier_progress = False
                partner.tier_progress_pct = 0.0
                continue
            if not upper:
                partner.tier_progress = self.env._("Highest tier reached") if current else False
                partner.tier_progress_pct = 100.0 if current else 0.0
                continue
            target = upper[0]
            text, pct = self._hk_tier_gap(
                target,
                float(row.get("spend") or 0.0),
                row.get("visits") or 0,
                row.get("activity") or 0,
                company.currency_id,
            )
            if text:
                text = self.env._(
                    "%(needed)s to reach %(tier)s",
                    needed=text[:1].upper() + text[1:],
                    tier=target.name,
                )
            else:
                text = self.env._("Qualifies for %(tier)s", tier=target.name)
            partner.tier_progress = text
            partner.tier_progress_pct = round(pct, 1)

    def _hk_points_multiplier(self):
        """{partner_id: multiplier} applied when points are earned (the tier's)."""
        return {partner.id: partner.membership_tier_id.points_multiplier or 1.0 for partner in self}

    def action_set_tier(self, tier, reason, until=None):
        """Set the tier by hand (membership managers), with a reason; it holds until
        ``until`` (default: one qualification window): no grace period or downgrade
        before, upgrades still apply. Logged and noted in the chatter."""
        if not self.env.su and not self.env.user.has_group(
            "housekeeping_membership.group_membership_manager"
        ):
            raise AccessError(self.env._("Only membership managers can set a tier by hand."))
        reason = (reason or "").strip()
        if not reason:
            raise UserError(self.env._("Give a reason for setting the tier by hand."))
        tier = self.env["housekeeping.tier"].browse(getattr(tier, "id", tier) or [])
        today = fields.Date.context_today(self)
        until = fields.Date.to_date(until) if until else None
        if until and until < today:
            raise UserError(self.env._("The manual tier cannot end in the past."))
        rows = []
        for partner in self:
            company = partner._hk_settings_company()
            if tier.company_id and partner.company_id and tier.company_id != partner.company_id:
                raise UserError(
                    self.env._(
                        "The tier %(tier)s belongs to %(company)s, not to the company of "
                        "%(customer)s.",
                        tier=tier.name,
                        company=tier.company_id.name,
                        customer=partner.display_name,
                    )
                )
            rows.append(
                {
                    "id": partner.id,
                    "old_tier": partner.membership_tier_id.id or None,
                    "new_tier": tier.id or None,
                    "action": "manual",
                    "new_grace": None,
                    "clear_manual": False,
                    "manual_until": until
                    or today + relativedelta(months=company.hk_tier_window_months or 12),
                    "company_id": partner.company_id.id or None,
                    "cid": company.id,
                    "agent_id": partner.tier_agent_id.id or None,
                    "spend": 0,
                    "visits": 0,
                    "activity": 0,
                    "win_start": today,
                }
            )
        self.flush_recordset()
        self.env["housekeeping.engine.tier"]._tier_apply(rows, today, "manual", reason=reason)
        return True

    def action_view_tier_logs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "housekeeping_membership.housekeeping_tier_log_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["view_mode"] = "list"
        action["views"] = [(False, "list")]
        return action

    # ------------------------------------------------------------------ points
    # (earning, reversals, referrals, the profile bonus and grants are the points
    # engine's: models/engines/points.py; the ledger is housekeeping.points.entry)
    points_balance = fields.Integer(
        string="Points",
        readonly=True,
        copy=False,
        default=0,
        help="Always the sum of the customer's ledger entries.",
    )
    points_entry_ids = fields.One2many(
        "housekeeping.points.entry", "partner_id", string="Points Ledger"
    )
    referral_code = fields.Char(
        copy=False,
        readonly=True,
        help="Given by the customer to friends: a friend who signs up with it and "
        "completes a first paid visit earns the customer referral points.",
    )
    referral_count = fields.Integer(compute="_compute_referral_count")
    last_check_in_date = fields.Date(compute="_compute_check_in")
    check_in_streak = fields.Integer(string="Check-in Streak", compute="_compute_check_in")
    _referral_code_unique = models.UniqueIndex(
        "(referral_code) WHERE referral_code IS NOT NULL", "This referral code is already used."
    )

    def _compute_referral_count(self):
        counts = dict(
            self.env["res.partner"]._read_group(
                [("referred_by_id", "in", self.ids)], ["referred_by_id"], ["__count"]
            )
        )
        for partner in self:
            partner.referral_count = counts.get(partner, 0)

    def _hk_ensure_referral_code(self):
        """Give each customer of ``self`` a referral code (generated on demand)."""
        for partner in self.filtered(lambda p: not p.referral_code):
            with engine_writes("referral_code"):
                partner.sudo().referral_code = _new_referral_code()
        return self.mapped("referral_code")

    def action_generate_referral_code(self):
        self._hk_check_staff_or_self()
        self._hk_ensure_referral_code()
        return True

    def action_apply_referral_code(self, code):
        """Record who referred this customer, from the referrer's code."""
        self._hk_check_staff_or_self()
        self.ensure_one()
        code = (code or "").strip().upper()
        referrer = self.search([("referral_code", "=", code)], limit=1) if code else self.browse()
        if not referrer:
            raise UserError(self.env._("The referral code %(code)s does not exist.", code=code))
        if referrer == self or referrer == self.commercial_partner_id:
            raise UserError(self.env._("A customer cannot use their own referral code."))
        if self.visit_count:
            raise UserError(
                self.env._("Referral codes are for new customers, before their first visit.")
            )
        if self.referred_by_id:
            raise UserError(
                self.env._(
                    "%(customer)s was already referred by %(referrer)s.",
                    customer=self.display_name,
                    referrer=self.referred_by_id.display_name,
                )
            )
        self.write({"referred_by_id": referrer.id, "acquisition_channel": "referral"})
        return referrer

    def _compute_check_in(self):
        streaks = self.env["housekeeping.engine.points"]._check_in_streaks(self)
        for partner in self:
            last, streak = streaks.get(partner.id, (False, 0))
            partner.last_check_in_date = last
            partner.check_in_streak = streak

    def action_check_in(self):
        """Daily check-in (签到): points once per day in the customer's timezone, and
        a bonus (points and a coupon) at the end of every streak of N days."""
        self._hk_check_staff_or_self()
        self.ensure_one()
        company = self._hk_company()
        today = self._hk_local_today()
        Entry = self.env["housekeeping.points.entry"].sudo()

        def credit(vals):
            # through the ledger's credit path, so that an open debt is repaid
            # before these points can expire (a debt left open would be charged
            # again when they do); a check-in worth no points is still recorded
            if vals["points"] > 0:
                return Entry._post_credits([vals])
            return Entry._insert([vals])

        entry = credit(
            {
                "partner_id": self.id,
                "company_id": company.id,
                "points": company.hk_checkin_points,
                "entry_type": "earn",
                "reason_code": "check_in",
                "date": today,
                "expiry_date": self._hk_expiry_date(today),
                "source_key": f"checkin:{today.isoformat()}",
            }
        )
        if not entry:
            raise UserError(self.env._("Already checked in today. Come back tomorrow!"))
        # consecutive check-in days ending at this one
        streak = (
            self.env["housekeeping.engine.points"]
            ._check_in_streaks(self)
            .get(self.id, (False, 0))[1]
        )
        bonus = self.env["housekeeping.points.entry"]
        if streak % company.hk_checkin_streak_days == 0:
            card = self.env["loyalty.card"]
            if company.hk_checkin_streak_program_id:
                card = (
                    self.env["loyalty.card"]
                    .sudo()
                    .create(
                        {
                            "program_id": company.hk_checkin_streak_program_id.id,
                            "partner_id": self.id,
                            "points": 1,
                        }
                    )
                )
            bonus = credit(
                {
                    "partner_id": self.id,
                    "company_id": company.id,
                    "points": company.hk_checkin_streak_points,
                    "entry_type": "earn",
                    "reason_code": "streak",
                    "date": today,
                    "expiry_date": self._hk_expiry_date(today),
                    "source_key": f"streak:{today.isoformat()}",
                    "loyalty_card_id": card.id or None,
                    "note": self.env._("%(days)s days in a row", days=streak),
                }
            )
        self.invalidate_recordset(["points_balance", "last_check_in_date", "check_in_streak"])
        return entry | bonus

    def action_view_points(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "housekeeping_membership.housekeeping_points_entry_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    def _hk_points_expiring_soon(self, days=None):
        """``{'points', 'date'}``: points of the customer's lots expiring within
        ``days`` (default: the company's reminder window), for the reminder e-mail
        and the portal."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        if days is None:
            days = self._hk_company().hk_points_reminder_days
        until = today + relativedelta(days=days)
        lots = (
            self.env["housekeeping.points.entry"]
            .sudo()
            .search(
                [
                    ("partner_id", "=", self.id),
                    ("points", ">", 0),
                    ("expiry_date", ">=", today),
                    ("expiry_date", "<=", until),
                ],
                order="expiry_date",
            )
        )
        lots = lots.filtered(lambda lot: lot.remaining > 0)
        return {"points": sum(lots.mapped("remaining")), "date": lots[:1].expiry_date}

    # ------------------------------------------------------------------ engagement
    # (VIP tags, callbacks and the visit step are the VIP engine's:
    # models/engines/vip.py; journeys are housekeeping.journey)
    consent_email = fields.Boolean(
        string="E-mail Consent",
        copy=False,
        tracking=True,
        help="The customer agreed to receive e-mails (surveys, greetings, offers).",
    )
    consent_sms = fields.Boolean(
        string="SMS Consent",
        copy=False,
        tracking=True,
        help="The customer agreed to receive text messages.",
    )
    consent_date = fields.Datetime(
        copy=False, help="When the consents were last given or withdrawn."
    )
    consent_source = fields.Selection(
        CONSENT_SOURCES, copy=False, help="How the consents were last given or withdrawn."
    )
    hk_vip_since = fields.Date(
        string="VIP Since",
        readonly=True,
        copy=False,
        help="Set when the satisfaction rules made the customer VIP; the tag is removed "
        "when they no longer qualify. A VIP tag put by hand is left alone.",
    )
    hk_vip_callback_date = fields.Date(
        string="Last VIP Callback Planned", readonly=True, copy=False
    )
    hk_recommendation_ids = fields.One2many(
        "housekeeping.recommendation", "partner_id", string="Recommended Services"
    )

    def _hk_cancel_journey_messages(self):
        """Archived customers get no journey message: the ones still queued or to
        retry are cancelled (the audience of the journeys leaves them out)."""
        sends = (
            self.env["housekeeping.journey.send"]
            .sudo()
            .search([("partner_id", "in", self.ids), ("state", "in", OPEN_SEND_STATES)])
        )
        sends._hk_cancel()

    def _hk_unsubscribe_token(self):
        self.ensure_one()
        return hmac(self.env(su=True), UNSUBSCRIBE_SCOPE, self.id)

    def _hk_check_unsubscribe_token(self, token):
        self.ensure_one()
        return bool(token) and consteq(str(token), self._hk_unsubscribe_token())

    def _hk_unsubscribe_url(self):
        self.ensure_one()
        base = self.get_base_url()
        return f"{base}/housekeeping/unsubscribe/{self.id}/{self._hk_unsubscribe_token()}"

    def _hk_unsubscribe(self, channel="page"):
        """Withdraw every marketing consent (the customer confirmed on the
        unsubscribe page, ``channel='page'``, or their mail client sent the
        one-click request, ``channel='one_click'``). The consent date and source
        record it, and a chatter note says how. The customer's e-mail address and
        phone number go on Odoo's blacklists (``mail.blacklist``,
        ``phone.blacklist``: mass mailing and SMS marketing honour them too), and
        the journey messages not sent yet are cancelled."""
        self._hk_blacklist_addresses(
            self.env._("Unsubscribed with the link of a membership message.")
        )
        self._hk_cancel_journey_messages()
        changed = self.filtered(lambda p: p.consent_email or p.consent_sms)
        changed.write(
            {
                "consent_email": False,
                "consent_sms": False,
                "consent_source": "unsubscribe",
                "consent_date": fields.Datetime.now(),
            }
        )
        if channel == "one_click":
            body = self.env._(
                "The customer unsubscribed from e-mails and text messages "
                "(one-click unsubscribe of their mail client)."
            )
        else:
            body = self.env._(
                "The customer unsubscribed from e-mails and text messages "
                "(confirmed on the unsubscribe page)."
            )
        for partner in changed:
            partner.message_post(body=body, subtype_xmlid="mail.mt_note")
        return changed

    def _hk_blacklist_addresses(self, message):
        """Put the e-mail addresses (normalized) and phone numbers (sanitized) of
        these customers on Odoo's blacklists, with ``message`` on each entry;
        addresses Odoo cannot read (no normalized / sanitized form) are skipped."""
        emails = set(self.filtered("email_normalized").mapped("email_normalized"))
        numbers = set(self.filtered("phone_sanitized").mapped("phone_sanitized"))
        mail_blacklist = self.env["mail.blacklist"].sudo()
        for email in sorted(emails):
            mail_blacklist._add(email, message=message)
        if numbers:
            self.env["phone.blacklist"].sudo()._add(sorted(numbers), message=message)

    def _hk_journey_offer_text(self):
        """For journey templates: what the journey being sent (``hk_journey_id`` in
        the context) offers this customer, the offer of their tier first."""
        self.ensure_one()
        journey = (
            self.env["housekeeping.journey"]
            .sudo()
            .browse(self.env.context.get("hk_journey_id"))
            .exists()
        )
        if not journey:
            return ""
        return offer_description(journey.with_env(self.env)._hk_offer_of(self))

    # ------------------------------------------------------------------ RFM
    # (the scores live in housekeeping.partner.rfm, written by the RFM engine:
    # models/engines/rfm.py)
    rfm_recency = fields.Integer(
        string="Recency Score",
        compute="_compute_rfm",
        search="_search_rfm_recency",
        help="1 (longest since the last visit) to 5 (most recent): quintile within the company; "
        "customers with equal values share a score.",
    )
    rfm_frequency = fields.Integer(
        string="Frequency Score", compute="_compute_rfm", search="_search_rfm_frequency"
    )
    rfm_monetary = fields.Integer(
        string="Monetary Score", compute="_compute_rfm", search="_search_rfm_monetary"
    )
    rfm_segment = fields.Selection(
        RFM_SEGMENTS, string="RFM Segment", compute="_compute_rfm", search="_search_rfm_segment"
    )

    def _compute_rfm(self):
        scores = {
            score["partner_id"].id: score
            for score in self.env["housekeeping.partner.rfm"]
            .sudo()
            .search_fetch(
                [("partner_id", "in", [pid for pid in self._origin.ids if pid])],
                ["partner_id", *RFM_COLUMNS.values()],
            )
        }
        for partner in self:
            score = scores.get(partner._origin.id)
            for fname, column in RFM_COLUMNS.items():
                partner[fname] = score[column] if score else False

    def _hk_search_rfm(self, column, operator, value):
        """Customers whose score row matches; ``False`` among the values of ``in``
        stands for the customers not scored. The ORM inverts the negative
        operators itself."""
        if operator not in ("in", ">", ">=", "<", "<="):
            return NotImplemented
        scores = self.env["housekeeping.partner.rfm"].sudo()
        if operator != "in":
            return Domain(
                "id", "in", scores._search([(column, operator, value)]).subselect("partner_id")
            )
        values = [v for v in value if v is not False]
        domain = Domain.FALSE
        if values:
            domain = Domain(
                "id", "in", scores._search([(column, "in", values)]).subselect("partner_id")
            )
        if False in value:
            domain |= Domain("id", "not in", scores._search([]).subselect("partner_id"))
        return domain

    def _search_rfm_recency(self, operator, value):
        return self._hk_search_rfm("recency", operator, value)

    def _search_rfm_frequency(self, operator, value):
        return self._hk_search_rfm("frequency", operator, value)

    def _search_rfm_monetary(self, operator, value):
        return self._hk_search_rfm("monetary", operator, value)

    def _search_rfm_segment(self, operator, value):
        return self._hk_search_rfm("segment", operator, value)

    def _field_to_sql(self, alias, field_expr, query=None):
        """The scores as SQL, so that lists group and sort customers by them
        (the score table joined once per query)."""
        column = RFM_COLUMNS.get(field_expr)
        if not column:
            return super()._field_to_sql(alias, field_expr, query)
        self._check_field_access(self._fields[field_expr], "read")
        if query is None:
            return SQL(
                "(SELECT s.%s FROM housekeeping_partner_rfm s WHERE s.partner_id = %s)",
                SQL.identifier(column),
                SQL.identifier(alias, "id"),
            )
        rfm_alias = query.make_alias(alias, "hk_rfm")
        query.add_join(
            "LEFT JOIN",
            rfm_alias,
            "housekeeping_partner_rfm",
            SQL("%s = %s", SQL.identifier(rfm_alias, "partner_id"), SQL.identifier(alias, "id")),
        )
        return SQL.identifier(rfm_alias, column)

    # ------------------------------------------------------------------ privacy
    hk_anonymized = fields.Boolean(
        string="Anonymized",
        readonly=True,
        copy=False,
        help="The customer's personal data was erased (PIPL deletion request); the points "
        "ledger and the visits' amounts are kept for accounting.",
    )
    hk_anonymized_date = fields.Datetime(string="Anonymized On", readonly=True, copy=False)
    hk_anonymized_uid = fields.Many2one(
        "res.users", string="Anonymized By", readonly=True, copy=False, ondelete="set null"
    )
    hk_deletion_requested = fields.Datetime(
        string="Deletion Requested",
        readonly=True,
        copy=False,
        help="The customer asked for the deletion of their personal data (portal).",
    )

    def _hk_check_anonymize(self):
        if not self.env.su and not self.env.user.has_group(
            "housekeeping_membership.group_membership_manager"
        ):
            raise AccessError(
                self.env._("Only membership managers can anonymize a customer's personal data.")
            )
        if not self:
            raise UserError(self.env._("Select the customers to anonymize."))
        done = self.filtered("hk_anonymized")
        if done:
            raise UserError(
                self.env._(
                    "Already anonymized: %(customers)s", customers=", ".join(done.mapped("name"))
                )
            )
        internal = (
            self.sudo().with_context(active_test=False).user_ids.filtered(lambda u: not u.share)
        )
        if internal:
            raise UserError(
                self.env._(
                    "%(customers)s is linked to an internal user: archive the user first; "
                    "employees are not anonymized from here.",
                    customers=", ".join(internal.partner_id.mapped("name")),
                )
            )

    def action_hk_anonymize(self):
        """PIPL deletion request: erase the personal data of the customers (and of
        their contacts and addresses), irreversibly, keeping what accounting needs:
        the points ledger, the visits' amounts, dates and service types, the sale
        orders. The portal access is removed, the chatter emptied, pending messages
        cancelled; who and when is recorded on the customer and in the chatter."""
        self._hk_check_anonymize()
        user = self.env.user
        now = fields.Datetime.now()
        partners = self.sudo().with_context(tracking_disable=True, mail_notrack=True)
        # the customers, their contacts and addresses (archived ones included)
        everyone = partners | partners.with_context(active_test=False).child_ids.with_context(
            active_test=True
        )
        # pending e-mails and SMS to them are cancelled first (archiving the
        # customer cancels the journeys' queued messages, see write())
        everyone._hk_cancel_pending_messages()
        # bank accounts: entries may refer to them (Odoo archives instead of
        # deleting, with a chatter note giving the number): archived, number and
        # holder erased, without a note
        self._hk_erase_bank_accounts(everyone)
        # the chatter of the customers: bodies, subjects, attachments, tracked values
        self._hk_erase_chatter(everyone)
        # notes written about them on their visits and complaints, their ratings'
        # comments (amounts, dates and service types stay)
        visits = self.env["housekeeping.visit"].sudo().search([("partner_id", "in", everyone.ids)])
        visits.with_context(tracking_disable=True).write({"notes": False})
        complaints = (
            self.env["housekeeping.complaint"].sudo().search([("partner_id", "in", everyone.ids)])
        )
        complaints.with_context(tracking_disable=True, mail_notrack=True).write(
            {"description": False}
        )
        self.env["rating.rating"].sudo().search([("partner_id", "in", everyone.ids)]).write(
            {"feedback": False}
        )
        # activities and followers
        self.env["mail.activity"].sudo().search(
            [("res_model", "=", "res.partner"), ("res_id", "in", everyone.ids)]
        ).unlink()
        self.env["mail.followers"].sudo().search([("partner_id", "in", everyone.ids)]).unlink()
        # portal users: archived, login freed (it is usually the e-mail address)
        users = everyone.with_context(active_test=False).user_ids
        for portal_user in users:
            portal_user.write(
                {"active": False, "login": f"anonymized-{portal_user.id}", "signature": False}
            )
        vals = {
            name: False
            for name in PERSONAL_FIELDS
            if name in partners._fields and partners._fields[name].store
        }
        for partner in everyone:
            # the owning action of the privacy fields and of the personal data
            # (the referral code among them)
            with engine_writes():
                partner.write(
                    {
                        **vals,
                        "name": self.env._("Anonymized customer #%(id)s", id=partner.id),
                        "hk_anonymized": True,
                        "hk_anonymized_date": now,
                        "hk_anonymized_uid": user.id,
                        "hk_deletion_requested": False,
                        "active": False,
                    }
                )
        # who and when: a note in the (emptied) chatter, without the erased name
        for partner in partners:
            partner.message_post(
                body=Markup("<p>%s</p>")
                % self.env._(
                    "Personal data anonymized (PIPL deletion request) by %(user)s on %(date)s. "
                    "The points ledger and visit amounts are kept for accounting.",
                    user=user.name,
                    date=fields.Datetime.to_string(now),
                ),
                subtype_xmlid="mail.mt_note",
                author_id=user.partner_id.id,
            )
        return True

    @api.model
    def _hk_erase_bank_accounts(self, partners):
        bank_model = self.env["res.partner.bank"].sudo().with_context(active_test=False)
        banks = bank_model.search([("partner_id", "in", partners.ids)])
        if not banks:
            return
        bank_model.flush_model()
        columns = [
            SQL("%s = 'anonymized-' || id", SQL.identifier(name))
            for name in ("acc_number", "sanitized_acc_number")
            if name in bank_model._fields and bank_model._fields[name].store
        ] + [
            SQL("%s = NULL", SQL.identifier(name))
            for name in ("acc_holder_name", "holder_name", "bank_bic")
            if name in bank_model._fields
            and bank_model._fields[name].store
            and bank_model._fields[name].type == "char"
        ]
        self.env.cr.execute(
            SQL(
                "UPDATE res_partner_bank SET active = FALSE, %s WHERE id = ANY(%s)",
                SQL(", ").join(columns),
                banks.ids,
            )
        )
        bank_model.invalidate_model()

    @api.model
    def _hk_erase_chatter(self, partners):
        """Empty the messages on the customers' record and the ones they wrote:
        body, subject, sender address; their attachments and tracked values go."""
        messages = (
            self.env["mail.message"]
            .sudo()
            .search(
                [
                    "|",
                    "&",
                    ("model", "=", "res.partner"),
                    ("res_id", "in", partners.ids),
                    ("author_id", "in", partners.ids),
                ]
            )
        )
        if not messages:
            return
        messages.attachment_ids.unlink()
        self.env["mail.tracking.value"].sudo().search(
            [("mail_message_id", "in", messages.ids)]
        ).unlink()
        self.env["mail.message"].flush_model()
        self.env.cr.execute(
            SQL(
                """
            UPDATE mail_message
               SET body = '', subject = NULL, email_from = NULL, reply_to = NULL,
                   author_id = CASE WHEN author_id = ANY(%(ids)s) THEN NULL ELSE author_id END
             WHERE id = ANY(%(messages)s)
            """,
                ids=partners.ids,
                messages=messages.ids,
            )
        )
        self.env["mail.message"].invalidate_model()
        # the notifications and mail queue rows of these messages carry addresses
        self.env["mail.mail"].sudo().search([("mail_message_id", "in", messages.ids)]).unlink()

    def _hk_cancel_pending_messages(self):
        """Cancel what is queued for these customers and not sent yet: e-mails
        (mail.mail outgoing / in exception) and SMS (sms.sms outgoing / in error);
        the journeys' send logs of these messages are marked cancelled.
        Extended by the engagement capability (journey logs)."""
        if not self:
            return
        mails = (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("state", "in", ("outgoing", "exception")),
                    "|",
                    ("recipient_ids", "in", self.ids),
                    "&",
                    ("model", "=", "res.partner"),
                    ("res_id", "in", self.ids),
                ]
            )
        )
        mails.write({"state": "cancel"})
        if "sms.sms" in self.env:
            self.env["sms.sms"].sudo().search(
                [("partner_id", "in", self.ids), ("state", "in", ("outgoing", "error"))]
            ).write({"state": "canceled"})

    def action_hk_anonymize_wizard(self):
        """Open the confirmation of the anonymization (irreversible)."""
        self._hk_check_anonymize()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Anonymize Customers"),
            "res_model": "housekeeping.partner.anonymize",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_ids": self.ids},
        }

    # ------------------------------------------------------------------ prediction
    # (written nightly by the prediction engine: models/engines/prediction.py; the
    # probability of still being a customer and the expected visits of the next 90
    # days by BG/NBD, the predicted value of the next 12 months with Gamma-Gamma)
    probability_alive = fields.Float(
        string="Probability Still a Customer",
        readonly=True,
        copy=False,
        digits=(16, 4),
        aggregator="avg",
        help="Probability that the customer still comes (BG/NBD model of the company's "
        "customers, fitted nightly). Empty: no prediction yet.",
    )
    expected_visits_90d = fields.Float(
        string="Expected Visits (90 Days)",
        readonly=True,
        copy=False,
        digits=(16, 2),
        help="Visits the customer is expected to book in the next 90 days.",
    )
    predicted_value_12m = fields.Monetary(
        string="Predicted Value (12 Months)",
        currency_field="hk_currency_id",
        readonly=True,
        copy=False,
        help="Expected visits in the next 12 months times the expected value of a "
        "visit of this customer, in the company's currency.",
    )
    prediction_summary = fields.Char(string="Prediction", compute="_compute_prediction_summary")

    @api.depends_context("tz")
    @api.depends("probability_alive", "visit_count", "visit_interval_days", "last_visit_date")
    def _compute_prediction_summary(self):
        today = fields.Date.context_today(self)
        for partner in self:
            if not partner.probability_alive or not partner.last_visit_date:
                partner.prediction_summary = False
                continue
            days = max((today - partner.last_visit_date).days, 0)
            if partner.visit_count <= 1 or not partner.visit_interval_days:
                partner.prediction_summary = self.env._(
                    "One visit so far, %(days)s days ago: %(visits)s visits expected in the "
                    "next 90 days",
                    days=days,
                    visits=f"{partner.expected_visits_90d:.1f}",
                )
                continue
            partner.prediction_summary = self.env._(
                "%(percent)s%% likely still a customer: usually every %(interval)s days, "
                "last visit %(days)s days ago",
                percent=round(100 * partner.probability_alive),
                interval=round(partner.visit_interval_days),
                days=days,
            )

    # ------------------------------------------------------------------ prepaid
    # The stored value (储值) is the customer's eWallet (loyalty.card) of the current
    # company's prepaid program; movements through housekeeping.engine.prepaid.
    prepaid_balance = fields.Monetary(
        compute="_compute_prepaid_balance",
        currency_field="prepaid_currency_id",
        help="The customer's eWallet balance in the current company (principal and bonus).",
    )
    prepaid_principal = fields.Monetary(
        compute="_compute_prepaid_balance",
        currency_field="prepaid_currency_id",
        help="What the customer paid and has not spent: a refund returns at most this.",
    )
    prepaid_bonus = fields.Monetary(
        compute="_compute_prepaid_balance",
        currency_field="prepaid_currency_id",
    )
    prepaid_currency_id = fields.Many2one("res.currency", compute="_compute_prepaid_balance")
    package_visits_left = fields.Integer(
        compute="_compute_package_visits_left",
        help="Visits left on the customer's valid visit packages (次卡) in the current company.",
    )

    @api.depends_context("company")
    def _compute_package_visits_left(self):
        counts = (
            self.env["housekeeping.engine.prepaid"]
            .sudo()
            ._package_counts([pid for pid in self.ids if isinstance(pid, int)], self.env.company)
        )
        for partner in self:
            partner.package_visits_left = counts.get(partner.id, 0)

    def _hk_portal_packages(self):
        """The customer's valid visit packages with visits left (the portal)."""
        self.ensure_one()
        return (
            self.env["housekeeping.package"]
            .sudo()
            .search(
                [
                    ("partner_id", "=", self.id),
                    ("company_id", "=", self.env.company.id),
                    ("state", "=", "active"),
                    ("visits_left", ">", 0),
                    ("date_end", ">=", fields.Date.context_today(self)),
                ],
                order="date_start, id",
            )
        )

    def action_view_packages(self):
        self.ensure_one()
        self._hk_check_staff()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "housekeeping_membership.housekeeping_package_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        return action

    @api.depends_context("company")
    def _compute_prepaid_balance(self):
        company = self.env.company
        balances = (
            self.env["housekeeping.engine.prepaid"]
            .sudo()
            ._balances([pid for pid in self.ids if isinstance(pid, int)], company)
        )
        for partner in self:
            balance, bonus = balances.get(partner.id, (0.0, 0.0))
            partner.prepaid_balance = balance
            partner.prepaid_bonus = bonus
            partner.prepaid_principal = balance - bonus
            partner.prepaid_currency_id = company.currency_id

    def action_prepaid_topup(self):
        """Open the counter top-up (a sale order of a top-up offer, confirmed)."""
        self.ensure_one()
        self._hk_check_staff()
        return self.env["housekeeping.prepaid.wizard"]._open(self, "topup")

    def action_prepaid_refund(self):
        """Open the refund of unused principal (managers, with a reason)."""
        self.ensure_one()
        self._hk_check_staff()
        return self.env["housekeeping.prepaid.wizard"]._open(self, "refund")

    def action_view_prepaid_entries(self):
        self.ensure_one()
        self._hk_check_staff()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "housekeeping_membership.housekeeping_prepaid_entry_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    # ------------------------------------------------------------------ trust
    # Any public method can be called over JSON-RPC on any record id the caller
    # can name, and Odoo checks no access for it: the addon's actions on customers
    # check who calls them (server code in sudo passes, as the portal's routes do
    # after checking the customer is the logged-in user's).
    def _hk_check_staff(self):
        """Membership staff only (service agents and managers)."""
        if not self.env.su and not self.env.user.has_group(
            "housekeeping_membership.group_membership_user"
        ):
            raise AccessError(self.env._("Only membership staff can do this on a customer."))

    def _hk_check_staff_or_self(self):
        """Membership staff, or a customer acting on their own record."""
        if self.env.su or self.env.user.has_group("housekeeping_membership.group_membership_user"):
            return
        own = self.env.user.partner_id.commercial_partner_id
        if any(partner.commercial_partner_id != own for partner in self.sudo()):
            raise AccessError(self.env._("You can do this on your own customer account only."))

    @api.model
    @tools.ormcache()
    def _hk_engine_fields(self):
        """The customer fields that an engine computes or an owning action sets:
        nobody writes them with ``write()``/``create()``, managers and the
        administrator included, except code of this addon inside
        ``trust.engine_writes`` (see models/trust.py). The engines' own lists
        (``_engine_fields`` of every model inheriting ``housekeeping.engine``,
        read from the registry: a new engine is guarded as soon as it declares
        its fields), and ``ACTION_FIELDS``."""
        names = set(ACTION_FIELDS)
        todo, seen = ["housekeeping.engine"], set()
        while todo:
            name = todo.pop()
            if name in seen or name not in self.env.registry:
                continue
            seen.add(name)
            model = self.env.registry[name]
            names.update(model._engine_fields)
            todo.extend(model._inherit_children)
        return frozenset(names)

    def _hk_refuse_engine_fields(self, names):
        closed = closed_fields(sorted(self._hk_engine_fields().intersection(names)))
        if not closed:
            return
        raise UserError(self._hk_engine_fields_message(closed))

    def _hk_engine_fields_message(self, names):
        labels = ", ".join(
            f"{self._fields[name]._description_string(self.env)} ({name})" for name in names
        )
        return self.env._(
            "These customer fields are kept by the membership engines and cannot be set "
            "directly: %(fields)s. Points change through the ledger (visits, rewards, "
            "adjustments), tiers and stages through their Set Tier and Set Stage actions, "
            "statistics through the visits.",
            fields=labels,
        )

    # ------------------------------------------------------------------ create, write, load
    @api.model_create_multi
    def create(self, vals_list):
        """1. trust: engine-owned fields are refused, on exactly the values the
        caller sent; 2. engagement: a consent given is dated."""
        # an empty value forges nothing (a new customer has no visits, points or
        # tier yet): res.users passes its partner fields' defaults, 0 included
        names = {name for vals in vals_list for name, value in vals.items() if value}
        # default_<field> context keys are applied by create() after this point
        names.update(
            key[len("default_") :]
            for key, value in self.env.context.items()
            if value and isinstance(key, str) and key.startswith("default_")
        )
        self._hk_refuse_engine_fields(names)
        for vals in vals_list:
            if ("consent_email" in vals or "consent_sms" in vals) and "consent_date" not in vals:
                vals["consent_date"] = fields.Datetime.now()
        return super().create(vals_list)

    def write(self, vals):
        """The one ``write()`` of the customer. Before the write:

        1. trust: engine-owned fields are refused, on exactly the values the
           caller sent (before anything below adds its own);
        2. privacy: an anonymized customer stays anonymous;
        3. engagement: the customers whose consent actually changes (a form
           saving the same answers again keeps the date of the decision);
        4. lifecycle: a change of what the rules read outside the visits
           (prospect flag, archiving, manual stage end, company) makes the
           customer due for the next run; a churn reason chosen by staff counts
           as confirmed.

        After it:

        5. points: the profile completion bonus;
        6. lifecycle: a reason chosen for a lost customer opens its playbook
           (once per open attempt);
        7. engagement: the consent date, and the journey messages of archived
           customers cancelled."""
        self._hk_refuse_engine_fields(vals)
        if (
            not is_open(ANONYMIZE)
            and set(vals) & {"name", "display_name", *PERSONAL_FIELDS}
            and self.filtered("hk_anonymized")
        ):
            raise UserError(
                self.env._("An anonymized customer cannot be given personal data again.")
            )
        consent_changed = self.browse()
        if "consent_date" not in vals:
            consents = [name for name in ("consent_email", "consent_sms") if name in vals]
            if consents:
                consent_changed = self.filtered(
                    lambda p: any(bool(vals[name]) != p[name] for name in consents)
                )
        if LIFECYCLE_INPUTS.intersection(vals) and "lifecycle_next_check" not in vals:
            vals = {**vals, "lifecycle_next_check": False}
        reason_before = None
        if "churn_reason_id" in vals:
            reason_before = {p.id: p.churn_reason_id for p in self}
            vals = {**vals, "churn_reason_confirmed": bool(vals["churn_reason_id"])}

        result = super().write(vals)

        if any(name in vals for name in PROFILE_FIELDS) and not self.env.context.get(
            "hk_no_profile_bonus"
        ):
            self.env["housekeeping.engine.points"]._reward_complete_profiles(self)
        if reason_before is not None:
            self._hk_start_winback_playbooks(reason_before)
        if consent_changed:
            super(ResPartner, consent_changed).write({"consent_date": fields.Datetime.now()})
        if "active" in vals and not vals["active"]:
            self._hk_cancel_journey_messages()
        return result

    def _hk_start_winback_playbooks(self, reason_before):
        """``write()``: the customers of ``self`` given a new churn reason while
        lost (``reason_before``: {partner id: their reason before}) start its
        playbook, unless an attempt of that reason is open."""
        changed = self.filtered(
            lambda p: (
                p.churn_reason_id
                and p.churn_reason_id != reason_before.get(p.id)
                and p.lifecycle_stage in LOST_STAGES
            )
        )
        if not changed:
            return
        open_runs = (
            self.env["housekeeping.winback.run"]
            .sudo()
            .search([("partner_id", "in", changed.ids), ("won_back", "=", False)])
        )
        running = {(r.partner_id.id, r.reason_id.id) for r in open_runs}
        todo = changed.filtered(lambda p: (p.id, p.churn_reason_id.id) not in running)
        if todo:
            self.env["housekeeping.engine.lifecycle"]._start_winback_playbooks(
                todo, fields.Date.context_today(self)
            )

    @api.model
    def load(self, fields, data):
        """An import naming engine-owned columns is refused as a whole, with one
        message naming them (not one error per row)."""
        columns = {path.split("/")[0].split(".")[0] for path in fields}
        closed = closed_fields(sorted(self._hk_engine_fields().intersection(columns)))
        if closed:
            return {
                "ids": False,
                "messages": [
                    {
                        "type": "error",
                        "message": self._hk_engine_fields_message(closed),
                        "record": 0,
                        "rows": {"from": 0, "to": max(len(data) - 1, 0)},
                        "field": closed[0],
                    }
                ],
            }
        return super().load(fields, data)

    # ------------------------------------------------------------------ engine aliases
    # The engines are models of their own (models/engines). Scheduled actions of
    # databases installed before them (noupdate) and integrations call these names.
    def _hk_refresh_visit_stats(self):
        """Recompute the consumption statistics of ``self`` (the statistics engine,
        ``housekeeping.engine.statistics``)."""
        return self.env["housekeeping.engine.statistics"]._refresh_visit_stats(self.ids)

    @api.model
    def _cron_evaluate_lifecycle(self):
        """Evaluate every customer due (``housekeeping.engine.lifecycle``); returns
        the number of customers whose stage changed."""
        return self.env["housekeeping.engine.lifecycle"]._cron()

    @api.model
    def _cron_evaluate_tiers(self):
        """Evaluate every member's tier (``housekeeping.engine.tier``); returns the
        number of members whose tier or grace period changed."""
        return self.env["housekeeping.engine.tier"]._cron()

    @api.model
    def _cron_expire_points(self):
        """Expire the lots past their expiry date and send the reminders
        (``housekeeping.engine.points.expiry``); returns the lots expired."""
        return self.env["housekeeping.engine.points.expiry"]._cron()

    @api.model
    def _cron_points_campaigns(self):
        """Reward every task met in the running campaigns
        (``housekeeping.engine.points.campaign``); returns the credits."""
        return self.env["housekeeping.engine.points.campaign"]._cron()

    @api.model
    def _cron_birthday(self):
        """Birthday points, then the birthday journeys
        (``housekeeping.engine.birthday``); returns the birthday points entries."""
        return self.env["housekeeping.engine.birthday"]._cron()

    @api.model
    def _cron_evaluate_vip(self):
        """Tag and untag VIP customers, then plan the VIP callbacks
        (``housekeeping.engine.vip``); returns the customers tagged or untagged."""
        return self.env["housekeeping.engine.vip"]._cron()

    @api.model
    def _cron_compute_rfm(self):
        """Score every customer (``housekeeping.engine.rfm``); returns the number of
        customers whose scores were written."""
        return self.env["housekeeping.engine.rfm"]._cron()
