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
3. runs a bounded load of ``--clients`` clients for ``--seconds`` after
   ``--warmup`` seconds: back-office JSON-RPC (dashboard, reports, customer and
   visit lists) and portal pages, each client from a screen of its own and
   ``--think`` seconds between two requests, while the lifecycle and tier engines
   run on the primary again and again in a process of their own (``--writer``,
   as a cron worker; ``--due-share`` of the customers due at each lifecycle run);
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
import os
import random
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
from bench_http import free_port, odoo_command, wait_ready

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


def back_office_client(base, user, stop, results, think, first=0):
    """One member of staff going through the screens one after the other, from
    the ``first`` (the clients do not all open the same screen at once)."""
    session = login(base, user)
    i = first
    # (and do not all click in the same second)
    stop.wait(random.uniform(0, think))  # noqa: S311 (not a secret)
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


def portal_client(base, user, stop, results, think, first=0):
    """One customer going through the portal pages, from the ``first``."""
    session = login(base, user)
    i = first
    stop.wait(random.uniform(0, think))  # noqa: S311
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


def lower_priority(cr, niceness):
    """This process and the PostgreSQL backend of ``cr`` at ``niceness``: the
    engines' CPU after the users' (``--writer-nice``). A server process of
    another user needs the right to (root); without it, the backend keeps its
    priority and the report says so."""
    if not niceness:
        return True
    os.setpriority(os.PRIO_PROCESS, 0, niceness)
    cr.execute("SELECT pg_backend_pid()")
    try:
        os.setpriority(os.PRIO_PROCESS, cr.fetchone()[0], niceness)
    except PermissionError:
        return False
    return True


def cron_client(database, seconds, due_share, niceness=0):
    """The lifecycle and tier engines on the primary, one after the other, for
    ``seconds``, in a process of its own (``--writer``: a cron worker is one), each
    lifecycle run on ``due_share`` of the customers made due (their writes are
    what the standby replays). Prints a JSON line per run."""
    registry = Registry(database)
    modulo = max(round(1 / due_share), 1)
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        name = ("lifecycle", "tiers")[i % 2]
        t0 = time.perf_counter()
        try:
            with registry.cursor() as cr:
                niced = lower_priority(cr, niceness)
                env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
                if name == "lifecycle":
                    cr.execute(
                        "UPDATE res_partner SET lifecycle_next_check = NULL WHERE id %% %s = %s",
                        [modulo, i // 2 % modulo],
                    )
                    env["housekeeping.engine.lifecycle"]._cron()
                else:
                    env["housekeeping.engine.tier"]._cron()
            outcome = "ok"
        except Exception as exc:  # noqa: BLE001
            outcome = f"error: {exc}"[:200]
        i += 1
        if not niced:
            outcome = "ok (its PostgreSQL backend could not be niced)"
        line = [f"engine: {name}", time.perf_counter() - t0, outcome, time.monotonic()]
        print(json.dumps(line), flush=True)


def cpu_by_role(roles):
    """CPU seconds used so far per role: ``roles`` maps a role to the pids whose
    process trees are that role (children included: Odoo's workers, a
    PostgreSQL server's backends); the rest of the processes is ``other``
    (processes that ended are not counted: PostgreSQL's parallel workers), and
    ``machine busy`` is the whole machine's, from /proc/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, used = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        used[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    with open("/proc/stat") as stat:
        # the machine: user nice system idle iowait irq softirq steal (ticks)
        ticks = [int(v) for v in stat.readline().split()[1:9]]
    used["machine"] = (sum(ticks) - ticks[3] - ticks[4]) / tick
    owner = {pid: role for role, pids in roles.items() for pid in pids}
    totals = dict.fromkeys([*roles, "other"], 0.0)
    totals["machine busy"] = used.pop("machine")
    for pid, seconds in used.items():
        ancestor = pid
        while ancestor not in owner and ancestor in parent and ancestor > 1:
            ancestor = parent[ancestor]
        totals[owner.get(ancestor, "other")] += seconds
    return totals


def postmaster_pid(data_dir):
    """The pid of the PostgreSQL server of the data directory ``data_dir`` (the
    first line of its lock file, ``postmaster.pid``), or None when it is not
    running."""
    with contextlib.suppress(OSError, ValueError), open(f"{data_dir}/postmaster.pid") as lock:
        return int(lock.readline())
    return None


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
    """Seconds the standby is behind the primary (``dsn``): PostgreSQL's own
    replay lag (from the primary flushing WAL to the standby replaying it; 0
    once the standby has replayed everything and stays idle), or None when no
    standby streams from the primary. (The time since the last transaction
    replayed would count a long transaction of the engines as lag.)"""
    with contextlib.closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cr:
        cr.execute(
            """SELECT state, EXTRACT(EPOCH FROM replay_lag)
                 FROM pg_stat_replication WHERE application_name <> 'pg_basebackup'"""
        )
        row = cr.fetchone()
        if not row or row[0] != "streaming":
            return None
        return float(row[1] or 0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--writer", action="store_true", help="(internal) be the engines' process")
    parser.add_argument("--replica-port", type=int)
    parser.add_argument("--primary-data", help="the primary's data directory (its server's pid)")
    parser.add_argument("--replica-data", help="the standby's data directory (its server's pid)")
    parser.add_argument("--replica-stop", help="command stopping the standby")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="seconds each client waits between two requests (a person reading the screen)",
    )
    parser.add_argument(
        "--due-share",
        type=float,
        default=0.01,
        help="share of the customers the lifecycle engine finds due at each of its runs "
        "(0.01: about a day's evaluations; each run writes them on the primary)",
    )
    parser.add_argument(
        "--writer-nice",
        type=int,
        default=10,
        help="niceness of the engines' process and of its PostgreSQL backend (0: none). "
        "The deployment gives the cron node and the primary cores of their own "
        "(docs/scale-out.md); on one machine, their work comes after the users' instead",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=20,
        help="seconds of load before the measure (each worker loads the registry and "
        "fills its caches on its first requests)",
    )
    args = parser.parse_args()
    config = odoo.tools.config
    config.parse_config(["-c", args.config, "-d", args.database, "--log-level=warn"])
    if args.writer:
        cron_client(args.database, args.seconds, args.due_share, args.writer_nice)
        return 0
    if not args.replica_port or not args.replica_stop:
        parser.error("--replica-port and --replica-stop are required")
    host, port = config["db_host"], int(config["db_port"])
    primary = f"host={host} port={port} dbname={args.database} user={config['db_user']}"
    standby = (
        f"host={host} port={args.replica_port} dbname={args.database} user={config['db_user']}"
    )
    # (the lag is the cluster's: asked from another database, the probe's own
    # transactions do not count among the users')
    primary_cluster = f"host={host} port={port} dbname=postgres user={config['db_user']}"
    with contextlib.closing(psycopg2.connect(standby)) as conn, conn.cursor() as cr:
        cr.execute("SHOW max_parallel_workers_per_gather")
        standby_parallel = cr.fetchone()[0]
    manager, portal_logins = setup(args.database, max(args.clients // 2, 1))
    http_port = free_port()
    log = open(f"{config['data_dir']}/bench-replica-odoo.log", "w")  # noqa: SIM115
    server = subprocess.Popen(  # noqa: S603
        [
            *odoo_command(),
            "-c",
            args.config,
            "-d",
            args.database,
            "--http-interface=127.0.0.1",
            f"--http-port={http_port}",
            f"--gevent-port={free_port()}",
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
    writer = None
    try:
        wait_ready(base)
        stop = threading.Event()
        office = args.clients - len(portal_logins)
        clients = [
            threading.Thread(
                target=back_office_client,
                args=(base, manager, stop, results, args.think, k * len(BACK_OFFICE) // office),
            )
            for k in range(office)
        ] + [
            threading.Thread(
                target=portal_client,
                args=(base, user, stop, results, args.think, k),
            )
            for k, user in enumerate(portal_logins)
        ]
        for thread in clients:
            thread.start()
        # the warm-up: every worker has loaded the registry and served each screen
        time.sleep(args.warmup)
        writer = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                __file__,
                "--writer",
                "--config",
                args.config,
                "--database",
                args.database,
                "--seconds",
                str(args.seconds),
                "--due-share",
                str(args.due_share),
                "--writer-nice",
                str(args.writer_nice),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        roles = {
            "Odoo (4 workers)": [server.pid],
            "PostgreSQL primary": [postmaster_pid(args.primary_data)],
            "PostgreSQL standby": [postmaster_pid(args.replica_data)],
            "engines' process": [writer.pid],
            "load generator (20 clients)": [os.getpid()],
        }
        cpu_start = cpu_by_role(roles)
        before_primary = db_stats(primary, args.database)
        before_standby = db_stats(standby, args.database)
        t0 = time.monotonic()
        half = t0 + args.seconds / 2
        while time.monotonic() < half:
            with contextlib.suppress(psycopg2.Error):
                lags.append(replication_lag(primary_cluster))
            time.sleep(1)
        after_standby = db_stats(standby, args.database)
        mid_primary = db_stats(primary, args.database)
        stopped_at = time.monotonic()
        cpu_used = {role: seconds - cpu_start[role] for role, seconds in cpu_by_role(roles).items()}
        subprocess.run(args.replica_stop, shell=True, check=False)  # noqa: S602
        while time.monotonic() < t0 + args.seconds:
            time.sleep(1)
        stop.set()
        for thread in clients:
            thread.join(300)
        # the engines' run under way ends on its own (its time is measured)
        engine_runs, _err = writer.communicate(timeout=900)
    finally:
        if writer and writer.poll() is None:
            writer.kill()
        server.terminate()
        server.wait(60)
        log.close()
    # the measure: from the end of the warm-up on (its errors are reported)
    warmup_errors = [
        (name, outcome, "warm-up")
        for name, latency, outcome, at in results
        if at - latency < t0 and not outcome.startswith("ok")
    ]
    results = [row for row in results if row[3] - row[1] >= t0]
    results += [tuple(json.loads(line)) for line in engine_runs.splitlines() if line.strip()]

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
        if not outcome.startswith("ok"):
            errors.append((name, outcome, "standby stopped" if at >= stopped_at else "standby up"))
        if at < stopped_at:
            before.append(latency)
            by_point[name] = (before, after, err_before + (not outcome.startswith("ok")), err_after)
        else:
            after.append(latency)
            by_point[name] = (before, after, err_before, err_after + (not outcome.startswith("ok")))

    print(
        f"\nReplica: {args.clients} clients ({len(portal_logins)} portal, "
        f"{args.clients - len(portal_logins)} back office) for {args.seconds} s, Odoo with "
        f"{args.workers} workers and a hot standby (streaming replication on loopback), each "
        f"client waiting {args.think:g} s between two requests, after {args.warmup} s of "
        "warm-up; the lifecycle and tier engines run on the primary all along, in a "
        f"process of their own (nice {args.writer_nice}, its PostgreSQL backend too), each "
        f"lifecycle run on {args.due_share:.0%} of the customers made due; the standby "
        f"(max_parallel_workers_per_gather = {standby_parallel}) is stopped after "
        f"{args.seconds // 2} s.\n"
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
    portal = [
        latency
        for name, latency, outcome, at in results
        if name.startswith("portal ") and at < stopped_at
    ]
    print(
        f"\nPortal pages while the standby was up, all together: {len(portal)} requests, "
        f"p50 {pct(portal, 0.5):.0f} ms, p95 {pct(portal, 0.95):.0f} ms (target: p95 < 300 ms)."
    )
    window = stopped_at - t0
    print(
        f"\nWhere the CPU went while the standby was up ({window:.0f} s, "
        f"{os.cpu_count()} cores: {window * os.cpu_count():.0f} CPU seconds): "
        + ", ".join(
            f"{role} {seconds:.0f} s ({seconds / window:.2f} core)"
            for role, seconds in cpu_used.items()
        )
        + "."
    )
    streaming = [lag for lag in lags if lag is not None]
    print(
        f"\nTransactions while the standby was up: {served_standby:,} on the standby, "
        f"{served_primary:,} on the primary: the standby served {share:.0%}. "
        f"Replication lag sampled each second: median {statistics.median(streaming or [0]):.2f} s, "
        f"max {max(streaming or [0]):.2f} s; not streaming in {len(lags) - len(streaming)} of "
        f"{len(lags)} samples. Errors: {len(errors)} (warm-up: {len(warmup_errors)})."
    )
    if len(streaming) < len(lags):
        errors.append(("replication", "the standby was not streaming from the primary", "lag"))
    errors += warmup_errors
    for name, outcome, when in errors[:10]:
        print(f"ERROR ({when}) {name}: {outcome}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
