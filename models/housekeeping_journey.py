import ast

from odoo import api, fields, models
from odoo.exceptions import ValidationError

TRIGGERS = [
    ("wake_up", "Wake-up (no visit for a while)"),
    ("birthday", "Birthday"),
    ("upgrade", "Tier Upgrade"),
    ("next_visit", "Next Visit Nudge"),
    ("holiday", "Holiday"),
]
CHANNELS = [("email", "E-mail"), ("sms", "SMS"), ("both", "E-mail and SMS")]
OFFER_TYPES = [("none", "No Offer"), ("coupon", "Coupon"), ("points", "Bonus Points")]
SEND_STATES = [
    ("queued", "Queued"),
    ("sent", "Sent"),
    ("retry", "To Retry"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]
# a message still on its way: its e-mail / SMS may be cancelled, or retried
OPEN_SEND_STATES = ("queued", "retry")


class HousekeepingJourney(models.Model):
    """An automated customer journey: who (trigger + audience), what (e-mail and/or
    SMS template, optional offer) and how often (once per occasion, and at most once
    per period)."""

    _name = "housekeeping.journey"
    _description = "Customer Journey"
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    trigger = fields.Selection(TRIGGERS, required=True, default="wake_up")
    audience_domain = fields.Char(
        string="Audience",
        default="[]",
        help="Extra conditions on the customers (Odoo domain on contacts). Customers "
        "without consent for the journey's channel are always left out.",
    )
    delay_days = fields.Integer(
        string="Days",
        default=0,
        help="Wake-up: days without a done visit. Next visit: days before the visit is due. "
        "Birthday, holiday: days before the date. Upgrade: days after the upgrade (window).",
    )
    period_days = fields.Integer(
        string="At Most Every (days)",
        default=0,
        help="A customer receives this journey at most once in this many days (0: once per "
        "occasion only: per lapse, per due visit, per year, per holiday, per upgrade).",
    )
    # the prediction (models/engines/prediction.py): whom to message first
    order_by_value = fields.Boolean(
        string="Highest Predicted Value First",
        help="When the daily send cap leaves customers out, the customers with the highest "
        "predicted value of the next 12 months are messaged (customers without a "
        "prediction last); otherwise the oldest customers are.",
    )
    min_probability_alive = fields.Integer(
        string="Minimum Probability Still a Customer (%)",
        default=0,
        help="Only customers at least this likely to still be customers (the nightly "
        "prediction); 0: no minimum. With a minimum, customers without a prediction are "
        "left out.",
    )
    min_predicted_value = fields.Float(
        string="Minimum Predicted Value (12 Months)",
        default=0.0,
        digits=(16, 2),
        help="Only customers whose predicted value of the next 12 months (in their "
        "company's currency) reaches this amount; 0: no minimum. With a minimum, customers "
        "without a prediction are left out.",
    )
    max_per_day = fields.Integer(
        string="Daily Send Cap",
        default=0,
        help="At most this many customers messaged by this journey per day (0: no cap). "
        "Combined with Highest Predicted Value First, the most valuable customers are "
        "messaged first.",
    )
    holiday_id = fields.Many2one(
        "housekeeping.holiday",
        ondelete="restrict",
        help="Holiday journeys: the holiday (date range) of the campaign. Leave empty to run "
        "the campaign for every holiday of the company: from N days before it starts until "
        "it ends, once per holiday.",
    )
    holiday_date = fields.Date(
        help="Holiday journeys without a holiday: a single day (the campaign runs from N "
        "days before it)."
    )
    offer_ids = fields.One2many(
        "housekeeping.journey.offer",
        "journey_id",
        string="Offers per Tier",
        help="A member whose tier has a line here gets that offer instead of the journey's.",
    )
    channel = fields.Selection(CHANNELS, required=True, default="email")
    mail_template_id = fields.Many2one(
        "mail.template",
        string="E-mail Template",
        domain="[('model', '=', 'res.partner')]",
        ondelete="restrict",
    )
    sms_template_id = fields.Many2one(
        "sms.template",
        string="SMS Template",
        domain="[('model', '=', 'res.partner')]",
        ondelete="restrict",
    )
    offer_type = fields.Selection(
        OFFER_TYPES,
        default="none",
        required=True,
    )
    loyalty_program_id = fields.Many2one(
        "loyalty.program", string="Coupon Program", ondelete="restrict"
    )
    bonus_points = fields.Integer()
    company_id = fields.Many2one("res.company", index=True)
    send_ids = fields.One2many("housekeeping.journey.send", "journey_id", string="Messages")
    sent_count = fields.Integer(string="Sent", compute="_compute_stats")
    converted_count = fields.Integer(string="Converted", compute="_compute_stats")
    conversion_rate = fields.Float(
        string="Conversion (%)", compute="_compute_stats", digits=(16, 1)
    )
    last_run_date = fields.Date(readonly=True, copy=False)
    last_complete_date = fields.Date(
        readonly=True,
        copy=False,
        help="Day of the last run that went through the whole audience: a birthday "
        "journey catches up the days after it that the scheduler missed.",
    )

    _bonus_points_positive = models.Constraint(
        "CHECK(bonus_points >= 0)", "Bonus points cannot be negative."
    )
    _days_positive = models.Constraint(
        "CHECK(delay_days >= 0 AND period_days >= 0)", "Days cannot be negative."
    )
    _prediction_filters_valid = models.Constraint(
        "CHECK(min_probability_alive BETWEEN 0 AND 100 AND min_predicted_value >= 0 "
        "AND max_per_day >= 0)",
        "The minimum probability is a percentage (0 to 100); the minimum predicted value "
        "and the daily send cap cannot be negative.",
    )

    def _compute_stats(self):
        groups = self.env["housekeeping.journey.send"]._read_group(
            [("journey_id", "in", self.ids)], ["journey_id", "converted"], ["__count"]
        )
        sent, converted = {}, {}
        for journey, is_converted, count in groups:
            sent[journey.id] = sent.get(journey.id, 0) + count
            if is_converted:
                converted[journey.id] = converted.get(journey.id, 0) + count
        for journey in self:
            journey.sent_count = sent.get(journey.id, 0)
            journey.converted_count = converted.get(journey.id, 0)
            journey.conversion_rate = (
                100.0 * journey.converted_count / journey.sent_count if journey.sent_count else 0.0
            )

    @api.constrains("min_probability_alive", "min_predicted_value", "max_per_day")
    def _check_prediction_filters(self):
        for journey in self:
            if not 0 <= journey.min_probability_alive <= 100:
                raise ValidationError(
                    self.env._(
                        "The minimum probability of %(journey)s is a percentage, from 0 to 100.",
                        journey=journey.name,
                    )
                )
            if journey.min_predicted_value < 0 or journey.max_per_day < 0:
                raise ValidationError(
                    self.env._(
                        "The minimum predicted value and the daily send cap of %(journey)s "
                        "cannot be negative.",
                        journey=journey.name,
                    )
                )

    @api.constrains("audience_domain")
    def _check_audience_domain(self):
        for journey in self:
            try:
                domain = ast.literal_eval(journey.audience_domain or "[]")
                self.env["res.partner"]._search(domain)
            except Exception as error:
                raise ValidationError(
                    self.env._(
                        "The audience of %(journey)s is not a valid domain: %(error)s",
                        journey=journey.name,
                        error=error,
                    )
                ) from error

    @api.constrains("channel", "mail_template_id", "sms_template_id", "offer_type")
    def _check_content(self):
        for journey in self:
            if journey.channel in ("email", "both") and not journey.mail_template_id:
                raise ValidationError(
                    self.env._("%(journey)s needs an e-mail template.", journey=journey.name)
                )
            if journey.channel in ("sms", "both") and not journey.sms_template_id:
                raise ValidationError(
                    self.env._("%(journey)s needs an SMS template.", journey=journey.name)
                )
            if journey.offer_type == "coupon" and not journey.loyalty_program_id:
                raise ValidationError(
                    self.env._("%(journey)s needs a coupon program.", journey=journey.name)
                )

    # ------------------------------------------------------------------ offers
    def _hk_offer_of(self, partner):
        """The offer for ``partner``: the line of the customer's tier, else the
        journey's own offer (a record with ``offer_type``, ``bonus_points`` and
        ``loyalty_program_id``)."""
        self.ensure_one()
        tier = partner.membership_tier_id
        line = tier and self.offer_ids.filtered(lambda o: o.tier_id == tier)[:1]
        return line or self

    # ------------------------------------------------------------------ run
    @api.model
    def _cron_run_journeys(self):
        """The daily run of the journeys (``housekeeping.engine.journey``): the
        scheduled action calls this name."""
        return self.env["housekeeping.engine.journey"]._cron()

    def action_run_now(self):
        """Run the journey at once (same rules as the daily run)."""
        today = fields.Date.context_today(self)
        sent = self.env["housekeeping.engine.journey"]._run_journeys(self, today)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": self.env._("%(count)s customers messaged.", count=sent),
                "type": "success",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_view_sends(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "housekeeping_membership.housekeeping_journey_send_action"
        )
        action["domain"] = [("journey_id", "=", self.id)]
        return action


class HousekeepingJourneyOffer(models.Model):
    """The offer of a journey for the members of one tier (e.g. a holiday campaign
    giving 50 points to Silver members and a free deep cleaning to Black ones)."""

    _name = "housekeeping.journey.offer"
    _description = "Journey Offer per Tier"
    _order = "journey_id, tier_id"

    journey_id = fields.Many2one(
        "housekeeping.journey", required=True, index=True, ondelete="cascade"
    )
    tier_id = fields.Many2one("housekeeping.tier", required=True, ondelete="cascade")
    offer_type = fields.Selection(
        OFFER_TYPES,
        default="points",
        required=True,
    )
    loyalty_program_id = fields.Many2one(
        "loyalty.program", string="Coupon Program", ondelete="restrict"
    )
    bonus_points = fields.Integer()

    _tier_unique = models.Constraint(
        "UNIQUE(journey_id, tier_id)", "A journey has one offer per tier."
    )
    _bonus_points_positive = models.Constraint(
        "CHECK(bonus_points >= 0)", "Bonus points cannot be negative."
    )

    @api.constrains("offer_type", "loyalty_program_id")
    def _check_program(self):
        for offer in self:
            if offer.offer_type == "coupon" and not offer.loyalty_program_id:
                raise ValidationError(
                    self.env._(
                        "The %(tier)s offer of %(journey)s needs a coupon program.",
                        tier=offer.tier_id.name,
                        journey=offer.journey_id.name,
                    )
                )


class HousekeepingJourneySend(models.Model):
    """One journey message to one customer (the once-only log)."""

    _name = "housekeeping.journey.send"
    _description = "Journey Message"
    _order = "date desc, id desc"

    journey_id = fields.Many2one(
        "housekeeping.journey", required=True, index=True, ondelete="cascade"
    )
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, ondelete="cascade"
    )
    channel = fields.Selection(CHANNELS, required=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now, index=True)
    period_key = fields.Char(
        required=True, help="The occasion (lapse, due visit, year, holiday, upgrade) messaged."
    )
    offer_card_id = fields.Many2one("loyalty.card", string="Offer Coupon", ondelete="set null")
    converted = fields.Boolean(
        help="The customer completed a visit within the conversion window after the message."
    )
    converted_visit_id = fields.Many2one(
        "housekeeping.visit", string="Converting Visit", ondelete="set null"
    )
    company_id = fields.Many2one("res.company", index=True)
    state = fields.Selection(
        SEND_STATES,
        default="queued",
        required=True,
        index=True,
        help="Queued: the e-mail / SMS waits in Odoo's queue. To retry: it could not be "
        "prepared, a later run tries again. Failed: given up after the configured number "
        "of attempts. Cancelled: the customer was archived, withdrew consent or was "
        "blacklisted first.",
    )
    attempts = fields.Integer(help="Failed attempts to deliver the message.")
    failure_reason = fields.Char(readonly=True)
    mail_id = fields.Many2one(
        "mail.mail", string="E-mail", ondelete="set null", index="btree_not_null"
    )
    sms_id = fields.Many2one("sms.sms", string="SMS", ondelete="set null", index="btree_not_null")

    # A constraint (not a bare unique index) so that Odoo's partner merge sees it
    # and moves the log rows inside a savepoint.
    _once_per_occasion = models.Constraint(
        "UNIQUE(journey_id, partner_id, period_key)",
        "A customer receives a journey once per occasion.",
    )

    def _hk_cancel(self):
        """Cancel the messages of these sends not sent yet (e-mail and SMS in the
        queue or refused); a message already sent stays sent."""
        sends = self.sudo()
        sends.fetch(["mail_id", "sms_id", "state"])
        sends.mail_id.filtered(lambda m: m.state in ("outgoing", "exception")).cancel()
        sends.sms_id.filtered(lambda s: s.state in ("outgoing", "error")).action_set_canceled()
        sends.filtered(lambda s: s.state in OPEN_SEND_STATES).write({"state": "cancelled"})


def channel_of(email, sms):
    """The channel of a message sent by e-mail (``email`` true) and/or SMS
    (``sms`` true): ``email``, ``sms``, ``both``, or None for neither."""
    return "both" if email and sms else "email" if email else "sms" if sms else None


def offer_description(offer):
    """What ``offer`` (a journey or one of its tier lines) gives, as a short phrase
    in the language of ``offer``'s environment ("" for no offer)."""
    if offer.offer_type == "points" and offer.bonus_points:
        return offer.env._("%(points)s bonus points", points=offer.bonus_points)
    if offer.offer_type == "coupon" and offer.loyalty_program_id:
        return offer.env._("a coupon: %(program)s", program=offer.loyalty_program_id.sudo().name)
    return ""
