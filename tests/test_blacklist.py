"""Journeys honour Odoo's blacklists (``mail.blacklist``, ``phone.blacklist``) and
the unsubscribe link fills them."""

from datetime import date

from freezegun import freeze_time

from odoo.tests import HttpCase, tagged

from .test_engagement import EngagementCase


class BlacklistCase(EngagementCase):
    def setUp(self):
        super().setUp()
        self.Journey = self.env["housekeeping.journey"]
        self.company.hk_survey_enabled = False  # only the journeys' messages
        self.company.hk_points_validity_months = 12
        # the customers of each test only (the fan of the shared fixture stays quiet)
        self.fan.write({"consent_email": False, "consent_sms": False})
        self.listed, self.clean = self.Partner.create(
            [
                {
                    "name": name,
                    "email": f"{name.lower()}@example.com",
                    "phone": phone,
                    "consent_email": True,
                    "consent_sms": True,
                    "consent_source": "form",
                }
                for name, phone in (("Listed", "+8613911110001"), ("Clean", "+8613911110002"))
            ]
        )
        self.customers = self.listed | self.clean

    def _only(self, journey, **vals):
        """Run only ``journey`` (written with ``vals``)."""
        (self.Journey.search([]) - journey).active = False
        journey.write(dict(vals, active=True))

    def _blacklist_email(self, partner):
        # a mass mailing's opt-out: the address as the customer typed it, which
        # Odoo stores normalized
        self.env["mail.blacklist"].create({"email": f"{partner.name} <{partner.email.upper()}>"})

    def _blacklist_phone(self, partner):
        self.env["phone.blacklist"].create({"number": partner.phone})

    def _mails(self, partner):
        return self.env["mail.mail"].search(
            [("model", "=", "res.partner"), ("res_id", "=", partner.id)]
        )

    def _sms(self, partner):
        return self.env["sms.sms"].search([("partner_id", "=", partner.id)])

    def _visits(self, day="2026-01-01", amount=100.0):
        with freeze_time(f"{day} 20:00:00"):
            for partner in self.customers:
                self._visit(partner=partner, date=f"{day} 09:00:00", amount=amount)


@tagged("post_install", "-at_install")
class TestJourneyBlacklist(BlacklistCase):
    def test_wake_up_skips_blacklisted_email(self):
        self._only(self.wake_up)
        self._visits()
        self._blacklist_email(self.listed)
        self.assertTrue(self.listed.is_blacklisted)
        with freeze_time("2026-03-02 20:00:00"):  # 60 days without a visit
            self.Journey._cron_run_journeys()
            self.Journey._cron_run_journeys()
        self.assertEqual(self._sends(self.wake_up).partner_id, self.clean)
        self.assertEqual(len(self._mails(self.clean)), 1, "the others still get theirs")
        self.assertFalse(self._mails(self.listed))
        self.assertFalse(self._sends(self.wake_up, self.listed), "no send logged, no retry")
        self.assertEqual(self.wake_up.sent_count, 1, "the blacklisted customer is not counted")
        with freeze_time("2026-03-03 20:00:00"):
            self.Journey._cron_run_journeys()
        self.assertFalse(self._mails(self.listed), "skipped again, never retried")
        # taken off the blacklist while the lapse lasts: the message goes then
        self.env["mail.blacklist"]._remove(self.listed.email)
        with freeze_time("2026-03-04 20:00:00"):
            self.Journey._cron_run_journeys()
        self.assertEqual(len(self._mails(self.listed)), 1)
        self.assertEqual(self._sends(self.wake_up, self.listed).period_key, "lapse:2026-01-01")

    def test_next_visit_skips_blacklisted_email(self):
        self._only(self.next_visit)
        for day in ("01", "15", "29"):
            self._visits(f"2026-01-{day}")
        self._blacklist_email(self.listed)
        # due 2026-02-12 (every 14 days), nudged 3 days before
        with freeze_time("2026-02-09 20:00:00"):
            self.Journey._cron_run_journeys()
        self.assertEqual(self._sends(self.next_visit).partner_id, self.clean)
        self.assertEqual(len(self._mails(self.clean)), 1)
        self.assertFalse(self._mails(self.listed))

    def test_birthday_skips_blacklisted_email(self):
        self._only(self.birthday)
        self.customers.write({"birthday": date(1990, 3, 5)})
        self._visits("2026-03-01")
        self._blacklist_email(self.listed)
        with freeze_time("2026-03-05 20:00:00"):
            self.Partner._cron_birthday()
        self.assertEqual(self._sends(self.birthday).partner_id, self.clean)
        self.assertEqual(len(self._mails(self.clean)), 1)
        self.assertFalse(self._mails(self.listed))

    def test_holiday_campaign_skips_blacklisted_email(self):
        holiday = self.env.ref("housekeeping_membership.journey_holiday")
        self._only(holiday)
        self.env["housekeeping.holiday"].create(
            {"name": "National Day", "date_from": "2026-10-01", "date_to": "2026-10-07"}
        )
        self._visits("2026-09-01")
        self._blacklist_email(self.listed)
        with freeze_time("2026-09-24 20:00:00"):  # 7 days before
            self.Journey._cron_run_journeys()
        self.assertEqual(self._sends(holiday).partner_id, self.clean)
        self.assertEqual(len(self._mails(self.clean)), 1)
        self.assertFalse(self._mails(self.listed))

    def test_upgrade_announcement_skips_blacklisted_email(self):
        upgrade = self.env.ref("housekeeping_membership.journey_upgrade")
        self._only(upgrade)
        silver = self.env.ref("housekeeping_membership.tier_silver")
        silver.write({"min_spend": 1000, "min_visits": 5, "upgrade_points": 0})
        self.env.ref("housekeeping_membership.tier_gold").write(
            {"min_spend": 3000, "min_visits": 0}
        )
        self._blacklist_email(self.listed)
        # the visit crosses Silver: the upgrade journey sends at once
        with freeze_time("2026-03-05 20:00:00"):
            self._visits("2026-03-05", amount=1500)
            self.assertEqual(self.listed.membership_tier_id, silver)
            self.Journey._cron_run_journeys()
        self.assertEqual(self._sends(upgrade).partner_id, self.clean)
        self.assertEqual(len(self._mails(self.clean)), 1)
        self.assertFalse(self._mails(self.listed))

    def test_sms_journey_skips_blacklisted_phone(self):
        self._only(self.wake_up, channel="sms")
        self._visits()
        self._blacklist_phone(self.listed)
        self.assertTrue(self.listed.phone_sanitized_blacklisted)
        with freeze_time("2026-03-02 20:00:00"):
            self.Journey._cron_run_journeys()
        self.assertEqual(self._sends(self.wake_up).partner_id, self.clean)
        self.assertEqual(len(self._sms(self.clean)), 1)
        self.assertFalse(self._sms(self.listed))

    def test_email_and_sms_journey_uses_the_channels_left(self):
        """A customer blacklisted on one channel gets the message on the other."""
        phone_listed = self.Partner.create(
            {
                "name": "Phone Listed",
                "email": "phone.listed@example.com",
                "phone": "+8613911110003",
                "consent_email": True,
                "consent_sms": True,
            }
        )
        self.customers |= phone_listed
        self._only(self.wake_up, channel="both")
        self._visits()
        self._blacklist_email(self.listed)
        self._blacklist_phone(phone_listed)
        with freeze_time("2026-03-02 20:00:00"):
            self.Journey._cron_run_journeys()
        sends = self._sends(self.wake_up)
        self.assertEqual(sends.partner_id, self.customers)
        channel = {send.partner_id: send.channel for send in sends}
        self.assertEqual(channel[self.listed], "sms")
        self.assertFalse(self._mails(self.listed))
        self.assertEqual(len(self._sms(self.listed)), 1)
        self.assertEqual(channel[phone_listed], "email")
        self.assertEqual(len(self._mails(phone_listed)), 1)
        self.assertFalse(self._sms(phone_listed))
        self.assertEqual(channel[self.clean], "both")
        self.assertEqual((len(self._mails(self.clean)), len(self._sms(self.clean))), (1, 1))

    def test_blacklisted_after_a_failure_is_not_retried(self):
        """A message refused by the mail server / SMS provider is not put back in
        the queue once the address is blacklisted."""
        self._only(self.wake_up, channel="both")
        self._visits()
        with freeze_time("2026-03-02 20:00:00"):
            self.Journey._cron_run_journeys()
        mail, sms = self._mails(self.listed), self._sms(self.listed)
        (mail | self._mails(self.clean)).write({"state": "exception"})
        (sms | self._sms(self.clean)).write({"state": "error", "failure_type": "sms_server"})
        # the listed customer's both addresses, the clean customer's phone only
        self._blacklist_email(self.listed)
        self._blacklist_phone(self.listed)
        self._blacklist_phone(self.clean)
        with freeze_time("2026-03-03 20:00:00"):
            self.Journey._cron_run_journeys()
        self.assertEqual(self._sends(self.wake_up, self.listed).state, "cancelled")
        self.assertEqual((mail.state, sms.state), ("cancel", "canceled"))
        clean_send = self._sends(self.wake_up, self.clean)
        self.assertEqual(clean_send.state, "queued")
        self.assertEqual(self._mails(self.clean).state, "outgoing", "the e-mail is retried")
        self.assertEqual(self._sms(self.clean).state, "canceled", "the SMS is not")

    def test_blacklisted_before_preparing_is_not_prepared(self):
        """A message still to prepare (*to retry*) is prepared by the channels left."""
        self._only(self.wake_up, channel="both")
        self._visits()
        with freeze_time("2026-03-02 20:00:00"):
            self.Journey._cron_run_journeys()
        sends = self._sends(self.wake_up)
        sends.mail_id.unlink()
        self.env["sms.sms"].search([("partner_id", "in", self.customers.ids)]).unlink()
        sends.sudo().write({"state": "retry", "attempts": 1})
        self._blacklist_email(self.listed)
        with freeze_time("2026-03-03 20:00:00"):
            self.Journey._cron_run_journeys()
        listed_send = self._sends(self.wake_up, self.listed)
        self.assertEqual((listed_send.state, listed_send.channel), ("queued", "sms"))
        self.assertFalse(self._mails(self.listed))
        self.assertEqual(len(self._sms(self.listed)), 1)
        self.assertEqual(len(self._mails(self.clean)), 1)


@tagged("post_install", "-at_install")
class TestUnsubscribeBlacklists(BlacklistCase):
    def test_unsubscribe_blacklists_both_addresses(self):
        self._only(self.wake_up, channel="both")
        self._visits()
        with freeze_time("2026-03-02 20:00:00"):
            self.Journey._cron_run_journeys()
        send = self._sends(self.wake_up, self.listed)
        mail, sms = self._mails(self.listed), self._sms(self.listed)
        self.assertEqual((mail.state, sms.state), ("outgoing", "outgoing"))
        self.listed._hk_unsubscribe()
        self.assertFalse(self.listed.consent_email)
        self.assertFalse(self.listed.consent_sms)
        self.assertEqual(self.listed.consent_source, "unsubscribe")
        self.listed.invalidate_recordset(["is_blacklisted", "phone_sanitized_blacklisted"])
        self.assertTrue(self.listed.is_blacklisted)
        self.assertTrue(self.listed.phone_sanitized_blacklisted)
        self.assertEqual(
            self.env["mail.blacklist"].search([("email", "=", "listed@example.com")]).active,
            True,
        )
        self.assertTrue(
            self.env["phone.blacklist"].search([("number", "=", self.listed.phone_sanitized)])
        )
        # the messages not sent yet are not sent
        self.assertEqual(send.state, "cancelled")
        self.assertEqual((mail.state, sms.state), ("cancel", "canceled"))
        self.assertEqual(self._sends(self.wake_up, self.clean).state, "queued")
        # consent given again by staff: the customer's own opt-out still wins
        self.listed.write({"consent_email": True, "consent_sms": True})
        with freeze_time("2026-05-09 20:00:00"):  # another lapse
            self._visit(partner=self.listed, date="2026-03-10 09:00:00")
            self.Journey._cron_run_journeys()
        self.assertEqual(len(self._sends(self.wake_up, self.listed)), 1)


@tagged("post_install", "-at_install")
class TestUnsubscribeLinkBlacklists(HttpCase):
    def _leaving(self):
        return self.env["res.partner"].create(
            {
                "name": "Leaving",
                "email": "Leaving <Leaving@Example.com>",
                "phone": "+8613911110009",
                "consent_email": True,
                "consent_sms": True,
                "consent_source": "form",
            }
        )

    def _assert_unsubscribed(self, partner):
        partner.invalidate_recordset()
        self.assertFalse(partner.consent_email)
        self.assertFalse(partner.consent_sms)
        self.assertEqual(partner.consent_source, "unsubscribe")
        self.assertTrue(partner.is_blacklisted)
        self.assertTrue(partner.phone_sanitized_blacklisted)
        entry = self.env["mail.blacklist"].search([("email", "=", "leaving@example.com")])
        self.assertTrue(entry.active)
        self.assertTrue(
            entry.message_ids.filtered(lambda m: "membership message" in (m.body or "")),
            "the blacklist entry says where it comes from",
        )
        self.assertTrue(
            self.env["phone.blacklist"].search([("number", "=", partner.phone_sanitized)]).active
        )

    def test_unsubscribe_page_adds_to_the_blacklists(self):
        partner = self._leaving()
        url = partner._hk_unsubscribe_url()
        self.authenticate(None, None)  # no login
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        self.assertFalse(
            self.env["mail.blacklist"].search([("email", "=", "leaving@example.com")]),
            "opening the link blacklists nothing",
        )
        response = self.url_open(url, data={"confirm": "1"})
        self.assertEqual(response.status_code, 200)
        self.assertIn("hk_unsubscribed", response.text)
        self._assert_unsubscribed(partner)

    def test_one_click_adds_to_the_blacklists(self):
        partner = self._leaving()
        response = self.url_open(
            partner._hk_unsubscribe_url(), data={"List-Unsubscribe": "One-Click"}
        )
        self.assertEqual(response.status_code, 200)
        self._assert_unsubscribed(partner)

    def test_unsubscribe_again_blacklists_an_address_taken_off(self):
        """Consent already withdrawn, address taken off the blacklist since: the
        customer's new request puts it back."""
        partner = self._leaving()
        partner.write({"consent_email": False, "consent_sms": False})
        self.env["mail.blacklist"]._remove("leaving@example.com")
        response = self.url_open(partner._hk_unsubscribe_url(), data={"confirm": "1"})
        self.assertEqual(response.status_code, 200)
        partner.invalidate_recordset()
        self.assertTrue(partner.is_blacklisted)
