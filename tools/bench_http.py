#!/usr/bin/env python3
"""Points redemption over HTTP: 20 concurrent portal clients on loopback.

Run by `make bench` after tools/bench.py, on the same database. It creates 10
customers with portal logins and 400 points each and a gift reward of 10 points,
starts Odoo with worker processes, and lets 20 clients (two per customer, so
that two requests often compete for the same balance) each send a bounded
number of redemptions. It reports requests per second and latency percentiles,
then checks the ledger: no negative balance, one entry per redemption the
points allowed (the portal answers an accepted and a refused request alike, so
the ledger counts them: requests answered beyond the points held are the
refused ones), and every balance equals the sum of its entries.
"""

import argparse
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

import requests

import odoo
from odoo.modules.registry import Registry

CUSTOMERS = 10
POINTS = 400
COST = 10
PASSWORD = "bench-portal-pw"  # noqa: S105 (a throw-away benchmark database)
CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


def setup(database):
    registry = Registry(database)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
        env["ir.config_parameter"].set_param(
            "housekeeping_membership.portal_redeem_rate_limit", 100_000
        )
        reward = env["housekeeping.reward"].create(
            {"name": "Bench gift", "points_cost": COST, "reward_type": "gift", "company_id": False}
        )
        portal = env.ref("base.group_portal")
        run = int(time.time())
        users = (
            env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                [
                    {
                        "name": f"Bench Portal {run}-{i}",
                        "login": f"bench-portal-{run}-{i}",
                        "password": PASSWORD,
                        "group_ids": [(6, 0, [portal.id])],
                    }
                    for i in range(CUSTOMERS)
                ]
            )
        )
        env["housekeeping.points.entry"]._post_credits(
            [
                {
                    "partner_id": u.partner_id.id,
                    "company_id": env.company.id,
                    "points": POINTS,
                    "entry_type": "adjust",
                    "reason_code": "other",
                    "source_key": "bench-http",
                }
                for u in users
            ]
        )
        return reward.id, [(u.login, u.partner_id.id) for u in users]


def odoo_command():
    """The command starting an Odoo server: ``python -m odoo`` runs it, but a
    server with ``--workers`` restarts its gevent process (the websocket server)
    as ``python sys.argv[0] gevent``: with ``-m`` that is ``odoo/__main__.py`` run
    as a script, which fails at once, and the server tries again every few
    hundred milliseconds (558 tries in 90 s, each a Python interpreter starting: a
    quarter of the CPU of a 2-core machine). Odoo's own launcher script does not
    (``setup/odoo`` in a source tree, ``odoo`` from an install)."""
    source = os.path.join(os.path.dirname(list(odoo.__path__)[0]), "setup", "odoo")
    script = source if os.path.isfile(source) else shutil.which("odoo")
    return [sys.executable, script] if script else [sys.executable, "-m", "odoo"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base, tries=240):
    """Wait for the Odoo server at ``base`` to answer its login page (the first
    request builds the assets: slow on a busy machine)."""
    for _i in range(tries):
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{base}/web/login", timeout=60).status_code == 200:
                return
        time.sleep(0.5)


def client(base, login, reward_id, count, results):
    session = requests.Session()
    page = session.get(f"{base}/web/login", timeout=30).text
    session.post(
        f"{base}/web/login",
        data={"login": login, "password": PASSWORD, "csrf_token": CSRF.search(page)[1]},
        timeout=30,
    )
    page = session.get(f"{base}/my/rewards", timeout=30).text
    token = CSRF.search(page)[1]
    for _i in range(count):
        t0 = time.perf_counter()
        response = session.post(
            f"{base}/my/rewards/{reward_id}/redeem",
            data={"csrf_token": token},
            allow_redirects=False,
            timeout=60,
        )
        latency = time.perf_counter() - t0
        # the portal answers an accepted and a refused redemption alike, a redirect
        # with the message in the session (not the URL): the ledger tells which
        outcome = "handled" if response.status_code == 303 else f"http {response.status_code}"
        results.append((login, outcome, latency))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=30, help="per client")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    odoo.tools.config.parse_config(["-c", args.config, "-d", args.database, "--log-level=warn"])
    reward_id, logins = setup(args.database)
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [
            *odoo_command(),
            "-c",
            args.config,
            "-d",
            args.database,
            "--http-interface=127.0.0.1",
            f"--http-port={port}",
            f"--gevent-port={free_port()}",
            f"--workers={args.workers}",
            "--max-cron-threads=0",
            "--log-level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, tries=120)
        results = []
        threads = [
            threading.Thread(
                target=client,
                args=(base, logins[i % len(logins)][0], reward_id, args.requests, results),
            )
            for i in range(args.clients)
        ]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(30)

    latencies = sorted(r[2] for r in results)
    outcomes = {}
    for login, outcome, _latency in results:
        outcomes.setdefault(login, {}).setdefault(outcome, 0)
        outcomes[login][outcome] += 1
    handled = sum(o.get("handled", 0) for o in outcomes.values())
    errors = len(results) - handled
    accepted = 0

    problems = []
    registry = Registry(args.database)
    with registry.cursor() as cr:
        for login, partner_id in logins:
            cr.execute(
                """
                SELECT p.points_balance, COALESCE(sum(e.points), 0),
                       count(e.id) FILTER (WHERE e.entry_type = 'redeem')
                  FROM res_partner p
                  LEFT JOIN housekeeping_points_entry e ON e.partner_id = p.id
                 WHERE p.id = %s GROUP BY p.id
                """,
                [partner_id],
            )
            balance, total, redeemed = cr.fetchone()
            if balance < 0:
                problems.append(f"{login}: negative balance {balance}")
            if balance != total:
                problems.append(f"{login}: balance {balance} != sum of entries {total}")
            accepted += redeemed
            # every request answered redeems until the points run out: fewer
            # entries is a lost redemption, more is points spent twice
            expected = min(outcomes.get(login, {}).get("handled", 0), POINTS // COST)
            if redeemed != expected:
                problems.append(
                    f"{login}: {redeemed} ledger entries for {expected} redemptions the "
                    "points allowed"
                )

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(
        f"\nPoints redemption over HTTP: {args.clients} concurrent clients (two per customer), "
        f"{args.requests} requests each, Odoo with {args.workers} workers on loopback.\n"
    )
    print(
        "| requests | accepted | refused (no points left) | errors | requests/s "
        "| p50 (ms) | p95 (ms) | max (ms) | negative balances | ledger mismatches |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    negatives = sum("negative" in p for p in problems)
    print(
        f"| {len(results)} | {accepted} | {handled - accepted} | {errors} | {len(results) / elapsed:.1f} "
        f"| {statistics.median(latencies) * 1000:.0f} | {pct(0.95):.0f} | {latencies[-1] * 1000:.0f} "
        f"| {negatives} | {len(problems) - negatives} |"
    )
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems or errors else 0


if __name__ == "__main__":
    sys.exit(main())
