import ast
import logging
from datetime import timedelta
from uuid import uuid4

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL, email_normalize, split_every
from odoo.tools.mail import generate_tracking_message_id

from .birthday import birthday_days, birthday_sql
from .bulk import bulk_insert

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

_logger = logging.getLogger(__name__)


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

    # ------------------------------------------------------------------ audience
    def _hk_trigger_sql(self, today):
        """(condition, once-only key) SQL on ``res_partner p`` for the trigger, or
        None when the journey has nothing to do today."""
        self.ensure_one()
        delay = self.delay_days
        no_open_visit = SQL(
            """NOT EXISTS (SELECT 1 FROM housekeeping_visit ov
                            WHERE ov.partner_id = p.id AND ov.state IN ('draft', 'scheduled'))"""
        )
        if self.trigger == "wake_up":
            return (
                SQL(
                    """p.visit_count > 0 AND p.last_visit_date <= %s::date AND %s
                       -- nor a portal login in the period (an active member reading
                       -- the portal is not asleep)
                       AND NOT EXISTS (
                           SELECT 1 FROM res_users u
                             JOIN res_users_log l ON l.create_uid = u.id
                            WHERE u.partner_id = p.id AND l.create_date >= %s::date)""",
                    today - timedelta(days=delay),
                    no_open_visit,
                    today - timedelta(days=delay),
                ),
                SQL("'lapse:' || p.last_visit_date::text"),
            )
        if self.trigger == "next_visit":
            due = SQL("(p.last_visit_date + round(p.visit_interval_days)::int)")
            return (
                SQL(
                    """p.visit_interval_days > 0 AND p.last_visit_date IS NOT NULL
                       AND %(today)s::date BETWEEN %(due)s - %(delay)s AND %(due)s AND %(open)s""",
                    today=today,
                    due=due,
                    delay=delay,
                    open=no_open_visit,
                ),
                SQL("'due:' || p.last_visit_date::text"),
            )
        if self.trigger == "birthday":
            # the birthdays ``delay`` days ahead, and those of the days since the
            # last completed run that the scheduler missed (a week at most)
            since = self.env.context.get("hk_journey_since", self.last_complete_date)
            days, years = birthday_days(
                since and since + timedelta(days=delay), today + timedelta(days=delay)
            )
            born, year = birthday_sql("p", days, years)
            return born, SQL("'birthday:' || %s", year)
        if self.trigger == "holiday":
            return self._hk_holiday_trigger_sql(today)
        if self.trigger == "upgrade":
            # the tier capability logs every change of tier (direction 'up'); as the
            # engine did with its e-mail, a tier without thresholds (the entry tier)
            # and a first tier given by the scheduled evaluation (a backfill) are
            # not announced
            self.env["housekeeping.tier.log"].flush_model()
            self.env["housekeeping.tier"].flush_model(["min_spend", "min_visits", "min_activity"])
            last_up = SQL(
                """(SELECT max(l.id) FROM housekeeping_tier_log l
                      JOIN housekeeping_tier t ON t.id = l.to_tier_id
                     WHERE l.partner_id = p.id AND l.direction = 'up'
                       AND (t.min_spend > 0 OR t.min_visits > 0 OR t.min_activity > 0)
                       AND (l.from_tier_id IS NOT NULL OR l.trigger != 'cron')
                       AND l.date BETWEEN %s::date AND %s::date)""",
                today - timedelta(days=delay),
                today,
            )
            return SQL("%s IS NOT NULL", last_up), SQL("'upgrade:' || %s::text", last_up)
        return None

    def _hk_current_holiday(self, today):
        """The holiday whose campaign window (N days before it starts until it ends)
        contains ``today``: the journey's own holiday, else the first active holiday
        of the journey's company (or of every company)."""
        self.ensure_one()
        domain = [
            ("date_from", "<=", today + timedelta(days=self.delay_days)),
            ("date_to", ">=", today),
        ]
        if self.holiday_id:
            domain.append(("id", "=", self.holiday_id.id))
        elif self.company_id:
            domain.append(("company_id", "in", [False, self.company_id.id]))
        return (
            self.env["housekeeping.holiday"].sudo().search(domain, order="date_from, id", limit=1)
        )

    def _hk_holiday_trigger_sql(self, today):
        if self.holiday_date and not self.holiday_id:
            if not (
                self.holiday_date - timedelta(days=self.delay_days) <= today <= self.holiday_date
            ):
                return None
            return SQL("TRUE"), SQL("%s", f"holiday:{self.holiday_date}")
        holiday = self._hk_current_holiday(today)
        if not holiday:
            return None
        company = (
            SQL("(p.company_id IS NULL OR p.company_id = %s)", holiday.company_id.id)
            if holiday.company_id
            else SQL("TRUE")
        )
        return company, SQL("%s", f"holiday:{holiday.id}")

    def _hk_reach_sql(self):
        """``(email, sms)``: SQL booleans on ``res_partner p`` saying whether the
        customer may get this journey's e-mail / SMS: the journey's channel, the
        customer's consent and address, and the address not in Odoo's blacklists
        (an active ``mail.blacklist`` row on ``email_normalized``, an active
        ``phone.blacklist`` row on ``phone_sanitized``, as mass mailing and SMS
        marketing check them). Anti-joins on the blacklists' unique indexes."""
        email = SQL(
            """(p.consent_email AND COALESCE(p.email, '') != ''
                AND NOT EXISTS (SELECT 1 FROM mail_blacklist bl
                                 WHERE bl.email = p.email_normalized AND bl.active))"""
        )
        sms = SQL(
            """(p.consent_sms AND COALESCE(p.phone, '') != ''
                AND NOT EXISTS (SELECT 1 FROM phone_blacklist pb
                                 WHERE pb.number = p.phone_sanitized AND pb.active))"""
        )
        return (
            email if self.channel in ("email", "both") else SQL("FALSE"),
            sms if self.channel in ("sms", "both") else SQL("FALSE"),
        )

    def _hk_reachable(self, partner_ids):
        """``{partner_id: channel}``: the channel (``email``, ``sms``, ``both``) by
        which each customer of ``partner_ids`` may get this journey now (consent,
        address, blacklists, see ``_hk_reach_sql``); customers who may get it by
        no channel are left out. One query."""
        self.ensure_one()
        if not partner_ids:
            return {}
        self._hk_flush()
        email, sms = self._hk_reach_sql()
        self.env.cr.execute(
            SQL(
                "SELECT p.id, %s, %s FROM res_partner p WHERE p.id = ANY(%s)",
                email,
                sms,
                list(partner_ids),
            )
        )
        return {
            pid: channel_of(email_ok, sms_ok)
            for pid, email_ok, sms_ok in self.env.cr.fetchall()
            if email_ok or sms_ok
        }

    def _hk_audience_query(self, today, limit=None, partner_ids=None, after_id=0):
        """SQL returning ``(partner_id, period_key, email_ok, sms_ok)`` of the
        customers to message today: trigger, audience domain, consent and
        blacklists (``_hk_reach_sql``: the channels each customer may get), company,
        minus those already messaged for this occasion or within the period; by
        customer id, after ``after_id``. A customer whose address is blacklisted is
        not in the audience, as one without consent: no send is logged, so the
        customer is neither counted as messaged nor retried; if the address leaves
        the blacklist while the occasion lasts, the customer gets the message."""
        self.ensure_one()
        trigger = self._hk_trigger_sql(today)
        if trigger is None:
            return None
        condition, key = trigger
        email, sms = self._hk_reach_sql()
        domain = ast.literal_eval(self.audience_domain or "[]")
        audience = self.env["res.partner"].sudo().with_context(active_test=True)._search(domain)
        company = (
            SQL("(p.company_id IS NULL OR p.company_id = %s)", self.company_id.id)
            if self.company_id
            else SQL("TRUE")
        )
        period = (
            SQL("OR s.date >= %s", today - timedelta(days=self.period_days))
            if self.period_days
            else SQL("")
        )
        return SQL(
            """
            SELECT p.id, %(key)s AS period_key, r.email_ok, r.sms_ok
              FROM res_partner p
             CROSS JOIN LATERAL (SELECT %(email)s AS email_ok, %(sms)s AS sms_ok) r
             WHERE p.active AND p.id IN %(audience)s AND %(condition)s
               AND (r.email_ok OR r.sms_ok)
               AND %(company)s AND %(scope)s AND p.id > %(after)s
               AND NOT EXISTS (
                   SELECT 1 FROM housekeeping_journey_send s
                    WHERE s.journey_id = %(journey)s AND s.partner_id = p.id
                      AND (s.period_key = %(key)s %(period)s))
             ORDER BY p.id
             %(limit)s
            """,
            key=key,
            audience=audience.subselect(),
            condition=condition,
            email=email,
            sms=sms,
            company=company,
            scope=SQL("p.id = ANY(%s)", list(partner_ids))
            if partner_ids is not None
            else SQL("TRUE"),
            after=after_id,
            journey=self.id,
            period=period,
            limit=SQL("LIMIT %s", limit) if limit else SQL(""),
        )

    def _hk_flush(self):
        self.env["res.partner"].flush_model()
        self.env["mail.blacklist"].flush_model(["email", "active"])
        self.env["phone.blacklist"].flush_model(["number", "active"])
        self.env["housekeeping.visit"].flush_model(["partner_id", "state"])
        self.env["housekeeping.journey.send"].flush_model()

    # ------------------------------------------------------------------ run
    def _hk_run(self, today, limit=None, partner_ids=None):
        """Message the audience of this journey (at most ``limit`` customers, only
        ``partner_ids`` when given); returns ``(sent_count, more)``."""
        _taken, sent, more, _last = self._hk_run_step(today, limit=limit, partner_ids=partner_ids)
        return sent, more

    def _hk_run_step(self, today, limit=None, partner_ids=None, after_id=0):
        """``_hk_run`` for the audience of customer id above ``after_id`` (a batch
        of the scheduled run); returns ``(taken, sent, more, last)``: the customers
        of the audience taken, the messages sent, whether more are left, the id of
        the last customer taken."""
        self.ensure_one()
        self._hk_flush()
        query = self._hk_audience_query(
            today, limit=limit and limit + 1, partner_ids=partner_ids, after_id=after_id
        )
        if query is None:
            return 0, 0, False, after_id
        self.env.cr.execute(query)
        rows = self.env.cr.fetchall()
        more = bool(limit) and len(rows) > limit
        rows = rows[:limit] if limit else rows
        sends = self._hk_send(rows)
        self.last_run_date = today
        return len(rows), len(sends), more, rows[-1][0] if rows else after_id

    def _hk_send(self, rows):
        """Create the send log rows (the unique index makes a retry or a concurrent
        run skip customers already messaged), queue the e-mails and SMS, issue the
        offers. ``rows`` are ``(partner_id, period_key, email_ok, sms_ok)`` (the
        channels the customer may get, from the audience query)."""
        self.ensure_one()
        if not rows:
            return self.env["housekeeping.journey.send"]
        channels = {pid: channel_of(email_ok, sms_ok) for pid, _key, email_ok, sms_ok in rows}
        now = fields.Datetime.now()
        sends = bulk_insert(
            self.env["housekeeping.journey.send"],
            [
                {
                    "journey_id": self.id,
                    "partner_id": pid,
                    "period_key": key,
                    "channel": channels[pid],
                    "date": now,
                    "converted": False,
                    "state": "queued",
                    "attempts": 0,
                    "company_id": self.company_id.id or None,
                }
                for pid, key, _email_ok, _sms_ok in rows
            ],
            on_conflict_do_nothing=True,
        )
        if not sends:
            return sends
        queued = self._hk_deliver(sends)
        self._hk_issue_offers(queued)
        return sends

    def _hk_deliver(self, sends):
        """Queue the e-mails and SMS of ``sends`` (one INSERT each for the batch).
        When preparing them fails (a template that does not render for some
        customer, a refused number…), the batch is retried customer by customer:
        the ones that fail are marked *to retry* (a later run tries again, up to
        the company's number of attempts) and the others are queued. Returns the
        sends queued."""
        try:
            with self.env.cr.savepoint():
                self._hk_queue_messages(sends)
            return sends
        except psycopg2.OperationalError:
            raise  # a concurrent update: the whole transaction is retried
        except Exception as error:  # noqa: BLE001 # pylint: disable=broad-exception-caught
            if len(sends) == 1:
                self._hk_mark_failed(sends, error)
                return sends.browse()
        queued = sends.browse()
        for send in sends:
            try:
                with self.env.cr.savepoint():
                    self._hk_queue_messages(send)
                queued |= send
            except psycopg2.OperationalError:
                raise
            except Exception as error:  # noqa: BLE001 # pylint: disable=broad-exception-caught
                self._hk_mark_failed(send, error)
        return queued

    def _hk_mark_failed(self, sends, error):
        _logger.warning("Journey %s: message to %s not queued: %s", self.id, sends.ids, error)
        attempts = self._hk_max_attempts()
        # the send log is written by the engine only (staff read it)
        for send in sends.sudo():
            send.write(
                {
                    "state": "failed" if send.attempts + 1 >= attempts else "retry",
                    "attempts": send.attempts + 1,
                    "failure_reason": str(error)[:500],
                }
            )

    def _hk_max_attempts(self):
        return max(
            int(
                self.env["ir.config_parameter"]
                .sudo()
                .get_param("housekeeping_membership.journey_max_attempts", 3)
            ),
            1,
        )

    def _hk_queue_messages(self, sends):
        """Queue the e-mail and/or SMS of each send and link them to it."""
        sends.fetch(["partner_id", "channel", "period_key"])
        by_channel = sends.grouped("channel")
        email_sends = by_channel.get("email", sends.browse()) | by_channel.get(
            "both", sends.browse()
        )
        sms_sends = by_channel.get("sms", sends.browse()) | by_channel.get("both", sends.browse())
        mail_of, sms_of = {}, {}
        if email_sends and self.mail_template_id:
            mails = self._hk_queue_emails(email_sends.partner_id)
            mail_of = dict(zip(email_sends.partner_id.ids, mails.ids, strict=True))
        if sms_sends and self.sms_template_id:
            sms = self._hk_queue_sms(sms_sends.partner_id)
            sms_of = dict(zip(sms_sends.partner_id.ids, sms.ids, strict=True))
        self.env["housekeeping.journey.send"].flush_model()
        self.env.cr.execute(
            SQL(
                """
            UPDATE housekeeping_journey_send s
               SET state = 'queued', failure_reason = NULL,
                   mail_id = COALESCE(c.mail, s.mail_id), sms_id = COALESCE(c.sms, s.sms_id)
              FROM unnest(%s::int[], %s::int[], %s::int[]) AS c(id, mail, sms)
             WHERE s.id = c.id
            """,
                sends.ids,
                [mail_of.get(send.partner_id.id) for send in sends],
                [sms_of.get(send.partner_id.id) for send in sends],
            )
        )
        sends.invalidate_recordset(["state", "failure_reason", "mail_id", "sms_id"])

    def _hk_retry_failed(self):
        """Follow up the messages of the journey still on their way:

        - an e-mail or SMS that the mail server or SMS provider refused is put back
          in its queue (the same ``mail.mail`` / ``sms.sms``: never a second copy),
          until the number of attempts is reached (then the send is *failed*);
        - a message that could not be prepared (*to retry*) is prepared again;
        - a message delivered (the queue row sent, or deleted after sending) is
          marked *sent*;
        - customers archived, who withdrew consent or whose address was
          blacklisted meanwhile are *cancelled*; when only one channel of an
          e-mail-and-SMS message is no longer allowed, that channel's message is
          cancelled and the send goes on with the other.
        """
        self.ensure_one()
        # the engine reads the mail and SMS queues (system rights)
        send_model = self.env["housekeeping.journey.send"].sudo()
        open_sends = send_model.search(
            [("journey_id", "=", self.id), ("state", "in", OPEN_SEND_STATES)]
        )
        if not open_sends:
            return
        open_sends.fetch(["partner_id", "mail_id", "sms_id", "state", "attempts", "channel"])
        open_sends.mail_id.fetch(["state", "failure_reason"])
        open_sends.sms_id.fetch(["state", "failure_type"])
        reachable = self._hk_reachable(open_sends.partner_id.ids)

        def allowed(send):
            """The channel of ``send`` still allowed (None: none)."""
            channel = reachable.get(send.partner_id.id)
            return channel_of(
                channel in ("email", "both") and send.channel in ("email", "both"),
                channel in ("sms", "both") and send.channel in ("sms", "both"),
            )

        gone = open_sends.filtered(lambda s: not s.partner_id.active or not allowed(s))
        if gone:
            gone._hk_cancel()
        open_sends -= gone
        for send in open_sends.filtered(lambda s: allowed(s) != s.channel):
            channel = allowed(send)
            if send.state == "retry":
                # not prepared yet: it will be, by the allowed channel only
                send.channel = channel
            elif channel == "sms":
                send.mail_id.filtered(lambda m: m.state in ("outgoing", "exception")).cancel()
            else:
                send.sms_id.filtered(
                    lambda s: s.state in ("outgoing", "error")
                ).action_set_canceled()
        max_attempts = self._hk_max_attempts()
        to_prepare = open_sends.filtered(lambda s: s.state == "retry")
        delivered = send_model
        for send in open_sends - to_prepare:
            mail, sms = send.mail_id, send.sms_id
            failed_mail = mail if mail.state == "exception" else mail.browse()
            failed_sms = sms if sms.state == "error" else sms.browse()
            if failed_mail or failed_sms:
                reason = failed_mail.failure_reason or failed_sms.failure_type or ""
                if send.attempts + 1 >= max_attempts:
                    send.write(
                        {"state": "failed", "attempts": send.attempts + 1, "failure_reason": reason}
                    )
                    failed_mail.cancel()
                    failed_sms.action_set_canceled()
                    continue
                send.write({"attempts": send.attempts + 1, "failure_reason": reason})
                failed_mail.mark_outgoing()
                failed_sms.action_set_outgoing()
            elif mail.state not in ("outgoing",) and sms.state not in ("outgoing", "process"):
                delivered |= send
        delivered.write({"state": "sent"})
        if to_prepare:
            self._hk_issue_offers(self._hk_deliver(to_prepare))

    def _hk_queue_emails(self, partners):
        """Render the template for all customers at once and queue the e-mails
        (mail.mail, outgoing) with a message in each customer's chatter: one INSERT
        each, whatever the number of customers. The mail queue cron sends them."""
        template = self.mail_template_id.sudo().with_context(hk_journey_id=self.id)
        ids = partners.ids
        subjects = template._render_field("subject", ids, compute_lang=True)
        bodies = template._render_field(
            "body_html", ids, compute_lang=True, options={"post_process": True}
        )
        senders = template._render_field("email_from", ids) if template.email_from else {}
        default_from = self.env.company.email_formatted or self.env.user.email_formatted
        author = self.env.user.partner_id.id
        now = fields.Datetime.now()
        messages, mails = [], []
        for partner in partners:
            message_id = generate_tracking_message_id(f"{partner.id}-res.partner")
            messages.append(
                {
                    "model": "res.partner",
                    "res_id": partner.id,
                    "message_type": "email_outgoing",
                    "subtype_id": self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note"),
                    "author_id": author,
                    "email_from": senders.get(partner.id) or default_from,
                    "subject": subjects.get(partner.id),
                    "body": bodies.get(partner.id),
                    "message_id": message_id,
                    "date": now,
                }
            )
        messages = bulk_insert(self.env["mail.message"], messages)
        for partner, message in zip(partners, messages, strict=True):
            url = partner._hk_unsubscribe_url()
            mails.append(
                {
                    "mail_message_id": message.id,
                    "body_html": bodies.get(partner.id),
                    "email_to": partner.email_formatted
                    or email_normalize(partner.email or "")
                    or partner.email,
                    "state": "outgoing",
                    "auto_delete": True,
                    "is_notification": False,
                    "headers": repr(
                        {
                            "List-Unsubscribe": f"<{url}>",
                            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                        }
                    ),
                }
            )
        return bulk_insert(self.env["mail.mail"].sudo(), mails)

    def _hk_queue_sms(self, partners):
        """Render the SMS for all customers and queue them (sms.sms, outgoing; the
        SMS queue cron sends them). One INSERT."""
        template = self.sms_template_id.sudo().with_context(hk_journey_id=self.id)
        bodies = template._render_field("body", partners.ids, compute_lang=True)
        return bulk_insert(
            self.env["sms.sms"].sudo(),
            [
                {
                    "uuid": uuid4().hex,
                    "partner_id": partner.id,
                    "number": partner.phone,
                    "body": bodies.get(partner.id),
                    "state": "outgoing",
                    "to_delete": False,
                }
                for partner in partners
            ],
        )

    def _hk_offer_of(self, partner):
        """The offer for ``partner``: the line of the customer's tier, else the
        journey's own offer (a record with ``offer_type``, ``bonus_points`` and
        ``loyalty_program_id``)."""
        self.ensure_one()
        tier = partner.membership_tier_id
        line = tier and self.offer_ids.filtered(lambda o: o.tier_id == tier)[:1]
        return line or self

    def _hk_issue_offers(self, sends):
        if self.trigger == "birthday":
            self._hk_issue_tier_birthday_coupons(sends)
        if not self.offer_ids:
            self._hk_issue_offer(self, sends)
            return
        for offer, offer_sends in sends.grouped(lambda s: self._hk_offer_of(s.partner_id)).items():
            self._hk_issue_offer(offer, offer_sends)

    def _hk_issue_offer(self, offer, sends):
        """Give ``offer`` (the journey or one of its tier lines) to the customers of
        ``sends``: bonus points once per occasion, or one coupon each."""
        if offer.offer_type == "points" and offer.bonus_points:
            reason = self.env._("Journey: %(journey)s", journey=self.name)
            for key, key_sends in sends.grouped("period_key").items():
                key_sends.partner_id._hk_grant_points(
                    offer.bonus_points, reason, origin=f"journey:{self.id}:{key}"
                )
        elif offer.offer_type == "coupon" and offer.loyalty_program_id:
            # coupons are native loyalty cards (their rights are sales rights)
            for chunk in split_every(1000, sends.ids, sends.browse):
                cards = (
                    self.env["loyalty.card"]
                    .sudo()
                    .create(
                        [
                            {
                                "program_id": offer.loyalty_program_id.id,
                                "partner_id": send.partner_id.id,
                                "points": 1,
                            }
                            for send in chunk
                        ]
                    )
                )
                self.env.cr.execute(
                    """UPDATE housekeeping_journey_send s SET offer_card_id = c.card
                         FROM unnest(%s::int[], %s::int[]) AS c(id, card) WHERE s.id = c.id""",
                    [chunk.ids, cards.ids],
                )
            sends.invalidate_recordset(["offer_card_id"])

    def _hk_issue_tier_birthday_coupons(self, sends):
        """A birthday greeting carries the birthday coupon of the customer's tier
        (``birthday_program_id``)."""
        todo = sends.filtered(
            lambda s: not s.offer_card_id and s.partner_id.membership_tier_id.birthday_program_id
        )
        if not todo:
            return
        cards = (
            self.env["loyalty.card"]
            .sudo()
            .create(
                [
                    {
                        "program_id": send.partner_id.membership_tier_id.birthday_program_id.id,
                        "partner_id": send.partner_id.id,
                        "points": 1,
                    }
                    for send in todo
                ]
            )
        )
        # the send log is written by the engine only (staff read it)
        for send, card in zip(todo.sudo(), cards, strict=True):
            send.offer_card_id = card

    @api.model
    def _cron_run_journeys(self):
        """Daily: run every active journey (birthday journeys run with the birthday
        cron). Batches of ``housekeeping_membership.journey_batch_size`` customers
        commit in the cron; the send log's once-only key makes reruns send nothing."""
        today = fields.Date.context_today(self)
        return self.search([("trigger", "!=", "birthday")])._hk_run_batches(today)

    def _hk_run_batches(self, today, batch=None, engine="journeys"):
        """Run the journeys of ``self`` batch by batch, each journey a stage of one
        pass (``res.partner._hk_run_batches``, the position of ``engine``): in the
        cron each batch commits with the position, and when time runs out the next
        call continues the journey under way after its last customer, then the
        journeys after it. ``batch``: the batch size when
        ``housekeeping_membership.journey_batch_size`` is not set. Returns the
        messages sent."""

        def stage(journey):
            def step(limit, after):
                if not after:
                    # the messages of earlier runs first: delivered, refused, to
                    # prepare again
                    journey._hk_retry_failed()
                # the whole pass reads the audience of the days since the last
                # complete one (recorded when the pass ends)
                return journey.with_context(
                    hk_journey_since=journey.last_complete_date
                )._hk_run_step(today, limit=limit, after_id=after)

            return step

        def finish(_sent, started):
            # the day the pass started: the customers it had walked before a later
            # day (a pass spanning midnight) are read again by the next pass
            for journey in self:
                if not journey.last_complete_date or journey.last_complete_date < started:
                    journey.last_complete_date = started

        return self.env["res.partner"]._hk_run_batches(
            engine,
            "journey_batch_size",
            [(f"journey:{journey.id}", stage(journey)) for journey in self],
            default=batch or 5000,
            on_finish=finish,
        )

    def action_run_now(self):
        """Run the journey at once (same rules as the daily run)."""
        today = fields.Date.context_today(self)
        sent = self._hk_run_batches(today)
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
