"""Concurrency and fault tolerance on real database cursors.

Like ``test_points.TestConcurrentRedemption``: the setup data is committed, each
worker runs in a thread on its own cursor (as two HTTP requests or two cron
workers would), and ``addCleanup`` deletes what was committed. Odoo's cursors
run in REPEATABLE READ: when two transactions collide, one of them may fail with a
serialization error; that side is counted as "refused" and must have written
nothing (Odoo retries such requests).
"""

import threading
from datetime import timedelta
from unittest.mock import patch

import psycopg2

import odoo
from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import BaseCase, tagged

ROUNDS = 20
# pairs of operations run at the same moment on the same customer, in turn
PAIRS = (
    ("redeem", "redeem"),
    ("redeem", "earn"),
    ("earn", "earn"),
    ("redeem", "expire"),
    ("expire", "expire"),
    ("earn", "expire"),
)
JOIN_TIMEOUT = 30


class RealCursorCase(BaseCase):
    """Committed data on real cursors, deleted again by ``addCleanup``."""

    def setUp(self):
        super().setUp()
        self.registry = odoo.modules.registry.Registry(odoo.tools.config["db_name"][0])

    def _cursor_env(self, cr, context=None):
        return odoo.api.Environment(cr, odoo.SUPERUSER_ID, context or {})

    def _run_threads(self, *targets):
        """Start one thread per target at the same moment (a barrier) and join them;
        return each target's result (or the name of the exception it raised)."""
        barrier = threading.Barrier(len(targets), timeout=JOIN_TIMEOUT)
        results = [None] * len(targets)

        def run(index, target):
            try:
                with self.registry.cursor() as cr:
                    env = self._cursor_env(cr)
                    barrier.wait()
                    results[index] = ("ok", target(env))
            except (UserError, psycopg2.errors.SerializationFailure) as error:
                results[index] = ("refused", type(error).__name__)
            except Exception as error:  # noqa: BLE001 (reported by the assertion below)
                results[index] = ("error", repr(error))

        threads = [
            threading.Thread(target=run, args=(i, t), daemon=True) for i, t in enumerate(targets)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(JOIN_TIMEOUT)
            self.assertFalse(thread.is_alive(), "a worker is stuck (deadlock?)")
        for result in results:
            self.assertIn(result[0], ("ok", "refused"), result)
        return results

    def _delete_partners(self, partner_ids, extra=(), **params):
        with self.registry.cursor() as cr:
            for query in (
                *extra,
                "DELETE FROM housekeeping_points_allocation WHERE partner_id = ANY(%(ids)s)",
                "DELETE FROM housekeeping_points_entry WHERE partner_id = ANY(%(ids)s)",
                "DELETE FROM housekeeping_stage_log WHERE partner_id = ANY(%(ids)s)",
                "DELETE FROM housekeeping_winback_run WHERE partner_id = ANY(%(ids)s)",
                "DELETE FROM mail_activity WHERE res_model = 'res.partner' "
                "AND res_id = ANY(%(ids)s)",
                "DELETE FROM mail_message WHERE model = 'res.partner' AND res_id = ANY(%(ids)s)",
                "DELETE FROM res_partner WHERE id = ANY(%(ids)s)",
            ):
                cr.execute(query, {"ids": list(partner_ids), **params})


@tagged("post_install", "-at_install", "hk_real_cursors")
class TestConcurrentLedger(RealCursorCase):
    """Two of redeem / earn / expire at the same moment on one customer, many
    rounds: the balance always equals the ledger, is never negative, no cause is
    posted twice and no entry is lost."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = self._cursor_env(cr)
            partner = env["res.partner"].create({"name": "Concurrent ledger customer"})
            self.reward_id = (
                env["housekeeping.reward"]
                .create({"name": "Concurrency gift", "points_cost": 40, "reward_type": "gift"})
                .id
            )
            partner._hk_grant_points(2000, "goodwill", origin="concurrency-ledger")
            self.partner_id = partner.id
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        self._delete_partners(
            [self.partner_id],
            extra=(
                "DELETE FROM housekeeping_points_allocation a USING housekeeping_points_entry e "
                "WHERE e.reward_id = %(reward)s AND a.debit_entry_id = e.id",
                "DELETE FROM housekeeping_points_entry WHERE reward_id = %(reward)s",
                "DELETE FROM housekeeping_reward WHERE id = %(reward)s",
            ),
            reward=self.reward_id,
        )

    # the operations, each in its worker's transaction: they return the number of
    # ledger entries they wrote
    def _op(self, name, round_no, side):
        def redeem(env):
            env["housekeeping.reward"].browse(self.reward_id).redeem(
                env["res.partner"].browse(self.partner_id)
            )
            return 1

        def earn(env):
            entries = (
                env["res.partner"]
                .browse(self.partner_id)
                ._hk_grant_points(7, "goodwill", origin=f"round-{round_no}-{side}")
            )
            return len(entries)

        def expire(env):
            return env["housekeeping.points.entry"]._expire_lots(fields.Date.today(), 1000)

        return {"redeem": redeem, "earn": earn, "expire": expire}[name]

    def _prepare_round(self, round_no):
        """Give the customer a lot that expired yesterday (for the expiry side)."""
        with self.registry.cursor() as cr:
            env = self._cursor_env(cr)
            yesterday = fields.Date.today() - timedelta(days=1)
            env["housekeeping.points.entry"]._post_credits(
                [
                    {
                        "partner_id": self.partner_id,
                        "company_id": env.company.id,
                        "points": 15,
                        "entry_type": "earn",
                        "reason_code": "goodwill",
                        "date": yesterday - timedelta(days=365),
                        "expiry_date": yesterday,
                        "source_key": f"old-lot-{round_no}",
                    }
                ]
            )

    def _ledger_state(self):
        with self.registry.cursor() as cr:
            cr.execute(
                """
                SELECT p.points_balance,
                       (SELECT COALESCE(sum(points), 0) FROM housekeeping_points_entry
                         WHERE partner_id = p.id),
                       (SELECT count(*) FROM housekeeping_points_entry WHERE partner_id = p.id),
                       (SELECT count(*) - count(DISTINCT source_key)
                          FROM housekeeping_points_entry
                         WHERE partner_id = p.id AND source_key IS NOT NULL),
                       -- a lot never gives more than it holds
                       (SELECT count(*) FROM (
                            SELECT l.id FROM housekeeping_points_entry l
                              JOIN housekeeping_points_allocation a ON a.lot_entry_id = l.id
                             WHERE l.partner_id = p.id
                             GROUP BY l.id HAVING sum(a.points) > max(l.points)) o),
                       -- every debit is fully allocated (the balance never went negative)
                       (SELECT count(*) FROM (
                            SELECT d.id FROM housekeeping_points_entry d
                              LEFT JOIN housekeeping_points_allocation a
                                     ON a.debit_entry_id = d.id
                             WHERE d.partner_id = p.id AND d.points < 0
                             GROUP BY d.id HAVING COALESCE(sum(a.points), 0) != -min(d.points)) u)
                  FROM res_partner p WHERE p.id = %s
                """,
                [self.partner_id],
            )
            return cr.fetchone()

    def test_rounds_of_two_workers(self):
        outcomes = {"ok": 0, "refused": 0}
        for round_no in range(ROUNDS):
            self._prepare_round(round_no)
            first, second = PAIRS[round_no % len(PAIRS)]
            _balance, _total, count_before, *_rest = self._ledger_state()
            results = self._run_threads(
                self._op(first, round_no, "a"), self._op(second, round_no, "b")
            )
            written = sum(result[1] for result in results if result[0] == "ok")
            for status, _value in results:
                outcomes[status] += 1
            balance, total, count, duplicates, overdrawn, uncovered = self._ledger_state()
            label = f"round {round_no}: {first} || {second} -> {results}"
            self.assertEqual(balance, total, f"{label}: balance is the ledger")
            self.assertGreaterEqual(balance, 0, label)
            self.assertEqual(duplicates, 0, f"{label}: a cause posted twice")
            self.assertEqual(count, count_before + written, f"{label}: lost or extra entry")
            self.assertEqual((overdrawn, uncovered), (0, 0), f"{label}: lots and debits")
            if "expire" not in (first, second):
                self.assertTrue(any(r[0] == "ok" for r in results), label)
        # the same cause never credits twice, even at the same moment
        results = self._run_threads(self._op("earn", "same", "x"), self._op("earn", "same", "x"))
        self.assertEqual(sum(r[1] for r in results if r[0] == "ok"), 1, results)
        balance, total, *_rest, duplicates, _o, _u = self._ledger_state()
        self.assertEqual((balance, duplicates), (total, 0))
        self.assertEqual(outcomes["ok"] + outcomes["refused"], 2 * ROUNDS)


@tagged("post_install", "-at_install", "hk_real_cursors")
class TestConcurrentCrons(RealCursorCase):
    """Two cron workers at once, and a cron interrupted then rerun."""

    CUSTOMERS = 10

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = self._cursor_env(cr)
            partners = env["res.partner"].create(
                [{"name": f"Cron prospect {i}", "is_prospect": True} for i in range(self.CUSTOMERS)]
            )
            self.partner_ids = partners.ids
            param = env["ir.config_parameter"]
            self.batch_param = param.get_param("housekeeping_membership.lifecycle_batch_size")
            self.expire_param = param.get_param("housekeeping_membership.points_expire_batch_size")
            self.cron_id = env.ref("housekeeping_membership.ir_cron_lifecycle_evaluate").id
            self.expire_cron_id = env.ref("housekeeping_membership.ir_cron_points_expire").id
        self._reset_stages()
        self.addCleanup(self._cleanup)
        # Only this test's customers are evaluated (committed data of the database
        # stays out of reach); the engine is otherwise untouched.
        original = self._registry_partner()._hk_lifecycle_query
        partner_ids = self.partner_ids

        def scoped(model, today, **kw):
            kw["partner_ids"] = kw.get("partner_ids") or partner_ids
            return original(model, today, **kw)

        patcher = patch.object(
            self._registry_partner(), "_hk_lifecycle_query", scoped, create=False
        )
        patcher.start()
        self.addCleanup(patcher.stop)

    def _registry_partner(self):
        return self.registry["res.partner"]

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = self._cursor_env(cr)
            param = env["ir.config_parameter"]
            param.set_param("housekeeping_membership.lifecycle_batch_size", self.batch_param)
            param.set_param("housekeeping_membership.points_expire_batch_size", self.expire_param)
            cr.execute(
                "DELETE FROM ir_cron_progress WHERE cron_id IN %s",
                [(self.cron_id, self.expire_cron_id)],
            )
        self._delete_partners(self.partner_ids)

    def _reset_stages(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "UPDATE res_partner SET lifecycle_stage = NULL, lifecycle_stage_date = NULL "
                "WHERE id = ANY(%s)",
                [self.partner_ids],
            )
            cr.execute(
                "DELETE FROM housekeeping_stage_log WHERE partner_id = ANY(%s)", [self.partner_ids]
            )
            cr.execute(
                "DELETE FROM mail_message WHERE model = 'res.partner' AND res_id = ANY(%s)",
                [self.partner_ids],
            )

    def _logs_per_customer(self):
        with self.registry.cursor() as cr:
            cr.execute(
                """
                SELECT p.id, count(l.id), count(m.id)
                  FROM res_partner p
                  LEFT JOIN housekeeping_stage_log l ON l.partner_id = p.id
                  LEFT JOIN mail_message m ON m.model = 'res.partner' AND m.res_id = p.id
                                          AND m.body::text LIKE %s
                 WHERE p.id = ANY(%s) GROUP BY p.id
                """,
                ["%Lifecycle stage%", self.partner_ids],
            )
            return {pid: (logs, notes) for pid, logs, notes in cr.fetchall()}

    def _cron_env(self, env, cron_id):
        progress = env["ir.cron.progress"].create({"cron_id": cron_id, "remaining": 0, "done": 0})
        return env(context={"ir_cron_progress_id": progress.id, "cron_id": cron_id})

    def _evaluate(self, env):
        return env["res.partner"]._cron_evaluate_lifecycle()

    def test_two_lifecycle_workers_at_once(self):
        for round_no in range(5):
            self._reset_stages()
            # both workers read the customers, then both apply (the worst timing)
            both_read = threading.Barrier(2, timeout=JOIN_TIMEOUT)
            original = self._registry_partner()._hk_lifecycle_apply

            def apply(model, rows, today, trigger, reason=None, _original=original, _b=both_read):
                if trigger == "cron":
                    _b.wait()
                return _original(model, rows, today, trigger, reason=reason)

            with patch.object(self._registry_partner(), "_hk_lifecycle_apply", apply):
                results = self._run_threads(self._evaluate, self._evaluate)
            applied = [r[1] for r in results if r[0] == "ok"]
            self.assertEqual(sum(applied), self.CUSTOMERS, f"round {round_no}: {results}")
            self.assertEqual(
                set(self._logs_per_customer().values()),
                {(1, 1)},
                f"round {round_no}: one log and one note per customer ({results})",
            )
        # and a third run finds nothing left to do
        with self.registry.cursor() as cr:
            self.assertEqual(self._evaluate(self._cursor_env(cr)), 0)

    def test_lifecycle_cron_interrupted_then_rerun(self):
        with self.registry.cursor() as cr:
            env = self._cursor_env(cr)
            env["ir.config_parameter"].set_param("housekeeping_membership.lifecycle_batch_size", 3)
        original = self._registry_partner()._hk_lifecycle_apply
        calls = []

        def crash_on_second_batch(model, rows, today, trigger, reason=None):
            calls.append(len(rows))
            if len(calls) == 2:
                raise RuntimeError("worker killed")
            return original(model, rows, today, trigger, reason=reason)

        with patch.object(self._registry_partner(), "_hk_lifecycle_apply", crash_on_second_batch):
            with self.assertRaises(RuntimeError), self.registry.cursor() as cr:
                self._evaluate(self._cron_env(self._cursor_env(cr), self.cron_id))
        counts = self._logs_per_customer()
        self.assertEqual(sorted(counts.values()).count((1, 1)), 3, "the first batch committed")
        self.assertEqual(sorted(counts.values()).count((0, 0)), self.CUSTOMERS - 3)
        with self.registry.cursor() as cr:
            done = self._evaluate(self._cron_env(self._cursor_env(cr), self.cron_id))
        self.assertEqual(done, self.CUSTOMERS - 3, "the rerun finishes the job")
        self.assertEqual(set(self._logs_per_customer().values()), {(1, 1)}, "nothing twice")
        with self.registry.cursor() as cr:
            self.assertEqual(self._evaluate(self._cron_env(self._cursor_env(cr), self.cron_id)), 0)
            cr.execute(
                "SELECT count(*) FROM res_partner WHERE id = ANY(%s) "
                "AND lifecycle_stage = 'potential'",
                [self.partner_ids],
            )
            self.assertEqual(cr.fetchone()[0], self.CUSTOMERS)

    def test_expiry_cron_interrupted_then_rerun(self):
        yesterday = fields.Date.today() - timedelta(days=1)
        with self.registry.cursor() as cr:
            env = self._cursor_env(cr)
            env["ir.config_parameter"].set_param(
                "housekeeping_membership.points_expire_batch_size", 4
            )
            Entry = env["housekeeping.points.entry"]
            for pid in self.partner_ids:
                Entry._post_credits(
                    [
                        {
                            "partner_id": pid,
                            "company_id": env.company.id,
                            "points": points,
                            "entry_type": "earn",
                            "reason_code": "goodwill",
                            "date": yesterday - timedelta(days=400),
                            "expiry_date": expiry,
                            "source_key": f"lot-{points}",
                        }
                        for points, expiry in ((10, yesterday), (20, yesterday), (5, None))
                    ]
                )
        Entry = self.registry["housekeeping.points.entry"]
        original = Entry._expire_lots_after
        calls = []

        def crash_on_third_batch(model, today, limit, after_id=0):
            calls.append(limit)
            if len(calls) == 3:
                raise RuntimeError("worker killed")
            return original(model, today, limit, after_id)

        with patch.object(Entry, "_expire_lots_after", crash_on_third_batch):
            with self.assertRaises(RuntimeError), self.registry.cursor() as cr:
                env = self._cron_env(self._cursor_env(cr), self.expire_cron_id)
                env["res.partner"]._cron_expire_points()
        self.assertEqual(self._expired(), 8, "two batches of 4 committed")
        with self.registry.cursor() as cr:
            env = self._cron_env(self._cursor_env(cr), self.expire_cron_id)
            self.assertEqual(env["res.partner"]._cron_expire_points(), 2 * self.CUSTOMERS - 8)
        with self.registry.cursor() as cr:
            env = self._cron_env(self._cursor_env(cr), self.expire_cron_id)
            self.assertEqual(env["res.partner"]._cron_expire_points(), 0, "idempotent")
            cr.execute(
                """
                SELECT p.id, p.points_balance, COALESCE(sum(e.points), 0)
                  FROM res_partner p LEFT JOIN housekeeping_points_entry e ON e.partner_id = p.id
                 WHERE p.id = ANY(%s) GROUP BY p.id
                """,
                [self.partner_ids],
            )
            for pid, balance, total in cr.fetchall():
                # the 5 points without expiry are left
                self.assertEqual((balance, total), (5, 5), pid)
        self.assertEqual(self._expired(), 2 * self.CUSTOMERS)

    def _expired(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*), count(DISTINCT source_key) FROM housekeeping_points_entry "
                "WHERE partner_id = ANY(%s) AND entry_type = 'expire'",
                [self.partner_ids],
            )
            count, distinct = cr.fetchone()
            self.assertEqual(count, distinct, "a lot expired twice")
            return count
