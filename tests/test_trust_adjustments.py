"""Points adjustments are documents frozen once submitted.

``TestAdjustmentAttacks`` plays a membership user (and a manager approving their
own adjustment) calling JSON-RPC exactly as the web client does, over real HTTP:
every hole is refused and nothing changes (the adjustment's row, the customer's
balance, the ledger, the chatter). The other classes check the legitimate flows:
four eyes, the monthly cap of unapproved adjustments and the staff audit report.
"""

from contextlib import contextmanager
from datetime import date

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import SQL, mute_logger

from .common import HousekeepingCase

MODEL = "housekeeping.points.adjustment"
USER_ERROR = "odoo.exceptions.UserError"


@tagged("post_install", "-at_install")
class TestAdjustmentAttacks(HousekeepingCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write({"hk_points_approval_threshold": 500, "hk_points_adjust_cap": 2000})
        cls.attacker = new_test_user(
            cls.env,
            login="hk_attacker",
            password="hk_attacker",
            groups="housekeeping_membership.group_membership_user",
            name="Agent Attacker",
        )
        cls.boss = new_test_user(
            cls.env,
            login="hk_boss",
            password="hk_boss",
            groups="housekeeping_membership.group_membership_manager",
            name="Manager Boss",
        )

    # ------------------------------------------------------------------ helpers
    def _call(self, method, args, kwargs=None, button=False):
        route = "call_button" if button else "call_kw"
        return self.make_jsonrpc_request(
            f"/web/dataset/{route}/{MODEL}/{method}",
            {"model": MODEL, "method": method, "args": args, "kwargs": kwargs or {}},
        )

    def _create(self, points, note="Goodwill"):
        result = self._call(
            "create", [{"partner_id": self.customer.id, "points": points, "note": note}]
        )
        adjustment_id = result[0] if isinstance(result, list) else result
        return self.env[MODEL].browse(adjustment_id)

    def _post(self, adjustment):
        self._call("action_post", [adjustment.ids], button=True)
        self.env.invalidate_all()

    def _state(self, adjustment):
        """The adjustment's raw row, the customer's balance, the ledger rows and the
        chatter messages of the adjustment and of the customer."""
        env = self.env
        env.flush_all()
        env.invalidate_all()
        env.cr.execute(
            SQL(
                "SELECT to_jsonb(t) FROM %s t WHERE id = %s",
                SQL.identifier(env[MODEL]._table),
                adjustment.id,
            )
        )
        row = env.cr.fetchone()[0]
        env.cr.execute("SELECT points_balance FROM res_partner WHERE id = %s", [self.customer.id])
        balance = env.cr.fetchone()[0]
        env.cr.execute(
            "SELECT count(*), COALESCE(sum(points), 0) FROM housekeeping_points_entry"
            " WHERE partner_id = %s",
            [self.customer.id],
        )
        ledger = env.cr.fetchone()
        env.cr.execute(
            """SELECT count(*) FROM mail_message
                WHERE (model = %s AND res_id = %s) OR (model = 'res.partner' AND res_id = %s)""",
            [MODEL, adjustment.id, self.customer.id],
        )
        messages = env.cr.fetchone()[0]
        return {"row": row, "balance": balance, "ledger": ledger, "messages": messages}

    @contextmanager
    def assertRefusedRpc(self, adjustment):
        before = self._state(adjustment)
        with self.assertRaises(JsonRpcException) as caught, mute_logger("odoo.http"):
            yield
        self.assertEqual(str(caught.exception), USER_ERROR)
        self.assertEqual(self._state(adjustment), before, "a refused call changed something")

    # ------------------------------------------------------------------ holes
    def test_edit_after_submission(self):
        self.authenticate("hk_attacker", "hk_attacker")
        adjustment = self._create(600)
        self._post(adjustment)
        self.assertEqual(adjustment.state, "to_approve")
        other = self.env["res.partner"].create({"name": "Accomplice"})
        for vals in ({"points": 6000}, {"partner_id": other.id}, {"note": "Same as before"}):
            with self.assertRefusedRpc(adjustment):
                self._call("write", [adjustment.ids, vals])
            # the web client saves through web_save
            with self.assertRefusedRpc(adjustment):
                self._call("web_save", [adjustment.ids, vals], {"specification": {"points": {}}})
        self.assertEqual(self.customer.points_balance, 0)

    def test_name_an_approver(self):
        self.authenticate("hk_attacker", "hk_attacker")
        draft = self._create(40)
        with self.assertRefusedRpc(draft):
            self._call("write", [draft.ids, {"approved_by_id": self.manager.id}])
        submitted = self._create(900)
        self._post(submitted)
        with self.assertRefusedRpc(submitted):
            self._call("write", [submitted.ids, {"approved_by_id": self.manager.id}])
        # nor at creation, in the values or as a default in the context
        count = self.env[MODEL].search_count([])
        with self.assertRaises(JsonRpcException), mute_logger("odoo.http"):
            self._call(
                "create",
                [
                    {
                        "partner_id": self.customer.id,
                        "points": 40,
                        "note": "x",
                        "approved_by_id": self.manager.id,
                        "state": "to_approve",
                    }
                ],
            )
        with self.assertRaises(JsonRpcException), mute_logger("odoo.http"):
            self._call(
                "create",
                [{"partner_id": self.customer.id, "points": 40, "note": "x"}],
                {"context": {"default_approved_by_id": self.manager.id}},
            )
        self.assertEqual(self.env[MODEL].search_count([]), count)

    def test_change_or_reset_a_posted_adjustment(self):
        self.authenticate("hk_attacker", "hk_attacker")
        adjustment = self._create(50)
        self._post(adjustment)
        self.assertEqual(adjustment.state, "posted")
        self.assertEqual(self.customer.points_balance, 50)
        for vals in (
            {"points": 5000},
            {"state": "draft"},
            {"state": "draft", "entry_id": False},
            {"entry_id": False},
            {"partner_id": self.env["res.partner"].create({"name": "Other"}).id},
        ):
            with self.assertRefusedRpc(adjustment):
                self._call("write", [adjustment.ids, vals])
        # posting it a second time credits nothing more either
        with self.assertRefusedRpc(adjustment):
            self._call("action_post", [adjustment.ids], button=True)
        self.assertEqual(self.customer.points_balance, 50)

    def test_approve_own_adjustment(self):
        """A manager's adjustment above the threshold waits for another manager."""
        self.authenticate("hk_boss", "hk_boss")
        adjustment = self._create(800)
        self._post(adjustment)
        self.assertEqual(adjustment.state, "to_approve")
        self.assertEqual(self.customer.points_balance, 0)
        with self.assertRefusedRpc(adjustment):
            self._call("action_approve", [adjustment.ids], button=True)
        with self.assertRefusedRpc(adjustment):
            self._call("action_refuse", [adjustment.ids], button=True)
        self.assertEqual(self.customer.points_balance, 0)

    def test_approve_through_a_context_key(self):
        self.authenticate("hk_attacker", "hk_attacker")
        adjustment = self._create(900)
        self._post(adjustment)
        self.assertEqual(adjustment.state, "to_approve")
        contexts = (
            {"hk_engine_writes": True, "housekeeping_membership_engine_writes": ["adjustment"]},
            {"adjustment": True, "engine_writes": "*", "tracking_disable": True},
        )
        for context in contexts:
            with self.assertRefusedRpc(adjustment):
                self._call(
                    "write",
                    [adjustment.ids, {"state": "posted", "approved_by_id": self.manager.id}],
                    {"context": context},
                )
            with self.assertRefusedRpc(adjustment):
                self._call("action_approve", [adjustment.ids], {"context": context}, button=True)
        self.assertEqual(self.customer.points_balance, 0)

    def test_cap_of_unapproved_adjustments(self):
        """Adjustments just under the threshold, again and again: beyond the cap they
        wait for a manager."""
        self.company.write({"hk_points_approval_threshold": 500, "hk_points_adjust_cap": 1000})
        self.authenticate("hk_attacker", "hk_attacker")
        for _i in range(2):
            adjustment = self._create(490)
            self._post(adjustment)
            self.assertEqual(adjustment.state, "posted")
        self.assertEqual(self.customer.points_balance, 980)
        extra = self._create(-490)  # debits count too
        before = self._state(extra)
        self._post(extra)
        self.assertEqual(extra.state, "to_approve")
        self.assertEqual(extra.approval_reason, "cap")
        after = self._state(extra)
        self.assertEqual(after["balance"], before["balance"])
        self.assertEqual(after["ledger"], before["ledger"])
        # and the waiting one cannot be pushed through by hand
        with self.assertRefusedRpc(extra):
            self._call("write", [extra.ids, {"state": "posted"}])


class AdjustmentCase(HousekeepingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write({"hk_points_approval_threshold": 500, "hk_points_adjust_cap": 1000})
        cls.manager_2 = new_test_user(
            cls.env,
            login="hk_manager_2",
            groups="housekeeping_membership.group_membership_manager",
            name="Manager Liu",
        )
        cls.user_2 = new_test_user(
            cls.env,
            login="hk_user_2",
            groups="housekeeping_membership.group_membership_user",
            name="Agent Sun",
        )
        cls.Entry = cls.env["housekeeping.points.entry"]

    def _adjust(self, user, points, partner=None, post=True):
        adjustment = (
            self.env[MODEL]
            .with_user(user)
            .create({"partner_id": (partner or self.customer).id, "points": points, "note": "T"})
        )
        if post:
            adjustment.action_post()
        return adjustment

    def _ledger(self, partner=None):
        return self.Entry.search([("partner_id", "=", (partner or self.customer).id)])


@tagged("post_install", "-at_install")
class TestFourEyes(AdjustmentCase):
    def test_user_adjustment_approved_by_a_manager(self):
        adjustment = self._adjust(self.user, 800)
        self.assertEqual(adjustment.state, "to_approve")
        self.assertEqual(adjustment.approval_reason, "threshold")
        self.assertEqual(adjustment.requested_by_id, self.user)
        self.assertEqual(adjustment.submitted_by_id, self.user)
        activity = adjustment.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertNotEqual(activity.user_id, self.user)
        self.assertFalse(self._ledger())
        adjustment.with_user(self.manager).action_approve()
        self.assertEqual(adjustment.state, "posted")
        self.assertEqual(adjustment.approved_by_id, self.manager)
        self.assertTrue(adjustment.decision_date)
        self.assertFalse(adjustment.activity_ids)
        ledger = self._ledger()
        self.assertEqual(len(ledger), 1)
        self.assertEqual((ledger.points, ledger.entry_type), (800, "adjust"))
        self.assertEqual(adjustment.entry_id, ledger)
        self.assertEqual(self.customer.points_balance, 800)

    def test_manager_adjustment_goes_to_another_manager(self):
        adjustment = self._adjust(self.manager, 800)
        self.assertEqual(adjustment.state, "to_approve")
        self.assertNotEqual(adjustment.activity_ids.user_id, self.manager)
        with self.assertRaises(UserError):
            adjustment.with_user(self.manager).action_approve()
        with self.assertRaises(UserError):
            adjustment.with_user(self.manager).action_refuse()
        with self.assertRaises(UserError):
            adjustment.with_user(self.user).action_approve()
        self.assertFalse(self._ledger())
        adjustment.with_user(self.manager_2).action_approve()
        self.assertEqual(adjustment.approved_by_id, self.manager_2)
        self.assertEqual(len(self._ledger()), 1)
        self.assertEqual(self.customer.points_balance, 800)
        # approving again posts nothing more
        with self.assertRaises(UserError):
            adjustment.with_user(self.manager).action_approve()
        self.assertEqual(len(self._ledger()), 1)

    def test_submitter_cannot_approve(self):
        """A manager who submits someone's draft is one of the four eyes already."""
        adjustment = self._adjust(self.user, 800, post=False)
        adjustment.with_user(self.manager).action_post()
        self.assertEqual(adjustment.submitted_by_id, self.manager)
        with self.assertRaises(UserError):
            adjustment.with_user(self.manager).action_approve()
        adjustment.with_user(self.manager_2).action_approve()
        self.assertEqual(adjustment.state, "posted")

    def test_refusal_is_recorded(self):
        adjustment = self._adjust(self.user, 800)
        adjustment.with_user(self.manager).action_refuse()
        self.assertEqual(adjustment.state, "refused")
        self.assertEqual(adjustment.refused_by_id, self.manager)
        self.assertTrue(adjustment.decision_date)
        self.assertFalse(adjustment.approved_by_id)
        self.assertFalse(self._ledger())
        with self.assertRaises(UserError):
            adjustment.with_user(self.manager_2).action_approve()
        with self.assertRaises(UserError):
            adjustment.unlink()

    def test_draft_edited_by_author_or_manager_only(self):
        draft = self._adjust(self.user, 50, post=False)
        draft.with_user(self.user).write({"points": 60, "note": "Typo"})
        draft.with_user(self.manager).write({"points": 70})
        with self.assertRaises(UserError):
            draft.with_user(self.user_2).write({"points": 5000})
        with self.assertRaises(UserError):
            draft.with_user(self.user).write({"state": "posted"})
        self.assertEqual((draft.points, draft.state), (70, "draft"))
        draft.with_user(self.user).action_post()
        self.assertEqual(draft.state, "posted")
        with self.assertRaises(UserError):
            draft.with_user(self.manager).write({"note": "Changed"})
        with self.assertRaises(UserError):
            draft.sudo().write({"points": 1})

    def test_form_as_the_web_client(self):
        form = Form(
            self.env[MODEL].with_user(self.user).with_context(default_partner_id=self.customer.id)
        )
        form.points = 30
        form.note = "Late cleaner"
        adjustment = form.save()
        self.assertEqual((adjustment.state, adjustment.requested_by_id), ("draft", self.user))
        with Form(adjustment.with_user(self.user)) as edit:
            edit.points = 40
        adjustment.with_user(self.user).action_post()
        self.assertEqual((adjustment.state, self.customer.points_balance), ("posted", 40))

    def test_no_other_manager(self):
        company_b = self.env["res.company"].create({"name": "Store B"})
        company_b.hk_points_approval_threshold = 100
        lone = self._company_user(
            "hk_lone_manager", company_b, group="housekeeping_membership.group_membership_manager"
        )
        customer_b = self.env["res.partner"].create(
            {"name": "B customer", "company_id": company_b.id}
        )
        adjustment = (
            self.env[MODEL]
            .with_user(lone)
            .with_company(company_b)
            .create({"partner_id": customer_b.id, "points": 300, "note": "T"})
        )
        with self.assertRaises(UserError):
            adjustment.action_post()


@tagged("post_install", "-at_install")
class TestAdjustmentCap(AdjustmentCase):
    @freeze_time("2026-03-10 10:00:00")
    def test_cap_sends_the_rest_to_approval(self):
        first = self._adjust(self.user, 400)
        second = self._adjust(self.user, -300)
        self.assertEqual((first.state, second.state), ("posted", "posted"))
        third = self._adjust(self.user, 400)  # 700 + 400 > 1000
        self.assertEqual(third.state, "to_approve")
        self.assertEqual(third.approval_reason, "cap")
        small = self._adjust(self.user, 300)  # 700 + 300 = 1000: still within the cap
        self.assertEqual(small.state, "posted")
        # another user has a cap of their own
        self.assertEqual(self._adjust(self.user_2, 400).state, "posted")
        # approved adjustments do not count against the cap
        third.with_user(self.manager).action_approve()
        self.assertEqual(third.state, "posted")
        self.assertEqual(self._adjust(self.user, 1).state, "to_approve")
        self.assertEqual(self.customer.points_balance, 400 - 300 + 400 + 300 + 400)
        self.assertEqual(len(self._ledger()), 5)

    def test_cap_is_per_month_and_zero_means_none(self):
        with freeze_time("2026-03-20 10:00:00"):
            self.assertEqual(self._adjust(self.user, 500).state, "posted")
            self.assertEqual(self._adjust(self.user, 500).state, "posted")
            self.assertEqual(self._adjust(self.user, 10).state, "to_approve")
        with freeze_time("2026-04-02 10:00:00"):
            self.assertEqual(self._adjust(self.user, 500).state, "posted")
            self.company.hk_points_adjust_cap = 0
            self.assertEqual(self._adjust(self.user, 500).state, "posted")
            self.assertEqual(self._adjust(self.user, 500).state, "posted")


@tagged("post_install", "-at_install")
class TestStaffAudit(AdjustmentCase):
    def test_counts_per_user_and_month(self):
        gold = self.env.ref("housekeeping_membership.tier_gold")
        other = self.env["res.partner"].create({"name": "Customer Zhao"})
        with freeze_time("2026-01-15 10:00:00"):
            self._adjust(self.user, 100)
            self._adjust(self.user, -40)
            self._adjust(self.user_2, 30)
            self._adjust(self.user, 20, post=False)  # a draft is not an action yet
            self.customer.with_user(self.manager).action_set_tier(gold, "VIP account")
            self.customer.with_user(self.manager).action_set_lifecycle_stage(
                "loyal", "Long-standing client"
            )
        with freeze_time("2026-02-03 10:00:00"):
            waiting = self._adjust(self.user, 700, partner=other)
            waiting.with_user(self.manager).action_approve()
            other.with_user(self.manager).action_set_lifecycle_stage("at_risk", "Complained")
        self.env.flush_all()
        Audit = self.env["housekeeping.report.staff.audit"].with_user(self.manager)
        groups = {
            (user.id, month, kind): (count, points)
            for user, month, kind, count, points in Audit._read_group(
                [("user_id", "in", (self.user | self.user_2 | self.manager).ids)],
                ["user_id", "month:month", "kind"],
                ["count:sum", "points:sum"],
            )
        }
        jan, feb = date(2026, 1, 1), date(2026, 2, 1)
        self.assertEqual(
            groups,
            {
                (self.user.id, jan, "adjustment"): (2, 60),
                (self.user_2.id, jan, "adjustment"): (1, 30),
                (self.manager.id, jan, "tier"): (1, 0),
                (self.manager.id, jan, "stage"): (1, 0),
                (self.user.id, feb, "adjustment"): (1, 700),
                (self.manager.id, feb, "stage"): (1, 0),
            },
        )
        approved = Audit.search([("kind", "=", "adjustment"), ("approved", "=", True)])
        self.assertEqual(approved.partner_id, other)
        # managers only
        with self.assertRaises(AccessError):
            Audit.with_user(self.user).search([])
