"""Access matrix: for each model and operation, who may do it.

``MATRIX[model] = {role: "rwcu"}`` lists the operations each role is granted
(read, write, create, unlink); every other cell must be denied. Capabilities add
their models here.
"""

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import HousekeepingCase

ROLES = ("internal", "user", "manager", "portal", "public")

MATRIX = {
    "housekeeping.visit": {"user": "rwc", "manager": "rwcu", "portal": "r"},
    "housekeeping.complaint": {"user": "rwc", "manager": "rwcu"},
    "housekeeping.service.type": {"user": "r", "manager": "rwcu", "portal": "r"},
    "housekeeping.household.tag": {"internal": "r", "user": "r", "manager": "rwcu", "portal": "r"},
    "housekeeping.weekday": {"internal": "r", "user": "r", "manager": "r", "portal": "r"},
    # the stage history is written by the engine only: nobody edits or deletes it
    "housekeeping.stage.log": {"user": "r", "manager": "r"},
    "housekeeping.churn.reason": {"user": "r", "manager": "rwcu"},
    "housekeeping.winback.playbook": {"user": "r", "manager": "rwcu"},
    "housekeeping.winback.run": {"user": "r", "manager": "rwcu"},
    # the ledger is append-only: rows come from the engine, never from a form
    "housekeeping.points.entry": {"user": "r", "manager": "r", "portal": "r"},
    "housekeeping.points.allocation": {"user": "r", "manager": "r"},
    "housekeeping.reward": {"user": "r", "manager": "rwcu", "portal": "r"},
    "housekeeping.points.adjustment": {"user": "rwc", "manager": "rwcu"},
    "housekeeping.tier": {"internal": "r", "user": "r", "manager": "rwcu"},
    # tier changes are written by the engine only
    "housekeeping.tier.log": {"user": "r", "manager": "r"},
    "housekeeping.holiday": {"user": "r", "manager": "rwcu"},
    "housekeeping.tier.set": {"manager": "rwcu"},
    "housekeeping.journey": {"user": "r", "manager": "rwcu"},
    "housekeeping.journey.offer": {"user": "r", "manager": "rwcu"},
    # the journey log is written by the engine only
    "housekeeping.journey.send": {"user": "r", "manager": "r"},
    "housekeeping.cleaner.quality.report": {"manager": "r"},
    # the visit facts and the scorecard's customers: written by their code only
    "housekeeping.visit.fact": {"user": "r", "manager": "r"},
    "housekeeping.report.cleaner.customers": {"manager": "r"},
    "housekeeping.visit.rate": {"user": "rwcu", "manager": "rwcu"},
    "housekeeping.recommendation": {"user": "r", "manager": "r"},
    # the RFM scores are written by the engine only
    "housekeeping.partner.rfm": {"user": "r", "manager": "r"},
    # PIPL anonymization: managers only (the action checks it too)
    "housekeeping.partner.anonymize": {"manager": "rwcu"},
    # the batched engines' positions: written by the engines only (as superuser)
    "housekeeping.engine.position": {"manager": "r"},
    # staff audit (adjustments, manual tier and stage changes): managers read it
    "housekeeping.report.staff.audit": {"manager": "r"},
    # recurring service plans (issue 30): agents run them, offers are managers'
    "housekeeping.service.plan": {"user": "rwc", "manager": "rwcu"},
    "housekeeping.service.plan.skip": {"user": "rwcu", "manager": "rwcu"},
    "housekeeping.service.plan.template": {"user": "r", "manager": "rwcu"},
}
OPERATIONS = {"r": "read", "w": "write", "c": "create", "u": "unlink"}


@tagged("post_install", "-at_install")
class TestAccessMatrix(HousekeepingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = {
            "internal": new_test_user(cls.env, login="hk_internal", groups="base.group_user"),
            "user": cls.user,
            "manager": cls.manager,
            "portal": new_test_user(cls.env, login="hk_portal", groups="base.group_portal"),
            "public": cls.env.ref("base.public_user"),
        }

    def test_matrix(self):
        cells = 0
        for model, grants in MATRIX.items():
            for role in ROLES:
                allowed = grants.get(role, "")
                for letter, operation in OPERATIONS.items():
                    has = self.env[model].with_user(self.users[role]).has_access(operation)
                    self.assertEqual(
                        has,
                        letter in allowed,
                        f"{role} {operation} on {model}: expected "
                        f"{'allowed' if letter in allowed else 'denied'}",
                    )
                    cells += 1
        self.assertGreaterEqual(cells, len(MATRIX) * len(ROLES) * 4)

    def test_portal_reads_only_own_visits(self):
        portal = self.users["portal"]
        own = self._visit(partner=portal.partner_id)
        other = self._visit()
        visits = self.env["housekeeping.visit"].with_user(portal).search([])
        self.assertEqual(visits, own)
        with self.assertRaises(AccessError):
            other.with_user(portal).read(["amount"])

    def test_companies_are_isolated(self):
        company_b = self.env["res.company"].create({"name": "Store B"})
        user_b = self._company_user("hk_user_b", company_b)
        visit_a = self._visit()
        complaint_a = self.env["housekeeping.complaint"].create(
            {"name": "A", "partner_id": self.customer.id}
        )
        self.assertFalse(
            self.env["housekeeping.visit"].with_user(user_b).search([("id", "=", visit_a.id)])
        )
        with self.assertRaises(AccessError):
            visit_a.with_user(user_b).read(["amount"])
        with self.assertRaises(AccessError):
            complaint_a.with_user(user_b).read(["name"])
