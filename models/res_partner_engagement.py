from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import consteq
from odoo.tools.misc import hmac

from .housekeeping_journey import OPEN_SEND_STATES, offer_description

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


class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited  # until the engines move to models/engines (architecture issue)

    # ------------------------------------------------------------------ consent (PIPL)
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

    # ------------------------------------------------------------------ VIP
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

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if ("consent_email" in vals or "consent_sms" in vals) and "consent_date" not in vals:
                vals["consent_date"] = fields.Datetime.now()
        return super().create(vals_list)

    def write(self, vals):
        """The consent date follows actual changes of consent (a form saving the
        same answers again keeps the date of the decision)."""
        changed = self.browse()
        if "consent_date" not in vals:
            consents = [name for name in ("consent_email", "consent_sms") if name in vals]
            if consents:
                changed = self.filtered(
                    lambda p: any(bool(vals[name]) != p[name] for name in consents)
                )
        result = super().write(vals)
        if changed:
            super(ResPartner, changed).write({"consent_date": fields.Datetime.now()})
        if "active" in vals and not vals["active"]:
            self._hk_cancel_journey_messages()
        return result

    def _hk_cancel_journey_messages(self):
        """Archived customers get no journey message: the ones still queued or to
        retry are cancelled (the audience of the journeys leaves them out)."""
        sends = (
            self.env["housekeeping.journey.send"]
            .sudo()
            .search([("partner_id", "in", self.ids), ("state", "in", OPEN_SEND_STATES)])
        )
        sends._hk_cancel()

    # ------------------------------------------------------------------ unsubscribe
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

    # ------------------------------------------------------------------ visit pipeline
    def _hk_engagement_visits_done(self, visits):
        """Step of the visit pipeline (``housekeeping.visit._hk_pipeline_done``)."""
        visits._hk_send_rating_requests()
        self._hk_mark_conversions(visits)

    # ------------------------------------------------------------------ VIP engine
    @api.model
    def _hk_vip_evaluate(self, partner_ids=None, limit=None, after_id=0):
        """Tag / untag VIP customers (the VIP engine, ``housekeeping.engine.vip``;
        the visit pipeline calls it for a rated visit's customer); returns
        ``(changed_count, more)``."""
        return self.env["housekeeping.engine.vip"]._vip_evaluate(
            partner_ids, limit=limit, after_id=after_id
        )

    @api.model
    def _cron_evaluate_vip(self):
        """Tag and untag VIP customers, then plan the VIP callbacks (the VIP
        engine, ``housekeeping.engine.vip``); returns the customers tagged or
        untagged."""
        return self.env["housekeeping.engine.vip"]._cron()

    # ------------------------------------------------------------------ conversion
    def _hk_mark_conversions(self, visits):
        """A done visit converts the journey messages sent to its customer within the
        company's conversion window before it."""
        visits = visits.filtered(lambda v: v.state == "done" and v.date)
        if not visits:
            return
        send_model = self.env["housekeeping.journey.send"].sudo()
        sends = send_model.search(
            [
                ("partner_id", "in", visits.partner_id.ids),
                ("converted", "=", False),
                ("date", "<=", max(visits.mapped("date"))),
            ]
        )
        ordered = visits.sorted("date")
        converted = {}  # visit id: the sends it converts (one write per visit)
        for send in sends:
            window = timedelta(days=(send.partner_id._hk_company()).hk_conversion_days)
            visit = next(
                (
                    v
                    for v in ordered
                    if v.partner_id == send.partner_id and send.date <= v.date <= send.date + window
                ),
                None,
            )
            if visit:
                converted[visit.id] = converted.get(visit.id, send_model) | send
        for visit_id, converted_sends in converted.items():
            converted_sends.write({"converted": True, "converted_visit_id": visit_id})
