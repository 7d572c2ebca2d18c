"""The trust boundary, attacked over real HTTP as the web client calls the server
(JSON-RPC ``/web/dataset/call_kw``): engine-owned customer fields, a visit's
state and anonymization refuse every caller but their engine or owning action,
whatever context keys the caller sends, and a refusal changes nothing (the
customer's row, the ledger, the logs, the chatter: ``SnapshotMixin``)."""

from odoo.exceptions import UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from .test_bad_input import SnapshotMixin

# every context key an attacker might hope opens a guard (those the addon used
# to read, and the ones its own code passes around)
FORGED_CONTEXT = {
    "hk_visit_state_action": True,
    "hk_anonymizing": True,
    "hk_lifecycle_engine": True,
    "hk_points_post": True,
    "hk_tier_visit_ids": [],
    "tracking_disable": True,
    "install_mode": True,
    "import_file": True,
}

ENGINE_WRITES = [
    {"points_balance": 99999},
    {"visit_count": 50, "total_spent": 99999},
    {"average_ticket": 1, "last_visit_date": "2026-11-30", "first_visit_date": "2020-01-01"},
    {"lifecycle_stage": "loyal"},
    {"lifecycle_stage_date": "2020-01-01"},
    {"lifecycle_next_check": "2099-01-01"},
    {"lifecycle_override_until": "2099-01-01"},
    {"won_back_date": "2026-11-30"},
    {"tier_manual_until": "2099-01-01"},
    {"tier_grace_until": "2099-01-01"},
    {"referral_code": "FORGED01"},
    {"hk_vip_since": "2026-01-01"},
]


@tagged("post_install", "-at_install")
class TestTrustRPC(SnapshotMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent = new_test_user(
            cls.env,
            login="hk_rpc_agent",
            groups="housekeeping_membership.group_membership_user",
            name="Agent RPC",
        )
        cls.manager = new_test_user(
            cls.env,
            login="hk_rpc_manager",
            groups="housekeeping_membership.group_membership_manager",
            name="Manager RPC",
        )
        cls.black = cls.env.ref("housekeeping_membership.tier_black")
        cls.customer = cls.env["res.partner"].create({"name": "Customer RPC", "email": "r@x.cn"})
        cls.visit = cls.env["housekeeping.visit"].create(
            {
                "partner_id": cls.customer.id,
                "service_type_id": cls.env.ref("housekeeping_membership.service_type_hourly").id,
                "date": "2026-11-20 02:00:00",
                "amount": 300,
                "payment_method": "wechat",
            }
        )
        cls.visit.action_done()

    def _rpc(self, login, model, method, args, kwargs=None, context=None):
        """Call ``model.method`` as the web client does; an error answer raises
        ``JsonRpcException`` whose text is the exception's type and message."""
        self.authenticate(login, "admin" if login == "admin" else login)
        response = self.opener.post(
            f"{self.base_url()}/web/dataset/call_kw/{model}/{method}",
            json={
                "id": 0,
                "jsonrpc": "2.0",
                "method": "call",
                "params": {
                    "model": model,
                    "method": method,
                    "args": args,
                    "kwargs": {**(kwargs or {}), "context": {"lang": "en_US", **(context or {})}},
                },
            },
            timeout=30,
        )
        response.raise_for_status()
        answer = response.json()
        if "error" in answer:
            data = answer["error"]["data"]
            raise JsonRpcException(answer["error"]["code"], f"{data['name']}: {data['message']}")
        return answer.get("result")

    def _assert_rpc_refused(
        self, records, login, model, method, args, kwargs=None, context=None, message=None
    ):
        """The call answers a UserError/AccessError (whose text holds ``message``)
        and changes nothing."""
        with self.assertRefused(records, exc=JsonRpcException, message=message):
            with mute_logger("odoo.http"):
                try:
                    self._rpc(login, model, method, args, kwargs, context)
                except JsonRpcException as error:
                    self.assertRegex(str(error), r"^odoo\.exceptions\.(UserError|AccessError): ")
                    raise

    # ------------------------------------------------------------------ partner
    def test_engine_fields_refuse_every_user_and_every_context(self):
        self.assertGreater(self.customer.points_balance, 0)
        for login in ("hk_rpc_agent", "hk_rpc_manager", "admin"):
            for vals in ENGINE_WRITES:
                with self.subTest(login=login, vals=vals):
                    self._assert_rpc_refused(
                        self.customer,
                        login,
                        "res.partner",
                        "write",
                        [self.customer.ids, vals],
                        context=FORGED_CONTEXT,
                        message=next(iter(vals)),
                    )
        self.customer.invalidate_recordset()
        self.assertEqual(
            self.customer.points_balance, sum(self.customer.points_entry_ids.mapped("points"))
        )

    def test_tier_only_through_the_managers_action(self):
        tier_before = self.customer.membership_tier_id
        for login in ("hk_rpc_agent", "hk_rpc_manager", "admin"):
            with self.subTest(login=login):
                self._assert_rpc_refused(
                    self.customer,
                    login,
                    "res.partner",
                    "write",
                    [self.customer.ids, {"membership_tier_id": self.black.id}],
                    context=FORGED_CONTEXT,
                    message="membership_tier_id",
                )
        # an agent cannot use the action either
        self._assert_rpc_refused(
            self.customer,
            "hk_rpc_agent",
            "res.partner",
            "action_set_tier",
            [self.customer.ids, self.black.id, "friend of the boss"],
        )
        self.customer.invalidate_recordset()
        self.assertEqual(self.customer.membership_tier_id, tier_before)
        # the manager's action works, with its reason in the tier log
        self._rpc(
            "hk_rpc_manager",
            "res.partner",
            "action_set_tier",
            [self.customer.ids, self.black.id, "complaint compensation"],
        )
        self.customer.invalidate_recordset()
        self.assertEqual(self.customer.membership_tier_id, self.black)
        log = self.customer.tier_log_ids[:1]
        self.assertEqual(log.to_tier_id, self.black)
        self.assertIn("complaint compensation", log.reason or "")

    def test_stage_only_through_the_action(self):
        self._assert_rpc_refused(
            self.customer,
            "hk_rpc_agent",
            "res.partner",
            "write",
            [self.customer.ids, {"lifecycle_stage": "churned"}],
            context=FORGED_CONTEXT,
            message="lifecycle_stage",
        )
        logs_before = len(self.customer.stage_log_ids)
        self._rpc(
            "hk_rpc_agent",
            "res.partner",
            "action_set_lifecycle_stage",
            [self.customer.ids, "at_risk", "moved away for the winter"],
        )
        self.customer.invalidate_recordset()
        self.assertEqual(self.customer.lifecycle_stage, "at_risk")
        self.assertEqual(len(self.customer.stage_log_ids), logs_before + 1)

    def test_create_with_engine_fields_is_refused(self):
        for vals, context, field in (
            ({"name": "Forged", "points_balance": 5000}, {}, "points_balance"),
            ({"name": "Forged", "lifecycle_stage": "loyal", "visit_count": 9}, {}, "visit_count"),
            (
                {"name": "Forged"},
                {"default_membership_tier_id": self.black.id},
                "membership_tier_id",
            ),
            ({"name": "Forged"}, {"default_points_balance": 5000}, "points_balance"),
        ):
            with self.subTest(vals=vals, context=context):
                self._assert_rpc_refused(
                    (),
                    "hk_rpc_manager",
                    "res.partner",
                    "create",
                    [[vals]],
                    context={**FORGED_CONTEXT, **context},
                    message=field,
                )

    def test_import_with_engine_columns_is_refused_naming_them(self):
        before = self._hk_snapshot()
        result = self._rpc(
            "admin",
            "res.partner",
            "load",
            [
                ["name", "points_balance", "membership_tier_id/id", "email"],
                [
                    ["Imported A", "8000", "housekeeping_membership.tier_black", "a@x.cn"],
                    ["Imported B", "9000", "housekeeping_membership.tier_gold", "b@x.cn"],
                ],
            ],
            context={"import_file": True},
        )
        self.assertFalse(result["ids"])
        message = " ".join(m["message"] for m in result["messages"])
        self.assertIn("points_balance", message)
        self.assertIn("membership_tier_id", message)
        self.env.invalidate_all(flush=False)
        self.assertEqual(self._hk_snapshot(), before)
        # the same import without those columns goes through
        result = self._rpc(
            "admin", "res.partner", "load", [["name", "email"], [["Imported A", "a@x.cn"]]]
        )
        self.assertEqual(len(result["ids"]), 1)

    def test_the_orm_guard_holds_for_sudo_code_too(self):
        """Server code of another module (sudo, any context) goes through the
        same guard; only the engines' own blocks open it."""
        partner = self.customer.sudo().with_context(**FORGED_CONTEXT)
        with self.assertRefused(self.customer, exc=UserError, message="points_balance"):
            partner.write({"points_balance": 1})

    # ------------------------------------------------------------------ visits
    def test_done_visit_state_only_through_its_buttons(self):
        self.assertEqual(self.visit.state, "done")
        for vals in (
            {"state": "cancelled"},
            {"state": "draft"},
            {"state": "scheduled"},
            {"done_date": "2020-01-01 00:00:00"},
        ):
            with self.subTest(vals=vals):
                self._assert_rpc_refused(
                    [self.visit, self.customer],
                    "hk_rpc_manager",
                    "housekeeping.visit",
                    "write",
                    [self.visit.ids, vals],
                    context=FORGED_CONTEXT,
                )
        self.visit.invalidate_recordset()
        self.assertEqual(self.visit.state, "done")

    # ------------------------------------------------------------------ anonymization
    def test_anonymization_is_a_one_way_action_of_a_manager(self):
        # marking a customer anonymized "by" a manager while keeping the data
        self._assert_rpc_refused(
            self.customer,
            "hk_rpc_agent",
            "res.partner",
            "write",
            [
                self.customer.ids,
                {"hk_anonymized": True, "hk_anonymized_uid": self.manager.id},
            ],
            context=FORGED_CONTEXT,
        )
        # the agent cannot run the action
        self._assert_rpc_refused(
            self.customer, "hk_rpc_agent", "res.partner", "action_hk_anonymize", [self.customer.ids]
        )
        # the manager can; then nobody gives the customer personal data again
        self._rpc("hk_rpc_manager", "res.partner", "action_hk_anonymize", [self.customer.ids])
        customer = self.customer.with_context(active_test=False)
        customer.invalidate_recordset()
        self.assertTrue(customer.hk_anonymized)
        self.assertEqual(customer.hk_anonymized_uid, self.manager)
        for vals in (
            {"name": "Customer RPC"},
            {"email": "r@x.cn"},
            {"phone": "13800000000"},
            {"hk_anonymized": False},
        ):
            for login in ("hk_rpc_manager", "admin"):
                with self.subTest(vals=vals, login=login):
                    self._assert_rpc_refused(
                        customer,
                        login,
                        "res.partner",
                        "write",
                        [customer.ids, vals],
                        context=FORGED_CONTEXT,
                    )

    def test_refusals_say_what_to_do(self):
        with self.assertRaises(UserError) as caught:
            self.customer.with_user(self.manager).write({"points_balance": 1, "visit_count": 3})
        self.assertIn("points_balance", str(caught.exception))
        self.assertIn("visit_count", str(caught.exception))
        with self.assertRaises(UserError):
            self.visit.with_user(self.agent).write({"state": "cancelled"})

    # ------------------------------------------------------------------ public actions
    def test_public_actions_check_who_calls_them(self):
        """Odoo checks no access for a public method called over RPC: anybody
        who can read a customer (a salesperson without membership rights, a
        portal customer) could check in, take a referral, move the stage of any
        customer by id, or read the membership dashboard."""
        seller = new_test_user(
            self.env,
            login="hk_rpc_seller",
            groups="base.group_user,sales_team.group_sale_salesman",
            name="Seller RPC",
        )
        portal = new_test_user(
            self.env, login="hk_rpc_portal", groups="base.group_portal", name="Portal RPC"
        )
        own = portal.partner_id
        other = self.customer
        referrer = self.env["res.partner"].create({"name": "Referrer RPC"})
        code = referrer._hk_ensure_referral_code()[0]
        newbie = self.env["res.partner"].create({"name": "Newbie RPC"})
        for login in (seller.login, portal.login):
            for model, method, args in (
                ("res.partner", "action_check_in", [other.ids]),
                ("res.partner", "action_generate_referral_code", [other.ids]),
                ("res.partner", "action_apply_referral_code", [newbie.ids, code]),
                ("res.partner", "action_set_lifecycle_stage", [other.ids, "churned", "because"]),
                ("res.partner", "action_confirm_churn_reason", [other.ids]),
                ("res.partner", "action_schedule_callback", [other.ids]),
                ("housekeeping.dashboard", "get_dashboard_data", []),
            ):
                with self.subTest(login=login, method=method):
                    self._assert_rpc_refused([other, own, newbie], login, model, method, args)
        # a customer's own check-in still works (the portal's route does it in sudo)
        self._rpc(portal.login, "res.partner", "action_check_in", [own.ids])
        self.assertTrue(own.points_entry_ids)

    def test_every_engines_fields_are_guarded(self):
        """Each engine declares the customer fields it alone writes; all of them
        are refused to everyone else."""
        Partner = self.env["res.partner"]
        guarded = Partner._hk_engine_fields()
        # the fields owned by actions rather than engines are guarded too
        self.assertLessEqual(
            {"points_balance", "referral_code", "hk_anonymized", "hk_deletion_requested"}, guarded
        )
        engines = [
            name
            for name, model in self.env.registry.items()
            if name.startswith("housekeeping.engine.") and "housekeeping.engine" in model._inherit
        ]
        self.assertIn("housekeeping.engine.rfm", engines)
        for name in engines:
            owned = set(self.env[name]._engine_fields)
            with self.subTest(engine=name):
                self.assertLessEqual(owned, guarded)
                self.assertLessEqual(owned, set(Partner._fields))
                for fname in owned:
                    with self.assertRaises(UserError):
                        Partner._hk_refuse_engine_fields([fname])
