from datetime import timedelta

from odoo import fields
from odoo.http import Request
from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestPortalRoutes(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(
            cls.env, login="hk_portal_wu", groups="base.group_portal", name="Customer Wu"
        )
        cls.customer = cls.user.partner_id
        cls.customer.tz = "Asia/Shanghai"
        cls.other_user = new_test_user(
            cls.env, login="hk_portal_li", groups="base.group_portal", name="Customer Li"
        )
        cls.other = cls.other_user.partner_id
        cls.service = cls.env.ref("housekeeping_membership.service_type_hourly")
        cls.cleaner = cls.env["hr.employee"].create({"name": "Cleaner Zhao"})
        Visit = cls.env["housekeeping.visit"]
        cls.visit = Visit.create(
            {
                "partner_id": cls.customer.id,
                "service_type_id": cls.service.id,
                "date": "2026-01-10 02:00:00",
                "amount": 120,
                "employee_id": cls.cleaner.id,
            }
        )
        cls.visit.action_done()
        cls.other_visit = Visit.create(
            {
                "partner_id": cls.other.id,
                "service_type_id": cls.service.id,
                "date": "2026-01-10 02:00:00",
                "amount": 80,
            }
        )
        cls.other_visit.action_done()
        cls.program = (
            cls.env["loyalty.program"]
            .with_context(default_program_type="coupons")
            .create({"name": "¥20 off"})
        )
        cls.reward = cls.env["housekeeping.reward"].create(
            {
                "name": "¥20 coupon",
                "points_cost": 100,
                "reward_type": "coupon",
                "loyalty_program_id": cls.program.id,
            }
        )

    def _login(self, user=None):
        user = user or self.user
        self.authenticate(user.login, user.login)
        return Request.csrf_token(self)

    def test_anonymous_is_sent_to_login(self):
        for url in ("/my/membership", "/my/points", "/my/rewards", "/my/visits", "/my/preferences"):
            response = self.url_open(url, allow_redirects=False)
            self.assertIn(response.status_code, (302, 303), url)
            self.assertIn("/web/login", response.headers["Location"], url)

    def test_membership_and_points_pages(self):
        self._login()
        page = self.url_open("/my/membership").text
        self.assertIn("Customer Wu", page)
        self.assertIn(">120<", page, "balance shown")
        self.assertIn(self.customer.membership_tier_id.name, page, "tier badge shown")
        self.assertIn(self.customer.tier_progress, page, "progress to the next tier")
        # 25 more movements: the history paginates by 20
        self.customer.env["housekeeping.engine.points"]._grant_points(
            self.customer, 5, "goodwill", origin="a"
        )
        for i in range(24):
            self.customer.env["housekeeping.engine.points"]._grant_points(
                self.customer, 1, "goodwill", origin=f"p{i}"
            )
        first = self.url_open("/my/points").text
        second = self.url_open("/my/points/page/2").text
        self.assertEqual(first.count("list-group-item d-flex"), 20)
        self.assertEqual(second.count("list-group-item d-flex"), 6)
        earned = self.url_open("/my/points?filterby=expire").text
        self.assertIn("No points movements yet.", earned)

    def test_pages_follow_the_customer_language(self):
        self.env["res.lang"]._activate_lang("zh_CN")
        self.env["ir.module.module"].search(
            [("name", "=", "housekeeping_membership")]
        )._update_translations(["zh_CN"])
        self.user.lang = "zh_CN"
        self._login()
        page = self.url_open("/my/membership").text
        self.assertIn("签到", page)
        self.assertIn("积分", page)
        self.assertNotIn("Daily check-in", page)

    def test_check_in_twice(self):
        token = self._login()
        response = self.url_open("/my/membership/check-in", data={"csrf_token": token})
        self.assertIn("Checked in", response.text)
        response = self.url_open("/my/membership/check-in", data={"csrf_token": token})
        self.assertIn("Already checked in today", response.text)
        self.assertEqual(self.customer.points_balance, 125)
        # no CSRF token: refused, nothing written
        response = self.url_open("/my/membership/check-in", data={"x": "1"})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.customer.points_balance, 125)

    def test_redeem_and_see_coupon(self):
        token = self._login()
        response = self.url_open(f"/my/rewards/{self.reward.id}/redeem", data={"csrf_token": token})
        card = self.env["loyalty.card"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(len(card), 1)
        self.assertIn(card.code, response.text, "the coupon code appears at once")
        self.assertIn(card.code, self.url_open("/my/coupons").text)
        self.assertEqual(self.customer.points_balance, 20)
        # not enough points: a clear message and nothing written
        response = self.url_open(f"/my/rewards/{self.reward.id}/redeem", data={"csrf_token": token})
        self.assertIn("100 are needed", response.text)
        self.assertEqual(
            self.env["loyalty.card"].search_count([("partner_id", "=", self.customer.id)]), 1
        )
        # unknown or other company's reward: 404
        response = self.url_open("/my/rewards/999999/redeem", data={"csrf_token": token})
        self.assertEqual(response.status_code, 404)

    def test_rewards_page_shows_what_is_affordable(self):
        self._login()
        gift = self.env["housekeeping.reward"].create(
            {"name": "Eco kit", "points_cost": 500, "reward_type": "gift"}
        )
        page = self.url_open("/my/rewards").text
        self.assertIn(f"/my/rewards/{self.reward.id}/redeem", page)
        self.assertNotIn(f"/my/rewards/{gift.id}/redeem", page)
        self.assertIn("380 more points needed.", page)

    def test_redeem_rate_limit(self):
        self.customer.env["housekeeping.engine.points"]._grant_points(
            self.customer, 1000, "goodwill", origin="rich"
        )
        token = self._login()
        for _i in range(3):
            self.url_open(f"/my/rewards/{self.reward.id}/redeem", data={"csrf_token": token})
        response = self.url_open(f"/my/rewards/{self.reward.id}/redeem", data={"csrf_token": token})
        self.assertIn("Too many redemptions", response.text)
        self.assertEqual(self.customer.points_balance, 1120 - 300)

    def test_visits_rate_own_only(self):
        token = self._login()
        page = self.url_open("/my/visits").text
        self.assertIn(f'data-visit="{self.visit.id}"', page)
        self.assertNotIn(f'data-visit="{self.other_visit.id}"', page)
        response = self.url_open(
            f"/my/visits/{self.other_visit.id}/rate", data={"csrf_token": token, "score": "1"}
        )
        self.assertEqual(response.status_code, 404)
        self.assertFalse(self.other_visit.rating_ids)
        response = self.url_open(
            f"/my/visits/{self.visit.id}/rate", data={"csrf_token": token, "score": "9"}
        )
        self.assertIn("Choose a score from 1 to 5", response.text)
        self.url_open(
            f"/my/visits/{self.visit.id}/rate",
            data={"csrf_token": token, "score": "5", "comment": "很干净"},
        )
        self.visit.invalidate_recordset()
        self.assertEqual(self.visit.rating_last_value, 5)
        self.assertEqual(self.visit.rating_ids.feedback, "很干净")

    def test_request_visit(self):
        token = self._login()
        day = fields.Date.today() + timedelta(days=20)
        response = self.url_open(
            "/my/visits/request",
            data={
                "csrf_token": token,
                "service_type_id": self.service.id,
                "date": "2000-01-01",
                "time_window": "morning",
            },
        )
        self.assertIn("from today on", response.text)
        response = self.url_open(
            "/my/visits/request",
            data={
                "csrf_token": token,
                "service_type_id": self.service.id,
                "date": str(day),
                "time_window": "afternoon",
            },
        )
        self.assertIn("Request received", response.text)
        visit = self.env["housekeeping.visit"].search(
            [("partner_id", "=", self.customer.id), ("state", "=", "draft")]
        )
        self.assertEqual(str(visit.date), f"{day} 06:00:00", "14:00 in Shanghai")
        self.assertTrue(visit.activity_ids)

    def test_messages_come_from_the_site_not_the_link(self):
        """A crafted link cannot make the portal show a text of its choosing; the
        outcome of an action is shown once."""
        token = self._login()
        page = self.url_open("/my/visits?message=Account+locked,+call+400-000&error=Pay+now")
        self.assertNotIn("Account locked", page.text)
        self.assertNotIn("Pay now", page.text)
        response = self.url_open(
            "/my/visits/request",
            data={"csrf_token": token, "service_type_id": "0", "date": "", "time_window": ""},
        )
        self.assertIn("Choose a service", response.text)
        self.assertNotIn("Choose a service", self.url_open("/my/visits").text, "shown once")

    def test_request_visit_refused_cleanly(self):
        """A service of another company, a date decades ahead: the form says why and
        nothing is created (no server error)."""
        token = self._login()
        branch = self.env["res.company"].create({"name": "Other Branch"})
        foreign = self.service.copy({"company_id": branch.id, "code": "foreign-hourly"})
        page = self.url_open("/my/visits").text
        self.assertNotIn(f'value="{foreign.id}"', page, "not offered on the form")
        before = self.env["housekeeping.visit"].search_count([])
        for service, day in (
            (foreign, fields.Date.today() + timedelta(days=3)),
            (self.service, fields.Date.today() + timedelta(days=365 * 20)),
        ):
            response = self.url_open(
                "/my/visits/request",
                data={
                    "csrf_token": token,
                    "service_type_id": service.id,
                    "date": str(day),
                    "time_window": "morning",
                },
            )
            self.assertEqual(response.status_code, 200)
            self.assertNotIn("Request received", response.text)
            self.assertIn("o_hk_error", response.text)
        self.assertEqual(self.env["housekeeping.visit"].search_count([]), before)

    def test_booking_link_prefills_the_request_form(self):
        self._login()
        page = self.url_open(f"/my/visits?date=2099-01-02&service_type_id={self.service.id}").text
        self.assertIn('value="2099-01-02"', page)
        self.assertIn(f'value="{self.service.id}" selected', page)

    def test_preferences_and_data_request(self):
        token = self._login()
        eco_tag = self.env["housekeeping.household.tag"].search([], limit=1)
        self.url_open(
            "/my/preferences",
            data={
                "csrf_token": token,
                "household_size": "4",
                "home_area": "88.5",
                "home_type": "apartment",
                "preferred_time_window": "morning",
                "prefers_eco_products": "on",
                "household_tag_ids": str(eco_tag.id),
                "special_instructions": "请换鞋套",
            },
        )
        self.customer.invalidate_recordset()
        self.assertEqual(
            (self.customer.household_size, self.customer.home_area, self.customer.home_type),
            (4, 88.5, "apartment"),
        )
        self.assertTrue(self.customer.prefers_eco_products)
        self.assertEqual(self.customer.household_tag_ids, eco_tag)
        # consent given on the portal: the consent record says so
        self.customer.write({"consent_email": False, "consent_source": "unsubscribe"})
        self.url_open(
            "/my/preferences",
            data={"csrf_token": token, "household_size": "4", "consent_email": "on"},
        )
        self.customer.invalidate_recordset()
        self.assertTrue(self.customer.consent_email)
        self.assertEqual(self.customer.consent_source, "website")
        response = self.url_open(
            "/my/preferences", data={"csrf_token": token, "household_size": "many"}
        )
        self.assertIn("are numbers", response.text)
        self.assertEqual(self.customer.household_size, 4)
        response = self.url_open(
            "/my/preferences", data={"csrf_token": token, "home_type": "castle"}
        )
        self.assertIn("Invalid choice", response.text)
        self.url_open("/my/preferences/data-request", data={"csrf_token": token, "kind": "export"})
        self.assertIn("Export my personal data", self.customer.activity_ids.mapped("summary"))
        self.assertFalse(self.customer.hk_deletion_requested)
        self.url_open("/my/preferences/data-request", data={"csrf_token": token, "kind": "delete"})
        self.assertIn("Delete my personal data", self.customer.activity_ids.mapped("summary"))
        # flagged for a membership manager, who confirms with the Anonymize action
        self.assertTrue(self.customer.hk_deletion_requested)
        self.assertFalse(self.customer.hk_anonymized)

    def test_referral_page_and_link(self):
        token = self._login()
        page = self.url_open("/my/referral").text
        self.assertFalse(self.customer.referral_code, "viewing the page writes nothing")
        self.assertIn("o_hk_get_referral_code", page)
        page = self.url_open("/my/referral/code", data={"csrf_token": token}).text
        code = self.customer.referral_code
        self.assertTrue(code)
        self.assertIn(code, page)
        self.assertIn(f"/housekeeping/ref/{code}", page)
        self.authenticate(None, None)
        response = self.url_open(f"/housekeeping/ref/{code}", allow_redirects=False)
        self.assertIn("/web/signup", response.headers["Location"])
