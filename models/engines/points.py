import math
import re

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..housekeeping_points import REASON_CODES
from ..res_partner import PROFILE_FIELDS


class HousekeepingEnginePoints(models.AbstractModel):
    """Points earned and taken back as things happen (no scheduled pass): the
    points step of the visit pipeline (a done visit's points, the referral bonus
    of a first paid visit, campaign visit tasks) and its reversal when the visit
    is cancelled, the profile completion bonus, grants of other capabilities
    (journey offers, goodwill), the balance recomputed after a merge and the
    check-in streaks. The ledger itself, its credits, debits and locks, is
    ``housekeeping.points.entry``; the daily expiry and campaign tasks are engines
    of their own (``points_expiry.py``, ``points_campaign.py``); the customer's
    fields and actions (check-in, referral codes) are ``res.partner``'s."""

    _name = "housekeeping.engine.points"
    _inherit = ["housekeeping.engine"]
    _description = "Points Engine"

    # the balance, recomputed from the ledger (_refresh_balance)
    _engine_fields = ("points_balance",)

    # ------------------------------------------------------------------ visit pipeline
    @api.model
    def _visits_done(self, visits):
        """Step of the visit pipeline (``housekeeping.visit._hk_pipeline_done``):
        the points of the done ``visits`` and what they trigger, for their
        customers."""
        customers = visits.partner_id
        self._earn_visit_points(visits)
        # what the completion triggers is linked to the visit: cancelling it takes
        # that back too when its cause no longer holds (_reverse_visit_points)
        by_date = visits.sorted("date")
        visit_of = {visit.partner_id.id: visit.id for visit in by_date}
        paid_visit_of = {visit.partner_id.id: visit.id for visit in by_date if visit.amount > 0}
        self._reward_referrals(customers, paid_visit_of)
        today = fields.Date.context_today(self)
        self.env["housekeeping.points.campaign"].sudo().search(
            [("task", "=", "visits"), ("date_from", "<=", today), ("date_to", ">=", today)]
        )._reward_qualified(today, partner_ids=customers.ids, visit_of=visit_of)

    @api.model
    def _earn_visit_points(self, visits):
        """One lot per done visit: floor(amount × rate × tier multiplier). A visit
        credits once per completion (``visit:<id>:<n>``, n = earlier reversals)."""
        visits = visits.filtered(
            lambda v: (
                v.state == "done"
                and v.amount > 0
                and v.partner_id
                and (v.is_paid or not v.company_id.hk_points_when_paid)
            )
        )
        if not visits:
            return
        Entry = self.env["housekeeping.points.entry"]
        reversals = dict(
            Entry._read_group(
                [
                    ("visit_id", "in", visits.ids),
                    ("entry_type", "=", "reversal"),
                    ("origin_entry_id.reason_code", "=", "visit"),
                ],
                ["visit_id"],
                ["__count"],
            )
        )
        multipliers = visits.partner_id._hk_points_multiplier()
        from_balance = self._paid_from_balance(visits)
        today = fields.Date.context_today(self)
        backdate = self.env.context.get("hk_points_date_from_visit")  # demo history
        vals_list = []
        for visit in visits:
            day = visit.date.date() if backdate else today
            partner = visit.partner_id
            company = visit.company_id or partner._hk_company()
            # Points on Top-ups: the part paid from the balance earned its points
            # when it was topped up; the rest paid otherwise earns
            base = visit.amount - from_balance.get(visit.id, 0.0)
            points = math.floor(
                base * company.hk_points_per_currency * multipliers.get(partner.id, 1.0) + 1e-9
            )
            if points <= 0:
                continue
            months = company.hk_points_validity_months
            vals_list.append(
                {
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "points": points,
                    "entry_type": "earn",
                    "reason_code": "visit",
                    "visit_id": visit.id,
                    "date": day,
                    "expiry_date": day + relativedelta(months=months) if months else None,
                    "source_key": f"visit:{visit.id}:{reversals.get(visit, 0)}",
                }
            )
        Entry._post_credits(vals_list)

    @api.model
    def _paid_from_balance(self, visits):
        """{visit id: the part paid from the prepaid balance} of the ``visits`` of
        companies with *Points on Top-ups* (one query, none when no company has
        it; a part not set, as on visits inserted in SQL, is the whole amount)."""
        visits = visits.filtered(
            lambda v: v.payment_method == "prepaid" and v.company_id.hk_prepaid_topup_points
        )
        if not visits:
            return {}
        visits.flush_recordset(["payment_method", "amount", "prepaid_amount"])
        self.env.cr.execute(
            SQL(
                """SELECT id, COALESCE(prepaid_amount, amount) FROM housekeeping_visit
                    WHERE id = ANY(%s)""",
                visits.ids,
            )
        )
        return {vid: float(part or 0.0) for vid, part in self.env.cr.fetchall()}

    @api.model
    def _reverse_visit_points(self, visits):
        """Take back what the cancelled ``visits`` credited: their own points always;
        what visits trigger (the referral bonus of a first paid visit, a campaign's
        visit task) when its cause no longer holds without them: the referred
        customer has no paid visit left, the task is no longer met (whichever of
        the customer's visits the credit was linked to). The tier upgrade gift
        follows the tier (the tier engine's ``_tier_withdraw``)."""
        Entry = self.env["housekeeping.points.entry"].sudo()
        customers = visits.partner_id
        # statistics are refreshed: a customer without a paid visit left loses
        # the referral on both sides
        unpaid = customers.filtered(
            lambda p: p.referred_by_id and not (p.visit_count and p.total_spent > 0)
        )
        # referral:<referred id> (the referrer's), referred:<referred id> (theirs)
        referrals = Entry.search(
            [
                ("reason_code", "=", "referral"),
                ("entry_type", "=", "earn"),
                ("partner_id", "in", (unpaid | unpaid.referred_by_id).ids),
            ]
        ).filtered(lambda e: int(e.source_key.split(":")[1]) in unpaid.ids)
        tasks = Entry.search(
            [
                ("reason_code", "=", "task"),
                ("entry_type", "=", "earn"),
                ("partner_id", "in", customers.ids),
            ]
        )
        if tasks:
            Campaign = (
                self.env["housekeeping.points.campaign"].sudo().with_context(active_test=False)
            )
            by_campaign = {}
            for entry in tasks:
                by_campaign.setdefault(int(entry.source_key.split(":")[1]), []).append(entry)
            kept = set()
            for campaign_id, entries in by_campaign.items():
                campaign = Campaign.browse(campaign_id).exists()
                # only a campaign one of the cancelled visits counted for is
                # checked again (its dates, company and service)
                counted = visits.filtered(
                    lambda v, c=campaign: (
                        c.task == "visits"
                        and c.date_from <= v.date.date() <= c.date_to
                        and v.company_id == c.company_id
                        and (not c.service_type_id or v.service_type_id == c.service_type_id)
                    )
                )
                if not counted:
                    kept.update(e.id for e in entries)
                    continue
                met = campaign._met_by([e.partner_id.id for e in entries])
                kept.update(
                    e.id
                    for e in entries
                    if e.partner_id.id in met or e.partner_id not in counted.partner_id
                )
            tasks = tasks.filtered(lambda e: e.id not in kept)
        own = Entry.search(
            [
                ("visit_id", "in", visits.ids),
                ("reason_code", "=", "visit"),
                ("entry_type", "=", "earn"),
            ]
        )
        self._reverse_credits(own | referrals | tasks)

    @api.model
    def _reverse_credits(self, credits):
        """Post a reversal of each of ``credits`` not reversed yet (reason *Visit
        Cancelled*), of what is left of it: what expired already left the balance
        and is not taken twice. When the points were already spent, the balance
        goes negative only if the company allows it or a membership manager
        cancels; otherwise a ``UserError`` refuses the cancellation."""
        Entry = self.env["housekeeping.points.entry"].sudo()
        if not credits:
            return
        credits = credits.filtered_domain(Entry._standing_domain())
        expired = {
            lot.id: -points
            for lot, points in Entry._read_group(
                [("origin_entry_id", "in", credits.ids), ("entry_type", "=", "expire")],
                ["origin_entry_id"],
                ["points:sum"],
            )
        }
        is_manager = self.env.user.has_group("housekeeping_membership.group_membership_manager")
        for entry in credits:
            partner = entry.partner_id
            points = entry.points - expired.get(entry.id, 0)
            vals = {
                "entry_type": "reversal",
                "reason_code": "visit_cancelled",
                "visit_id": entry.visit_id.id,
                "origin_entry_id": entry.id,
                "source_key": f"reversal:{entry.id}",
                "company_id": entry.company_id.id,
            }
            if points <= 0:
                # every point of it expired: the reversal is recorded for nothing, so
                # that the cause, met again, credits again
                Entry._insert(
                    [
                        {
                            **vals,
                            "partner_id": partner.id,
                            "points": 0,
                            "date": fields.Date.context_today(self),
                        }
                    ]
                )
                continue
            allow = partner._hk_company().hk_points_allow_negative or is_manager
            if not allow and Entry._lock_balance(partner) < points:
                raise UserError(
                    self.env._(
                        "%(customer)s already spent the %(points)s points of visit %(visit)s. "
                        "Cancelling it would leave a negative balance: ask a membership "
                        "manager to cancel it.",
                        customer=partner.display_name,
                        points=points,
                        visit=entry.visit_id.display_name,
                    )
                )
            Entry._post_debit(partner, points, vals, allow_negative=True)

    # ------------------------------------------------------------------ referrals
    @staticmethod
    def _same_person(a, b):
        """Self-referral: the same phone number, e-mail or address."""

        def digits(value):
            return re.sub(r"\D", "", value or "")[-11:]

        if digits(a.phone) and digits(a.phone) == digits(b.phone):
            return True
        if a.email and (a.email or "").strip().lower() == (b.email or "").strip().lower():
            return True
        address = (a.street or "").strip().lower(), (a.city or "").strip().lower()
        return bool(address[0]) and address == (
            (b.street or "").strip().lower(),
            (b.city or "").strip().lower(),
        )

    @api.model
    def _reward_referrals(self, partners, visit_of=None):
        """Credit the referrer of each customer of ``partners`` whose first paid visit
        is done: once per referred customer (``referral:<id>``, again only if a
        cancelled visit took it back), never for a self-referral, and at most the
        company's monthly cap per referrer. ``visit_of``: {customer id: that paid
        visit}, linked to both credits. The ledger notes name nobody: the other
        customer is the entry's *Related Customer* (anonymized with them)."""
        referees = partners.filtered(
            lambda p: p.referred_by_id and p.visit_count and p.total_spent > 0
        )
        if not referees:
            return
        Entry = self.env["housekeeping.points.entry"].sudo()
        today = fields.Date.context_today(self)
        month_start = today.replace(day=1)
        # two queries for the whole batch: the keys of the credits (None while one
        # stands) and each referrer's referrals this month (counted on as the batch
        # credits them)
        keys = Entry._cause_keys(
            [(referee.referred_by_id.id, f"referral:{referee.id}") for referee in referees]
            + [(referee.id, f"referred:{referee.id}") for referee in referees]
        )
        partner_ids = (referees.referred_by_id | referees).ids
        this_month = {
            partner.id: count
            for partner, count in Entry._read_group(
                # a referral taken back (its visit cancelled) does not count
                [
                    ("partner_id", "in", partner_ids),
                    ("reason_code", "=", "referral"),
                    ("entry_type", "=", "earn"),
                    ("date", ">=", month_start),
                    *Entry._standing_domain(),
                ],
                ["partner_id"],
                ["__count"],
            )
        }
        for referee in referees:
            referrer = referee.referred_by_id
            company = referrer._hk_company()
            key = keys[referrer.id, f"referral:{referee.id}"]
            if not company.hk_referral_points or not key:
                continue
            if self._same_person(referrer, referee):
                # staff notes: in the language of the customer's company
                staff = self.with_context(lang=self._staff_lang(referee._hk_settings_company()))
                referee.message_post(
                    body=staff.env._(
                        "No referral points: %(referrer)s and this customer share a phone "
                        "number, e-mail or address.",
                        referrer=referrer.display_name,
                    ),
                    subtype_xmlid="mail.mt_note",
                )
                continue
            cap = company.hk_referral_monthly_cap
            if cap and this_month.get(referrer.id, 0) >= cap:
                staff = self.with_context(lang=self._staff_lang(referrer._hk_settings_company()))
                referrer.message_post(
                    body=staff.env._(
                        "No referral points for %(referee)s: the monthly limit of %(cap)s "
                        "referrals is reached.",
                        referee=referee.display_name,
                        cap=cap,
                    ),
                    subtype_xmlid="mail.mt_note",
                )
                continue
            visit_id = (visit_of or {}).get(referee.id)
            day = today
            if self.env.context.get("hk_points_date_from_visit"):  # demo history
                day = referee.first_visit_date or today
            vals = {
                "company_id": company.id,
                "entry_type": "earn",
                "reason_code": "referral",
                "date": day,
                "expiry_date": referrer._hk_expiry_date(day),
                "visit_id": visit_id,
            }
            credits = [
                {
                    **vals,
                    "partner_id": referrer.id,
                    "points": company.hk_referral_points,
                    "source_key": key,
                    "related_partner_id": referee.id,
                }
            ]
            referred_key = keys[referee.id, f"referred:{referee.id}"]
            if company.hk_referral_new_points and referred_key:
                credits.append(
                    {
                        **vals,
                        "partner_id": referee.id,
                        "points": company.hk_referral_new_points,
                        "source_key": referred_key,
                        "related_partner_id": referrer.id,
                    }
                )
            Entry._post_credits(credits)
            for credit in credits:
                this_month[credit["partner_id"]] = this_month.get(credit["partner_id"], 0) + 1

    # ------------------------------------------------------------------ profile bonus
    @api.model
    def _profile_complete_sql(self, alias="p"):
        return SQL(
            """(NULLIF(%(a)s.phone, '') IS NOT NULL AND %(a)s.birthday IS NOT NULL
                AND NULLIF(%(a)s.street, '') IS NOT NULL AND %(a)s.household_size > 0
                AND %(a)s.home_area > 0)""",
            a=SQL.identifier(alias),
        )

    @api.model
    def _reward_complete_profiles(self, partners):
        """Profile completion bonus of ``partners`` (``res.partner.write``): once per
        customer, when the profile is complete."""
        customers = partners.filtered(lambda p: p.id and p._hk_company().hk_profile_points)
        if not customers:
            return
        partners.flush_recordset(list(PROFILE_FIELDS))
        self.env.cr.execute(
            SQL(
                "SELECT p.id FROM res_partner p WHERE p.id = ANY(%s) AND %s",
                customers.ids,
                self._profile_complete_sql(),
            )
        )
        complete = partners.browse([row[0] for row in self.env.cr.fetchall()])
        today = fields.Date.context_today(self)
        self.env["housekeeping.points.entry"].sudo()._post_credits(
            [
                {
                    "partner_id": partner.id,
                    "company_id": partner._hk_company().id,
                    "points": partner._hk_company().hk_profile_points,
                    "entry_type": "earn",
                    "reason_code": "profile",
                    "date": today,
                    "expiry_date": partner._hk_expiry_date(today),
                    "source_key": "profile",
                }
                for partner in complete
            ]
        )

    # ------------------------------------------------------------------ grants
    @api.model
    def _grant_points(self, partners, points, reason, origin=None):
        """Credit ``points`` to each customer of ``partners`` once per ``origin``
        (the contract for other capabilities: journey offers, goodwill).
        ``reason`` is a reason code (see REASON_CODES) or a free text note."""
        if points <= 0 or not partners:
            return self.env["housekeeping.points.entry"]
        codes = dict(REASON_CODES)
        code = reason if reason in codes else "other"
        key = origin if isinstance(origin, str) else (origin and f"{origin._name}:{origin.id}")
        today = fields.Date.context_today(self)
        return self.env["housekeeping.points.entry"]._post_credits(
            [
                {
                    "partner_id": partner.id,
                    "company_id": partner._hk_company().id,
                    "points": int(points),
                    "entry_type": "earn",
                    "reason_code": code,
                    "note": None if code != "other" else reason,
                    "date": today,
                    "expiry_date": partner._hk_expiry_date(today),
                    "source_key": f"grant:{key}" if key else None,
                }
                for partner in partners
            ]
        )

    @api.model
    def _refresh_balance(self, partners):
        """Recompute the balance of ``partners`` from the ledger (after a merge)."""
        self.env["housekeeping.points.entry"].flush_model()
        self._apply(
            SQL(
                """SELECT p.id, COALESCE((SELECT sum(points) FROM housekeeping_points_entry e
                                           WHERE e.partner_id = p.id), 0) AS points_balance
                     FROM res_partner p WHERE p.id = ANY(%s)""",
                partners.ids,
            ),
            {"points_balance": "points_balance"},
        )

    # ------------------------------------------------------------------ check-in
    @api.model
    def _check_in_streaks(self, partners):
        """``{partner_id: (last check-in day, consecutive days ending there)}`` for
        the customers of ``partners``, in one query (days minus their rank are
        equal within a run of consecutive days)."""
        ids = [pid for pid in partners.ids if isinstance(pid, int)]
        if not ids:
            return {}
        self.env["housekeeping.points.entry"].flush_model()
        self.env.cr.execute(
            """
            WITH days AS (
                SELECT partner_id, date,
                       date - (row_number() OVER (PARTITION BY partner_id ORDER BY date))::int
                           AS grp
                  FROM housekeeping_points_entry
                 WHERE partner_id = ANY(%s) AND reason_code = 'check_in'
            ), last AS (
                SELECT DISTINCT ON (partner_id) partner_id, date, grp
                  FROM days ORDER BY partner_id, date DESC
            )
            SELECT l.partner_id, l.date, count(*)
              FROM last l JOIN days d ON d.partner_id = l.partner_id AND d.grp = l.grp
             GROUP BY l.partner_id, l.date
            """,
            [ids],
        )
        return {pid: (day, streak) for pid, day, streak in self.env.cr.fetchall()}
