"""Engagement with the tier capability: upgrade journeys and tier birthday coupons."""

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
        cls.silver.write({"min_spend": 1000, "min_visits": 5})
        cls.program = (
            cls.env["loyalty.program"]
            .with_context(default_program_type="coupons")
            .create({"name": "Silver birthday: free hourly cleaning"})
        )
        cls.silver.birthday_program_id = cls.program
        cls.upgrade = cls.env["housekeeping.journey"].create(
            {
                "name": "Welcome to your new tier",
                "trigger": "upgrade",
                "delay_days": 7,
                "channel": "email",
                "mail_template_id": cls.env.ref(
                    "housekeeping_membership.mail_template_journey_wake_up"
                ).id,
            }
        )

    def test_upgrade_journey_and_birthday_coupon(self):
        journeys = self.env["housekeeping.journey"]
        with freeze_time("2026-03-05 20:00:00"):
            for day in range(1, 5):
                self._visit(partner=self.fan, date=f"2026-03-0{day} 09:00:00", amount=200)
            self.assertTrue(self.fan.membership_tier_id)
            self.assertNotEqual(self.fan.membership_tier_id, self.silver)
            journeys._cron_run_journeys()
            self.assertFalse(self._sends(self.upgrade), "entering the first tier is no upgrade")
            self._visit(partner=self.fan, date="2026-03-05 09:00:00", amount=200)
            self.assertEqual(self.fan.membership_tier_id, self.silver)
            journeys._cron_run_journeys()
            journeys._cron_run_journeys()
            send = self._sends(self.upgrade)
            self.assertEqual(send.partner_id, self.fan)
            self.assertTrue(send.period_key.startswith("upgrade:"))
        with freeze_time("2026-03-20 20:00:00"):
            journeys._cron_run_journeys()
            self.assertEqual(len(self._sends(self.upgrade)), 1, "once per upgrade")
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
