from datetime import timedelta

from odoo import api, fields, models

from ..birthday import catch_up_start

# the daily expiry reads the lots expiring since its last completed run, less this
# margin: longer than any transaction writing a lot may stay open
EXPIRY_MARGIN_DAYS = 7


class HousekeepingEnginePointsExpiry(models.AbstractModel):
    """Points expiry (daily, ``ir_cron_points_expire``): expires what is left of
    the lots past their expiry date, batch by batch, then reminds the customers
    whose points enter the reminder window. The ledger statements stay on
    ``housekeeping.points.entry`` (``_expire_lots_after``); the balance is updated
    by the same statement (no ORM write of an engine-owned field)."""

    _name = "housekeeping.engine.points.expiry"
    _inherit = ["housekeeping.engine"]
    _description = "Points Expiry Engine"

    _engine_key = "points_expiry"
    _engine_batch_param = "points_expire_batch_size"

    @api.model
    def _run(self):
        """Daily: expire what is left of lots past their expiry date, in batches
        that commit; idempotent (an expired lot is never expired twice).

        A run that went through every lot in its scope records its day
        (``housekeeping.points.expiry.run``); the next run reads only the lots
        expiring since that day less ``EXPIRY_MARGIN_DAYS``, not the ledger's whole
        history. A lot is written with an expiry date after the day it is written
        (one already past expires when it is written, ``_post_credits``), so a lot
        is missed only if the transaction writing it stays open longer than the
        margin. A pass is walked by lot id over the scheduler's calls (the
        engine's position, ``_batches``): a pass stopped before the end (a
        crash, the scheduler's time limit) records nothing, and the next call
        continues it after the last lot committed, with the same ``since`` (no run
        was recorded meanwhile). A pass that spans days records the day it started:
        the lots of the part already walked that expired after it are read by the
        next pass."""
        today = fields.Date.context_today(self)
        Entry = self.env["housekeeping.points.entry"].sudo()
        Run = self.env["housekeeping.points.expiry.run"].sudo()
        last_run = Run.search_fetch([("date", "<=", today)], ["date"], limit=1)
        since = last_run.date - timedelta(days=EXPIRY_MARGIN_DAYS) if last_run else None

        def step(limit, after):
            taken, expired, last = Entry._expire_lots_after(today, limit, after, since)
            return taken, expired, taken >= limit, last

        def finish(expired, started):
            Run.create({"date": started, "lots_expired": expired})
            # once per completed pass: a pass cut by the time limit is called again
            # with the same ``since``, and would remind the later days again
            self._remind_expiring_points(today, since=last_run.date if last_run else None)

        return self._batches(self._engine_key, self._engine_batch_param, step, on_finish=finish)

    @api.model
    def _remind_expiring_points(self, today, since=None):
        """Remind the customers whose points enter the reminder window today (lots
        expiring exactly ``reminder days`` from today), or on a day after ``since``
        (the last completed run) that the scheduler missed (a week at most): a
        chatter note for staff (one INSERT) and an e-mail to those with an address,
        once per customer and expiry day (the note's message id is the key)."""
        Partner = self.env["res.partner"]
        Entry = self.env["housekeeping.points.entry"]
        Entry.flush_model()
        self.env["res.company"].flush_model(["hk_points_reminder_days"])
        first = catch_up_start(since, today)
        # the range of expiry days of the companies' windows, as constants: the
        # expiry date index then serves the lots (an expression over the company
        # is a scan)
        self.env.cr.execute(
            "SELECT min(hk_points_reminder_days), max(hk_points_reminder_days) FROM res_company"
        )
        low, high = self.env.cr.fetchone()
        if low is None:
            return 0
        self.env.cr.execute(
            """
            SELECT e.partner_id, min(e.expiry_date),
                   sum(e.points - COALESCE((SELECT sum(a.points)::int
                                              FROM housekeeping_points_allocation a
                                             WHERE a.lot_entry_id = e.id), 0))::int
              FROM housekeeping_points_entry e
              JOIN res_partner p ON p.id = e.partner_id
              JOIN res_company c ON c.id = e.company_id
             WHERE e.points > 0
               AND e.expiry_date BETWEEN %(lowest)s AND %(highest)s
               AND e.expiry_date BETWEEN %(first)s::date + c.hk_points_reminder_days
                                     AND %(today)s::date + c.hk_points_reminder_days
               AND e.expiry_date >= %(today)s
               AND NOT EXISTS (
                   SELECT 1 FROM mail_message m
                    WHERE m.message_id = '<hk-points-reminder-' || e.partner_id || '-'
                                         || e.expiry_date || '@housekeeping>')
             GROUP BY e.partner_id
            """,
            {
                "today": today,
                "first": first,
                "lowest": first + timedelta(days=low),
                "highest": today + timedelta(days=high),
            },
        )
        rows = [row for row in self.env.cr.fetchall() if row[2] > 0]
        if not rows:
            return 0
        # in the language of each customer's company, translated once per language
        lang_of = self._staff_langs([row[0] for row in rows])
        texts = {
            lang: self.with_context(lang=lang).env._(
                "%(points)s points expire on %(date)s: remind the customer to use them."
            )
            for lang in set(lang_of.values())
        }
        self._log_notes(
            {
                partner_id: texts[lang_of[partner_id]] % {"points": points, "date": expiry}
                for partner_id, expiry, points in rows
            },
            message_ids={
                partner_id: f"<hk-points-reminder-{partner_id}-{expiry}@housekeeping>"
                for partner_id, expiry, _points in rows
            },
        )
        template = self.env.ref(
            "housekeeping_membership.mail_template_points_expiring", raise_if_not_found=False
        )
        with_email = Partner.browse([row[0] for row in rows]).filtered("email")
        if template and with_email:
            template.sudo().send_mail_batch(with_email.ids)
        return len(rows)
