"""Faults while messaging customers, archived customers, PIPL anonymization."""

from unittest.mock import patch

from freezegun import freeze_time
from markupsafe import Markup

from odoo import fields
from odoo.addons.base.models.ir_mail_server import MailDeliveryException
from odoo.addons.housekeeping_membership.models.bulk import bulk_insert, pg_array
from odoo.addons.housekeeping_membership.models.engines.journey import (
    HousekeepingEngineJourney as JourneyEngine,
)
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models.trust import engine_writes
from .common import HousekeepingCase
from .test_engagement import EngagementCase

ENGINE_MODULE = "odoo.addons.housekeeping_membership.models.engines.housekeeping_engine"

BAD = "refused@example.com"


class FakeSmsApi:
    """An SMS provider that refuses (``fail``) or accepts every message."""

    PROVIDER_TO_SMS_FAILURE_TYPE = {"server_error": "sms_server"}

    def __init__(self, fail):
        self.fail = fail

    def _send_sms_batch(self, messages, delivery_reports_url=False):
        if self.fail:
            raise ConnectionError("SMS gateway unreachable")
        return [
            {"uuid": number["uuid"], "state": "success"}
            for message in messages
            for number in message["numbers"]
        ]


class JourneyFaultCase(EngagementCase):
    def setUp(self):
        super().setUp()
        self.Journey = self.env["housekeeping.journey"]
        # only this test's customers are messaged
        (self.Journey.search([]) - self.wake_up).active = False
        self.customers = self.Partner.create(
            [
                {
                    "name": f"Sleeper {i}",
                    "email": BAD if i == 1 else f"sleeper{i}@example.com",
                    "phone": f"1380013800{i}",
                    "consent_email": True,
                    "consent_sms": True,
                }
                for i in range(4)
            ]
        )
        self.company.hk_survey_enabled = False  # only the journey's e-mails
        with freeze_time("2026-01-01 20:00:00"):
            for partner in self.customers:
                self._visit(partner=partner, date="2026-01-01 09:00:00")
        self.wake_up.audience_domain = str([("id", "in", self.customers.ids)])

        self.delivered = []  # the To of every e-mail the SMTP server accepted

    def _received(self, partner):
        return sum(partner.email in to for to in self.delivered)

    def _run(self, day="2026-03-02"):
        with freeze_time(f"{day} 20:00:00"):
            self.Journey._cron_run_journeys()

    def _mails(self, partner):
        return self.env["mail.mail"].search(
            [("model", "=", "res.partner"), ("res_id", "=", partner.id)]
        )

    def _emails_ever(self, partner):
        """E-mails ever prepared for the customer (their chatter copies stay)."""
        return self.env["mail.message"].search_count(
            [
                ("model", "=", "res.partner"),
                ("res_id", "=", partner.id),
                ("message_type", "=", "email_outgoing"),
            ]
        )

    def _deliver_emails(self, refuse=(BAD,)):
        """Odoo's mail queue runs: the SMTP server refuses ``refuse``."""
        server_class = type(self.env["ir.mail_server"])

        def send_email(server, message, *args, **kwargs):
            if any(address in message["To"] for address in refuse):
                raise MailDeliveryException("Connection refused by the SMTP server")
            self.delivered.append(message["To"])
            return message["Message-Id"]

        mails = self.env["mail.mail"].search([("state", "=", "outgoing")])
        with (
            patch.object(server_class, "_disable_send", classmethod(lambda cls: False)),
            patch.object(server_class, "_connect__", lambda server, **kw: None),
            patch.object(server_class, "send_email", send_email),
            mute_logger("odoo.addons.mail.models.mail_mail"),
        ):
            mails.send()


@tagged("post_install", "-at_install")
class TestJourneySendFailures(JourneyFaultCase):
    def test_smtp_failure_is_retried_with_the_same_mail(self):
        self._run()
        sends = self._sends(self.wake_up)
        self.assertEqual(len(sends), 4)
        self.assertEqual(set(sends.mapped("state")), {"queued"})
        refused = self.customers[1]
        self._deliver_emails()
        self.assertEqual(len(self.delivered), 3, self.delivered)
        failed_mail = self._mails(refused)
        self.assertEqual(failed_mail.state, "exception")
        for partner in self.customers - refused:
            mail = self._mails(partner)
            self.assertIn(mail.state, (False, "sent"), f"sent (or deleted) {mail.failure_reason}")
        # the next run puts the refused e-mail back in the queue, marks the others sent
        self._run("2026-03-03")
        send = self._sends(self.wake_up, refused)
        self.assertEqual((send.state, send.attempts), ("queued", 1))
        self.assertIn("Connection refused", send.failure_reason)
        self.assertEqual(failed_mail.state, "outgoing", "the same mail.mail, retried")
        self.assertEqual(send.mail_id, failed_mail)
        self.assertEqual(
            set((sends - send).mapped("state")), {"sent"}, "delivered ones are not sent again"
        )
        self.assertEqual(len(self._sends(self.wake_up)), 4, "no second send log")
        # the server accepts it now
        self._deliver_emails(refuse=())
        self._run("2026-03-04")
        self.assertEqual(send.state, "sent")
        for partner in self.customers:
            self.assertEqual(self._received(partner), 1, "one e-mail per customer")
        self._run("2026-03-05")
        self._deliver_emails(refuse=())
        self.assertEqual(len(self._sends(self.wake_up)), 4)
        self.assertEqual(len(self.delivered), 4)

    def test_persistent_failure_gives_up_after_max_attempts(self):
        self.env["ir.config_parameter"].set_param("housekeeping_membership.journey_max_attempts", 2)
        refused = self.customers[1]
        self._run()
        self._deliver_emails()
        self._run("2026-03-03")  # attempt 1 failed: retried
        self._deliver_emails()
        self._run("2026-03-04")  # attempt 2 failed: given up
        send = self._sends(self.wake_up, refused)
        self.assertEqual((send.state, send.attempts), ("failed", 2))
        self.assertEqual(self._mails(refused).state, "cancel")
        self._run("2026-03-05")
        self._deliver_emails(refuse=())
        self.assertEqual(send.state, "failed")
        self.assertEqual(self._received(refused), 0, "given up: not sent later")
        self.assertEqual(self._emails_ever(refused), 1, "one e-mail prepared, never a copy")

    def test_preparing_fails_for_some_customers(self):
        """Rendering raises for one customer: the others are messaged (with their
        offer), that one is retried by the next run, once."""
        self.wake_up.write({"offer_type": "points", "bonus_points": 30})
        poison = self.customers[2]
        original = JourneyEngine._queue_emails

        def queue_emails(engine, journey, partners):
            if poison in partners:
                raise ValueError("template error for this customer")
            return original(engine, journey, partners)

        balance = {p.id: p.points_balance for p in self.customers}
        with (
            patch.object(JourneyEngine, "_queue_emails", queue_emails),
            mute_logger("odoo.addons.housekeeping_membership.models.housekeeping_journey"),
        ):
            self._run()
        sends = self._sends(self.wake_up)
        self.assertEqual(len(sends), 4)
        send = self._sends(self.wake_up, poison)
        self.assertEqual((send.state, send.attempts), ("retry", 1))
        self.assertIn("template error", send.failure_reason)
        self.assertFalse(self._mails(poison))
        self.assertEqual(poison.points_balance, balance[poison.id], "no offer without the message")
        for partner in self.customers - poison:
            self.assertEqual(len(self._mails(partner)), 1)
            self.assertEqual(partner.points_balance, balance[partner.id] + 30)
        # the next run prepares it again
        self._run("2026-03-03")
        self.assertEqual(send.state, "queued")
        self.assertEqual(len(self._mails(poison)), 1)
        self.assertEqual(poison.points_balance, balance[poison.id] + 30)
        self._run("2026-03-04")
        self._deliver_emails(refuse=())
        for partner in self.customers:
            self.assertEqual(self._received(partner), 1, partner.name)
            self.assertEqual(partner.points_balance, balance[partner.id] + 30, "offer given once")

    def test_manager_run_now_with_a_failing_template(self):
        poison = self.customers[0]
        original = JourneyEngine._queue_emails

        def queue_emails(engine, journey, partners):
            if poison in partners:
                raise ValueError("template error for this customer")
            return original(engine, journey, partners)

        with (
            freeze_time("2026-03-02 20:00:00"),
            patch.object(JourneyEngine, "_queue_emails", queue_emails),
            mute_logger("odoo.addons.housekeeping_membership.models.housekeeping_journey"),
        ):
            self.wake_up.with_user(self.manager).action_run_now()
        self.assertEqual(self._sends(self.wake_up, poison).state, "retry")
        self.assertEqual(len(self._sends(self.wake_up)), 4)

    def test_sms_provider_failure_is_retried(self):
        self.wake_up.channel = "sms"
        self._run()
        sms = self.env["sms.sms"].search([("partner_id", "in", self.customers.ids)])
        self.assertEqual(len(sms), 4)
        sms.with_context(sms_api=FakeSmsApi(fail=True))._send(unlink_sent=False)
        self.assertEqual(set(sms.mapped("state")), {"error"})
        self._run("2026-03-03")
        sends = self._sends(self.wake_up)
        self.assertEqual(set(sends.mapped("state")), {"queued"})
        self.assertEqual(set(sends.mapped("attempts")), {1})
        self.assertEqual(set(sms.mapped("state")), {"outgoing"}, "the same SMS, retried")
        sms.with_context(sms_api=FakeSmsApi(fail=False))._send(unlink_sent=False)
        self._run("2026-03-04")
        self.assertEqual(set(sends.mapped("state")), {"sent"})
        self.assertEqual(
            self.env["sms.sms"].search_count([("partner_id", "in", self.customers.ids)]), 4
        )

    def test_two_runs_never_duplicate(self):
        self._run()
        self._run()
        self._deliver_emails()
        self._run("2026-03-03")
        self._run("2026-03-03")
        self.assertEqual(len(self._sends(self.wake_up)), 4)
        self.assertEqual(self._sends(self.wake_up, self.customers[1]).attempts, 1)


@tagged("post_install", "-at_install")
class TestArchivedCustomers(JourneyFaultCase):
    def test_archived_customer_gets_no_journey(self):
        gone = self.customers[0]
        gone.action_archive()
        self._run()
        self.assertNotIn(gone, self._sends(self.wake_up).partner_id)
        self.assertFalse(self._mails(gone))

    def test_archiving_cancels_queued_messages(self):
        self.wake_up.channel = "both"
        self._run()
        leaving = self.customers[0]
        send = self._sends(self.wake_up, leaving)
        mail = self._mails(leaving)
        sms = self.env["sms.sms"].search([("partner_id", "=", leaving.id)])
        self.assertEqual((mail.state, sms.state), ("outgoing", "outgoing"))
        leaving.action_archive()
        self.assertEqual(send.state, "cancelled")
        self.assertEqual(mail.state, "cancel")
        self.assertEqual(sms.state, "canceled")
        self._deliver_emails(refuse=())
        self.assertEqual(mail.state, "cancel", "the mail queue skips it")
        self._run("2026-03-03")
        self.assertEqual(send.state, "cancelled")
        self.assertEqual(len(self._sends(self.wake_up, leaving)), 1)
        # the others are unaffected (their SMS still wait in the queue)
        others = self._sends(self.wake_up) - send
        self.assertEqual(set(others.mapped("state")), {"queued"})
        self.assertNotIn("cancel", others.mail_id.mapped("state"))

    def test_archived_after_a_failure_is_not_retried(self):
        refused = self.customers[1]
        self._run()
        self._deliver_emails()
        mail = self._mails(refused)
        self.assertEqual(mail.state, "exception")
        refused.action_archive()
        self._run("2026-03-03")
        self.assertEqual(self._sends(self.wake_up, refused).state, "cancelled")
        self.assertEqual(mail.state, "cancel")

    def test_withdrawn_consent_cancels_the_retry(self):
        refused = self.customers[1]
        self._run()
        self._deliver_emails()
        refused._hk_unsubscribe()
        self._run("2026-03-03")
        self.assertEqual(self._sends(self.wake_up, refused).state, "cancelled")


@tagged("post_install", "-at_install")
class TestAnonymization(EngagementCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.hk_points_validity_months = 0
        cls.person = cls.Partner.create(
            {
                "name": "Customer Liu Yang",
                "email": "liu.yang@example.com",
                "phone": "13912345678",
                "street": "朝阳区建国路 88 号",
                "street2": "3 单元 1201",
                "city": "北京",
                "zip": "100022",
                "birthday": "1985-06-01",
                "gender": "female",
                "household_size": 4,
                "home_area": 120,
                "special_instructions": "Key under the mat, dog named Lucky",
                "comment": "<p>Prefers Ms Li</p>",
                "consent_email": True,
                "consent_sms": True,
                "category_id": [(4, cls.vip.id)],
            }
        )
        cls.child = cls.Partner.create(
            {
                "name": "Liu Yang (home)",
                "type": "delivery",
                "parent_id": cls.person.id,
                "street": "Home street 1",
            }
        )
        cls.visits = cls._visit(partner=cls.person, date="2026-01-10 09:00:00", amount=180)
        cls.visits |= cls._visit(
            partner=cls.person,
            date="2026-02-10 09:00:00",
            amount=420,
            service_type=cls.service_deep,
            notes="<p>Liu Yang asked to clean the baby room</p>",
        )
        cls.person.env["housekeeping.engine.points"]._grant_points(
            cls.person, 77, "goodwill", origin="anon-test"
        )
        cls.person.message_post(body="Called Liu Yang at 13912345678", message_type="comment")
        cls.portal_user = cls.env["res.users"].create(
            {
                "login": "liu.yang@example.com",
                "name": "Customer Liu Yang",
                "partner_id": cls.person.id,
                "group_ids": [(6, 0, [cls.env.ref("base.group_portal").id])],
            }
        )

    def _snapshot(self):
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT p.points_balance,
                      (SELECT sum(points) FROM housekeeping_points_entry WHERE partner_id = p.id),
                      (SELECT count(*) FROM housekeeping_points_entry WHERE partner_id = p.id),
                      (SELECT array_agg(ARRAY[amount::text, date::text, service_type_id::text,
                                              state] ORDER BY id)
                         FROM housekeeping_visit WHERE partner_id = p.id),
                      p.visit_count, p.total_spent
                 FROM res_partner p WHERE p.id = %s""",
            [self.person.id],
        )
        return self.env.cr.fetchone()

    def test_anonymize_erases_personal_data_keeps_accounting(self):
        bank = self.env["res.partner.bank"].create(
            {"partner_id": self.person.id, "acc_number": "6222 0202 0000 1234"}
        )
        before = self._snapshot()
        wizard = (
            self.env["housekeeping.partner.anonymize"]
            .with_user(self.manager)
            .create({"partner_ids": [(6, 0, self.person.ids)]})
        )
        with self.assertRaises(UserError):
            wizard.action_apply()  # not confirmed
        self.assertFalse(self.person.hk_anonymized)
        wizard.confirm = True
        wizard.action_apply()
        person = self.person.with_context(active_test=False)
        self.assertTrue(person.hk_anonymized)
        self.assertFalse(person.active)
        self.assertEqual(person.name, f"Anonymized customer #{person.id}")
        for name in (
            "email",
            "phone",
            "street",
            "street2",
            "city",
            "zip",
            "birthday",
            "gender",
            "household_size",
            "home_area",
            "special_instructions",
            "comment",
            "consent_email",
            "consent_sms",
            "category_id",
        ):
            self.assertFalse(person[name], name)
        self.assertFalse(bank.active)
        self.assertNotIn("1234", bank.acc_number, "bank account number erased")
        self.assertTrue(self.child.hk_anonymized)
        self.assertFalse(self.child.street)
        self.assertEqual(person.hk_anonymized_uid, self.manager)
        self.assertTrue(person.hk_anonymized_date)
        # accounting is intact
        self.assertEqual(self._snapshot(), before)
        self.assertEqual(person.points_balance, 600 + 77, "visits' points and the bonus")
        self.assertEqual(sorted(self.visits.mapped("amount")), [180.0, 420.0])
        self.assertFalse(any(self.visits.mapped("notes")))
        # the portal access is gone, the login freed
        self.assertFalse(self.portal_user.active)
        self.assertNotIn("liu", self.portal_user.login)
        # nothing of the person is left in the chatter
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT count(*) FROM mail_message
                WHERE (model = 'res.partner' AND res_id = %s)
                  AND (body::text ILIKE %s OR body::text ILIKE %s OR subject ILIKE %s)""",
            [person.id, "%Liu Yang%", "%13912345678%", "%Liu%"],
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        self.env.cr.execute(
            """SELECT count(*) FROM mail_message
                WHERE model = 'res.partner' AND res_id = %s AND body::text LIKE %s""",
            [person.id, "%1234%"],
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        self.env.cr.execute(
            """SELECT count(*) FROM res_partner
                WHERE name ILIKE %s OR email ILIKE %s OR street ILIKE %s""",
            ["%Liu Yang%", "%liu.yang%", "%建国路%"],
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        # logged, and irreversible
        last = person.message_ids[:1]
        self.assertIn("anonymized", str(last.body))
        self.assertIn("Manager Chen", str(last.body))
        with self.assertRaises(UserError):
            person.with_user(self.manager).action_hk_anonymize()
        with self.assertRaises(UserError):
            person.with_user(self.manager).write({"name": "Liu Yang again"})

    def test_plain_user_is_refused(self):
        before = self._snapshot()
        with self.assertRaises(AccessError):
            self.person.with_user(self.user).action_hk_anonymize()
        with self.assertRaises(AccessError):
            self.person.with_user(self.user).action_hk_anonymize_wizard()
        with self.assertRaises(AccessError):
            self.env["housekeeping.partner.anonymize"].with_user(self.user).create(
                {"partner_ids": [(6, 0, self.person.ids)], "confirm": True}
            )
        self.assertFalse(self.person.hk_anonymized)
        self.assertEqual(self.person.email, "liu.yang@example.com")
        self.assertEqual(self._snapshot(), before)

    def test_internal_user_partner_is_refused(self):
        with self.assertRaises(UserError):
            self.user.partner_id.with_user(self.manager).action_hk_anonymize()
        self.assertFalse(self.user.partner_id.hk_anonymized)

    def test_action_menu_opens_the_confirmation(self):
        action = self.env.ref("housekeeping_membership.action_server_partner_anonymize")
        self.assertEqual(action.binding_model_id.model, "res.partner")
        result = (
            action.with_user(self.manager)
            .with_context(
                active_model="res.partner", active_ids=self.person.ids, active_id=self.person.id
            )
            .run()
        )
        self.assertEqual(result["res_model"], "housekeeping.partner.anonymize")
        self.assertEqual(result["context"]["default_partner_ids"], self.person.ids)
        self.assertFalse(self.person.hk_anonymized, "nothing happens before the confirmation")

    def test_portal_deletion_request_flags_the_customer(self):
        self.assertFalse(self.person.hk_deletion_requested)
        with engine_writes("hk_deletion_requested"):  # as the portal's request does
            self.person.hk_deletion_requested = "2026-03-01 10:00:00"
        self.assertIn(
            self.person,
            self.Partner.search([("hk_deletion_requested", "!=", False)]),
        )
        self.person.with_user(self.manager).action_hk_anonymize()
        self.assertFalse(self.person.with_context(active_test=False).hk_deletion_requested)


class TestEngineNotes(HousekeepingCase):
    # the columns of a note that describe it (not its id, dates or Message-Id)
    NOTE_COLUMNS = (
        "model",
        "res_id",
        "message_type",
        "is_internal",
        "subtype_id",
        "author_id",
        "email_from",
        "reply_to",
        "email_add_signature",
        "body",
        "subject",
        "record_company_id",
        "record_alias_domain_id",
        "partner_ids",
        "notification_ids",
        "create_uid",
    )

    def _rows(self, messages):
        messages.invalidate_recordset()
        return {m.res_id: {name: m[name] for name in self.NOTE_COLUMNS} for m in messages.sudo()}

    def test_engine_notes_are_odoos_batch_log(self):
        """An engine's notes are what Odoo's ``_message_log_batch`` logs, column
        for column, whether few (through it) or many (the same rows in one INSERT),
        whatever the customers' companies and aliases."""
        domain = self.env["mail.alias.domain"].create(
            {"name": "hk-example.com", "catchall_alias": "catchall"}
        )
        other = self.env["res.company"].create(
            {"name": "Branch Store", "alias_domain_id": domain.id}
        )
        partners = self.env["res.partner"].create(
            [
                {"name": "Main 1", "company_id": self.company.id},
                {"name": "Branch 1", "company_id": other.id},
                {"name": "No company"},
            ]
        )
        bodies = {p.id: f"Stage of {p.name} <changed> & noted" for p in partners}
        Engine = self.env["housekeeping.engine"]
        expected = self._rows(
            partners._message_log_batch(
                bodies={pid: Markup("<p>%s</p>") % body for pid, body in bodies.items()}
            )
        )
        self.assertEqual(self._rows(Engine._log_notes(bodies)), expected)
        with patch(ENGINE_MODULE + ".NOTES_IN_ONE_INSERT_FROM", 1):
            self.assertEqual(self._rows(Engine._log_notes(bodies)), expected)
        self.assertEqual(
            expected[partners[0].id]["body"], "<p>Stage of Main 1 &lt;changed&gt; &amp; noted</p>"
        )

    def test_engine_notes_read_like_odoos(self):
        """A note logged by an engine is an escaped paragraph in the customer's
        chatter, a note of the system's author; in one INSERT each gets a
        Message-Id of its own in Odoo's tracking format; a note given a key
        (``message_ids``) keeps it on both paths."""
        Partner = self.env["res.partner"]
        partners = Partner.create([{"name": "Note A"}, {"name": "Note B"}, {"name": "Note C"}])
        bodies = {
            partners[0].id: "Tier <Gold> & more",
            partners[1].id: "Plain",
            partners[2].id: "Plain",
        }
        keys = {partners[1].id: "<fixed@hk-example.com>"}
        Engine = self.env["housekeeping.engine"]
        for threshold in (500, 1):
            with patch(ENGINE_MODULE + ".NOTES_IN_ONE_INSERT_FROM", threshold):
                messages = Engine._log_notes(bodies, message_ids=keys)
            of = {message.res_id: message for message in messages}
            self.assertEqual(str(of[partners[0].id].body), "<p>Tier &lt;Gold&gt; &amp; more</p>")
            self.assertEqual(of[partners[1].id].message_id, "<fixed@hk-example.com>")
            self.assertEqual(messages.subtype_id, self.env.ref("mail.mt_note"))
            self.assertEqual(set(messages.mapped("message_type")), {"notification"})
            author_id, _email = self.env["mail.thread"]._message_compute_author(None)
            self.assertEqual(messages.author_id.id, author_id)
            for partner in partners:
                self.assertIn(of[partner.id], partner.message_ids)
        self.assertRegex(
            of[partners[0].id].message_id,
            rf"^<\d+\.[\d.]+-openerp-{partners[0].id}-res\.partner@.+>$",
        )
        self.assertNotEqual(of[partners[0].id].message_id, of[partners[2].id].message_id)

    def test_array_literals_round_trip(self):
        """The engines pass their columns as array literals: every value comes back
        from the database as it was, quotes, backslashes, braces and commas included."""
        texts = ['a "quoted" word', "back\\slash\\", "{braces}, commas", "", "NULL", "标准", None]
        self.env.cr.execute("SELECT %s::text[]", [pg_array(texts)])
        self.assertEqual(self.env.cr.fetchone()[0], texts)
        day = fields.Date.to_date("2026-02-28")
        moment = fields.Datetime.to_datetime("2026-02-28 23:59:30")
        self.env.cr.execute(
            "SELECT %s::int4[], %s::bool[], %s::date[], %s::timestamp[], %s::float8[]",
            [
                pg_array([1, None, -7]),
                pg_array([True, False, None]),
                pg_array([day, None]),
                pg_array([moment, None]),
                pg_array([0.1, 2.5e-7, None]),
            ],
        )
        self.assertEqual(
            self.env.cr.fetchone(),
            ([1, None, -7], [True, False, None], [day, None], [moment, None], [0.1, 2.5e-7, None]),
        )

    def test_bulk_rows_keep_every_value(self):
        """Engine rows inserted in one statement keep the value of every column,
        whether it differs between rows, is the same on all of them, is empty or is
        translated (jsonb)."""
        partners = self.env["res.partner"].create([{"name": "Bulk A"}, {"name": "Bulk B"}])
        today = fields.Date.today()
        logs = bulk_insert(
            self.env["housekeeping.stage.log"],
            [
                {
                    "partner_id": partners[0].id,
                    "to_stage": "new",
                    "date": today,
                    "trigger": "cron",
                    "reason": "Rules",
                    "days_in_previous_stage": 0,
                },
                {
                    "partner_id": partners[1].id,
                    "from_stage": "new",
                    "to_stage": "loyal",
                    "date": today,
                    "trigger": "cron",
                    "reason": None,
                    "days_in_previous_stage": 12,
                },
            ],
        )
        self.assertEqual(
            [(log.partner_id, log.from_stage, log.to_stage, log.date, log.reason) for log in logs],
            [
                (partners[0], False, "new", today, "Rules"),
                (partners[1], "new", "loyal", today, False),
            ],
        )
        self.assertEqual(logs.mapped("days_in_previous_stage"), [0, 12])
        self.assertEqual(logs.create_uid, self.env.user)
        alike = bulk_insert(
            self.env["housekeeping.stage.log"],
            [{"partner_id": partners[0].id, "to_stage": "new", "date": today, "trigger": "cron"}]
            * 3,
        )
        self.assertEqual(len(alike), 3)
        self.assertEqual(alike.partner_id, partners[0])
        self.env["res.lang"]._activate_lang("zh_CN")
        reasons = bulk_insert(
            self.env["housekeeping.churn.reason"],
            [
                {
                    "name": {"en_US": "Moved away", "zh_CN": "搬家"},
                    "code": "hk_test_moved",
                    "description": {"en_US": "Ask for the new address"},
                },
                {
                    "name": {"en_US": "Price", "zh_CN": "价格"},
                    "code": "hk_test_price",
                    "description": {"en_US": "Ask for the new address"},
                },
            ],
        )
        self.assertEqual(reasons.with_context(lang="zh_CN").mapped("name"), ["搬家", "价格"])
        self.assertEqual(reasons.mapped("name"), ["Moved away", "Price"])
        self.assertEqual(set(reasons.mapped("description")), {"Ask for the new address"})
