from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import HousekeepingCase


@tagged("post_install", "-at_install")
@freeze_time("2026-03-02 01:00:00")
class TestDispatch(HousekeepingCase):
    """Dispatch (派单): each rule of the score, the refusals, auto-assignment."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # a company of its own: only the cleaners of this test are candidates
        cls.co = cls.env["res.company"].create(
            {"name": "Dispatch Co", "hk_dispatch_travel_buffer": 30}
        )
        cls.env.user.company_ids |= cls.co
        emp = cls.env["hr.employee"]
        cls.zhang = emp.create({"name": "张阿姨", "company_id": cls.co.id})
        cls.li = emp.create({"name": "李阿姨", "company_id": cls.co.id})
        cls.wang = emp.create({"name": "王阿姨", "company_id": cls.co.id})
        cls.chen = emp.create(
            {
                "name": "陈阿姨",
                "company_id": cls.co.id,
                "hk_service_type_ids": [(6, 0, cls.service_deep.ids)],
            }
        )
        cls.office = emp.create({"name": "Office", "company_id": cls.co.id, "hk_cleaner": False})
        cls.client = cls.env["res.partner"].create(
            {
                "name": "吴女士",
                "company_id": cls.co.id,
                "tz": "Asia/Shanghai",
                "street": "朝阳区望京花园3号楼",
                "city": "北京",
            }
        )

    def _v(self, date="2026-03-04 06:00:00", partner=None, duration=2.0, **kw):
        return self.env["housekeeping.visit"].create(
            {
                "partner_id": (partner or self.client).id,
                "service_type_id": kw.pop("service_type", self.service_hourly).id,
                "company_id": self.co.id,
                "date": date,
                "duration": duration,
                **kw,
            }
        )

    def _ids(self, suggestions):
        return [s["employee_id"] for s in suggestions]

    # ------------------------------------------------------------------ a) refusals
    def test_blocked_cleaner_refused_on_create_and_write(self):
        self.client.blocked_employee_ids = self.zhang
        with self.assertRaisesRegex(UserError, "does not want"), self.cr.savepoint():
            self._v(employee_id=self.zhang.id)
        visit = self._v(employee_id=self.li.id)
        with self.assertRaisesRegex(UserError, "does not want"), self.cr.savepoint():
            visit.write({"employee_id": self.zhang.id})
        self.env.invalidate_all()
        self.assertEqual(visit.employee_id, self.li, "nothing changed")
        # a manager cannot confirm it either
        with self.assertRaises(UserError), self.cr.savepoint():
            visit.with_user(self.manager).with_context(hk_dispatch_confirm=True).write(
                {"employee_id": self.zhang.id}
            )
        # moving the visit to a customer who blocked its cleaner is refused too
        other = self.env["res.partner"].create({"name": "Other", "company_id": self.co.id})
        other.blocked_employee_ids = self.li
        with self.assertRaisesRegex(UserError, "does not want"), self.cr.savepoint():
            visit.write({"partner_id": other.id})
        self.env.invalidate_all()
        self.assertEqual(visit.partner_id, self.client)

    def test_skills_need_a_managers_confirmation_which_is_logged(self):
        # 陈阿姨 does deep cleaning only
        self.manager.company_ids |= self.co
        self.user.company_ids |= self.co
        visit = self._v()
        agent = visit.with_user(self.user).with_context(allowed_company_ids=self.co.ids)
        with self.assertRaisesRegex(UserError, "Only a membership manager"), self.cr.savepoint():
            agent.write({"employee_id": self.chen.id})
        with self.assertRaisesRegex(UserError, "Only a membership manager"), self.cr.savepoint():
            agent.with_context(hk_dispatch_confirm=True).write({"employee_id": self.chen.id})
        manager = visit.with_user(self.manager).with_context(allowed_company_ids=self.co.ids)
        with self.assertRaisesRegex(UserError, "Confirm"), self.cr.savepoint():
            manager.write({"employee_id": self.chen.id})
        self.env.invalidate_all()
        self.assertFalse(visit.employee_id)
        manager.with_context(hk_dispatch_confirm=True).write({"employee_id": self.chen.id})
        self.assertEqual(visit.employee_id, self.chen)
        note = visit.message_ids.filtered(lambda m: "confirmed by" in (m.body or ""))
        self.assertTrue(note, "the override is logged on the visit")
        self.assertIn("Manager Chen", note[0].body)
        # qualified: no question asked
        deep = self._v(date="2026-03-05 06:00:00", service_type=self.service_deep)
        deep.with_user(self.user).with_context(allowed_company_ids=self.co.ids).write(
            {"employee_id": self.chen.id}
        )
        self.assertEqual(deep.employee_id, self.chen)

    def test_clash_override_by_manager_is_logged(self):
        self.manager.company_ids |= self.co
        first = self._v(employee_id=self.zhang.id)
        first.action_schedule()
        second = self._v(date="2026-03-04 07:00:00")
        second.action_schedule()
        with self.assertRaisesRegex(UserError, "already booked"), self.cr.savepoint():
            second.write({"employee_id": self.zhang.id})
        manager = second.with_user(self.manager).with_context(
            allowed_company_ids=self.co.ids, hk_dispatch_confirm=True
        )
        manager.write({"employee_id": self.zhang.id})
        self.assertEqual(second.employee_id, self.zhang)
        self.assertEqual(first.state, "scheduled")
        self.assertTrue(second.message_ids.filtered(lambda m: "confirmed by" in (m.body or "")))

    # ------------------------------------------------------------------ b) suggestions
    def test_blocked_busy_unqualified_and_office_never_proposed(self):
        self.client.blocked_employee_ids = self.zhang
        other = self.env["res.partner"].create({"name": "Other", "company_id": self.co.id})
        # 李阿姨 works 08:00-10:00 UTC the same day: busy with the 30 min buffer
        self._v(date="2026-03-04 08:15:00", partner=other, employee_id=self.li.id)
        visit = self._v()  # 06:00-08:00 UTC
        ids = self._ids(visit.suggest_cleaners())
        self.assertEqual(ids, [self.wang.id], "not blocked, not busy, qualified, a cleaner")
        # without the buffer, 李阿姨 is free again
        self.co.hk_dispatch_travel_buffer = 0
        self.assertEqual(set(self._ids(visit.suggest_cleaners())), {self.wang.id, self.li.id})
        # a deep cleaning: 陈阿姨 is qualified and listed as such
        deep = self._v(date="2026-03-06 06:00:00", service_type=self.service_deep)
        best = deep.suggest_cleaners()
        self.assertIn(self.chen.id, self._ids(best))
        chen = next(s for s in best if s["employee_id"] == self.chen.id)
        self.assertIn("qualified", chen["reasons"])

    def test_preferred_then_continuity_with_ratings(self):
        self.client.preferred_employee_ids = self.wang
        # 李阿姨 served the customer three times, 张阿姨 once
        for day, cleaner in (("01", self.li), ("08", self.li), ("15", self.li), ("20", self.zhang)):
            self._visit(
                partner=self.client,
                date=f"2026-02-{day} 06:00:00",
                employee=cleaner,
                company_id=self.co.id,
            )
        best = self._v().suggest_cleaners(limit=3)
        self.assertEqual(self._ids(best), [self.wang.id, self.li.id, self.zhang.id])
        self.assertIn("preferred", best[0]["reasons"])
        self.assertIn("served 3 times", best[1]["reasons"])
        self.assertGreater(best[0]["score"], best[1]["score"])
        # a poor rating of 李阿姨 puts 张阿姨 (rated 5) before her
        li_visits = self.client.visit_ids.filtered(lambda v: v.employee_id == self.li)
        for visit in li_visits:
            visit.action_record_rating(1)
        self.client.visit_ids.filtered(lambda v: v.employee_id == self.zhang).action_record_rating(
            5
        )
        best = self._v(date="2026-03-05 06:00:00").suggest_cleaners(limit=3)
        self.assertEqual(self._ids(best), [self.wang.id, self.zhang.id, self.li.id])
        self.assertIn("5.0★", best[1]["reasons"])

    def test_district_and_workload(self):
        self.li.hk_district = "海淀区"
        self.wang.hk_district = "朝阳区, 东城区"
        best = self._v().suggest_cleaners()
        self.assertEqual(best[0]["employee_id"], self.wang.id)
        self.assertIn("works in 朝阳区", best[0]["reasons"])
        # two visits already this week for 王阿姨: 张阿姨 and 李阿姨 (no district) come first
        other = self.env["res.partner"].create({"name": "Other", "company_id": self.co.id})
        for date in ("2026-03-02 02:00:00", "2026-03-03 02:00:00"):
            self._v(date=date, partner=other, employee_id=self.wang.id)
        for _i in range(4):
            self._v(date="2026-03-05 02:00:00", partner=other, employee_id=self.wang.id)
        best = self._v(date="2026-03-06 06:00:00").suggest_cleaners()
        self.assertEqual(self._ids(best)[-1], self.wang.id, "six visits this week: 15 - 18 < 0")
        self.assertIn("6 visits this week", best[-1]["reasons"])

    def test_auto_assign_priority_member_first_and_explains(self):
        gold = self.env.ref("housekeeping_membership.tier_gold")
        self.assertTrue(gold.priority_booking)
        vip = self.env["res.partner"].create(
            {"name": "VIP", "company_id": self.co.id, "tz": "Asia/Shanghai"}
        )
        vip.action_set_tier(gold, "test")
        # only 张阿姨 is free for both visits at the same time
        self.client.preferred_employee_ids = self.zhang
        vip.preferred_employee_ids = self.zhang
        other = self.env["res.partner"].create({"name": "Other", "company_id": self.co.id})
        for cleaner in (self.li, self.wang):
            self._v(partner=other, employee_id=cleaner.id)
        regular_visit = self._v()
        vip_visit = self._v(partner=vip)
        self.assertGreater(vip_visit.tier_sequence, regular_visit.tier_sequence)
        (regular_visit | vip_visit).action_auto_assign()
        self.assertEqual(vip_visit.employee_id, self.zhang, "the priority member first")
        self.assertFalse(regular_visit.employee_id, "no one else free")
        self.assertEqual(regular_visit.dispatch_note, "No free qualified cleaner")
        self.assertTrue(vip_visit.dispatch_note.startswith("张阿姨: preferred"))
        self.assertIn("free 14:00–16:00", vip_visit.dispatch_note)

    def test_auto_assign_fills_a_day_without_double_booking(self):
        partners = self.env["res.partner"].create(
            [{"name": f"C{i}", "company_id": self.co.id} for i in range(6)]
        )
        visits = self.env["housekeeping.visit"]
        for partner in partners:
            visits |= self._v(partner=partner)
        visits.action_auto_assign()
        # three cleaners of hourly cleaning (陈阿姨 does deep cleaning only)
        assigned = visits.filtered("employee_id")
        self.assertEqual(len(assigned), 3)
        self.assertEqual(set(assigned.employee_id.ids), {self.zhang.id, self.li.id, self.wang.id})
        # rerun: the ones assigned keep their cleaner, no one is free for the rest
        visits.action_auto_assign()
        self.assertEqual(len(visits.filtered("employee_id")), 3)

    def test_auto_assign_queries_do_not_grow_with_visits(self):
        def run(n, day):
            partners = self.env["res.partner"].create(
                [{"name": f"Q{day}-{i}", "company_id": self.co.id} for i in range(n)]
            )
            visits = self.env["housekeeping.visit"].create(
                [
                    {
                        "partner_id": p.id,
                        "service_type_id": self.service_hourly.id,
                        "company_id": self.co.id,
                        "date": f"2026-03-{day} 0{i % 3}:00:00",
                    }
                    for i, p in enumerate(partners)
                ]
            )
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            self.env["housekeeping.engine.dispatch"]._auto_assign(visits)
            return self.cr.sql_log_count - before

        self.assertEqual(run(2, 10), run(12, 11))

    def test_assign_wizard_proposes_and_confirms(self):
        self.manager.company_ids |= self.co
        self.client.preferred_employee_ids = self.li
        visit = self._v()
        wizard_model = (
            self.env["housekeeping.visit.assign"]
            .with_user(self.manager)
            .with_context(allowed_company_ids=self.co.ids)
        )
        wizard = wizard_model.create({"visit_id": visit.id})
        self.assertIn("李阿姨", wizard.suggestions)
        self.assertIn("preferred", wizard.suggestions)
        defaults = wizard_model.with_context(default_visit_id=visit.id).default_get(
            ["visit_id", "employee_id"]
        )
        self.assertEqual(defaults["employee_id"], self.li.id, "the best proposal preselected")
        wizard = wizard_model.create({"visit_id": visit.id, "employee_id": self.chen.id})
        with self.assertRaisesRegex(UserError, "Confirm"), self.cr.savepoint():
            wizard.action_assign()
        wizard.action_assign_anyway()
        self.assertEqual(visit.employee_id, self.chen)
        self.assertTrue(visit.message_ids.filtered(lambda m: "confirmed by" in (m.body or "")))

    def test_dispatch_board_views_and_list_action(self):
        self.user.company_ids |= self.co
        visits = self.env["housekeeping.visit"].with_user(self.user)
        ref = self.env.ref
        views = visits.get_views(
            [
                (
                    ref("housekeeping_membership.housekeeping_visit_view_kanban_dispatch").id,
                    "kanban",
                ),
                (ref("housekeeping_membership.housekeeping_visit_view_calendar").id, "calendar"),
                (ref("housekeeping_membership.housekeeping_visit_view_list_dispatch").id, "list"),
                (False, "form"),
                (False, "search"),
            ]
        )
        self.assertIn('default_group_by="employee_id"', views["views"]["kanban"]["arch"])
        self.assertIn("action_auto_assign", views["views"]["list"]["arch"])
        self.assertIn("filter_unassigned", views["views"]["search"]["arch"])
        self.assertIn("dispatch_note", views["views"]["form"]["arch"])
        plans = self.env["housekeeping.service.plan"].with_user(self.user)
        self.assertIn("weekday_ids", plans.get_views([(False, "form")])["views"]["form"]["arch"])
        report = self.env["housekeeping.report.cleaner"].with_user(self.manager)
        self.assertTrue(report.get_views([(False, "pivot"), (False, "graph"), (False, "list")]))
        # the list's Auto-assign (server action bound to the visits)
        visit = self._v()
        action = ref("housekeeping_membership.housekeeping_visit_action_server_auto_assign")
        action.with_user(self.user).with_context(
            active_model="housekeeping.visit",
            active_ids=visit.ids,
            allowed_company_ids=self.co.ids,
        ).run()
        self.assertTrue(visit.employee_id)
        self.assertTrue(visit.dispatch_note)
