"""A working day per role in real Chromium, in Chinese (issue 28).

The tours are in static/tests/tours/hk_role_tours.js; each test sets up its data,
runs its role's tour as a zh_CN user (time zone Asia/Shanghai) and asserts what the
day left in the database:

- the manager: overview → the customers at risk → one of them given a churn reason
  (its win-back playbook starts) and a callback → a lifecycle threshold previewed
  and saved, after which the next evaluation moves a customer;
- the service agent: a caller found by phone → a visit booked and completed, its
  duration the service's default → the complaint a low rating opened, resolved;
- the customer, on the portal at a phone's size (390×844, touch): the member card,
  check-in, a coupon redeemed with its conditions (满500减50), a visit rated once,
  the referral code with its QR code and link.
"""

from datetime import timedelta

from odoo import Command, fields
from odoo.tests import HttpCase, new_test_user, tagged

CALLER_PHONE = "138-0013-8000"


class RoleToursCase(HttpCase):
    """The roles' users and a small customer base, in Chinese."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("zh_CN")
        cls.env["ir.module.module"].search(
            [("name", "=", "housekeeping_membership")]
        )._update_translations(["zh_CN"])

    def setUp(self):
        super().setUp()
        env = self.env
        person = {"lang": "zh_CN", "tz": "Asia/Shanghai"}
        # Settings (the lifecycle thresholds) are a system administrator's screen
        self.manager = new_test_user(
            env,
            login="hk_role_manager",
            groups="housekeeping_membership.group_membership_manager,base.group_system",
            name="Manager Chen",
            **person,
        )
        self.agent = new_test_user(
            env,
            login="hk_role_agent",
            groups="housekeeping_membership.group_membership_user",
            name="Agent Lin",
            **person,
        )
        self.portal_user = new_test_user(
            env, login="hk_role_wu", groups="base.group_portal", name="Wu Fang", **person
        )
        self.company = env.company
        self.assertEqual(self.company.hk_at_risk_floor_days, 45)
        self.assertEqual(self.company.hk_complaint_score, 2)
        self.hourly = env.ref("housekeeping_membership.service_type_hourly")
        self.window = env["housekeeping.service.type"].create(
            {"name": "RT Window Cleaning", "code": "rt_window", "default_duration": 3.5}
        )
        self.cleaner = env["hr.employee"].create({"name": "Cleaner Zhang"})
        now = fields.Datetime.now()

        def customer(name, days_ago, **vals):
            partner = env["res.partner"].create({"name": name, **person, **vals})
            self._done_visit(partner, now - timedelta(days=days_ago))
            return partner

        # one visit each: at risk after 45 days without a visit, churned after 180
        self.zhao = customer("Zhao Min", 60)
        self.qian = customer("Qian Hao", 70)
        self.sun = customer("Sun Li", 30)  # new; at risk once the floor is 25 days
        self.zhou = customer("Zhou Jie", 10, phone="139-0000-1111")
        # the agent's caller, whose last visit was rated 2: a complaint, theirs
        self.caller = customer("Li Na", 20, phone=CALLER_PHONE, user_id=self.agent.id)
        self.caller.visit_ids.action_record_rating(2, "The kitchen was not cleaned")
        self.complaint = self.caller.visit_ids.complaint_ids
        self.assertEqual(len(self.complaint), 1)
        self.assertEqual(self.complaint.user_id, self.agent, "assigned to a person")
        # the portal customer: a visit to rate, points to spend, a coupon to redeem
        self.wu = self.portal_user.partner_id
        self.wu_visit = self._done_visit(self.wu, now - timedelta(days=3))
        env["housekeeping.engine.points"]._grant_points(self.wu, 300, "goodwill", origin="welcome")
        program = env["loyalty.program"].create(
            {
                "name": "RT Spring offer",
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
        self.coupon_reward = env["housekeeping.reward"].create(
            {
                "name": "RT 50 off",
                "points_cost": 200,
                "reward_type": "coupon",
                "loyalty_program_id": program.id,
            }
        )
        # a churn reason of the manager's, with its win-back playbook
        self.reason = env["housekeeping.churn.reason"].create(
            {"name": "Too expensive", "code": "rt_too_expensive"}
        )
        self.playbook = env["housekeeping.winback.playbook"].create(
            {"name": "Targeted package offer", "reason_id": self.reason.id}
        )
        env["res.partner"]._cron_evaluate_lifecycle()
        self.env.invalidate_all()

    def _done_visit(self, partner, date):
        visit = self.env["housekeeping.visit"].create(
            {
                "partner_id": partner.id,
                "service_type_id": self.hourly.id,
                "date": date,
                "amount": 120,
                "employee_id": self.cleaner.id,
            }
        )
        visit.action_done()
        return visit

    def _stage(self, partner):
        partner.invalidate_recordset()
        return partner.lifecycle_stage


@tagged("post_install", "-at_install")
class TestBackOfficeRoleTours(RoleToursCase):
    def test_manager_day(self):
        at_risk = self.env["res.partner"].search([("lifecycle_stage", "=", "at_risk")])
        self.assertEqual(at_risk, self.zhao | self.qian | self.caller)
        self.assertEqual(self._stage(self.sun), "new")
        self.start_tour(
            "/odoo/action-housekeeping_membership.hk_membership_dashboard_action",
            "hk_role_manager_tour",
            login=self.manager.login,
            timeout=240,
        )
        self.env.invalidate_all()
        # the win-back: the reason set (by staff: confirmed), its playbook started,
        # a callback planned
        self.assertEqual(self.zhao.churn_reason_id, self.reason)
        self.assertTrue(self.zhao.churn_reason_confirmed)
        run = self.env["housekeeping.winback.run"].search([("partner_id", "=", self.zhao.id)])
        self.assertEqual(run.playbook_id, self.playbook)
        callback = self.env.ref("housekeeping_membership.mail_activity_type_callback")
        self.assertIn(callback, self.zhao.activity_ids.activity_type_id)
        self.assertIn("Targeted package offer", self.zhao.activity_ids.mapped("summary"))
        # the threshold saved on the company; the next evaluation moves the customer
        self.assertEqual(self.company.hk_at_risk_floor_days, 25)
        self.assertFalse(self.sun.lifecycle_next_check, "due at the next evaluation")
        self.env["res.partner"]._cron_evaluate_lifecycle()
        self.assertEqual(self._stage(self.sun), "at_risk")
        self.assertEqual(self.sun.stage_log_ids.sorted("id")[-1:].to_stage, "at_risk")
        self.assertEqual(self._stage(self.zhou), "new", "a recent customer does not move")

    def test_agent_day(self):
        visits_before = self.caller.visit_ids
        self.start_tour(
            "/odoo/action-housekeeping_membership.res_partner_action_customers",
            "hk_role_agent_tour",
            login=self.agent.login,
            timeout=240,
        )
        self.env.invalidate_all()
        visit = self.caller.visit_ids - visits_before
        self.assertEqual(len(visit), 1, "one visit booked for the caller")
        self.assertEqual(visit.service_type_id, self.window)
        self.assertEqual(visit.duration, 3.5, "the service's default duration")
        self.assertEqual(visit.state, "done")
        self.assertEqual(visit.amount, 260)
        self.assertEqual(visit.user_id, self.agent)
        self.assertLess(visit.date, fields.Datetime.now())
        self.assertEqual(self.caller.visit_count, 2)
        self.assertEqual(self.complaint.state, "resolved")
        self.assertIn("senior cleaner", self.complaint.resolution)
        self.assertTrue(self.complaint.resolved_date)
        self.assertEqual(self.complaint.user_id, self.agent)


@tagged("post_install", "-at_install")
class TestCustomerRoleTour(RoleToursCase):
    # a phone, as tests/test_portal_ui.py: the viewport of the browser HttpCase starts
    browser_size = "390x844"
    touch_enabled = True

    def test_customer_day(self):
        balance = self.wu.points_balance
        self.assertGreaterEqual(balance, self.coupon_reward.points_cost)
        self.assertFalse(self.wu_visit.rating_last_value)
        self.start_tour(
            "/my/membership", "hk_role_customer_tour", login=self.portal_user.login, timeout=240
        )
        self.env.invalidate_all()
        # checked in today
        self.assertEqual(self.wu.last_check_in_date, self.wu._hk_local_today())
        check_in = self.env["housekeeping.points.entry"].search(
            [("partner_id", "=", self.wu.id), ("reason_code", "=", "check_in")]
        )
        self.assertEqual(len(check_in), 1)
        # the coupon: a loyalty card of the program, its points spent
        card = self.env["loyalty.card"].search([("partner_id", "=", self.wu.id)])
        self.assertEqual(card.program_id, self.coupon_reward.loyalty_program_id)
        self.assertEqual(
            self.wu.points_balance,
            balance + sum(check_in.mapped("points")) - self.coupon_reward.points_cost,
        )
        # rated once
        ratings = self.env["rating.rating"].search(
            [
                ("res_model", "=", "housekeeping.visit"),
                ("res_id", "=", self.wu_visit.id),
                ("consumed", "=", True),
            ]
        )
        self.assertEqual(len(ratings), 1)
        self.assertEqual(ratings.rating, 4)
        self.assertEqual(self.wu_visit.rating_last_value, 4)
        # the referral code, shared as a QR code and a link
        self.assertTrue(self.wu.referral_code)
