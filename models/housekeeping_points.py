"""The points ledger (积分账本): append-only entries, FIFO lots, atomic balance.

Every movement of points is a ``housekeeping.points.entry`` row; nothing edits or
deletes one. Credits are *lots* (they carry an expiry date); debits (redemption,
expiry, reversal, negative adjustment) consume lots oldest-expiry first and record
what they consumed in ``housekeeping.points.allocation`` (append-only as well), so
what is left of a lot is ``lot.points - sum(allocations)``.

``res.partner.points_balance`` is updated in the same statement sequence as the
entries, under a row lock on the partner for debits: two redemptions of one
customer at the same moment serialize on that lock and the second one sees the
first one's balance (or fails with a serialization error and changes nothing).
"""

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .bulk import bulk_insert
from .trust import is_open

ENTRY_TYPES = [
    ("earn", "Earned"),
    ("redeem", "Redeemed"),
    ("expire", "Expired"),
    ("adjust", "Adjustment"),
    ("reversal", "Reversal"),
]
REASON_CODES = [
    ("visit", "Service Visit"),
    ("check_in", "Daily Check-in"),
    ("streak", "Check-in Streak"),
    ("referral", "Referral"),
    ("task", "Campaign Task"),
    ("birthday", "Birthday"),
    ("profile", "Profile Completed"),
    ("tier_gift", "Tier Upgrade Gift"),
    ("reward", "Reward Redemption"),
    ("visit_cancelled", "Visit Cancelled"),
    ("expiry", "Expiry"),
    ("goodwill", "Goodwill Gesture"),
    ("correction", "Correction"),
    ("topup", "Prepaid Top-up"),
    ("topup_refund", "Prepaid Refund"),
    ("topup_cancelled", "Prepaid Top-up Cancelled"),
    ("other", "Other"),
]
DEBIT_TYPES = ("redeem", "expire", "reversal")


class HousekeepingPointsEntry(models.Model):
    _name = "housekeeping.points.entry"
    _description = "Points Ledger Entry"
    _order = "date desc, id desc"
    _rec_name = "display_name"

    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, ondelete="restrict"
    )
    company_id = fields.Many2one("res.company", required=True, index=True)
    points = fields.Integer(required=True)
    entry_type = fields.Selection(ENTRY_TYPES, string="Type", required=True, index=True)
    reason_code = fields.Selection(REASON_CODES, string="Reason", required=True)
    note = fields.Char()
    related_partner_id = fields.Many2one(
        "res.partner",
        string="Related Customer",
        index="btree_not_null",
        ondelete="set null",
        help="The other customer of a referral: the one referred, or the referrer.",
    )
    date = fields.Date(required=True, index=True)
    expiry_date = fields.Date(index=True, help="Unused points of this credit expire after it.")
    source_key = fields.Char(
        help="What caused the entry (e.g. visit:42:0, checkin:2026-11-28): a cause credits "
        "a customer once.",
    )
    visit_id = fields.Many2one("housekeeping.visit", index="btree_not_null", ondelete="set null")
    reward_id = fields.Many2one("housekeeping.reward", index="btree_not_null", ondelete="restrict")
    prepaid_entry_id = fields.Many2one(
        "housekeeping.prepaid.entry",
        string="Prepaid Movement",
        index="btree_not_null",
        ondelete="restrict",
        help="The top-up that earned these points, or the refund or cancellation that took "
        "them back (Points on Top-ups).",
    )
    loyalty_card_id = fields.Many2one("loyalty.card", string="Coupon", ondelete="set null")
    origin_entry_id = fields.Many2one(
        "housekeeping.points.entry",
        string="Corrects",
        index="btree_not_null",
        ondelete="restrict",
        help="The entry this reversal or adjustment corrects.",
    )
    correction_ids = fields.One2many(
        "housekeeping.points.entry",
        "origin_entry_id",
        string="Corrected By",
        help="The reversals, expiries and adjustments of this entry.",
    )
    remaining = fields.Integer(
        compute="_compute_remaining", help="Points of this credit not yet used or expired."
    )

    _source_unique = models.UniqueIndex(
        "(partner_id, source_key) WHERE source_key IS NOT NULL",
        "This cause has already credited or debited the customer.",
    )
    _partner_date_idx = models.Index("(partner_id, date, id)")

    @api.depends("points")
    def _compute_remaining(self):
        used = dict(
            self.env["housekeeping.points.allocation"]._read_group(
                [("lot_entry_id", "in", self.ids)], ["lot_entry_id"], ["points:sum"]
            )
        )
        for entry in self:
            entry.remaining = entry.points - used.get(entry, 0) if entry.points > 0 else 0

    @api.depends("entry_type", "points", "partner_id")
    def _compute_display_name(self):
        labels = dict(self._fields["entry_type"]._description_selection(self.env))
        for entry in self:
            entry.display_name = f"{labels.get(entry.entry_type, '')} {entry.points:+d}"

    # ------------------------------------------------------------------ immutability
    @api.model_create_multi
    def create(self, vals_list):
        if not is_open("points_ledger"):
            raise UserError(
                self.env._(
                    "Points are earned, redeemed and adjusted through their actions "
                    "(visits, check-in, rewards, adjustments), never typed into the ledger."
                )
            )
        return super().create(vals_list)

    def write(self, vals):  # pylint: disable=method-required-super
        raise UserError(
            self.env._("Ledger entries cannot be changed. Post a correction (adjustment) instead.")
        )

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(
            self.env._("Ledger entries cannot be deleted. Post a correction (adjustment) instead.")
        )

    # ------------------------------------------------------------------ posting
    @api.model
    def _insert(self, vals_list):
        """Insert entries in one statement, skipping those whose cause already
        posted (``source_key`` unique per customer); return the new entries."""
        return bulk_insert(self, vals_list, on_conflict_do_nothing=True)

    @api.model
    def _add_to_balances(self, entries):
        if not entries:
            return
        self.env["housekeeping.engine"]._apply(
            SQL(
                """SELECT partner_id AS id, sum(points) AS delta FROM housekeeping_points_entry
                    WHERE id = ANY(%s) GROUP BY partner_id""",
                entries.ids,
            ),
            {"points_balance": SQL("COALESCE(p.points_balance, 0) + c.delta")},
            only_changed=False,
        )

    @api.model
    def _standing_domain(self):
        """Domain of the credits not reversed (``_standing_sql`` in SQL)."""
        return [
            ("points", ">", 0),
            ("correction_ids", "not any", [("entry_type", "=", "reversal")]),
        ]

    @api.model
    def _standing_sql(self, alias="e"):
        """SQL condition on a ledger entry ``alias``: a credit not reversed."""
        return SQL(
            """%(e)s.points > 0 AND NOT EXISTS (
                   SELECT 1 FROM housekeeping_points_entry r
                    WHERE r.origin_entry_id = %(e)s.id AND r.entry_type = 'reversal')""",
            e=SQL.identifier(alias),
        )

    @api.model
    def _cause_keys(self, pairs):
        """The ``source_key`` a new credit takes for each ``(partner_id, cause)`` of
        ``pairs``: the cause itself the first time, ``<cause>:<n>`` once its ``n``
        earlier credits were all reversed (a cancelled visit withdrew them), and
        ``None`` while one of them stands (a cause credits a customer once). One
        query for the whole batch."""
        pairs = list(pairs)
        if not pairs:
            return {}
        self.flush_model(["partner_id", "source_key", "points", "origin_entry_id", "entry_type"])
        causes = sorted({cause for _partner_id, cause in pairs})
        patterns = [
            cause.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ":%"
            for cause in causes
        ]
        self.env.cr.execute(
            SQL(
                """
            SELECT e.partner_id, e.source_key, %(standing)s
              FROM housekeeping_points_entry e
             WHERE e.partner_id = ANY(%(partners)s) AND e.points > 0
               AND (e.source_key = ANY(%(causes)s) OR e.source_key LIKE ANY(%(patterns)s))
            """,
                standing=self._standing_sql(),
                partners=sorted({partner_id for partner_id, _cause in pairs}),
                causes=causes,
                patterns=patterns,
            )
        )
        earlier = {}
        for partner_id, key, standing in self.env.cr.fetchall():
            cause, _sep, suffix = key.rpartition(":")
            if key in causes:
                earlier.setdefault((partner_id, key), []).append(standing)
            if suffix.isdigit() and cause in causes:
                earlier.setdefault((partner_id, cause), []).append(standing)
        keys = {}
        for pair in pairs:
            found = earlier.get(pair, [])
            if any(found):
                keys[pair] = None
            else:
                keys[pair] = f"{pair[1]}:{len(found)}" if found else pair[1]
        return keys

    @api.model
    def _post_credits(self, vals_list):
        """Post positive entries (lots) for any number of customers: one INSERT, one
        balance UPDATE; customers in debt (negative balance) repay it first."""
        for vals in vals_list:
            vals.setdefault("date", fields.Date.context_today(self))
        entries = self._insert([v for v in vals_list if v["points"] > 0])
        if not entries:
            return entries
        indebted = self._indebted_partners(entries.partner_id.ids)
        self._add_to_balances(entries)
        if indebted:
            self._settle_debts(entries.filtered(lambda e: e.partner_id.id in indebted))
        # a lot already past its expiry (a visit entered long after it took place,
        # an import) expires at once: the daily expiry reads only the lots
        # expiring since its last run (``res.partner._cron_expire_points``)
        today = fields.Date.context_today(self)
        past = entries.filtered(lambda e: e.expiry_date and e.expiry_date < today)
        if past:
            self._expire_lots_after(today, len(past), lot_ids=past.ids)
        return entries

    @api.model
    def _indebted_partners(self, partner_ids):
        self.env.cr.execute(
            "SELECT id FROM res_partner WHERE id = ANY(%s) AND points_balance < 0", [partner_ids]
        )
        return {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _settle_debts(self, lots):
        """Allocate new lots to the unallocated part of earlier debits (a reversal
        that the customer's points could not cover)."""
        allocations = []
        for lot in lots:
            self.env.cr.execute(
                """
                SELECT d.id, -d.points - COALESCE(sum(a.points), 0)
                  FROM housekeeping_points_entry d
                  LEFT JOIN housekeeping_points_allocation a ON a.debit_entry_id = d.id
                 WHERE d.partner_id = %s AND d.points < 0
                 GROUP BY d.id HAVING -d.points - COALESCE(sum(a.points), 0) > 0
                 ORDER BY d.id
                """,
                [lot.partner_id.id],
            )
            available = lot.points
            for debit_id, open_points in self.env.cr.fetchall():
                take = min(open_points, available)
                if take <= 0:
                    break
                allocations.append(
                    {
                        "debit_entry_id": debit_id,
                        "lot_entry_id": lot.id,
                        "points": take,
                        "partner_id": lot.partner_id.id,
                    }
                )
                available -= take
        self.env["housekeeping.points.allocation"]._insert(allocations)

    @api.model
    def _lock_balance(self, partner):
        """Lock the customer's row for this transaction and return the balance
        as committed (concurrent debits wait here)."""
        self.env.cr.execute(
            "SELECT COALESCE(points_balance, 0) FROM res_partner WHERE id = %s FOR NO KEY UPDATE",
            [partner.id],
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _check_balance(self, partner, points):
        """Lock the customer's balance and raise when it is below ``points``."""
        balance = self._lock_balance(partner)
        if balance < points:
            raise UserError(
                self.env._(
                    "%(customer)s has %(balance)s points; %(points)s are needed.",
                    customer=partner.display_name,
                    balance=balance,
                    points=points,
                )
            )
        return balance

    @api.model
    def _open_lots(self, partner, today, first=None):
        """``[(lot_id, remaining)]`` of the customer's unexpired credits, oldest
        expiry first (``first`` ahead of all: a reversal consumes its own lot)."""
        self.env.cr.execute(
            SQL(
                """
            SELECT e.id, e.points - COALESCE(sum(a.points), 0) AS remaining
              FROM housekeeping_points_entry e
              LEFT JOIN housekeeping_points_allocation a ON a.lot_entry_id = e.id
             WHERE e.partner_id = %(partner)s AND e.points > 0
               AND (e.expiry_date IS NULL OR e.expiry_date >= %(today)s)
             GROUP BY e.id
            HAVING e.points - COALESCE(sum(a.points), 0) > 0
             ORDER BY e.id = %(first)s DESC, e.expiry_date ASC NULLS LAST, e.date, e.id
            """,
                partner=partner.id,
                today=today,
                first=first or 0,
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _post_debit(self, partner, points, vals, allow_negative=False):
        """Debit ``points`` (> 0) from one customer, consuming lots FIFO.

        Raises ``UserError`` (nothing written) when the balance is short, unless
        ``allow_negative``: then the uncovered part stays open as a debt that the
        next credits repay."""
        if points <= 0:
            raise UserError(self.env._("The number of points must be positive."))
        self.flush_model()
        today = fields.Date.context_today(self)
        if not allow_negative:
            self._check_balance(partner, points)
        lots = self._open_lots(partner, today, vals.get("origin_entry_id"))
        available = sum(remaining for _lot_id, remaining in lots)
        if not allow_negative and available < points:
            # the balance still counts lots past their expiry date until the expiry
            # cron runs: they cannot pay (the cron would take them a second time)
            raise UserError(
                self.env._(
                    "%(customer)s has %(available)s points available (the others expired); "
                    "%(points)s are needed.",
                    customer=partner.display_name,
                    available=available,
                    points=points,
                )
            )
        entry = self._insert(
            [
                {
                    "partner_id": partner.id,
                    "company_id": (partner.company_id or self.env.company).id,
                    "points": -points,
                    "date": today,
                    **vals,
                }
            ]
        )
        if not entry:
            raise UserError(self.env._("This operation was already recorded."))
        allocations, left = [], points
        for lot_id, remaining in lots:
            take = min(remaining, left)
            allocations.append(
                {
                    "debit_entry_id": entry.id,
                    "lot_entry_id": lot_id,
                    "points": take,
                    "partner_id": partner.id,
                }
            )
            left -= take
            if not left:
                break
        self.env["housekeeping.points.allocation"]._insert(allocations)
        self._add_to_balances(entry)
        return entry

    # ------------------------------------------------------------------ expiry
    @api.model
    def _expire_lots(self, today, limit):
        """Write an ``expire`` entry for what is left of every credit expired before
        ``today`` (at most ``limit`` lots), with its allocation and the balance
        update, in one statement. Returns the number of lots expired."""
        return self._expire_lots_after(today, limit)[1]

    @api.model
    def _expire_lots_after(self, today, limit, after_id=0, since=None, lot_ids=None):
        """``_expire_lots`` for the lots of id above ``after_id`` (the cron walks the
        ledger by id, so a run reads each expired lot once); ``since``: only the
        lots expiring on or after that day (expiry date index); ``lot_ids``: only
        these lots. Returns ``(lots taken, lots expired, last lot id)``."""
        self.flush_model()
        self.env["housekeeping.points.allocation"].flush_model()
        uid = self.env.uid
        scope = SQL()
        if since:
            scope = SQL("AND e.expiry_date >= %s", since)
        if lot_ids is not None:
            scope = SQL("%s AND e.id = ANY(%s)", scope, list(lot_ids))
        # the next expired credits in id order
        cand = SQL(
            """
                SELECT e.id, e.partner_id, e.company_id, e.points
                  FROM housekeeping_points_entry e
                 WHERE e.points > 0 AND e.expiry_date < %(today)s AND e.id > %(after)s
                       %(scope)s
                 ORDER BY e.id LIMIT %(limit)s""",
            today=today,
            after=after_id,
            scope=scope,
            limit=limit,
        )
        self.env.cr.execute(
            SQL(
                """
            WITH cand AS (%(cand)s
            ), lots AS (
                SELECT c.id, c.partner_id, c.company_id,
                       c.points - COALESCE((SELECT sum(a.points)
                                              FROM housekeeping_points_allocation a
                                             WHERE a.lot_entry_id = c.id), 0) AS remaining
                  FROM cand c
                 WHERE NOT EXISTS (SELECT 1 FROM housekeeping_points_entry x
                                    WHERE x.partner_id = c.partner_id
                                      AND x.source_key = 'expire:' || c.id)
            ), todo AS (
                SELECT * FROM lots WHERE remaining > 0
            ), lk AS MATERIALIZED (
                -- the customers whose balance moves, locked in id order before
                -- the balance UPDATE below writes them (in its plan's order):
                -- every writer of customers locks them in id order, no deadlock
                -- (docs/reliability.md, Several cron workers)
                SELECT p.id FROM res_partner p
                 WHERE p.id IN (SELECT partner_id FROM todo)
                 ORDER BY p.id FOR NO KEY UPDATE OF p
            ), ins AS (
                INSERT INTO housekeeping_points_entry
                       (partner_id, company_id, points, entry_type, reason_code, date,
                        source_key, origin_entry_id, create_uid, write_uid, create_date,
                        write_date)
                SELECT partner_id, company_id, -remaining, 'expire', 'expiry', %(today)s,
                       'expire:' || id, id, %(uid)s, %(uid)s, now() at time zone 'UTC',
                       now() at time zone 'UTC'
                  FROM todo
                ON CONFLICT DO NOTHING
                RETURNING id, partner_id, points, origin_entry_id
            ), alloc AS (
                INSERT INTO housekeeping_points_allocation
                       (debit_entry_id, lot_entry_id, points, partner_id)
                SELECT id, origin_entry_id, -points, partner_id FROM ins
            ), bal AS (
                UPDATE res_partner p SET points_balance = p.points_balance + d.delta
                  FROM (SELECT partner_id, sum(points) AS delta FROM ins GROUP BY partner_id) d
                  JOIN lk ON lk.id = d.partner_id
                 WHERE p.id = d.partner_id
            )
            SELECT (SELECT count(*) FROM cand), (SELECT count(*) FROM ins),
                   (SELECT max(id) FROM cand)
            """,
                cand=cand,
                today=today,
                uid=uid,
            )
        )
        result = self.env.cr.fetchone()
        self.invalidate_model()
        self.env["housekeeping.points.allocation"].invalidate_model()
        self.env["res.partner"].invalidate_model(["points_balance"])
        return result[0], result[1], result[2] or after_id


class HousekeepingPointsAllocation(models.Model):
    """Which credit (lot) a debit consumed: the FIFO trail of the ledger."""

    _name = "housekeeping.points.allocation"
    _description = "Points Lot Consumption"
    _log_access = False

    debit_entry_id = fields.Many2one(
        "housekeeping.points.entry", required=True, index=True, ondelete="restrict"
    )
    lot_entry_id = fields.Many2one(
        "housekeeping.points.entry", required=True, index=True, ondelete="restrict"
    )
    partner_id = fields.Many2one("res.partner", required=True, index=True, ondelete="restrict")
    points = fields.Integer(required=True)

    _points_positive = models.Constraint("CHECK(points > 0)", "An allocation is positive.")

    @api.model
    def _insert(self, vals_list):
        return bulk_insert(self, vals_list)

    @api.model_create_multi
    def create(self, vals_list):  # pylint: disable=method-required-super
        raise UserError(self.env._("Lot consumption is recorded by the ledger only."))

    def write(self, vals):  # pylint: disable=method-required-super
        raise UserError(self.env._("Ledger entries cannot be changed."))

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(self.env._("Ledger entries cannot be deleted."))


class HousekeepingPointsExpiryRun(models.Model):
    """A completed run of the points expiry (``res.partner._cron_expire_points``):
    the next run reads only the lots expiring since its day (less a margin). Rows
    are only inserted (two transactions never wait on one another for them);
    deleting them makes the next run read the whole ledger again."""

    _name = "housekeeping.points.expiry.run"
    _description = "Points Expiry Run"
    _order = "date desc, id desc"

    date = fields.Date(required=True, readonly=True)
    lots_expired = fields.Integer(readonly=True)
