"""Engagement with the tier capability: the built-in upgrade gift pack and holiday
campaign journeys, tier birthday coupons."""

from datetime import date

from freezegun import freeze_time

from odoo.tests import tagged

from .test_engagement import EngagementCase


@tagged("post_install", "-at_install")
class TestEngagementTiers(EngagementCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.silver = cls.env.ref("housekeeping_membership.tier_silver")
        cls.gold = cls.env.ref("housekeeping_membership.tier_gold")
        cls.silver.write({"min_spend": 1000, "min_visits": 5, "upgrade_points": 0})
        cls.gold.write({"min_spend": 3000, "min_visits": 0})
        cls.program = (
            cls.env["loyalty.program"]
            .with_context(default_program_type="coupons")
            .create({"name": "Silver birthday: free hourly cleaning"})
        )
        cls.silver.birthday_program_id = cls.program
        cls.welcome = (
            cls.env["loyalty.program"]
            .with_context(default_program_type="coupons")
            .create({"name": "Silver welcome: free window cleaning"})
        )
        cls.silver.upgrade_program_id = cls.welcome
        cls.upgrade = cls.env.ref("housekeeping_membership.journey_upgrade")
        cls.holiday = cls.env.ref("housekeeping_membership.journey_holiday")
        cls.company.hk_points_validity_months = 12
        (cls.next_visit | cls.wake_up).active = False  # only the journeys under test

    def _mails(self, partner):
        return self.env["mail.mail"].search(
            [("model", "=", "res.partner"), ("res_id", "=", partner.id)]
        )

    def test_builtin_journeys_on_by_default(self):
        self.assertTrue(self.upgrade.active)
        self.assertTrue(self.holiday.active)
        self.assertEqual(self.upgrade.trigger, "upgrade")
        self.assertEqual(self.holiday.trigger, "holiday")
        self.assertEqual(
            self.holiday.offer_ids.mapped("tier_id"),
            self.silver | self.gold | self.env.ref("housekeeping_membership.tier_black"),
        )

    def test_upgrade_gift_pack_message(self):
        journeys = self.env["housekeeping.journey"]
        silent = self.Partner.create({"name": "No consent", "email": "silent@example.com"})
        with freeze_time("2026-03-05 20:00:00"):
            for day in range(1, 5):
                self._visit(partner=self.fan, date=f"2026-03-0{day} 09:00:00", amount=200)
            self.assertTrue(self.fan.membership_tier_id)
            self.assertNotEqual(self.fan.membership_tier_id, self.silver)
            journeys._cron_run_journeys()
            self.assertFalse(self._sends(self.upgrade), "entering the first tier is no upgrade")
            self.assertFalse(self._mails(self.fan))
            # the 5th visit crosses Silver: the journey sends at once, with the gift code
            self._visit(partner=self.fan, date="2026-03-05 09:00:00", amount=200)
            self.assertEqual(self.fan.membership_tier_id, self.silver)
            send = self._sends(self.upgrade)
            self.assertEqual(send.partner_id, self.fan)
            self.assertTrue(send.period_key.startswith("upgrade:"))
            mail = self._mails(self.fan)
            self.assertEqual(len(mail), 1, "one message: the engine sends no e-mail of its own")
            self.assertIn("Welcome to Silver", mail.subject)
            card = self.env["loyalty.card"].search(
                [("partner_id", "=", self.fan.id), ("program_id", "=", self.welcome.id)]
            )
            self.assertIn(card.code, str(mail.body_html), "the gift pack's coupon code")
            self.assertIn(self.fan._hk_unsubscribe_url(), str(mail.body_html))
            # the daily run, twice: nothing more
            journeys._cron_run_journeys()
            journeys._cron_run_journeys()
            self.assertEqual(len(self._sends(self.upgrade)), 1)
            self.assertEqual(len(self._mails(self.fan)), 1)
            # without consent: the gift pack, no message
            self._visit(partner=silent, date="2026-03-05 10:00:00", amount=1500)
            self.assertEqual(silent.membership_tier_id, self.silver)
            self.assertTrue(
                self.env["loyalty.card"].search([("partner_id", "=", silent.id)]),
                "the gift is given",
            )
            journeys._cron_run_journeys()
            self.assertFalse(self._sends(self.upgrade, silent))
            self.assertFalse(self._mails(silent))
        with freeze_time("2026-03-09 20:00:00"):
            journeys._cron_run_journeys()
            self.assertEqual(len(self._sends(self.upgrade)), 1, "once per upgrade")
            self._visit(partner=self.fan, date="2026-03-09 09:00:00", amount=200)
            self.assertTrue(send.converted, "a visit within 14 days converts")
            self.assertEqual(self.upgrade.converted_count, 1)
            # the next upgrade is another occasion
            self._visit(partner=self.fan, date="2026-03-09 10:00:00", amount=2000)
            self.assertEqual(self.fan.membership_tier_id, self.gold)
            self.assertEqual(len(self._sends(self.upgrade)), 2)
            self.assertIn("Welcome to Gold", self._mails(self.fan).sorted("id")[-1].subject)

    def test_upgrade_journey_archived_sends_nothing(self):
        self.upgrade.active = False
        with freeze_time("2026-03-05 20:00:00"):
            self._visit(partner=self.fan, date="2026-03-01 09:00:00", amount=200)
            self._visit(partner=self.fan, date="2026-03-05 09:00:00", amount=1000)
        self.assertEqual(self.fan.membership_tier_id, self.silver)
        self.assertFalse(self._mails(self.fan))

    def test_holiday_campaign_tier_offers(self):
        self.env["housekeeping.holiday"].create(
            {"name": "National Day", "date_from": "2026-10-01", "date_to": "2026-10-07"}
        )
        journeys = self.env["housekeeping.journey"]
        gold_member = self.Partner.create(
            {"name": "Gold Member", "email": "gold@example.com", "consent_email": True}
        )
        silent = self.Partner.create({"name": "No consent", "email": "silent@example.com"})
        prospect = self.Partner.create(
            {"name": "Prospect", "email": "p@example.com", "consent_email": True}
        )
        with freeze_time("2026-09-10 20:00:00"):
            self._visit(partner=self.fan, date="2026-09-01 09:00:00", amount=1000)
            self._visit(partner=gold_member, date="2026-09-01 09:00:00", amount=3000)
            self._visit(partner=silent, date="2026-09-01 09:00:00", amount=100)
        self.assertEqual(self.fan.membership_tier_id, self.silver)
        self.assertEqual(gold_member.membership_tier_id, self.gold)
        fan_points = self.fan.points_balance
        gold_points = gold_member.points_balance
        with freeze_time("2026-09-23 20:00:00"):  # 8 days before
            journeys._cron_run_journeys()
            self.assertFalse(self._sends(self.holiday))
        with freeze_time("2026-09-24 20:00:00"):  # 7 days before
            journeys._cron_run_journeys()
            journeys._cron_run_journeys()
            sends = self._sends(self.holiday)
            self.assertEqual(
                sends.partner_id, self.fan | gold_member, "customers with a visit and consent"
            )
            self.assertEqual(len(sends), 2)
            self.assertEqual(self.fan.points_balance - fan_points, 50, "Silver offer")
            self.assertEqual(gold_member.points_balance - gold_points, 100, "Gold offer")
            fan_mail = self._mails(self.fan).filtered(lambda m: "Holiday" in m.subject)
            self.assertIn("50 bonus points", str(fan_mail.body_html))
            self.assertIn("Silver", str(fan_mail.body_html))
            self.assertIn(self.fan._hk_unsubscribe_url(), str(fan_mail.body_html))
            gold_mail = self._mails(gold_member).filtered(lambda m: "Holiday" in m.subject)
            self.assertIn("100 bonus points", str(gold_mail.body_html))
        self.assertNotIn(prospect, sends.partner_id)
        self.assertNotIn(silent, sends.partner_id)
        with freeze_time("2026-10-05 20:00:00"):  # during the holiday
            journeys._cron_run_journeys()
            self.assertEqual(len(self._sends(self.holiday)), 2, "once per holiday")
            self.assertEqual(self.fan.points_balance - fan_points, 50)
            self._visit(partner=self.fan, date="2026-10-05 09:00:00", amount=0)
            self.assertTrue(self._sends(self.holiday, self.fan).converted)
            self.assertFalse(self._sends(self.holiday, gold_member).converted)
            self.assertEqual(self.holiday.conversion_rate, 50.0)
        with freeze_time("2026-10-08 20:00:00"):  # over
            self.env["housekeeping.holiday"].create(
                {"name": "Spring Festival", "date_from": "2027-02-06", "date_to": "2027-02-12"}
            )
            journeys._cron_run_journeys()
            self.assertEqual(len(self._sends(self.holiday)), 2)
        with freeze_time("2027-02-01 20:00:00"):  # the next holiday is a new occasion
            journeys._cron_run_journeys()
            self.assertEqual(len(self._sends(self.holiday)), 4)

    def test_birthday_coupon_of_the_tier(self):
        with freeze_time("2026-03-05 20:00:00"):
            self._visit(partner=self.fan, date="2026-03-05 09:00:00", amount=1000)
        self.assertEqual(self.fan.membership_tier_id, self.silver)
        self.fan.birthday = date(1990, 3, 21)
        with freeze_time("2026-03-21 20:00:00"):
            self.Partner._cron_birthday()
            greeting = self._sends(self.birthday)
            self.assertEqual(greeting.partner_id, self.fan)
            self.assertEqual(greeting.offer_card_id.program_id, self.program)
            self.assertEqual(greeting.offer_card_id.partner_id, self.fan)

    def test_manager_runs_the_birthday_journey(self):
        """A membership manager's *Run now* of the birthday journey gives the
        tier's coupon too (the send log is written by the engine)."""
        with freeze_time("2026-03-05 20:00:00"):
            for day in range(1, 6):
                self._visit(partner=self.fan, date=f"2026-03-0{day} 09:00:00", amount=200)
        self.assertEqual(self.fan.membership_tier_id, self.silver)
        self.fan.birthday = date(1990, 3, 21)
        with freeze_time("2026-03-21 20:00:00"):
            self.birthday.with_user(self.manager).action_run_now()
        greeting = self._sends(self.birthday)
        self.assertEqual(greeting.partner_id, self.fan)
        self.assertEqual(greeting.offer_card_id.program_id, self.program)
