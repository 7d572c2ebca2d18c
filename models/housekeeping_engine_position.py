from odoo import api, fields, models


class HousekeepingEnginePosition(models.Model):
    """Where a batched engine stands in its pass over the customers (or ledger
    lots, journeys…): one row per engine, written in the transaction of each batch.

    The scheduler calls a cron method again and again while it reports work left
    (``ir.cron._commit_progress``), each call from the start of the method: a
    position kept in a local variable would send every call back to the first
    customer. ``housekeeping.engine._batches`` reads this row at the start of a
    call inside the scheduler, continues an unfinished pass after ``after_id`` (in
    ``stage``, for an engine whose pass has several steps), and marks the pass
    finished when it reaches the end; the next call after a finished pass starts a
    new one from the start (the engines are idempotent: a second pass the same day
    changes nothing). Calls outside the scheduler (a button, a test) run a whole
    pass in the caller's transaction and neither read nor write it.
    Internal: written by the engines only (as superuser), read by managers.
    """

    _name = "housekeeping.engine.position"
    _description = "Engine Batch Position"
    _order = "engine"
    _rec_name = "engine"

    engine = fields.Char(required=True, readonly=True)
    stage = fields.Char(
        readonly=True,
        help="The step of the pass under way, for engines whose pass has several (one "
        "journey of the journeys' run, the callbacks after the VIP evaluation).",
    )
    after_id = fields.Integer(
        string="After ID",
        readonly=True,
        help="Id of the last row done in the pass under way: its next batch starts "
        "after it. Reset to 0 when the pass is finished.",
    )
    pass_started = fields.Date(
        readonly=True, help="Day the pass under way (or the last one) started."
    )
    finished = fields.Boolean(
        default=True,
        readonly=True,
        help="The last pass reached the end: the next run starts a new one.",
    )
    done_count = fields.Integer(
        string="Rows Changed", readonly=True, help="Rows the pass has changed so far."
    )

    _engine_unique = models.Constraint("UNIQUE(engine)", "An engine has one position.")

    @api.model
    def _hk_resume(self, engine):
        """The position of ``engine`` for a call of the scheduler: the unfinished
        pass to continue, else a new pass starting today (its row is written with
        the call's first batch)."""
        position = self.sudo().search_fetch(
            [("engine", "=", engine)],
            ["stage", "after_id", "pass_started", "finished", "done_count"],
            limit=1,
        )
        if not position:
            position = self.sudo().create({"engine": engine})
        if position.finished:
            position.write(
                {
                    "finished": False,
                    "stage": False,
                    "after_id": 0,
                    "done_count": 0,
                    "pass_started": fields.Date.context_today(self),
                }
            )
        return position
