from datetime import timedelta

from odoo import fields
from odoo.http import Request
from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestPortalPlans(HttpCase):
    """The customer's service plans on the portal (issue 30): seen on /my/plans,
    paused, resumed, one date skipped, within the company's notice period; another
    customer's plan is refused."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.hk_portal_notice_hours = 48
        cls.env.company.hk_plan_horizon_weeks = 4
        cls.user = new_test_user(
            cls.env, login="hk_plan_wu", groups="base.group_portal", name="Customer Wu"
        )
        cls.other_user = new_test_user(
            cls.env, login="hk_plan_li", groups="base.group_portal", name="Customer Li"
        )
        for user in (cls.user, cls.other_user):
            user.partner_id.tz = "Asia/Shanghai"
        cls.service = cls.env.ref("housekeeping_membership.service_type_hourly")
        cls.cleaner = cls.env["hr.employee"].create({"name": "Cleaner Zhao"})
        every_day = cls.env["housekeeping.weekday"].search([])
        Plan = cls.env["housekeeping.service.plan"]
        vals = {
            "service_type_id": cls.service.id,
            "company_id": cls.env.company.id,
            "weekday_ids": [(6, 0, every_day.ids)],
            "time_start": 14.0,
            "duration": 2.0,
            "amount": 120.0,
        }
        cls.plan = Plan.create({"partner_id": cls.user.partner_id.id, **vals})
        cls.other_plan = Plan.create({"partner_id": cls.other_user.partner_id.id, **vals})

    def _login(self, user=None):
        user = user or self.user
        self.authenticate(user.login, user.login)
        return Request.csrf_token(self)

    def url_open(self, *args, **kwargs):
        response = super().url_open(*args, **kwargs)
        # what the request wrote, seen by the test's records
        self.env.invalidate_all()
        return response

    def _upcoming(self, plan):
        plan.invalidate_recordset()
        return plan.visit_ids.filtered(
            lambda v: v.state == "scheduled" and v.date >= fields.Datetime.now()
        ).sorted("date")

    def test_plans_page(self):
        self._login()
        upcoming = self._upcoming(self.plan)
        near, far = upcoming[0], upcoming[-1]
        self.assertGreater(len(upcoming), 20)
        page = self.url_open("/my/plans").text
        self.assertIn(f'data-plan="{self.plan.id}"', page)
        self.assertNotIn(f'data-plan="{self.other_plan.id}"', page)
        self.assertIn(f'data-visit="{far.id}"', page)
        self.assertIn(f'value="{far.plan_occurrence}"', page, "far visit: can be skipped")
        self.assertNotIn(f'value="{near.plan_occurrence}"', page, "inside the notice")
        self.assertIn("less than 48 hours before it starts, please call us", page)
        self.assertIn(f'action="/my/plans/{self.plan.id}/pause"', page)
        # the visits page links to it
        self.assertIn('href="/my/plans"', self.url_open("/my/visits").text)
        self._login(self.other_user)
        self.assertNotIn(f'data-plan="{self.plan.id}"', self.url_open("/my/plans").text)

    def test_skip_a_date(self):
        token = self._login()
        upcoming = self._upcoming(self.plan)
        near, far = upcoming[0], upcoming[-1]
        day = str(far.plan_occurrence)
        response = self.url_open(
            f"/my/plans/{self.plan.id}/skip", data={"csrf_token": token, "date": day}
        )
        self.assertIn("is skipped", response.text)
        self.assertFalse(far.exists())
        self.assertEqual([str(d) for d in self.plan.skip_ids.mapped("date")], [day])
        self.assertIn(
            "The customer skipped the visit", " ".join(self.plan.message_ids.mapped("body"))
        )
        # the plan's cron does not plan it again
        self.env["housekeeping.engine.service_plan"]._cron()
        self.assertNotIn(day, [str(v.plan_occurrence) for v in self._upcoming(self.plan)])
        # twice: no such visit any more
        response = self.url_open(
            f"/my/plans/{self.plan.id}/skip", data={"csrf_token": token, "date": day}
        )
        self.assertIn("Choose one of the plan", response.text)
        # inside the notice period: refused, the visit stays
        response = self.url_open(
            f"/my/plans/{self.plan.id}/skip",
            data={"csrf_token": token, "date": str(near.plan_occurrence)},
        )
        self.assertIn("up to 48 hours before it starts", response.text)
        self.assertTrue(near.exists())
        self.assertEqual(len(self.plan.skip_ids), 1)
        # garbage
        response = self.url_open(
            f"/my/plans/{self.plan.id}/skip", data={"csrf_token": token, "date": "not-a-date"}
        )
        self.assertIn("Choose one of the plan", response.text)
        # no CSRF token: refused
        other_day = str(upcoming[-2].plan_occurrence)
        response = self.url_open(f"/my/plans/{self.plan.id}/skip", data={"date": other_day})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(len(self.plan.skip_ids), 1)

    def test_another_customers_plan_is_refused(self):
        token = self._login()
        before = self._upcoming(self.other_plan)
        for action, data in (
            ("skip", {"date": str(before[-1].plan_occurrence)}),
            ("pause", {}),
            ("resume", {}),
        ):
            response = self.url_open(
                f"/my/plans/{self.other_plan.id}/{action}", data={"csrf_token": token, **data}
            )
            self.assertEqual(response.status_code, 404, action)
        self.assertFalse(self.other_plan.paused)
        self.assertFalse(self.other_plan.skip_ids)
        self.assertEqual(self._upcoming(self.other_plan), before)
        response = self.url_open("/my/plans/999999/pause", data={"csrf_token": token})
        self.assertEqual(response.status_code, 404)

    def test_pause_keeps_the_visits_inside_the_notice_and_resume(self):
        token = self._login()
        upcoming = self._upcoming(self.plan)
        limit = fields.Datetime.now() + timedelta(hours=48)
        inside = upcoming.filtered(lambda v: v.date <= limit)
        self.assertTrue(inside)
        response = self.url_open(f"/my/plans/{self.plan.id}/pause", data={"csrf_token": token})
        self.assertIn("too close to be cancelled here", response.text)
        self.assertTrue(self.plan.paused)
        self.assertEqual(self._upcoming(self.plan), inside)
        self.assertIn("Paused by the customer", " ".join(self.plan.message_ids.mapped("body")))
        page = self.url_open("/my/plans").text
        self.assertIn(f'action="/my/plans/{self.plan.id}/resume"', page)
        # twice: refused
        response = self.url_open(f"/my/plans/{self.plan.id}/pause", data={"csrf_token": token})
        self.assertIn("already paused", response.text)

        response = self.url_open(f"/my/plans/{self.plan.id}/resume", data={"csrf_token": token})
        self.assertIn("Your plan is resumed", response.text)
        self.assertFalse(self.plan.paused)
        self.assertEqual(len(self._upcoming(self.plan)), len(upcoming))
