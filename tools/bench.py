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
import json
import platform
import random
import resource
import statistics
import sys
import time
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from unittest import mock

import psycopg2
import pytz
from bench_dispatch import (
    DISPATCH_CLEANERS,
    DISPATCH_VISITS,
    PLANS,
    bench_dispatch,
    bench_plans,
)
from bench_prepaid import PREPAID_VISITS, bench_prepaid
from dateutil.relativedelta import relativedelta

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


def _status_mb(field):
    """VmRSS / VmHWM of this process in MB (Linux), else the peak so far."""
    with contextlib.suppress(OSError):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak():
    """Start a new high-water mark of the resident memory (Linux clear_refs 5)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


class QueryCounter:
    """Time, queries and memory of a measured call: ``rss_start_mb`` (resident
    memory when it starts) and ``rss_peak_mb`` (the peak during the call alone)."""

    def __init__(self, cr):
        self.cr = cr

    def __enter__(self):
        self.start = self.cr.sql_log_count
        _reset_peak()
        self.rss_start_mb = _status_mb("VmRSS")
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.queries = self.cr.sql_log_count - self.start
        self.rss_peak_mb = _status_mb("VmHWM")


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
        INSERT INTO res_partner (id, commercial_partner_id, name, complete_name, type, active,
                                 is_company, lang, tz, company_id, create_date, write_date,
                                 create_uid, write_uid, autopost_bills, phone)
        -- (each customer its own commercial partner, as Odoo computes it: the
        -- portal's record rule reads it)
        SELECT s.id, s.id, 'Bench Customer ' || g, 'Bench Customer ' || g, 'contact', true,
               false, 'zh_CN', 'Asia/Shanghai', %(company)s, now(), now(), 1, 1, 'ask',
               '138' || lpad(g::text, 8, '0')
          FROM (SELECT nextval('res_partner_id_seq') AS id, g
                  FROM generate_series(1, %(n)s) g) s
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


# ---------------------------------------------------------------- engines
def naive_writes(env):
    """The naive loops write the customer fields the engines own as an engine
    would: inside the trust guard (``models/trust.py``), which no plain ``write()``
    opens."""
    from odoo.addons.housekeeping_membership.models.trust import engine_writes  # noqa: PLC0415

    return engine_writes(*env["res.partner"]._hk_engine_fields())


def round_half_up(value):
    """One decimal, halves up, as PostgreSQL rounds a numeric."""
    return float(Decimal(str(value)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def engine_visit_stats(env, pmin, pmax, sample_ids):
    """Consumption statistics of every customer (the foundation's SQL engine)."""
    partner = env["res.partner"]
    engine = env["housekeeping.engine.statistics"]
    ids = list(range(pmin, pmax + 1))
    # the same figures written in one hand-written UPDATE (rolled back), while every
    # customer's figures are still to write
    env["housekeeping.visit"].flush_model()
    wfloor = write_floor(env, [STATS_WRITE_FLOOR])
    vacuum(env, "res_partner")
    # every customer, by batches of 50,000 (the engine's full recompute)
    with QueryCounter(env.cr) as full:
        engine._run()
    with QueryCounter(env.cr) as rerun:
        engine._run()
    one_percent = ids[::100]
    with QueryCounter(env.cr) as incremental:
        engine._refresh_visit_stats(one_percent)
    with QueryCounter(env.cr) as floor:
        env.cr.execute(STATS_FLOOR)
        env.cr.fetchall()
    env.cr.commit()
    # naive: per partner, read its visits through the ORM and write the same nine
    # figures (days in the customer's time zone, median gap, favourite service)
    with QueryCounter(env.cr) as naive:
        for p in partner.browse(sample_ids):
            visits = env["housekeeping.visit"].search(
                [("partner_id", "=", p.id), ("state", "=", "done")], order="date"
            )
            dates = visits.mapped("date")
            tz = pytz.timezone(p.tz or env.user.tz or "UTC")
            days = [pytz.utc.localize(d).astimezone(tz).date() for d in dates]
            gaps = sorted(
                (b - a).total_seconds() / 86400 for a, b in zip(dates, dates[1:], strict=False)
            )
            count, total = len(visits), sum(visits.mapped("amount"))
            # (mapped() would remove the duplicates: count the visits)
            services = Counter(v.service_type_id.id for v in visits)
            with naive_writes(env):
                p.write(
                    {
                        "visit_count": count,
                        "total_spent": total,
                        "average_ticket": total / count if count else 0,
                        "first_visit_date": days[0] if days else False,
                        "last_visit_date": days[-1] if days else False,
                        "visit_interval_days": round_half_up(statistics.median(gaps))
                        if gaps
                        else 0,
                        # the most frequent, the smallest id on a tie (as mode() does)
                        "preferred_service_type_id": min(services, key=lambda s: (-services[s], s))
                        if services
                        else False,
                        "coupon_usage_rate": round_half_up(
                            100 * len(visits.filtered("coupon_card_id")) / count
                        )
                        if count
                        else 0,
                        "customer_since": p.customer_since or (days[0] if days else False),
                        "lifecycle_next_check": False,
                    }
                )
        env.flush_all()
    env.cr.rollback()
    naive_total = naive.seconds * len(ids) / max(len(sample_ids), 1)
    return full, rerun, incremental, floor, naive_total, wfloor


# The statistics of every customer in one statement (the floor of the statistics).
STATS_FLOOR = """
    SELECT partner_id, count(*) AS cnt, sum(amount) AS total,
           min(local_day) AS first_day, max(local_day) AS last_day,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS gap,
           count(coupon_card_id) AS coupons,
           mode() WITHIN GROUP (ORDER BY service_type_id) AS pref
      FROM (SELECT v.partner_id, v.amount, v.coupon_card_id, v.service_type_id,
                   (v.date AT TIME ZONE 'UTC' AT TIME ZONE p.tz)::date AS local_day,
                   EXTRACT(EPOCH FROM v.date - lag(v.date) OVER (
                       PARTITION BY v.partner_id ORDER BY v.date)) AS gap
              FROM housekeeping_visit v JOIN res_partner p ON p.id = v.partner_id
             WHERE v.state = 'done') v
     GROUP BY partner_id
"""

STATS_WRITE_FLOOR = f"""
    UPDATE res_partner p
       SET visit_count = s.cnt, total_spent = s.total, average_ticket = s.total / s.cnt,
           first_visit_date = s.first_day, last_visit_date = s.last_day,
           visit_interval_days = COALESCE(round((s.gap / 86400.0)::numeric, 1), 0),
           preferred_service_type_id = s.pref,
           coupon_usage_rate = round(100.0 * s.coupons / s.cnt, 1),
           customer_since = COALESCE(p.customer_since, s.first_day),
           lifecycle_next_check = NULL
      FROM ({STATS_FLOOR}) s
     WHERE p.id = s.partner_id
"""


def engine_lifecycle(env):
    """Lifecycle stages of every customer: the floor is the rule query alone."""
    partner = env["res.partner"]
    engine = env["housekeeping.engine.lifecycle"]
    today = odoo.fields.Date.context_today(partner)
    engine._lifecycle_flush()
    with QueryCounter(env.cr) as floor:
        env.cr.execute(engine._lifecycle_query(today, only_changed=False))
        rows = env.cr.fetchall()
    with QueryCounter(env.cr) as full:
        changed = partner._cron_evaluate_lifecycle()
    with QueryCounter(env.cr) as rerun:
        partner._cron_evaluate_lifecycle()
    return floor, full, rerun, len(rows), changed


def naive_lifecycle(env, ids):
    """Per customer through the ORM: read the visits, decide the stage, write it with
    its log row and chatter note (what the engine does)."""
    partner = env["res.partner"]
    today = odoo.fields.Date.context_today(partner)
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
            if stage != p.lifecycle_stage:
                # the same work as the engine: stage, log row, chatter note
                env["housekeeping.stage.log"].create(
                    {
                        "partner_id": p.id,
                        "from_stage": p.lifecycle_stage,
                        "to_stage": stage,
                        "date": today,
                        "trigger": "cron",
                    }
                )
                p.message_post(
                    body=f"Stage: {p.lifecycle_stage} → {stage}", subtype_xmlid="mail.mt_note"
                )
                with naive_writes(env):
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
    env["housekeeping.engine.statistics"]._refresh_visit_stats(ids)
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


def engine_rfm(env, floor, now):
    """The first run and the rerun, with Odoo's clock pinned to ``now``, the
    floor's instant: the scores written must be the floor's."""
    partner = env["res.partner"]
    with mock.patch.object(odoo.fields.Datetime, "now", staticmethod(lambda *args: now)):
        with QueryCounter(env.cr) as full:
            partner._cron_compute_rfm()
        env.cr.execute(
            f"SELECT {RFM_CHECKSUM} FROM (SELECT partner_id AS id, recency AS r,"
            " frequency AS f, monetary AS m FROM housekeeping_partner_rfm) q"
        )
        assert floor.result[0], "customers are scored (run the statistics first)"
        assert env.cr.fetchone() == floor.result, "the floor computes the same scores"
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
    wfloor = write_floor_expiry(env)
    vacuum(env, "res_partner", "housekeeping_points_entry", "mail_message")
    partner = env["res.partner"]
    with QueryCounter(cr) as full:
        expired = partner._cron_expire_points()
    with QueryCounter(cr) as rerun:
        partner._cron_expire_points()
    return floor, full, rerun, expired, wfloor


def vacuum(env, *tables):
    """VACUUM (ANALYZE) ``tables``, as autovacuum would between two nightly runs:
    the floors and naive loops roll back, leaving a dead row version for every row
    they wrote, which the engine measured next would otherwise wade through."""
    env.cr.commit()
    _db, info = odoo.sql_db.connection_info_for(env.cr.dbname)
    with contextlib.closing(psycopg2.connect(**info)) as cnx:
        cnx.autocommit = True
        with cnx.cursor() as cr:
            cr.execute("VACUUM (ANALYZE) " + ", ".join(tables))


def write_floor(env, statements):
    """The floor of an engine that writes: hand-written SQL applying the same
    changes (state column, log row, chatter row per customer) with no ORM,
    rolled back afterwards. It must run before the engine, while the changes are
    still to make."""
    env.flush_all()
    with env.cr.savepoint(flush=False) as sp, QueryCounter(env.cr) as floor:
        for statement in statements:
            env.cr.execute(statement)
        sp.rollback()
    env.invalidate_all()
    return floor


# The chatter row of the write floors: the columns the engines' notes fill
# (``housekeeping.engine._log_notes``: subtype, author, e-mail, reply-to and Message-Id included),
# so that the floor writes what the engine writes, with no ORM.
FLOOR_NOTE = """
    INSERT INTO mail_message (model, res_id, message_type, subtype_id, author_id, email_from,
                              reply_to, message_id, date, body, create_uid, create_date,
                              write_uid, write_date)
    SELECT 'res.partner', w.id, 'notification', %(note)s, %(author)s, %(email)s, %(email)s,
           '<' || w.id || '.' || md5(random()::text) || '-res.partner@hk-bench>', now(),
           %(body)s, 1, now(), 1, now()
      FROM hk_wf w
"""


def floor_note(env, body):
    author_id, email_from = env["mail.thread"]._message_compute_author(None)
    return SQL(
        FLOOR_NOTE,
        note=env.ref("mail.mt_note").id,
        author=author_id,
        email=email_from,
        body=body,
    )


def write_floor_lifecycle(env):
    """The lifecycle engine's writes in bare SQL: the same partner columns, a log row
    and a chatter row per change, with the same columns as the engine's."""
    engine = env["housekeeping.engine.lifecycle"]
    today = odoo.fields.Date.context_today(engine)
    engine._lifecycle_flush()
    return write_floor(
        env,
        [
            SQL(
                "CREATE TEMP TABLE hk_wf ON COMMIT DROP AS SELECT q.id, q.old_stage, "
                "q.new_stage, q.seasonal, q.next_check FROM (%s) q",
                engine._lifecycle_query(today),
            ),
            SQL(
                """
            UPDATE res_partner p
               SET lifecycle_stage = w.new_stage, lifecycle_seasonal = w.seasonal,
                   lifecycle_stage_date = %(today)s, won_back_date = p.won_back_date,
                   churn_reason_id = p.churn_reason_id,
                   churn_reason_confirmed = p.churn_reason_confirmed,
                   lifecycle_override_until = p.lifecycle_override_until,
                   lifecycle_next_check = w.next_check
              FROM hk_wf w WHERE p.id = w.id
            """,
                today=today,
            ),
            SQL(
                """
            INSERT INTO housekeeping_stage_log (partner_id, from_stage, to_stage, date, trigger,
                        reason, days_in_previous_stage, churn_reason_id, company_id,
                        create_uid, create_date, write_uid, write_date)
            SELECT w.id, w.old_stage, w.new_stage, %(today)s, 'cron', 'Lifecycle rules',
                   %(today)s - p.lifecycle_stage_date, NULL, p.company_id, 1, now(), 1, now()
              FROM hk_wf w JOIN res_partner p ON p.id = w.id
            """,
                today=today,
            ),
            floor_note(
                env,
                SQL(
                    "'<p>Lifecycle stage: ' || coalesce(w.old_stage, 'none') || ' → ' "
                    "|| w.new_stage || ' (Lifecycle rules)</p>'"
                ),
            ),
        ],
    )


def write_floor_tiers(env):
    """The tier engine's writes in bare SQL: the same partner columns, a log row and
    a chatter row per change, with the same columns as the engine's."""
    engine = env["housekeeping.engine.tier"]
    today = odoo.fields.Date.context_today(engine)
    engine._tier_flush()
    return write_floor(
        env,
        [
            SQL(
                "CREATE TEMP TABLE hk_wf ON COMMIT DROP AS SELECT q.id, q.old_tier, q.new_tier, "
                "q.new_grace, q.company_id FROM (%s) q",
                engine._tier_query(today),
            ),
            "UPDATE res_partner p SET membership_tier_id = w.new_tier, "
            "tier_grace_until = w.new_grace, tier_manual_until = p.tier_manual_until "
            "FROM hk_wf w WHERE p.id = w.id",
            SQL(
                """
            INSERT INTO housekeeping_tier_log (partner_id, from_tier_id, to_tier_id, direction,
                        date, trigger, reason, gift_given, gift_points, loyalty_card_id,
                        company_id, create_uid, create_date, write_uid, write_date)
            SELECT w.id, w.old_tier, w.new_tier, 'up', %(today)s, 'cron', 'Qualification rules',
                   false, 0, NULL, w.company_id, 1, now(), 1, now()
              FROM hk_wf w
             WHERE w.new_tier IS DISTINCT FROM w.old_tier
            """,
                today=today,
            ),
            floor_note(
                env,
                SQL(
                    "'<p>Membership tier: ' || coalesce(w.old_tier::text, 'none') || ' → ' "
                    "|| w.new_tier || ' (Qualification rules)</p>'"
                ),
            ),
        ],
    )


def write_floor_expiry(env):
    today = odoo.fields.Date.context_today(env["res.partner"])
    return write_floor(
        env,
        [
            SQL(
                """
            WITH lots AS (
                SELECT e.id, e.partner_id, e.company_id,
                       e.points - COALESCE((SELECT sum(a.points)
                                              FROM housekeeping_points_allocation a
                                             WHERE a.lot_entry_id = e.id), 0) AS remaining
                  FROM housekeeping_points_entry e
                 WHERE e.points > 0 AND e.expiry_date < %(today)s
            ), ins AS (
                INSERT INTO housekeeping_points_entry
                       (partner_id, company_id, points, entry_type, reason_code, date,
                        source_key, origin_entry_id)
                SELECT partner_id, company_id, -remaining, 'expire', 'expiry', %(today)s,
                       'wf:' || id, id
                  FROM lots WHERE remaining > 0
                RETURNING id, partner_id, points, origin_entry_id
            ), alloc AS (
                INSERT INTO housekeeping_points_allocation
                       (debit_entry_id, lot_entry_id, points, partner_id)
                SELECT id, origin_entry_id, -points, partner_id FROM ins
            )
            UPDATE res_partner p SET points_balance = p.points_balance + d.delta
              FROM (SELECT partner_id, sum(points) AS delta FROM ins GROUP BY partner_id) d
             WHERE p.id = d.partner_id
            """,
                today=today,
            )
        ],
    )


def floor_tiers(env):
    """The tier qualification query over every member, read only."""
    engine = env["housekeeping.engine.tier"]
    engine._tier_flush()
    today = odoo.fields.Date.context_today(engine)
    with QueryCounter(env.cr) as floor:
        env.cr.execute(engine._tier_query(today, only_changed=False))
        env.cr.fetchall()
    return floor


def naive_tiers(env, ids):
    """Per customer through the ORM: read the visits of the last 12 months, pick the
    highest tier qualified for, write it, log the change and post a chatter note."""
    partner = env["res.partner"]
    today = odoo.fields.Date.context_today(partner)
    start = today - relativedelta(months=12)
    tiers = env["housekeeping.tier"].search([], order="sequence desc")
    with QueryCounter(env.cr) as naive:
        for p in partner.browse(ids):
            visits = env["housekeeping.visit"].search(
                [("partner_id", "=", p.id), ("state", "=", "done"), ("date", ">=", start)]
            )
            spend, count = sum(visits.mapped("amount")), len(visits)
            tier = next(
                (t for t in tiers if spend >= t.min_spend and count >= t.min_visits),
                env["housekeeping.tier"],
            )
            if tier != p.membership_tier_id:
                env["housekeeping.tier.log"].create(
                    {
                        "partner_id": p.id,
                        "from_tier_id": p.membership_tier_id.id,
                        "to_tier_id": tier.id,
                        "date": today,
                        "trigger": "cron",
                    }
                )
                p.message_post(
                    body=f"Membership tier: {p.membership_tier_id.name} → {tier.name}",
                    subtype_xmlid="mail.mt_note",
                )
                with naive_writes(env):
                    p.membership_tier_id = tier
        env.flush_all()
    env.cr.rollback()
    return naive


# The RFM floor, hand-written: each customer's window read from the visits'
# (partner_id, date) index, each score as ceil(5 × share of the company's
# customers with a lower or equal value) from one histogram per axis. (Until
# 2026-12-02 it ranked the customers with cume_dist(), sorting them three times,
# as the engine did: at 1M those sorts spilled to disk and took most of the time.)
RFM_FLOOR = """
    WITH fm AS MATERIALIZED (
        SELECT p.id, p.visit_count AS vc, COALESCE(p.company_id, %(main)s) AS company_id,
               COALESCE(p.last_visit_date, 'infinity'::date) AS lvd, w.freq, w.money
          FROM res_partner p
         CROSS JOIN LATERAL (
               SELECT count(*) AS freq, COALESCE(sum(v.amount), 0) AS money
                 FROM housekeeping_visit v
                WHERE v.partner_id = p.id AND v.state = 'done'
                  AND v.date >= (SELECT %(now)s::timestamp
                                        - make_interval(months => COALESCE(rc.hk_rfm_window_months, 12))
                                   FROM res_company rc
                                  WHERE rc.id = COALESCE(p.company_id, %(main)s))) w
         WHERE p.visit_count > 0 AND p.active
    ), hr AS (
        SELECT company_id, lvd, sum(count(*)) OVER (PARTITION BY company_id ORDER BY lvd) AS le,
               sum(count(*)) OVER (PARTITION BY company_id) AS n
          FROM fm GROUP BY company_id, lvd
    ), hf AS (
        SELECT company_id, freq, sum(count(*)) OVER (PARTITION BY company_id ORDER BY freq) AS le,
               sum(count(*)) OVER (PARTITION BY company_id) AS n
          FROM fm GROUP BY company_id, freq
    ), hm AS (
        SELECT company_id, money, sum(count(*)) OVER (PARTITION BY company_id ORDER BY money) AS le,
               sum(count(*)) OVER (PARTITION BY company_id) AS n
          FROM fm GROUP BY company_id, money
    )
    SELECT fm.id, fm.vc, div(5 * hr.le + hr.n - 1, hr.n)::int AS r,
           div(5 * hf.le + hf.n - 1, hf.n)::int AS f, div(5 * hm.le + hm.n - 1, hm.n)::int AS m
      FROM fm
      JOIN hr ON hr.company_id = fm.company_id AND hr.lvd = fm.lvd
      JOIN hf ON hf.company_id = fm.company_id AND hf.freq = fm.freq
      JOIN hm ON hm.company_id = fm.company_id AND hm.money = fm.money
"""
# the scores as a count and a checksum: the floor's and the engine's must be the
# same scores of the same customers
RFM_CHECKSUM = "count(*), sum(hashtext(row(id, r, f, m)::text)::bigint)"


def floor_rfm(env, now):
    """``now``: Odoo's clock as the engine will see it (engine_rfm() pins it)."""
    with QueryCounter(env.cr) as floor:
        # (JIT off, as in the engine: compiling took 2.8 s at 1M, for no gain)
        env.cr.execute("SET LOCAL jit = off")
        env.cr.execute(
            SQL(f"SELECT {RFM_CHECKSUM} FROM ({RFM_FLOOR}) q", main=env.company.id, now=now)
        )
        floor.result = env.cr.fetchone()
    return floor


def write_floor_rfm(env, now):
    """The RFM floor, written: the score row of every customer in bare SQL (the
    same columns as the engine's, the segment from the same grid)."""
    return write_floor(
        env,
        [
            "SET LOCAL jit = off",
            SQL(
                """INSERT INTO housekeeping_partner_rfm
                          (partner_id, recency, frequency, monetary, segment)
                   SELECT q.id, q.r, q.f, q.m, %s FROM (%s) q""",
                env["housekeeping.engine.rfm"]._rfm_segment_sql(),
                SQL(RFM_FLOOR, main=env.company.id, now=now),
            ),
        ],
    )


def naive_rfm(env, ids):
    """Per customer through the ORM: read the visits of the window, then the
    quintiles in Python and one score row written per customer."""
    partner = env["res.partner"]
    scores = env["housekeeping.partner.rfm"]
    start = odoo.fields.Datetime.now() - relativedelta(months=12)
    with QueryCounter(env.cr) as naive:
        figures = {}
        for p in partner.browse(ids):
            visits = env["housekeeping.visit"].search(
                [("partner_id", "=", p.id), ("state", "=", "done"), ("date", ">=", start)]
            )
            figures[p] = (p.last_visit_date, len(visits), sum(visits.mapped("amount")))
        ranks = [sorted(figures, key=lambda p, i=i: figures[p][i] or 0) for i in range(3)]
        for p in figures:
            r, f, m = (1 + 5 * rank.index(p) // len(rank) for rank in ranks)
            values = {"recency": r, "frequency": f, "monetary": m}
            score = scores.search([("partner_id", "=", p.id)])
            if score:
                score.write(values)
            else:
                scores.create({"partner_id": p.id, **values})
        env.flush_all()
    env.cr.rollback()
    return naive


def naive_expiry(env, sample):
    """Per expired lot through the ORM: what is left of it, an expiry entry, the
    balance."""
    Entry = env["housekeeping.points.entry"].sudo()
    today = odoo.fields.Date.context_today(Entry)
    lots = Entry.search([("source_key", "=", "bench-naive")], limit=sample)
    with QueryCounter(env.cr) as naive:
        for lot in lots:
            used = sum(
                env["housekeeping.points.allocation"]
                .search([("lot_entry_id", "=", lot.id)])
                .mapped("points")
            )
            left = lot.points - used
            if left > 0:
                from odoo.addons.housekeeping_membership.models.trust import engine_writes  # noqa: PLC0415

                with engine_writes("points_ledger"):
                    debit = Entry.create(
                        {
                            "partner_id": lot.partner_id.id,
                            "company_id": lot.company_id.id,
                            "points": -left,
                            "entry_type": "expire",
                            "reason_code": "other",
                            "date": today,
                            "source_key": f"naive-{lot.id}",
                        }
                    )
                # (the model refuses create(): the ledger writes it; call the ORM's own)
                odoo.models.Model.create(
                    env["housekeeping.points.allocation"],
                    {
                        "debit_entry_id": debit.id,
                        "lot_entry_id": lot.id,
                        "points": left,
                        "partner_id": lot.partner_id.id,
                    },
                )
                with naive_writes(env):
                    lot.partner_id.points_balance -= left
        env.flush_all()
    env.cr.rollback()
    return naive, len(lots)


# the rows of the recommendations, as a count and a checksum (the floor's and the
# engine's must be the same rows, not only as many)
RECOMMENDATION_CHECKSUM = """
    count(*), sum(hashtext(row(partner_id, service_type_id, rank, score::float8, basis,
                               source_service_type_id, household_tag_id, support, percent,
                               season_month, season_years)::text)::bigint)
"""


def floor_recommendations(env, write=False):
    """The same result without batches: the engine's figures over the population,
    then its statement over every customer at once, counting the top 3 rows
    (``write``: inserting them all into the emptied table, in one statement, as the
    floor with writes of a first run). Returns the number of rows written, or the
    count and checksum of the rows read. (Until 2026-11-29 the floor was the
    textbook co-occurrence self-join alone, without the household, season and
    exclusion parts; the engine, counting per set of services, now runs in less.)"""
    Rec = env["housekeeping.recommendation"]
    today = odoo.fields.Date.context_today(Rec)
    Engine = env["housekeeping.engine.recommendation"]
    Engine._recommendation_stats()
    env.cr.execute("SELECT min(id), max(id) FROM res_partner")
    low, high = env.cr.fetchone()
    fresh = Engine._recommendation_fresh(today, low, high + 1)
    env.cr.execute("SET LOCAL jit = off")
    if write:
        env.cr.execute("DELETE FROM housekeeping_recommendation")
        env.cr.execute(
            SQL(
                """%s
                INSERT INTO housekeeping_recommendation
                       (partner_id, service_type_id, rank, score, basis,
                        source_service_type_id, household_tag_id, support, percent,
                        season_month, season_years,
                        create_uid, create_date, write_uid, write_date)
                SELECT partner_id, service_type_id, rank, score, basis,
                       source_service_type_id, household_tag_id, support, percent,
                       season_month, season_years,
                       %s, now() AT TIME ZONE 'UTC', %s, now() AT TIME ZONE 'UTC'
                  FROM fresh""",
                fresh,
                env.uid,
                env.uid,
            )
        )
        count = env.cr.rowcount
    else:
        env.cr.execute(SQL("%s SELECT %s FROM fresh", fresh, SQL(RECOMMENDATION_CHECKSUM)))
        count = env.cr.fetchone()
    env.cr.execute("DROP TABLE IF EXISTS hk_rec_pairs; DROP TABLE IF EXISTS hk_rec_tags")
    return count


def engine_recommendations(env, floor=True):
    """Top 3 services of every customer, against the floors above (rolled back)."""
    Rec = env["housekeeping.recommendation"]
    floor_run = wfloor_run = None
    if floor:
        with QueryCounter(env.cr) as floor_run:
            floor_count = floor_recommendations(env)
        env.cr.rollback()
        with QueryCounter(env.cr) as wfloor_run:
            floor_recommendations(env, write=True)
        env.cr.rollback()
    with QueryCounter(env.cr) as full:
        count = Rec._cron_recommend_services()
    if floor:
        env.cr.execute(f"SELECT {RECOMMENDATION_CHECKSUM} FROM housekeeping_recommendation")
        assert env.cr.fetchone() == floor_count, "the floor computes the same rows"
    # autovacuum visits a table that took that many inserts before the next night,
    # not during the rerun (without this, the rerun took 52.7 s in the bench at 1M
    # against 32-34 s measured alone, with or without a VACUUM before it: on two
    # cores an autovacuum started by the first run's inserts may run beside it)
    vacuum(env, "housekeeping_recommendation")
    with QueryCounter(env.cr) as rerun:
        Rec._cron_recommend_services()
    return floor_run, wfloor_run, full, rerun, count


def naive_recommendations(env, ids):
    """Per customer through the ORM: the services they used, the customers who used
    the same, what those bought, the top 3 written as records."""
    Visit = env["housekeeping.visit"]
    with QueryCounter(env.cr) as naive:
        for pid in ids:
            mine = set(
                Visit.search([("partner_id", "=", pid), ("state", "=", "done")])
                .mapped("service_type_id")
                .ids
            )
            # the customers who used the same services, as a subquery (a list of
            # their visits' ids does not fit in one statement at 1M customers)
            counts = Visit._read_group(
                [
                    ("partner_id.visit_ids.service_type_id", "in", list(mine)),
                    ("service_type_id", "not in", list(mine)),
                    ("state", "=", "done"),
                ],
                ["service_type_id"],
                ["partner_id:count_distinct"],
            )
            top = sorted(counts, key=lambda r: -r[1])[:3]
            env["housekeeping.recommendation"].search([("partner_id", "=", pid)]).unlink()
            env["housekeeping.recommendation"].create(
                [
                    {"partner_id": pid, "service_type_id": st.id, "rank": i + 1, "score": n}
                    for i, (st, n) in enumerate(top)
                ]
            )
        env.flush_all()
    env.cr.rollback()
    return naive


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
    (
        "report: cleaner quality per cleaner and service type",
        "housekeeping.cleaner.quality.report",
        [],
        ["employee_id", "service_type_id"],
        ["visit_count:sum", "rating:avg", "complaint_rate:avg"],
    ),
    (
        "report: cleaner scorecard per month",
        "housekeeping.report.cleaner",
        [],
        ["month:month"],
        ["visit_count:sum", "revenue:sum", "customer_count:sum"],
    ),
    (
        "report: points liability",
        "housekeeping.points.liability",
        [],
        ["company_id"],
        ["points:sum", "customer_count:sum"],
    ),
    (
        "report: prepaid balances",
        "housekeeping.report.prepaid.balance",
        [],
        ["company_id"],
        ["balance:sum", "principal:sum"],
    ),
    (
        "report: staff audit per user and month",
        "housekeeping.report.staff.audit",
        [],
        ["user_id", "month:month"],
        ["count:sum"],
    ),
)


def engine_prediction(env):
    """The nightly prediction (BG/NBD and Gamma-Gamma fits per company, every
    customer's figures) against its floor: the summary statement alone (read),
    then the three columns written on every customer with visits by one
    hand-written ``UPDATE`` (rolled back). The fits themselves (numpy and scipy)
    are the engine's own cost, above the floor."""
    engine = env["housekeeping.engine.prediction"]
    env.flush_all()
    with QueryCounter(env.cr) as summary:
        engine._prediction_summary(90)
    wfloor = write_floor(
        env,
        [
            """UPDATE res_partner
                  SET probability_alive = 0.5 + mod(id, 97) / 1000.0,
                      expected_visits_90d = mod(id, 13) / 3.0,
                      predicted_value_12m = mod(id, 1000) * 1.5
                WHERE active AND visit_count > 0"""
        ],
    )
    floor = type("Floor", (), {"seconds": summary.seconds + wfloor.seconds})()
    vacuum(env, "res_partner")
    with QueryCounter(env.cr) as full:
        engine._cron()
    with QueryCounter(env.cr) as rerun:
        engine._cron()
    return floor, full, rerun


def bench_reports(env):
    """Timings of the report views and of the dashboard, over everything."""
    results = []
    env.flush_all()
    for label, model, domain, groupby, aggregates in REPORT_QUERIES:
        with QueryCounter(env.cr) as run:
            groups = env[model]._read_group(domain, groupby, aggregates)
        results.append((f"{label} ({len(groups):,} groups)", run))
    with QueryCounter(env.cr) as run:
        env["housekeeping.dashboard"].get_dashboard_data()
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


FORM_SPEC = {
    "display_name": {},
    "visit_count": {},
    "total_spent": {},
    "last_visit_date": {},
    "lifecycle_stage": {},
    "lifecycle_days_in_stage": {},
    "points_balance": {},
    "membership_tier_id": {"fields": {"display_name": {}}},
    "tier_progress": {},
    "complaint_count": {},
    "hk_recommendation_ids": {"fields": {"service_type_id": {"fields": {"display_name": {}}}}},
    "visit_ids": {"fields": {"name": {}, "date": {}, "amount": {}, "state": {}}, "limit": 40},
    "points_entry_ids": {"fields": {"date": {}, "entry_type": {}, "points": {}}, "limit": 20},
}
LIST_SPEC = {
    "display_name": {},
    "phone": {},
    "visit_count": {},
    "total_spent": {},
    "last_visit_date": {},
    "lifecycle_stage": {},
    "membership_tier_id": {"fields": {"display_name": {}}},
    "points_balance": {},
}


def bench_loading(env):
    """What a service agent waits for: the customer form of the busiest customer,
    the first page of the customer list (80 rows, counted up to 10,000 as the web
    client does), and finding a caller by phone number."""
    env.cr.execute(
        "SELECT partner_id FROM housekeeping_visit GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    )
    busiest = env["res.partner"].browse(env.cr.fetchone()[0])
    phone = busiest.phone or "13900000001"
    Partner = env["res.partner"]
    runs = []
    for label, call in (
        ("customer form, busiest customer", lambda: busiest.web_read(FORM_SPEC)),
        (
            "customer list, first page of 80",
            lambda: Partner.web_search_read(
                [("visit_count", ">", 0)],
                LIST_SPEC,
                limit=80,
                order="last_visit_date desc, id desc",
                count_limit=10001,
            ),
        ),
        (
            # the search view's Phone field (phone_validation): trigram index on the
            # digits; name_search does not look at phones
            "find a caller by phone",
            lambda: Partner.search([("phone_mobile_search", "ilike", phone[-8:])], limit=8),
        ),
    ):
        call()  # warm the registry caches, as a running server has them
        env.invalidate_all()
        with QueryCounter(env.cr) as qc:
            call()
        runs.append((label, qc))
    return runs


class Table:
    """The engine table, in Markdown and as JSON (for the growth plot)."""

    def __init__(self):
        self.rows = []

    def add(self, key, label, run, floor=None, naive=None, wfloor=None):
        print(
            f"[bench] {label}: {run.seconds:.2f} s, {run.queries} queries"
            + (f", floor {floor.seconds:.2f} s" if floor else "")
            + (f", floor with writes {wfloor.seconds:.2f} s" if wfloor else "")
            + (f", naive {naive:.1f} s" if naive else "")
            + f", RSS {run.rss_start_mb:.0f} -> peak {run.rss_peak_mb:.0f} MB during the run",
            file=sys.stderr,
            flush=True,
        )
        self.rows.append(
            {
                "key": key,
                "label": label,
                "seconds": run.seconds,
                "queries": run.queries,
                "floor": floor.seconds if floor else None,
                "write_floor": wfloor.seconds if wfloor else None,
                "naive": naive,
                "rss_mb": run.rss_peak_mb,
                "rss_start_mb": run.rss_start_mb,
            }
        )

    def markdown(self):
        out = [
            "| engine | full run (s) | queries | floor SQL (s) | ratio to floor "
            "| floor with writes (s) | ratio to it "
            "| naive ORM, extrapolated (s) | speed-up vs naive "
            "| RSS at start → peak during the run (MB) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            floor = (
                f"{r['floor']:.2f} | {r['seconds'] / max(r['floor'], 1e-6):.2f}×"
                if r["floor"]
                else " | "
            )
            naive = (
                f"{r['naive']:.1f} | {r['naive'] / max(r['seconds'], 1e-6):.0f}×"
                if r["naive"]
                else " | "
            )
            wfloor = (
                f"{r['write_floor']:.2f} | {r['seconds'] / max(r['write_floor'], 1e-6):.2f}×"
                if r.get("write_floor")
                else " | "
            )
            out.append(
                f"| {r['label']} | {r['seconds']:.2f} | {r['queries']} | {floor} | {wfloor} | {naive} "
                f"| {r['rss_start_mb']:.0f} → {r['rss_mb']:.0f} |"
            )
        return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--scale", default="small", choices=SCALES)
    parser.add_argument(
        "--sample",
        type=int,
        default=1000,
        help="customers the naive loops run on, drawn at random over the population",
    )
    parser.add_argument(
        "--no-recommendation-floor",
        action="store_true",
        help="skip the one-statement recommendation floor",
    )
    parser.add_argument(
        "--resume-from",
        choices=["rfm", "tiers", "recommendations", "expiry", "prediction", "reports"],
        help="continue an interrupted run on its database: no generation, the engines "
        "before this one are skipped",
    )
    parser.add_argument(
        "--only",
        help="comma-separated steps to measure (stats, lifecycle, rfm, tiers, "
        "recommendations, expiry, prediction, reports, dispatch, plans, prepaid) after the generation; the statistics step "
        "fills the figures the others read",
    )
    args = parser.parse_args()
    odoo.tools.config.parse_config(["-c", args.config, "-d", args.database, "--log-level=warn"])
    customers, per_customer, cleaners = SCALES[args.scale]
    registry = Registry(args.database)
    out = []
    table = Table()
    sample = args.sample
    rng = random.Random(0)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
        steps = [
            "stats",
            "lifecycle",
            "rfm",
            "tiers",
            "recommendations",
            "expiry",
            "prediction",
            "reports",
            "dispatch",
            "plans",
            "prepaid",
        ]
        start = steps.index(args.resume_from) if args.resume_from else 0

        only = set(args.only.split(",")) if args.only else set(steps)
        if only - set(steps):
            parser.error(f"unknown steps: {', '.join(sorted(only - set(steps)))}")

        def todo(step):
            return steps.index(step) >= start and step in only

        if args.resume_from:
            cr.execute(
                "SELECT min(id), max(id) FROM res_partner WHERE name LIKE 'Bench Customer %%'"
            )
            pmin, pmax = cr.fetchone()
            cr.execute("SELECT count(*) FROM housekeeping_visit")
            visits, gen_s = cr.fetchone()[0], 0.0
        else:
            pmin, pmax, visits, gen_s = generate(env, customers, per_customer, cleaners)
            if "housekeeping.visit.fact" in env:
                # the generator writes the visits in SQL: their facts in one pass,
                # as the upgrade to the facts does (the visit reports read them)
                started = time.perf_counter()
                env["housekeeping.visit.fact"]._hk_rebuild()
                built = time.perf_counter()
                env["housekeeping.report.cleaner.customers"]._refresh()
                print(
                    f"[bench] visit facts built in {built - started:.1f} s, the cleaner "
                    f"scorecard's customers in {time.perf_counter() - built:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
        cr.commit()
        population = pmax - pmin + 1
        print(f"[bench] generated {visits:,} visits in {gen_s:.1f} s", file=sys.stderr, flush=True)

        # The naive loops run on customers drawn over the whole population (seeded):
        # until 2026-11-29 they took the first 200 ids, whose visits and rows share
        # pages, and the loops ran on a warm cache (0.72-0.91 ms per customer for the
        # RFM loop at 1M, 1.11-1.21 ms on 1,000 customers drawn at random).
        sample_ids = sorted(rng.sample(range(pmin, pmax + 1), min(sample, population)))

        def extrapolate(run):
            return run.seconds * population / len(sample_ids)

        out.append(
            f"Scale `{args.scale}`: {customers:,} customers, {visits:,} done visits, "
            f"{cleaners} cleaners; generated in {gen_s:.1f} s. "
            f"Machine: {platform.machine()}, {platform.python_implementation()} "
            f"{platform.python_version()}, {__import__('os').cpu_count()} cores.\n"
        )
        if todo("stats"):
            full, rerun, incremental, floor, naive_total, stats_wfloor = engine_visit_stats(
                env, pmin, pmax, sample_ids
            )
            cr.commit()
            table.add(
                "stats", "visit statistics, first run", full, floor, naive_total, stats_wfloor
            )
            table.add(
                "stats_rerun",
                "visit statistics, rerun (nothing changed)",
                rerun,
                floor,
                naive_total,
            )
            table.add("stats_1pct", "visit statistics, 1% of customers", incremental)
            # The population was analysed before the statistics engine filled
            # visit_count; refresh the planner's statistics as autovacuum would
            # (committed: a naive loop's rollback would take them back, and the
            # next floor planned on "no member" ran for minutes instead of seconds)
            cr.execute("ANALYZE res_partner")
            cr.commit()
        if todo("lifecycle"):
            lc_wfloor = write_floor_lifecycle(env)
            # the naive loop first, while every customer still has its stage to set
            # (it rolls back)
            lc_naive = extrapolate(naive_lifecycle(env, sample_ids))
            vacuum(env, "res_partner", "mail_message", "housekeeping_stage_log")
            lc_floor, lc_full, lc_rerun, lc_rows, lc_changed = engine_lifecycle(env)
            cr.commit()
            table.add(
                "lifecycle",
                f"lifecycle, first run ({lc_changed:,} of {lc_rows:,} change)",
                lc_full,
                lc_floor,
                lc_naive,
                lc_wfloor,
            )
            table.add(
                "lifecycle_rerun",
                "lifecycle, rerun (nobody due)",
                lc_rerun,
                lc_floor,
                lc_naive,
            )
            lc_inc, lc_inc_changed = incremental_lifecycle(env, pmin, pmax)
            cr.commit()
            table.add(
                "lifecycle_1pct",
                f"lifecycle, 1% of customers visited ({lc_inc_changed:,} change)",
                lc_inc,
            )
        if todo("rfm"):
            rfm_now = odoo.fields.Datetime.now()
            rfm_floor = floor_rfm(env, rfm_now)
            rfm_wfloor = write_floor_rfm(env, rfm_now)
            vacuum(env, "housekeeping_partner_rfm")
            rfm_full, rfm_rerun = engine_rfm(env, rfm_floor, rfm_now)
            cr.commit()
            rfm_naive = extrapolate(naive_rfm(env, sample_ids))
            table.add("rfm", "RFM segments, first run", rfm_full, rfm_floor, rfm_naive, rfm_wfloor)
            table.add("rfm_rerun", "RFM segments, rerun", rfm_rerun, rfm_floor, rfm_naive)
        if todo("tiers"):
            tier_floor = floor_tiers(env)
            tier_naive = extrapolate(naive_tiers(env, sample_ids))
            tier_wfloor = write_floor_tiers(env)
            vacuum(env, "res_partner", "mail_message", "housekeeping_tier_log")
            tier_full, tier_rerun = engine_tiers(env)
            cr.commit()
            table.add("tiers", "tiers, first run", tier_full, tier_floor, tier_naive, tier_wfloor)
            table.add(
                "tiers_rerun", "tiers, rerun (nothing changes)", tier_rerun, tier_floor, tier_naive
            )
        if todo("recommendations"):
            rec_floor, rec_wfloor, rec_full, rec_rerun, rec_count = engine_recommendations(
                env, floor=not args.no_recommendation_floor
            )
            cr.commit()
            # the naive loop reads every visit of the customers' services for each
            # customer: a few customers are enough to extrapolate
            rec_ids = sample_ids[:: max(1, len(sample_ids) // 5)][:5]
            rec_naive = naive_recommendations(env, rec_ids).seconds * population / len(rec_ids)
            table.add(
                "recommendations",
                f"recommendations ({rec_count:,} rows)",
                rec_full,
                rec_floor,
                rec_naive,
                rec_wfloor,
            )
            table.add(
                "recommendations_rerun", "recommendations, rerun", rec_rerun, rec_floor, rec_naive
            )
        if todo("expiry"):
            px_floor, px_full, px_rerun, px_count, px_wfloor = engine_points_expiry(env, pmin, pmax)
            cr.commit()
            table.add(
                "expiry", f"points expiry ({px_count:,} lots)", px_full, px_floor, wfloor=px_wfloor
            )
            table.add(
                "expiry_rerun", "points expiry, rerun (nothing to expire)", px_rerun, px_floor
            )
            # the naive loop needs lots still to expire: make a fresh sample of them
            cr.execute(
                """
                INSERT INTO housekeeping_points_entry
                       (partner_id, company_id, points, entry_type, reason_code, date,
                        expiry_date, source_key)
                SELECT id, %s, 100, 'earn', 'other', DATE '2024-01-01', DATE '2025-01-01',
                       'bench-naive'
                  FROM unnest(%s::int[]) AS id
                """,
                [env.company.id, sample_ids],
            )
            px_naive, px_sample = naive_expiry(env, len(sample_ids))
            table.rows[-2]["naive"] = table.rows[-1]["naive"] = (
                px_naive.seconds * px_count / max(px_sample, 1)
            )
        if todo("prediction"):
            pr_floor, pr_full, pr_rerun = engine_prediction(env)
            cr.commit()
            table.add("prediction", "prediction (BG/NBD, Gamma-Gamma), nightly", pr_full, pr_floor)
            table.add("prediction_rerun", "prediction, rerun (same day)", pr_rerun, pr_floor)
        if todo("reports"):
            # the retention cohorts are a snapshot made by a nightly action: its run
            # reads every done visit (what the report's view did at each opening)
            with QueryCounter(env.cr) as cohort_refresh:
                cells = env["housekeeping.report.cohort"]._cron_refresh()
            table.add(
                "cohort_refresh",
                f"retention cohorts, nightly snapshot ({cells:,} cells)",
                cohort_refresh,
            )
            for label, run in bench_reports(env):
                table.add("report", label, run)
            cr.commit()
        if todo("dispatch"):
            d_run, d_floor, d_lower = bench_dispatch(env, QueryCounter, pmin, pmax)
            cr.rollback()
            table.add(
                "dispatch",
                f"auto-assign a day: {DISPATCH_VISITS:,} visits, {DISPATCH_CLEANERS} cleaners "
                f"({len(d_run.assigned):,} assigned; floor: the same scores, no explanations)",
                d_run,
                d_floor,
            )
            table.add("dispatch_lower", "auto-assign, lower bound: first free, no rules", d_lower)
        if todo("plans"):
            p_first, p_rerun, p_floor = bench_plans(env, QueryCounter, pmin, pmax)
            cr.rollback()
            table.add(
                "plans",
                f"service plan cron, {PLANS:,} plans, first run ({p_first.created:,} visits; "
                f"floor {p_floor.created:,})",
                p_first,
                p_floor,
            )
            table.add(
                "plans_rerun", "service plan cron, rerun (nothing to create)", p_rerun, p_floor
            )
        if todo("prepaid"):
            pp_run, pp_floor, pp_rerun, pp_back = bench_prepaid(env, QueryCounter, pmin, pmax)
            cr.rollback()
            table.add(
                "prepaid",
                f"prepaid: {PREPAID_VISITS:,} visits paid from the balance, done in one batch",
                pp_run,
                pp_floor,
            )
            table.add("prepaid_rerun", "prepaid, rerun (nothing left to pay)", pp_rerun, pp_floor)
            table.add("prepaid_cancel", "prepaid, the same visits cancelled (credit back)", pp_back)
        out.extend(table.markdown())
        out.append("")
        out.append("| completing one visit | queries | time (ms) | visits of the customer |")
        out.append("|---|---|---|---|")
        for label, (qc, n) in bench_visit_done(env, pmin).items():
            out.append(f"| {label} | {qc.queries} | {qc.seconds * 1000:.1f} | {n} |")
        out.append("")
        out.append("| loading | queries | time (ms) |")
        out.append("|---|---|---|")
        for label, qc in bench_loading(env):
            print(f"[bench] {label}: {qc.seconds * 1000:.1f} ms, {qc.queries} queries")
            out.append(f"| {label} | {qc.queries} | {qc.seconds * 1000:.1f} |")
        cr.rollback()
    text = "\n".join(out)
    print(text)
    cache = args.config.rsplit("/", 1)[0]
    with contextlib.suppress(OSError):
        with open(f"{cache}/bench-{args.scale}.md", "w") as fh:
            fh.write(text + "\n")
        with open(f"{cache}/bench-{args.scale}.json", "w") as fh:
            json.dump(
                {"scale": args.scale, "customers": customers, "rows": table.rows}, fh, indent=1
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
