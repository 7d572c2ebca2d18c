"""The batched engines under the real scheduler.

Odoo's scheduler (``ir.cron._run_job``) calls a cron method again and again in one
run while each call reports work left (``ir.cron._commit_progress``), and every
call starts the method afresh. These tests lower its budget to one call per
trigger and one batch per call (``MIN_RUNS_PER_JOB`` = 1, ``MIN_TIME_PER_JOB`` =
0, a batch size of 2) and trigger the scheduled action until its run is fully
done: each call must continue where the previous one stopped (the engine's
``housekeeping.engine.position``), report the work it did, and the run must end
in about ``ceil(customers / batch) + 1`` calls with every customer right.
"""

import math
from datetime import date
from unittest.mock import patch

from freezegun import freeze_time

from odoo.addons.base.models import ir_cron
from odoo.tests import tagged

from .common import HousekeepingCase

BATCH = 2
CUSTOMERS = 5


@tagged("post_install", "-at_install")
class TestCronResume(HousekeepingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Partner = cls.env["res.partner"]
        cls.Position = cls.env["housekeeping.engine.position"].sudo()
        # only this test's customers are in the engines' scope
        cls.Partner.search(
            [
                "|",
                "|",
                ("membership_tier_id", "!=", False),
                ("visit_count", ">", 0),
                ("lifecycle_stage", "!=", False),
            ]
        ).write({"active": False})
        cls.company.write(
            {
                "hk_tier_window_months": 12,
                "hk_tier_grace_months": 3,
                "hk_points_validity_months": 12,
                "hk_survey_enabled": False,
            }
        )
        cls.silver = cls.env.ref("housekeeping_membership.tier_silver")
        cls.gold = cls.env.ref("housekeeping_membership.tier_gold")
        cls.black = cls.env.ref("housekeeping_membership.tier_black")
        cls.silver.write({"min_spend": 1000, "min_visits": 5})
        cls.gold.write({"min_spend": 3000, "min_visits": 10})
        cls.black.write({"min_spend": 8000, "min_visits": 20})

    # ------------------------------------------------------------ helpers
    def _batch_size(self, param, size=BATCH):
        self.env["ir.config_parameter"].sudo().set_param(f"housekeeping_membership.{param}", size)

    def _customers(self, prefix, count=CUSTOMERS, **vals):
        return self.Partner.create(
            [
                {
                    "name": f"{prefix} {i}",
                    "email": f"{prefix.lower()}{i}@example.com",
                    "company_id": self.company.id,
                    **vals,
                }
                for i in range(count)
            ]
        )

    def _done_visits(self, partners, dates, amount=100.0, services=None):
        visits = self.env["housekeeping.visit"].create(
            [
                {
                    "partner_id": partner.id,
                    "service_type_id": service.id,
                    "date": f"{day} 09:00:00",
                    "amount": amount,
                    "employee_id": self.cleaner.id,
                }
                for partner in partners
                for day in dates
                for service in (services or [self.service_hourly])
            ]
        )
        visits.action_done()
        return visits

    def _position(self, engine):
        position = self.Position.search([("engine", "=", engine)])
        return (position.stage or "", position.after_id, position.finished)

    def _drive(self, xmlid, engine, max_calls):
        """Trigger the scheduled action ``xmlid`` through the scheduler, one call
        per trigger, until its run is fully done (at most ``max_calls``). Returns
        one ``(done, remaining, position)`` per call: the progress the call
        reported and the engine's position after it."""
        cron = self.env.ref(xmlid)
        progress = self.env["ir.cron.progress"].sudo()
        seen = progress.search([("cron_id", "=", cron.id)]).ids
        calls = []
        with (
            patch.object(ir_cron, "MIN_RUNS_PER_JOB", 1),
            patch.object(ir_cron, "MIN_TIME_PER_JOB", 0),
        ):
            for _call in range(max_calls):
                with self.enter_registry_test_mode():
                    result = cron.method_direct_trigger()
                self.assertIs(result, True, f"the scheduled action failed: {result}")
                call = progress.search([("cron_id", "=", cron.id), ("id", "not in", seen)])
                self.assertEqual(len(call), 1, "one call per trigger")
                seen.append(call.id)
                calls.append((call.done, call.remaining, engine and self._position(engine)))
                if not call.remaining:
                    break
        self.env.invalidate_all()
        self.assertEqual(calls[-1][1], 0, f"the run is not done after {max_calls} calls: {calls}")
        return calls

    def assertResumed(self, calls, engine, expected_calls):
        """Every call reported work done; the position moved forward at each call
        and was finished by the last one; the run took the expected calls."""
        for done, _remaining, _position in calls:
            self.assertGreater(done, 0, f"a call reported no work done: {calls}")
        positions = [position for _done, _remaining, position in calls]
        self.assertEqual(len(set(positions)), len(positions), f"a call started over: {calls}")
        self.assertTrue(positions[-1][2], f"the pass is finished: {calls}")
        self.assertEqual(positions[-1][:2], ("", 0), "a finished pass is reset")
        self.assertFalse(any(p[2] for p in positions[:-1]), calls)
        self.assertEqual(len(calls), expected_calls, calls)

    def _spy(self, method, model="res.partner"):
        """Patch ``<model>.<method>`` (called with ``partner_ids``) to record
        the ids of each call; returns (patcher, list of id tuples)."""
        model_class = type(self.env[model])
        original = getattr(model_class, method)
        evaluated = []

        def spy(records, *args, partner_ids=None, **kwargs):
            evaluated.append(tuple(partner_ids or ()))
            return original(records, *args, partner_ids=partner_ids, **kwargs)

        return patch.object(model_class, method, spy), evaluated

    def assertEachOnce(self, evaluated, partners):
        ids = [pid for batch in evaluated for pid in batch]
        self.assertEqual(len(ids), len(set(ids)), f"customers evaluated twice: {evaluated}")
        self.assertLessEqual(set(partners.ids), set(ids))

    # ------------------------------------------------------------ tiers
    def test_tiers_resume(self):
        with freeze_time("2025-03-01 20:00:00"):
            members = self._customers("Tier")
            self._done_visits(members, ["2025-03-01"], amount=3000)
        self.assertEqual(set(members.mapped("membership_tier_id")), {self.gold})
        self._batch_size("tier_batch_size")
        patcher, evaluated = self._spy("_tier_evaluate", "housekeeping.engine.tier")
        # a year later nothing was spent: every member enters its grace period
        with freeze_time("2026-04-05 20:00:00"), patcher:
            calls = self._drive("housekeeping_membership.ir_cron_tier_evaluate", "tiers", CUSTOMERS)
        self.assertResumed(calls, "tiers", math.ceil(CUSTOMERS / BATCH))
        self.assertEachOnce(evaluated, members)
        self.assertEqual(set(members.mapped("membership_tier_id")), {self.gold})
        self.assertEqual(set(members.mapped("tier_grace_until")), {date(2026, 7, 5)})
        with freeze_time("2026-04-05 20:00:00"):
            self.assertEqual(self.Partner._cron_evaluate_tiers(), 0, "nothing left to do")

    def test_tiers_next_pass_starts_from_the_start(self):
        with freeze_time("2025-03-01 20:00:00"):
            members = self._customers("Pass")
            self._done_visits(members, ["2025-03-01"], amount=3000)
        self._batch_size("tier_batch_size")
        with freeze_time("2026-04-05 20:00:00"):
            self._drive("housekeeping_membership.ir_cron_tier_evaluate", "tiers", CUSTOMERS)
        # three months later, the next pass goes through every member again
        with freeze_time("2026-07-05 20:00:00"):
            calls = self._drive("housekeeping_membership.ir_cron_tier_evaluate", "tiers", CUSTOMERS)
        self.assertResumed(calls, "tiers", math.ceil(CUSTOMERS / BATCH))
        self.assertEqual(set(members.mapped("membership_tier_id")), {self.silver})
        position = self.Position.search([("engine", "=", "tiers")])
        self.assertEqual(position.pass_started, date(2026, 7, 5))
        self.assertEqual(position.done_count, CUSTOMERS)

    # ------------------------------------------------------------ lifecycle
    def test_lifecycle_resumes(self):
        with freeze_time("2026-01-29 20:00:00"):
            # first by id: prospects whose stage does not change (due again after
            # an edit); their batch still counts as work done
            prospects = self._customers("Prospect", 2, is_prospect=True)
            regulars = self._customers("Regular", 3)
            self._done_visits(regulars, ["2026-01-01", "2026-01-15", "2026-01-29"])
        self._batch_size("lifecycle_batch_size")
        with freeze_time("2026-03-05 20:00:00"):
            self.env["housekeeping.engine.lifecycle"]._lifecycle_evaluate(
                partner_ids=prospects.ids, trigger="cron"
            )
            stages = prospects.mapped("lifecycle_stage")
            prospects.write({"is_prospect": True})  # due for the next run
            patcher, evaluated = self._spy("_lifecycle_evaluate", "housekeeping.engine.lifecycle")
            with patcher:
                calls = self._drive(
                    "housekeeping_membership.ir_cron_lifecycle_evaluate", "lifecycle", 5
                )
            self.assertEqual(self.Partner._cron_evaluate_lifecycle(), 0, "nothing left to do")
        self.assertResumed(calls, "lifecycle", math.ceil(5 / BATCH))
        self.assertEachOnce(evaluated, prospects | regulars)
        self.assertEqual(prospects.mapped("lifecycle_stage"), stages)
        self.assertEqual(set(regulars.mapped("lifecycle_stage")), {"at_risk"})

    # ------------------------------------------------------------ points expiry
    def test_points_expiry_resumes(self):
        Run = self.env["housekeeping.points.expiry.run"].sudo()
        Run.search([]).unlink()
        customers = self._customers("Lot")
        with freeze_time("2025-01-15 20:00:00"):
            customers.env["housekeeping.engine.points"]._grant_points(
                customers, 50, "goodwill", origin="resume"
            )
        self._batch_size("points_expire_batch_size")
        with freeze_time("2026-02-01 20:00:00"):
            calls = self._drive(
                "housekeeping_membership.ir_cron_points_expire", "points_expiry", CUSTOMERS
            )
            self.assertEqual(self.Partner._cron_expire_points(), 0, "nothing left to do")
        self.assertResumed(calls, "points_expiry", math.ceil(CUSTOMERS / BATCH))
        self.assertEqual(set(customers.mapped("points_balance")), {0})
        expired = (
            self.env["housekeeping.points.entry"]
            .sudo()
            .search([("partner_id", "in", customers.ids), ("entry_type", "=", "expire")])
        )
        self.assertEqual(len(expired), CUSTOMERS, "each lot expired once")
        # the scheduled pass is recorded once, with every lot it expired
        self.assertEqual(
            [(r.date, r.lots_expired) for r in Run.search([], order="id")],
            [(date(2026, 2, 1), CUSTOMERS), (date(2026, 2, 1), 0)],
        )

    # ------------------------------------------------------------ RFM, cohorts
    def test_rfm_one_call(self):
        """One set-based pass of a few statements: done in the first call."""
        customers = self._customers("Rfm")
        with freeze_time("2026-06-30 12:00:00"):
            for i, customer in enumerate(customers):
                self._done_visits(customer, [f"2026-0{i + 1}-10"], amount=100 * (i + 1))
            calls = self._drive("housekeeping_membership.ir_cron_rfm", None, 2)
            self.assertEqual(len(calls), 1)
            self.assertEqual(self.Partner._cron_compute_rfm(), 0, "nothing left to do")
        self.assertEqual(customers.mapped("rfm_recency"), [1, 2, 3, 4, 5])
        self.assertTrue(all(customers.mapped("rfm_segment")))

    def test_cohorts_one_call(self):
        """The retention snapshot is rewritten in one statement: one call."""
        customers = self._customers("Cohort", 2)
        with freeze_time("2026-03-30 20:00:00"):
            self._done_visits(customers[0], ["2026-01-10", "2026-02-10"])
            self._done_visits(customers[1], ["2026-01-20"])
            calls = self._drive("housekeeping_membership.ir_cron_cohort_refresh", None, 2)
        self.assertEqual(len(calls), 1)
        cells = self.env["housekeeping.report.cohort"].search(
            [("company_id", "=", self.company.id), ("cohort_month", "=", "2026-01-01")]
        )
        self.assertEqual(
            {c.month_offset: (c.cohort_size, c.active_count) for c in cells},
            {0: (2, 2), 1: (2, 1), 2: (2, 0)},
        )

    # ------------------------------------------------------------ recommendations
    def test_recommendations_resume(self):
        pets = self.env.ref("housekeeping_membership.household_tag_pets")
        customers = self._customers("Rec", household_tag_ids=[(6, 0, pets.ids)])
        with freeze_time("2026-04-20 20:00:00"):
            # every customer books the hourly cleaning and one of two others: each
            # is recommended the other one
            self._done_visits(
                customers[0::2],
                ["2025-05-10"],
                amount=0,
                services=[self.service_hourly, self.service_deep],
            )
            self._done_visits(
                customers[1::2],
                ["2025-05-10"],
                amount=0,
                services=[self.service_hourly, self.service_appliance],
            )
            # ranges of ids: about a third of the partners' ids each
            self.env.flush_all()
            self.env.cr.execute("SELECT min(id), max(id) FROM res_partner")
            low, high = self.env.cr.fetchone()
            self._batch_size("recommendation_batch_size", math.ceil((high - low + 1) / 3))
            calls = self._drive(
                "housekeeping_membership.ir_cron_recommendations", "recommendations", 5
            )
            self.assertEqual(
                self.env["housekeeping.recommendation"]._cron_recommend_services(),
                0,
                "nothing left to do",
            )
        self.assertResumed(calls, "recommendations", 3)
        self.assertTrue(all(customers.mapped("hk_recommendation_ids")))

    # ------------------------------------------------------------ engagement
    def _rated_population(self, prefix):
        customers = self._customers(
            prefix, phone="13800138000", consent_email=True, consent_sms=True
        )
        with freeze_time("2026-01-29 20:00:00"):
            visits = self._done_visits(customers, ["2026-01-01", "2026-01-15", "2026-01-29"])
        model_id = self.env["ir.model"]._get_id("housekeeping.visit")
        self.env["rating.rating"].create(
            [
                {
                    "res_model_id": model_id,
                    "res_id": visit.id,
                    "partner_id": visit.partner_id.id,
                    "rating": 5,
                    "consumed": True,
                }
                for visit in visits
            ]
        )
        return customers

    def test_journeys_resume_across_journeys(self):
        wake_up = self.env.ref("housekeeping_membership.journey_wake_up")
        self.env["housekeeping.journey"].search([("id", "!=", wake_up.id)]).active = False
        again = wake_up.copy({"name": "Wake-up, second journey"})
        customers = self._rated_population("Journey")
        self._batch_size("journey_batch_size")
        with freeze_time("2026-04-05 20:00:00"):
            calls = self._drive(
                "housekeeping_membership.ir_cron_journeys", "journeys", 2 * CUSTOMERS
            )
            self.assertEqual(
                self.env["housekeeping.journey"]._cron_run_journeys(), 0, "nothing left to do"
            )
        # each journey a stage of the pass: 3 calls each
        self.assertResumed(calls, "journeys", 2 * math.ceil(CUSTOMERS / BATCH))
        self.assertEqual(
            [c[2][0] for c in calls[:-1]],
            [f"journey:{wake_up.id}"] * 2 + [f"journey:{again.id}"] * 3,
        )
        sends = self.env["housekeeping.journey.send"].search([("partner_id", "in", customers.ids)])
        self.assertEqual(len(sends.filtered(lambda s: s.journey_id == wake_up)), CUSTOMERS)
        self.assertEqual(len(sends.filtered(lambda s: s.journey_id == again)), CUSTOMERS)
        self.assertEqual((wake_up | again).mapped("last_complete_date"), [date(2026, 4, 5)] * 2)

    def test_vip_resumes(self):
        customers = self._rated_population("Vip")
        vip = self.env.ref("housekeeping_membership.res_partner_category_vip")
        self.assertFalse(customers.category_id, "tagged by the scheduled evaluation")
        self._batch_size("vip_batch_size")
        with freeze_time("2026-04-05 20:00:00"):
            calls = self._drive(
                "housekeeping_membership.ir_cron_vip_evaluate", "vip", 2 * CUSTOMERS
            )
            self.assertEqual(self.Partner._cron_evaluate_vip(), 0, "nothing left to do")
        # the tags, then the callbacks: 3 calls each
        self.assertResumed(calls, "vip", 2 * math.ceil(CUSTOMERS / BATCH))
        self.assertEqual([c[2][0] for c in calls[:-1]], ["evaluate"] * 2 + ["callbacks"] * 3)
        self.assertTrue(all(vip in c.category_id for c in customers))
        self.assertEqual(len(customers.activity_ids), CUSTOMERS, "one callback each")

    # ------------------------------------------------------------ direct calls
    def test_direct_call_runs_a_whole_pass(self):
        """Outside the scheduler (a button, a test) the whole pass runs in the
        caller's transaction and the position is left alone."""
        with freeze_time("2025-03-01 20:00:00"):
            members = self._customers("Direct")
            self._done_visits(members, ["2025-03-01"], amount=3000)
        self._batch_size("tier_batch_size")
        with freeze_time("2026-04-05 20:00:00"):
            self.assertEqual(self.Partner._cron_evaluate_tiers(), CUSTOMERS)
        self.assertEqual(set(members.mapped("tier_grace_until")), {date(2026, 7, 5)})
        self.assertFalse(self.Position.search([("engine", "=", "tiers")]))
