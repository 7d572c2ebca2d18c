"""Portal journeys as tours in headless Chromium at a phone's size (390×844).

Each tour's last page is captured (the capture must return an image); with
``HK_SCREENSHOTS=1`` (``make screenshots``) the PNGs are written to
``docs/screenshots/portal_<page>.png`` for the README.
"""

import base64
import os
import pathlib
from unittest.mock import patch

from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import ChromeBrowser

SCREENSHOTS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "screenshots"


@tagged("post_install", "-at_install")
class TestPortalTours(HttpCase):
    browser_size = "390x844"
    touch_enabled = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(
            cls.env, login="hk_tour_wu", groups="base.group_portal", name="吴女士 (Ms Wu)"
        )
        cls.customer = cls.user.partner_id
        cls.customer.tz = "Asia/Shanghai"
        service = cls.env.ref("housekeeping_membership.service_type_deep")
        cleaner = cls.env["hr.employee"].create({"name": "保洁员 李"})
        visit = cls.env["housekeeping.visit"].create(
            {
                "partner_id": cls.customer.id,
                "service_type_id": service.id,
                "date": "2026-01-10 02:00:00",
                "amount": 120,
                "employee_id": cleaner.id,
            }
        )
        visit.action_done()
        program = (
            cls.env["loyalty.program"]
            .with_context(default_program_type="coupons")
            .create(
                {
                    "name": "$20 off your next cleaning",
                    # what the name says (the default reward is 10% off)
                    "reward_ids": [
                        (5, 0, 0),
                        (
                            0,
                            0,
                            {
                                "reward_type": "discount",
                                "discount": 20,
                                "discount_mode": "per_order",
                                "required_points": 1,
                            },
                        ),
                    ],
                }
            )
        )
        cls.env["housekeeping.reward"].create(
            {
                "name": "$20 coupon",
                "points_cost": 100,
                "reward_type": "coupon",
                "loyalty_program_id": program.id,
            }
        )
        cls.env["housekeeping.reward"].create(
            {"name": "Eco cleaning kit", "points_cost": 800, "reward_type": "gift"}
        )

    def _tour(self, url, tour, shot):
        captured = {}
        original = ChromeBrowser._wait_code_ok

        def wait_then_capture(browser, *args, **kwargs):
            original(browser, *args, **kwargs)
            data = browser._websocket_request("Page.captureScreenshot", params={})
            captured["png"] = base64.b64decode(data["data"]) if data else b""

        with patch.object(ChromeBrowser, "_wait_code_ok", wait_then_capture):
            self.start_tour(url, tour, login=self.user.login)
        png = captured.get("png", b"")
        self.assertTrue(png.startswith(b"\x89PNG"), "the page was rendered and captured")
        if os.environ.get("HK_SCREENSHOTS"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            (SCREENSHOTS / f"portal_{shot}.png").write_bytes(png)

    def test_check_in(self):
        self._tour("/my/membership", "hk_portal_check_in_tour", "membership")
        self.assertEqual(self.customer.points_balance, 125)

    def test_redeem_reward(self):
        self._tour("/my/rewards", "hk_portal_redeem_tour", "coupons")
        card = self.env["loyalty.card"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(len(card), 1)
        self.assertEqual(self.customer.points_balance, 20)

    def test_preferences(self):
        self._tour("/my/preferences", "hk_portal_preferences_tour", "preferences")
        self.assertEqual(self.customer.household_size, 3)
        self.assertEqual(self.customer.preferred_time_window, "afternoon")
        self.assertTrue(self.customer.prefers_hypoallergenic)

    def test_points_referral_and_rewards_pages(self):
        self.customer.env["housekeeping.engine.points"]._grant_points(
            self.customer, 30, "goodwill", origin="welcome"
        )
        self._tour("/my/points", "hk_portal_points_page_tour", "points")
        self._tour("/my/referral", "hk_portal_referral_page_tour", "referral")
        self._tour("/my/rewards", "hk_portal_rewards_page_tour", "rewards")
        self.assertTrue(self.customer.referral_code)

    def test_rate_visit(self):
        self._tour("/my/visits", "hk_portal_rate_visit_tour", "visits")
        visit = self.customer.visit_ids
        self.assertEqual(visit.rating_last_value, 5)
