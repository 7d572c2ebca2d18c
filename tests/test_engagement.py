from datetime import date, timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields, http, sql_db
from odoo.exceptions import UserError, ValidationError
from odoo.tests import HttpCase, tagged

from ..models.engines import recommendation as recommendation_engine
from .common import HousekeepingCase


class EngagementCase(HousekeepingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Partner = cls.env["res.partner"]
        cls.Send = cls.env["housekeeping.journey.send"]
        cls.vip = cls.env.ref("housekeeping_membership.res_partner_category_vip")
        cls.wake_up = cls.env.ref("housekeeping_membership.journey_wake_up")
        cls.next_visit = cls.env.ref("housekeeping_membership.journey_next_visit")
        cls.birthday = cls.env.ref("housekeeping_membership.journey_birthday")
        cls.fan = cls.Partner.create(
            {
                "name": "Customer Fan",
                "email": "fan@example.com",
                "phone": "13800138000",
                "consent_email": True,
                "consent_sms": True,
                "consent_source": "form",
                "user_id": cls.user.id,
            }
        )

    def _population(self, prefix, count):
        partners = self.Partner.create(
            [
                {
                    "name": f"{prefix}{i}",
                    "email": f"{prefix.lower()}{i}@example.com",
                    "phone": "13800138000",
                    "consent_email": True,
                    "consent_sms": True,
                    "company_id": self.company.id,
                }
                for i in range(count)
            ]
        )
        with freeze_time("2026-01-29 20:00:00"):
            visits = self.env["housekeeping.visit"].create(
                [
                    {
                        "partner_id": p.id,
                        "service_type_id": self.service_hourly.id,
                        "date": f"2026-01-{day:02d} 09:00:00",
                        "amount": 100,
                        "employee_id": self.cleaner.id,
                        "state": "draft",
                    }
                    for p in partners
                    for day in (1, 15, 29)
                ]
            )
            self.company.hk_survey_enabled = False
            visits.action_done()
        model_id = self.env["ir.model"]._get_id("housekeeping.visit")
        self.env["rating.rating"].create(
            [
                {
                    "res_model_id": model_id,
                    "res_id": v.id,
                    "partner_id": v.partner_id.id,
                    "rating": 5,
                    "consumed": True,
                }
                for v in visits
            ]
        )
        return partners

    def _rate(self, visit, score, feedback=None):
        return visit.action_record_rating(score, feedback)

    def _sends(self, journey, partner=None):
        domain = [("journey_id", "=", journey.id)]
        if partner:
            domain.append(("partner_id", "=", partner.id))
        return self.Send.search(domain)


@tagged("post_install", "-at_install")
class TestSatisfaction(EngagementCase):
    @freeze_time("2026-03-05 20:00:00")
    def test_survey_request_on_done_visit(self):
        visit = self._visit(partner=self.fan, date="2026-03-05 09:00:00")
        self.assertTrue(visit.rating_request_sent)
        mails = self.env["mail.mail"].search(
            [("model", "=", "housekeeping.visit"), ("res_id", "=", visit.id)]
        )
        self.assertEqual(len(mails), 1)
        self.assertEqual(mails.state, "outgoing", "queued, not sent")
        self.assertIn(self.fan, mails.recipient_ids)
        token = visit.rating_ids.access_token
        self.assertTrue(token)
        self.assertIn(f"/rate/{token}/5", mails.body_html)
        self.assertIn(f"/rate/{token}/1", mails.body_html)

    @freeze_time("2026-03-05 20:00:00")
    def test_no_survey_without_consent_or_email(self):
        no_consent = self.Partner.create({"name": "No consent", "email": "nc@example.com"})
        no_email = self.Partner.create({"name": "No email", "consent_email": True})
        visits = self._visit(partner=no_consent, date="2026-03-05 09:00:00") | self._visit(
            partner=no_email, date="2026-03-05 09:00:00"
        )
        self.assertFalse(any(visits.mapped("rating_request_sent")))
        self.assertFalse(
            self.env["mail.mail"].search(
                [("model", "=", "housekeeping.visit"), ("res_id", "in", visits.ids)]
            )
        )
        self.assertFalse(visits.rating_ids)

    @freeze_time("2026-03-05 20:00:00")
    def test_low_score_opens_complaint_with_recovery_activity(self):
        visit = self._visit(partner=self.fan, date="2026-03-05 09:00:00", user_id=self.user.id)
        rating = self._rate(visit, 2, "Kitchen still greasy")
        self.assertEqual(rating.rating, 2)
        self.assertTrue(rating.consumed)
        complaint = visit.complaint_ids
        self.assertEqual(len(complaint), 1)
        self.assertEqual(complaint.partner_id, self.fan)
        self.assertEqual(complaint.employee_id, self.cleaner)
        self.assertEqual(complaint.rating_id, rating)
        self.assertEqual(complaint.state, "new")
        activity = complaint.activity_ids
        self.assertEqual(
            activity.activity_type_id,
            self.env.ref("housekeeping_membership.mail_activity_type_service_recovery"),
        )
        self.assertEqual(activity.date_deadline, date(2026, 3, 6), "due in 24 hours")
        self.assertEqual(activity.user_id, self.user)
        # a good score opens nothing
        other = self._visit(partner=self.fan, date="2026-03-05 10:00:00")
        self._rate(other, 4)
        self.assertFalse(other.complaint_ids)

    @freeze_time("2026-03-05 20:00:00")
    def test_customer_rating_link_low_score(self):
        """The customer clicks a smiley in the survey (token flow of /rate)."""
        visit = self._visit(partner=self.fan, date="2026-03-05 09:00:00")
        token = visit.rating_ids.access_token
        visit.sudo().rating_apply(1, token=token, feedback="Broke a vase")
        self.assertEqual(visit.complaint_ids.severity, "high")
        self.assertEqual(visit.rating_last_value, 1)

    @freeze_time("2026-03-05 20:00:00")
    def test_phone_score_validation(self):
        visit = self._visit(partner=self.fan, date="2026-03-05 09:00:00")
        with self.assertRaises(UserError):
            self._rate(visit, 6)
        draft = self._visit(partner=self.fan, date="2026-03-05 09:00:00", state="draft")
        with self.assertRaises(UserError):
            self._rate(draft, 5)
        wizard = self.env["housekeeping.visit.rate"].create(
            {"visit_id": visit.id, "score": "3", "feedback": "ok"}
        )
        wizard.action_record()
        self.assertEqual(visit.rating_last_value, 3)

    def test_vip_tag_on_and_off(self):
        callback = self.env.ref("housekeeping_membership.mail_activity_type_callback")

        def callbacks():
            return self.fan.activity_ids.filtered(lambda a: a.activity_type_id == callback)

        with freeze_time("2026-03-05 20:00:00"):
            visits = [
                self._visit(partner=self.fan, date=f"2026-03-0{day} 09:00:00") for day in (1, 2, 3)
            ]
            self._rate(visits[0], 5)
            self._rate(visits[1], 5)
            self.assertNotIn(self.vip, self.fan.category_id, "needs 3 rated visits")
            self._rate(visits[2], 4)
            self.assertIn(self.vip, self.fan.category_id, "average 4.67 >= 4.5")
            self.assertEqual(self.fan.hk_vip_since, date(2026, 3, 5))
            self.Partner._cron_evaluate_vip()
            self.assertEqual(len(callbacks()), 1)
            self.assertEqual(callbacks().user_id, self.user, "to the customer's agent")
            self.Partner._cron_evaluate_vip()
            self.assertEqual(len(callbacks()), 1, "idempotent")
            callbacks().action_feedback(feedback="Thanked")
        with freeze_time("2026-03-20 20:00:00"):
            self.Partner._cron_evaluate_vip()
            self.assertFalse(callbacks(), "not before 30 days")
        with freeze_time("2026-04-04 20:00:00"):
            self.Partner._cron_evaluate_vip()
            self.assertEqual(len(callbacks()), 1, "every 30 days")
            # a stricter threshold: the nightly evaluation removes the tag
            self.company.hk_vip_min_average = 4.8
            self.Partner._cron_evaluate_vip()
            self.assertNotIn(self.vip, self.fan.category_id)
            self.assertFalse(self.fan.hk_vip_since)
            notes = self.fan.message_ids.filtered(
                lambda m: "satisfaction threshold" in (m.body or "")
            )
            self.assertEqual(len(notes), 2, "tag added and removed, both in the chatter")
            self.company.hk_vip_min_average = 4.5
            self.Partner._cron_evaluate_vip()
            self.assertIn(self.vip, self.fan.category_id)
            # a low score on the next visit: the last three average 3.67
            visit = self._visit(partner=self.fan, date="2026-04-04 09:00:00")
            self._rate(visit, 2)
            self.assertNotIn(self.vip, self.fan.category_id)

    @freeze_time("2026-03-05 20:00:00")
    def test_manual_vip_tag_is_kept(self):
        manual = self.Partner.create({"name": "Big account", "category_id": [(4, self.vip.id)]})
        self.Partner._cron_evaluate_vip()
        self.assertIn(self.vip, manual.category_id)

    @freeze_time("2026-03-05 20:00:00")
    def test_cleaner_quality_report(self):
        good = self._visit(partner=self.fan, date="2026-03-01 09:00:00")
        bad = self._visit(partner=self.fan, date="2026-03-02 09:00:00")
        self._visit(partner=self.fan, date="2026-03-03 09:00:00")  # not rated
        self._visit(partner=self.fan, date="2026-03-03 10:00:00", employee=self.cleaner_2)
        self._rate(good, 5)
        self._rate(bad, 2)
        report = self.env["housekeeping.cleaner.quality.report"]
        self.env.flush_all()
        # the report reads done visits per day (no customer): these days'
        rows = report._read_group(
            [("date", ">=", "2026-03-01"), ("date", "<=", "2026-03-03")],
            ["employee_id"],
            ["visit_count:sum", "rated_count:sum", "rating:avg", "complaint_rate:avg"],
        )
        by_cleaner = {row[0]: row[1:] for row in rows}
        self.assertEqual(by_cleaner[self.cleaner], (3, 2, 3.5, 100.0 / 3))
        self.assertEqual(by_cleaner[self.cleaner_2], (1, 0, False, 0.0))


@tagged("post_install", "-at_install")
class TestJourneys(EngagementCase):
    def test_next_visit_nudge_has_a_booking_link(self):
        with freeze_time("2026-03-01 20:00:00"):
            for day in ("2026-02-01", "2026-02-08", "2026-02-15"):
                self._visit(partner=self.fan, date=f"{day} 09:00:00")
            url = self.fan._hk_booking_url()
        self.assertIn(
            "/my/visits?date=2026-03-02", url, "weekly customer: due tomorrow at the earliest"
        )
        self.assertIn(f"service_type_id={self.service_hourly.id}", url)
        body = self.env.ref(
            "housekeeping_membership.mail_template_journey_next_visit"
        )._render_field("body_html", self.fan.ids)[self.fan.id]
        self.assertIn("/my/visits?date=", body)

    def test_wake_up_skips_customers_reading_the_portal(self):
        with freeze_time("2026-01-01 20:00:00"):
            self._visit(partner=self.fan, date="2026-01-01 09:00:00")
        user = self.env["res.users"].create(
            {
                "name": self.fan.name,
                "login": "fan_portal",
                "partner_id": self.fan.id,
                "group_ids": [(6, 0, [self.env.ref("base.group_portal").id])],
            }
        )
        self.env.flush_all()
        self.env.cr.execute(
            "INSERT INTO res_users_log (create_uid, create_date) VALUES (%s, '2026-02-20')",
            [user.id],
        )
        with freeze_time("2026-03-02 20:00:00"):  # 60 days without a visit
            self.env["housekeeping.journey"]._cron_run_journeys()
            self.assertFalse(self._sends(self.wake_up), "logged in on 2026-02-20")

    def test_wake_up_once_per_lapse_and_conversion(self):
        silent = self.Partner.create({"name": "No consent", "email": "silent@example.com"})
        with freeze_time("2026-01-01 20:00:00"):
            self._visit(partner=self.fan, date="2026-01-01 09:00:00")
            self._visit(partner=silent, date="2026-01-01 09:00:00")
        with freeze_time("2026-03-01 20:00:00"):  # 59 days
            self.env["housekeeping.journey"]._cron_run_journeys()
            self.assertFalse(self._sends(self.wake_up))
        with freeze_time("2026-03-02 20:00:00"):  # 60 days
            self.env["housekeeping.journey"]._cron_run_journeys()
            send = self._sends(self.wake_up)
            self.assertEqual(send.partner_id, self.fan, "consent respected")
            self.assertEqual(send.channel, "email")
            self.assertEqual(send.period_key, "lapse:2026-01-01")
            self.env["housekeeping.journey"]._cron_run_journeys()
            self.assertEqual(len(self._sends(self.wake_up)), 1, "once only")
            mail = self.env["mail.mail"].search(
                [("model", "=", "res.partner"), ("res_id", "=", self.fan.id)]
            )
            self.assertEqual(len(mail), 1)
            self.assertEqual(mail.state, "outgoing")
            self.assertIn("fan@example.com", mail.email_to)
            self.assertIn("We miss you", mail.subject)
            self.assertIn(self.fan._hk_unsubscribe_url(), mail.body_html)
            self.assertIn("List-Unsubscribe", mail.headers)
        with freeze_time("2026-03-10 20:00:00"):
            self.env["housekeeping.journey"]._cron_run_journeys()
            self.assertEqual(len(self._sends(self.wake_up)), 1)
            self._visit(partner=self.fan, date="2026-03-10 09:00:00")
            self.assertTrue(send.converted)
            self.assertEqual(send.converted_visit_id.partner_id, self.fan)
            self.assertEqual(self.wake_up.sent_count, 1)
            self.assertEqual(self.wake_up.converted_count, 1)
            self.assertEqual(self.wake_up.conversion_rate, 100.0)
        with freeze_time("2026-05-09 20:00:00"):  # a new lapse of 60 days
            self.env["housekeeping.journey"]._cron_run_journeys()
            self.assertEqual(len(self._sends(self.wake_up)), 2)

    def test_recommendations_in_callbacks_and_wake_up(self):
        """The recommended services, with their reason, are in the VIP callback the
        agent works and in the wake-up e-mail the customer reads."""
        window = self.env.ref("housekeeping_membership.service_type_glass")
        self.env["housekeeping.recommendation"].create(
            {
                "partner_id": self.fan.id,
                "service_type_id": window.id,
                "rank": 1,
                "score": 50,
                "basis": "history",
                "source_service_type_id": self.service_hourly.id,
                "percent": 34,
            }
        )
        reason = f"Bought by 34% of customers who book {self.service_hourly.name}."
        callback = self.env.ref("housekeeping_membership.mail_activity_type_callback")
        with freeze_time("2026-01-01 20:00:00"):
            self._visit(partner=self.fan, date="2026-01-01 09:00:00")
            self.fan.category_id = [(4, self.vip.id)]
            self.Partner._cron_evaluate_vip()
            activity = self.fan.activity_ids.filtered(lambda a: a.activity_type_id == callback)
            self.assertIn(window.name, activity.note)
            self.assertIn(reason, activity.note)
        with freeze_time("2026-03-02 20:00:00"):
            self.env["housekeeping.journey"]._cron_run_journeys()
            mail = self.env["mail.mail"].search(
                [("model", "=", "res.partner"), ("res_id", "=", self.fan.id)]
            )
            self.assertIn(window.name, mail.body_html)
            self.assertIn(reason, mail.body_html)

    def test_merge_keeps_once_only_log(self):
        twin = self.Partner.create(
            {"name": "Fan (duplicate)", "email": "fan2@example.com", "consent_email": True}
        )
        with freeze_time("2026-01-01 20:00:00"):
            self._visit(partner=self.fan, date="2026-01-01 09:00:00")
            self._visit(partner=twin, date="2026-01-01 09:00:00")
        with freeze_time("2026-03-02 20:00:00"):
            self.env["housekeeping.journey"]._cron_run_journeys()
        self.assertEqual(len(self._sends(self.wake_up)), 2)
        other = self.Send.create(
            {
                "journey_id": self.next_visit.id,
                "partner_id": twin.id,
                "channel": "email",
                "period_key": "due:2026-01-01",
            }
        )
        wizard = self.env["base.partner.merge.automatic.wizard"].create({})
        wizard._merge((self.fan | twin).ids, self.fan)
        self.assertEqual(self._sends(self.wake_up).partner_id, self.fan)
        self.assertEqual(len(self._sends(self.wake_up)), 1, "the duplicate occasion is dropped")
        self.assertEqual(other.partner_id, self.fan, "other messages move")

    def test_conversion_window(self):
        with freeze_time("2026-01-01 20:00:00"):
            self._visit(partner=self.fan, date="2026-01-01 09:00:00")
        with freeze_time("2026-03-02 20:00:00"):
            self.env["housekeeping.journey"]._cron_run_journeys()
        with freeze_time("2026-03-20 20:00:00"):  # 18 days later: outside 14 days
            self._visit(partner=self.fan, date="2026-03-20 09:00:00")
            self.assertFalse(self._sends(self.wake_up).converted)

    def test_next_visit_nudge(self):
        regular = self.Partner.create(
            {"name": "Regular", "email": "r@example.com", "consent_email": True}
        )
        with freeze_time("2026-01-29 20:00:00"):
            for day in ("01", "15", "29"):
                self._visit(partner=self.fan, date=f"2026-01-{day} 09:00:00")
                self._visit(partner=regular, date=f"2026-01-{day} 09:00:00")
            # the regular customer already booked the next visit
            self._visit(partner=regular, date="2026-02-12 09:00:00", state="scheduled")
        # due 2026-02-12 (every 14 days), nudged 3 days before
        with freeze_time("2026-02-08 20:00:00"):
            self.env["housekeeping.journey"]._cron_run_journeys()
            self.assertFalse(self._sends(self.next_visit))
        with freeze_time("2026-02-09 20:00:00"):
            self.env["housekeeping.journey"]._cron_run_journeys()
            self.assertEqual(self._sends(self.next_visit).partner_id, self.fan)
        with freeze_time("2026-02-10 20:00:00"):
            self.env["housekeeping.journey"]._cron_run_journeys()
            self.assertEqual(len(self._sends(self.next_visit)), 1, "once per due visit")

    def test_birthday_greeting_once_a_year(self):
        self.fan.birthday = date(1990, 3, 5)
        stranger = self.Partner.create(
            {
                "name": "Never served",
                "email": "s@example.com",
                "consent_email": True,
                "birthday": date(1991, 3, 5),
            }
        )
        with freeze_time("2026-03-01 20:00:00"):
            self._visit(partner=self.fan, date="2026-03-01 09:00:00")
        with freeze_time("2026-03-04 20:00:00"):
            self.Partner._cron_birthday()
            self.assertFalse(self._sends(self.birthday))
        with freeze_time("2026-03-05 20:00:00"):
            self.Partner._cron_birthday()
            self.Partner._cron_birthday()
            sends = self._sends(self.birthday)
            self.assertEqual(sends.partner_id, self.fan, "audience: customers with a visit")
            self.assertEqual(sends.period_key, "birthday:2026")
            self.assertNotIn(stranger, sends.partner_id)
        with freeze_time("2027-03-05 20:00:00"):
            self.Partner._cron_birthday()
            self.assertEqual(len(self._sends(self.birthday)), 2)

    def test_birthday_greeting_caught_up_after_days_without_scheduler(self):
        self.fan.birthday = date(1990, 3, 5)
        self.birthday.last_complete_date = False
        with freeze_time("2026-03-01 20:00:00"):
            self._visit(partner=self.fan, date="2026-03-01 09:00:00")
        with freeze_time("2026-03-03 20:00:00"):
            self.Partner._cron_birthday()
        self.assertEqual(self.birthday.last_complete_date, date(2026, 3, 3))
        # 4, 5 and 6 March pass without scheduler
        with freeze_time("2026-03-07 20:00:00"):
            self.Partner._cron_birthday()
            self.Partner._cron_birthday()
        sends = self._sends(self.birthday)
        self.assertEqual(sends.partner_id, self.fan)
        self.assertEqual(sends.period_key, "birthday:2026")

    def test_sms_channel_consent_and_offers(self):
        program = (
            self.env["loyalty.program"]
            .with_context(default_program_type="coupons")
            .create({"name": "Come back coupon"})
        )
        only_email = self.Partner.create(
            {
                "name": "Email only",
                "email": "e@example.com",
                "phone": "13900139000",
                "consent_email": True,
            }
        )
        journey = self.env["housekeeping.journey"].create(
            {
                "name": "Holiday SMS",
                "trigger": "holiday",
                "holiday_date": "2026-02-17",
                "delay_days": 2,
                "channel": "sms",
                "sms_template_id": self.env.ref(
                    "housekeeping_membership.sms_template_journey_wake_up"
                ).id,
                "offer_type": "coupon",
                "loyalty_program_id": program.id,
                "audience_domain": "[('id', 'in', %s)]" % [self.fan.id, only_email.id],
            }
        )
        with freeze_time("2026-02-14 20:00:00"):
            self.env["housekeeping.engine.journey"]._run_journeys(journey, date(2026, 2, 14), 100)
            self.assertFalse(self._sends(journey), "too early")
        with freeze_time("2026-02-15 20:00:00"):
            self.env["housekeeping.journey"]._cron_run_journeys()
            send = self._sends(journey)
            self.assertEqual(send.partner_id, self.fan, "SMS consent needed")
            self.assertEqual(send.channel, "sms")
            sms = self.env["sms.sms"].search([("partner_id", "=", self.fan.id)])
            self.assertEqual(sms.state, "outgoing")
            self.assertEqual(sms.number, "13800138000")
            self.assertIn("Customer Fan", sms.body)
            self.assertEqual(send.offer_card_id.program_id, program)
            self.assertEqual(send.offer_card_id.partner_id, self.fan)
        with freeze_time("2026-02-16 20:00:00"):
            self.env["housekeeping.journey"]._cron_run_journeys()
            self.assertEqual(len(self._sends(journey)), 1)
            self.assertEqual(
                self.env["loyalty.card"].search_count([("program_id", "=", program.id)]), 1
            )

    def test_bonus_points_and_period(self):
        self.company.hk_points_validity_months = 12
        journey = self.wake_up.copy(
            {"name": "Wake-up with points", "offer_type": "points", "bonus_points": 50}
        )
        self.wake_up.active = False
        with freeze_time("2026-01-01 20:00:00"):
            self._visit(partner=self.fan, date="2026-01-01 09:00:00", amount=0)
        with freeze_time("2026-03-02 20:00:00"):
            self.env["housekeeping.journey"]._cron_run_journeys()
            self.env["housekeeping.journey"]._cron_run_journeys()
        self.assertEqual(self.fan.points_balance, 50, "points granted once")
        self.assertEqual(len(self._sends(journey)), 1)

    def test_run_now(self):
        with freeze_time("2026-01-01 20:00:00"):
            self._visit(partner=self.fan, date="2026-01-01 09:00:00")
        with freeze_time("2026-03-05 20:00:00"):
            action = self.wake_up.with_user(self.manager).action_run_now()
            self.assertEqual(action["tag"], "display_notification")
            self.assertEqual(self._sends(self.wake_up).partner_id, self.fan)
            self.assertEqual(self.wake_up.action_view_sends()["domain"][0][2], self.wake_up.id)

    def test_journey_validation(self):
        journey = self.env["housekeeping.journey"]
        with self.assertRaises(ValidationError):
            journey.create({"name": "No template", "trigger": "wake_up", "channel": "email"})
        with self.assertRaises(ValidationError):
            self.wake_up.audience_domain = "[('no_such_field', '=', 1)]"

    def test_consent_date_follows_changes(self):
        with freeze_time("2026-03-01 10:00:00"):
            partner = self.Partner.create({"name": "Consenting", "consent_email": True})
            self.assertEqual(
                partner.consent_date, fields.Datetime.to_datetime("2026-03-01 10:00:00")
            )
        with freeze_time("2026-03-02 10:00:00"):
            partner.write({"consent_email": True, "consent_sms": False})
            self.assertEqual(partner.consent_date.day, 1, "same answers: same date")
            partner.write({"consent_sms": True, "consent_source": "phone"})
            self.assertEqual(partner.consent_date.day, 2)

    def test_unsubscribe_token(self):
        token = self.fan._hk_unsubscribe_token()
        self.assertTrue(self.fan._hk_check_unsubscribe_token(token))
        self.assertFalse(self.fan._hk_check_unsubscribe_token(token[:-1] + "x"))
        self.assertFalse(self.customer._hk_check_unsubscribe_token(token))
        self.assertTrue(self.fan.consent_date)


@tagged("post_install", "-at_install")
class TestRecommendations(EngagementCase):
    @freeze_time("2026-03-05 20:00:00")
    def test_co_occurrence_top_services(self):
        hourly, deep, appliance = self.service_hourly, self.service_deep, self.service_appliance
        history = {
            "A1": (hourly, deep),
            "A2": (hourly, deep),
            "A3": (hourly, appliance),
            "A4": (hourly, deep, appliance),
            "T": (hourly,),
            "U": (deep,),
            "Full": (hourly, deep, appliance),
        }
        partners = {}
        for name, types in history.items():
            partners[name] = self.Partner.create({"name": name})
            for i, service in enumerate(types):
                self._visit(
                    partner=partners[name], date=f"2026-03-0{i + 1} 09:00:00", service_type=service
                )
        # a cancelled visit does not count
        self._visit(partner=partners["U"], service_type=appliance, state="cancelled")
        model = self.env["housekeeping.recommendation"]
        count = model._cron_recommend_services()
        rows = model.search([])
        # idempotent: a rebuild with nothing changed rewrites nothing
        self.assertEqual(model._cron_recommend_services(), 0)
        self.assertEqual(model.search([]), rows, "the rows still right stay in place")
        t = partners["T"].hk_recommendation_ids
        self.assertEqual(t.mapped("service_type_id"), deep | appliance)
        self.assertEqual(t.mapped("rank"), [1, 2])
        self.assertEqual(t[0].service_type_id, deep, "4 customers pair hourly with deep")
        self.assertEqual(t[0].support, 4)
        self.assertEqual((t[0].basis, t[0].percent), ("history", 67), "4 of the 6 hourly customers")
        self.assertEqual(t[0].explanation, "Bought by 67% of customers who book Hourly Cleaning.")
        self.assertEqual((t[1].service_type_id, t[1].support), (appliance, 3))
        u = partners["U"].hk_recommendation_ids
        self.assertEqual(u.mapped("service_type_id"), hourly | appliance)
        self.assertEqual(u[1].source_service_type_id, deep)
        self.assertFalse(partners["Full"].hk_recommendation_ids, "nothing left to suggest")
        self.assertEqual(
            count, model.search_count([("partner_id", "in", [p.id for p in partners.values()])])
        )
        # deep and appliance were booked together by 2 customers only
        self.env["ir.config_parameter"].set_param(
            "housekeeping_membership.recommendation_min_customers", 3
        )
        kept = partners["T"].hk_recommendation_ids
        model._cron_recommend_services()
        self.assertEqual(partners["U"].hk_recommendation_ids.service_type_id, hourly)
        self.assertEqual(
            partners["T"].hk_recommendation_ids.filtered(lambda r: r.rank == 1),
            kept.filtered(lambda r: r.rank == 1),
            "an unchanged recommendation is kept, not rewritten",
        )

    def test_co_occurrence_beyond_64_service_types(self):
        """A customer's set of services is a bit string as long as the highest
        service type id: no limit of 64 types (nor an error past it)."""
        extra = self.env["housekeeping.service.type"].create(
            [{"name": f"Extra {i}", "code": f"X{i}"} for i in range(70)]
        )
        near, far = self.service_hourly, extra[-1]
        self.assertGreater(far.id, 64)
        for i in range(3):
            buyer = self.Partner.create({"name": f"Buyer {i}"})
            self._visit(partner=buyer, date="2026-03-02 09:00:00", service_type=near)
            self._visit(partner=buyer, date="2026-03-03 09:00:00", service_type=far)
        lone = self.Partner.create({"name": "Lone"})
        self._visit(partner=lone, date="2026-03-02 09:00:00", service_type=near)
        self.env["housekeeping.recommendation"]._cron_recommend_services()
        rec = lone.hk_recommendation_ids.filtered(lambda r: r.service_type_id == far)
        self.assertEqual((rec.basis, rec.support, rec.percent), ("history", 3, 75))
        self.assertEqual(rec.source_service_type_id, near)
        buyer_recs = self.env["housekeeping.recommendation"].search(
            [("partner_id.name", "like", "Buyer %"), ("service_type_id", "in", (near | far).ids)]
        )
        self.assertFalse(buyer_recs, "no recommendation of a service the customer uses")

    def _customer(self, name, history, tags=None):
        partner = self.Partner.create(
            {
                "name": name,
                "household_tag_ids": [(6, 0, (tags or self.env["housekeeping.household.tag"]).ids)],
            }
        )
        for service, when in history:
            self._visit(partner=partner, date=f"{when} 09:00:00", service_type=service)
        return partner

    def _known_dataset(self):
        """Pet households book glass cleaning, others deep cleaning; two customers
        book appliance cleaning in May / June of earlier years."""
        self.env["housekeeping.service.type"].search([]).season_months = False
        hourly, deep, appliance = self.service_hourly, self.service_deep, self.service_appliance
        glass = self.env.ref("housekeeping_membership.service_type_glass")
        appliance.season_months = "5,6"
        pets = self.env.ref("housekeeping_membership.household_tag_pets")
        h, d, g = (hourly, "2026-03-02"), (deep, "2026-03-03"), (glass, "2026-03-04")
        people = {
            "P1": self._customer("P1", [h, g], pets),
            "P2": self._customer("P2", [h, g], pets),
            "P3": self._customer("P3", [h, d], pets),
            "N1": self._customer("N1", [h, d]),
            "N2": self._customer("N2", [h, d]),
            "N3": self._customer("N3", [h, d]),
            "X": self._customer("X", [h], pets),
            "S": self._customer(
                "S", [(appliance, "2024-05-10"), (appliance, "2025-05-12"), (hourly, "2026-03-05")]
            ),
            "S2": self._customer("S2", [(appliance, "2025-06-01")]),
        }
        return people, glass

    @freeze_time("2026-04-20 20:00:00")
    def test_household_profile_and_season(self):
        deep, appliance = self.service_deep, self.service_appliance
        people, glass = self._known_dataset()
        self.env["housekeeping.recommendation"]._cron_recommend_services()

        def result(name):
            return [
                (r.service_type_id, r.basis, r.score, r.explanation)
                for r in people[name].hk_recommendation_ids
            ]

        # X (pets, hourly): by history alone deep (4 of 8 hourly customers: 50) comes
        # before glass (2 of 8: 25); 2 of the 4 pet households book glass (+50)
        self.assertEqual(
            result("X"),
            [
                (
                    glass,
                    "profile",
                    75.0,
                    "Households like yours (Pets) also book Window Cleaning: 50% of them.",
                ),
                (deep, "history", 50.0, "Bought by 50% of customers who book Hourly Cleaning."),
                (appliance, "calendar", 10.0, "Appliance Cleaning is in season from May."),
            ],
        )
        # S booked appliance cleaning in May 2024 and 2025: first, for its season
        self.assertEqual(
            result("S"),
            [
                (
                    appliance,
                    "season",
                    100.0,
                    "You book Appliance Cleaning every May: its season is coming.",
                ),
                (deep, "history", 50.0, "Bought by 50% of customers who book Hourly Cleaning."),
                (glass, "history", 25.0, "Bought by 25% of customers who book Hourly Cleaning."),
            ],
        )
        self.assertEqual(
            result("S2"),
            [
                (
                    appliance,
                    "season",
                    100.0,
                    "You booked Appliance Cleaning in June before: its season is coming.",
                )
            ],
        )
        # N1 (no household tag): history and the service season only
        self.assertEqual(
            [(r.service_type_id, r.basis) for r in people["N1"].hk_recommendation_ids],
            [(glass, "history"), (appliance, "calendar")],
        )
        # once booked again this season, the season recommendation goes; a booked
        # visit ahead removes a recommendation too
        self._visit(partner=people["S2"], date="2026-04-18 09:00:00", service_type=appliance)
        self._visit(
            partner=people["X"], date="2026-04-25 09:00:00", service_type=glass, state="draft"
        )
        self.env["housekeeping.recommendation"]._cron_recommend_services()
        self.assertFalse(people["S2"].hk_recommendation_ids)
        self.assertEqual(people["X"].hk_recommendation_ids.service_type_id, deep | appliance)

    @freeze_time("2026-10-20 20:00:00")
    def test_no_season_out_of_season(self):
        people, _glass = self._known_dataset()
        self.env["housekeeping.recommendation"]._cron_recommend_services()
        self.assertNotIn("season", people["S"].hk_recommendation_ids.mapped("basis"))
        self.assertNotIn("calendar", people["X"].hk_recommendation_ids.mapped("basis"))

    def test_explanation_in_chinese(self):
        self.env["res.lang"]._activate_lang("zh_CN")
        rec = self.env["housekeeping.recommendation"].new(
            {
                "basis": "season",
                "service_type_id": self.service_appliance.id,
                "season_month": 5,
                "season_years": 2,
            }
        )
        self.assertIn("五月", rec.with_context(lang="zh_CN").explanation)


@tagged("post_install", "-at_install")
class TestEngagementQueryCount(EngagementCase):
    def test_recommendation_query_count_does_not_grow(self):
        model = self.env["housekeeping.recommendation"]
        pets = self.env.ref("housekeeping_membership.household_tag_pets")

        def grow(prefix, count):
            partners = self.Partner.create(
                [
                    {
                        "name": f"{prefix}{i}",
                        "household_tag_ids": [(6, 0, pets.ids if i % 2 else [])],
                    }
                    for i in range(count)
                ]
            )
            visits = self.env["housekeeping.visit"].create(
                [
                    {
                        "partner_id": p.id,
                        "service_type_id": service.id,
                        "date": "2025-05-10 09:00:00",
                        "amount": 0,
                        "state": "draft",
                    }
                    for i, p in enumerate(partners)
                    for service in (
                        self.service_hourly,
                        (self.service_deep, self.service_appliance)[i % 2],
                    )
                ]
            )
            visits.action_done()

        with freeze_time("2026-04-20 20:00:00"):
            grow("Few", 5)
            model._cron_recommend_services()  # warm the caches
            queries_small = self._counted(model._cron_recommend_services, "2026-04-20 20:00:00")
            grow("Many", 100)
            queries_large = self._counted(model._cron_recommend_services, "2026-04-20 20:00:00")
        self.assertTrue(model.search_count([]) > 100)
        self.assertEqual(queries_small, queries_large)

    def test_first_run_refreshes_the_planner_statistics(self):
        """A first run fills a table whose statistics say it is empty; it refreshes
        them as the table doubles, or each range would read the whole table."""
        model = self.env["housekeeping.recommendation"]
        model.search([]).unlink()
        self.env.cr.execute("ANALYZE housekeeping_recommendation")
        partners = self.Partner.create([{"name": f"Stats {i}"} for i in range(30)])
        for i, partner in enumerate(partners):
            self._visit(partner=partner, service_type=self.service_hourly)
            if i % 2:
                self._visit(partner=partner, service_type=self.service_deep)
        self.env["ir.config_parameter"].set_param(
            "housekeeping_membership.recommendation_batch_size", 10
        )
        with patch.object(recommendation_engine, "ANALYZE_MIN_ROWS", 5):
            written = model._cron_recommend_services()
        self.env.cr.execute(
            "SELECT reltuples FROM pg_class WHERE oid = 'housekeeping_recommendation'::regclass"
        )
        self.assertGreater(written, 10)
        self.assertGreater(self.env.cr.fetchone()[0], 5, "statistics taken during the run")

    def _counted(self, method, when):
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.cr.sql_log_count
        with freeze_time(when):
            method()
        return self.cr.sql_log_count - before

    def test_vip_query_count_does_not_grow(self):
        small = self._population("Small", 50)
        queries_small = self._counted(self.Partner._cron_evaluate_vip, "2026-03-05 20:00:00")
        self.assertTrue(all(self.vip in p.category_id for p in small))
        large = self._population("Large", 500)
        queries_large = self._counted(self.Partner._cron_evaluate_vip, "2026-03-05 20:00:00")
        self.assertTrue(all(self.vip in p.category_id for p in large))
        self.assertEqual(len(large.activity_ids), 500)
        # warm caches may make the second run cheaper; it must never cost more
        self.assertLessEqual(
            queries_large - queries_small,
            3,
            f"50 customers: {queries_small} queries, 500: {queries_large}",
        )

    def _counted_apart(self, method, when, tables):
        """``(queries, inserts)``: the queries of ``method``, apart from the
        INSERTs into ``tables``, and those INSERTs."""
        statements = []
        execute = sql_db.Cursor.execute

        def logged(cursor, query, params=None, log_exceptions=True):
            statements.append(str(query))
            return execute(cursor, query, params, log_exceptions)

        with patch.object(sql_db.Cursor, "execute", logged):
            total = self._counted(method, when)
        inserts = sum(
            1 for query in statements if any(f'INSERT INTO "{table}"' in query for table in tables)
        )
        return total - inserts, inserts

    def test_journey_query_count_does_not_grow(self):
        """The e-mails (with their chatter messages) and SMS are created through
        the ORM, which inserts them 100 rows at a time; every other query of the
        run is independent of the audience."""
        journey = self.wake_up
        journey.write({"channel": "both", "offer_type": "points", "bonus_points": 10})
        self.next_visit.active = False
        queues = ("mail_message", "mail_mail", "sms_sms")
        small = self._population("Small", 50)
        queries_small, inserts_small = self._counted_apart(
            self.env["housekeeping.journey"]._cron_run_journeys, "2026-04-05 20:00:00", queues
        )
        self.assertEqual(inserts_small, 3, "one INSERT a queue for 50 customers")
        self.assertEqual(len(self._sends(journey)), 50)
        large = self._population("Large", 500)
        queries_large, inserts_large = self._counted_apart(
            self.env["housekeeping.journey"]._cron_run_journeys, "2026-04-05 20:00:00", queues
        )
        self.assertEqual(inserts_large, 15, "the ORM inserts 100 rows at a time")
        self.assertEqual(len(self._sends(journey)), 550)
        self.assertEqual(self.env["sms.sms"].search_count([("partner_id", "in", large.ids)]), 500)
        self.assertEqual(
            self.env["mail.mail"].search_count(
                [("model", "=", "res.partner"), ("res_id", "in", large.ids)]
            ),
            500,
        )
        self.assertTrue(all(p.points_balance >= 10 for p in small | large))
        self.assertLessEqual(
            abs(queries_large - queries_small),
            5,
            f"50 customers: {queries_small} queries, 500: {queries_large}",
        )


@tagged("post_install", "-at_install")
class TestEngagementRoutes(HttpCase):
    def test_customer_rates_from_the_survey_link(self):
        partner = self.env["res.partner"].create(
            {"name": "Rater", "email": "rater@example.com", "consent_email": True}
        )
        visit = self.env["housekeeping.visit"].create(
            {
                "partner_id": partner.id,
                "service_type_id": self.env.ref("housekeeping_membership.service_type_hourly").id,
                "date": fields.Datetime.now() - timedelta(hours=3),
                "amount": 100,
            }
        )
        visit.action_done()
        token = visit.rating_ids.access_token
        self.assertTrue(token, "the survey e-mail created the pending rating")
        self.authenticate(None, None)
        page = self.url_open(f"/rate/{token}/1")
        self.assertEqual(page.status_code, 200)
        self.assertFalse(visit.complaint_ids, "opening the link alone rates nothing")
        response = self.url_open(
            f"/rate/{token}/submit_feedback",
            data={"rate": 1, "csrf_token": http.Request.csrf_token(self), "feedback": "Late"},
        )
        response.raise_for_status()
        visit.invalidate_recordset()
        self.assertEqual(visit.rating_last_value, 1)
        self.assertEqual(visit.complaint_ids.severity, "high")
        self.assertEqual(visit.complaint_ids.activity_ids.activity_type_id.name, "Service Recovery")

    def _leaving(self):
        return self.env["res.partner"].create(
            {
                "name": "Leaving",
                "email": "leaving@example.com",
                "consent_email": True,
                "consent_sms": True,
                "consent_source": "form",
                "consent_date": "2026-01-01 08:00:00",
            }
        )

    def _assert_subscribed(self, partner):
        partner.invalidate_recordset()
        self.assertTrue(partner.consent_email)
        self.assertTrue(partner.consent_sms)
        self.assertEqual(partner.consent_source, "form")
        self.assertEqual(str(partner.consent_date), "2026-01-01 08:00:00")

    def test_unsubscribe_get_changes_nothing(self):
        """A link scanner (or a preview) opening the link unsubscribes nobody."""
        partner = self._leaving()
        url = partner._hk_unsubscribe_url()
        for _attempt in range(2):
            response = self.url_open(url)
            self.assertEqual(response.status_code, 200)
            self.assertIn("hk_unsubscribe_confirm", response.text)
            self.assertIn('method="post"', response.text)
            self.assertIn('name="viewport"', response.text, "made for phones")
        self._assert_subscribed(partner)

    def test_unsubscribe_post_with_valid_token(self):
        partner = self._leaving()
        url = partner._hk_unsubscribe_url()
        self.authenticate(None, None)  # no login
        response = self.url_open(url, data={"confirm": "1"})
        self.assertEqual(response.status_code, 200)
        self.assertIn("hk_unsubscribed", response.text)
        partner.invalidate_recordset()
        self.assertFalse(partner.consent_email)
        self.assertFalse(partner.consent_sms)
        self.assertEqual(partner.consent_source, "unsubscribe")
        self.assertGreater(partner.consent_date, fields.Datetime.to_datetime("2026-01-02"))
        self.assertTrue(
            partner.message_ids.filtered(lambda m: "unsubscribe page" in (m.body or ""))
        )
        # opening the link again says so, and changes nothing
        response = self.url_open(url)
        self.assertIn("hk_already_unsubscribed", response.text)

    def test_unsubscribe_one_click(self):
        """RFC 8058: the mail client posts List-Unsubscribe=One-Click to the link."""
        partner = self._leaving()
        response = self.url_open(
            partner._hk_unsubscribe_url(), data={"List-Unsubscribe": "One-Click"}
        )
        self.assertEqual(response.status_code, 200)
        partner.invalidate_recordset()
        self.assertFalse(partner.consent_email)
        self.assertTrue(partner.message_ids.filtered(lambda m: "one-click" in (m.body or "")))

    def test_unsubscribe_bad_token(self):
        partner = self._leaving()
        other = self.env["res.partner"].create({"name": "Other", "consent_email": True})
        token = partner._hk_unsubscribe_token()
        for url in (
            f"/housekeeping/unsubscribe/{partner.id}/{token}x",
            f"/housekeeping/unsubscribe/{partner.id}/{token[:-1]}",
            f"/housekeeping/unsubscribe/{other.id}/{token}",
            f"/housekeeping/unsubscribe/999999999/{token}",
        ):
            for data in (None, {"confirm": "1"}, {"List-Unsubscribe": "One-Click"}):
                response = self.url_open(url, data=data)
                self.assertEqual(response.status_code, 404, url)
                self.assertIn("hk_invalid", response.text)
                self.assertIn("nothing was changed", response.text)
        self._assert_subscribed(partner)
        other.invalidate_recordset()
        self.assertTrue(other.consent_email)

    def test_every_marketing_message_has_the_link(self):
        journeys = self.env["housekeeping.journey"].with_context(active_test=False).search([])
        self.assertGreaterEqual(len(journeys), 5)
        for template in journeys.mail_template_id:
            self.assertIn("_hk_unsubscribe_url()", template.body_html, template.name)
        for template in journeys.sms_template_id:
            self.assertIn("TD", template.body, template.name)


@tagged("post_install", "-at_install")
class TestEngagementScheduledActions(EngagementCase):
    def test_scheduled_actions_run_in_batches(self):
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("housekeeping_membership.vip_batch_size", 2)
        params.set_param("housekeeping_membership.journey_batch_size", 2)
        self.next_visit.active = False
        partners = self._population("Batch", 5)
        with freeze_time("2026-04-05 20:00:00"), self.enter_registry_test_mode():
            self.env.ref("housekeeping_membership.ir_cron_vip_evaluate").method_direct_trigger()
            self.env.ref("housekeeping_membership.ir_cron_journeys").method_direct_trigger()
        self.env.invalidate_all()
        self.assertTrue(all(self.vip in p.category_id for p in partners))
        self.assertEqual(len(partners.activity_ids), 5, "one VIP callback each")
        self.assertEqual(len(self._sends(self.wake_up)), 5)
        with freeze_time("2026-04-05 20:00:00"):
            # a second run changes nothing
            self.assertEqual(self.Partner._cron_evaluate_vip(), 0)
            self.assertEqual(self.env["housekeeping.journey"]._cron_run_journeys(), 0)
        self.assertEqual(len(partners.activity_ids), 5)
