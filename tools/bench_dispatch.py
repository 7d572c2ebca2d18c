"""Bench steps of dispatch and service plans (called by tools/bench.py, steps
``dispatch`` and ``plans``), each against a hand-written floor:

- dispatch: auto-assigning a day of 5,000 unassigned visits over 500 cleaners
  (``housekeeping.engine.dispatch._auto_assign``: scores with preferences,
  blocks, continuity, districts, workload, buffers, priority order). Floor: the
  same visits and calendars read in two queries, each visit given the first
  cleaner free in its slot (no scoring, no explanation), one UPDATE.
- plans: the plan cron (``housekeeping.engine.service_plan._run``) over 100,000
  weekly plans with their cleaner, creating each plan's visits of the next four
  weeks, then a rerun (nothing to create). Floor: one hand-written INSERT … SELECT
  of the same visits (days of the horizon filtered by weekday and week, named
  from the sequence), without skipped dates, holidays, the once-only check, the
  count limit or the cleaners' clashes.
"""

import heapq
import random
from datetime import datetime, timedelta

from odoo import fields
from odoo.tools import SQL

DISPATCH_VISITS = 5_000
DISPATCH_CLEANERS = 500
PLANS = 100_000
PLAN_CLEANERS = 1_000


def _cleaners(env, n, prefix):
    districts = ["朝阳区", "海淀区", "东城区", "西城区"]
    employees = (
        env["hr.employee"]
        .with_context(tracking_disable=True, mail_create_nolog=True, mail_notrack=True)
        .create(
            [
                {
                    "name": f"{prefix}{i}",
                    "company_id": env.company.id,
                    "hk_district": districts[i % 4],
                }
                for i in range(n)
            ]
        )
    )
    env.flush_all()
    return employees.ids


def bench_dispatch(env, QueryCounter, pmin, pmax):
    """(engine run, the same scoring without explanations, a rule-less lower bound)."""
    cr = env.cr
    rng = random.Random(7)
    emp_ids = _cleaners(env, DISPATCH_CLEANERS, "Bench Dispatch ")
    # tomorrow, 08:00-18:00 in Shanghai (00:00-10:00 UTC), 1-3 hours each
    day = datetime.combine(fields.Date.today() + timedelta(days=1), datetime.min.time())
    partner_ids = [rng.randint(pmin, pmax) for _i in range(DISPATCH_VISITS)]
    starts = [day + timedelta(minutes=30 * rng.randint(0, 20)) for _i in range(DISPATCH_VISITS)]
    durations = [rng.choice((1.0, 2.0, 2.0, 3.0)) for _i in range(DISPATCH_VISITS)]
    service = env.ref("housekeeping_membership.service_type_hourly").id
    cr.execute(
        SQL(
            """
        INSERT INTO housekeeping_visit (name, partner_id, service_type_id, company_id, date,
                                        duration, state, tier_sequence)
        SELECT 'BENCH-D' || t.k, t.p, %s, %s, t.d, t.h, 'scheduled', 0
          FROM unnest(%s::int4[], %s::timestamp[], %s::float8[]) WITH ORDINALITY
               AS t(p, d, h, k)
        RETURNING id
        """,
            service,
            env.company.id,
            partner_ids,
            starts,
            durations,
        )
    )
    visit_ids = [row[0] for row in cr.fetchall()]
    # some customers prefer or block a cleaner
    cr.execute(
        SQL(
            """
        INSERT INTO hk_partner_preferred_employee_rel (partner_id, employee_id)
        SELECT DISTINCT p, (%s::int4[])[1 + (p %% %s)] FROM unnest(%s::int4[]) p WHERE p %% 10 = 0
        ON CONFLICT DO NOTHING
        """,
            emp_ids,
            len(emp_ids),
            partner_ids,
        )
    )
    cr.execute(
        SQL(
            """
        INSERT INTO hk_partner_blocked_employee_rel (partner_id, employee_id)
        SELECT DISTINCT p, (%s::int4[])[1 + ((p + 7) %% %s)] FROM unnest(%s::int4[]) p WHERE p %% 20 = 0
        ON CONFLICT DO NOTHING
        """,
            emp_ids,
            len(emp_ids),
            partner_ids,
        )
    )
    cr.execute("ANALYZE housekeeping_visit")
    visits = env["housekeeping.visit"].browse(visit_ids)
    env.invalidate_all()

    with cr.savepoint(flush=False) as sp, QueryCounter(cr) as floor:
        floor.assigned = _dispatch_floor(env, visits)
        sp.rollback()
    env.invalidate_all()
    with cr.savepoint(flush=False) as sp, QueryCounter(cr) as lower:
        lower.assigned = _first_free(env, visit_ids, emp_ids)
        sp.rollback()
    env.invalidate_all()
    with QueryCounter(cr) as run:
        run.assigned = env["housekeeping.engine.dispatch"]._auto_assign(visits)
    cr.execute(SQL("SELECT id, employee_id FROM housekeeping_visit WHERE id = ANY(%s)", visit_ids))
    assert dict(cr.fetchall()) == _dispatch_floor.result, "the floor assigns the same cleaners"
    return run, floor, lower


def _dispatch_floor(env, visits):
    """The same scored assignment, nothing else: the board (its five reads, the
    numpy scores), the greedy order, one UPDATE of the cleaner; no explanation
    is formatted or written."""
    board = env["housekeeping.engine.dispatch"]._board(visits)
    order = sorted(
        range(len(board.visit_ids)),
        key=lambda i: (-board.tier[i], board.start[i] or 0, board.visit_ids[i]),
    )
    chosen = {}
    for i in order:
        ranked = board.rank(i, 1)
        if ranked:
            chosen[board.visit_ids[i]] = board.emp_ids[ranked[0][0]]
            board.book(i, ranked[0][0])
    env.cr.execute(
        SQL(
            """UPDATE housekeeping_visit v SET employee_id = a.e
                 FROM unnest(%s::int4[], %s::int4[]) AS a(id, e) WHERE v.id = a.id""",
            list(chosen),
            list(chosen.values()),
        )
    )
    _dispatch_floor.result = {vid: chosen.get(vid) for vid in board.visit_ids}
    return len(chosen)


def _first_free(env, visit_ids, emp_ids):
    """A lower bound with no rule at all: visits by start, each to the cleaner
    free the longest (a heap of the cleaners' end times), one UPDATE."""
    cr = env.cr
    cr.execute(
        SQL(
            """SELECT id, date, date + duration * interval '1 hour' FROM housekeeping_visit
                WHERE id = ANY(%s) ORDER BY date, id""",
            visit_ids,
        )
    )
    visits = cr.fetchall()
    heap = [(visits[0][1] - timedelta(days=1), emp) for emp in emp_ids]
    heapq.heapify(heap)
    chosen_v, chosen_e = [], []
    for vid, start, end in visits:
        free_at, emp = heap[0]
        if free_at <= start:
            heapq.heapreplace(heap, (end, emp))
            chosen_v.append(vid)
            chosen_e.append(emp)
    cr.execute(
        SQL(
            """UPDATE housekeeping_visit v SET employee_id = a.e
                 FROM unnest(%s::int4[], %s::int4[]) AS a(id, e) WHERE v.id = a.id""",
            chosen_v,
            chosen_e,
        )
    )
    return len(chosen_v)


def bench_plans(env, QueryCounter, pmin, pmax):
    """(engine first run, engine rerun, floor)."""
    cr = env.cr
    emp_ids = _cleaners(env, PLAN_CLEANERS, "Bench Plan ")
    today = fields.Date.today()
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    service = env.ref("housekeeping_membership.service_type_hourly").id
    population = pmax - pmin + 1
    # plan k: cleaner k % 1000, weekday, 2-hour slot and week of four, every four
    # weeks: no two plans share a cleaner's slot
    cr.execute(
        SQL(
            """
        INSERT INTO housekeeping_service_plan
               (name, partner_id, service_type_id, employee_id, company_id, active, paused,
                rhythm, interval, month_day, month_week, time_start, duration, amount,
                date_start, skip_holidays, create_uid, create_date, write_uid, write_date)
        SELECT 'Bench plan ' || k, %(pmin)s + k %% %(population)s, %(service)s,
               (%(emps)s::int4[])[1 + k %% %(n_emps)s], %(company)s, TRUE, FALSE,
               'weekly', 4, 1, '1', 8 + 2 * ((k / 7000) %% 5), 2, 150,
               %(monday)s::date + 7 * ((k / 35000) %% 4), TRUE, 1, now(), 1, now()
          FROM generate_series(0, %(plans)s - 1) k
        RETURNING id
        """,
            pmin=pmin,
            population=population,
            service=service,
            emps=emp_ids,
            n_emps=len(emp_ids),
            company=env.company.id,
            monday=monday,
            plans=PLANS,
        )
    )
    plan_ids = [row[0] for row in cr.fetchall()]
    cr.execute(
        SQL(
            """
        INSERT INTO hk_plan_weekday_rel (plan_id, weekday_id)
        SELECT p.id, w.id
          FROM unnest(%s::int4[]) WITH ORDINALITY AS p(id, k)
          JOIN housekeeping_weekday w ON w.number = 1 + ((p.k - 1) / %s) %% 7
        """,
            plan_ids,
            len(emp_ids),
        )
    )
    cr.execute("ANALYZE housekeeping_service_plan")
    cr.execute("ANALYZE hk_plan_weekday_rel")
    env.invalidate_all()
    engine = env["housekeeping.engine.service_plan"]
    with cr.savepoint(flush=False) as sp, QueryCounter(cr) as floor:
        floor.created = _plans_floor(env, plan_ids)
        sp.rollback()
    with QueryCounter(cr) as first:
        first.created = engine._run()
    with QueryCounter(cr) as rerun:
        rerun.created = engine._run()
    return first, rerun, floor


def _plans_floor(env, plan_ids):
    today = fields.Date.today()
    now = fields.Datetime.now()
    name_sql, _seq = env["housekeeping.engine.service_plan"]._visit_name_sql()
    env.cr.execute("SET LOCAL jit = off")
    env.cr.execute(
        SQL(
            """
        INSERT INTO housekeeping_visit
               (name, partner_id, service_type_id, date, duration, employee_id, company_id,
                amount, state, plan_id, plan_occurrence, tier_sequence)
        SELECT %(name)s, pl.partner_id, pl.service_type_id,
               ((d::date + make_interval(secs => pl.time_start * 3600))
                   AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'UTC',
               pl.duration, pl.employee_id, pl.company_id, pl.amount, 'scheduled', pl.id,
               d::date, 0
          FROM housekeeping_service_plan pl
          JOIN hk_plan_weekday_rel r ON r.plan_id = pl.id
          JOIN housekeeping_weekday w ON w.id = r.weekday_id
          CROSS JOIN generate_series(GREATEST(pl.date_start, %(today)s::date),
                                     %(today)s::date + 28, interval '1 day') d
         WHERE pl.id = ANY(%(plans)s)
           AND extract(isodow FROM d)::int = w.number
           AND ((d::date - date_trunc('week', pl.date_start)::date) / 7) %% pl.interval = 0
           AND ((d::date + make_interval(secs => pl.time_start * 3600))
                   AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'UTC' > %(now)s
        """,
            name=name_sql,
            today=today,
            now=now,
            plans=plan_ids,
        )
    )
    return env.cr.rowcount
