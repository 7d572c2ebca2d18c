#!/usr/bin/env python3
"""`make bench-replica`: the screens staff and customers use, served by Odoo with
worker processes from a PostgreSQL hot standby, while the engines write on the
primary.

Run by the harness (``tools/harness.sh bench-replica``), which makes the
database on the primary cluster (the bench generator and the visit statistics),
clones a hot standby with ``pg_basebackup -R`` (streaming replication on the
loopback socket) and gives its port here. This script then:

1. creates a manager and portal customers to log in with;
2. starts Odoo with ``--workers`` and ``--db_replica_host/port`` (read-only
   requests on the standby, Odoo 19's ``@api.readonly`` methods and
   ``readonly=True`` routes);
3. runs a bounded load of ``--clients`` clients for ``--seconds``: back-office
   JSON-RPC (dashboard, reports, customer and visit lists) and portal pages,
   while the lifecycle and tier engines run on the primary, again and again;
4. stops the standby half-way: Odoo falls back to the primary, and the users
   should see no error;
5. reports p50/p95 per entry point before and after the standby stopped, the
   share of transactions the standby served (from both servers'
   ``pg_stat_database``), the replication lag seen during the load, and the
   errors.
"""

import argparse
import contextlib
import json
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict

import psycopg2
import requests
from bench import LIST_SPEC, REPORT_QUERIES
from bench_http import free_port, wait_ready

import odoo
from odoo.modules.registry import Registry

PASSWORD = "bench-replica-pw"  # noqa: S105 (a throw-away benchmark database)
CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')
PORTAL_PAGES = (
    "/my/membership",
    "/my/points",
    "/my/visits",
    "/my/rewards",
    "/my/coupons",
    "/my/plans",
    "/my/referral",
    "/my/preferences",
)


def setup(database, customers):
    """A membership manager and ``customers`` portal users on bench customers with
    visits; returns the manager's login and the portal logins."""
    registry = Registry(database)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
        run = int(time.time())
        Users = env["res.users"].with_context(no_reset_password=True)
        manager = Users.create(
            {
                "name": f"Bench Manager {run}",
                "login": f"bench-manager-{run}",
                "password": PASSWORD,
                "group_ids": [
                    (
                        6,
                        0,
                        [
                            env.ref("base.group_user").id,
                            env.ref("housekeeping_membership.group_membership_manager").id,
                        ],
                    )
                ],
            }
        )
        cr.execute(
            """SELECT id FROM res_partner WHERE visit_count > 0 AND active
                ORDER BY visit_count DESC, id LIMIT %s""",
            [customers],
        )
        partner_ids = [row[0] for row in cr.fetchall()]
        portal = env.ref("base.group_portal")
        logins = []
        for i, partner_id in enumerate(partner_ids):
            user = Users.create(
                {
                    "name": f"Bench Customer Login {run}-{i}",
                    "login": f"bench-replica-{run}-{i}",
                    "password": PASSWORD,
                    "partner_id": partner_id,
                    "group_ids": [(6, 0, [portal.id])],
                }
            )
            logins.append(user.login)
        return manager.login, logins


def login(base, user):
    session = requests.Session()
    page = session.get(f"{base}/web/login", timeout=60).text
    session.post(
        f"{base}/web/login",
        data={"login": user, "password": PASSWORD, "csrf_token": CSRF.search(page)[1]},
        timeout=60,
    )
    return session


def rpc(session, base, model, method, args=(), kwargs=None):
    response = session.post(
        f"{base}/web/dataset/call_kw/{model}/{method}",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "model": model,
                "method": method,
                "args": list(args),
                "kwargs": kwargs or {},
            },
        },
        timeout=120,
    )
    body = response.json()
    if response.status_code != 200 or "error" in body:
        raise RuntimeError(json.dumps(body.get("error", {}))[:300])
    return body["result"]


# the back-office entry points: (name, model, method, args, kwargs): the dashboard,
# every report of `make bench` (as the pivot reads it), the customer and visit lists
BACK_OFFICE = (
    ("dashboard", "housekeeping.dashboard", "get_dashboard_data", [], {"period": "month"}),
    *(
        (
            label,
            model,
            "web_read_group",
            [],
            {"domain": domain, "groupby": groupby, "aggregates": aggregates},
        )
        for label, model, domain, groupby, aggregates in REPORT_QUERIES
    ),
    (
        "customer list",
        "res.partner",
        "web_search_read",
        [],
        {
            "domain": [["visit_count", ">", 0]],
            "specification": LIST_SPEC,
            "limit": 80,
            "order": "last_visit_date desc, id desc",
            "count_limit": 10001,
        },
    ),
    (
        "visit list",
        "housekeeping.visit",
        "web_search_read",
        [],
        {
            "domain": [],
            "specification": {
                "display_name": {},
                "partner_id": {"fields": {"display_name": {}}},
                "date": {},
                "state": {},
                "amount": {},
            },
            "limit": 80,
            "count_limit": 10001,
        },
    ),
)


def back_office_client(base, user, stop, results, think):
    session = login(base, user)
    i = 0
    while not stop.wait(think):
        name, model, method, args, kwargs = BACK_OFFICE[i % len(BACK_OFFICE)]
        i += 1
        t0 = time.perf_counter()
        try:
            rpc(session, base, model, method, args, kwargs)
            outcome = "ok"
        except Exception as exc:  # noqa: BLE001 (counted and shown)
            outcome = f"error: {exc}"[:200]
        results.append((name, time.perf_counter() - t0, outcome, time.monotonic()))


def portal_client(base, user, stop, results, think):
    session = login(base, user)
    i = 0
    while not stop.wait(think):
        url = PORTAL_PAGES[i % len(PORTAL_PAGES)]
        i += 1
        t0 = time.perf_counter()
        try:
            response = session.get(f"{base}{url}", timeout=120, allow_redirects=False)
            outcome = "ok" if response.status_code == 200 else f"http {response.status_code}"
        except Exception as exc:  # noqa: BLE001
            outcome = f"error: {exc}"[:200]
        results.append((f"portal {url}", time.perf_counter() - t0, outcome, time.monotonic()))


def cron_client(database, stop, results):
    """The lifecycle and tier engines on the primary, one after the other, until the
    load ends, each lifecycle run on a tenth of the customers made due (their
    writes are what the standby replays)."""
    registry = Registry(database)
    i = 0
    while not stop.is_set():
        name = ("lifecycle", "tiers")[i % 2]
        t0 = time.perf_counter()
        try:
            with registry.cursor() as cr:
                env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
                if name == "lifecycle":
                    cr.execute(
                        "UPDATE res_partner SET lifecycle_next_check = NULL WHERE id %% 10 = %s",
                        [i // 2 % 10],
                    )
                    env["housekeeping.engine.lifecycle"]._cron()
                else:
                    env["housekeeping.engine.tier"]._cron()
            outcome = "ok"
        except Exception as exc:  # noqa: BLE001
            outcome = f"error: {exc}"[:200]
        i += 1
        results.append((f"engine: {name}", time.perf_counter() - t0, outcome, time.monotonic()))


def db_stats(dsn, database):
    """Transactions and tuples returned of ``database`` on one server."""
    with contextlib.closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cr:
        cr.execute(
            """SELECT xact_commit + xact_rollback, tup_returned + tup_fetched
                 FROM pg_stat_database WHERE datname = %s""",
            [database],
        )
        return cr.fetchone()


def replication_lag(dsn):
    """Seconds the standby is behind the primary (0 when it has replayed all it
    received), or None when it is not streaming from the primary."""
    with contextlib.closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cr:
        cr.execute("SELECT status FROM pg_stat_wal_receiver")
        row = cr.fetchone()
        if not row or row[0] != "streaming":
            return None
        cr.execute(
            """SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                           ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
                      END"""
        )
        return float(cr.fetchone()[0] or 0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--replica-port", type=int, required=True)
    parser.add_argument("--replica-stop", required=True, help="command stopping the standby")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="seconds each client waits between two requests (a person reading the screen)",
    )
    args = parser.parse_args()
    config = odoo.tools.config
    config.parse_config(["-c", args.config, "-d", args.database, "--log-level=warn"])
    host, port = config["db_host"], int(config["db_port"])
    primary = f"host={host} port={port} dbname={args.database} user={config['db_user']}"
    standby = (
        f"host={host} port={args.replica_port} dbname={args.database} user={config['db_user']}"
    )
    manager, portal_logins = setup(args.database, max(args.clients // 2, 1))
    http_port = free_port()
    log = open(f"{config['data_dir']}/bench-replica-odoo.log", "w")  # noqa: SIM115
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "odoo",
            "-c",
            args.config,
            "-d",
            args.database,
            "--http-interface=127.0.0.1",
            f"--http-port={http_port}",
            f"--workers={args.workers}",
            "--max-cron-threads=0",
            f"--db_replica_host={host}",
            f"--db_replica_port={args.replica_port}",
            "--limit-time-real=600",
            "--limit-time-cpu=600",
            "--log-level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{http_port}"
    results = []
    lags = []
    try:
        wait_ready(base)
        stop = threading.Event()
        clients = [
            threading.Thread(
                target=back_office_client, args=(base, manager, stop, results, args.think)
            )
            for _i in range(args.clients - len(portal_logins))
        ] + [
            threading.Thread(target=portal_client, args=(base, user, stop, results, args.think))
            for user in portal_logins
        ]
        writer = threading.Thread(target=cron_client, args=(args.database, stop, results))
        before_primary = db_stats(primary, args.database)
        before_standby = db_stats(standby, args.database)
        t0 = time.monotonic()
        for thread in [*clients, writer]:
            thread.start()
        half = t0 + args.seconds / 2
        while time.monotonic() < half:
            with contextlib.suppress(psycopg2.Error):
                lags.append(replication_lag(standby))
            time.sleep(1)
        after_standby = db_stats(standby, args.database)
        mid_primary = db_stats(primary, args.database)
        stopped_at = time.monotonic()
        subprocess.run(args.replica_stop, shell=True, check=False)  # noqa: S602
        while time.monotonic() < t0 + args.seconds:
            time.sleep(1)
        stop.set()
        for thread in [*clients, writer]:
            thread.join(300)
    finally:
        server.terminate()
        server.wait(60)
        log.close()

    served_standby = after_standby[0] - before_standby[0]
    served_primary = mid_primary[0] - before_primary[0]
    share = served_standby / max(served_standby + served_primary, 1)

    def pct(values, p):
        values = sorted(values)
        return values[min(len(values) - 1, int(p * len(values)))] * 1000 if values else 0

    by_point = defaultdict(lambda: ([], [], 0, 0))
    errors = []
    for name, latency, outcome, at in results:
        before, after, err_before, err_after = by_point[name]
        if outcome != "ok":
            errors.append((name, outcome, at >= stopped_at))
        if at < stopped_at:
            before.append(latency)
            by_point[name] = (before, after, err_before + (outcome != "ok"), err_after)
        else:
            after.append(latency)
            by_point[name] = (before, after, err_before, err_after + (outcome != "ok"))

    print(
        f"\nReplica: {args.clients} clients ({len(portal_logins)} portal, "
        f"{args.clients - len(portal_logins)} back office) for {args.seconds} s, Odoo with "
        f"{args.workers} workers and a hot standby (streaming replication on loopback), each "
        f"client waiting {args.think:g} s between two requests; the "
        "lifecycle and tier scheduled actions run on the primary all along; the standby is "
        f"stopped after {args.seconds // 2} s.\n"
    )
    print(
        "| entry point | requests (standby up) | p50 (ms) | p95 (ms) | errors "
        "| requests (standby stopped) | p50 (ms) | p95 (ms) | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in sorted(by_point):
        before, after, err_before, err_after = by_point[name]
        print(
            f"| {name} | {len(before)} | {pct(before, 0.5):.0f} | {pct(before, 0.95):.0f} "
            f"| {err_before} | {len(after)} | {pct(after, 0.5):.0f} | {pct(after, 0.95):.0f} "
            f"| {err_after} |"
        )
    streaming = [lag for lag in lags if lag is not None]
    print(
        f"\nTransactions while the standby was up: {served_standby:,} on the standby, "
        f"{served_primary:,} on the primary: the standby served {share:.0%}. "
        f"Replication lag sampled each second: median {statistics.median(streaming or [0]):.2f} s, "
        f"max {max(streaming or [0]):.2f} s; not streaming in {len(lags) - len(streaming)} of "
        f"{len(lags)} samples. Errors: {len(errors)}."
    )
    if len(streaming) < len(lags):
        errors.append(("replication", "the standby was not streaming from the primary", False))
    for name, outcome, after_stop in errors[:10]:
        print(f"ERROR ({'standby stopped' if after_stop else 'standby up'}) {name}: {outcome}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
