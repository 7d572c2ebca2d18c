"""The journeys engine: who gets each automated journey's message today, and the
messages themselves (e-mail and SMS through Odoo's queues, offers)."""

import ast
import logging
from datetime import datetime, time, timedelta
from uuid import uuid4

import psycopg2
import pytz

from odoo import api, fields, models
from odoo.tools import SQL, email_normalize, split_every
from odoo.tools.mail import generate_tracking_message_id

from ..birthday import birthday_days, birthday_sql
from ..bulk import bulk_insert
from ..housekeeping_journey import OPEN_SEND_STATES, channel_of

_logger = logging.getLogger(__name__)


class HousekeepingEngineJourney(models.AbstractModel):
    """Runs the active journeys (``housekeeping.journey``: trigger, audience,
    templates, offer): each journey is a stage of one pass over the customers,
    batch by batch. For a batch: the audience (``_audience_query``: the trigger's
    condition, consent, Odoo's blacklists, the once-only key), the send log, the
    e-mails and SMS, the offers (``_send``). Messages refused on the way are
    followed up by the next run (``_retry_failed``)."""

    _name = "housekeeping.engine.journey"
    _inherit = "housekeeping.engine"
    _description = "Journeys Engine"

    _engine_key = "journeys"
    _engine_batch_param = "journey_batch_size"

    @api.model
    def _run(self):
        """Daily: every active journey but the birthday ones (run by the birthday
        engine)."""
        journeys = self.env["housekeeping.journey"].search([("trigger", "!=", "birthday")])
        return self._run_journeys(journeys, fields.Date.context_today(self))

    @api.model
    def _run_journeys(self, journeys, today, batch=None, engine=None):
        """Run ``journeys`` batch by batch, each journey a stage of one pass (the
        position of ``engine``, this engine's by default): in the cron each batch
        commits with the position, and when time runs out the next call continues
        the journey under way after its last customer, then the journeys after it.
        ``batch``: the batch size when ``housekeeping_membership.journey_batch_size``
        is not set. Returns the messages sent."""

        def stage(journey):
            def step(limit, after):
                if not after:
                    # the messages of earlier runs first: delivered, refused, to
                    # prepare again
                    self._retry_failed(journey)
                # the whole pass reads the audience of the days since the last
                # complete one (recorded when the pass ends)
                return self.with_context(hk_journey_since=journey.last_complete_date)._step(
                    journey, today, limit=limit, after_id=after
                )

            return step

        def finish(_sent, started):
            # the day the pass started: the customers it had walked before a later
            # day (a pass spanning midnight) are read again by the next pass
            for journey in journeys:
                if not journey.last_complete_date or journey.last_complete_date < started:
                    journey.last_complete_date = started

        return self._batches(
            engine or self._engine_key,
            self._engine_batch_param,
            [(f"journey:{journey.id}", stage(journey)) for journey in journeys],
            default=batch or 5000,
            on_finish=finish,
        )

    # ------------------------------------------------------------------ audience
    @api.model
    def _trigger_sql(self, journey, today):
        """(condition, once-only key) SQL on ``res_partner p`` for the trigger, or
        None when the journey has nothing to do today."""
        journey.ensure_one()
        delay = journey.delay_days
        no_open_visit = SQL(
            """NOT EXISTS (SELECT 1 FROM housekeeping_visit ov
                            WHERE ov.partner_id = p.id AND ov.state IN ('draft', 'scheduled'))"""
        )
        if journey.trigger == "wake_up":
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
        if journey.trigger == "next_visit":
            due = SQL("(p.last_visit_date + round(p.visit_interval_days)::int)")
            visit_due = SQL(
                """p.visit_interval_days > 0 AND p.last_visit_date IS NOT NULL
                   AND %(today)s::date BETWEEN %(due)s - %(delay)s AND %(due)s AND %(open)s""",
                today=today,
                due=due,
                delay=delay,
                open=no_open_visit,
            )
            # a visit package (次卡) nearly used up (one visit left) or ending within
            # the journey's days: the nudge offers its renewal, once per package
            renewal = SQL(
                """(SELECT min(k.id) FROM housekeeping_package k
                     WHERE k.partner_id = p.id AND k.state = 'active' AND k.visits_left > 0
                       AND k.date_end >= %(today)s::date
                       AND (k.visits_left <= 1 OR k.date_end <= %(today)s::date + %(delay)s))""",
                today=today,
                delay=delay,
            )
            self.env["housekeeping.package"].flush_model()
            return (
                SQL("((%s) OR %s IS NOT NULL)", visit_due, renewal),
                SQL(
                    "CASE WHEN %s THEN 'due:' || p.last_visit_date::text "
                    "ELSE 'package:' || %s::text END",
                    visit_due,
                    renewal,
                ),
            )
        if journey.trigger == "birthday":
            # the birthdays ``delay`` days ahead, and those of the days since the
            # last completed run that the scheduler missed (a week at most)
            since = self.env.context.get("hk_journey_since", journey.last_complete_date)
            days, years = birthday_days(
                since and since + timedelta(days=delay), today + timedelta(days=delay)
            )
            born, year = birthday_sql("p", days, years)
            return born, SQL("'birthday:' || %s", year)
        if journey.trigger == "holiday":
            return self._holiday_trigger_sql(journey, today)
        if journey.trigger == "upgrade":
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
            # the occasion is the first upgrade to that tier by the same visit: a visit
            # cancelled (the upgrade withdrawn) then completed again upgrades anew,
            # but the customer was already welcomed to the tier
            first_up = SQL(
                """COALESCE((SELECT min(f.id) FROM housekeeping_tier_log u
                               JOIN housekeeping_tier_log f
                                 ON f.partner_id = u.partner_id AND f.to_tier_id = u.to_tier_id
                                AND f.visit_id = u.visit_id AND f.direction = 'up'
                              WHERE u.id = %s), %s)""",
                last_up,
                last_up,
            )
            return SQL("%s IS NOT NULL", last_up), SQL("'upgrade:' || %s::text", first_up)
        return None

    @api.model
    def _current_holiday(self, journey, today):
        """The holiday whose campaign window (N days before it starts until it ends)
        contains ``today``: the journey's own holiday, else the first active holiday
        of the journey's company (or of every company)."""
        journey.ensure_one()
        domain = [
            ("date_from", "<=", today + timedelta(days=journey.delay_days)),
            ("date_to", ">=", today),
        ]
        if journey.holiday_id:
            domain.append(("id", "=", journey.holiday_id.id))
        elif journey.company_id:
            domain.append(("company_id", "in", [False, journey.company_id.id]))
        return (
            self.env["housekeeping.holiday"].sudo().search(domain, order="date_from, id", limit=1)
        )

    @api.model
    def _holiday_trigger_sql(self, journey, today):
        if journey.holiday_date and not journey.holiday_id:
            if not (
                journey.holiday_date - timedelta(days=journey.delay_days)
                <= today
                <= journey.holiday_date
            ):
                return None
            return SQL("TRUE"), SQL("%s", f"holiday:{journey.holiday_date}")
        holiday = self._current_holiday(journey, today)
        if not holiday:
            return None
        company = (
            SQL("%s = %s", self._settings_company_sql("p"), holiday.company_id.id)
            if holiday.company_id
            else SQL("TRUE")
        )
        return company, SQL("%s", f"holiday:{holiday.id}")

    @api.model
    def _reach_sql(self, journey):
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
            email if journey.channel in ("email", "both") else SQL("FALSE"),
            sms if journey.channel in ("sms", "both") else SQL("FALSE"),
        )

    @api.model
    def _reachable(self, journey, partner_ids):
        """``{partner_id: channel}``: the channel (``email``, ``sms``, ``both``) by
        which each customer of ``partner_ids`` may get this journey now (consent,
        address, blacklists, see ``_hk_reach_sql``); customers who may get it by
        no channel are left out. One query."""
        journey.ensure_one()
        if not partner_ids:
            return {}
        self._flush()
        email, sms = self._reach_sql(journey)
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

    @api.model
    def _audience_query(self, journey, today, limit=None, partner_ids=None, after_id=0):
        """SQL returning ``(partner_id, period_key, email_ok, sms_ok)`` of the
        customers to message today: trigger, audience domain, consent and
        blacklists (``_hk_reach_sql``: the channels each customer may get), company,
        minus those already messaged for this occasion or within the period; by
        customer id, after ``after_id``. A customer whose address is blacklisted is
        not in the audience, as one without consent: no send is logged, so the
        customer is neither counted as messaged nor retried; if the address leaves
        the blacklist while the occasion lasts, the customer gets the message."""
        journey.ensure_one()
        trigger = self._trigger_sql(journey, today)
        if trigger is None:
            return None
        condition, key = trigger
        email, sms = self._reach_sql(journey)
        domain = ast.literal_eval(journey.audience_domain or "[]")
        audience = self.env["res.partner"].sudo().with_context(active_test=True)._search(domain)
        company = (
            SQL("%s = %s", self._settings_company_sql("p"), journey.company_id.id)
            if journey.company_id
            else SQL("TRUE")
        )
        period = (
            SQL("OR s.date >= %s", today - timedelta(days=journey.period_days))
            if journey.period_days
            else SQL("")
        )
        candidates = SQL(
            """
            SELECT p.id, %(key)s AS period_key, r.email_ok, r.sms_ok
              FROM res_partner p
             CROSS JOIN LATERAL (SELECT %(email)s AS email_ok, %(sms)s AS sms_ok) r
             WHERE p.active AND p.id IN %(audience)s AND %(condition)s
               AND (r.email_ok OR r.sms_ok)
               AND %(company)s AND %(scope)s AND %(predicted)s
               AND NOT EXISTS (
                   SELECT 1 FROM housekeeping_journey_send s
                    WHERE s.journey_id = %(journey)s AND s.partner_id = p.id
                      AND (s.period_key = %(key)s %(period)s))
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
            predicted=self._predicted_sql(journey),
            journey=journey.id,
            period=period,
        )
        limit = SQL("LIMIT %s", limit) if limit else SQL("")
        if not journey.max_per_day:
            return SQL("%s AND p.id > %s ORDER BY p.id %s", candidates, after_id, limit)
        # the daily cap: the customers of the day's remaining quota, by predicted
        # value (or the oldest first), then taken by id like any audience. Those
        # messaged earlier in the day's pass are out of the candidates and counted
        # in the quota, so each batch sees the rest of the same first choice.
        return SQL(
            """
            SELECT c.* FROM (%(candidates)s
                              ORDER BY %(order)s
                              LIMIT GREATEST(%(cap)s - (
                                  SELECT count(*) FROM housekeeping_journey_send s
                                   WHERE s.journey_id = %(journey)s
                                     AND s.date >= %(day_start)s), 0)) c
             WHERE c.id > %(after)s
             ORDER BY c.id
             %(limit)s
            """,
            candidates=candidates,
            order=SQL("p.predicted_value_12m DESC NULLS LAST, p.id")
            if journey.order_by_value
            else SQL("p.id"),
            cap=journey.max_per_day,
            journey=journey.id,
            day_start=self._day_start(today),
            after=after_id,
            limit=limit,
        )

    @api.model
    def _predicted_sql(self, journey):
        """The journey's minimum probability of still being a customer and minimum
        predicted value (the prediction engine's figures), as SQL on
        ``res_partner p``: a customer without a prediction does not reach a
        minimum."""
        conditions = []
        if journey.min_probability_alive:
            conditions.append(
                SQL("p.probability_alive >= %s", journey.min_probability_alive / 100.0)
            )
        if journey.min_predicted_value:
            conditions.append(SQL("p.predicted_value_12m >= %s", journey.min_predicted_value))
        return SQL(" AND ").join(conditions) if conditions else SQL("TRUE")

    @api.model
    def _day_start(self, today):
        """The UTC time at which ``today`` began in the user's time zone (the
        scheduler's: the day of the daily send cap)."""
        tz = pytz.timezone(self.env.user.tz or "UTC")
        start = tz.localize(datetime.combine(today, time.min))
        return start.astimezone(pytz.utc).replace(tzinfo=None)

    @api.model
    def _flush(self):
        self.env["res.partner"].flush_model()
        self.env["mail.blacklist"].flush_model(["email", "active"])
        self.env["phone.blacklist"].flush_model(["number", "active"])
        self.env["housekeeping.visit"].flush_model(["partner_id", "state"])
        self.env["housekeeping.journey.send"].flush_model()

    @api.model
    def _run_journey(self, journey, today, limit=None, partner_ids=None):
        """Message the audience of this journey (at most ``limit`` customers, only
        ``partner_ids`` when given); returns ``(sent_count, more)``."""
        _taken, sent, more, _last = self._step(journey, today, limit=limit, partner_ids=partner_ids)
        return sent, more

    @api.model
    def _step(self, journey, today, limit=None, partner_ids=None, after_id=0):
        """``_run_journey`` for the audience of customer id above ``after_id`` (a batch
        of the scheduled run); returns ``(taken, sent, more, last)``: the customers
        of the audience taken, the messages sent, whether more are left, the id of
        the last customer taken."""
        journey.ensure_one()
        self._flush()
        query = self._audience_query(
            journey, today, limit=limit and limit + 1, partner_ids=partner_ids, after_id=after_id
        )
        if query is None:
            return 0, 0, False, after_id
        self.env.cr.execute(query)
        rows = self.env.cr.fetchall()
        more = bool(limit) and len(rows) > limit
        rows = rows[:limit] if limit else rows
        sends = self._send(journey, rows)
        journey.last_run_date = today
        return len(rows), len(sends), more, rows[-1][0] if rows else after_id

    @api.model
    def _send(self, journey, rows):
        """Create the send log rows (the unique index makes a retry or a concurrent
        run skip customers already messaged), queue the e-mails and SMS, issue the
        offers. ``rows`` are ``(partner_id, period_key, email_ok, sms_ok)`` (the
        channels the customer may get, from the audience query)."""
        journey.ensure_one()
        if not rows:
            return self.env["housekeeping.journey.send"]
        channels = {pid: channel_of(email_ok, sms_ok) for pid, _key, email_ok, sms_ok in rows}
        now = fields.Datetime.now()
        sends = bulk_insert(
            self.env["housekeeping.journey.send"],
            [
                {
                    "journey_id": journey.id,
                    "partner_id": pid,
                    "period_key": key,
                    "channel": channels[pid],
                    "date": now,
                    "converted": False,
                    "state": "queued",
                    "attempts": 0,
                    "company_id": journey.company_id.id or None,
                }
                for pid, key, _email_ok, _sms_ok in rows
            ],
            on_conflict_do_nothing=True,
        )
        if not sends:
            return sends
        queued = self._deliver(journey, sends)
        self._issue_offers(journey, queued)
        return sends

    @api.model
    def _deliver(self, journey, sends):
        """Queue the e-mails and SMS of ``sends`` (one INSERT each for the batch).
        When preparing them fails (a template that does not render for some
        customer, a refused number…), the batch is retried customer by customer:
        the ones that fail are marked *to retry* (a later run tries again, up to
        the company's number of attempts) and the others are queued. Returns the
        sends queued."""
        try:
            with self.env.cr.savepoint():
                self._queue_messages(journey, sends)
            return sends
        except psycopg2.OperationalError:
            raise  # a concurrent update: the whole transaction is retried
        except Exception as error:  # noqa: BLE001 # pylint: disable=broad-exception-caught
            if len(sends) == 1:
                self._mark_failed(journey, sends, error)
                return sends.browse()
        queued = sends.browse()
        for send in sends:
            try:
                with self.env.cr.savepoint():
                    self._queue_messages(journey, send)
                queued |= send
            except psycopg2.OperationalError:
                raise
            except Exception as error:  # noqa: BLE001 # pylint: disable=broad-exception-caught
                self._mark_failed(journey, send, error)
        return queued

    @api.model
    def _mark_failed(self, journey, sends, error):
        _logger.warning("Journey %s: message to %s not queued: %s", journey.id, sends.ids, error)
        attempts = self._max_attempts()
        # the send log is written by the engine only (staff read it)
        for send in sends.sudo():
            send.write(
                {
                    "state": "failed" if send.attempts + 1 >= attempts else "retry",
                    "attempts": send.attempts + 1,
                    "failure_reason": str(error)[:500],
                }
            )

    @api.model
    def _max_attempts(self):
        return max(
            int(
                self.env["ir.config_parameter"]
                .sudo()
                .get_param("housekeeping_membership.journey_max_attempts", 3)
            ),
            1,
        )

    @api.model
    def _queue_messages(self, journey, sends):
        """Queue the e-mail and/or SMS of each send and link them to it."""
        sends.fetch(["partner_id", "channel", "period_key"])
        by_channel = sends.grouped("channel")
        email_sends = by_channel.get("email", sends.browse()) | by_channel.get(
            "both", sends.browse()
        )
        sms_sends = by_channel.get("sms", sends.browse()) | by_channel.get("both", sends.browse())
        mail_of, sms_of = {}, {}
        if email_sends and journey.mail_template_id:
            mails = self._queue_emails(journey, email_sends.partner_id)
            mail_of = dict(zip(email_sends.partner_id.ids, mails.ids, strict=True))
        if sms_sends and journey.sms_template_id:
            sms = self._queue_sms(journey, sms_sends.partner_id)
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

    @api.model
    def _retry_failed(self, journey):
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
        journey.ensure_one()
        # the engine reads the mail and SMS queues (system rights)
        send_model = self.env["housekeeping.journey.send"].sudo()
        open_sends = send_model.search(
            [("journey_id", "=", journey.id), ("state", "in", OPEN_SEND_STATES)]
        )
        if not open_sends:
            return
        open_sends.fetch(["partner_id", "mail_id", "sms_id", "state", "attempts", "channel"])
        open_sends.mail_id.fetch(["state", "failure_reason"])
        open_sends.sms_id.fetch(["state", "failure_type"])
        reachable = self._reachable(journey, open_sends.partner_id.ids)

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
        max_attempts = self._max_attempts()
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
            self._issue_offers(journey, self._deliver(journey, to_prepare))

    @api.model
    def _queue_emails(self, journey, partners):
        """Render the template for all customers at once and queue the e-mails
        (``mail.mail``, outgoing, each with its message in the customer's chatter),
        created together; the mail queue cron sends them. Each carries the
        one-click unsubscribe headers (RFC 8058)."""
        template = journey.mail_template_id.sudo().with_context(hk_journey_id=journey.id)
        ids = partners.ids
        subjects = template._render_field("subject", ids, compute_lang=True)
        bodies = template._render_field(
            "body_html", ids, compute_lang=True, options={"post_process": True}
        )
        senders = template._render_field("email_from", ids) if template.email_from else {}
        default_from = self.env.company.email_formatted or self.env.user.email_formatted
        author = self.env.user.partner_id.id
        note = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        # one reply-to for the batch, as Odoo's batch log computes it (left out,
        # ``mail.message`` looks for an alias message by message)
        reply_to = self.env["mail.thread"]._notify_get_reply_to(
            default=default_from, author_id=author
        )[False]
        now = fields.Datetime.now()
        return (
            self.env["mail.mail"]
            .sudo()
            .create(
                [
                    {
                        # the message in the customer's chatter
                        "model": "res.partner",
                        "res_id": partner.id,
                        "message_type": "email_outgoing",
                        "subtype_id": note,
                        "author_id": author,
                        "email_from": senders.get(partner.id) or default_from,
                        "reply_to": reply_to,
                        "subject": subjects.get(partner.id),
                        "body": bodies.get(partner.id),
                        "message_id": generate_tracking_message_id(f"{partner.id}-res.partner"),
                        "date": now,
                        # the e-mail
                        "body_html": bodies.get(partner.id),
                        "email_to": partner.email_formatted
                        or email_normalize(partner.email or "")
                        or partner.email,
                        "state": "outgoing",
                        "auto_delete": True,
                        "is_notification": False,
                        "headers": repr(
                            {
                                "List-Unsubscribe": f"<{partner._hk_unsubscribe_url()}>",
                                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                            }
                        ),
                    }
                    for partner in partners
                ]
            )
        )

    @api.model
    def _queue_sms(self, journey, partners):
        """Render the SMS for all customers and queue them (``sms.sms``, outgoing,
        created together; the SMS queue cron sends them)."""
        template = journey.sms_template_id.sudo().with_context(hk_journey_id=journey.id)
        bodies = template._render_field("body", partners.ids, compute_lang=True)
        return (
            self.env["sms.sms"]
            .sudo()
            .create(
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
                ]
            )
        )

    @api.model
    def _issue_offers(self, journey, sends):
        if journey.trigger == "birthday":
            self._issue_tier_birthday_coupons(journey, sends)
        if not journey.offer_ids:
            self._issue_offer(journey, journey, sends)
            return
        for offer, offer_sends in sends.grouped(
            lambda s: journey._hk_offer_of(s.partner_id)
        ).items():
            self._issue_offer(journey, offer, offer_sends)

    @api.model
    def _issue_offer(self, journey, offer, sends):
        """Give ``offer`` (the journey or one of its tier lines) to the customers of
        ``sends``: bonus points once per occasion, or one coupon each."""
        if offer.offer_type == "points" and offer.bonus_points:
            reason = self.env._("Journey: %(journey)s", journey=journey.name)
            for key, key_sends in sends.grouped("period_key").items():
                self.env["housekeeping.engine.points"]._grant_points(
                    key_sends.partner_id,
                    offer.bonus_points,
                    reason,
                    origin=f"journey:{journey.id}:{key}",
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

    @api.model
    def _issue_tier_birthday_coupons(self, journey, sends):
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
