import math

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, format_amount

from ..bulk import bulk_insert, pg_array
from ..housekeeping_package import PACKAGE_LEDGER
from ..housekeeping_prepaid import PREPAID_LEDGER
from ..trust import engine_writes


class HousekeepingEnginePrepaid(models.AbstractModel):
    """Stored value (储值) on Odoo's eWallet: the prepaid step of the visit pipeline
    (a visit paid from the balance debits it when done, credits it back when
    cancelled), top-ups from confirmed sale orders, refunds, corrections, and the
    daily expiry of bonuses (``_run``).

    Every movement is one statement (``_post``): the ``housekeeping.prepaid.entry``
    rows, their ``loyalty.history`` lines and the cards' new balances together,
    whatever the number of visits or customers. Debits first lock the cards
    (``SELECT … FOR UPDATE``, in id order, so that two batches never wait on each
    other in a cycle) and check the balances read under the lock: two payments at
    the same moment serialize, the second sees the first's debit (or fails to
    serialize and is retried), and a balance never goes below zero.

    The split of a debit between principal and bonus is proportional to the
    card's balance (a card of 1,000 principal and 200 bonus pays a 120 visit with
    100 principal and 20 bonus); a credit back returns exactly the split taken."""

    _name = "housekeeping.engine.prepaid"
    _inherit = ["housekeeping.engine"]
    _description = "Prepaid Balance Engine"

    _engine_key = "prepaid_bonus_expiry"
    _engine_batch_param = "prepaid_batch_size"
    # computed from the eWallet, never stored: a write is refused like any
    # engine-owned field's
    _engine_fields = ("prepaid_balance",)

    # ------------------------------------------------------------------ the eWallet
    @api.model
    def _program(self, company, create=True):
        """The eWallet program of ``company`` for prepaid balances (created once)."""
        company = company.sudo()
        program = company.hk_prepaid_program_id
        if program or not create:
            return program
        # two first top-ups at once create one program: the second waits here
        self.env.cr.execute(
            SQL("SELECT id FROM res_company WHERE id = %s FOR NO KEY UPDATE", company.id)
        )
        company.invalidate_recordset(["hk_prepaid_program_id"])
        if company.hk_prepaid_program_id:
            return company.hk_prepaid_program_id
        program_model = self.env["loyalty.program"].sudo().with_company(company)
        values = program_model._program_type_default_values()["ewallet"]
        program = program_model.with_context(default_program_type="ewallet").create(
            {
                **values,
                "name": self.env._("Prepaid Balance"),
                "program_type": "ewallet",
                "company_id": company.id,
                "currency_id": company.currency_id.id,
                "portal_point_name": company.currency_id.symbol,
            }
        )
        company.hk_prepaid_program_id = program
        return program

    @api.model
    def _cards(self, partners, company, create=False):
        """{partner id: card id} of the eWallets of ``partners`` in ``company``
        (one query; with ``create``, the missing cards are created)."""
        program = self._program(company, create=create)
        if not program or not partners:
            return {}
        self.env["loyalty.card"].flush_model(["partner_id", "program_id", "active"])
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT ON (partner_id) partner_id, id FROM loyalty_card
                    WHERE program_id = %s AND partner_id = ANY(%s) AND active
                    ORDER BY partner_id, id""",
                program.id,
                partners.ids,
            )
        )
        cards = dict(self.env.cr.fetchall())
        missing = [pid for pid in partners.ids if pid not in cards]
        if create and missing:
            new = (
                self.env["loyalty.card"]
                .sudo()
                .with_context(loyalty_no_mail=True, tracking_disable=True)
                .create(
                    [{"program_id": program.id, "partner_id": pid, "points": 0} for pid in missing]
                )
            )
            cards.update({card.partner_id.id: card.id for card in new})
        return cards

    @api.model
    def _lock_cards(self, card_ids):
        """Lock the cards (id order) and return {card id: (balance, bonus)} as
        read under the lock; the bonus never exceeds the balance."""
        if not card_ids:
            return {}
        self.env["loyalty.card"].flush_model(["points", "hk_bonus"])
        self.env.cr.execute(
            SQL(
                """SELECT id, points, hk_bonus FROM loyalty_card
                    WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE""",
                sorted(set(card_ids)),
            )
        )
        return {
            cid: (points or 0.0, min(max(bonus or 0.0, 0.0), max(points or 0.0, 0.0)))
            for cid, points, bonus in self.env.cr.fetchall()
        }

    @api.model
    def _post(self, rows):
        """Post the movements ``rows`` (dicts: ``card_id``, ``partner_id``,
        ``company_id``, ``entry_type``, ``principal``, ``bonus``, ``description``,
        and optional ``visit_id``, ``sale_order_id``, ``sale_line_id``,
        ``offer_id``, ``origin_entry_id``, ``reason``, ``bonus_expiry``) in one
        statement: the ledger entries, one ``loyalty.history`` line each (issued
        or used), and the cards' balance and bonus. The caller has locked the
        cards and checked the balances. Returns the new entries."""
        if not rows:
            return self.env["housekeeping.prepaid.entry"]
        for model in ("housekeeping.prepaid.entry", "loyalty.card", "loyalty.history"):
            self.env[model].flush_model()

        types = {
            "card_id": "int4",
            "partner_id": "int4",
            "company_id": "int4",
            "entry_type": "varchar",
            "principal": "numeric",
            "bonus": "numeric",
            "description": "text",
            "visit_id": "int4",
            "sale_order_id": "int4",
            "sale_line_id": "int4",
            "offer_id": "int4",
            "origin_entry_id": "int4",
            "reason": "varchar",
            "bonus_expiry": "date",
        }

        def col(name, default=None):
            # a column alike on every row (a company, no order) is one value
            values = [row.get(name, default) for row in rows]
            if all(value == values[0] for value in values):
                return SQL(f"array_fill(%s::{types[name]}, ARRAY[%s])", values[0], len(values))
            return SQL(f"%s::{types[name]}[]", pg_array(values))

        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
            WITH src AS MATERIALIZED (
                SELECT nextval('housekeeping_prepaid_entry_id_seq') AS id,
                       nextval('loyalty_history_id_seq') AS history_id,
                       (s.principal + s.bonus) AS amount, s.*
                  FROM unnest(%(card)s, %(partner)s, %(company)s, %(type)s, %(principal)s,
                              %(bonus)s, %(description)s, %(visit)s, %(order)s, %(line)s,
                              %(offer)s, %(origin)s, %(reason)s, %(expiry)s)
                    AS s(card_id, partner_id, company_id, entry_type, principal, bonus,
                         description, visit_id, sale_order_id, sale_line_id, offer_id,
                         origin_entry_id, reason, bonus_expiry)
            ), entries AS (
                INSERT INTO housekeeping_prepaid_entry
                       (id, card_id, partner_id, company_id, date, entry_type, amount,
                        principal, bonus, visit_id, sale_order_id, sale_line_id, offer_id,
                        origin_entry_id, history_id, reason, user_id,
                        create_uid, create_date, write_uid, write_date)
                SELECT id, card_id, partner_id, company_id, %(now)s, entry_type, amount,
                       principal, bonus, visit_id, sale_order_id, sale_line_id, offer_id,
                       origin_entry_id, history_id, reason, %(uid)s,
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM src
            ), history AS (
                INSERT INTO loyalty_history
                       (id, card_id, description, issued, used, order_model, order_id,
                        create_uid, create_date, write_uid, write_date)
                SELECT history_id, card_id, description, GREATEST(amount, 0),
                       GREATEST(-amount, 0), 'housekeeping.prepaid.entry', id,
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM src
            ), totals AS (
                SELECT card_id, sum(amount) AS amount, sum(bonus) AS bonus,
                       max(bonus_expiry) AS bonus_expiry
                  FROM src GROUP BY card_id
            ), cards AS (
            UPDATE loyalty_card c
               SET points = c.points + t.amount,
                   hk_bonus = GREATEST(
                       LEAST(COALESCE(c.hk_bonus, 0), GREATEST(c.points, 0)) + t.bonus, 0),
                   hk_bonus_expiry = CASE WHEN t.bonus_expiry IS NULL THEN c.hk_bonus_expiry
                                          ELSE GREATEST(c.hk_bonus_expiry, t.bonus_expiry) END,
                   write_uid = %(uid)s, write_date = %(now)s
              FROM totals t
             WHERE c.id = t.card_id
            )
            SELECT id FROM src ORDER BY id
            """,
                card=col("card_id"),
                partner=col("partner_id"),
                company=col("company_id"),
                type=col("entry_type"),
                principal=col("principal", 0.0),
                bonus=col("bonus", 0.0),
                description=col("description"),
                visit=col("visit_id"),
                order=col("sale_order_id"),
                line=col("sale_line_id"),
                offer=col("offer_id"),
                origin=col("origin_entry_id"),
                reason=col("reason"),
                expiry=col("bonus_expiry"),
                now=now,
                uid=self.env.uid,
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        for model in ("housekeeping.prepaid.entry", "loyalty.card", "loyalty.history"):
            self.env[model].invalidate_model()
        self.env["res.partner"].invalidate_model(
            ["prepaid_balance", "prepaid_principal", "prepaid_bonus"]
        )
        return self.env["housekeeping.prepaid.entry"].browse(ids)

    @api.model
    def _round(self, company, amount):
        return company.currency_id.round(amount)

    @api.model
    def _split(self, company, balance, bonus, amounts):
        """The bonus part of each of ``amounts`` debited in turn from a card of
        ``balance`` holding ``bonus``: proportional, rounded on the running total
        so that the parts add up exactly."""
        parts, running, taken = [], 0.0, 0.0
        for amount in amounts:
            running += amount
            upto = self._round(company, running * bonus / balance) if balance > 0 else 0.0
            upto = min(upto, bonus)
            parts.append(self._round(company, upto - taken))
            taken = upto
        return parts

    # ------------------------------------------------------------------ visit pipeline
    @api.model
    def _visits_done(self, visits):
        """First step of the visit pipeline: the done ``visits`` paid from the
        prepaid balance debit their customers' eWallets (one movement each, in a
        few statements for the whole set). Raises ``UserError`` before writing
        anything when a balance is short."""
        prepaid, package = self._visit_candidates(visits, done=True)
        uses = self._package_uses(package)
        rows = self._visit_debits(prepaid)
        self._post_package_uses(uses)
        if not rows:
            return self.env["housekeeping.prepaid.entry"]
        with engine_writes(PREPAID_LEDGER):
            return self._post(rows)

    @api.model
    def _check_visits_payable(self, visits):
        """Before visits are completed (``action_done``): raise ``UserError`` if
        a balance or a package cannot pay them, before anything is written. The
        cards and packages stay locked until the transaction ends, so the debit
        that follows finds what was checked here."""
        prepaid, package = self._visit_candidates(visits, done=False)
        self._package_uses(package)
        self._visit_debits(prepaid)

    @api.model
    def _visit_candidates(self, visits, done):
        """The ``visits`` paid from the balance and those paid by package that are
        not paid yet (``done``: only the done ones), in one query: two lists of
        rows ``(id, name, partner, company, amount, service type, day, duration)``
        in date order (``amount``: of a prepaid visit, the part paid from the
        balance). Raises ``UserError`` when a prepaid visit paid in part has no
        method for the rest."""
        if not visits:
            return [], []
        visits.flush_recordset(
            [
                "state",
                "payment_method",
                "amount",
                "prepaid_amount",
                "payment_method_rest",
                "partner_id",
                "company_id",
                "date",
                "duration",
            ]
        )
        for model in ("housekeeping.prepaid.entry", "housekeeping.package.use"):
            self.env[model].flush_model()
        self.env.cr.execute(
            SQL(
                """
            WITH v AS MATERIALIZED (
                -- a prepaid visit pays its part from the balance (all of it when
                -- the part is not set, as for visits inserted in SQL), the rest by
                -- payment_method_rest, which must be set when there is a rest
                SELECT v.id, v.name, v.partner_id, v.company_id,
                       CASE WHEN v.payment_method = 'prepaid'
                            THEN COALESCE(v.prepaid_amount, v.amount) ELSE v.amount END AS amount,
                       v.service_type_id,
                       COALESCE(v.date, now() AT TIME ZONE 'UTC') AS date,
                       COALESCE(v.duration, 0) AS duration,
                       v.payment_method = 'prepaid' AND v.payment_method_rest IS NULL
                           AND COALESCE(v.prepaid_amount, v.amount) < v.amount AS no_rest,
                       v.payment_method = 'package' AS pkg
                  FROM housekeeping_visit v
                 WHERE v.id = ANY(%s) AND (v.state = 'done' OR NOT %s)
                   AND (v.payment_method = 'package'
                        OR (v.payment_method = 'prepaid'
                            AND COALESCE(v.prepaid_amount, v.amount) > 0))
            ), paid AS (
                -- payments not credited back, and package visits not given back
                SELECT e.visit_id AS id FROM housekeeping_prepaid_entry e
                 WHERE e.visit_id IN (SELECT id FROM v) AND e.entry_type = 'spend'
                   AND NOT EXISTS (SELECT 1 FROM housekeeping_prepaid_entry r
                                    WHERE r.origin_entry_id = e.id)
                 UNION ALL
                SELECT u.visit_id FROM housekeeping_package_use u
                 WHERE u.visit_id IN (SELECT id FROM v) AND u.units > 0
                   AND NOT EXISTS (SELECT 1 FROM housekeeping_package_use r
                                    WHERE r.origin_use_id = u.id)
            )
            SELECT v.id, v.name, v.partner_id, v.company_id, v.amount, v.service_type_id,
                   v.date::date, v.duration, v.no_rest, v.pkg
              FROM v
             WHERE NOT EXISTS (SELECT 1 FROM paid WHERE paid.id = v.id)
             ORDER BY v.date, v.id
            """,
                visits.ids,
                done,
            )
        )
        prepaid, package, no_rest = [], [], []
        for row in self.env.cr.fetchall():
            if row[-2]:
                no_rest.append(row[1])
            (package if row[-1] else prepaid).append(row[:-2])
        if no_rest:
            raise UserError(
                self.env._(
                    "Only a part of %(visits)s is paid from the prepaid balance: choose how "
                    "the rest is paid (Rest Paid By). Nothing was recorded.",
                    visits=", ".join(no_rest),
                )
            )
        return prepaid, package

    @api.model
    def _visit_debits(self, todo):
        """The debits (rows for ``_post``) of the prepaid visits ``todo`` (rows of
        ``_visit_candidates``), their cards locked and their balances checked
        (``UserError`` naming every customer short)."""
        if not todo:
            return []
        companies = self.env["res.company"].sudo().browse({row[3] for row in todo})
        locked, card_of = self._lock_partner_cards({(row[2], row[3]) for row in todo}, companies)
        per_card, short = {}, {}
        for vid, name, pid, company_id, amount, *_rest in todo:
            cid = card_of.get((pid, company_id))
            per_card.setdefault((cid, pid, company_id), []).append((vid, name, amount))
        for (cid, pid, company_id), items in per_card.items():
            balance = locked.get(cid, (0.0, 0.0))[0]
            needed = sum(amount for _vid, _name, amount in items)
            company = companies.browse(company_id)
            if company.currency_id.compare_amounts(balance, needed) < 0:
                short[pid, company_id] = (balance, needed, [name for _v, name, _a in items])
        if short:
            raise UserError(self._short_message(short))
        template = self.env._("Visit %(visit)s paid from the prepaid balance")
        rows = []
        for (cid, pid, company_id), items in per_card.items():
            company = companies.browse(company_id)
            balance, bonus = locked[cid]
            parts = self._split(company, balance, bonus, [a for _v, _n, a in items])
            for (vid, name, amount), bonus_part in zip(items, parts, strict=True):
                rows.append(
                    {
                        "card_id": cid,
                        "partner_id": pid,
                        "company_id": company_id,
                        "entry_type": "spend",
                        "principal": -(amount - bonus_part),
                        "bonus": -bonus_part,
                        "visit_id": vid,
                        "description": template % {"visit": name},
                    }
                )
        return rows

    @api.model
    def _lock_partner_cards(self, pairs, companies):
        """Find and lock (one query, id order) the eWallets of the ``pairs``
        ``{(partner id, company id)}``; returns ``({card id: (balance, bonus)},
        {(partner id, company id): card id})`` (the oldest card of a customer in
        a program, if several)."""
        program_of = {}
        for company in companies:
            program = self._program(company, create=False)
            if program:
                program_of[program.id] = company.id
        if not program_of:
            return {}, {}
        self.env["loyalty.card"].flush_model(
            ["partner_id", "program_id", "active", "points", "hk_bonus"]
        )
        self.env.cr.execute(
            SQL(
                """SELECT id, partner_id, program_id, points, hk_bonus FROM loyalty_card
                    WHERE program_id = ANY(%s) AND partner_id = ANY(%s) AND active
                    ORDER BY id FOR NO KEY UPDATE""",
                list(program_of),
                list({pid for pid, _cid in pairs}),
            )
        )
        locked, card_of = {}, {}
        for cid, pid, program_id, points, bonus in self.env.cr.fetchall():
            key = (pid, program_of[program_id])
            if key in pairs and key not in card_of:
                card_of[key] = cid
                points = points or 0.0
                locked[cid] = (points, min(max(bonus or 0.0, 0.0), max(points, 0.0)))
        return locked, card_of

    def _short_message(self, short):
        partners = self.env["res.partner"].sudo().browse({pid for pid, _c in short})
        lines = []
        for (pid, company_id), (balance, needed, names) in short.items():
            currency = self.env["res.company"].sudo().browse(company_id).currency_id
            lines.append(
                self.env._(
                    "%(customer)s: balance %(balance)s, %(needed)s needed for %(visits)s",
                    customer=partners.browse(pid).display_name,
                    balance=format_amount(self.env, balance, currency),
                    needed=format_amount(self.env, needed, currency),
                    visits=", ".join(names),
                )
            )
        return self.env._(
            "The prepaid balance is short, nothing was recorded:\n%(lines)s\nTop up the "
            "balance first, take from the balance only what it holds (Paid from Balance) "
            "and the rest by another method (Rest Paid By), or record the visit with "
            "another payment method.",
            lines="\n".join(lines),
        )

    # ------------------------------------------------------------------ paid in advance (portal)
    @api.model
    def _visits_paid_in_advance(self, visits):
        """The ids of the ``visits`` (to come) holding a payment from the balance
        not credited back: paid in advance on the portal (one query, none when no
        visit is paid from the balance)."""
        visits = visits.filtered(lambda v: v.payment_method == "prepaid")
        if not visits:
            return set()
        self.env["housekeeping.prepaid.entry"].flush_model(["visit_id", "entry_type"])
        self.env.cr.execute(
            SQL(
                """SELECT e.visit_id FROM housekeeping_prepaid_entry e
                    WHERE e.visit_id = ANY(%s) AND e.entry_type = 'spend'
                      AND NOT EXISTS (SELECT 1 FROM housekeeping_prepaid_entry r
                                       WHERE r.origin_entry_id = e.id)""",
                visits.ids,
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _pay_in_advance(self, visit):
        """The customer pays ``visit``, a visit to come, from their balance now
        (the portal's *Pay from balance*): the card is locked and the balance
        checked under the lock, the visit becomes paid from the balance for its
        whole amount and the debit is posted at once, so the money is reserved and
        nothing can spend it twice (completing the visit debits nothing more;
        cancelling it credits the payment back). Raises ``UserError`` with the
        reason, before anything is written, when the visit is not payable, already
        paid or the balance is short."""
        visit.ensure_one()
        if visit.state not in ("draft", "scheduled"):
            raise UserError(self.env._("This visit can no longer be paid from the balance."))
        if visit.currency_id.compare_amounts(visit.amount, 0.0) <= 0:
            raise UserError(
                self.env._("This visit has no price yet: it can be paid once we have confirmed it.")
            )
        if (
            visit.is_paid
            or visit.payment_method == "package"
            or self._visits_paid_in_advance(visit)
        ):
            raise UserError(self.env._("This visit is already paid."))
        company = visit.company_id
        locked, card_of = self._lock_partner_cards({(visit.partner_id.id, company.id)}, company)
        balance = locked.get(card_of.get((visit.partner_id.id, company.id)), (0.0, 0.0))[0]
        if company.currency_id.compare_amounts(balance, visit.amount) < 0:
            raise UserError(
                self.env._(
                    "Your prepaid balance (%(balance)s) is short of the %(amount)s of this "
                    "visit: nothing was paid. Top up your balance, or pay the visit another way.",
                    balance=format_amount(self.env, balance, company.currency_id),
                    amount=format_amount(self.env, visit.amount, company.currency_id),
                )
            )
        visit.write(
            {
                "payment_method": "prepaid",
                "prepaid_amount": visit.amount,
                "payment_method_rest": False,
            }
        )
        prepaid, _package = self._visit_candidates(visit, done=False)
        rows = self._visit_debits(prepaid)
        with engine_writes(PREPAID_LEDGER):
            return self._post(rows)

    # ------------------------------------------------------------------ visit packages
    @api.model
    def _package_uses(self, todo):
        """The package visits used by the visits paid by package ``todo`` (rows
        of ``_visit_candidates``): each takes the oldest valid package of its
        customer, company and service type with a visit left (valid on the
        visit's day, long enough for its duration); the packages are locked (id
        order). Raises ``UserError`` naming the visits without a package.
        Returns ``[(package id, visit row)]``."""
        if not todo:
            return []
        self.env["housekeeping.package"].flush_model()
        self.env.cr.execute(
            SQL(
                """
            SELECT id, partner_id, company_id, service_type_id, date_start, date_end,
                   COALESCE(duration, 0), visits_total - visits_used
              FROM housekeeping_package
             WHERE state = 'active' AND visits_used < visits_total
               AND partner_id = ANY(%s) AND service_type_id = ANY(%s)
             ORDER BY id FOR NO KEY UPDATE
            """,
                list({row[2] for row in todo}),
                list({row[5] for row in todo}),
            )
        )
        packages = {}
        for pid, partner, company, stype, start, end, duration, left in self.env.cr.fetchall():
            packages.setdefault((partner, company, stype), []).append(
                [start, pid, end, duration, left]
            )
        for lots in packages.values():
            lots.sort()
        uses, missing = [], []
        for row in todo:
            _vid, name, partner, company, _amount, stype, day, duration = row
            for lot in packages.get((partner, company, stype), []):
                start, pid, end, lot_duration, left = lot
                if (
                    left > 0
                    and start <= day <= end
                    and (not lot_duration or duration <= lot_duration)
                ):
                    lot[4] -= 1
                    uses.append((pid, row))
                    break
            else:
                missing.append(name)
        if missing:
            raise UserError(
                self.env._(
                    "No valid visit package is left for %(visits)s, nothing was recorded. "
                    "Sell a package of the service first, or record the visit with another "
                    "payment method.",
                    visits=", ".join(missing),
                )
            )
        return uses

    @api.model
    def _post_package_uses(self, uses, units=1, origins=None):
        """Insert the uses (``[(package id, visit row)]``, ``units`` each) and
        update the packages' counts, in two statements."""
        if not uses:
            return
        bulk_insert(
            self.env["housekeeping.package.use"],
            [
                {
                    "package_id": pid,
                    "partner_id": row[2],
                    "company_id": row[3],
                    "visit_id": row[0],
                    "units": units,
                    "date": fields.Datetime.now(),
                    "origin_use_id": (origins or {}).get(row[0]),
                }
                for pid, row in uses
            ],
        )
        counts = {}
        for pid, _row in uses:
            counts[pid] = counts.get(pid, 0) + units
        self.env.cr.execute(
            SQL(
                """UPDATE housekeeping_package p
                      SET visits_used = p.visits_used + d.n,
                          visits_left = p.visits_left - d.n,
                          write_uid = %s, write_date = now() AT TIME ZONE 'UTC'
                     FROM unnest(%s::int4[], %s::int4[]) AS d(id, n)
                    WHERE p.id = d.id""",
                self.env.uid,
                pg_array(list(counts)),
                pg_array(list(counts.values())),
            )
        )
        self.env["housekeeping.package"].invalidate_model()
        self.env["res.partner"].invalidate_model(["package_visits_left"])

    @api.model
    def _package_give_back(self, visits):
        """Cancelled ``visits``: the package visits they used are given back."""
        self.env["housekeeping.package.use"].flush_model()
        self.env.cr.execute(
            SQL(
                """
            SELECT u.id, u.package_id, u.visit_id, u.partner_id, u.company_id
              FROM housekeeping_package_use u
             WHERE u.visit_id = ANY(%s) AND u.units > 0
               AND NOT EXISTS (SELECT 1 FROM housekeeping_package_use r
                                WHERE r.origin_use_id = u.id)
             ORDER BY u.package_id
            """,
                visits.ids,
            )
        )
        found = self.env.cr.fetchall()
        if not found:
            return
        self.env.cr.execute(
            SQL(
                "SELECT id FROM housekeeping_package WHERE id = ANY(%s) ORDER BY id "
                "FOR NO KEY UPDATE",
                list({row[1] for row in found}),
            )
        )
        uses = [(pkg, (vid, None, partner, company)) for _uid, pkg, vid, partner, company in found]
        self._post_package_uses(uses, units=-1, origins={row[2]: row[0] for row in found})

    @api.model
    def _orders_packages(self, orders):
        """The package lines of the confirmed ``orders`` give one package per unit
        (once per line)."""
        lines = orders.order_line.filtered(lambda line: not line.display_type and line.product_id)
        templates = (
            self.env["housekeeping.package.template"]
            .sudo()
            .with_context(active_test=False)
            .search([("product_id", "in", lines.product_id.ids)])
        )
        if not templates:
            return self.env["housekeeping.package"]
        template_of = {t.product_id.id: t for t in templates}
        lines = lines.filtered(lambda line: line.product_id.id in template_of)
        given = set(
            self.env["housekeeping.package"]
            .sudo()
            .search([("sale_line_id", "in", lines.ids)])
            .sale_line_id.ids
        )
        today = fields.Date.context_today(self)
        vals_list = []
        for line in lines.filtered(lambda line: line.id not in given):
            template = template_of[line.product_id.id]
            for n in range(int(line.product_uom_qty)):
                vals_list.append(
                    {
                        "name": f"{template.name} · {line.order_id.name}-{n + 1}",
                        "partner_id": line.order_id.partner_id.id,
                        "company_id": line.order_id.company_id.id,
                        "template_id": template.id,
                        "service_type_id": template.service_type_id.id,
                        "duration": template.duration,
                        "visits_total": template.visit_count,
                        "date_start": today,
                        "date_end": today + relativedelta(months=template.validity_months),
                        "transferable": template.transferable,
                        "sale_order_id": line.order_id.id,
                        "sale_line_id": line.id,
                    }
                )
        with engine_writes(PACKAGE_LEDGER):
            return self.env["housekeeping.package"].sudo().create(vals_list)

    @api.model
    def _orders_packages_cancelled(self, orders):
        packages = (
            self.env["housekeeping.package"]
            .sudo()
            .search([("sale_order_id", "in", orders.ids), ("state", "=", "active")])
        )
        if not packages:
            return
        if any(package.visits_used for package in packages):
            raise UserError(
                self.env._(
                    "A visit package of this order was already used: the order cannot be cancelled."
                )
            )
        with engine_writes(PACKAGE_LEDGER):
            packages.write({"state": "cancelled"})

    @api.model
    def _package_counts(self, partner_ids, company):
        """{partner id: visits left} of the valid packages in ``company``."""
        if not partner_ids:
            return {}
        self.env["housekeeping.package"].flush_model()
        self.env.cr.execute(
            SQL(
                """SELECT partner_id, sum(visits_left) FROM housekeeping_package
                    WHERE partner_id = ANY(%s) AND company_id = %s AND state = 'active'
                      AND date_end >= %s
                    GROUP BY partner_id""",
                list(partner_ids),
                company.id,
                fields.Date.context_today(self),
            )
        )
        return dict(self.env.cr.fetchall())

    # ------------------------------------------------------------------ cancellations
    @api.model
    def _visits_cancelled(self, visits):
        """Step of the cancellation pipeline: the prepaid payments of ``visits``
        not yet credited back are credited back, principal and bonus as taken;
        the package visits they used are given back."""
        if not visits:
            return self.env["housekeeping.prepaid.entry"]
        self._package_give_back(visits)
        self.env["housekeeping.prepaid.entry"].flush_model()
        self.env.cr.execute(
            SQL(
                """
            SELECT e.id, e.card_id, e.partner_id, e.company_id, e.principal, e.bonus,
                   e.visit_id, v.name
              FROM housekeeping_prepaid_entry e
              JOIN housekeeping_visit v ON v.id = e.visit_id
             WHERE e.visit_id = ANY(%s) AND e.entry_type = 'spend'
               AND NOT EXISTS (SELECT 1 FROM housekeeping_prepaid_entry r
                                WHERE r.origin_entry_id = e.id)
             ORDER BY e.id
            """,
                visits.ids,
            )
        )
        found = self.env.cr.fetchall()
        if not found:
            return self.env["housekeeping.prepaid.entry"]
        self._lock_cards([row[1] for row in found])
        template = self.env._("Visit %(visit)s cancelled: payment credited back")
        rows = [
            {
                "card_id": cid,
                "partner_id": pid,
                "company_id": company_id,
                "entry_type": "reversal",
                "principal": -float(principal),
                "bonus": -float(bonus),
                "visit_id": vid,
                "origin_entry_id": eid,
                "description": template % {"visit": name},
            }
            for eid, cid, pid, company_id, principal, bonus, vid, name in found
        ]
        with engine_writes(PREPAID_LEDGER):
            return self._post(rows)

    # ------------------------------------------------------------------ top-ups
    @api.model
    def _orders_confirmed(self, orders):
        """Credit the top-up lines of the confirmed ``orders`` (products of a
        ``housekeeping.prepaid.offer``): principal = what the line costs, bonus
        = the offer's, per unit; a line is credited once."""
        self._orders_packages(orders)
        lines = orders.order_line.filtered(lambda line: not line.display_type and line.product_id)
        if not lines:
            return self.env["housekeeping.prepaid.entry"]
        offers = (
            self.env["housekeeping.prepaid.offer"]
            .sudo()
            .with_context(active_test=False)
            .search([("product_id", "in", lines.product_id.ids)])
        )
        offer_of = {offer.product_id.id: offer for offer in offers}
        lines = lines.filtered(lambda line: line.product_id.id in offer_of)
        if not lines:
            return self.env["housekeeping.prepaid.entry"]
        done = set(
            self.env["housekeeping.prepaid.entry"]
            .sudo()
            .search([("sale_line_id", "in", lines.ids), ("entry_type", "=", "topup")])
            .sale_line_id.ids
        )
        lines = lines.filtered(lambda line: line.id not in done)
        rows = []
        template = self.env._("Top-up %(offer)s (order %(order)s)")
        for line in lines:
            order, offer = line.order_id, offer_of[line.product_id.id]
            company = order.company_id
            if order.currency_id != company.currency_id:
                raise UserError(
                    self.env._(
                        "A top-up is sold in the company's currency (%(currency)s).",
                        currency=company.currency_id.name,
                    )
                )
            if line.product_uom_qty <= 0 or line.price_total < 0:
                raise UserError(self.env._("A top-up line needs a positive quantity and price."))
            partner = order.partner_id
            cid = self._cards(partner, company, create=True)[partner.id]
            months = offer.bonus_validity_months
            bonus = self._round(company, offer._bonus_for(partner) * line.product_uom_qty)
            rows.append(
                {
                    "card_id": cid,
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "entry_type": "topup",
                    "principal": self._round(company, line.price_total),
                    "bonus": bonus,
                    "sale_order_id": order.id,
                    "sale_line_id": line.id,
                    "offer_id": offer.id,
                    "bonus_expiry": (
                        fields.Date.context_today(self) + relativedelta(months=months)
                        if bonus and months
                        else None
                    ),
                    "description": template % {"offer": offer.name, "order": order.name},
                }
            )
        if not rows:
            return self.env["housekeeping.prepaid.entry"]
        self._lock_cards([row["card_id"] for row in rows])
        with engine_writes(PREPAID_LEDGER):
            entries = self._post(rows)
        self._topup_points(entries)
        return entries

    @api.model
    def _orders_cancelled(self, orders):
        """A cancelled top-up order takes its credit back, if still unspent
        (else the cancellation is refused: refund what is left instead); its
        unused visit packages are cancelled."""
        self._orders_packages_cancelled(orders)
        entries = (
            self.env["housekeeping.prepaid.entry"]
            .sudo()
            .search([("sale_order_id", "in", orders.ids), ("entry_type", "=", "topup")])
        )
        reversed_ids = set(
            self.env["housekeeping.prepaid.entry"]
            .sudo()
            .search([("origin_entry_id", "in", entries.ids)])
            .origin_entry_id.ids
        )
        entries = entries.filtered(lambda e: e.id not in reversed_ids)
        if not entries:
            return self.env["housekeeping.prepaid.entry"]
        locked = self._lock_cards(entries.card_id.ids)
        template = self.env._("Top-up order %(order)s cancelled")
        rows = []
        for card in entries.card_id:
            mine = entries.filtered(lambda e, c=card: e.card_id == c)
            balance, bonus = locked[card.id]
            principal_left = balance - bonus
            need_p, need_b = sum(mine.mapped("principal")), sum(mine.mapped("bonus"))
            currency = card.company_id.currency_id or self.env.company.currency_id
            if currency.compare_amounts(principal_left, need_p) < 0:
                raise UserError(
                    self.env._(
                        "The top-up of %(customer)s was already spent: it cannot be "
                        "cancelled. Refund what is left of the principal instead.",
                        customer=card.partner_id.display_name,
                    )
                )
            # the bonus already spent stays spent: take back what is left of it
            taken_b = min(need_b, bonus)
            for entry in mine:
                share = taken_b * (entry.bonus / need_b) if need_b else 0.0
                rows.append(
                    {
                        "card_id": card.id,
                        "partner_id": entry.partner_id.id,
                        "company_id": entry.company_id.id,
                        "entry_type": "correction",
                        "principal": -float(entry.principal),
                        "bonus": -self._round(entry.company_id, share),
                        "sale_order_id": entry.sale_order_id.id,
                        "origin_entry_id": entry.id,
                        "reason": template % {"order": entry.sale_order_id.name},
                        "description": template % {"order": entry.sale_order_id.name},
                    }
                )
        # a cancelled top-up takes back all the points it earned (checked first)
        plan = self._topup_points_plan(entries)
        with engine_writes(PREPAID_LEDGER):
            posted = self._post(rows)
        cause_of = {entry.origin_entry_id.id: entry for entry in posted}
        self._topup_points_back(plan, cause_of, "topup_cancelled")
        return posted

    @api.model
    def _opening_balances(self, amounts, company, description):
        """Credit ``amounts`` ({partner id: principal}) in ``company`` as top-ups
        without an order (balances brought from another system, the demo)."""
        amounts = {pid: amount for pid, amount in amounts.items() if amount > 0}
        if not amounts:
            return self.env["housekeeping.prepaid.entry"]
        partners = self.env["res.partner"].browse(list(amounts))
        cards = self._cards(partners, company, create=True)
        self._lock_cards(cards.values())
        rows = [
            {
                "card_id": cards[pid],
                "partner_id": pid,
                "company_id": company.id,
                "entry_type": "topup",
                "principal": self._round(company, amount),
                "bonus": 0.0,
                "reason": description,
                "description": description,
            }
            for pid, amount in amounts.items()
        ]
        with engine_writes(PREPAID_LEDGER):
            return self._post(rows)

    # ------------------------------------------------------------------ refunds, corrections
    @api.model
    def _check_manager(self):
        if not self.env.su and not self.env.user.has_group(
            "housekeeping_membership.group_membership_manager"
        ):
            raise AccessError(
                self.env._("Only a membership manager can refund or correct a prepaid balance.")
            )

    @api.model
    def _refund(self, partner, company, amount, reason):
        """Refund ``amount`` of the unused principal of ``partner``'s eWallet in
        ``company`` (managers, with a reason). A refund of all the principal left
        forfeits the bonus left with it (the bonus is never paid out)."""
        self._check_manager()
        reason = (reason or "").strip()
        if not reason:
            raise UserError(self.env._("A refund needs a reason."))
        currency = company.currency_id
        if currency.compare_amounts(amount, 0.0) <= 0:
            raise UserError(self.env._("The amount to refund must be positive."))
        cid = self._cards(partner, company).get(partner.id)
        balance, bonus = self._lock_cards([cid]).get(cid, (0.0, 0.0)) if cid else (0.0, 0.0)
        principal_left = self._round(company, balance - bonus)
        if currency.compare_amounts(amount, principal_left) > 0:
            raise UserError(
                self.env._(
                    "Only the unused principal can be refunded: %(left)s left, %(asked)s asked.",
                    left=format_amount(self.env, principal_left, currency),
                    asked=format_amount(self.env, amount, currency),
                )
            )
        forfeit = bonus if currency.compare_amounts(amount, principal_left) == 0 else 0.0
        row = {
            "card_id": cid,
            "partner_id": partner.id,
            "company_id": company.id,
            "entry_type": "refund",
            "principal": -self._round(company, amount),
            "bonus": -self._round(company, forfeit),
            "reason": reason,
            "description": self.env._("Refund: %(reason)s", reason=reason),
        }
        # the refunded principal takes back the points it earned (checked first)
        plan = self._topup_points_plan(
            self.env["housekeeping.prepaid.entry"], partner, company, self._round(company, amount)
        )
        with engine_writes(PREPAID_LEDGER):
            posted = self._post([row])
        self._topup_points_back(plan, {None: posted}, "topup_refund")
        return posted

    @api.model
    def _correct(self, partner, company, amount, reason):
        """A manual correction of ``amount`` (signed, principal) with a reason
        (managers); never below zero."""
        self._check_manager()
        reason = (reason or "").strip()
        if not reason:
            raise UserError(self.env._("A correction needs a reason."))
        currency = company.currency_id
        if currency.is_zero(amount):
            raise UserError(self.env._("A correction needs an amount."))
        cid = self._cards(partner, company, create=True)[partner.id]
        balance, bonus = self._lock_cards([cid])[cid]
        if currency.compare_amounts(balance - bonus + amount, 0.0) < 0:
            raise UserError(self.env._("A correction cannot take more than the principal left."))
        row = {
            "card_id": cid,
            "partner_id": partner.id,
            "company_id": company.id,
            "entry_type": "correction",
            "principal": self._round(company, amount),
            "bonus": 0.0,
            "reason": reason,
            "description": self.env._("Correction: %(reason)s", reason=reason),
        }
        with engine_writes(PREPAID_LEDGER):
            return self._post([row])

    # ------------------------------------------------------------------ points on top-ups
    @api.model
    def _topup_points(self, entries):
        """*Points on Top-ups*: each top-up of ``entries`` of a company with the
        setting earns floor(principal × points per currency unit × the customer's
        tier multiplier), never on its bonus: one credit per top-up, linked to it
        (``prepaid_entry_id``, key ``topup:<entry id>``)."""
        entries = entries.filtered(
            lambda e: (
                e.entry_type == "topup" and e.principal > 0 and e.company_id.hk_prepaid_topup_points
            )
        )
        if not entries:
            return self.env["housekeeping.points.entry"]
        multipliers = entries.partner_id._hk_points_multiplier()
        today = fields.Date.context_today(self)
        vals_list = []
        for entry in entries:
            company = entry.company_id
            points = math.floor(
                entry.principal
                * company.hk_points_per_currency
                * multipliers.get(entry.partner_id.id, 1.0)
                + 1e-9
            )
            if points <= 0:
                continue
            months = company.hk_points_validity_months
            vals_list.append(
                {
                    "partner_id": entry.partner_id.id,
                    "company_id": company.id,
                    "points": points,
                    "entry_type": "earn",
                    "reason_code": "topup",
                    "prepaid_entry_id": entry.id,
                    "date": today,
                    "expiry_date": today + relativedelta(months=months) if months else None,
                    "source_key": f"topup:{entry.id}",
                }
            )
        return self.env["housekeeping.points.entry"].sudo()._post_credits(vals_list)

    @api.model
    def _topup_points_plan(self, topups, partner=None, company=None, principal=0.0):
        """The points to take back, as ``[(credit, points, top-up entry)]``: all
        the points left of the credits earned by the top-ups ``topups`` (a
        cancelled top-up), or, for a refund of ``principal`` of ``partner`` in
        ``company``, those of the refunded principal at the rate its top-up
        earned, newest top-up first (the money paid back is the last paid in:
        the earlier refunds are replayed in order over the customer's top-ups,
        those that earned no points included). Never more than what a credit has
        left (not taken back, not expired). Raises ``UserError``, nothing written,
        when the customer already spent them and the company does not allow
        negative points balances."""
        Entry = self.env["housekeeping.points.entry"].sudo()
        if topups:
            credits = Entry.search(
                [
                    ("reason_code", "=", "topup"),
                    ("entry_type", "=", "earn"),
                    ("prepaid_entry_id", "in", topups.ids),
                ]
            )
        elif partner:
            credits = Entry.search(
                [
                    ("reason_code", "=", "topup"),
                    ("entry_type", "=", "earn"),
                    ("partner_id", "=", partner.id),
                    ("company_id", "=", company.id),
                ]
            )
        else:
            return []
        if not credits:
            return []
        # what each credit gave back already (refunds, cancellation) or lost (expiry)
        gone = dict(
            Entry._read_group(
                [("origin_entry_id", "in", credits.ids), ("points", "<", 0)],
                ["origin_entry_id"],
                ["points:sum"],
            )
        )
        remaining = {credit: credit.points + gone.get(credit, 0) for credit in credits}
        if topups:
            plan = [(c, left, c.prepaid_entry_id) for c, left in remaining.items() if left > 0]
        else:
            credit_of = {credit.prepaid_entry_id.id: credit for credit in credits}
            # the principal of each top-up not refunded yet: the earlier refunds
            # replayed in order, each from the newest top-ups first
            stack = []
            for entry in (
                self.env["housekeeping.prepaid.entry"]
                .sudo()
                .search(
                    [
                        ("partner_id", "=", partner.id),
                        ("company_id", "=", company.id),
                        ("entry_type", "in", ("topup", "refund", "correction")),
                    ],
                    order="id",
                )
            ):
                if entry.entry_type == "topup" and entry.principal > 0:
                    stack.append([entry, entry.principal])
                elif entry.entry_type == "correction" and entry.origin_entry_id:
                    stack = [item for item in stack if item[0] != entry.origin_entry_id]
                elif entry.entry_type == "refund":
                    self._consume(stack, -entry.principal)
            plan = []
            for topup, part, whole in self._consume(stack, principal):
                credit = credit_of.get(topup.id)
                if not credit or remaining[credit] <= 0:
                    continue
                points = (
                    remaining[credit]
                    if whole
                    else min(
                        remaining[credit],
                        math.floor(part * credit.points / topup.principal + 1e-9),
                    )
                )
                if points > 0:
                    plan.append((credit, points, topup))
        for customer in {credit.partner_id for credit, _p, _t in plan}:
            needed = sum(points for credit, points, _t in plan if credit.partner_id == customer)
            if customer._hk_company().hk_points_allow_negative:
                continue
            balance = Entry._lock_balance(customer)
            if balance < needed:
                raise UserError(
                    self.env._(
                        "%(customer)s already spent %(missing)s of the %(points)s points "
                        "earned on this prepaid money: taking them back would leave a "
                        "negative points balance, nothing was recorded. Deduct the value of "
                        "the points spent from the money paid back (refund less), or allow "
                        "negative points balances in the settings.",
                        customer=customer.display_name,
                        missing=needed - max(balance, 0),
                        points=needed,
                    )
                )
        return plan

    @staticmethod
    def _consume(stack, amount):
        """Take ``amount`` from the ``stack`` of ``[top-up, principal left]``,
        newest first; returns ``[(top-up, part taken, all of it)]``."""
        taken = []
        while amount > 0.005 and stack:
            topup, left = stack[-1]
            part = min(amount, left)
            amount -= part
            whole = part >= left - 0.005
            taken.append((topup, part, whole))
            if whole:
                stack.pop()
            else:
                stack[-1][1] = left - part
        return taken

    @api.model
    def _topup_points_back(self, plan, cause_of, reason_code):
        """Post the take-backs of ``plan`` (``_topup_points_plan``): a reversal of
        each credit, linked to the prepaid movement that caused it (``cause_of``:
        {top-up entry id: movement}, or {None: movement} for all)."""
        Entry = self.env["housekeeping.points.entry"].sudo()
        for credit, points, topup in plan:
            cause = cause_of.get(topup.id) or cause_of.get(None)
            Entry._post_debit(
                credit.partner_id,
                points,
                {
                    "entry_type": "reversal",
                    "reason_code": reason_code,
                    "origin_entry_id": credit.id,
                    "prepaid_entry_id": cause.id if cause else None,
                    "company_id": credit.company_id.id,
                    "source_key": f"{reason_code}:{cause.id if cause else 0}:{credit.id}",
                },
                allow_negative=True,
            )

    # ------------------------------------------------------------------ bonus expiry
    @api.model
    def _run(self):
        """Expire the bonus left on the cards whose bonus expiry has passed, by
        batches of cards (keyset); idempotent (an expired bonus is zero)."""
        today = fields.Date.context_today(self)
        template = self.env._("Bonus expired")

        def step(limit, after):
            self.env["loyalty.card"].flush_model()
            self.env.cr.execute(
                SQL(
                    """SELECT c.id FROM loyalty_card c
                        WHERE c.hk_bonus > 0 AND c.hk_bonus_expiry < %s AND c.id > %s
                        ORDER BY c.id LIMIT %s""",
                    today,
                    after,
                    limit,
                )
            )
            ids = [row[0] for row in self.env.cr.fetchall()]
            if not ids:
                return 0, 0, False, after
            locked = self._lock_cards(ids)
            self.env.cr.execute(
                SQL(
                    """SELECT c.id, c.partner_id, p.company_id FROM loyalty_card c
                         JOIN loyalty_program p ON p.id = c.program_id
                        WHERE c.id = ANY(%s) AND c.hk_bonus_expiry < %s""",
                    ids,
                    today,
                )
            )
            rows = [
                {
                    "card_id": cid,
                    "partner_id": pid,
                    "company_id": company_id,
                    "entry_type": "expire",
                    "principal": 0.0,
                    "bonus": -locked[cid][1],
                    "description": template,
                }
                for cid, pid, company_id in self.env.cr.fetchall()
                if locked[cid][1] > 0
            ]
            with engine_writes(PREPAID_LEDGER):
                self._post(rows)
            return len(ids), len(rows), len(ids) == limit, ids[-1]

        return self._batches(self._engine_key, self._engine_batch_param, step, default=5000)

    # ------------------------------------------------------------------ balances
    @api.model
    def _balances(self, partner_ids, company):
        """{partner id: (balance, bonus)} of the eWallets in ``company``, one query."""
        program = self._program(company, create=False)
        if not program or not partner_ids:
            return {}
        self.env["loyalty.card"].flush_model(["points", "hk_bonus", "partner_id", "program_id"])
        self.env.cr.execute(
            SQL(
                """SELECT partner_id, sum(points), sum(LEAST(GREATEST(hk_bonus, 0),
                                                         GREATEST(points, 0)))
                     FROM loyalty_card
                    WHERE program_id = %s AND partner_id = ANY(%s) AND active
                    GROUP BY partner_id""",
                program.id,
                list(partner_ids),
            )
        )
        return {pid: (points or 0.0, bonus or 0.0) for pid, points, bonus in self.env.cr.fetchall()}
