"""A day at a cleaning company (issue 28), the last points: staff texts in the
company's language whoever triggers them, the empty churn reason group named, the
visit figures counting done visits only."""

from lxml import etree

from odoo import fields
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .common import HousekeepingCase


@tagged("post_install", "-at_install")
class TestDailyFinish(HousekeepingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("zh_CN")
        cls.env["ir.module.module"].search(
            [("name", "=", "housekeeping_membership")]
        )._update_translations(["zh_CN"])
        cny = cls.env.ref("base.CNY")
        cny.active = True
        cls.branch = cls.env["res.company"].create({"name": "洁家家政服务", "currency_id": cny.id})
        cls.branch.partner_id.lang = "zh_CN"
        cls.branch_cleaner = cls.env["hr.employee"].create(
            {"name": "刘阿姨", "company_id": cls.branch.id}
        )
        # the caller works in English
        cls.env = cls.env(context=dict(cls.env.context, lang="en_US"))

    def _branch_customer(self, name, **vals):
        return self.env["res.partner"].create(
            {"name": name, "company_id": self.branch.id, "lang": "zh_CN", **vals}
        )

    # ------------------------------------------------------------------ staff language
    def test_reward_notes_in_company_language(self):
        customer = self._branch_customer("赵女士")
        self.env["housekeeping.engine.points"]._grant_points(customer, 1000, "goodwill")
        gift = self.env["housekeeping.reward"].create(
            {
                "name": "Eco cleaning kit",
                "points_cost": 300,
                "reward_type": "gift",
                "company_id": self.branch.id,
            }
        )
        gift.with_context(lang="zh_CN").name = "环保清洁套装"
        wizard = self.env["housekeeping.reward.redeem"].create(
            {"partner_id": customer.id, "reward_id": gift.id, "company_id": self.branch.id}
        )
        wizard.action_redeem()
        note = customer.message_ids.filtered(lambda m: "300" in str(m.body or ""))[:1]
        self.assertIn("已使用 300 积分兑换 环保清洁套装", str(note.body))
        activity = customer.activity_ids.filtered(lambda a: "环保清洁套装" in (a.summary or ""))
        self.assertEqual(activity.summary, "配送礼品：环保清洁套装")
        entry = self.env["housekeeping.points.entry"].search(
            [("partner_id", "=", customer.id), ("entry_type", "=", "redeem")]
        )
        self.assertEqual(entry.note, "环保清洁套装")

    def test_referral_notes_in_company_language(self):
        referrer = self._branch_customer("钱先生", phone="13800138000")
        referee = self._branch_customer("钱太太", phone="138 0013 8000", referred_by_id=referrer.id)
        self._visit(
            partner=referee,
            date="2026-01-10 09:00:00",
            company_id=self.branch.id,
            employee=self.branch_cleaner,
        )
        note = referee.message_ids.filtered(lambda m: "钱先生" in str(m.body or ""))
        self.assertTrue(note)
        self.assertIn("推荐不计积分", str(note[0].body))
        self.assertNotIn("No referral points", str(note[0].body))
        # the monthly cap's note, on the referrer
        self.branch.hk_referral_monthly_cap = 1
        for n, name in enumerate(("孙先生", "孙太太")):
            self._visit(
                partner=self._branch_customer(
                    name, referred_by_id=referrer.id, phone=f"1390000000{n}"
                ),
                date="2026-01-11 09:00:00",
                company_id=self.branch.id,
                employee=self.branch_cleaner,
            )
        capped = referrer.message_ids.filtered(lambda m: "孙" in str(m.body or ""))
        self.assertTrue(capped)
        self.assertIn("推荐不计积分", str(capped[0].body))

    def test_winback_activity_in_company_language(self):
        customer = self._branch_customer(
            "周女士",
            churn_reason_id=self.env.ref("housekeeping_membership.churn_reason_quality").id,
        )
        self.env["housekeeping.engine.lifecycle"]._start_winback_playbooks(
            customer, fields.Date.today()
        )
        playbook = self.env.ref("housekeeping_membership.winback_playbook_quality")
        activity = customer.activity_ids.filtered(lambda a: a.activity_type_id)
        self.assertEqual(activity.summary, playbook.with_context(lang="zh_CN").name)
        self.assertNotEqual(activity.summary, playbook.with_context(lang="en_US").name)
        # an English company's customer gets the English playbook in the same run
        self.company.partner_id.lang = "en_US"
        english = self.env["res.partner"].create(
            {
                "name": "Mr Ford",
                "company_id": self.company.id,
                "churn_reason_id": self.env.ref("housekeeping_membership.churn_reason_quality").id,
            }
        )
        self.env["housekeeping.engine.lifecycle"].with_context(
            lang="zh_CN"
        )._start_winback_playbooks(english, fields.Date.today())
        self.assertEqual(english.activity_ids.summary, "Apologise and call back")

    def test_vip_callback_in_company_language(self):
        customer = self._branch_customer("吴先生")
        engine = self.env["housekeeping.engine.vip"]
        engine._vip_apply([(customer.id, "add")])
        planned = engine._vip_schedule_callbacks(fields.Date.today())
        self.assertIn(customer.id, planned)
        callback = customer.activity_ids.filtered(
            lambda a: (
                a.activity_type_id
                == self.env.ref("housekeeping_membership.mail_activity_type_callback")
            )
        )
        self.assertEqual(callback.summary, "VIP客户回访：感谢客户并征求意见")

    # ------------------------------------------------------------------ churn reason group
    def test_empty_churn_reason_group_is_named(self):
        field = self.env["res.partner"].fields_get(["churn_reason_id"])["churn_reason_id"]
        self.assertEqual(field["falsy_value_label"], "Not confirmed")
        field_zh = (
            self.env["res.partner"]
            .with_context(lang="zh_CN")
            .fields_get(["churn_reason_id"])["churn_reason_id"]
        )
        self.assertEqual(field_zh["falsy_value_label"], "未确认")
        # the web client reads it with the views of the customers' list (the search
        # view's "Churn Reason" grouping)
        search = self.env.ref("housekeeping_membership.res_partner_view_search_housekeeping")
        views = (
            self.env["res.partner"]
            .with_context(lang="zh_CN")
            .get_views([(False, "list"), (search.id, "search")], {"load_filters": False})
        )
        self.assertEqual(
            views["models"]["res.partner"]["fields"]["churn_reason_id"]["falsy_value_label"],
            "未确认",
        )

    # ------------------------------------------------------------------ visit figures
    def _action_domain(self, xmlid):
        """The domain the web client searches with when it opens the action: its
        own domain and the filters its context turns on by default."""
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        context = safe_eval(action.get("context") or "{}", {"uid": self.env.uid})
        domain = safe_eval(action.get("domain") or "[]")
        search = self.env["ir.ui.view"].browse(action["search_view_id"][0])
        arch = etree.fromstring(search.get_combined_arch())
        for key, value in context.items():
            if key.startswith("search_default_") and value:
                name = key.removeprefix("search_default_")
                node = arch.xpath(f"//filter[@name='{name}']")
                self.assertTrue(node, name)
                domain += safe_eval(node[0].get("domain"), {"context_today": fields.Date.today})
        return action, context, domain

    def test_visit_analysis_counts_done_visits(self):
        customer = self.env["res.partner"].create({"name": "Ms Analysis"})
        # the visits report reads done visits per day (no customer): the day's
        # figures before and after this customer's visits
        report_day = [("date", "=", "2026-01-10")]
        [(count_before, revenue_before)] = self.env["housekeeping.report.visit"]._read_group(
            report_day, [], ["visit_count:sum", "amount:sum"]
        )
        for state, amount in (("done", 100), ("scheduled", 200), ("cancelled", 300)):
            self._visit(partner=customer, amount=amount, state=state)
        self._visit(partner=customer, amount=50, state="draft")
        action, context, domain = self._action_domain(
            "housekeeping_membership.housekeeping_visit_action_analysis"
        )
        self.assertEqual(action["view_mode"].split(",")[:2], ["pivot", "graph"])
        self.assertEqual(context["pivot_measures"], ["__count", "amount"])
        [(count, revenue)] = self.env["housekeeping.visit"]._read_group(
            domain + [("partner_id", "=", customer.id)], [], ["__count", "amount:sum"]
        )
        self.assertEqual((count, revenue), (1, 100))
        # the work list shows every visit, and no figures of its own
        work, _context, work_domain = self._action_domain(
            "housekeeping_membership.housekeeping_visit_action"
        )
        self.assertNotIn("pivot", work["view_mode"])
        self.assertNotIn("graph", work["view_mode"])
        self.assertEqual(
            self.env["housekeeping.visit"].search_count(
                work_domain + [("partner_id", "=", customer.id)]
            ),
            4,
        )
        # the reports' visits and seasonality: done visits only as well
        [(count, revenue)] = self.env["housekeeping.report.visit"]._read_group(
            report_day, [], ["visit_count:sum", "amount:sum"]
        )
        self.assertEqual((count - (count_before or 0), revenue - (revenue_before or 0)), (1, 100))
        menu = self.env.ref("housekeeping_membership.menu_visit_analysis")
        self.assertEqual(
            menu.action, self.env.ref("housekeeping_membership.housekeeping_visit_action_analysis")
        )
