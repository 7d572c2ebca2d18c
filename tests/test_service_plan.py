from datetime import date, datetime

from freezegun import freeze_time

from odoo.tests import new_test_user, tagged

from .common import HousekeepingCase


@tagged("post_install", "-at_install")
class TestServicePlan(HousekeepingCase):
    """Recurring service plans (周期服务): rhythms across month ends, Asia/Shanghai
    times, holidays, skipped dates, pauses, edits, reruns."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.co = cls.env["res.company"].create({"name": "Plan Co", "hk_plan_horizon_weeks": 4})
        cls.env.user.company_ids |= cls.co
        cls.zhang = cls.env["hr.employee"].create({"name": "张阿姨", "company_id": cls.co.id})
        cls.li = cls.env["hr.employee"].create({"name": "李阿姨", "company_id": cls.co.id})
        cls.client = cls.env["res.partner"].create(
            {"name": "吴女士", "company_id": cls.co.id, "tz": "Asia/Shanghai"}
        )
        cls.wd = {w.number: w for w in cls.env["housekeeping.weekday"].search([])}
        cls.engine = cls.env["housekeeping.engine.service_plan"]

    def _plan(self, **vals):
        return self.env["housekeeping.service.plan"].create(
            {
                "partner_id": self.client.id,
                "service_type_id": self.service_hourly.id,
                "company_id": self.co.id,
                "employee_id": self.zhang.id,
                "time_start": 14.0,
                "duration": 2.0,
                "amount": 120.0,
                "date_start": "2026-03-02",
                **vals,
            }
        )

    def _days(self, plan):
        visits = plan.visit_ids.sorted("date")
        return [str(v.plan_occurrence) for v in visits]

    @freeze_time("2026-03-02 01:00:00")
    def test_weekly_wednesday_afternoon_and_reruns(self):
        plan = self._plan(weekday_ids=[(6, 0, self.wd[3].ids)])
        self.assertEqual(self._days(plan), ["2026-03-04", "2026-03-11", "2026-03-18", "2026-03-25"])
        visit = plan.visit_ids.sorted("date")[0]
        # 14:00 in Shanghai is 06:00 UTC (no daylight saving time)
        self.assertEqual(visit.date, datetime(2026, 3, 4, 6, 0))
        self.assertEqual(visit.state, "scheduled")
        self.assertEqual(visit.employee_id, self.zhang)
        self.assertEqual(visit.amount, 120.0)
        self.assertEqual(visit.duration, 2.0)
        self.assertTrue(visit.name.startswith("V"))
        self.assertEqual(len(set(plan.visit_ids.mapped("name"))), 4)
        # reruns create nothing twice
        self.engine._cron()
        self.engine._cron()
        self.assertEqual(len(plan.visit_ids), 4)
        with freeze_time("2026-03-09 01:00:00"):
            self.engine._cron()
        self.assertEqual(self._days(plan)[-1], "2026-04-01")
        self.assertEqual(len(plan.visit_ids), 5)

    @freeze_time("2026-03-02 01:00:00")
    def test_price_from_a_pricelist(self):
        """A plan on a pricelist takes the service's price from it, and its visits
        that price; without one, the price set by hand or the service's list price."""
        product = self.service_hourly.product_id
        pricelist = self.env["product.pricelist"].create(
            {
                "name": "会员价",
                "company_id": self.co.id,
                "item_ids": [
                    (
                        0,
                        0,
                        {
                            "applied_on": "1_product",
                            "product_tmpl_id": product.product_tmpl_id.id,
                            "compute_price": "fixed",
                            "fixed_price": 99.0,
                        },
                    )
                ],
            }
        )
        vals = {
            "partner_id": self.client.id,
            "service_type_id": self.service_hourly.id,
            "company_id": self.co.id,
            "date_start": "2026-03-02",
            "weekday_ids": [(6, 0, self.wd[3].ids)],
        }
        Plan = self.env["housekeeping.service.plan"]
        on_pricelist = Plan.create({**vals, "pricelist_id": pricelist.id})
        self.assertEqual(on_pricelist.amount, 99.0)
        self.assertEqual(set(on_pricelist.visit_ids.mapped("amount")), {99.0})
        self.assertEqual(Plan.create(vals).amount, product.lst_price)
        self.assertEqual(Plan.create({**vals, "amount": 150.0}).amount, 150.0)

    @freeze_time("2026-03-02 01:00:00")
    def test_every_two_weeks_on_two_days(self):
        plan = self._plan(weekday_ids=[(6, 0, (self.wd[1] | self.wd[5]).ids)], interval=2)
        self.assertEqual(
            self._days(plan),
            ["2026-03-02", "2026-03-06", "2026-03-16", "2026-03-20", "2026-03-30"],
        )

    @freeze_time("2026-01-20 01:00:00")
    def test_monthly_on_the_31st_across_month_ends(self):
        self.co.hk_plan_horizon_weeks = 26
        plan = self._plan(
            rhythm="monthly_day", month_day=31, date_start="2026-01-15", time_start=9.0
        )
        self.assertEqual(
            self._days(plan),
            ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30"],
        )
        # 09:00 in Shanghai is 01:00 UTC in winter and summer alike
        self.assertEqual({v.date.hour for v in plan.visit_ids}, {1})
        every_other = self._plan(
            rhythm="monthly_day", month_day=29, interval=2, date_start="2026-01-01"
        )
        self.assertEqual(self._days(every_other), ["2026-01-29", "2026-03-29", "2026-05-29"])

    @freeze_time("2026-03-02 01:00:00")
    def test_monthly_nth_and_last_weekday(self):
        self.co.hk_plan_horizon_weeks = 13
        last_friday = self._plan(
            rhythm="monthly_weekday", month_week="last", month_weekday_id=self.wd[5].id
        )
        self.assertEqual(self._days(last_friday), ["2026-03-27", "2026-04-24", "2026-05-29"])
        second_tuesday = self._plan(
            rhythm="monthly_weekday", month_week="2", month_weekday_id=self.wd[2].id
        )
        self.assertEqual(self._days(second_tuesday), ["2026-03-10", "2026-04-14", "2026-05-12"])

    @freeze_time("2026-03-02 01:00:00")
    def test_holidays_and_skipped_dates(self):
        self.env["housekeeping.holiday"].create(
            {"name": "Holiday", "date_from": "2026-03-10", "date_to": "2026-03-12"}
        )
        self.env["housekeeping.holiday"].create(
            {
                "name": "Other company's holiday",
                "date_from": "2026-03-25",
                "date_to": "2026-03-25",
                "company_id": self.company.id,
            }
        )
        plan = self._plan(weekday_ids=[(6, 0, self.wd[3].ids)])
        self.assertEqual(self._days(plan), ["2026-03-04", "2026-03-18", "2026-03-25"])
        # the customer asks to skip the 18th: its visit goes, and stays gone
        plan.action_skip_date(date(2026, 3, 18), "出差")
        self.assertEqual(self._days(plan), ["2026-03-04", "2026-03-25"])
        self.engine._cron()
        self.assertEqual(self._days(plan), ["2026-03-04", "2026-03-25"])
        # the skip removed again: the visit is back
        plan.skip_ids.unlink()
        self.assertEqual(self._days(plan), ["2026-03-04", "2026-03-18", "2026-03-25"])
        # a plan that works on holidays
        plan.skip_holidays = False
        self.assertEqual(self._days(plan), ["2026-03-04", "2026-03-11", "2026-03-18", "2026-03-25"])

    @freeze_time("2026-03-02 01:00:00")
    def test_pause_and_resume(self):
        plan = self._plan(weekday_ids=[(6, 0, self.wd[3].ids)])
        plan.action_pause()
        self.assertFalse(plan.visit_ids)
        self.engine._cron()
        self.assertFalse(plan.visit_ids)
        plan.action_resume()
        self.assertEqual(len(plan.visit_ids), 4)
        plan.active = False
        self.assertFalse(plan.visit_ids)

    @freeze_time("2026-03-02 01:00:00")
    def test_edit_moves_future_visits_keeps_done_ones(self):
        plan = self._plan(weekday_ids=[(6, 0, self.wd[1].ids)], time_start=9.0)
        # today 09:00 in Shanghai is now (01:00 UTC): already started, not created
        first = plan.visit_ids.sorted("date")[0]
        self.assertEqual(str(first.plan_occurrence), "2026-03-09")
        ids = plan.visit_ids.ids
        with freeze_time("2026-03-09 03:00:00"):
            first.action_done()
            plan.write({"weekday_ids": [(6, 0, self.wd[4].ids)], "time_start": 10.0})
            self.assertEqual(first.state, "done")
            self.assertEqual(str(first.plan_occurrence), "2026-03-09")
            moved = plan.visit_ids - first
            self.assertEqual(
                sorted(str(d) for d in moved.mapped("plan_occurrence")),
                ["2026-03-12", "2026-03-19", "2026-03-26", "2026-04-02"],
            )
            self.assertEqual({v.date.hour for v in moved}, {2})
            # the same visits moved (their references and notes kept), one added
            self.assertEqual(len(set(ids) & set(moved.ids)), 3)

    @freeze_time("2026-03-02 01:00:00")
    def test_number_of_visits_and_end_date(self):
        plan = self._plan(weekday_ids=[(6, 0, self.wd[3].ids)], max_visits=2)
        self.assertEqual(self._days(plan), ["2026-03-04", "2026-03-11"])
        with freeze_time("2026-03-20 01:00:00"):
            self.engine._cron()
        self.assertEqual(len(plan.visit_ids), 2)
        ending = self._plan(weekday_ids=[(6, 0, self.wd[3].ids)], date_end="2026-03-15")
        self.assertEqual(self._days(ending), ["2026-03-04", "2026-03-11"])

    @freeze_time("2026-03-02 01:00:00")
    def test_dispatch_applied_to_any_cleaner_and_busy_cleaner(self):
        any_cleaner = self._plan(weekday_ids=[(6, 0, self.wd[3].ids)], employee_id=False)
        self.assertTrue(all(any_cleaner.visit_ids.mapped("employee_id")))
        self.assertTrue(all(any_cleaner.visit_ids.mapped("dispatch_note")))
        # 李阿姨's plan at the same time as 张阿姨's: each keeps its cleaner
        other = self.env["res.partner"].create({"name": "Other", "company_id": self.co.id})
        fixed = self._plan(
            partner_id=other.id, weekday_ids=[(6, 0, self.wd[3].ids)], employee_id=self.li.id
        )
        busy = any_cleaner.visit_ids.employee_id
        self.assertEqual(len(busy), 1)
        # a plan asking for a cleaner already booked then gets another one
        third = self.env["res.partner"].create({"name": "Third", "company_id": self.co.id})
        clash = self._plan(
            partner_id=third.id, weekday_ids=[(6, 0, self.wd[3].ids)], employee_id=busy.id
        )
        self.assertNotIn(busy, clash.visit_ids.employee_id)
        self.assertEqual(fixed.visit_ids.employee_id, self.li)

    @freeze_time("2026-03-02 01:00:00")
    def test_cron_queries_do_not_grow_with_plans(self):
        def run(n):
            partners = self.env["res.partner"].create(
                [{"name": f"P{n}-{i}", "company_id": self.co.id} for i in range(n)]
            )
            cleaners = self.env["hr.employee"].create(
                [{"name": f"E{n}-{i}", "company_id": self.co.id} for i in range(2)]
            )
            plans = self.env["housekeeping.service.plan"].create(
                [
                    {
                        "partner_id": p.id,
                        "service_type_id": self.service_hourly.id,
                        "company_id": self.co.id,
                        "employee_id": cleaners[i % 2].id,
                        "weekday_ids": [(6, 0, self.wd[1 + i % 5].ids)],
                        "time_start": 8.0 + i,
                        "date_start": "2026-03-02",
                    }
                    for i, p in enumerate(partners)
                ]
            )
            plans.visit_ids.unlink()
            self.env.flush_all()
            before = self.cr.sql_log_count
            self.engine._generate(plans.ids)
            count = self.cr.sql_log_count - before
            self.assertGreaterEqual(len(plans.visit_ids), 3 * n)
            return count

        self.assertEqual(run(2), run(8))


@tagged("post_install", "-at_install")
class TestServicePlanAccess(HousekeepingCase):
    """Who may do what on plans, skipped dates and the scorecard; companies apart."""

    def test_access_matrix(self):
        portal = new_test_user(self.env, login="hk_plan_portal", groups="base.group_portal")
        matrix = {
            "housekeeping.service.plan": {"user": "rwc", "manager": "rwcu"},
            "housekeeping.service.plan.skip": {"user": "rwcu", "manager": "rwcu"},
            "housekeeping.report.cleaner": {"manager": "r"},
        }
        users = {"user": self.user, "manager": self.manager, "portal": portal}
        for model, grants in matrix.items():
            for role, user in users.items():
                for letter, operation in zip(
                    "rwcu", ("read", "write", "create", "unlink"), strict=True
                ):
                    self.assertEqual(
                        self.env[model].with_user(user).has_access(operation),
                        letter in grants.get(role, ""),
                        f"{role} {operation} {model}",
                    )

    @freeze_time("2026-03-02 01:00:00")
    def test_companies_are_isolated(self):
        other = self.env["res.company"].create({"name": "Other Co"})
        self.env.user.company_ids |= other
        partner = self.env["res.partner"].create({"name": "Other's", "company_id": other.id})
        weekday = self.env["housekeeping.weekday"].search([("number", "=", 3)])
        plan = self.env["housekeeping.service.plan"].create(
            {
                "partner_id": partner.id,
                "service_type_id": self.service_hourly.id,
                "company_id": other.id,
                "weekday_ids": [(6, 0, weekday.ids)],
                "date_start": "2026-03-02",
            }
        )
        plan.action_skip_date("2026-03-11")
        self.assertTrue(plan.visit_ids)
        agent = self.env["housekeeping.service.plan"].with_user(self.user)
        self.assertFalse(agent.search([("id", "=", plan.id)]))
        self.assertFalse(
            self.env["housekeeping.service.plan.skip"].with_user(self.user).search_count([])
        )
        self.assertFalse(
            self.env["housekeeping.visit"].with_user(self.user).search([("plan_id", "=", plan.id)])
        )
