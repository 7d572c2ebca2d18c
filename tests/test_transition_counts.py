import random
from datetime import date, timedelta
from decimal import Decimal
from unittest.mock import patch

from odoo.tests import tagged

from .common import HousekeepingCase, read_counted

STAGES = ["potential", "new", "loyal", "at_risk", "churned"]
TRIGGERS = ["cron", "visit", "manual"]
AGGREGATES = ("__count", "transition_count:sum", "days_in_previous_stage:avg")
GROUPINGS = (
    ["from_stage", "to_stage"],
    ["company_id"],
    ["date:month"],
    ["date:day", "company_id"],
    ["trigger"],
    ["churn_reason_id"],
    ["churn_reason"],
    ["to_stage", "churn_reason_id", "trigger"],
)


@tagged("post_install", "-at_install")
class TestTransitionCounts(HousekeepingCase):
    """The transition matrix's grouped reads are served by the nightly counts
    plus the stage log rows since (housekeeping.report.lifecycle.transition.day):
    the same figures as the per-row report, averages included, in a number of
    queries that does not depend on the log."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = cls.env["res.company"].create({"name": "Transition Other Store"})
        cls.quality = cls.env.ref("housekeeping_membership.churn_reason_quality")
        cls.price = cls.env.ref("housekeeping_membership.churn_reason_price")
        cls.manager.company_ids = cls.company

    def _logs(self, seed, count, reasons=None):
        """``count`` stage log rows of new customers, over a year, of random
        moves, triggers, churn reasons, companies (or none) and days (or none)."""
        rnd = random.Random(seed)
        reasons = reasons or [self.quality.id, self.price.id]
        partners = self.env["res.partner"].create(
            [{"name": f"Transition {seed} {i}"} for i in range(max(1, count // 4))]
        )
        vals = []
        for i in range(count):
            to_stage = rnd.choice(STAGES)
            vals.append(
                {
                    "partner_id": partners[i % len(partners)].id,
                    "from_stage": rnd.choice([False] + [s for s in STAGES if s != to_stage]),
                    "to_stage": to_stage,
                    "date": date(2025, 7, 1) + timedelta(days=rnd.randint(0, 364)),
                    "trigger": rnd.choice(TRIGGERS),
                    "churn_reason_id": rnd.choice([False, *reasons])
                    if to_stage in ("at_risk", "churned")
                    else False,
                    "company_id": rnd.choice([self.company.id, self.other.id, False]),
                    "days_in_previous_stage": rnd.choice([None, 0, rnd.randint(1, 400)]),
                }
            )
        logs = self.env["housekeeping.stage.log"].create(vals)
        self.env.flush_all()
        return logs

    def _fold(self):
        return self.env["housekeeping.engine.snapshot"]._fold_transitions()

    def _counts_table(self):
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT from_stage, to_stage, date, trigger, churn_reason_id, company_id,
                      transition_count, days_sum, days_count, log_id
                 FROM housekeeping_lifecycle_transition_count"""
        )
        return sorted(self.env.cr.fetchall(), key=repr)

    def _read(self, env, groupby, aggregates=AGGREGATES, domain=(), per_row=False):
        """The report's grouped read, and whether the transitions per day served it."""
        return read_counted(
            env, "housekeeping.report.lifecycle.transition", groupby, aggregates, domain, per_row
        )

    def _assert_same(self, env=None, label="", domain=()):
        env = env or self.env
        for groupby in GROUPINGS:
            delegated, by_day = self._read(env, groupby, domain=domain)
            per_row, by_day_too = self._read(env, groupby, domain=domain, per_row=True)
            self.assertTrue(by_day, f"{label} {groupby}: read from the transitions per day")
            self.assertFalse(by_day_too, f"{label} {groupby}: per row on the customers")
            self.assertTrue(delegated, f"{label} {groupby}")
            self.assertEqual(delegated, per_row, f"{label} {groupby}")

    def _oracle(self):
        """The matrix and average days straight from the stage log."""
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT from_stage, to_stage, count(*), avg(days_in_previous_stage)::float8
                 FROM housekeeping_stage_log GROUP BY 1, 2"""
        )
        return {
            (f or False, t): (n, n, None if avg is None else round(avg, 9))
            for f, t, n, avg in self.env.cr.fetchall()
        }

    def test_delegated_reads_equal_the_log(self):
        self._logs(1, 120)
        self.assertFalse(self._counts_table(), "nothing counted yet: every log row is fresh")
        self._assert_same(label="nothing folded")
        self.assertEqual(self._read(self.env, ["from_stage", "to_stage"])[0], self._oracle())
        # the nightly run folds them all in
        self.env["housekeeping.engine.snapshot"]._run()
        table = self._counts_table()
        self.env.cr.execute("SELECT count(*), max(id) FROM housekeeping_stage_log")
        log_count, last = self.env.cr.fetchone()
        self.assertEqual(sum(r[6] for r in table), log_count)
        self.assertEqual(max(r[9] for r in table), last)
        self._assert_same(label="folded")
        # rows written since are read from the log, once
        self._logs(2, 60)
        self._assert_same(label="folded + fresh")
        self.assertEqual(self._read(self.env, ["from_stage", "to_stage"])[0], self._oracle())
        self.assertEqual(self._counts_table(), table, "read, not folded")
        self._fold()
        table = self._counts_table()
        self.env.cr.execute("SELECT count(*), max(id) FROM housekeeping_stage_log")
        log_count, last = self.env.cr.fetchone()
        self.assertEqual(sum(r[6] for r in table), log_count, "no transition counted twice")
        self.env.cr.execute(
            "SELECT count(days_in_previous_stage), sum(days_in_previous_stage)"
            " FROM housekeeping_stage_log"
        )
        self.assertEqual(
            (sum(r[8] for r in table), sum(r[7] for r in table)), self.env.cr.fetchone()
        )
        self.assertEqual(max(r[9] for r in table), last)
        self._assert_same(label="folded again")
        self.assertEqual(self._read(self.env, ["from_stage", "to_stage"])[0], self._oracle())
        # a manager sees their company's transitions (and those of none), alike
        manager_env = self.env(user=self.manager)
        self._assert_same(env=manager_env, label="manager")
        companies = self._read(manager_env, ["company_id"])[0]
        self.assertEqual(set(companies), {(self.company.id,), (False,)})
        # a domain on the grouped fields is delegated too
        self._assert_same(
            label="domain",
            domain=[("to_stage", "in", ("at_risk", "churned")), ("date", ">=", "2026-01-01")],
        )

    def test_engine_run_twice_changes_nothing(self):
        self._logs(3, 80)
        self.assertTrue(self._fold())
        table = self._counts_table()
        self.assertEqual(self._fold(), 0, "nothing new: nothing written")
        self.assertEqual(self._counts_table(), table)
        self.env["housekeeping.engine.snapshot"]._run()
        self.assertEqual(self._counts_table(), table)
        self._assert_same(label="run twice")

    def test_grouping_sets_and_other_reads(self):
        self._logs(4, 60)
        self._fold()
        self._logs(5, 20)
        Report = self.env["housekeeping.report.lifecycle.transition"]
        Day = type(self.env["housekeeping.report.lifecycle.transition.day"])
        sets = [["from_stage"], ["to_stage"], ["from_stage", "to_stage"]]

        def grouping_sets(domain):
            self.env.invalidate_all()
            with patch.object(
                Day, "_read_grouping_sets", autospec=True, side_effect=Day._read_grouping_sets
            ) as spy:
                result = Report._read_grouping_sets(domain, sets, AGGREGATES)
            return [
                sorted(
                    (
                        tuple(
                            round(float(v), 9) if isinstance(v, (float, Decimal)) else v
                            for v in row
                        )
                        for row in rows
                    ),
                    key=repr,
                )
                for rows in result
            ], spy.called

        delegated, by_day = grouping_sets([])
        per_row, by_day_too = grouping_sets([("partner_id", "!=", False)])
        self.assertTrue(by_day)
        self.assertFalse(by_day_too)
        self.assertEqual(delegated, per_row)
        # a customer, the free-text reason, another aggregate: the log rows
        for domain, groupby, aggregates in (
            ([("partner_id.name", "ilike", "Transition 4")], ["to_stage"], ["__count"]),
            ([], ["reason"], ["__count"]),
            ([], ["to_stage"], ["days_in_previous_stage:max"]),
        ):
            self.assertFalse(self._read(self.env, groupby, aggregates, domain)[1])
        # an order on the measure is delegated, the counts ordered
        with patch.object(Day, "_read_group", autospec=True, side_effect=Day._read_group) as spy:
            rows = Report._read_group([], ["to_stage"], ["__count"], order="__count desc")
        self.assertTrue(spy.called)
        self.assertEqual([n for _stage, n in rows], sorted((n for _s, n in rows), reverse=True))

    def test_deleted_reason_reads_as_none(self):
        reason = self.env["housekeeping.churn.reason"].create(
            {"name": "Transition Moved Away", "code": "transition_moved"}
        )
        self._logs(6, 80, reasons=[reason.id])
        self._fold()
        self._logs(7, 20, reasons=[reason.id])
        reason.unlink()
        self._assert_same(label="reason deleted")
        self._fold()
        self._assert_same(label="reason deleted, folded")

    def test_queries_do_not_depend_on_the_log(self):
        self._logs(8, 10)
        self._fold()

        def queries():
            self.env.flush_all()
            self.env.invalidate_all()
            Report = self.env(user=self.manager)["housekeeping.report.lifecycle.transition"]
            before = self.env.cr.sql_log_count
            Report._read_group(
                [], ["from_stage", "to_stage", "churn_reason_id", "company_id"], AGGREGATES
            )
            return self.env.cr.sql_log_count - before

        queries()  # warm the caches (rules, access)
        few = queries()
        self._logs(9, 10)
        fresh_few = queries()
        self._logs(10, 200)
        fresh_many = queries()
        self._fold()
        folded_many = queries()
        self.assertEqual(few, fresh_few)
        self.assertEqual(few, fresh_many)
        self.assertEqual(few, folded_many)
