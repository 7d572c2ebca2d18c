from datetime import date, timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from .common import HousekeepingCase


@tagged("post_install", "-at_install")
class TestLifecycle(HousekeepingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Partner = cls.env["res.partner"]
        # Evaluate only the customers of this test: put the others out of scope.
        cls.Partner.search([("lifecycle_stage", "!=", False)]).write({"active": False})
        cls.env.flush_all()

    def _customer(self, name, dates, company=None, **vals):
        partner = self.Partner.create(
            {"name": name, "company_id": (company or self.company).id, **vals}
        )
        extra = {}
        if company and company != self.company:
            extra = {
                "company_id": company.id,
                "employee": self.env["hr.employee"].create(
                    {"name": f"Cleaner of {company.name}", "company_id": company.id}
                ),
            }
        for when in dates:
            self._visit(partner=partner, date=f"{when} 09:00:00", amount=200, **extra)
        return partner

    def _cron(self):
        return self.Partner._cron_evaluate_lifecycle()

    def _regulars_in_batches_of_two(self, prefix, count):
        """``count`` customers with a visit every two weeks in January 2026 (at risk
        by March), evaluated by lifecycle batches of 2."""
        with freeze_time("2026-01-29 20:00:00"):
            customers = [
                self._customer(f"{prefix}{i}", ["2026-01-01", "2026-01-15", "2026-01-29"])
                for i in range(count)
            ]
        self.env["ir.config_parameter"].sudo().set_param(
            "housekeeping_membership.lifecycle_batch_size", 2
        )
        return customers

    def _logs(self, partner):
        return self.env["housekeeping.stage.log"].search(
            [("partner_id", "=", partner.id)], order="id"
        )

    # ------------------------------------------------------------ stages
    @freeze_time("2026-03-01 10:00:00")
    def test_potential_new_loyal(self):
        prospect = self.Partner.create({"name": "Prospect", "is_prospect": True})
        booked = self.Partner.create({"name": "Booked"})
        self._visit(partner=booked, date="2026-03-05 09:00:00", state="scheduled")
        self._cron()
        self.assertEqual(prospect.lifecycle_stage, "potential")
        self.assertEqual(booked.lifecycle_stage, "potential")

        # the first done visit makes a new customer at once, without the cron
        self._visit(partner=booked, date="2026-02-27 09:00:00")
        self.assertEqual(booked.lifecycle_stage, "new")
        self.assertEqual(booked.lifecycle_stage_date, date(2026, 3, 1))
        self._visit(partner=booked, date="2026-02-28 09:00:00")
        self.assertEqual(booked.lifecycle_stage, "new")
        self._visit(partner=booked, date="2026-03-01 08:00:00")
        self.assertEqual(booked.lifecycle_stage, "loyal", "3 done visits make a loyal customer")
        logs = self._logs(booked)
        self.assertEqual(
            [(log.from_stage, log.to_stage, log.trigger) for log in logs],
            [
                (False, "potential", "cron"),
                ("potential", "new", "visit"),
                ("new", "loyal", "visit"),
            ],
        )
        # the chatter tells the same story
        messages = booked.message_ids.filtered(lambda m: "Lifecycle stage" in (m.body or ""))
        self.assertEqual(len(messages), 3)

    @freeze_time("2026-03-01 20:00:00")
    def test_cancelling_a_visit_re_evaluates_at_once(self):
        partner = self._customer("Cancelled", ["2026-02-27", "2026-02-28", "2026-03-01"])
        self.assertEqual(partner.lifecycle_stage, "loyal")
        partner.visit_ids.sorted("date")[-1].action_cancel()
        self.assertEqual(partner.lifecycle_stage, "new", "2 done visits left")
        partner.visit_ids.filtered(lambda v: v.state == "done").action_cancel()
        self.assertEqual(partner.lifecycle_stage, "potential", "no done visit left")
        last = self._logs(partner)[-1]
        self.assertEqual(
            (last.from_stage, last.to_stage, last.trigger), ("new", "potential", "visit")
        )

    def test_second_visit_after_days_makes_loyal(self):
        with freeze_time("2026-01-20 20:00:00"):
            partner = self._customer("Two visits", ["2026-01-01", "2026-01-15"])
            self.assertEqual(partner.lifecycle_stage, "new")
        with freeze_time("2026-04-02 20:00:00"):
            # 91 days a customer, 2 visits: loyal (not yet at risk: interval 14 × 2 = 28 days
            # exceeded, so move the last visit closer)
            self._visit(partner=partner, date="2026-03-30 09:00:00")
            self.assertEqual(partner.lifecycle_stage, "loyal")

    def test_at_risk_and_churned_by_cadence(self):
        with freeze_time("2026-01-29 20:00:00"):
            # every 14 days: at risk after 28 idle days, churned after max(56, 180) days
            partner = self._customer("Biweekly", ["2026-01-01", "2026-01-15", "2026-01-29"])
            self.assertEqual(partner.lifecycle_stage, "loyal")
            self.assertEqual(partner.visit_interval_days, 14)
        with freeze_time("2026-02-26 20:00:00"):
            self._cron()
            self.assertEqual(partner.lifecycle_stage, "loyal", "28 days idle is still on cadence")
        with freeze_time("2026-02-27 20:00:00"):
            self._cron()
            self.assertEqual(partner.lifecycle_stage, "at_risk")
            self.assertEqual(partner.lifecycle_stage_date, date(2026, 2, 27))
        with freeze_time("2026-07-28 20:00:00"):
            self._cron()
            self.assertEqual(partner.lifecycle_stage, "at_risk", "180 days floor for churn")
        with freeze_time("2026-07-29 20:00:00"):
            self._cron()
            self.assertEqual(partner.lifecycle_stage, "churned")
            self.assertEqual(partner.lifecycle_days_in_stage, 0)
        with freeze_time("2026-08-08 20:00:00"):
            partner.invalidate_recordset(["lifecycle_days_in_stage"])
            self.assertEqual(partner.lifecycle_days_in_stage, 10)
            # won back: a done visit moves the customer back at once
            self._visit(partner=partner, date="2026-08-08 08:00:00")
            self.assertEqual(partner.lifecycle_stage, "loyal")
            self.assertEqual(partner.won_back_date, date(2026, 8, 8))
            last = self._logs(partner)[-1]
            self.assertEqual(
                (last.from_stage, last.to_stage, last.trigger), ("churned", "loyal", "visit")
            )
            self.assertIn("Won back", last.reason)
            self.assertEqual(last.days_in_previous_stage, 10)

    def test_daily_run_reads_only_due_customers(self):
        with freeze_time("2026-01-29 20:00:00"):
            # every 14 days: at risk after 28 idle days, i.e. from 2026-02-27
            biweekly = self._customer("Biweekly", ["2026-01-01", "2026-01-15", "2026-01-29"])
            self.assertEqual(biweekly.lifecycle_next_check, date(2026, 2, 27))
            # one visit: at risk after the 45-day floor, i.e. from 2026-03-07
            newcomer = self._customer("Newcomer", ["2026-01-20"])
            self.assertEqual(newcomer.lifecycle_next_check, date(2026, 3, 7))
        with freeze_time("2026-02-26 20:00:00"):
            self.env.flush_all()
            self.cr.execute(
                self.env["housekeeping.engine.lifecycle"]._lifecycle_query(
                    date(2026, 2, 26), due=True, only_changed=False
                )
            )
            self.assertEqual(self.cr.fetchall(), [], "nobody is due before a threshold")
            self.assertEqual(self._cron(), 0)
        with freeze_time("2026-02-27 20:00:00"):
            self.assertEqual(self._cron(), 1)
            self.assertEqual(biweekly.lifecycle_stage, "at_risk")
            # churned after max(4 × 14, 180) idle days
            self.assertEqual(biweekly.lifecycle_next_check, date(2026, 7, 29))
            self.assertEqual(newcomer.lifecycle_stage, "new")
            self.assertEqual(self._cron(), 0, "a second run the same day finds nobody due")
        with freeze_time("2026-03-01 20:00:00"):
            # new thresholds: the company's customers are due at the next run
            self.company.hk_at_risk_floor_days = 30
            self.assertFalse(newcomer.lifecycle_next_check)
            self.assertFalse(biweekly.lifecycle_next_check)
            self.assertEqual(self._cron(), 1)
            self.assertEqual(newcomer.lifecycle_stage, "at_risk", "40 days idle > 30")
            self.assertEqual(biweekly.lifecycle_next_check, date(2026, 7, 29))
            # a complaint makes its customer due at once
            self.env["housekeeping.complaint"].create({"name": "Late", "partner_id": biweekly.id})
            self.assertFalse(biweekly.lifecycle_next_check)

    @freeze_time("2026-03-01 10:00:00")
    def test_inputs_outside_visits_make_customers_due(self):
        loyal = self._customer("Loyal", ["2026-02-01", "2026-02-15", "2026-02-28"])
        self.assertTrue(loyal.lifecycle_next_check)
        loyal.action_archive()
        loyal.action_unarchive()
        self.assertFalse(loyal.lifecycle_next_check, "unarchived: evaluated at the next run")
        self._cron()
        self.assertTrue(loyal.lifecycle_next_check)
        prospect = self.Partner.create({"name": "Walk-in"})
        self._cron()
        self.assertFalse(prospect.lifecycle_stage, "not a customer yet")
        prospect.is_prospect = True
        self._cron()
        self.assertEqual(prospect.lifecycle_stage, "potential")
        # a manual stage is looked at again the day after it ends
        loyal.action_set_lifecycle_stage("at_risk", "Customer said they are moving")
        self.assertEqual(
            loyal.lifecycle_next_check,
            loyal.lifecycle_override_until + timedelta(days=1),
        )

    def test_floor_without_interval(self):
        with freeze_time("2026-01-01 20:00:00"):
            partner = self._customer("Once", ["2026-01-01"])
        with freeze_time("2026-02-15 20:00:00"):  # 45 days
            self._cron()
            self.assertEqual(partner.lifecycle_stage, "new")
        with freeze_time("2026-02-16 20:00:00"):
            self._cron()
            self.assertEqual(partner.lifecycle_stage, "at_risk")
        with freeze_time("2026-06-30 20:00:00"):  # 180 days
            self._cron()
            self.assertEqual(partner.lifecycle_stage, "at_risk")
        with freeze_time("2026-07-01 20:00:00"):
            self._cron()
            self.assertEqual(partner.lifecycle_stage, "churned")

    @freeze_time("2026-03-01 20:00:00")
    def test_quality_signals_put_at_risk_and_suggest_reason(self):
        complained = self._customer("Complained", ["2026-02-01", "2026-02-15", "2026-02-28"])
        rated = self._customer("Rated low", ["2026-02-01", "2026-02-15", "2026-02-28"])
        self.assertEqual(complained.lifecycle_stage, "loyal")
        complaint = self.env["housekeeping.complaint"].create(
            {"name": "Kitchen not cleaned", "partner_id": complained.id}
        )
        last_visit = rated.visit_ids.sorted("date")[-1]
        self.env["rating.rating"].create(
            {
                "res_model_id": self.env["ir.model"]._get_id("housekeeping.visit"),
                "res_id": last_visit.id,
                "partner_id": rated.id,
                "rating": 2,
                "consumed": True,
            }
        )
        self._cron()
        quality = self.env.ref("housekeeping_membership.churn_reason_quality")
        for partner in complained | rated:
            self.assertEqual(partner.lifecycle_stage, "at_risk")
            self.assertEqual(partner.churn_reason_id, quality)
            self.assertFalse(partner.churn_reason_confirmed)
        # the quality playbook opened a callback for an agent, with its script
        activity = complained.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.summary, "Apologise and call back")
        self.assertIn("apologise", activity.note)
        # the activity names its customer as Odoo would (its document name)
        self.assertEqual(activity.res_name, complained.display_name)
        # resolving the complaint puts the customer back on cadence
        complaint.resolution = "Re-cleaned by a senior cleaner"
        complaint.action_resolve()
        self._cron()
        self.assertEqual(complained.lifecycle_stage, "loyal")
        self.assertFalse(complained.churn_reason_id)
        # back on cadence without a visit: not a customer won back
        self.assertFalse(complained.won_back_date)
        self.assertNotIn("Won back", self._logs(complained)[-1].reason)
        run = self.env["housekeeping.winback.run"].search([("partner_id", "=", complained.id)])
        self.assertTrue(run)
        self.assertFalse(run.won_back, "the win-back rate counts customers who came back")

    def test_price_and_competitor_reasons(self):
        with freeze_time("2026-01-29 20:00:00"):
            pricey = self._customer("Price", ["2026-01-01", "2026-01-15"])
            self._visit(partner=pricey, date="2026-01-29 09:00:00", amount=300)  # +50%
            declined = self._customer("Declined", ["2026-01-01", "2026-01-15", "2026-01-29"])
            quote = self.env["sale.order"].create({"partner_id": declined.id})
            quote.action_cancel()
            rival = self._customer("Rival", ["2026-01-01", "2026-01-15", "2026-01-29"])
            rival.message_post(
                body="Says the 竞争对手 next door is cheaper", message_type="comment"
            )
            silent = self._customer("Silent", ["2026-01-01", "2026-01-15", "2026-01-29"])
        with freeze_time("2026-03-01 20:00:00"):
            self._cron()
        self.assertEqual(
            [p.lifecycle_stage for p in (pricey, declined, rival, silent)], ["at_risk"] * 4
        )
        self.assertEqual(pricey.churn_reason_id.code, "price")
        self.assertEqual(declined.churn_reason_id.code, "price")
        self.assertEqual(rival.churn_reason_id.code, "competitor")
        self.assertFalse(silent.churn_reason_id, "no signal: unknown until staff decide")
        self.assertEqual(self._logs(rival)[-1].churn_reason_id.code, "competitor")
        # staff choose the reason: it counts as confirmed, opens its playbook (if any)
        # and the engine keeps it
        moved = self.env.ref("housekeeping_membership.churn_reason_moved")
        price_playbook = self.env.ref("housekeeping_membership.winback_playbook_price")
        silent.write({"churn_reason_id": moved.id})
        self.assertTrue(silent.churn_reason_confirmed)
        rival.write({"churn_reason_id": price_playbook.reason_id.id})
        self.assertIn("Offer a targeted package", rival.activity_ids.mapped("summary"))
        with freeze_time("2026-09-01 20:00:00"):
            self._cron()
        self.assertEqual(silent.lifecycle_stage, "churned")
        self.assertEqual(silent.churn_reason_id, moved)

    def test_seasonal_customer(self):
        # Deep cleaning before the Spring Festival, every January/February
        with freeze_time("2025-02-10 20:00:00"):
            partner = self._customer("Seasonal", ["2024-01-20", "2025-01-25", "2025-02-10"])
        with freeze_time("2025-10-01 20:00:00"):
            # 233 idle days: a non-seasonal customer with this cadence would be churned
            self._cron()
            self.assertTrue(partner.lifecycle_seasonal)
            self.assertNotIn(partner.lifecycle_stage, ("at_risk", "churned"))
        # (issue 29: due at the start of the season, 20 January, plus 30 days of
        # grace; no longer at the last visit + 13 months)
        with freeze_time("2026-02-19 12:00:00"):
            self._cron()
            self.assertNotIn(partner.lifecycle_stage, ("at_risk", "churned"))
        with freeze_time("2026-02-20 12:00:00"):
            # the season's start and the grace passed without a visit
            self._cron()
            self.assertEqual(partner.lifecycle_stage, "at_risk")
        with freeze_time("2027-03-12 20:00:00"):
            self._cron()
            self.assertEqual(partner.lifecycle_stage, "churned")
        # a regular customer with the same idle time is churned long before
        with freeze_time("2025-10-01 20:00:00"):
            regular = self._customer("Regular", ["2025-01-05", "2025-02-05", "2025-03-05"])
            self._cron()
            self.assertFalse(regular.lifecycle_seasonal)
            self.assertEqual(regular.lifecycle_stage, "churned")

    # ------------------------------------------------------------ manual override
    def test_manual_override_holds_then_rules_apply(self):
        self.company.hk_lifecycle_override_days = 10
        with freeze_time("2026-01-01 20:00:00"):
            partner = self._customer("Corporate", ["2026-01-01"])
            with self.assertRaises(UserError):
                partner.action_set_lifecycle_stage("loyal", "  ")
            with self.assertRaises(UserError):
                partner.action_set_lifecycle_stage("vip", "reason")
            self.assertEqual(partner.lifecycle_stage, "new")
            partner.with_user(self.user).action_set_lifecycle_stage("loyal", "Corporate contract")
            self.assertEqual(partner.lifecycle_stage, "loyal")
            self.assertEqual(partner.lifecycle_override_until, date(2026, 1, 11))
            log = self._logs(partner)[-1]
            self.assertEqual(
                (log.to_stage, log.trigger, log.reason), ("loyal", "manual", "Corporate contract")
            )
            self.assertEqual(log.create_uid, self.user)
            self._cron()
            self.assertEqual(partner.lifecycle_stage, "loyal", "the override holds")
        with freeze_time("2026-01-12 20:00:00"):
            self._cron()
            self.assertEqual(partner.lifecycle_stage, "new", "override expired, rules apply")
            self.assertFalse(partner.lifecycle_override_until)
        with freeze_time("2026-01-13 20:00:00"):
            # new activity ends an override at once
            partner.action_set_lifecycle_stage("churned", "Test")
            self._visit(partner=partner, date="2026-01-13 08:00:00")
            self.assertFalse(partner.lifecycle_override_until)
            self.assertEqual(partner.lifecycle_stage, "new")
            self.assertEqual(partner.won_back_date, date(2026, 1, 13))

    def test_set_stage_wizard(self):
        partner = self._customer("Wizard", ["2026-01-01"])
        wizard = Form(
            self.env["housekeeping.lifecycle.set.stage"].with_context(
                default_partner_ids=[partner.id]
            )
        )
        wizard.stage = "at_risk"
        wizard.reason = "Customer said she is moving"
        wizard.save().action_apply()
        self.assertEqual(partner.lifecycle_stage, "at_risk")

    # ------------------------------------------------------------ dry run
    def test_preview_counts_without_writing(self):
        with freeze_time("2026-01-29 20:00:00"):
            customers = [
                self._customer(f"P{i}", ["2026-01-01", "2026-01-15", "2026-01-29"])
                for i in range(3)
            ]
        with freeze_time("2026-03-05 20:00:00"):  # 35 idle days, interval 14
            self._cron()
            self.assertEqual({c.lifecycle_stage for c in customers}, {"at_risk"})
            logs_before = self.env["housekeeping.stage.log"].search_count([])
            preview = self.env["housekeeping.lifecycle.preview"].create({"hk_at_risk_factor": 3.0})
            self.assertEqual(preview.hk_churn_factor, 4.0, "defaults come from the company")
            preview.action_preview()
            self.assertEqual(preview.moved_count, 3)
            self.assertEqual(
                [(line.from_stage, line.to_stage, line.count) for line in preview.line_ids],
                [("at_risk", "loyal", 3)],
            )
            self.assertEqual({c.lifecycle_stage for c in customers}, {"at_risk"}, "nothing written")
            self.assertEqual(self.env["housekeeping.stage.log"].search_count([]), logs_before)
            self.assertEqual(self.company.hk_at_risk_factor, 2.0)
            preview.action_apply()
            self.assertEqual(self.company.hk_at_risk_factor, 3.0)

    def test_preview_of_a_branch_leaves_out_shared_customers(self):
        """Customers without a company follow the main company: the preview of a
        branch, opened by that branch's manager, does not count them."""
        branch = self.env["res.company"].create({"name": "Suzhou branch"})
        manager = self._company_user(
            "hk_branch_manager", branch, "housekeeping_membership.group_membership_manager"
        )
        with freeze_time("2026-01-29 20:00:00"):
            shared = self._customer("Shared", ["2026-01-01", "2026-01-15", "2026-01-29"])
            shared.company_id = False
            local = self._customer("Local", ["2026-01-01", "2026-01-15", "2026-01-29"])
            local.company_id = branch
        with freeze_time("2026-03-05 20:00:00"):
            self._cron()
            self.assertEqual((shared | local).mapped("lifecycle_stage"), ["at_risk"] * 2)
            preview = (
                self.env["housekeeping.lifecycle.preview"]
                .with_user(manager)
                .with_company(branch)
                .create({"company_id": branch.id, "hk_at_risk_factor": 3.0})
            )
            preview.action_preview()
            self.assertEqual(
                [(line.from_stage, line.to_stage, line.count) for line in preview.line_ids],
                [("at_risk", "loyal", 1)],
                "the branch's own customer only",
            )

    def test_invalid_thresholds_refused(self):
        with self.assertRaises(ValidationError):
            self.company.hk_churn_factor = 1.5
        with self.assertRaises(ValidationError):
            self.company.hk_low_rating = 6
        with self.assertRaises(ValidationError):
            self.company.hk_new_min_visits = 0

    # ------------------------------------------------------------ win-back coupon
    def test_playbook_coupon_and_outcome(self):
        program = (
            self.env["loyalty.program"]
            .with_context(default_program_type="coupons")
            .create({"name": "Free hourly cleaning (win-back)"})
        )
        playbook = self.env.ref("housekeeping_membership.winback_playbook_quality")
        playbook.write({"loyalty_program_id": program.id, "winback_days": 30})
        with freeze_time("2026-03-01 20:00:00"):
            partner = self._customer("Upset", ["2026-02-01", "2026-02-15", "2026-02-28"])
            self.env["housekeeping.complaint"].create(
                {"name": "Broken vase", "partner_id": partner.id}
            )
            self._cron()
            run = self.env["housekeeping.winback.run"].search([("partner_id", "=", partner.id)])
            self.assertEqual(len(run), 1)
            self.assertEqual(run.loyalty_card_id.program_id, program)
            self.assertEqual(run.loyalty_card_id.partner_id, partner)
            self.assertEqual(run.loyalty_card_id.points, 1)
            self.assertFalse(run.won_back)
            self.assertEqual(playbook.run_count, 1)
        with freeze_time("2026-03-10 20:00:00"):
            partner.complaint_ids.write({"state": "resolved", "resolution": "Refunded"})
            self._visit(partner=partner, date="2026-03-10 08:00:00")
            self.assertEqual(partner.lifecycle_stage, "loyal")
            self.assertTrue(run.won_back)
            self.assertEqual(run.won_back_date, date(2026, 3, 10))
            playbook.invalidate_recordset()
            self.assertEqual(playbook.win_rate, 100.0)

    # ------------------------------------------------------------ engine properties
    def test_cron_is_idempotent_and_resumable(self):
        customers = self._regulars_in_batches_of_two("R", 5)
        with freeze_time("2026-03-05 20:00:00"):
            # an interrupted run: one batch of 2 went through before the crash
            changed, more = self.env["housekeeping.engine.lifecycle"]._lifecycle_evaluate(
                trigger="cron", limit=2
            )
            self.assertEqual((changed, more), (2, True))
            # the next run resumes with the 3 others, in batches of 2
            self.assertEqual(self._cron(), 3)
            self.assertEqual({c.lifecycle_stage for c in customers}, {"at_risk"})
            logs = self.env["housekeeping.stage.log"].search(
                [("partner_id", "in", [c.id for c in customers]), ("to_stage", "=", "at_risk")]
            )
            self.assertEqual(len(logs), 5, "one log per customer, nothing twice")
            # a second run changes nothing
            self.assertEqual(self._cron(), 0)
            self.assertEqual(
                self.env["housekeeping.stage.log"].search_count(
                    [("partner_id", "in", [c.id for c in customers])]
                ),
                15,  # per customer: → new, → loyal (visits), → at risk (cron)
            )

    def test_cron_reads_its_candidates_batch_by_batch(self):
        """The run never holds every candidate's id: each batch reads the next ones
        (the list of every id grew the process by 77 MB at 1M customers)."""
        customers = self._regulars_in_batches_of_two("K", 5)
        ids = {c.id for c in customers}
        fetched = []
        cr = self.env.cr
        fetchall = cr.fetchall  # (delegated to psycopg2's cursor)

        def spy():
            rows = fetchall()
            # a list of customer ids (one column): the candidates of a batch
            if rows and all(len(row) == 1 and row[0] in ids for row in rows):
                fetched.append(len(rows))
            return rows

        execute = cr.execute
        keyset = []

        def spy_execute(query, *args, **kwargs):
            keyset.append("q.id >" in str(getattr(query, "code", query)))
            return execute(query, *args, **kwargs)

        with (
            freeze_time("2026-03-05 20:00:00"),
            patch.object(cr, "fetchall", spy, create=True),
            patch.object(cr, "execute", spy_execute),
        ):
            self.assertEqual(self._cron(), 5)
        self.assertEqual({c.lifecycle_stage for c in customers}, {"at_risk"})
        # 5 candidates in batches of 2: three reads of the next ids
        self.assertGreaterEqual(keyset.count(True), 3)
        self.assertTrue(fetched)
        self.assertLessEqual(max(fetched), 2, "no statement reads more than a batch of ids")

    def test_stale_planner_statistics_are_refreshed_once(self):
        """Customers made due in bulk before PostgreSQL's statistics know it: the
        keyset would read every candidate for each batch (a run quadratic in the
        candidates), so the run refreshes them (ANALYZE) once, and only then."""
        customers = self._regulars_in_batches_of_two("A", 6)
        cr = self.env.cr
        self.env.flush_all()
        # the statistics say nobody is due...
        cr.execute("UPDATE res_partner SET lifecycle_next_check = '2099-01-01'")
        cr.execute("ANALYZE res_partner")
        # ...then six customers become due (as a bulk change would make them)
        cr.execute(
            "UPDATE res_partner SET lifecycle_next_check = NULL WHERE id = ANY(%s)",
            [[c.id for c in customers]],
        )
        self.env.invalidate_all()
        execute = cr.execute
        statements = []

        def spy_execute(query, *args, **kwargs):
            statements.append(str(getattr(query, "code", query)))
            return execute(query, *args, **kwargs)

        def analyzed():
            # (each batch also analyses its temporary table of rows to apply)
            return sum(q.startswith('ANALYZE "res_partner"') for q in statements)

        with freeze_time("2026-03-05 20:00:00"), patch.object(cr, "execute", spy_execute):
            self.assertEqual(self._cron(), 6)
            self.assertEqual(analyzed(), 1, "the stale statistics are refreshed once")
            self.assertEqual({c.lifecycle_stage for c in customers}, {"at_risk"})
            # a rerun with nobody due, or statistics that know the candidates,
            # does not analyse the table again
            statements.clear()
            self.assertEqual(self._cron(), 0)
            self.env.flush_all()
            execute(
                "UPDATE res_partner SET lifecycle_next_check = NULL WHERE id = ANY(%s)",
                [[c.id for c in customers]],
            )
            execute("ANALYZE res_partner")
            self.env.invalidate_all()
            statements.clear()
            self._cron()
            self.assertEqual(analyzed(), 0)

    def test_scheduled_action_runs_in_batches(self):
        customers = self._regulars_in_batches_of_two("S", 3)
        cron = self.env.ref("housekeeping_membership.ir_cron_lifecycle_evaluate")
        with freeze_time("2026-03-05 20:00:00"), self.enter_registry_test_mode():
            cron.method_direct_trigger()
        self.env.invalidate_all()
        self.assertEqual({c.lifecycle_stage for c in customers}, {"at_risk"})

    def test_query_count_does_not_grow(self):
        def population(prefix, count):
            with freeze_time("2026-01-29 20:00:00"):
                partners = self.Partner.create(
                    [{"name": f"{prefix}{i}", "company_id": self.company.id} for i in range(count)]
                )
                visits = self.env["housekeeping.visit"].create(
                    [
                        {
                            "partner_id": p.id,
                            "service_type_id": self.service_hourly.id,
                            "date": f"2026-01-{day:02d} 09:00:00",
                            "amount": 100,
                            "employee_id": self.cleaner.id,
                        }
                        for p in partners
                        for day in (1, 15, 29)
                    ]
                )
                visits.action_done()
                # a complaint each: at risk with the quality reason, whose playbook
                # opens an activity per customer (no query per activity)
                self.env["housekeeping.complaint"].create(
                    [{"name": "Late again", "partner_id": p.id} for p in partners]
                )
            return partners

        def counted_run():
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            with freeze_time("2026-03-05 20:00:00"):
                changed = self._cron()
            return changed, self.cr.sql_log_count - before

        population("Small", 50)
        changed_small, queries_small = counted_run()
        large = population("Large", 500)
        changed_large, queries_large = counted_run()
        self.assertEqual((changed_small, changed_large), (50, 500))
        self.assertEqual(set(large.mapped("lifecycle_stage")), {"at_risk"})
        self.assertEqual(len(large.activity_ids), 500, "one playbook activity each")
        # the playbooks' activities and runs are ORM creates (mail.activity follows
        # its documents), which insert and update by 100 rows: 3 queries per 100
        # activities, bounded by the batch size; a query per customer would be 450
        self.assertLessEqual(
            abs(queries_large - queries_small),
            5 + 3 * 500 // 100,
            f"50 customers: {queries_small} queries, 500: {queries_large}",
        )

    # ------------------------------------------------------------ multi-company
    def test_settings_per_company(self):
        other = self.env["res.company"].create({"name": "Shanghai branch"})
        other.write({"hk_at_risk_floor_days": 20})
        with freeze_time("2026-01-01 20:00:00"):
            here = self._customer("Beijing", ["2026-01-01"])
            there = self._customer("Shanghai", ["2026-01-01"], company=other)
        with freeze_time("2026-01-25 20:00:00"):
            self._cron()
        self.assertEqual(here.lifecycle_stage, "new")
        self.assertEqual(there.lifecycle_stage, "at_risk")
        self.assertEqual(self._logs(there)[-1].company_id, other)
