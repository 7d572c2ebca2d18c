"""Bench step of prepaid balances (called by tools/bench.py, step ``prepaid``):
10,000 visits paid from the prepaid balance, of 10,000 customers, marked done in
one batch: the prepaid step of the pipeline (``housekeeping.engine.prepaid
._visits_done``: the candidates read, the eWallets found and locked, balances
checked, principal and bonus split, entries, eWallet history lines and balances
written), then its rerun (nothing left to pay) and the cancellation's credit back.

Floor: one hand-written statement doing the same writes (the cards locked in id
order, one ledger entry and one history line per visit, the split, the balances
updated), without the check of a visit already paid, the check of the balances
or the error message.
"""

from datetime import timedelta

from odoo import fields
from odoo.tools import SQL

PREPAID_VISITS = 10_000
ROUNDS = 3

FLOOR = """
WITH v AS (
    SELECT id, partner_id, amount, name FROM housekeeping_visit WHERE id = ANY(%(ids)s)
), locked AS (
    SELECT c.id, c.partner_id, c.points, c.hk_bonus FROM loyalty_card c
     WHERE c.program_id = %(program)s AND c.active
       AND c.partner_id IN (SELECT partner_id FROM v)
     ORDER BY c.id FOR NO KEY UPDATE
), src AS MATERIALIZED (
    SELECT nextval('housekeeping_prepaid_entry_id_seq') AS id,
           nextval('loyalty_history_id_seq') AS history_id,
           v.id AS visit_id, l.id AS card_id, v.partner_id, v.name, -v.amount AS amount,
           -round((v.amount * l.hk_bonus / NULLIF(l.points, 0))::numeric, 2) AS bonus
      FROM v JOIN locked l ON l.partner_id = v.partner_id
), e AS (
    INSERT INTO housekeeping_prepaid_entry
           (id, card_id, partner_id, company_id, date, entry_type, amount, principal, bonus,
            visit_id, history_id, user_id, create_uid, create_date, write_uid, write_date)
    SELECT id, card_id, partner_id, %(company)s, now(), 'spend', amount,
           amount - COALESCE(bonus, 0), COALESCE(bonus, 0), visit_id, history_id, 1, 1, now(),
           1, now()
      FROM src
), h AS (
    INSERT INTO loyalty_history (id, card_id, description, issued, used, order_model,
                                 order_id, create_uid, create_date, write_uid, write_date)
    SELECT history_id, card_id, 'Visit ' || name, 0, -amount, 'housekeeping.prepaid.entry',
           id, 1, now(), 1, now()
      FROM src
)
UPDATE loyalty_card c
   SET points = c.points + t.amount, hk_bonus = c.hk_bonus + t.bonus
  FROM (SELECT card_id, sum(amount) AS amount, sum(COALESCE(bonus, 0)) AS bonus
          FROM src GROUP BY card_id) t
 WHERE c.id = t.card_id
"""


def bench_prepaid(env, QueryCounter, pmin, pmax):
    """(engine run, floor, rerun, credit back) for ``PREPAID_VISITS`` visits."""
    cr = env.cr
    engine = env["housekeeping.engine.prepaid"]
    company = env.company
    partner_ids = list(range(pmin, min(pmax, pmin + PREPAID_VISITS - 1) + 1))
    # every customer tops up 1,000 with a bonus of 200 (one statement)
    engine._opening_balances(dict.fromkeys(partner_ids, 1000.0), company, "bench")
    cr.execute(
        SQL(
            "UPDATE loyalty_card SET points = points + 200, hk_bonus = 200 "
            "WHERE program_id = %s AND partner_id = ANY(%s)",
            engine._program(company).id,
            partner_ids,
        )
    )
    service = env.ref("housekeeping_membership.service_type_hourly").id
    when = fields.Datetime.now() - timedelta(days=1)
    cr.execute(
        SQL(
            """INSERT INTO housekeeping_visit
                      (name, partner_id, service_type_id, company_id, date, amount,
                       payment_method, state, done_date, duration, tier_sequence,
                       create_uid, create_date, write_uid, write_date)
               SELECT 'BENCH-PREPAID-' || p, p, %s, %s, %s, 120, 'prepaid', 'done', %s, 2, 0,
                      1, now(), 1, now()
                 FROM unnest(%s::int4[]) AS p
               RETURNING id""",
            service,
            company.id,
            when,
            when,
            partner_ids,
        )
    )
    visit_ids = [row[0] for row in cr.fetchall()]
    cr.execute("ANALYZE loyalty_card")
    cr.execute("ANALYZE housekeeping_visit")
    visits = env["housekeeping.visit"].browse(visit_ids)
    program_id = engine._program(company).id

    def measure_floor():
        env.invalidate_all()
        with cr.savepoint(flush=False) as sp, QueryCounter(cr) as floor:
            cr.execute(SQL(FLOOR, ids=visit_ids, program=program_id, company=company.id))
            sp.rollback()
        return floor

    def measure_run(keep):
        env.invalidate_all()
        with cr.savepoint(flush=False) as sp, QueryCounter(cr) as run:
            entries = engine._visits_done(visits)
            if not keep:
                sp.rollback()
        assert len(entries) == len(visit_ids), "every visit is paid"
        return run

    # the machine is shared: floor and engine in turn, ROUNDS times, the best of each
    floors, runs = [], []
    for round_no in range(ROUNDS):
        floors.append(measure_floor())
        runs.append(measure_run(keep=round_no == ROUNDS - 1))
    floor = min(floors, key=lambda r: r.seconds)
    run = min(runs, key=lambda r: r.seconds)
    env.invalidate_all()
    with QueryCounter(cr) as rerun:
        again = engine._visits_done(visits)
    assert not again, "a visit is paid once"
    env.invalidate_all()
    with QueryCounter(cr) as back:
        credits = engine._visits_cancelled(visits)
    assert len(credits) == len(visit_ids), "every payment is credited back"
    return run, floor, rerun, back
