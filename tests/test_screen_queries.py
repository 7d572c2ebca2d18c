"""What staff and customers wait for costs the same number of queries whatever the
customer's history: the portal pages (each GET page), completing a visit. The
customer form and list are in test_performance.py, the dashboard and the reports in
test_dashboard_snapshot.py and test_visit_facts.py."""

from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged

PORTAL_PAGES = (
    "/my/membership",
    "/my/points",
    "/my/visits",
    "/my/rewards",
    "/my/coupons",
    "/my/plans",
    "/my/referral",
    "/my/preferences",
)


@tagged("post_install", "-at_install")
class TestScreenQueries(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.service = cls.env.ref("housekeeping_membership.service_type_hourly")
        cls.cleaner = cls.env["hr.employee"].create({"name": "Cleaner Qian"})
        cls.light = new_test_user(
            cls.env, login="hk_sq_light", groups="base.group_portal", name="Customer Light"
        )
        cls.heavy = new_test_user(
            cls.env, login="hk_sq_heavy", groups="base.group_portal", name="Customer Heavy"
        )
        # both customers on the same tier and stage: only the length of their
        # history differs (a tier change or a stage change costs its own queries)
        cls.env["housekeeping.tier"].search([]).write({"min_spend": 10**9, "min_visits": 10**6})
        cls._history(cls.light.partner_id, 6)
        cls._history(cls.heavy.partner_id, 36)

    @classmethod
    def _history(cls, partner, visits):
        """``visits`` done visits a week apart (each with its points), two upcoming."""
        Visit = cls.env["housekeeping.visit"]
        start = fields.Datetime.now() - timedelta(days=7 * visits + 1)
        done = Visit.create(
            [
                {
                    "partner_id": partner.id,
                    "service_type_id": cls.service.id,
                    "employee_id": cls.cleaner.id,
                    "date": start + timedelta(days=7 * i),
                    "amount": 100 + i,
                }
                for i in range(visits)
            ]
        )
        done.action_done()
        Visit.create(
            [
                {
                    "partner_id": partner.id,
                    "service_type_id": cls.service.id,
                    "date": fields.Datetime.now() + timedelta(days=3 + i),
                    "amount": 100,
                }
                for i in range(2)
            ]
        )

    def _page_queries(self, user, url):
        self.authenticate(user.login, user.login)
        response = self.url_open(url)  # warm: the registry's and the session's caches
        self.assertEqual(response.status_code, 200, url)
        self.env.invalidate_all()
        before = self.cr.sql_log_count
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200, url)
        return self.cr.sql_log_count - before

    def test_portal_pages_do_not_grow_with_history(self):
        self.assertGreater(self.heavy.partner_id.visit_count, 5 * self.light.partner_id.visit_count)
        for url in PORTAL_PAGES:
            with self.subTest(url=url):
                light = self._page_queries(self.light, url)
                heavy = self._page_queries(self.heavy, url)
                self.assertEqual(
                    heavy,
                    light,
                    f"{url}: {heavy} queries for a customer with 36 visits, {light} with 6",
                )

    def test_completing_a_visit_does_not_grow_with_history(self):
        Visit = self.env["housekeeping.visit"]

        def queries(partner):
            visit = Visit.create(
                {
                    "partner_id": partner.id,
                    "service_type_id": self.service.id,
                    "employee_id": self.cleaner.id,
                    "date": fields.Datetime.now() - timedelta(hours=2),
                    "amount": 150,
                }
            )
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            visit.action_done()
            self.env.flush_all()
            return self.cr.sql_log_count - before

        light, heavy = self.light.partner_id, self.heavy.partner_id
        self.assertEqual(
            (light.lifecycle_stage, light.membership_tier_id),
            (heavy.lifecycle_stage, heavy.membership_tier_id),
        )
        queries(light)  # warm
        queries(heavy)
        self.assertEqual(queries(heavy), queries(light))

    def test_heavy_reports_have_their_indexes(self):
        """The indexes the heaviest reports read at 1M customers (docs/benchmarks.md):
        the staff audit from the manual changes of the logs; the members per tier
        from their counts and the trigger that keeps them, not from an index on
        the customers (it went: one more entry per customer row rewritten). (The
        plans themselves are measured by ``make bench``: on the test database's
        few rows the planner reads the tables.)"""
        self.env.cr.execute(
            """SELECT indexname, indexdef FROM pg_indexes
                WHERE indexname IN ('res_partner_hk_tier_members_idx',
                                    'housekeeping_stage_log_manual_idx',
                                    'housekeeping_tier_log_manual_idx')"""
        )
        indexes = dict(self.env.cr.fetchall())
        self.assertNotIn("res_partner_hk_tier_members_idx", indexes)
        self.env.cr.execute(
            """SELECT tgenabled FROM pg_trigger
                WHERE tgname = 'housekeeping_tier_member_delta'
                  AND tgrelid = 'res_partner'::regclass"""
        )
        self.assertEqual(self.env.cr.fetchall(), [("O",)], "the counts' trigger, enabled")
        for name in ("housekeeping_stage_log_manual_idx", "housekeeping_tier_log_manual_idx"):
            self.assertIn("WHERE ((trigger)::text = 'manual'::text)", indexes.get(name, ""))
