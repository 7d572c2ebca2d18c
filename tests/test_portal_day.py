"""A day at a cleaning company, the customer's side (issue 28): the portal on a
phone: logo and icons, coupons with their terms, rewards with a picture, the
referral QR code, cancelling or moving a visit within the notice period, and the
customer's language."""

import base64
import re
from datetime import date, timedelta
from html import unescape
from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command, fields
from odoo.http import Request
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools.translate import code_translations

from .test_engagement import EngagementCase

MODULE = "housekeeping_membership"
# a 1x1 PNG, the picture of a reward
PIXEL = base64.b64encode(
    base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
)


@tagged("post_install", "-at_install")
class TestPortalDay(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(
            cls.env, login="hk_day_wu", groups="base.group_portal", name="Customer Wu"
        )
        cls.customer = cls.user.partner_id
        cls.customer.tz = "Asia/Shanghai"
        cls.other_user = new_test_user(
            cls.env, login="hk_day_li", groups="base.group_portal", name="Customer Li"
        )
        cls.agent = new_test_user(
            cls.env,
            login="hk_day_agent",
            groups="housekeeping_membership.group_membership_user",
            name="Agent Zhang",
        )
        cls.service = cls.env.ref("housekeeping_membership.service_type_hourly")
        cls.cleaner = cls.env["hr.employee"].create({"name": "Cleaner Zhao"})
        cls.env.company.hk_portal_notice_hours = 24
        now = fields.Datetime.now().replace(microsecond=0)
        Visit = cls.env["housekeeping.visit"]
        cls.far = Visit.create(
            {
                "partner_id": cls.customer.id,
                "service_type_id": cls.service.id,
                "date": now + timedelta(days=3),
                "employee_id": cls.cleaner.id,
                "user_id": cls.agent.id,
            }
        )
        cls.near = Visit.create(
            {
                "partner_id": cls.customer.id,
                "service_type_id": cls.service.id,
                "date": now + timedelta(hours=2),
                "user_id": cls.agent.id,
            }
        )
        cls.other_visit = Visit.create(
            {
                "partner_id": cls.other_user.partner_id.id,
                "service_type_id": cls.service.id,
                "date": now + timedelta(days=3),
            }
        )

    def _login(self, user=None):
        user = user or self.user
        self.authenticate(user.login, user.login)
        return Request.csrf_token(self)

    # ------------------------------------------------------------------ visits
    def test_upcoming_visits_show_cleaner_and_service(self):
        self._login()
        page = self.url_open("/my/visits").text
        self.assertIn("Cleaner Zhao", page)
        self.assertIn(self.service.name, page)
        self.assertIn(f'action="/my/visits/{self.far.id}/cancel"', page)
        self.assertNotIn(f'action="/my/visits/{self.near.id}/cancel"', page, "inside the notice")
        self.assertIn("less than 24 hours before it starts, please call us", page)
        self.assertNotIn(f'data-visit="{self.other_visit.id}"', page)

    def test_cancel_outside_notice_period(self):
        token = self._login()
        response = self.url_open(f"/my/visits/{self.far.id}/cancel", data={"csrf_token": token})
        self.assertIn("is cancelled", response.text)
        self.assertEqual(self.far.state, "cancelled")
        self.assertIn(
            "Cancelled by the customer on the portal.",
            " ".join(self.far.message_ids.mapped("body")),
        )
        # twice: refused, nothing more
        response = self.url_open(f"/my/visits/{self.far.id}/cancel", data={"csrf_token": token})
        self.assertIn("can no longer be changed", response.text)

    def test_cancel_within_notice_period_refused(self):
        token = self._login()
        response = self.url_open(f"/my/visits/{self.near.id}/cancel", data={"csrf_token": token})
        self.assertIn("up to 24 hours before it starts", response.text)
        self.assertEqual(self.near.state, "draft")
        response = self.url_open(
            f"/my/visits/{self.near.id}/reschedule", data={"csrf_token": token}
        )
        self.assertIn("up to 24 hours before it starts", response.text)
        self.assertFalse(self.near.activity_ids)
        # a shorter notice, set by the company: the visit can be cancelled
        self.env.company.hk_portal_notice_hours = 1
        response = self.url_open(f"/my/visits/{self.near.id}/cancel", data={"csrf_token": token})
        self.assertIn("is cancelled", response.text)
        self.assertEqual(self.near.state, "cancelled")

    def test_done_visit_cannot_be_cancelled(self):
        token = self._login()
        past = self.env["housekeeping.visit"].create(
            {
                "partner_id": self.customer.id,
                "service_type_id": self.service.id,
                "date": fields.Datetime.now() - timedelta(days=2),
                "amount": 100,
            }
        )
        past.action_done()
        response = self.url_open(f"/my/visits/{past.id}/cancel", data={"csrf_token": token})
        self.assertIn("can no longer be changed", response.text)
        self.assertEqual(past.state, "done")

    def test_other_customers_visit_refused(self):
        token = self._login()
        for action in ("cancel", "reschedule"):
            response = self.url_open(
                f"/my/visits/{self.other_visit.id}/{action}", data={"csrf_token": token}
            )
            self.assertEqual(response.status_code, 404, action)
        self.assertEqual(self.other_visit.state, "draft")
        self.assertFalse(self.other_visit.activity_ids)
        # without the CSRF token: refused
        response = self.url_open(f"/my/visits/{self.far.id}/cancel", data={"x": "1"})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.far.state, "draft")

    def test_reschedule_request_creates_activity_and_keeps_date(self):
        token = self._login()
        date_before = self.far.date
        response = self.url_open(
            f"/my/visits/{self.far.id}/reschedule",
            data={"csrf_token": token, "date": "2000-01-01", "comment": "x"},
        )
        self.assertIn("Choose a new date from today on.", response.text)
        self.assertFalse(self.far.activity_ids)
        wanted = fields.Date.today() + timedelta(days=10)
        response = self.url_open(
            f"/my/visits/{self.far.id}/reschedule",
            data={"csrf_token": token, "date": str(wanted), "comment": "下午<b>更好</b>"},
        )
        self.assertIn("Request received", response.text)
        self.far.invalidate_recordset()
        self.assertEqual(self.far.date, date_before, "the date does not change by itself")
        self.assertEqual(self.far.state, "draft")
        activity = self.far.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.agent, "the visit's agent is asked")
        self.assertEqual(activity.summary, "Reschedule requested by the customer")
        self.assertIn("下午&lt;b&gt;更好&lt;/b&gt;", str(activity.note), "the message is text")
        note = self.far.message_ids.filtered(lambda m: "asks to move" in str(m.body))
        self.assertEqual(note.author_id, self.customer)

    # ------------------------------------------------------------------ coupons & rewards
    def _coupon_program(self):
        return self.env["loyalty.program"].create(
            {
                "name": "Spring offer",
                "program_type": "coupons",
                "rule_ids": [Command.create({"minimum_amount": 500})],
                "reward_ids": [
                    Command.create(
                        {
                            "reward_type": "discount",
                            "discount_mode": "per_order",
                            "discount": 50,
                            "discount_applicability": "order",
                        }
                    )
                ],
            }
        )

    def test_coupon_conditions_and_validity(self):
        program = self._coupon_program()
        self.env["loyalty.card"].create(
            {
                "program_id": program.id,
                "partner_id": self.customer.id,
                "points": 1,
                "expiration_date": "2026-12-31",
            }
        )
        self._login()
        page = unescape(self.url_open("/my/coupons").text)
        self.assertIn("50 off orders of 500 or more", page)
        self.assertIn("Valid until 12/31/2026", page)

    def test_rewards_with_picture_and_terms(self):
        program = self._coupon_program()
        Reward = self.env["housekeeping.reward"]
        coupon = Reward.create(
            {
                "name": "Spring coupon",
                "points_cost": 100,
                "reward_type": "coupon",
                "loyalty_program_id": program.id,
                "image_128": PIXEL,
                "date_to": fields.Date.today() + timedelta(days=30),
            }
        )
        gift = Reward.create({"name": "Eco kit", "points_cost": 800, "reward_type": "gift"})
        self._login()
        page = unescape(self.url_open("/my/rewards").text)
        cards = {part.split('"')[0]: part for part in page.split('data-reward="')[1:]}
        self.assertIn("o_hk_reward_image", cards[str(coupon.id)])
        self.assertIn("data:image/png;base64", cards[str(coupon.id)])
        self.assertIn("50 off orders of 500 or more", cards[str(coupon.id)])
        self.assertIn("Valid until", cards[str(coupon.id)])
        self.assertIn("fa-gift", cards[str(gift.id)], "a fallback icon without a picture")

    # ------------------------------------------------------------------ membership, referral
    def test_home_icons_and_company_logo(self):
        self._login()
        home = self.url_open("/my").text
        for icon in ("membership", "visits", "preferences"):
            url = f"/housekeeping_membership/static/src/img/portal_{icon}.svg"
            self.assertIn(url, home)
            self.assertEqual(self.url_open(url).status_code, 200)
        page = self.url_open("/my/membership").text
        self.assertIn(f"/logo.png?company={self.env.company.id}", page)

    def test_referral_qr_code(self):
        self.customer.sudo()._hk_ensure_referral_code()
        code = self.customer.referral_code
        self._login()
        page = self.url_open("/my/referral").text
        img = re.search(r"<img[^>]*o_hk_referral_qr[^>]*>", page)
        self.assertTrue(img, "the QR code is an image, to save or long-press")
        src = unescape(re.search(r'src="([^"]+)"', img.group(0)).group(1))
        self.assertTrue(src.startswith("/report/barcode/?barcode_type=QR"))
        self.assertIn(code, src)
        image = self.url_open(src)
        self.assertEqual(image.status_code, 200, "portal users get Odoo's barcode image")
        self.assertEqual(image.headers["Content-Type"], "image/png")
        self.assertTrue(image.content.startswith(b"\x89PNG"))
        self.assertIn("o_hk_copy", page, "a copy button")
        self.assertIn(f'href="{self.customer.get_base_url()}/housekeeping/ref/{code}"', page)

    def test_points_expiry_phrasing(self):
        expiring = {"points": 1320, "date": date(2026, 12, 12)}
        with patch.object(
            self.registry["res.partner"],
            "_hk_points_expiring_soon",
            lambda partner, days=None: expiring,
        ):
            self._login()
            page = self.url_open("/my/membership").text
            self.assertIn("1320 points expire on 12/12/2026", page)
            # in Chinese, with the translation the lead merges into zh_CN.po
            self.env["res.lang"]._activate_lang("zh_CN")
            self.user.lang = "zh_CN"
            self._login()
            key = (MODULE, "zh_CN")
            translations = dict(code_translations.get_python_translations(*key))
            translations["%(points)s points expire on %(date)s"] = (
                "%(points)s 积分将于 %(date)s 过期"
            )
            with patch.dict(code_translations.python_translations, {key: translations}):
                page = self.url_open("/my/membership").text
            self.assertIn("1320 积分将于 2026/12/12 过期", page)


@tagged("post_install", "-at_install")
class TestDayMessages(EngagementCase):
    """The messages of the day: a visit completed again after a cancellation does
    not welcome the customer to the tier twice; the survey names its sender."""

    def _mails(self, partner, model="res.partner"):
        return self.env["mail.mail"].search([("model", "=", model), ("res_id", "=", partner.id)])

    def test_survey_has_an_author_name(self):
        self.env.company.email = "service@example.com"
        with freeze_time("2026-03-05 20:00:00"):
            visit = self._visit(partner=self.fan, date="2026-03-05 09:00:00")
        mail = self._mails(visit, model="housekeeping.visit")
        self.assertEqual(len(mail), 1)
        # created by the system (an import, the scheduler): the company signs
        self.assertEqual(mail.author_id, self.env.company.partner_id)
        self.assertIn(self.env.company.name, mail.email_from)
        self.assertNotIn("OdooBot", mail.email_from)
        # completed by an agent with an e-mail address: the agent signs
        self.user.email = "zhang@example.com"
        with freeze_time("2026-03-05 20:00:00"):
            visit = self._visit(partner=self.fan, date="2026-03-05 10:00:00", user_id=self.user.id)
        mail = self._mails(visit, model="housekeeping.visit")
        self.assertEqual(mail.author_id, self.user.partner_id)
        self.assertEqual(mail.email_from, self.user.email_formatted)

    def test_completed_again_no_second_welcome(self):
        silver = self.env.ref("housekeeping_membership.tier_silver")
        silver.write({"min_spend": 1000, "min_visits": 0, "upgrade_points": 0})
        upgrade = self.env.ref("housekeeping_membership.journey_upgrade")
        (self.next_visit | self.wake_up).active = False
        with freeze_time("2026-03-05 20:00:00"):
            self._visit(partner=self.fan, date="2026-03-01 09:00:00", amount=100)
            visit = self._visit(partner=self.fan, date="2026-03-05 09:00:00", amount=1000)
            self.assertEqual(self.fan.membership_tier_id, silver)
            self.assertEqual(len(self._sends(upgrade)), 1)
            welcomes = self._mails(self.fan).filtered(lambda m: "Welcome" in (m.subject or ""))
            self.assertEqual(len(welcomes), 1)
            visit.action_cancel()
            self.assertNotEqual(self.fan.membership_tier_id, silver, "the upgrade is withdrawn")
            visit.action_draft()
            visit.action_done()
            self.assertEqual(self.fan.membership_tier_id, silver)
            self.env["housekeeping.journey"]._cron_run_journeys()
            self.assertEqual(len(self._sends(upgrade)), 1, "the same upgrade, announced once")
            welcomes = self._mails(self.fan).filtered(lambda m: "Welcome" in (m.subject or ""))
            self.assertEqual(len(welcomes), 1, "no second welcome e-mail")
