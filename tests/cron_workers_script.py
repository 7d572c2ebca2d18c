"""Helper processes of ``tests/test_cron_workers.py`` (not a test module).

Run as ``python3 cron_workers_script.py MODE --config CONF --database DB``, each
mode in a process of its own on the copy of the test database the test made:

- ``prepare``: the data set (customers, visits, expired points lots in bulk SQL,
  one customer of a second company with a visit to complete), their visit
  statistics, small engine batches, and only the five scheduled actions of the
  test active (not due yet). Prints a JSON line.
- ``visit``: loads the registry, prints ``READY``, waits until the engines have
  committed a batch (a position moved), then completes the visit as an HTTP
  request would (``odoo.service.model.retrying``: a serialization failure is
  rolled back and the request run again). Prints a JSON line.
- ``reference``: the five engines one after the other in this one process, each
  a whole pass committed (the figures the two cron workers must reach).

The cron workers themselves are real Odoo servers (``python -m odoo``), started
by the test.
"""

import argparse
import json
import sys
import time

import odoo
from odoo.modules.registry import Registry
from odoo.service.model import retrying
from odoo.tools import SQL

# the five scheduled actions that write customers (ir_cron_data.xml, points_data.xml)
CRONS = (
    "housekeeping_membership.ir_cron_lifecycle_evaluate",
    "housekeeping_membership.ir_cron_tier_evaluate",
    "housekeeping_membership.ir_cron_points_expire",
    "housekeeping_membership.ir_cron_rfm",
    "housekeeping_membership.ir_cron_prediction",
)
ENGINES = (
    "housekeeping.engine.lifecycle",
    "housekeeping.engine.tier",
    "housekeeping.engine.points.expiry",
    "housekeeping.engine.rfm",
    "housekeeping.engine.prediction",
)
PREFIX = "CronW Customer "


def emit(line):
    """A line for the test (it reads this process's output)."""
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


def environment(cr):
    return odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})


def prepare(registry, customers, batch):
    with registry.cursor() as cr:
        env = environment(cr)
        company = env.ref("base.main_company")
        other = env["res.company"].create({"name": "CronW Other Company"})
        other.hk_points_when_paid = False
        cleaner = env["hr.employee"].create({"name": "CronW Cleaner", "company_id": company.id})
        other_cleaner = env["hr.employee"].create(
            {"name": "CronW Other Cleaner", "company_id": other.id}
        )
        types = env["housekeeping.service.type"].search([], order="sequence, id").ids
        cr.execute(
            SQL(
                """
            INSERT INTO res_partner (name, complete_name, type, active, is_company, lang, tz,
                                     company_id, create_date, write_date, create_uid,
                                     write_uid, autopost_bills)
            SELECT %(prefix)s || g, %(prefix)s || g, 'contact', true, false, 'en_US',
                   'Asia/Shanghai', %(company)s, now(), now(), 1, 1, 'ask'
              FROM generate_series(1, %(n)s) g
            RETURNING id""",
                prefix=PREFIX,
                company=company.id,
                n=customers,
            )
        )
        ids = sorted(row[0] for row in cr.fetchall())
        # visits of three cadences (weekly, monthly, one-off), over the last two
        # years, by id: stages, tiers, RFM scores and predictions of every kind
        cr.execute(
            SQL(
                """
            INSERT INTO housekeeping_visit (name, partner_id, service_type_id, date, duration,
                                            employee_id, company_id, amount, payment_method,
                                            state, done_date, create_date, write_date,
                                            create_uid, write_uid)
            SELECT 'CW' || p.id || '-' || s, p.id,
                   (%(types)s::int4[])[1 + (p.id + s) %% array_length(%(types)s::int4[], 1)],
                   d.date, 2.0, %(cleaner)s, %(company)s,
                   (60 + (p.id * 13 + s * 7) %% 400)::numeric, 'cash', 'done', d.date,
                   now(), now(), 1, 1
              FROM unnest(%(ids)s::int4[]) p(id)
             CROSS JOIN LATERAL generate_series(1, CASE WHEN p.id %% 5 = 0 THEN 14
                                                      WHEN p.id %% 5 < 3 THEN 6
                                                      ELSE 1 END) s
             CROSS JOIN LATERAL (SELECT now() - make_interval(
                   days => CASE WHEN p.id %% 5 = 0 THEN 7 * s
                                WHEN p.id %% 5 < 3 THEN 30 * s + p.id %% 200
                                ELSE 1 + p.id %% 700 END) AS date) d""",
                types=types,
                cleaner=cleaner.id,
                company=company.id,
                ids=ids,
            )
        )
        # one expired lot of 100 points each, 30 of them spent: 70 to expire
        cr.execute(
            SQL(
                """
            WITH lot AS (
                INSERT INTO housekeeping_points_entry
                       (partner_id, company_id, points, entry_type, reason_code, date,
                        expiry_date, source_key)
                SELECT id, %(company)s, 100, 'earn', 'other', DATE '2024-01-01',
                       DATE '2025-01-01', 'cronw-lot'
                  FROM unnest(%(ids)s::int4[]) id
                RETURNING id, partner_id
            ), debit AS (
                INSERT INTO housekeeping_points_entry
                       (partner_id, company_id, points, entry_type, reason_code, date,
                        source_key)
                SELECT id, %(company)s, -30, 'redeem', 'reward', DATE '2024-06-01',
                       'cronw-redeem'
                  FROM unnest(%(ids)s::int4[]) id
                RETURNING id, partner_id
            )
            INSERT INTO housekeeping_points_allocation
                   (debit_entry_id, lot_entry_id, points, partner_id)
            SELECT d.id, l.id, 30, d.partner_id
              FROM debit d JOIN lot l ON l.partner_id = d.partner_id""",
                company=company.id,
                ids=ids,
            )
        )
        cr.execute(SQL("UPDATE res_partner SET points_balance = 70 WHERE id = ANY(%s)", ids))
        # the customer of the visit completed while the crons run: another company
        # (its own RFM scores and prediction fit), a regular
        customer = env["res.partner"].create(
            {"name": "CronW Visit Customer", "company_id": other.id, "tz": "Asia/Shanghai"}
        )
        history = (
            env["housekeeping.visit"]
            .with_company(other)
            .create(
                [
                    {
                        "partner_id": customer.id,
                        "service_type_id": types[0],
                        "date": f"2026-{month:02d}-10 02:00:00",
                        "amount": 200,
                        "employee_id": other_cleaner.id,
                        "company_id": other.id,
                    }
                    for month in (6, 7, 8, 9)
                ]
            )
        )
        history.action_done()
        visit = (
            env["housekeeping.visit"]
            .with_company(other)
            .create(
                {
                    "partner_id": customer.id,
                    "service_type_id": types[0],
                    "date": odoo.fields.Datetime.subtract(odoo.fields.Datetime.now(), hours=1),
                    "amount": 300,
                    "employee_id": other_cleaner.id,
                    "company_id": other.id,
                }
            )
        )
        # every customer's statistics (visit count, dates, interval), as the
        # visit pipeline keeps them
        env["housekeeping.engine.statistics"]._run()
        for param in ("lifecycle_batch_size", "tier_batch_size", "points_expire_batch_size"):
            env["ir.config_parameter"].set_param(f"housekeeping_membership.{param}", batch)
        crons = env["ir.cron"].browse([env.ref(xmlid).id for xmlid in CRONS])
        # only the five crons of the test run in this database, not due yet
        cr.execute(SQL("UPDATE ir_cron SET active = (id = ANY(%s))", crons.ids))
        cr.execute(
            SQL(
                """UPDATE ir_cron SET nextcall = now() at time zone 'UTC' + interval '1 year',
                                      lastcall = NULL, failure_count = 0
                    WHERE id = ANY(%s)""",
                crons.ids,
            )
        )
        cr.execute("DELETE FROM ir_cron_trigger")
        # no position left by an earlier test's committed run: the visit process
        # waits for a batch of *these* runs (a finished pass with rows changed
        # would send it on at once, before the workers are even listening)
        cr.execute("DELETE FROM housekeeping_engine_position")
        cr.execute("ANALYZE res_partner")
        cr.execute("ANALYZE housekeeping_visit")
        cr.execute("ANALYZE housekeeping_points_entry")
        result = {
            "customers": ids,
            "visit": visit.id,
            "visit_customer": customer.id,
            "visit_count": customer.visit_count,
            "crons": crons.ids,
        }
    emit(json.dumps(result))


def complete_visit(registry, visit_id, timeout):
    with registry.cursor() as cr:
        env = environment(cr)
        env["housekeeping.visit"].browse(visit_id).state  # noqa: B018 (warm the registry)
        cr.rollback()
    emit("READY")
    # once the engines have committed a batch: in the middle of their runs
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM housekeeping_engine_position WHERE after_id > 0"
                " OR (finished AND done_count > 0)"
            )
            if cr.fetchone()[0]:
                break
        time.sleep(0.05)
    tries = []
    started = time.time()
    with registry.cursor() as cr:
        env = environment(cr)

        def done():
            tries.append(time.time())
            env["housekeeping.visit"].browse(visit_id).action_done()

        # (committed as the cursor closes)
        retrying(done, env)
    emit(json.dumps({"tries": len(tries), "started": started, "committed": time.time()}))


def reference(registry):
    timings = {}
    for name in ENGINES:
        with registry.cursor() as cr:
            env = environment(cr)
            start = time.monotonic()
            env[name]._cron()
            env.flush_all()
            timings[name] = round(time.monotonic() - start, 2)
    emit(json.dumps(timings))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["prepare", "visit", "reference"])
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=300)
    parser.add_argument("--visit", type=int)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    odoo.tools.config.parse_config(
        ["-c", args.config, "-d", args.database, "--log-level=warn", "--no-http"]
    )
    registry = Registry(args.database)
    if args.mode == "prepare":
        prepare(registry, args.customers, args.batch)
    elif args.mode == "visit":
        complete_visit(registry, args.visit, args.timeout)
    else:
        reference(registry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
