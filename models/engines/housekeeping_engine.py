import contextlib

from odoo import api, fields, models
from odoo.tools import SQL

from ..trust import engine_writes


class HousekeepingEngine(models.AbstractModel):
    """What every membership engine shares, written once: the batch loop with a
    persistent position and the scheduler's progress (``_batches``), the keyset
    over a population's candidates (``_chunks``), the cron entry point that opens
    the trust guard for the fields the engine owns (``_cron``), and which
    company's settings apply to a customer (``_main_company``).

    An engine is a small model of its own in this folder, inheriting this one,
    with ``_engine_key`` (its position row), ``_engine_batch_param`` (the system
    parameter of its batch size), ``_engine_fields`` (the ``res.partner`` fields
    it alone writes) and ``_run()`` (one pass, or one call of a pass). Odoo's own
    precedent: crm's predictive scoring (``crm.lead.scoring.frequency``).

    Engines not moved here yet reach the same machinery through
    ``res.partner._hk_run_batches`` / ``_hk_run_chunks``.
    """

    _name = "housekeeping.engine"
    _description = "Membership Engine"

    _engine_key = None
    _engine_batch_param = None
    _engine_batch_default = 5000
    _engine_fields = ()

    # ------------------------------------------------------------------ entry point
    @api.model
    def _cron(self):
        """The scheduled action's entry point: one pass (or, inside the scheduler,
        one call of a pass), with the trust guard open for the engine's fields."""
        guard = (
            engine_writes(*self._engine_fields) if self._engine_fields else contextlib.nullcontext()
        )
        with guard:
            return self._run()

    @api.model
    def _run(self):
        raise NotImplementedError

    # ------------------------------------------------------------------ settings
    @api.model
    def _main_company(self):
        """The company whose settings apply to customers without a company of their
        own (the same rule for every engine: ``res.partner._hk_main_company``)."""
        return self.env["res.partner"]._hk_main_company()

    # ------------------------------------------------------------------ batches
    @api.model
    def _batches(self, engine, batch_param, steps, default=5000, on_finish=None):
        """Run a set-based engine batch by batch, in passes that survive the calls
        of the scheduler.

        ``steps`` is a step, or a list of ``(stage key, step)`` run in turn in one
        pass (the journeys of a run, the VIP tags then the callbacks).
        ``step(limit, after)`` processes at most ``limit`` candidates of id above
        ``after`` (keyset) and returns ``(taken, done, more, last)``: the candidates
        gone through, the rows changed, whether candidates are left, the id of the
        last candidate. ``on_finish(done, started)`` runs when the pass reaches the
        end, in the transaction of its last batch, with the rows the whole pass
        changed and the day it started.

        Inside the scheduler (``ir_cron_progress_id`` in the context) each batch
        commits together with the engine's position (``housekeeping.engine.position``
        ``engine``) and reports the candidates it went through
        (``ir.cron._commit_progress``); when the call's time is spent, the next
        call continues the pass after the last batch committed, never from the
        first customer, and a crash loses one batch at most. Called directly (tests,
        a button), a whole pass runs in the caller's transaction, from the start,
        without reading or writing the position. Returns the rows changed by this
        call."""
        # (at least one row: a batch of none would never move the position)
        batch = max(
            int(
                self.env["ir.config_parameter"]
                .sudo()
                .get_param(f"housekeeping_membership.{batch_param}", default)
            ),
            1,
        )
        stages = steps if isinstance(steps, list) else [("", steps)]
        keys = [key for key, _step in stages]
        in_cron = bool(self.env.context.get("ir_cron_progress_id"))
        index, after, started, pass_done = 0, 0, fields.Date.context_today(self), 0
        position = None
        if in_cron:
            position = self.env["housekeeping.engine.position"]._hk_resume(engine)
            started, pass_done = position.pass_started, position.done_count
            if position.after_id or position.stage:
                # a stage gone since (a journey archived): the pass starts again
                # (idempotent), rather than skip what it had not reached
                if (position.stage or "") in keys:
                    index, after = keys.index(position.stage or ""), position.after_id
        total = unreported = 0
        while index < len(stages):
            taken, done, more, last = stages[index][1](batch, after)
            total += done
            pass_done += done
            unreported += taken
            if more:
                after = last
            else:
                index, after = index + 1, 0
            finished = index == len(stages)
            if finished and on_finish:
                on_finish(pass_done, started)
            if position is not None:
                position.write(
                    {
                        "stage": False if finished else keys[index] or False,
                        "after_id": after,
                        "done_count": pass_done,
                        "finished": finished,
                    }
                )
            # what a batch loaded (partners, messages, activities) is not needed
            # by the next one: memory stays flat whatever the population
            self.env.flush_all()
            self.env.invalidate_all()
            # (an empty stage is not reported: "nothing done, work left" would end
            # the scheduler's run as partly done)
            if in_cron and (unreported or finished):
                time_left = self.env["ir.cron"]._commit_progress(
                    unreported, remaining=0 if finished else 1
                )
                unreported = 0
                if time_left <= 0:
                    break
        return total

    @api.model
    def _chunks(self, engine, batch_param, rule_query, evaluate, default=5000, table="res_partner"):
        """Like ``_batches`` for engines whose rules cover the whole
        population: ``rule_query()`` (flushes what it reads and) returns a query
        whose ``id`` column lists the candidates: the rows to change, or a cheaper
        superset of them (the customers due, every member); each batch takes the
        next candidates by id after the last batch's (keyset, kept in the engine's
        position between the scheduler's calls: one pass over the candidates in
        all, never a list of them all in memory, which grew with the population:
        44 MB of ids at 1M customers) and evaluates ``evaluate(ids)`` on them
        (scoped). Candidates that have nothing to change are skipped by
        ``evaluate``; a rerun after a crash evaluates the candidates again and
        changes only the rows still wrong.

        The keyset relies on the planner's statistics of the candidates: if they
        say there are few (customers made due in bulk since the last ``ANALYZE``,
        before autovacuum caught up), each batch reads every candidate through an
        index and sorts them for the next ids, a run that grows with the square of
        the candidates (1.9 s instead of 0.5 s for 100,000 at 100k customers). The
        first batch of a pass checks the estimate and refreshes the statistics if a
        single batch already holds more candidates than the planner expects in
        all."""

        def step(limit, after):
            query = rule_query()
            self.env.cr.execute(
                SQL(
                    "SELECT q.id FROM (%s) q WHERE q.id > %s ORDER BY q.id LIMIT %s",
                    query,
                    after,
                    limit,
                )
            )
            ids = [row[0] for row in self.env.cr.fetchall()]
            if not after and len(ids) == limit and self._estimated_rows(query) < limit:
                self.env.cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))
            if not ids:
                return 0, 0, False, after
            done, _more = evaluate(ids)
            return len(ids), done, len(ids) == limit, ids[-1]

        return self._batches(engine, batch_param, step, default=default)

    @api.model
    def _estimated_rows(self, query):
        """The rows the planner expects ``query`` to return (planning only)."""
        self.env.cr.execute(SQL("EXPLAIN (FORMAT JSON) %s", query))
        return self.env.cr.fetchone()[0][0]["Plan"]["Plan Rows"]
