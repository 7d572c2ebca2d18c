from datetime import date

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from ..models.trust import engine_writes
from .common import HousekeepingCase
from .test_reports import TODAY, DashboardData


@tagged("post_install", "-at_install")
@freeze_time(TODAY)
class TestDashboardScreens(HousekeepingCase, DashboardData):
    def _data(self, **kw):
        return self.env["housekeeping.dashboard"].with_user(self.manager).get_dashboard_data(**kw)

    def test_periods_compare_like_with_like(self):
        windows = self.env["housekeeping.dashboard"]._period_windows
        # month to date against the same days of last month
        self.assertEqual(
            windows(date(2026, 6, 12), "month"),
            {
                "start": date(2026, 6, 1),
                "prev_start": date(2026, 5, 1),
                "prev_end": date(2026, 5, 12),
            },
        )
        # last month is shorter: it ends on its last day
        self.assertEqual(
            windows(date(2026, 3, 31), "month"),
            {
                "start": date(2026, 3, 1),
                "prev_start": date(2026, 2, 1),
                "prev_end": date(2026, 2, 28),
            },
        )
        # the last 30 days against the 30 before
        self.assertEqual(
            windows(date(2026, 6, 30), "30d"),
            {
                "start": date(2026, 6, 1),
                "prev_start": date(2026, 5, 2),
                "prev_end": date(2026, 5, 31),
            },
        )
        with self.assertRaises(UserError):
            self._data(period="year")

    def test_month_to_date_counts_the_same_days(self):
        """On 12 June, new customers of 1-12 June against 1-12 May (not the whole
        of May)."""
        self.env.user.tz = "UTC"
        with freeze_time("2026-06-30 20:00:00"):
            self._dashboard_dataset(self.env)  # first visits: P5 5 May, P8 25 May
        with freeze_time("2026-06-12 10:00:00"):
            kpis = {k["key"]: k for k in self._data(period="month")["kpis"]}
            self.assertEqual(kpis["new"]["previous"], 1, "P5 (5 May), not P8 (25 May)")
            self.assertIn("same days", kpis["new"]["compare"])
            kpis = {k["key"]: k for k in self._data(period="30d")["kpis"]}
            # 14 May - 12 June against 14 April - 13 May: P8 / P5
            self.assertEqual((kpis["new"]["value"], kpis["new"]["previous"]), (1, 1))
            self.assertEqual(kpis["new"]["label"], "New in 30 Days")

    def test_kpi_actions_open_the_customers_they_count(self):
        self.env.user.tz = "UTC"
        p = self._dashboard_dataset(self.env)
        dashboard = self.env["housekeeping.dashboard"].with_user(self.manager)
        partner = self.env["res.partner"].with_user(self.manager)
        for period in ("month", "30d"):
            data = dashboard.get_dashboard_data(period=period)
            for kpi in data["kpis"]:
                if not kpi["clickable"]:
                    with self.assertRaises(UserError):
                        dashboard.action_open_kpi(kpi["key"], period=period)
                    continue
                action = dashboard.action_open_kpi(kpi["key"], period=period)
                self.assertEqual(action["res_model"], "res.partner")
                self.assertEqual(action["name"], kpi["label"])
                found = partner.search(action["domain"])
                if kpi["key"] == "liability":
                    self.assertEqual(found, p[0] | p[1], "the customers holding points")
                elif kpi["key"] == "retention":
                    self.assertEqual(found, p[0] | p[1], "active before and still active")
                else:
                    self.assertEqual(len(found), kpi["value"], f"{period} {kpi['key']}")
        action = dashboard.action_open_kpi("at_risk")
        self.assertEqual(partner.search(action["domain"]), p[2] | p[6])

    def test_service_agent_sees_the_trends(self):
        """A membership user (not a manager) opens the dashboard and its trends."""
        self.env.user.tz = "UTC"
        self._dashboard_dataset(self.env)
        dashboard = self.env["housekeeping.dashboard"].with_user(self.user)
        charts = dashboard.get_dashboard_data()["charts"]
        self.assertEqual(len(charts["stage_trend"]["labels"]), 12)
        churned = next(s for s in charts["churn_winback"]["series"] if s["key"] == "churned")
        self.assertEqual(churned["values"][-2:], [1, 1], "P9 in May, P6 in June")
        stages = {s["key"]: s["values"][-1] for s in charts["stage_trend"]["series"]}
        self.assertEqual(stages["churned"], 2)
        self.assertTrue(dashboard.action_open_kpi("active")["domain"])

    def test_companies_filter(self):
        self.env.user.tz = "UTC"
        p = self._dashboard_dataset(self.env)
        other = self.env["res.company"].create({"name": "Other Store"})
        self.manager.company_ids |= other
        kpis = {k["key"]: k for k in self._data(company_ids=[other.id])["kpis"]}
        self.assertEqual(kpis["at_risk"]["value"], 0)
        self.assertEqual(kpis["active"]["value"], 0)
        local = self.env["res.partner"].create(
            {"name": "Other Store Customer", "company_id": other.id}
        )
        with engine_writes("lifecycle_stage"):
            local.lifecycle_stage = "at_risk"
        self.env.flush_all()
        data = self._data(company_ids=[other.id])
        kpis = {k["key"]: k for k in data["kpis"]}
        self.assertEqual(kpis["at_risk"]["value"], 1, "the other store's customer only")
        kpis = {k["key"]: k for k in self._data(company_ids=[other.id, self.company.id])["kpis"]}
        self.assertEqual(kpis["at_risk"]["value"], 3)
        self.assertEqual(len(p), 9)
        self.assertEqual(data["company_ids"], [other.id])
        self.assertIn(other.id, [c["id"] for c in data["companies"]])
        foreign = self.env["res.company"].create({"name": "Not Mine"})
        with self.assertRaises(AccessError):
            self._data(company_ids=[foreign.id])

    def test_query_count_does_not_depend_on_the_population(self):
        self.env.user.tz = "UTC"
        self._dashboard_dataset(self.env)
        dashboard = self.env["housekeeping.dashboard"].with_user(self.manager)

        def count():
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            dashboard.get_dashboard_data()
            return self.env.cr.sql_log_count - before

        count()  # warms the caches (access rules, groups)
        small = count()
        self.assertLess(small, 25)
        more = self.env["res.partner"].create([{"name": f"More {i}"} for i in range(30)])
        visits = self._draft_visits(more, "2026-06-20 09:00:00")
        with engine_writes("visit_state"):
            visits.write({"state": "done"})
        more._hk_refresh_visit_stats()
        with engine_writes("lifecycle_stage"):
            more[:10].write({"lifecycle_stage": "at_risk"})
        self.env["housekeeping.stage.log"].create(
            [
                {
                    "partner_id": partner.id,
                    "from_stage": "at_risk",
                    "to_stage": "churned",
                    "date": "2026-06-10",
                    "trigger": "cron",
                    "company_id": self.env.company.id,
                }
                for partner in more[10:]
            ]
        )
        self.assertEqual(count(), small)


@tagged("post_install", "-at_install")
@freeze_time(TODAY)
class TestLiabilityValuation(HousekeepingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        programs = cls.env["loyalty.program"].with_context(default_program_type="coupons")
        cls.program = programs.create({"name": "Coupon"})
        cls.Reward = cls.env["housekeeping.reward"]

    def _reward(self, points, value, reward_type="coupon", **kw):
        return self.Reward.create(
            {
                "name": f"{value} for {points}",
                "points_cost": points,
                "reward_type": reward_type,
                "loyalty_program_id": self.program.id,
                "value": value,
                **kw,
            }
        )

    def test_point_value_from_the_catalog(self):
        self.company.hk_point_value = 0.01
        values = self.Reward._hk_point_values
        self.assertEqual(values(self.company), {self.company.id: 0.01}, "no catalog: the setting")
        self._reward(500, 50)  # 0.10 a point
        self._reward(800, 120, reward_type="service")  # 0.15
        self._reward(100, 20)  # 0.20
        self.Reward.create({"name": "Kit", "points_cost": 10, "reward_type": "gift"})
        self._reward(100, 90, active=False)  # archived: left out
        self._reward(100, 90, date_to="2026-01-01")  # expired: left out
        self.assertAlmostEqual(values(self.company)[self.company.id], 0.15, msg="the median")
        self._reward(1000, 120)  # 0.12
        self.assertAlmostEqual(values(self.company)[self.company.id], (0.12 + 0.15) / 2)

    def test_value_from_the_coupon_program(self):
        fixed = self.env["loyalty.reward"].create(
            {
                "program_id": self.program.id,
                "reward_type": "discount",
                "discount_mode": "per_order",
                "discount": 30,
            }
        )
        (self.program.reward_ids - fixed).unlink()
        reward = self.Reward.create(
            {
                "name": "¥30 coupon",
                "points_cost": 300,
                "reward_type": "coupon",
                "loyalty_program_id": self.program.id,
            }
        )
        self.assertEqual(reward.value, 30)

    def test_liability_valued_at_the_catalog(self):
        self._reward(500, 50)  # 0.10 a point
        self.env["housekeeping.engine.points"]._grant_points(self.customer, 200, "goodwill")
        self.env.flush_all()
        liability = self.env["housekeeping.points.liability"].search(
            [("company_id", "=", self.company.id)]
        )
        self.assertEqual(liability.points, 200)
        self.assertAlmostEqual(liability.point_value, 0.10)
        self.assertAlmostEqual(liability.value, 20.0)
        data = self.env["housekeeping.dashboard"].with_user(self.manager).get_dashboard_data()
        kpi = next(k for k in data["kpis"] if k["key"] == "liability")
        self.assertAlmostEqual(kpi["money"], 20.0)


@tagged("post_install", "-at_install")
class TestScreens(HousekeepingCase):
    def test_service_type_fills_the_duration(self):
        visit = self.env["housekeeping.visit"].create(
            {"partner_id": self.customer.id, "service_type_id": self.service_deep.id}
        )
        self.assertEqual(visit.duration, self.service_deep.default_duration)
        self.assertEqual(visit.duration, 4.0)
        given = self.env["housekeeping.visit"].create(
            {
                "partner_id": self.customer.id,
                "service_type_id": self.service_deep.id,
                "duration": 1.5,
            }
        )
        self.assertEqual(given.duration, 1.5, "a duration given is kept")
        with Form(self.env["housekeeping.visit"].with_user(self.user)) as form:
            form.partner_id = self.customer
            form.service_type_id = self.service_hourly
            self.assertEqual(form.duration, 2.0)
            form.service_type_id = self.service_deep
            self.assertEqual(form.duration, 4.0)
            form.duration = 5.0
        self.assertEqual(form.record.duration, 5.0)

    def test_visit_shows_the_customer(self):
        self.customer.write(
            {"street": "88 Nanjing Road", "city": "Jing'an", "phone": "13800138000"}
        )
        visit = self._visit(state="draft")
        self.assertIn("Nanjing Road", visit.partner_address)
        self.assertEqual(visit.calendar_name, "Customer Wu · Jing'an · " + self.service_hourly.name)

    def test_search_by_name_or_phone(self):
        self.customer.phone = "+86 138-0013-8000"
        partner = self.env["res.partner"].with_user(self.user)
        self.assertIn(self.customer, partner.search([("hk_name_phone", "ilike", "13800138000")]))
        self.assertIn(self.customer, partner.search([("hk_name_phone", "ilike", "138 0013")]))
        self.assertIn(self.customer, partner.search([("hk_name_phone", "ilike", "Wu")]))
        # a short text searches names only (the phone search wants 3 digits)
        self.assertNotIn(self.customer, partner.search([("hk_name_phone", "ilike", "13")]))

    def test_churn_reason_never_empty(self):
        reason = self.env["housekeeping.churn.reason"].search([], limit=1)
        other = self.env["res.partner"].create({"name": "Other"})
        self.env["housekeeping.stage.log"].create(
            [
                {
                    "partner_id": self.customer.id,
                    "from_stage": "at_risk",
                    "to_stage": "churned",
                    "date": "2026-05-01",
                    "trigger": "cron",
                },
                {
                    "partner_id": other.id,
                    "from_stage": "at_risk",
                    "to_stage": "churned",
                    "date": "2026-05-01",
                    "trigger": "cron",
                    "churn_reason_id": reason.id,
                },
                {
                    "partner_id": other.id,
                    "from_stage": "new",
                    "to_stage": "loyal",
                    "date": "2026-04-01",
                    "trigger": "cron",
                },
            ]
        )
        self.env.flush_all()
        report = self.env["housekeeping.report.lifecycle.transition"]
        groups = dict(
            report._read_group(
                [("partner_id", "in", (self.customer | other).ids)], ["churn_reason"], ["__count"]
            )
        )
        self.assertEqual(
            groups, {"Not confirmed": 1, reason.name: 1, "Not applicable": 1}, "never None"
        )
