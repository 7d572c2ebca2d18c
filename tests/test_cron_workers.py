"""Two real cron worker processes on one database, a visit completed meanwhile.

In Odoo 19 each scheduled action is locked by one worker at a time (``ir_cron``
row, ``FOR NO KEY UPDATE SKIP LOCKED``): two workers run two DIFFERENT engines
at once, on the same customers. This test copies the test database
(``pg_dump``), generates a few thousand customers in it (bulk SQL,
``tests/cron_workers_script.py prepare``), clones it for a reference, then starts
two real Odoo servers on the copy (``python -m odoo --no-http
--max-cron-threads=1``, each process one cron worker) and makes the five engines
that write customers due at once (lifecycle, tiers, points expiry, RFM,
prediction; engine batches of 300, so that they commit and interleave), while a
third process completes a visit (as an HTTP request, retried on a serialization
failure) once the engines have committed a batch. A fourth process runs the five
engines one after the other on the clone.

Checked: every job ran to the end without a failure (``failure_count``, the
workers' logs: a serialization failure met by an engine was retried, none left
unhandled), no deadlock (``pg_stat_database.deadlocks`` of the copy), the
figures of every customer (stage, next check, tier, grace, points balance,
ledger entries, RFM scores and segment, prediction columns, stage logs, tier
logs, notes) equal the single-process reference, every balance equals its
ledger, and the visit's effects (statistics, points) are there. Processes are
killed and both databases dropped at the end, whatever happens. Bounded: the
wait for the workers is at most ``RUN_TIMEOUT`` seconds.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest.mock import patch

import psycopg2

import odoo
from odoo.tests import BaseCase, tagged
from odoo.tools import SQL

from .common import HousekeepingCase

SCRIPT = Path(__file__).with_name("cron_workers_script.py")
CUSTOMERS = 3000
BATCH = 300
START_TIMEOUT = 90
RUN_TIMEOUT = 120
# the figures compared, per customer
FIGURES = """
    SELECT p.id, p.lifecycle_stage, p.lifecycle_next_check, p.lifecycle_seasonal,
           p.lifecycle_stage_date, p.membership_tier_id, p.tier_grace_until,
           p.points_balance, p.probability_alive, p.expected_visits_90d,
           p.predicted_value_12m, r.recency, r.frequency, r.monetary, r.segment,
           (SELECT count(*) FROM housekeeping_stage_log l WHERE l.partner_id = p.id),
           (SELECT count(*) FROM housekeeping_tier_log t WHERE t.partner_id = p.id),
           (SELECT count(*) || ':' || COALESCE(sum(e.points), 0)
              FROM housekeeping_points_entry e WHERE e.partner_id = p.id),
           (SELECT count(*) FROM mail_message m
             WHERE m.model = 'res.partner' AND m.res_id = p.id)
      FROM res_partner p
      LEFT JOIN housekeeping_partner_rfm r ON r.partner_id = p.id
     WHERE p.id = ANY(%s)
     ORDER BY p.id
"""
# a job that failed, or an exception no one handled
UNHANDLED = re.compile(
    r"server action #\d+ failed|Exception in cron|encountered an Exception|CRITICAL|timed out"
)


@tagged("post_install", "-at_install", "hk_real_cursors")
class TestCronWorkers(BaseCase):
    def setUp(self):
        super().setUp()
        self.database = odoo.tools.config["db_name"][0]
        self.conf = odoo.tools.config["config"]
        self.copy = f"{self.database}_cw"
        self.reference = f"{self.database}_cw_ref"
        self.tmp = Path(tempfile.mkdtemp(prefix="hk_cronw_"))
        self.processes = []
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.addCleanup(self._drop, self.copy, self.reference)
        self.addCleanup(self._kill_all)

    # ------------------------------------------------------------ helpers
    def _admin(self, query, params=None):
        """Run ``query`` on the server (database ``postgres``), autocommit."""
        with odoo.sql_db.db_connect("postgres").cursor() as cr:
            cr._cnx.autocommit = True
            cr.execute(query, params)
            return cr.fetchall() if cr.description else None

    def _query(self, database, query, params=None):
        """Run ``query`` on ``database`` in a transaction of its own (committed)."""
        with odoo.sql_db.db_connect(database).cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall() if cr.description else None

    def _drop(self, *databases):
        for database in databases:
            odoo.sql_db.close_db(database)
            self._admin(SQL("DROP DATABASE IF EXISTS %s WITH (FORCE)", SQL.identifier(database)))
            shutil.rmtree(odoo.tools.config.filestore(database), ignore_errors=True)

    def _kill_all(self):
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def _start(self, args, log, **env):
        """A process of its own group (killed with its children), output to ``log``."""
        with open(self.tmp / log, "w") as out:
            process = subprocess.Popen(  # noqa: S603
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def _script(self, mode, database, *args, log=None):
        return self._start(
            [sys.executable, str(SCRIPT), mode, "--config", self.conf, "--database", database]
            + list(args),
            log or f"{mode}.log",
        )

    def _output(self, log):
        return (self.tmp / log).read_text()

    def _json(self, log):
        lines = [line for line in self._output(log).splitlines() if line.startswith("{")]
        self.assertTrue(lines, f"{log}: no result\n{self._output(log)[-3000:]}")
        return json.loads(lines[-1])

    def _wait(self, condition, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.2)
        self.fail(f"timed out ({timeout} s) waiting for {what}")

    def _copy_database(self):
        """The test database (the addon installed) copied through ``pg_dump``: a
        database in use cannot be a template."""
        params = odoo.sql_db.connection_info_for(self.database)[1]
        conn = ["-h", params["host"], "-p", str(params["port"]), "-U", params["user"]]
        self._admin(SQL("CREATE DATABASE %s", SQL.identifier(self.copy)))
        dump = subprocess.Popen(  # noqa: S603
            ["pg_dump", *conn, "--no-owner", self.database],  # noqa: S607
            stdout=subprocess.PIPE,
        )
        restore = subprocess.run(  # noqa: S603
            ["psql", *conn, "-q", "-v", "ON_ERROR_STOP=1", "-d", self.copy],  # noqa: S607
            stdin=dump.stdout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        dump.stdout.close()
        self.assertEqual(dump.wait(), 0, "pg_dump failed")
        self.assertEqual(restore.returncode, 0, restore.stderr.decode()[-2000:])
        source = odoo.tools.config.filestore(self.database)
        if os.path.isdir(source):
            shutil.copytree(source, odoo.tools.config.filestore(self.copy))

    # ------------------------------------------------------------ the test
    def test_two_cron_workers_and_a_visit(self):
        started = time.monotonic()
        self._copy_database()
        prepare = self._script(
            "prepare", self.copy, "--customers", str(CUSTOMERS), "--batch", str(BATCH)
        )
        self.assertEqual(prepare.wait(START_TIMEOUT), 0, self._output("prepare.log")[-3000:])
        data = self._json("prepare.log")
        customers, crons = data["customers"], data["crons"]
        # the clone for the reference (nobody is connected to the copy now)
        odoo.sql_db.close_db(self.copy)
        self._admin(
            SQL(
                "CREATE DATABASE %s TEMPLATE %s",
                SQL.identifier(self.reference),
                SQL.identifier(self.copy),
            )
        )
        reference = self._script("reference", self.reference)
        workers = [
            self._start(
                [
                    sys.executable,
                    "-m",
                    "odoo",
                    "-c",
                    self.conf,
                    "-d",
                    self.copy,
                    "--no-http",
                    "--workers=0",
                    "--max-cron-threads=1",
                    "--log-level=info",
                ],
                f"worker{index}.log",
                PGAPPNAME=f"hk_cronw_{index}",
                # a job partly done is rescheduled with a notification: the
                # workers take it again at once, not at their next minute
                ODOO_NOTIFY_CRON_CHANGES="1",
            )
            for index in (1, 2)
        ]
        visit = self._script(
            "visit", self.copy, "--visit", str(data["visit"]), "--timeout", str(RUN_TIMEOUT)
        )

        def ready():
            for process in (*workers, visit):
                self.assertIsNone(process.poll(), "a process stopped before the run")
            listening = self._admin(
                """SELECT count(DISTINCT application_name) FROM pg_stat_activity
                    WHERE datname = 'postgres' AND application_name LIKE 'hk_cronw_%%'"""
            )[0][0]
            return listening == 2 and "READY" in self._output("visit.log")

        self._wait(ready, START_TIMEOUT, "the cron workers and the visit process")
        deadlocks = self._query(
            "postgres", "SELECT deadlocks FROM pg_stat_database WHERE datname = %s", [self.copy]
        )[0][0]
        # the five crons due at once, the workers woken up
        run_start = time.monotonic()
        self._query(
            self.copy,
            """UPDATE ir_cron SET nextcall = now() at time zone 'UTC' - interval '1 minute'
                WHERE id = ANY(%s)""",
            [crons],
        )
        self._admin("SELECT pg_notify('cron_trigger', %s)", [self.copy])

        def finished():
            for process in workers:
                self.assertIsNone(process.poll(), "a cron worker stopped")
            rows = self._query(
                self.copy,
                """SELECT count(*) FROM ir_cron c
                    WHERE c.id = ANY(%s) AND c.lastcall IS NOT NULL
                      AND c.nextcall > now() at time zone 'UTC'
                      AND NOT EXISTS (SELECT 1 FROM ir_cron_trigger t WHERE t.cron_id = c.id)""",
                [crons],
            )
            return rows[0][0] == len(crons) and visit.poll() is not None

        self._wait(finished, RUN_TIMEOUT, "the five crons and the visit")
        run_seconds = time.monotonic() - run_start
        # (a job's lastcall is written as its worker commits the job: let it end)
        time.sleep(1)
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.assertEqual(reference.wait(RUN_TIMEOUT), 0, self._output("reference.log")[-3000:])
        self.assertEqual(visit.returncode, 0, self._output("visit.log")[-3000:])

        # ------------------------------------------------ the jobs and the logs
        failures = self._query(
            self.copy,
            "SELECT cron_name, failure_count FROM ir_cron WHERE id = ANY(%s)",
            [crons],
        )
        logs = self._output("worker1.log") + self._output("worker2.log")
        unhandled = [line for line in logs.splitlines() if UNHANDLED.search(line)]
        deadlocks = (
            self._query(
                "postgres",
                "SELECT deadlocks FROM pg_stat_database WHERE datname = %s",
                [self.copy],
            )[0][0]
            - deadlocks
        )
        # each worker's jobs: both took some, they ran side by side
        jobs = [
            len(re.findall(r"Job .* starting", self._output(log)))
            for log in ("worker1.log", "worker2.log")
        ]
        concurrent = self._query(self.copy, FIGURES, [customers])
        single = self._query(self.reference, FIGURES, [customers])
        differing = [(row, ref) for row, ref in zip(concurrent, single, strict=True) if row != ref]
        # the figures of docs/reliability.md (Several cron workers): pytest -s
        sys.stdout.write(
            f"\ncron workers: {CUSTOMERS} customers, run {run_seconds:.1f} s, jobs {jobs}, "
            f"serialization failures logged {logs.count('could not serialize access')}, "
            f"engine calls retried {logs.count('the call is run again')}, "
            f"deadlocks {deadlocks}, failed jobs {[row for row in failures if row[1]]}, "
            f"unhandled {len(unhandled)}, customers differing {len(differing)}, "
            f"visit {self._output('visit.log').strip().splitlines()[-1:]}, "
            f"reference {self._output('reference.log').strip().splitlines()[-1:]}, "
            f"test {time.monotonic() - started:.0f} s"
        )
        self.assertFalse([row for row in failures if row[1]], f"jobs failed: {failures}")
        self.assertFalse(unhandled, "\n".join(unhandled[:20]))
        self.assertEqual(deadlocks, 0, "deadlocks between the workers and the visit")
        self.assertNotIn("deadlock detected", logs)
        self.assertTrue(all(jobs), f"a worker ran no job: {jobs}")

        # ------------------------------------------------ the figures
        self.assertEqual(len(concurrent), CUSTOMERS)
        self.assertFalse(
            differing,
            f"{len(differing)} customers differ from the single-process run, e.g. {differing[:3]}",
        )
        # the engines did their work (not two empty runs that agree)
        empty = self._query(
            self.copy,
            """SELECT count(*) FILTER (WHERE p.lifecycle_stage IS NULL),
                      count(*) FILTER (WHERE p.membership_tier_id IS NULL),
                      count(*) FILTER (WHERE p.points_balance <> 0),
                      count(*) FILTER (WHERE p.probability_alive IS NULL),
                      count(*) FILTER (WHERE r.segment IS NULL)
                 FROM res_partner p
                 LEFT JOIN housekeeping_partner_rfm r ON r.partner_id = p.id
                WHERE p.id = ANY(%s)""",
            [customers],
        )[0]
        self.assertEqual(empty, (0, 0, 0, 0, 0), "stage, tier, expiry, prediction, RFM")
        # every balance is its ledger
        unbalanced = self._query(
            self.copy,
            """SELECT p.id FROM res_partner p
                WHERE p.points_balance IS DISTINCT FROM
                      (SELECT COALESCE(sum(e.points), 0) FROM housekeeping_points_entry e
                        WHERE e.partner_id = p.id)
                  AND (p.points_balance <> 0 OR EXISTS (
                       SELECT 1 FROM housekeeping_points_entry e WHERE e.partner_id = p.id))""",
        )
        self.assertFalse(unbalanced, "balances that are not their ledger")

        # ------------------------------------------------ the visit
        self.assertGreaterEqual(self._json("visit.log")["tries"], 1)
        state, visit_count, earned, stage = self._query(
            self.copy,
            """SELECT v.state, p.visit_count,
                      (SELECT count(*) FROM housekeeping_points_entry e
                        WHERE e.visit_id = v.id AND e.points > 0),
                      p.lifecycle_stage
                 FROM housekeeping_visit v JOIN res_partner p ON p.id = v.partner_id
                WHERE v.id = %s""",
            [data["visit"]],
        )[0]
        self.assertEqual(state, "done")
        self.assertEqual(visit_count, data["visit_count"] + 1)
        self.assertEqual(earned, 1, "the visit's points")
        self.assertTrue(stage)


@tagged("post_install", "-at_install")
class TestEngineRetry(HousekeepingCase):
    """The retry of ``housekeeping.engine._cron`` on its own, through the
    scheduler (``method_direct_trigger``): a call refused by PostgreSQL for a
    concurrent transaction is rolled back and run again; outside the scheduler the
    error goes to the caller."""

    PROBE = "housekeeping_membership.cron_workers_probe"

    def _fail_once(self, error):
        """Patch the RFM engine's ``_run``: its first call writes a probe row and
        raises ``error``, the next ones run the engine. Returns (patcher, calls)."""
        model_class = type(self.env["housekeeping.engine.rfm"])
        original = model_class._run
        calls = []

        def run(records):
            calls.append(True)
            if len(calls) == 1:
                records.env.cr.execute(
                    "INSERT INTO ir_config_parameter (key, value) VALUES (%s, 'written')",
                    [self.PROBE],
                )
                raise error
            return original(records)

        return patch.object(model_class, "_run", run), calls

    def _probe_rows(self):
        self.env.cr.execute("SELECT count(*) FROM ir_config_parameter WHERE key = %s", [self.PROBE])
        return self.env.cr.fetchone()[0]

    def _customer_with_visit(self):
        customer = self.env["res.partner"].create({"name": "Retry Customer"})
        self.env["housekeeping.visit"].create(
            {
                "partner_id": customer.id,
                "service_type_id": self.service_hourly.id,
                "date": "2026-01-10 09:00:00",
                "amount": 150,
                "employee_id": self.cleaner.id,
            }
        ).action_done()
        return customer

    def test_scheduler_retries_serialization_failures_and_deadlocks(self):
        cron = self.env.ref("housekeeping_membership.ir_cron_rfm")
        for error in (
            psycopg2.errors.SerializationFailure("could not serialize access"),
            psycopg2.errors.DeadlockDetected("deadlock detected"),
        ):
            customer = self._customer_with_visit()
            patcher, calls = self._fail_once(error)
            with patcher, self.enter_registry_test_mode():
                result = cron.method_direct_trigger()
            self.assertIs(result, True, f"{type(error).__name__}: the job failed: {result}")
            self.assertEqual(len(calls), 2, "run again once")
            self.env.invalidate_all()
            self.assertEqual(cron.failure_count, 0)
            self.assertEqual(self._probe_rows(), 0, "the refused try is rolled back")
            self.assertTrue(customer.rfm_segment, "the second try scored the customer")

    def test_outside_the_scheduler_the_error_goes_to_the_caller(self):
        patcher, calls = self._fail_once(psycopg2.errors.SerializationFailure("refused"))
        with patcher, self.assertRaises(psycopg2.errors.SerializationFailure):
            self.env["housekeeping.engine.rfm"]._cron()
        self.assertEqual(len(calls), 1, "not retried: the transaction is the caller's")
