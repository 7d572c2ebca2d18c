import contextlib
import logging
import random
import socket
import time

from markupsafe import Markup
from psycopg2 import errors

from odoo import api, fields, models
from odoo.tools import SQL

from ..bulk import pg_array
from ..trust import engine_writes

# From this many notes on, ``_log_notes`` writes them with one INSERT instead of
# Odoo's ``_message_log_batch``, which creates them through the ORM: on the
# 100k-customer bench database (2026-12-06), 1,000 notes take 886 ms through
# ``_message_log_batch`` and 94 ms in one statement, 5,000 notes 4.4 s and 0.32 s.
# The lifecycle's first run writes a note for each of 100,000 customers: through
# the ORM it would spend about 85 s more on a 19 s run.
NOTES_IN_ONE_INSERT_FROM = 500

_logger = logging.getLogger(__name__)

# Inside the scheduler, a call of an engine that PostgreSQL refuses for a
# concurrent transaction (another engine's batch, a visit completed meanwhile:
# a serialization failure under Odoo's REPEATABLE READ, or a deadlock) is rolled
# back and run again, at most this many times in all, as Odoo's HTTP layer
# retries a request (``odoo.service.model.retrying``): the batches already
# committed stay, the call resumes after them (the engine's position) from a
# fresh snapshot. Odoo's scheduler would instead count the call as failed and,
# when it had committed nothing yet, put the job off to its next interval (a day,
# a month for the tiers): the work was lost until then (docs/reliability.md,
# Several cron workers).
CONCURRENCY_TRIES = 5
CONCURRENCY_ERRORS = (errors.SerializationFailure, errors.DeadlockDetected)


class HousekeepingEngine(models.AbstractModel):
    """What every membership engine shares, written once: the batch loop with a
    persistent position and the scheduler's progress (``_batches``), the keyset
    over a population's candidates (``_chunks``), the cron entry point that opens
    the trust guard for the fields the engine owns (``_cron``), which company's
    settings apply to a customer (``_settings_company_sql``), and the chatter
    notes an engine logs (``_log_notes``).

    An engine is a small model of its own in this folder, inheriting this one,
    with ``_engine_key`` (its position row), ``_engine_batch_param`` (the system
    parameter of its batch size), ``_engine_fields`` (the ``res.partner`` fields
    it alone writes) and ``_run()`` (one pass, or one call of a pass). Odoo's own
    precedent: crm's predictive scoring (``crm.lead.scoring.frequency``).
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
        in_cron = bool(self.env.context.get("ir_cron_progress_id"))
        for attempt in range(1, CONCURRENCY_TRIES + 1):
            guard = (
                engine_writes(*self._engine_fields)
                if self._engine_fields
                else contextlib.nullcontext()
            )
            try:
                with guard:
                    return self._run()
            except CONCURRENCY_ERRORS as exc:
                # (outside the scheduler the caller's transaction is not ours to
                # roll back: Odoo's HTTP layer retries the request)
                if not in_cron or attempt == CONCURRENCY_TRIES:
                    raise
                self.env.cr.rollback()
                self.env.transaction.reset()
                self.env.registry.reset_changes()
                _logger.info(
                    "%s: %s, the call is run again (try %s of %s)",
                    self._name,
                    type(exc).__name__,
                    attempt + 1,
                    CONCURRENCY_TRIES,
                )
                time.sleep(random.uniform(0.05, 0.25 * attempt))  # noqa: S311
        return None

    @api.model
    def _run(self):
        raise NotImplementedError

    # ------------------------------------------------------------------ settings
    @api.model
    def _settings_company_sql(self, alias="p"):
        """SQL: the id of the company whose settings (thresholds, rules, ladder,
        currency) apply to the customer ``alias`` (a ``res_partner`` row): the
        customer's own company, else the company of their latest done visit
        (``hk_visit_company_id``, kept by the statistics engine), else the main
        company. The one rule every engine, report and wizard uses: join
        ``res_company`` on it, or compare it (``res.partner._hk_settings_company``
        in Python)."""
        return SQL(
            "COALESCE(%s, %s, %s)",
            SQL.identifier(alias, "company_id"),
            SQL.identifier(alias, "hk_visit_company_id"),
            self.env["res.partner"]._hk_main_company_id(),
        )

    # ------------------------------------------------------------------ rules
    @api.model
    def _ladder_sql(self, ladder, keep):
        """SQL: the ``CASE`` of a rules table. ``ladder`` is a sequence of
        ``(value, condition)``, the first whose condition (SQL text) holds gives
        the value; a value of ``None`` gives ``keep`` (SQL: the value already
        there). The engines keep their rules as such tables
        (``models/lifecycle_rules.py``, ``TIER_ACTIONS``)."""
        return SQL(
            "CASE %s END",
            SQL(" ").join(
                SQL("WHEN %s THEN %s", SQL(condition), keep if value is None else value)
                for value, condition in ladder
            ),
        )

    # ------------------------------------------------------------------ planner
    @api.model
    def _without_jit(self):
        """Turn PostgreSQL's JIT compilation off for the rest of the transaction.
        The engines' big statements have an estimated cost that makes the server
        compile them, for no gain on their execution: 2.8 s of the RFM's 23 s at 1M
        customers, 0.7 s of each 3.3 s range of recommendations (measured). The one
        place an engine tunes the planner."""
        self.env.cr.execute("SET LOCAL jit = off")

    # ------------------------------------------------------------------ apply
    @api.model
    def _rows(self, model="res.partner", **columns):
        """SQL source of rows computed in Python, to give ``_apply``: each
        keyword a column (``id`` first), each value a list (one per row) or a numpy
        array, typed after the field of that name on ``model`` (``id``: int4;
        ``name=(type, values)`` for a column that is not a field). One ``unnest``
        of array literals (``bulk.pg_array``)."""
        names, arrays = [], []
        for name, values in columns.items():
            if isinstance(values, tuple):
                ctype, values = values
            elif name == "id":
                ctype = "int4"
            else:
                ctype = self.env[model]._fields[name].column_type[1]
            names.append(SQL.identifier(name))
            arrays.append(SQL(f"%s::{ctype}[]", pg_array(values)))
        return SQL(
            "SELECT * FROM unnest(%s) AS c(%s)", SQL(", ").join(arrays), SQL(", ").join(names)
        )

    @api.model
    def _apply(
        self,
        source,
        values,
        model="res.partner",
        only_changed=True,
        where=None,
        join=None,
        extra=None,
    ):
        """The one way engines write their results: one ``UPDATE`` of ``model``'s
        table (``p``) from ``source`` (``c``: a query, a temporary table, or
        ``_rows``), matched on ``id``. ``values`` maps each field to write to the
        SQL giving its new value (a string: that column of ``c``). With
        ``only_changed``, rows already right are not written (no dead tuples, and
        the count says who changed). ``where`` narrows the rows (SQL on ``p`` and
        ``c``); ``join`` adds a table to the ``FROM`` (``SQL("res_company rc")``,
        its condition in ``where``); ``extra`` maps fields written along with
        ``values`` on the rows written but not compared (a flag for the next
        run). The fields written are dropped from the cache. Returns the rows
        written.

        The rows to write are locked first, in id order (``ORDER BY p.id FOR NO
        KEY UPDATE``), with their new values, then written from that list: an
        ``UPDATE … FROM`` alone locks the rows in the order of its plan (the
        table's physical order under a hash join), and two engines writing the
        same customers in two orders at once deadlock (docs/reliability.md,
        Several cron workers). Still one statement."""
        Model = self.env[model]
        exprs = {
            name: SQL.identifier("c", expr) if isinstance(expr, str) else expr
            for name, expr in values.items()
        }
        exprs_all = {**exprs, **(extra or {})}
        # (ORM writes still pending on these fields would land after this UPDATE)
        Model.flush_model(list(exprs_all))
        conditions = [SQL("p.id = c.id")]
        if where is not None:
            conditions.append(where)
        if only_changed:
            conditions.append(
                SQL(
                    "(%s) IS DISTINCT FROM (%s)",
                    SQL(", ").join(SQL.identifier("p", name) for name in exprs),
                    SQL(", ").join(exprs.values()),
                )
                if len(exprs) > 1
                else SQL(
                    "%s IS DISTINCT FROM %s",
                    SQL.identifier("p", next(iter(exprs))),
                    next(iter(exprs.values())),
                )
            )
        names = list(exprs_all)
        self.env.cr.execute(
            SQL(
                # the source computed once, then joined (inlined, a misestimate of
                # its rows let the planner recompute a statistics source per
                # customer: minutes instead of milliseconds); the rows to write and
                # their values (typed as their columns) locked in id order (``w``)
                """WITH c AS MATERIALIZED (%(source)s),
                        w AS MATERIALIZED (
                            SELECT p.id, %(values)s FROM %(table)s p, c%(join)s
                             WHERE %(conditions)s
                             ORDER BY p.id FOR NO KEY UPDATE OF p)
                   UPDATE %(table)s p SET %(sets)s FROM w WHERE p.id = w.id""",
                source=source,
                table=SQL.identifier(Model._table),
                values=SQL(", ").join(
                    SQL(
                        f"(%s)::{Model._fields[name].column_type[1]} AS %s",
                        exprs_all[name],
                        SQL.identifier(f"v{index}"),
                    )
                    for index, name in enumerate(names)
                ),
                join=SQL(", %s", join) if join is not None else SQL(),
                conditions=SQL(" AND ").join(conditions),
                sets=SQL(", ").join(
                    SQL("%s = %s", SQL.identifier(name), SQL.identifier("w", f"v{index}"))
                    for index, name in enumerate(names)
                ),
            )
        )
        Model.invalidate_model(list(exprs_all))
        return self.env.cr.rowcount

    @api.model
    def _lock_partners(self, partner_ids):
        """Lock the rows of the customers ``partner_ids`` for this transaction, in
        id order (``FOR NO KEY UPDATE``: references to them are not blocked), one
        query. The lock order of every writer of customers: their rows first, in
        id order (``_apply``), then what hangs on them (visits, ledgers); a
        transaction that locks a visit first and its customer next (completing
        it) takes the customer first with this (docs/reliability.md, Several cron
        workers)."""
        partner_ids = sorted({pid for pid in partner_ids if pid})
        if partner_ids:
            self.env.cr.execute(
                SQL(
                    "SELECT id FROM res_partner WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE",
                    partner_ids,
                )
            )

    @api.model
    def _apply_relation(self, field, value_id, add_ids=(), remove_ids=(), model="res.partner"):
        """``_apply`` for a many2many: link the records ``add_ids`` of ``model``
        to the record ``value_id`` through ``field`` (a tag), unlink
        ``remove_ids``; one statement each, rows already there (or gone) left
        alone. The field is dropped from the cache."""
        Model = self.env[model]
        rel = Model._fields[field]
        table, own, other = (SQL.identifier(n) for n in (rel.relation, rel.column1, rel.column2))
        if add_ids:
            self.env.cr.execute(
                SQL(
                    """INSERT INTO %(t)s (%(own)s, %(other)s)
                       SELECT unnest(%(ids)s::int4[]), %(value)s
                       ON CONFLICT DO NOTHING""",
                    t=table,
                    own=own,
                    other=other,
                    ids=pg_array(add_ids),
                    value=value_id,
                )
            )
        if remove_ids:
            self.env.cr.execute(
                SQL(
                    "DELETE FROM %(t)s WHERE %(other)s = %(value)s AND %(own)s = ANY(%(ids)s::int4[])",
                    t=table,
                    own=own,
                    other=other,
                    ids=pg_array(remove_ids),
                    value=value_id,
                )
            )
        Model.invalidate_model([field])

    # ------------------------------------------------------------------ notes
    @api.model
    def _staff_lang(self, company):
        """The language of staff notes about the customers of ``company`` (the
        company whose settings apply to them): the company's own language (its
        partner's), else Chinese, else English, whichever is installed; never the
        language of whoever triggered the engine."""
        installed = {code for code, _name in self.env["res.lang"].get_installed()}
        for lang in (company.sudo().partner_id.lang, "zh_CN", "en_US"):
            if lang in installed:
                return lang
        return self.env.lang or "en_US"

    @api.model
    def _staff_langs(self, partner_ids):
        """{partner id: language of staff notes about them} (``_staff_lang`` of the
        company whose settings apply to each), one query."""
        partner_ids = list(partner_ids)
        if not partner_ids:
            return {}
        self.env.cr.execute(
            SQL(
                "SELECT p.id, %s FROM res_partner p WHERE p.id = ANY(%s)",
                self._settings_company_sql("p"),
                partner_ids,
            )
        )
        company_of = dict(self.env.cr.fetchall())
        companies = self.env["res.company"].sudo().browse(set(company_of.values()))
        lang_of = {company.id: self._staff_lang(company) for company in companies}
        return {pid: lang_of[cid] for pid, cid in company_of.items()}

    @api.model
    def _log_notes(self, bodies, message_ids=None):
        """Log a chatter note (no notification) on each customer of ``bodies``
        (``{partner id: text or Markup}``), through Odoo's ``_message_log_batch``;
        from ``NOTES_IN_ONE_INSERT_FROM`` notes on, the same rows in one INSERT
        (see the figure there). ``message_ids`` (``{partner id: Message-Id}``)
        gives notes a key of their own, to find them again (always one INSERT).
        Returns the notes."""
        if not bodies:
            return self.env["mail.message"]
        partner_ids = list(bodies)
        # Odoo's batch log gives every note of a batch the same Message-Id: notes
        # that must be found again by their own key take the one-INSERT path too
        if message_ids or len(partner_ids) >= NOTES_IN_ONE_INSERT_FROM:
            message_ids = message_ids or {}
            source = SQL(
                """SELECT * FROM unnest(%s::int4[], %s::text[], %s::varchar[])
                          AS n(res_id, body, message_id)""",
                pg_array(partner_ids),
                pg_array([Markup("<p>%s</p>") % bodies[pid] for pid in partner_ids]),
                pg_array([message_ids.get(pid) for pid in partner_ids]),
            )
            return self._log_notes_insert(source, with_message_id=True)
        partners = self.env["res.partner"].browse(partner_ids)
        return partners._message_log_batch(
            bodies={pid: Markup("<p>%s</p>") % body for pid, body in bodies.items()}
        )

    @api.model
    def _log_notes_from(self, source, partner_ids):
        """``_log_notes`` for notes whose text comes from SQL: ``source`` returns
        the columns ``res_id`` and ``body`` (HTML) for the customers
        ``partner_ids``."""
        partner_ids = list(partner_ids)
        if len(partner_ids) >= NOTES_IN_ONE_INSERT_FROM:
            return self._log_notes_insert(source)
        if not partner_ids:
            return self.env["mail.message"]
        self.env.cr.execute(SQL("SELECT n.res_id, n.body FROM (%s) n", source))
        bodies = {res_id: Markup(body) for res_id, body in self.env.cr.fetchall()}
        partners = self.env["res.partner"].browse(list(bodies))
        return partners._message_log_batch(bodies=bodies)

    @api.model
    def _log_notes_insert(self, source, with_message_id=False):
        """The notes of ``source`` in one INSERT (``_log_notes``, many notes): the
        rows ``_message_log_batch`` creates, column for column, but each with a
        Message-Id of its own (``message_id`` of ``source`` if
        ``with_message_id``, else one in Odoo's tracking format)."""
        note = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note", raise_if_not_found=True)
        thread = self.env["mail.thread"]
        author_id, email_from = thread._message_compute_author(None)
        reply_to = thread._notify_get_reply_to(default=email_from, author_id=author_id)[False]
        now = fields.Datetime.now()
        self.env["res.partner"].flush_model()
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO mail_message (model, res_id, message_type, is_internal, subtype_id,
                        author_id, email_from, reply_to, email_add_signature,
                        message_id, date, body, create_uid, create_date, write_uid, write_date)
            SELECT 'res.partner', n.res_id, 'notification', TRUE, %(note)s, %(author)s,
                   %(email)s, %(reply_to)s, FALSE,
                   -- a tracking Message-Id like Odoo's (generate_tracking_message_id),
                   -- the time first: new ids go to the end of the Message-Id index
                   -- instead of random places in it (a fifth of the INSERT's time)
                   COALESCE(%(message_id)s,
                            '<' || extract(epoch FROM clock_timestamp()) || '.'
                            || (random() * 1e15)::bigint || '-openerp-'
                            || n.res_id || '-res.partner@' || %(host)s || '>'),
                   %(now)s, n.body, %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM (%(source)s) n
            RETURNING id
            """,
                note=note,
                author=author_id,
                email=email_from,
                reply_to=reply_to,
                message_id=SQL("n.message_id") if with_message_id else SQL("NULL"),
                host=socket.gethostname(),
                now=now,
                uid=self.env.uid,
                source=source,
            )
        )
        messages = self.env["mail.message"].browse([row[0] for row in self.env.cr.fetchall()])
        # the customers' cached chatter (message_ids) does not hold the new notes
        messages.invalidate_model()
        return messages.sudo()

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
