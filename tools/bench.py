#!/usr/bin/env python3
"""`make bench`: a benchmark database generated in bulk SQL, then each engine
measured against (a) a naive per-record ORM loop on a sample, extrapolated, and
(b) the floor: one hand-written SQL statement computing the same result without
writing. Prints a Markdown table (pasted into docs/benchmarks.md).

Usage (through the harness, which creates the database):
    make bench SCALE=small|medium|large
"""

import argparse
import contextlib
import platform
import resource
import sys
import time

import odoo
from odoo.modules.registry import Registry
from odoo.tools import SQL

SCALES = {
    # customers, average done visits per customer, cleaners
    "tiny": (2_000, 10, 20),
    "small": (10_000, 10, 50),
    "medium": (100_000, 10, 200),
    "large": (1_000_000, 10, 200),
}


class QueryCounter:
    def __init__(self, cr):
        self.cr = cr

    def __enter__(self):
        self.start = self.cr.sql_log_count
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.queries = self.cr.sql_log_count - self.start


def generate(env, customers, per_customer, cleaners):
    """Customers, cleaners and ~customers × per_customer done visits over 3 years.

    Cadences (by partner id modulo 20): 4 weekly (hourly cleaning), 8 monthly,
    3 seasonal (deep cleaning in Jan–Feb and appliance cleaning in May–Jun), 5 one-off.
    The visit count per cadence is scaled so the average is ``per_customer``.
    """
    cr = env.cr
    company = env.company
    cr.execute("SELECT id FROM housekeeping_service_type ORDER BY sequence, id")
    types = [r[0] for r in cr.fetchall()]
    employees = env["hr.employee"].create([{"name": f"Cleaner {i:03d}"} for i in range(cleaners)])
    emp_ids = employees.ids
    t0 = time.perf_counter()
    cr.execute(
        SQL(
            """
        INSERT INTO res_partner (name, complete_name, type, active, is_company, lang, tz,
                                 company_id, create_date, write_date, create_uid, write_uid,
                                 autopost_bills, phone)
        SELECT 'Bench Customer ' || g, 'Bench Customer ' || g, 'contact', true, false,
               'zh_CN', 'Asia/Shanghai', %(company)s, now(), now(), 1, 1, 'ask',
               '138' || lpad(g::text, 8, '0')
          FROM generate_series(1, %(n)s) g
        """,
            company=company.id,
            n=customers,
        )
    )
    cr.execute("SELECT min(id), max(id) FROM res_partner WHERE name LIKE 'Bench Customer %%'")
    pmin, pmax = cr.fetchone()
    # number of visits per cadence class so that the mean is per_customer
    weekly, monthly, seasonal, oneoff = (
        per_customer * 3.0,
        per_customer * 1.2,
        per_customer * 0.5,
        1,
    )
    cr.execute(
        SQL(
            """
        WITH p AS (
            SELECT id, id %% 20 AS k,
                   CASE WHEN id %% 20 < 4 THEN 'weekly' WHEN id %% 20 < 12 THEN 'monthly'
                        WHEN id %% 20 < 15 THEN 'seasonal' ELSE 'oneoff' END AS cadence
              FROM res_partner WHERE id BETWEEN %(pmin)s AND %(pmax)s
        ), n AS (
            SELECT id, cadence,
                   CASE cadence WHEN 'weekly' THEN %(weekly)s WHEN 'monthly' THEN %(monthly)s
                                WHEN 'seasonal' THEN %(seasonal)s ELSE %(oneoff)s END::int AS cnt
              FROM p
        )
        INSERT INTO housekeeping_visit (name, partner_id, service_type_id, date, duration,
                                        employee_id, company_id, amount, payment_method,
                                        state, done_date, create_date, write_date,
                                        create_uid, write_uid)
        SELECT 'B' || n.id || '-' || s,
               n.id,
               CASE n.cadence WHEN 'seasonal' THEN
                    CASE WHEN s %% 2 = 0 THEN %(deep)s ELSE %(appliance)s END
                    ELSE (%(types)s::int[])[1 + (n.id + s) %% array_length(%(types)s::int[], 1)] END,
               d.date, 2.0,
               (%(emps)s::int[])[1 + (n.id * 7 + s) %% array_length(%(emps)s::int[], 1)],
               %(company)s,
               (60 + (n.id * 13 + s * 7) %% 400)::numeric,
               (ARRAY['wechat','alipay','cash','card','prepaid'])[1 + (n.id + s) %% 5],
               'done', d.date, now(), now(), 1, 1
          FROM n
          CROSS JOIN LATERAL generate_series(1, n.cnt) s
          CROSS JOIN LATERAL (SELECT CASE n.cadence
                WHEN 'weekly' THEN now() - make_interval(days => 7 * s + (n.id %% 5))
                WHEN 'monthly' THEN now() - make_interval(days => 30 * s + (n.id %% 20))
                WHEN 'seasonal' THEN make_timestamp(
                        extract(year FROM now())::int - 1 - (s - 1) / 2,
                        CASE WHEN s %% 2 = 0 THEN 1 ELSE 5 END, 1 + (n.id %% 27), 9, 0, 0)
                ELSE now() - make_interval(days => 1 + (n.id %% 1000)) END AS date) d
        """,
            pmin=pmin,
            pmax=pmax,
            weekly=int(weekly),
            monthly=int(monthly),
            seasonal=int(seasonal),
            oneoff=oneoff,
            types=types,
            emps=emp_ids,
            company=company.id,
            deep=env.ref("housekeeping_membership.service_type_deep").id,
            appliance=env.ref("housekeeping_membership.service_type_appliance").id,
        )
    )
    cr.execute("ANALYZE res_partner; ANALYZE housekeeping_visit")
    cr.execute("SELECT count(*) FROM housekeeping_visit")
    visits = cr.fetchone()[0]
    return pmin, pmax, visits, time.perf_counter() - t0


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- engines
def engine_visit_stats(env, pmin, pmax, sample):
    """Consumption statistics of every customer (the foundation's SQL engine)."""
    partner = env["res.partner"]
    ids = list(range(pmin, pmax + 1))
    batch = 50_000
    with QueryCounter(env.cr) as full:
        for i in range(0, len(ids), batch):
            partner.browse(ids[i : i + batch])._hk_refresh_visit_stats()
    with QueryCounter(env.cr) as rerun:
        for i in range(0, len(ids), batch):
            partner.browse(ids[i : i + batch])._hk_refresh_visit_stats()
    one_percent = ids[::100]
    with QueryCounter(env.cr) as incremental:
        partner.browse(one_percent)._hk_refresh_visit_stats()
    with QueryCounter(env.cr) as floor:
        env.cr.execute(
            """
            SELECT partner_id, count(*), sum(amount), min(local_day), max(local_day),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY gap),
                   count(coupon_card_id), mode() WITHIN GROUP (ORDER BY service_type_id)
              FROM (SELECT v.partner_id, v.amount, v.coupon_card_id, v.service_type_id,
                           (v.date AT TIME ZONE 'UTC' AT TIME ZONE p.tz)::date AS local_day,
                           EXTRACT(EPOCH FROM v.date - lag(v.date) OVER (
                               PARTITION BY v.partner_id ORDER BY v.date)) AS gap
                      FROM housekeeping_visit v JOIN res_partner p ON p.id = v.partner_id
                     WHERE v.state = 'done') v
             GROUP BY partner_id
            """
        )
        env.cr.fetchall()
    # naive: per partner, read its visits through the ORM and write the figures
    sample_ids = ids[:sample]
    with QueryCounter(env.cr) as naive:
        for p in partner.browse(sample_ids):
            visits = env["housekeeping.visit"].search(
                [("partner_id", "=", p.id), ("state", "=", "done")], order="date"
            )
            dates = visits.mapped("date")
            gaps = sorted(
                (b - a).total_seconds() / 86400 for a, b in zip(dates, dates[1:], strict=False)
            )
            p.write({"customer_since": dates[0].date() if dates else False})
            _median = gaps[len(gaps) // 2] if gaps else 0
            _total = sum(visits.mapped("amount"))
        env.flush_all()
    naive_total = naive.seconds * len(ids) / max(len(sample_ids), 1)
    return full, rerun, incremental, floor, naive_total


def engine_lifecycle(env):
    """Lifecycle stages of every customer: the floor is the rule query alone."""
    partner = env["res.partner"]
    today = odoo.fields.Date.context_today(partner)
    partner._hk_lifecycle_flush()
    with QueryCounter(env.cr) as floor:
        env.cr.execute(partner._hk_lifecycle_query(today, only_changed=False))
        rows = env.cr.fetchall()
    with QueryCounter(env.cr) as full:
        changed = partner._cron_evaluate_lifecycle()
    with QueryCounter(env.cr) as rerun:
        partner._cron_evaluate_lifecycle()
    return floor, full, rerun, len(rows), changed


def naive_lifecycle(env, pmin, sample):
    """Per customer through the ORM: read the visits, decide the stage, write it."""
    partner = env["res.partner"]
    today = odoo.fields.Date.context_today(partner)
    ids = list(range(pmin, pmin + sample))
    with QueryCounter(env.cr) as naive:
        for p in partner.browse(ids):
            visits = env["housekeeping.visit"].search(
                [("partner_id", "=", p.id), ("state", "=", "done")], order="date"
            )
            if not visits:
                stage = "potential"
            else:
                idle = (today - visits[-1].date.date()).days
                gaps = [(b.date - a.date).days for a, b in zip(visits, visits[1:], strict=False)]
                interval = sorted(gaps)[len(gaps) // 2] if gaps else 0
                stage = (
                    "churned"
                    if idle > max(interval * 4, 180)
                    else "at_risk"
                    if idle > (interval * 2 if interval else 45)
                    else "loyal"
                    if len(visits) >= 3
                    else "new"
                )
            p.write({"lifecycle_stage": stage})
        env.flush_all()
    env.cr.rollback()
    return naive


def incremental_lifecycle(env, pmin, pmax):
    """1% of the customers get a new done visit (bulk SQL + their statistics), then
    the daily evaluation runs."""
    ids = list(range(pmin, pmax + 1, 100))
    env.cr.execute(
        """
        INSERT INTO housekeeping_visit (name, partner_id, service_type_id, date, amount, state,
                                        company_id, duration)
        SELECT 'BENCH-' || p, p, (SELECT min(id) FROM housekeeping_service_type),
               now() at time zone 'UTC' - interval '1 hour', 100, 'done', %s, 2
          FROM unnest(%s::int[]) AS p
        """,
        [env.company.id, ids],
    )
    env["res.partner"].browse(ids)._hk_refresh_visit_stats()
    with QueryCounter(env.cr) as inc:
        changed = env["res.partner"]._cron_evaluate_lifecycle()
    return inc, changed


def engine_tiers(env):
    partner = env["res.partner"]
    with QueryCounter(env.cr) as full:
        partner._cron_evaluate_tiers()
    with QueryCounter(env.cr) as rerun:
        partner._cron_evaluate_tiers()
    return full, rerun


def engine_rfm(env):
    partner = env["res.partner"]
    with QueryCounter(env.cr) as full:
        partner._cron_compute_rfm()
    with QueryCounter(env.cr) as rerun:
        partner._cron_compute_rfm()
    return full, rerun


def engine_points_expiry(env, pmin, pmax):
    """One expired lot of 100 points per customer, 30 points of it already spent
    (an allocation), then the expiry cron; the floor is the read-only lot query."""
    cr = env.cr
    company = env.company.id
    cr.execute(
        """
        INSERT INTO housekeeping_points_entry
               (partner_id, company_id, points, entry_type, reason_code, date, expiry_date,
                source_key)
        SELECT id, %s, 100, 'earn', 'other', DATE '2024-01-01', DATE '2025-01-01', 'bench'
          FROM generate_series(%s, %s) AS id
        """,
        [company, pmin, pmax],
    )
    cr.execute(
        """
        INSERT INTO housekeeping_points_entry
               (partner_id, company_id, points, entry_type, reason_code, date, source_key)
        SELECT id, %s, -30, 'redeem', 'reward', DATE '2024-06-01', 'bench-redeem'
          FROM generate_series(%s, %s) AS id
        """,
        [company, pmin, pmax],
    )
    cr.execute(
        """
        INSERT INTO housekeeping_points_allocation (debit_entry_id, lot_entry_id, points, partner_id)
        SELECT d.id, l.id, 30, d.partner_id
          FROM housekeeping_points_entry d
          JOIN housekeeping_points_entry l ON l.partner_id = d.partner_id AND l.source_key = 'bench'
         WHERE d.source_key = 'bench-redeem'
        """
    )
    cr.execute(
        "UPDATE res_partner SET points_balance = 70 WHERE id BETWEEN %s AND %s", [pmin, pmax]
    )
    cr.execute("ANALYZE housekeeping_points_entry")
    cr.execute("ANALYZE housekeeping_points_allocation")
    with QueryCounter(cr) as floor:
        cr.execute(
            """
            SELECT e.id, e.points - COALESCE((SELECT sum(a.points)
                                               FROM housekeeping_points_allocation a
                                              WHERE a.lot_entry_id = e.id), 0)
              FROM housekeeping_points_entry e
             WHERE e.points > 0 AND e.expiry_date < now()::date
            """
        )
        cr.fetchall()
    partner = env["res.partner"]
    with QueryCounter(cr) as full:
        expired = partner._cron_expire_points()
    with QueryCounter(cr) as rerun:
        partner._cron_expire_points()
    return floor, full, rerun, expired


# read_group of each report over the whole population: (label, model, domain, groupby, aggregates)
REPORT_QUERIES = (
    (
        "report: lifecycle transition matrix",
        "housekeeping.report.lifecycle.transition",
        [],
        ["from_stage", "to_stage"],
        ["transition_count:sum", "days_in_previous_stage:avg"],
    ),
    (
        "report: customers per stage per month",
        "housekeeping.report.lifecycle.snapshot",
        [],
        ["date:month", "lifecycle_stage"],
        ["customer_count:sum"],
    ),
    (
        "report: lifecycle funnel",
        "housekeeping.report.lifecycle.funnel",
        [],
        ["step"],
        ["customer_count:sum"],
    ),
    (
        "report: retention cohorts",
        "housekeeping.report.cohort",
        [],
        ["cohort_month:month", "month_offset"],
        ["retention:avg"],
    ),
    (
        "report: members per tier",
        "housekeeping.report.membership",
        [("line_type", "=", "member")],
        ["tier_id"],
        ["member_count:sum", "spend:sum"],
    ),
    (
        "report: visits per month and service type",
        "housekeeping.report.visit",
        [],
        ["date:month", "service_type_id"],
        ["visit_count:sum", "amount:sum"],
    ),
    (
        "report: satisfaction per cleaner",
        "housekeeping.report.visit",
        [],
        ["employee_id"],
        ["rating:avg", "complaint_count:sum"],
    ),
)


def bench_reports(env):
    """Timings of the report views and of the dashboard, over everything."""
    results = []
    env.flush_all()
    for label, model, domain, groupby, aggregates in REPORT_QUERIES:
        with QueryCounter(env.cr) as run:
            groups = env[model]._read_group(domain, groupby, aggregates)
        results.append((f"{label} ({len(groups):,} groups)", run))
    with QueryCounter(env.cr) as run:
        env["res.partner"].hk_dashboard_data()
    results.append(("dashboard: KPIs and charts", run))
    return results


def bench_visit_done(env, pmin):
    """Completing one visit: queries for a customer with 1 vs many past visits."""
    results = {}
    st = env.ref("housekeeping_membership.service_type_hourly")
    env.cr.execute(
        "SELECT partner_id FROM housekeeping_visit GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    )
    busiest = env.cr.fetchone()[0]
    for label, pid in (("new customer", None), ("busiest customer", busiest)):
        if pid is None:
            pid = env["res.partner"].create({"name": "Bench New"}).id
        visit = env["housekeeping.visit"].create(
            {
                "partner_id": pid,
                "service_type_id": st.id,
                "date": "2026-01-01 09:00:00",
                "amount": 100,
            }
        )
        env.flush_all()
        env.invalidate_all()
        with QueryCounter(env.cr) as qc:
            visit.action_done()
            env.flush_all()
        env.cr.execute("SELECT count(*) FROM housekeeping_visit WHERE partner_id = %s", [pid])
        results[label] = (qc, env.cr.fetchone()[0])
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--scale", default="small", choices=SCALES)
    parser.add_argument("--sample", type=int, default=200)
    args = parser.parse_args()
    odoo.tools.config.parse_config(["-c", args.config, "-d", args.database, "--log-level=warn"])
    customers, per_customer, cleaners = SCALES[args.scale]
    registry = Registry(args.database)
    out = []
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
        pmin, pmax, visits, gen_s = generate(env, customers, per_customer, cleaners)
        cr.commit()
        out.append(
            f"Scale `{args.scale}`: {customers:,} customers, {visits:,} done visits, "
            f"{cleaners} cleaners; generated in {gen_s:.1f} s. "
            f"Machine: {platform.machine()}, {platform.python_implementation()} "
            f"{platform.python_version()}, {__import__('os').cpu_count()} cores.\n"
        )
        out.append(
            "| engine | full run (s) | queries | floor SQL (s) | ratio to floor "
            "| naive ORM, extrapolated (s) | speed-up vs naive | peak RSS (MB) |"
        )
        out.append("|---|---|---|---|---|---|---|---|")
        full, rerun, incremental, floor, naive_total = engine_visit_stats(
            env, pmin, pmax, args.sample
        )
        cr.commit()
        for label, run in (
            ("visit statistics, first run", full),
            ("visit statistics, rerun (nothing changed)", rerun),
        ):
            out.append(
                f"| {label} | {run.seconds:.2f} | {run.queries} | {floor.seconds:.2f} "
                f"| {run.seconds / max(floor.seconds, 1e-6):.2f}× | {naive_total:.1f} "
                f"| {naive_total / max(run.seconds, 1e-6):.0f}× | {peak_rss_mb():.0f} |"
            )
        out.append(
            f"| visit statistics, 1% of customers | {incremental.seconds:.2f} "
            f"| {incremental.queries} | | | | | |"
        )
        # The population was analysed before the statistics engine filled
        # visit_count; refresh the planner's statistics as autovacuum would.
        cr.execute("ANALYZE res_partner")
        lc_floor, lc_full, lc_rerun, lc_rows, lc_changed = engine_lifecycle(env)
        cr.commit()
        lc_naive = naive_lifecycle(env, pmin, args.sample)
        lc_naive_total = lc_naive.seconds * (pmax - pmin + 1) / args.sample
        lc_inc, lc_inc_changed = incremental_lifecycle(env, pmin, pmax)
        cr.commit()
        rfm_full, rfm_rerun = engine_rfm(env)
        cr.commit()
        tier_full, tier_rerun = engine_tiers(env)
        cr.commit()
        px_floor, px_full, px_rerun, px_count = engine_points_expiry(env, pmin, pmax)
        cr.commit()
        for label, run, floor_run, naive_s in (
            (
                f"lifecycle, first run ({lc_changed:,} of {lc_rows:,} change)",
                lc_full,
                lc_floor,
                lc_naive_total,
            ),
            ("lifecycle, rerun (nothing changes)", lc_rerun, lc_floor, lc_naive_total),
            (
                f"lifecycle, 1% of customers visited ({lc_inc_changed:,} change)",
                lc_inc,
                None,
                None,
            ),
            ("tiers, first run", tier_full, None, None),
            ("tiers, rerun (nothing changes)", tier_rerun, None, None),
            ("RFM segments, first run", rfm_full, None, None),
            ("RFM segments, rerun", rfm_rerun, None, None),
            (f"points expiry ({px_count:,} lots)", px_full, px_floor, None),
            ("points expiry, rerun (nothing to expire)", px_rerun, px_floor, None),
        ):
            ratio = f"{run.seconds / max(floor_run.seconds, 1e-6):.2f}×" if floor_run else ""
            floor_s = f"{floor_run.seconds:.2f}" if floor_run else ""
            naive_cells = (
                f"{naive_s:.1f} | {naive_s / max(run.seconds, 1e-6):.0f}×" if naive_s else " | "
            )
            out.append(
                f"| {label} | {run.seconds:.2f} | {run.queries} | {floor_s} | {ratio} "
                f"| {naive_cells} | {peak_rss_mb():.0f} |"
            )
        for label, run in bench_reports(env):
            out.append(
                f"| {label} | {run.seconds:.2f} | {run.queries} | | | | | {peak_rss_mb():.0f} |"
            )
        cr.commit()
        out.append("")
        out.append("| completing one visit | queries | time (ms) | visits of the customer |")
        out.append("|---|---|---|---|")
        for label, (qc, n) in bench_visit_done(env, pmin).items():
            out.append(f"| {label} | {qc.queries} | {qc.seconds * 1000:.1f} | {n} |")
        cr.rollback()
    text = "\n".join(out)
    print(text)
    with (
        contextlib.suppress(OSError),
        open(f"{args.config.rsplit('/', 1)[0]}/bench-{args.scale}.md", "w") as fh,
    ):
        fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
