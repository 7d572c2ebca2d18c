from datetime import date

from freezegun import freeze_time

from odoo.tests import tagged

from .common import HousekeepingCase


@tagged("post_install", "-at_install")
class TestServicePlanLifecycle(HousekeepingCase):
    """A customer on an active service plan is not at risk merely because time
    passed: their next planned visit is the expectation (issue 30). Quality signals
    still count; pausing, ending or archiving the plan brings the time rules back."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Partner = cls.env["res.partner"]
        # Evaluate only the customers of this test: put the others out of scope.
        cls.Partner.search([("lifecycle_stage", "!=", False)]).write({"active": False})
        cls.env.flush_all()
        cls.company.hk_plan_horizon_weeks = 4
        cls.wednesday = cls.env["housekeeping.weekday"].search([("number", "=", 3)])

    def _customer(self, name, days):
        partner = self.Partner.create(
            {"name": name, "company_id": self.company.id, "tz": "Asia/Shanghai"}
        )
        for day in days:
            self._visit(partner=partner, date=f"{day} 09:00:00")
        return partner

    def _plan(self, partner, **vals):
        return self.env["housekeeping.service.plan"].create(
            {
                "partner_id": partner.id,
                "service_type_id": self.service_hourly.id,
                "company_id": self.company.id,
                "weekday_ids": [(6, 0, self.wednesday.ids)],
                "time_start": 14.0,
                "duration": 2.0,
                "amount": 120.0,
                **vals,
            }
        )

    def _cron(self):
        return self.Partner._cron_evaluate_lifecycle()

    def _regulars(self):
        # a visit every two weeks in January: at risk after 28 days (Feb 27),
        # churned after the 180-day floor (July 29)
        with freeze_time("2026-01-29 12:00:00"):
            return (
                self._customer("计划客户", ["2026-01-01", "2026-01-15", "2026-01-29"]),
                self._customer("无计划客户", ["2026-01-01", "2026-01-15", "2026-01-29"]),
            )

    def test_time_alone_does_not_put_a_planned_customer_at_risk(self):
        planned, unplanned = self._regulars()
        with freeze_time("2026-02-20 02:00:00"):
            self._cron()
            self.assertEqual(planned.lifecycle_next_check, date(2026, 2, 27))
            plan = self._plan(planned, date_start="2026-02-20")
            self.assertEqual(
                [str(d) for d in plan.visit_ids.sorted("date").mapped("plan_occurrence")],
                ["2026-02-25", "2026-03-04", "2026-03-11", "2026-03-18"],
            )
            # a new plan makes its customer due
            self.assertFalse(planned.lifecycle_next_check)
            self._cron()
            self.assertEqual(planned.lifecycle_stage, "loyal")
            # no change by time before the last planned visit has passed
            self.assertEqual(planned.lifecycle_next_check, date(2026, 3, 19))
            self.assertEqual(unplanned.lifecycle_next_check, date(2026, 2, 27))

        with freeze_time("2026-03-01 12:00:00"):
            self._cron()
        self.assertEqual(unplanned.lifecycle_stage, "at_risk")
        self.assertEqual(planned.lifecycle_stage, "loyal")

        # paused: the time rules apply again, at once on the next run
        with freeze_time("2026-03-02 02:00:00"):
            plan.action_pause()
            self.assertFalse(planned.lifecycle_next_check)
            self._cron()
            self.assertEqual(planned.lifecycle_stage, "at_risk")
            plan.action_resume()
            self.assertFalse(planned.lifecycle_next_check)
            self._cron()
            self.assertEqual(planned.lifecycle_stage, "loyal")
            # not won back: no visit done since it was lost
            self.assertFalse(planned.won_back_date)

        # months later, the plan's cron keeps its visits ahead: never churned
        with freeze_time("2026-08-10 02:00:00"):
            self.env["housekeeping.engine.service_plan"]._cron()
            self._cron()
            self.assertEqual(unplanned.lifecycle_stage, "churned")
            self.assertEqual(planned.lifecycle_stage, "loyal")
            # the plan ends: held until its last visit to come has passed
            plan.date_end = "2026-08-12"
            self.assertFalse(planned.lifecycle_next_check)
            self._cron()
            self.assertEqual(planned.lifecycle_stage, "loyal")
            self.assertEqual(planned.lifecycle_next_check, date(2026, 8, 13))
        with freeze_time("2026-08-13 12:00:00"):
            self._cron()
        self.assertEqual(planned.lifecycle_stage, "churned")

    def test_archived_plan_and_quality_signal(self):
        planned, _unplanned = self._regulars()
        with freeze_time("2026-03-02 02:00:00"):
            plan = self._plan(planned, date_start="2026-03-02")
            self._cron()
            self.assertEqual(planned.lifecycle_stage, "loyal")
            # a complaint still makes a planned customer at risk
            complaint = self.env["housekeeping.complaint"].create(
                {"name": "地板没擦干净", "partner_id": planned.id}
            )
            self._cron()
            self.assertEqual(planned.lifecycle_stage, "at_risk")
            complaint.resolution = "已返工"
            complaint.action_resolve()
            self._cron()
            self.assertEqual(planned.lifecycle_stage, "loyal")
            # archived: the time rules again
            plan.active = False
            self.assertFalse(planned.lifecycle_next_check)
            self._cron()
            self.assertEqual(planned.lifecycle_stage, "at_risk")

    def test_a_new_customer_on_a_plan_stays_new(self):
        with freeze_time("2026-01-10 12:00:00"):
            client = self._customer("新客户", ["2026-01-10"])
        with freeze_time("2026-05-04 02:00:00"):
            self._cron()
            self.assertEqual(client.lifecycle_stage, "at_risk", "45-day floor passed")
            self._plan(client, date_start="2026-05-04")
            self._cron()
            self.assertEqual(client.lifecycle_stage, "new")

    def test_probability_rule_does_not_fire_for_planned_customers(self):
        planned, unplanned = self._regulars()
        self.company.write({"hk_at_risk_probability_enabled": True, "hk_at_risk_probability": 30})
        self.env["housekeeping.prediction.fit"].sudo().create(
            {"date": "2026-02-01", "company_id": self.company.id, "state": "fitted"}
        )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE res_partner SET probability_alive = 0.1 WHERE id IN %s",
            [(planned.id, unplanned.id)],
        )
        self.Partner.invalidate_model(["probability_alive"])
        with freeze_time("2026-02-04 02:00:00"):
            self._plan(planned, date_start="2026-02-04")
            self._cron()
        self.assertEqual(unplanned.lifecycle_stage, "at_risk")
        self.assertEqual(planned.lifecycle_stage, "loyal")

    def test_rule_queries_do_not_grow_with_planned_customers(self):
        def run(count, prefix):
            with freeze_time("2026-01-29 12:00:00"):
                customers = [
                    self._customer(f"{prefix}{i}", ["2026-01-01", "2026-01-15", "2026-01-29"])
                    for i in range(count)
                ]
            with freeze_time("2026-03-02 02:00:00"):
                for customer in customers:
                    self._plan(customer, date_start="2026-03-02")
                self.env.flush_all()
                self.env.invalidate_all()
                before = self.cr.sql_log_count
                self._cron()
                queries = self.cr.sql_log_count - before
            self.assertEqual({c.lifecycle_stage for c in customers}, {"loyal"})
            self.assertEqual({c.lifecycle_next_check for c in customers}, {date(2026, 3, 26)})
            return queries

        run(1, "W")  # warm the caches of the registry
        self.assertEqual(run(2, "A"), run(6, "B"))
