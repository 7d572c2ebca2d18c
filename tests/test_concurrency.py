"""Concurrency and fault tolerance on real database cursors.

Like ``test_points.TestConcurrentRedemption``: the setup data is committed, each
worker runs in a thread on its own cursor (as two HTTP requests or two cron
workers would), and ``addCleanup`` deletes what was committed. Odoo's cursors
run in REPEATABLE READ: when two transactions collide, one of them may fail with a
serialization error; that side is counted as "refused" and must have written
nothing (Odoo retries such requests).
"""

import contextlib
import threading
from datetime import timedelta
from unittest.mock import patch

import psycopg2
from freezegun import freeze_time

import odoo
from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import BaseCase, tagged
from odoo.tools import SQL

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
            # the done visits per day counted the visits deleted above
            self._cursor_env(cr)["housekeeping.visit.fact"]._hk_rebuild()


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
            partner.env["housekeeping.engine.points"]._grant_points(
                partner, 2000, "goodwill", origin="concurrency-ledger"
            )
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
            entries = env["housekeeping.engine.points"]._grant_points(
                env["res.partner"].browse(self.partner_id),
                7,
                "goodwill",
                origin=f"round-{round_no}-{side}",
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
class TestRewardStock(RealCursorCase):
    """The last unit of a reward, redeemed at the same moment by two customers
    (whose balances do not collide): it is given once."""

    ROUNDS = 5

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = self._cursor_env(cr)
            partners = env["res.partner"].create(
                [{"name": "Stock customer A"}, {"name": "Stock customer B"}]
            )
            partners.env["housekeeping.engine.points"]._grant_points(
                partners, 1000, "goodwill", origin="concurrency-stock"
            )
            self.partner_ids = partners.ids
            self.reward_ids = (
                env["housekeeping.reward"]
                .create(
                    [
                        {
                            "name": f"Last unit {n}",
                            "points_cost": 10,
                            "reward_type": "gift",
                            "stock_limit": 1,
                        }
                        for n in range(self.ROUNDS)
                    ]
                )
                .ids
            )
        self.addCleanup(
            self._delete_partners,
            self.partner_ids,
            extra=(
                "DELETE FROM housekeeping_points_allocation WHERE partner_id = ANY(%(ids)s)",
                "DELETE FROM housekeeping_points_entry WHERE partner_id = ANY(%(ids)s)",
                "DELETE FROM housekeeping_reward WHERE id = ANY(%(rewards)s)",
            ),
            rewards=self.reward_ids,
        )

    def test_last_unit_given_once(self):
        def redeem(reward_id, partner_id):
            def run(env):
                env["housekeeping.reward"].browse(reward_id).redeem(
                    env["res.partner"].browse(partner_id)
                )
                return 1

            return run

        for reward_id in self.reward_ids:
            results = self._run_threads(
                *(redeem(reward_id, partner_id) for partner_id in self.partner_ids)
            )
            with self.registry.cursor() as cr:
                cr.execute(
                    "SELECT count(*) FROM housekeeping_points_entry WHERE reward_id = %s",
                    [reward_id],
                )
                given = cr.fetchone()[0]
            self.assertEqual(given, 1, f"the last unit of a reward: {results}")
            self.assertEqual([r[0] for r in results].count("ok"), 1, results)


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
            cr.execute("SELECT COALESCE(max(id), 0) FROM housekeeping_points_expiry_run")
            self.last_expiry_run = cr.fetchone()[0]
        self._reset_stages()
        self.addCleanup(self._cleanup)
        # Only this test's customers are evaluated (committed data of the database
        # stays out of reach); the engine is otherwise untouched.
        original = self._registry_engine()._lifecycle_query
        partner_ids = self.partner_ids

        def scoped(model, today, **kw):
            kw["partner_ids"] = kw.get("partner_ids") or partner_ids
            return original(model, today, **kw)

        patcher = patch.object(self._registry_engine(), "_lifecycle_query", scoped, create=False)
        patcher.start()
        self.addCleanup(patcher.stop)

    def _registry_engine(self):
        return self.registry["housekeeping.engine.lifecycle"]

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
            cr.execute(
                "DELETE FROM housekeeping_points_expiry_run WHERE id > %s", [self.last_expiry_run]
            )
        self._delete_partners(self.partner_ids)

    def _reset_stages(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "UPDATE res_partner SET lifecycle_stage = NULL, lifecycle_stage_date = NULL, "
                "lifecycle_next_check = NULL WHERE id = ANY(%s)",
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
            original = self._registry_engine()._lifecycle_apply

            def apply(model, rows, today, trigger, reason=None, _original=original, _b=both_read):
                if trigger == "cron":
                    _b.wait()
                return _original(model, rows, today, trigger, reason=reason)

            with patch.object(self._registry_engine(), "_lifecycle_apply", apply):
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
        original = self._registry_engine()._lifecycle_apply
        calls = []

        def crash_on_second_batch(model, rows, today, trigger, reason=None):
            calls.append(len(rows))
            if len(calls) == 2:
                raise RuntimeError("worker killed")
            return original(model, rows, today, trigger, reason=reason)

        with patch.object(self._registry_engine(), "_lifecycle_apply", crash_on_second_batch):
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

    def _expiring_lots(self):
        """Two lots expired yesterday and one without expiry per customer, written
        before their expiry date (a lot already expired expires as it is written);
        batches of 4 lots. Returns yesterday."""
        yesterday = fields.Date.today() - timedelta(days=1)
        with self.registry.cursor() as cr:
            env = self._cursor_env(cr)
            env["ir.config_parameter"].set_param(
                "housekeeping_membership.points_expire_batch_size", 4
            )
            Entry = env["housekeeping.points.entry"]
            with freeze_time(yesterday - timedelta(days=1)):
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
                        for pid in self.partner_ids
                        for points, expiry in ((10, yesterday), (20, yesterday), (5, None))
                    ]
                )
        return yesterday

    def _expiry_runs(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT lots_expired FROM housekeeping_points_expiry_run WHERE id > %s ORDER BY id",
                [self.last_expiry_run],
            )
            return [row[0] for row in cr.fetchall()]

    def test_expiry_cron_out_of_time_records_nothing(self):
        """The scheduler's time limit stops a run between two batches: the pass is
        not recorded yet; the next call continues it after the last lot committed
        (the engine's position) and records the whole pass."""
        self._expiring_lots()
        with self.registry.cursor() as cr:
            env = self._cron_env(self._cursor_env(cr), self.expire_cron_id)
            env = env(context=dict(env.context, cron_end_time=0))
            self.assertEqual(env["res.partner"]._cron_expire_points(), 4, "one batch")
        self.assertEqual(self._expiry_runs(), [])
        with self.registry.cursor() as cr:
            env = self._cron_env(self._cursor_env(cr), self.expire_cron_id)
            self.assertEqual(env["res.partner"]._cron_expire_points(), 2 * self.CUSTOMERS - 4)
        self.assertEqual(self._expiry_runs(), [2 * self.CUSTOMERS])
        self.assertEqual(self._expired(), 2 * self.CUSTOMERS)

    def test_expiry_cron_interrupted_then_rerun(self):
        self._expiring_lots()
        Entry = self.registry["housekeeping.points.entry"]
        original = Entry._expire_lots_after
        calls = []

        def crash_on_third_batch(model, today, limit, after_id=0, since=None):
            calls.append(limit)
            if len(calls) == 3:
                raise RuntimeError("worker killed")
            return original(model, today, limit, after_id, since)

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
        # the interrupted call recorded nothing; each completed pass did, with every
        # lot it expired (the interrupted call's committed batches included)
        self.assertEqual(self._expiry_runs(), [2 * self.CUSTOMERS, 0])
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


class ScopedCronCase(RealCursorCase):
    """Real-cursor tests whose scheduled engines only see this test's customers
    (``self.scope``): the committed data of the database stays out of reach."""

    def setUp(self):
        super().setUp()
        self.scope = []
        for model_name, name in (
            ("housekeeping.engine.lifecycle", "_lifecycle_query"),
            ("housekeeping.engine.tier", "_tier_query"),
        ):
            model_class = self.registry[model_name]
            original = getattr(model_class, name)

            def scoped(model, today, *args, _original=original, **kw):
                if kw.get("partner_ids") is None:
                    kw["partner_ids"] = list(self.scope)
                return _original(model, today, *args, **kw)

            patcher = patch.object(model_class, name, scoped)
            patcher.start()
            self.addCleanup(patcher.stop)
        # the crons' candidates (customers due, members) too
        for model_name, name in (
            ("housekeeping.engine.lifecycle", "_lifecycle_customers"),
            ("housekeeping.engine.tier", "_tier_members"),
        ):
            model_class = self.registry[model_name]
            original = getattr(model_class, name)

            def scoped_condition(model, *args, _original=original, **kw):
                return SQL(
                    "(%s AND p.id = ANY(%s))", _original(model, *args, **kw), list(self.scope)
                )

            patcher = patch.object(model_class, name, scoped_condition)
            patcher.start()
            self.addCleanup(patcher.stop)

    def _delete_customers(self, partner_ids, extra=()):
        self._delete_partners(
            partner_ids,
            extra=(
                *extra,
                "DELETE FROM mail_mail m USING mail_message mm WHERE m.mail_message_id = mm.id "
                "AND mm.model = 'res.partner' AND mm.res_id = ANY(%(ids)s)",
                "DELETE FROM housekeeping_journey_send WHERE partner_id = ANY(%(ids)s)",
                "DELETE FROM housekeeping_tier_log WHERE partner_id = ANY(%(ids)s)",
                "DELETE FROM loyalty_card WHERE partner_id = ANY(%(ids)s)",
                "DELETE FROM rating_rating WHERE res_model = 'housekeeping.visit' AND res_id IN "
                "(SELECT id FROM housekeeping_visit WHERE partner_id = ANY(%(ids)s))",
                "DELETE FROM mail_message WHERE model = 'housekeeping.visit' AND res_id IN "
                "(SELECT id FROM housekeeping_visit WHERE partner_id = ANY(%(ids)s))",
                "DELETE FROM housekeeping_points_allocation a USING housekeeping_points_entry e "
                "WHERE e.partner_id = ANY(%(ids)s) AND (a.lot_entry_id = e.id "
                "OR a.debit_entry_id = e.id)",
                "DELETE FROM housekeeping_points_entry WHERE partner_id = ANY(%(ids)s)",
                "DELETE FROM housekeeping_visit WHERE partner_id = ANY(%(ids)s)",
            ),
        )

    def _run_workers(self, workers, retries=3):
        """Run ``workers`` ({name: target(env)}) in threads at the same moment,
        then retry, one at a time, the ones refused by a serialization failure
        (Odoo retries such a request, and the scheduler runs a failed job again).
        ``self.committed`` holds an Event per worker, set once it committed.
        Returns {name: number of tries}."""
        results = {}
        barrier = threading.Barrier(len(workers), timeout=JOIN_TIMEOUT)

        def run(name, target, first):
            try:
                with self.registry.cursor() as cr:
                    env = self._cursor_env(cr)
                    if first:
                        barrier.wait()
                    target(env)
                results[name] = "ok"
                self.committed[name].set()
            except psycopg2.errors.SerializationFailure:
                results[name] = "refused"
            except Exception as error:  # noqa: BLE001 (reported by the assertion below)
                results[name] = repr(error)
            finally:
                self.attempted[name].set()

        tries = dict.fromkeys(workers, 1)
        threads = [
            threading.Thread(target=run, args=(name, target, True), daemon=True)
            for name, target in workers.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(JOIN_TIMEOUT)
            self.assertFalse(thread.is_alive(), "a worker is stuck (deadlock?)")
        for name, target in workers.items():
            while results[name] == "refused" and tries[name] <= retries:
                tries[name] += 1
                run(name, target, False)
            self.assertEqual(results[name], "ok", f"{name}: {results}")
        return tries


@tagged("post_install", "-at_install", "hk_real_cursors")
class TestVisitDuringCrons(ScopedCronCase):
    """A visit completed while the lifecycle and tier crons run: the customer ends
    with the stage, tier, grace period and points of a sequential run (visit
    then crons, or crons then visit, in the order the transactions committed)."""

    def setUp(self):
        super().setUp()
        self.partner_ids, self.visit_of = [], {}
        with self.registry.cursor() as cr:
            env = self._cursor_env(cr, {"tracking_disable": True})
            self.tiers = {
                key: env.ref(f"housekeeping_membership.tier_{key}").id for key in ("silver", "gold")
            }
            service = env.ref("housekeeping_membership.service_type_hourly")
            now = fields.Datetime.now()
            for index in range(9):
                partner = env["res.partner"].create({"name": f"Visit during crons {index}"})
                # a regular customer (every 20 days) silent for 100 days: the
                # lifecycle cron finds them at risk
                env["housekeeping.visit"].create(
                    [
                        {
                            "partner_id": partner.id,
                            "service_type_id": service.id,
                            "date": now - timedelta(days=100 + 20 * k),
                            "amount": 200,
                            "state": "done",
                        }
                        for k in range(12)
                    ]
                )
                self.visit_of[partner.id] = (
                    env["housekeeping.visit"]
                    .create(
                        {
                            "partner_id": partner.id,
                            "service_type_id": service.id,
                            "date": now - timedelta(hours=1),
                            "amount": 300,
                        }
                    )
                    .id
                )
                self.partner_ids.append(partner.id)
            env.flush_all()
            # yesterday's state: a loyal Gold member who only qualifies for Silver
            # now (the tier cron opens a grace period)
            cr.execute(
                "UPDATE res_partner SET lifecycle_stage = 'loyal', membership_tier_id = %s, "
                "tier_grace_until = NULL WHERE id = ANY(%s)",
                [self.tiers["gold"], self.partner_ids],
            )
        self.addCleanup(self._delete_customers, self.partner_ids)

    def _state(self, partner_id):
        with self.registry.cursor() as cr:
            cr.execute(
                """
                SELECT p.lifecycle_stage, p.membership_tier_id, p.tier_grace_until,
                       p.points_balance, p.visit_count,
                       (SELECT COALESCE(sum(points), 0) FROM housekeeping_points_entry e
                         WHERE e.partner_id = p.id),
                       (SELECT count(*) FROM housekeeping_points_entry e
                         WHERE e.partner_id = p.id)
                  FROM res_partner p WHERE p.id = %s
                """,
                [partner_id],
            )
            state = cr.fetchone()
        self.assertEqual(state[3], state[5], "the balance is the ledger")
        return state

    def _workers(self, partner_id):
        visit_id = self.visit_of[partner_id]
        return {
            "visit": lambda env: env["housekeeping.visit"].browse(visit_id).action_done(),
            "lifecycle": lambda env: env["res.partner"]._cron_evaluate_lifecycle(),
            "tiers": lambda env: env["res.partner"]._cron_evaluate_tiers(),
        }

    def _sequential(self, partner_id, order):
        self.scope[:] = [partner_id]
        workers = self._workers(partner_id)
        for name in order:
            with self.registry.cursor() as cr:
                workers[name](self._cursor_env(cr))
        return self._state(partner_id)

    def _concurrent(self, partner_id, hold):
        """The three workers at once; ``hold`` makes the worst timing: the crons
        scan, then wait for the visit to commit before applying (``crons``), or
        the visit reads, then waits for the crons to commit before writing
        (``visit``)."""
        self.scope[:] = [partner_id]
        self.committed = {name: threading.Event() for name in ("visit", "lifecycle", "tiers")}
        self.attempted = {name: threading.Event() for name in ("visit", "lifecycle", "tiers")}
        visit_class = self.registry["housekeeping.visit"]
        patches = []
        if hold == "crons":
            for model_name, name in (
                ("housekeeping.engine.lifecycle", "_lifecycle_apply"),
                ("housekeeping.engine.tier", "_tier_apply"),
            ):
                model_class = self.registry[model_name]
                original = getattr(model_class, name)

                def apply(model, rows, today, trigger, reason=None, _original=original):
                    if trigger == "cron":
                        self.attempted["visit"].wait(JOIN_TIMEOUT / 3)
                    return _original(model, rows, today, trigger, reason=reason)

                patches.append(patch.object(model_class, name, apply))
        elif hold == "visit":
            original_done = visit_class.action_done

            def action_done(visits, _original=original_done):
                visits.partner_id.mapped("points_balance")  # the snapshot is taken
                for name in ("lifecycle", "tiers"):
                    self.attempted[name].wait(JOIN_TIMEOUT / 3)
                return _original(visits)

            patches.append(patch.object(visit_class, "action_done", action_done))
        for patcher in patches:
            patcher.start()
        try:
            tries = self._run_workers(self._workers(partner_id))
        finally:
            for patcher in patches:
                patcher.stop()
        return self._state(partner_id), tries

    def test_visit_while_crons_run(self):
        ids = self.partner_ids
        visit_first = self._sequential(ids[0], ("visit", "lifecycle", "tiers"))
        crons_first = self._sequential(ids[1], ("lifecycle", "tiers", "visit"))
        # the sequential runs: a loyal customer again, Gold kept in grace, the
        # visit's points at the Gold multiplier
        for state in (visit_first, crons_first):
            self.assertEqual(state[0], "loyal")
            self.assertEqual(state[1], self.tiers["gold"])
            self.assertTrue(state[2], "grace period")
            self.assertEqual(state[4], 13)
        self.assertEqual(visit_first, crons_first)
        expected = visit_first
        outcomes = []
        for partner_id, hold in zip(
            ids[2:], ("crons", "visit", None, "crons", "visit", None, None), strict=True
        ):
            state, tries = self._concurrent(partner_id, hold)
            outcomes.append((hold, tries))
            self.assertEqual(state, expected, f"{hold}: {tries}")
        # the worst timings did collide (one side was refused, then retried)
        self.assertTrue(any(max(tries.values()) > 1 for _hold, tries in outcomes), outcomes)


@tagged("post_install", "-at_install", "hk_real_cursors")
class TestTierAndBirthdayWorkers(ScopedCronCase):
    """Two workers running the tier cron, or the birthday cron, at the same time
    (e.g. the scheduler and a manager's "Run now"), both reading before either
    writes: nothing is applied twice."""

    CUSTOMERS = 6

    def setUp(self):
        super().setUp()
        today = fields.Date.today()
        with self.registry.cursor() as cr:
            env = self._cursor_env(cr, {"tracking_disable": True})
            service = env.ref("housekeeping_membership.service_type_hourly")
            self.standard = env.ref("housekeeping_membership.tier_standard")
            self.silver = env.ref("housekeeping_membership.tier_silver")
            program = (
                env["loyalty.program"]
                .with_context(default_program_type="coupons")
                .create({"name": "Concurrent birthday coupon"})
            )
            self.program_id = program.id
            self.saved_birthday_program = self.standard.birthday_program_id.id
            self.standard.birthday_program_id = program
            partners = env["res.partner"].create(
                [
                    {
                        "name": f"Tier and birthday {i}",
                        "email": f"tier.birthday{i}@example.com",
                        "consent_email": True,
                        "birthday": today.replace(year=1990)
                        if (today.month, today.day) != (2, 29)
                        else today.replace(year=1992),
                    }
                    for i in range(self.CUSTOMERS)
                ]
            )
            self.partner_ids = partners.ids
            now = fields.Datetime.now()
            env["housekeeping.visit"].create(
                [
                    {
                        "partner_id": partner.id,
                        "service_type_id": service.id,
                        "date": now - timedelta(days=10 + k),
                        "amount": 250,
                    }
                    for partner in partners
                    for k in range(10)
                ]
            )
            env.flush_all()
            # done in SQL: the history without the visit hooks (no tier yet)
            cr.execute(
                "UPDATE housekeeping_visit SET state = 'done' WHERE partner_id = ANY(%s)",
                [self.partner_ids],
            )
            partners._hk_refresh_visit_stats()
            env.flush_all()
            # Standard members whose spend (2500) now qualifies for Silver: the
            # tier cron upgrades them (log, note, gift points, e-mail)
            cr.execute(
                "UPDATE res_partner SET membership_tier_id = %s, tier_grace_until = NULL "
                "WHERE id = ANY(%s)",
                [self.standard.id, self.partner_ids],
            )
            cr.execute(
                "DELETE FROM mail_mail m USING mail_message mm WHERE m.mail_message_id = mm.id "
                "AND mm.model = 'res.partner' AND mm.res_id = ANY(%s)",
                [self.partner_ids],
            )
            # only this test's customers get a birthday greeting
            journeys = env["housekeeping.journey"].search([("trigger", "=", "birthday")])
            self.saved_audiences = {j.id: j.audience_domain for j in journeys}
            journeys.write({"audience_domain": str([("id", "in", self.partner_ids)])})
            self.birthday_journey_ids = journeys.ids
        self.scope[:] = self.partner_ids
        self.addCleanup(self._cleanup)
        # the birthday points: only this test's customers (the cron's query reads
        # the whole population)
        partner_class = self.registry["res.partner"]
        entry_class = self.registry["housekeeping.points.entry"]
        original_post = entry_class._post_credits
        partner_ids = set(self.partner_ids)

        def post_credits(model, vals_list, _original=original_post):
            if any(v.get("reason_code") == "birthday" for v in vals_list):
                vals_list = [v for v in vals_list if v["partner_id"] in partner_ids]
            return _original(model, vals_list)

        patcher = patch.object(entry_class, "_post_credits", post_credits)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.partner_class = partner_class

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = self._cursor_env(cr)
            env["housekeeping.tier"].browse(
                self.standard.id
            ).birthday_program_id = self.saved_birthday_program
            for journey_id, domain in self.saved_audiences.items():
                env["housekeeping.journey"].browse(journey_id).audience_domain = domain
        self._delete_customers(self.partner_ids)
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM loyalty_card WHERE program_id = %s", [self.program_id])
            cr.execute("DELETE FROM loyalty_program WHERE id = %s", [self.program_id])

    def _both_read_then_apply(self, method_name, target):
        """Two workers of ``target``; both pass ``method_name`` (on res.partner or
        housekeeping.journey) before either goes on."""
        both_read = threading.Barrier(2, timeout=5)
        model_name, name = method_name
        model_class = self.registry[model_name]
        original = getattr(model_class, name)

        def wait_then(model, *args, _original=original, **kwargs):
            # the other worker may be blocked by this one's first writes: go on
            # after the timeout (the barrier is then broken)
            with contextlib.suppress(threading.BrokenBarrierError):
                both_read.wait()
            return _original(model, *args, **kwargs)

        self.committed = {name: threading.Event() for name in ("a", "b")}
        self.attempted = {name: threading.Event() for name in ("a", "b")}
        with patch.object(model_class, name, wait_then):
            return self._run_workers({"a": target, "b": target})

    def _count(self, query):
        with self.registry.cursor() as cr:
            cr.execute(query, {"ids": self.partner_ids, "program": self.program_id})
            return dict(cr.fetchall())

    def test_two_tier_workers(self):
        tries = self._both_read_then_apply(
            ("housekeeping.engine.tier", "_tier_apply"),
            lambda env: env["res.partner"]._cron_evaluate_tiers(),
        )
        self.assertEqual(sorted(tries.values()), [1, 2], "one worker refused, then rerun")
        ones = dict.fromkeys(self.partner_ids, 1)
        self.assertEqual(
            self._count(
                "SELECT partner_id, count(*) FROM housekeeping_tier_log "
                "WHERE partner_id = ANY(%(ids)s) GROUP BY partner_id"
            ),
            ones,
            f"one tier log per customer ({tries})",
        )
        self.assertEqual(
            self._count("SELECT id, membership_tier_id FROM res_partner WHERE id = ANY(%(ids)s)"),
            dict.fromkeys(self.partner_ids, self.silver.id),
        )
        self.assertEqual(
            self._count(
                "SELECT partner_id, count(*) FROM housekeeping_points_entry "
                "WHERE partner_id = ANY(%(ids)s) AND source_key LIKE 'grant:tier-upgrade:%%' "
                "GROUP BY partner_id"
            ),
            ones,
            "one gift pack",
        )
        self.assertEqual(
            self._count(
                "SELECT res_id, count(*) FROM mail_message WHERE model = 'res.partner' "
                "AND res_id = ANY(%(ids)s) AND body::text LIKE '%%Membership tier:%%' "
                "GROUP BY res_id"
            ),
            ones,
            "one chatter note",
        )
        self.assertEqual(
            self._count(
                "SELECT mm.res_id, count(*) FROM mail_mail m "
                "JOIN mail_message mm ON mm.id = m.mail_message_id "
                "WHERE mm.model = 'res.partner' AND mm.res_id = ANY(%(ids)s) GROUP BY mm.res_id"
            ),
            ones,
            "one upgrade e-mail",
        )
        with self.registry.cursor() as cr:
            self.assertEqual(self._cursor_env(cr)["res.partner"]._cron_evaluate_tiers(), 0)

    def test_two_birthday_workers(self):
        tries = self._both_read_then_apply(
            ("housekeeping.engine.journey", "_send"),
            lambda env: env["res.partner"]._cron_birthday(),
        )
        ones = dict.fromkeys(self.partner_ids, 1)
        year = fields.Date.today().year
        self.assertEqual(
            self._count(
                "SELECT partner_id, count(*) FROM housekeeping_points_entry "
                "WHERE partner_id = ANY(%(ids)s) AND reason_code = 'birthday' "
                "GROUP BY partner_id"
            ),
            ones,
            f"birthday points once ({tries})",
        )
        self.assertEqual(
            self._count(
                "SELECT partner_id, count(*) FROM housekeeping_journey_send "
                "WHERE partner_id = ANY(%(ids)s) GROUP BY partner_id"
            ),
            ones,
            "one greeting logged",
        )
        self.assertEqual(
            self._count(
                "SELECT partner_id, count(*) FROM loyalty_card "
                "WHERE program_id = %(program)s GROUP BY partner_id"
            ),
            ones,
            "one birthday coupon",
        )
        self.assertEqual(
            self._count(
                "SELECT mm.res_id, count(*) FROM mail_mail m "
                "JOIN mail_message mm ON mm.id = m.mail_message_id "
                "WHERE mm.model = 'res.partner' AND mm.res_id = ANY(%(ids)s) GROUP BY mm.res_id"
            ),
            ones,
            "one birthday e-mail",
        )
        self.assertEqual(
            set(
                self._count(
                    "SELECT partner_id, period_key FROM housekeeping_journey_send "
                    "WHERE partner_id = ANY(%(ids)s)"
                ).values()
            ),
            {f"birthday:{year}"},
        )
        with self.registry.cursor() as cr:
            env = self._cursor_env(cr)
            self.assertEqual(env["res.partner"]._cron_birthday(), 0, "a rerun does nothing")
