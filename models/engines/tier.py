from odoo import api, fields, models
from odoo.tools import SQL

from ..bulk import bulk_insert
from ..trust import engine_scope, scope_get

# Partner fields written in SQL by the tier engine.
TIER_PARTNER_FIELDS = (
    "membership_tier_id",
    "tier_grace_until",
    "tier_manual_until",
    "tier_agent_id",
    "user_id",
)


# What the evaluation does with a member, the first rule that holds: the row ``s``
# holds the member's window figures (``spend``, ``visits``, ``activity``), their
# tier (``old_tier``, ``old_seq``), grace and manual dates, ``today`` and
# ``downgrade`` (false when a visit evaluates: a visit never lowers a tier); ``q``
# is the highest tier of their company's ladder they qualify for.
TIER_ACTIONS = (
    ("upgrade", "q.seq IS NOT NULL AND (s.old_tier IS NULL OR q.seq > s.old_seq)"),
    ("none", "s.old_tier IS NULL"),
    ("requalified", "q.seq >= s.old_seq AND s.grace_until IS NOT NULL"),
    ("none", "q.seq >= s.old_seq"),
    # from here the member is short of their tier
    ("none", "NOT s.downgrade"),
    ("none", "s.manual_until >= s.today"),
    ("grace", "s.grace_until IS NULL AND s.grace_months > 0"),
    ("downgrade", "s.grace_until IS NULL OR s.grace_until <= s.today"),
    ("none", "TRUE"),
)


class HousekeepingEngineTier(models.AbstractModel):
    """Membership tiers (monthly, ``ir_cron_tier_evaluate``, and at once when a
    visit is done): one qualification query decides, per member, the upgrade,
    grace period, requalification or downgrade under the rules of their
    company's ladder; the changes are applied set-based (members, their visits'
    priority, logs, chatter notes), then the upgrade effects (gift pack, upgrade
    journeys, dedicated agent). A cancelled visit withdraws the upgrade it
    earned. The customer keeps the fields, the progress shown and the manual
    action (``res.partner``, ``models/res_partner.py``)."""

    _name = "housekeeping.engine.tier"
    _inherit = ["housekeeping.engine"]
    _description = "Membership Tier Engine"

    _engine_key = "tiers"
    _engine_batch_param = "tier_batch_size"
    # (of TIER_PARTNER_FIELDS, the ones it alone writes: the dedicated agent and
    # the salesperson are also set by staff)
    _engine_fields = ("membership_tier_id", "tier_grace_until", "tier_manual_until")

    # ------------------------------------------------------------------ entry point
    @api.model
    def _run(self):
        """Monthly: evaluate every member of every company, batch by batch.

        Each batch re-runs the qualification query for the members whose tier or
        grace period must change (at most the batch size), applies it and, inside
        the scheduler, commits: a crash loses at most one batch and the next run
        resumes; a second run finds nothing to change.
        """

        def rule_query():
            # every member: each batch's evaluation runs the rules once per member
            # (not a scan of the population for the members to change, then a
            # second evaluation of those)
            self._tier_flush()
            return SQL("SELECT p.id FROM res_partner p WHERE %s", self._tier_members())

        return self._chunks(
            self._engine_key,
            self._engine_batch_param,
            rule_query,
            lambda ids: self._tier_evaluate(partner_ids=ids, trigger="cron"),
            default=self._engine_batch_default,
        )

    # ------------------------------------------------------------------ qualification
    @api.model
    def _tier_query(self, today, partner_ids=None, downgrade=True, only_changed=True, limit=None):
        """SQL returning one row per member to change, as dicts: ``id``, ``old_tier``,
        ``new_tier``, ``action`` (``upgrade``, ``downgrade``, ``grace``,
        ``requalified``, ``none``), ``new_grace``, ``clear_manual``, the window
        figures ``spend``, ``visits``, ``activity`` and ``win_start``, ``company_id``
        (the partner's), ``cid`` (the company whose settings apply), ``agent_id``.

        One statement over the population (or ``partner_ids``): done visits of the
        rolling window of each customer's company, ratings given on them, customers
        referred whose first visit is in the window; the ladder of the company (its
        own tiers, else the shared ones). Without ``downgrade`` only upgrades and
        requalifications are returned (a visit never lowers a tier).
        """
        scope = SQL("TRUE") if partner_ids is None else SQL("p.id = ANY(%s)", list(partner_ids))
        changed = SQL("(d.action != 'none' OR d.clear_manual)") if only_changed else SQL("TRUE")
        return SQL(
            """
            WITH member AS (
                -- the company whose ladder and settings apply: the customer's, else
                -- the one of their latest done visit (customers shared between
                -- companies), else the main company
                SELECT p.id, p.membership_tier_id AS old_tier, ot.sequence AS old_seq,
                       p.company_id,
                       %(cid)s AS cid,
                       p.tier_grace_until AS grace_until, p.tier_manual_until AS manual_until,
                       p.tier_agent_id AS agent_id
                  FROM res_partner p
                  LEFT JOIN housekeeping_tier ot ON ot.id = p.membership_tier_id
                 WHERE %(scope)s AND %(members)s
            ), cust AS (
                SELECT m.*, %(today)s::date AS today, %(downgrade)s AS downgrade,
                       (%(today)s::date - make_interval(
                            months => COALESCE(rc.hk_tier_window_months, 12)))::date AS win_start,
                       COALESCE(rc.hk_tier_grace_months, 3) AS grace_months,
                       COALESCE(rc.hk_prepaid_topup_counts_as_spend, FALSE) AS topup_spend
                  FROM member m JOIN res_company rc ON rc.id = m.cid
            ), spend AS (
                -- with top-ups counted as spend, the part of a visit paid from the
                -- balance is not counted again (the rest paid otherwise is)
                SELECT v.partner_id AS id, count(*) AS visits,
                       COALESCE(sum(CASE WHEN c.topup_spend AND v.payment_method = 'prepaid'
                                         THEN v.amount - COALESCE(v.prepaid_amount, v.amount)
                                         ELSE v.amount END), 0) AS spend,
                       count(*) FILTER (WHERE EXISTS (
                           SELECT 1 FROM rating_rating r
                            WHERE r.res_model = 'housekeeping.visit' AND r.res_id = v.id
                              AND r.consumed AND r.rating > 0)) AS rated
                  FROM cust c
                  JOIN housekeeping_visit v ON v.partner_id = c.id AND v.state = 'done'
                                           AND v.date >= c.win_start
                 GROUP BY v.partner_id
            ), referred AS (
                SELECT rp.referred_by_id AS id, count(*) AS n
                  FROM cust c
                  JOIN res_partner rp ON rp.referred_by_id = c.id AND rp.active
                                     AND rp.customer_since >= c.win_start
                 GROUP BY rp.referred_by_id
            ), topup AS (
                -- prepaid top-ups (principal less refunds) of the window, if counted
                SELECT e.partner_id AS id, sum(e.principal) AS amount
                  FROM cust c
                  JOIN housekeeping_prepaid_entry e
                    ON c.topup_spend AND e.partner_id = c.id AND e.company_id = c.cid
                   AND e.entry_type IN ('topup', 'refund') AND e.date >= c.win_start
                 GROUP BY e.partner_id
            ), stats AS (
                SELECT c.*, COALESCE(s.spend, 0) + COALESCE(t.amount, 0) AS spend,
                       COALESCE(s.visits, 0) AS visits,
                       COALESCE(s.rated, 0) + COALESCE(f.n, 0) AS activity
                  FROM cust c
                  LEFT JOIN spend s ON s.id = c.id
                  LEFT JOIN referred f ON f.id = c.id
                  LEFT JOIN topup t ON t.id = c.id
            ), ladder AS (%(ladder)s
            ), qual AS (
                SELECT DISTINCT ON (s.id) s.id, l.id AS tier_id, l.sequence AS seq
                  FROM stats s JOIN ladder l ON l.cid = s.cid
                 WHERE CASE WHEN l.qualification = 'all'
                            THEN s.spend >= l.min_spend AND s.visits >= l.min_visits
                                 AND s.activity >= l.min_activity
                            ELSE (l.min_spend = 0 AND l.min_visits = 0 AND l.min_activity = 0)
                                 OR (l.min_spend > 0 AND s.spend >= l.min_spend)
                                 OR (l.min_visits > 0 AND s.visits >= l.min_visits)
                                 OR (l.min_activity > 0 AND s.activity >= l.min_activity)
                       END
                 ORDER BY s.id, l.sequence DESC
            ), below AS (
                -- the tier one step below the current one
                SELECT DISTINCT ON (s.id) s.id, l.id AS tier_id, l.sequence AS seq
                  FROM stats s JOIN ladder l ON l.cid = s.cid AND l.sequence < s.old_seq
                 ORDER BY s.id, l.sequence DESC
            ), decided AS (
                SELECT s.*, q.tier_id AS q_tier, q.seq AS q_seq,
                       b.tier_id AS below_tier, b.seq AS below_seq,
                       %(actions)s AS action
                  FROM stats s
                  LEFT JOIN qual q ON q.id = s.id
                  LEFT JOIN below b ON b.id = s.id
            ), final AS (
                SELECT d.*,
                       (d.manual_until IS NOT NULL
                        AND (d.manual_until < %(today)s::date OR d.action = 'upgrade'))
                           AS clear_manual
                  FROM decided d
            )
            SELECT d.id, d.old_tier, d.action, d.company_id, d.cid, d.agent_id,
                   d.spend, d.visits, d.activity, d.win_start, d.q_tier, d.q_seq,
                   d.grace_until,
                   CASE d.action
                     WHEN 'upgrade' THEN d.q_tier
                     -- one step down after a grace period; straight to the tier
                     -- qualified for when the company gives no grace
                     WHEN 'downgrade' THEN CASE WHEN d.grace_months > 0 THEN d.below_tier
                                                ELSE d.q_tier END
                     ELSE d.old_tier
                   END AS new_tier,
                   CASE
                     WHEN d.action = 'grace'
                          THEN (%(today)s::date + make_interval(months => d.grace_months))::date
                     -- still short of the lower tier: its grace period starts at once
                     WHEN d.action = 'downgrade' AND d.grace_months > 0 AND d.below_tier IS NOT NULL
                          AND (d.q_seq IS NULL OR d.q_seq < d.below_seq)
                          THEN (%(today)s::date + make_interval(months => d.grace_months))::date
                     WHEN d.action IN ('upgrade', 'requalified', 'downgrade') THEN NULL
                     ELSE d.grace_until
                   END AS new_grace,
                   d.clear_manual
              FROM final d
             WHERE %(changed)s
             ORDER BY d.id
             %(limit)s
            """,
            cid=self._settings_company_sql("p"),
            scope=scope,
            members=self._tier_members(),
            today=today,
            downgrade=bool(downgrade),
            ladder=self._tier_ladder_sql(),
            actions=self._ladder_sql(TIER_ACTIONS, keep=None),
            changed=changed,
            limit=SQL("LIMIT %s", limit) if limit else SQL(""),
        )

    @api.model
    def _tier_ladder_sql(self):
        """SQL of the ladder of each company: ``(cid, id, sequence, qualification,
        min_spend, min_visits, min_activity)``; a company with tiers of its own
        uses them, the others the shared ones."""
        return SQL(
            """
                SELECT co.id AS cid, t.id, t.sequence, t.qualification,
                       COALESCE(t.min_spend, 0) AS min_spend,
                       COALESCE(t.min_visits, 0) AS min_visits,
                       COALESCE(t.min_activity, 0) AS min_activity
                  FROM res_company co
                  JOIN housekeeping_tier t
                    ON t.active AND (t.company_id = co.id OR (
                       t.company_id IS NULL AND NOT EXISTS (
                           SELECT 1 FROM housekeeping_tier own
                            WHERE own.active AND own.company_id = co.id)))"""
        )

    @api.model
    def _tier_members(self):
        """SQL condition on ``p`` (``res_partner``) of the partners the tier rules
        evaluate: active customers with a tier or a done visit."""
        return SQL("p.active AND (p.membership_tier_id IS NOT NULL OR p.visit_count > 0)")

    @api.model
    def _tier_flush(self):
        """Flush what the qualification query reads."""
        self.env["housekeeping.visit"].flush_model(
            ["partner_id", "state", "date", "amount", "payment_method", "prepaid_amount"]
        )
        self.env["rating.rating"].flush_model(["res_model", "res_id", "consumed", "rating"])
        self.env["housekeeping.tier"].flush_model()
        self.env["res.company"].flush_model(["hk_tier_window_months", "hk_tier_grace_months"])
        self.env["res.partner"].flush_model(
            [
                "active",
                "company_id",
                "visit_count",
                "referred_by_id",
                "customer_since",
                *TIER_PARTNER_FIELDS,
            ]
        )

    @api.model
    def _tier_evaluate(self, partner_ids=None, trigger="cron", limit=None, downgrade=None):
        """Evaluate (all or some) members and apply the changes; returns
        ``(changed_count, more)`` where ``more`` says a limit cut the batch."""
        today = fields.Date.context_today(self)
        self._tier_flush()
        # the statistics and the tier are written in SQL: drop the progress cache
        self.env["res.partner"].invalidate_model(["tier_progress", "tier_progress_pct"])
        self.env.cr.execute(
            self._tier_query(
                today,
                partner_ids=partner_ids,
                downgrade=trigger == "cron" if downgrade is None else downgrade,
                limit=limit and limit + 1,
            )
        )
        rows = self.env.cr.dictfetchall()
        more = bool(limit) and len(rows) > limit
        rows = rows[:limit] if limit else rows
        if rows:
            self._tier_apply(rows, today, trigger)
        return len(rows), more

    @api.model
    def _tier_apply(self, rows, today, trigger, reason=None):
        """Write the decisions of ``rows`` set-based: one UPDATE of the members and
        one of their visits' priority, one INSERT of logs and one of chatter notes,
        then the upgrade effects (gift pack, e-mail, dedicated agent)."""
        self._apply(
            self._rows(
                id=[r["id"] for r in rows],
                membership_tier_id=[r["new_tier"] or None for r in rows],
                tier_grace_until=[r["new_grace"] or None for r in rows],
                clear=("bool", [bool(r.get("clear_manual")) for r in rows]),
                tier_manual_until=[r.get("manual_until") or None for r in rows],
            ),
            {
                "membership_tier_id": "membership_tier_id",
                "tier_grace_until": "tier_grace_until",
                "tier_manual_until": SQL(
                    """CASE WHEN c.tier_manual_until IS NOT NULL THEN c.tier_manual_until
                            WHEN c.clear THEN NULL ELSE p.tier_manual_until END"""
                ),
            },
            only_changed=False,
        )
        moved = [r for r in rows if r["new_tier"] != r["old_tier"]]
        self.env["res.partner"].invalidate_model(
            [*TIER_PARTNER_FIELDS, "tier_progress", "tier_progress_pct"]
        )

        tiers = (
            self.env["housekeeping.tier"]
            .sudo()
            .with_context(active_test=False)
            .browse(({r["old_tier"] for r in rows} | {r["new_tier"] for r in rows}) - {None})
        )
        tier_of = {tier.id: tier for tier in tiers}
        # plain values, read once per batch (not a field access per member)
        seq_of = {tier.id: tier.sequence for tier in tiers}
        rank_of = {tier.id: tier.sequence if tier.priority_booking else 0 for tier in tiers}

        def rank(tier_id):
            return rank_of.get(tier_id, 0)

        # only customers whose priority rank changes have visits to re-rank (a new
        # customer entering the first tier has none: no query)
        reranked = [r["id"] for r in moved if rank(r["old_tier"]) != rank(r["new_tier"])]
        if reranked:
            # the visits still to do of priority tiers come first in the lists and
            # calendar (done and cancelled visits rank 0: history is not rewritten)
            self.env["housekeeping.visit"].flush_model(["tier_sequence"])
            self.env.cr.execute(
                SQL(
                    """
                UPDATE housekeeping_visit v
                   SET tier_sequence = x.seq
                  FROM (SELECT p.id,
                               COALESCE(CASE WHEN t.priority_booking THEN t.sequence END, 0) AS seq
                          FROM res_partner p
                          LEFT JOIN housekeeping_tier t ON t.id = p.membership_tier_id
                         WHERE p.id = ANY(%s)) x
                 WHERE v.partner_id = x.id
                   AND v.state IN ('draft', 'scheduled')
                   AND v.tier_sequence IS DISTINCT FROM x.seq
                """,
                    reranked,
                )
            )
            self.env["housekeeping.visit"].invalidate_model(["tier_sequence"])
        companies = self.env["res.company"].sudo().browse({r["cid"] for r in rows})
        company_of = {company.id: company for company in companies}
        upgrades = [
            r
            for r in moved
            if r["new_tier"]
            and (not r["old_tier"] or seq_of[r["new_tier"]] > seq_of[r["old_tier"]])
        ]
        # no gift pack for tiers set by hand, nor for the first tier the scheduled
        # evaluation gives (backfill after installation or an import)
        gifts = self._tier_gifts(
            [r for r in upgrades if trigger == "visit" or (trigger == "cron" and r["old_tier"])],
            tier_of,
            today,
        )
        manual_kept = [r for r in rows if r["action"] == "manual" and r not in moved]
        self._tier_log(moved + manual_kept, seq_of, today, trigger, reason, gifts)
        self._tier_notes(rows, tier_of, company_of, trigger, reason)
        if upgrades:
            self._tier_assign_agents(upgrades, tier_of)
            # the upgrade journeys do not announce a first tier given by the
            # scheduled evaluation (backfill): no audience query for those
            announced = [r for r in upgrades if trigger != "cron" or r["old_tier"]]
            if announced:
                self._tier_upgrade_journeys(announced, today)

    @api.model
    def _tier_gifts(self, upgrades, tier_of, today):
        """Give the upgrade gift pack (points and coupon) of the new tier, once per
        tier, customer and qualification window; returns {partner_id: (points, card)}."""
        giving = {
            tier_id
            for tier_id, tier in tier_of.items()
            if tier.upgrade_points or tier.upgrade_program_id
        }
        candidates = [r for r in upgrades if r["new_tier"] in giving]
        if not candidates:
            return {}
        # latest gift day per (customer, tier): a lookup per candidate, not a scan of
        # every gift of the batch
        given = {}
        for log in (
            self.env["housekeeping.tier.log"]
            .sudo()
            .search_fetch(
                [
                    ("partner_id", "in", [r["id"] for r in candidates]),
                    ("gift_given", "=", True),
                    ("gift_withdrawn", "=", False),
                    ("date", ">=", min(r["win_start"] for r in candidates)),
                ],
                ["partner_id", "to_tier_id", "date"],
            )
        ):
            key = (log.partner_id.id, log.to_tier_id.id)
            given[key] = max(given.get(key, log.date), log.date)
        todo = [
            r
            for r in candidates
            if not (
                (r["id"], r["new_tier"]) in given
                and given[(r["id"], r["new_tier"])] >= r["win_start"]
            )
        ]
        gifts = {}
        self._tier_gift_points(
            [r for r in todo if tier_of[r["new_tier"]].upgrade_points], tier_of, today
        )
        with_coupon = [r for r in todo if tier_of[r["new_tier"]].upgrade_program_id]
        cards = self.env["loyalty.card"]
        if with_coupon:
            # coupons are native loyalty cards (their access rights are sales rights);
            # the upgrade e-mail gives the code, instead of one e-mail per coupon
            cards = (
                self.env["loyalty.card"]
                .sudo()
                .with_context(loyalty_no_mail=True)
                .create(
                    [
                        {
                            "program_id": tier_of[r["new_tier"]].upgrade_program_id.id,
                            "partner_id": r["id"],
                            "points": 1,
                        }
                        for r in with_coupon
                    ]
                )
            )
        card_of = {r["id"]: card.id for r, card in zip(with_coupon, cards, strict=True)}
        for r in todo:
            gifts[r["id"]] = (tier_of[r["new_tier"]].upgrade_points, card_of.get(r["id"]))
        return gifts

    @api.model
    def _tier_gift_points(self, rows, tier_of, today):
        """The points of the gift packs: one lot per member, once per tier and
        qualification window (a rerun the same day finds the key), keyed by the
        window's first day, not its year (with a window shorter than a year, a
        second upgrade in one calendar year earns its gift too). Linked to the
        visit that earned the upgrade, if any: cancelling it takes them back."""
        if not rows:
            return
        Entry = self.env["housekeeping.points.entry"].sudo()
        visit_of = self._tier_visit_of()

        def cause(r):
            return f"grant:tier-upgrade:{r['new_tier']}:{r['win_start'].isoformat()}"

        keys = Entry._cause_keys((r["id"], cause(r)) for r in rows)
        # a staff note: in the language of each member's company (``_staff_lang``),
        # each text formatted once per language and tier
        company_of = {r["id"]: r["cid"] for r in rows}
        lang_of = {
            cid: self._staff_lang(self.env["res.company"].sudo().browse(cid))
            for cid in set(company_of.values())
        }
        notes = {
            (lang, tier_id): self.with_context(lang=lang).env._(
                "Upgrade gift: %(tier)s", tier=tier.with_context(lang=lang).name
            )
            for lang in set(lang_of.values())
            for tier_id, tier in tier_of.items()
        }
        partners = self.env["res.partner"].browse([r["id"] for r in rows])
        Entry._post_credits(
            [
                {
                    "partner_id": r["id"],
                    "company_id": r["company_id"] or r["cid"],
                    "points": tier_of[r["new_tier"]].upgrade_points,
                    "entry_type": "earn",
                    "reason_code": "tier_gift",
                    "note": notes[lang_of[company_of[r["id"]]], r["new_tier"]],
                    "date": today,
                    "expiry_date": partners.browse(r["id"])._hk_expiry_date(today),
                    "source_key": keys[r["id"], cause(r)],
                    "visit_id": visit_of.get(r["id"]),
                }
                for r in rows
                if keys[r["id"], cause(r)]
            ]
        )

    @api.model
    def _tier_visit_of(self):
        """{customer id: visit id} of the visits being completed (the visit
        pipeline's ``engine_scope``, never a context key), the latest per customer."""
        ids = scope_get("tier_visit_ids")
        if not ids:
            return {}
        visits = self.env["housekeeping.visit"].sudo().browse(ids).sorted("date")
        return {visit.partner_id.id: visit.id for visit in visits}

    @api.model
    def _tier_log(self, moved, seq_of, today, trigger, reason, gifts):
        logs = []
        reasons = self._tier_reasons(trigger)
        visit_of = self._tier_visit_of()
        for r in moved:
            old, new = r["old_tier"], r["new_tier"]
            up = bool(new) and (not old or seq_of[new] >= seq_of[old])
            gift = gifts.get(r["id"])
            logs.append(
                {
                    "partner_id": r["id"],
                    "from_tier_id": r["old_tier"],
                    "to_tier_id": r["new_tier"],
                    "direction": "up" if up else "down",
                    "date": today,
                    "trigger": trigger,
                    "reason": reason or reasons[r["action"] == "downgrade"],
                    "gift_given": bool(gift),
                    "gift_points": gift[0] if gift else 0,
                    "loyalty_card_id": gift[1] if gift else None,
                    "company_id": r["company_id"],
                    "visit_id": visit_of.get(r["id"]) if trigger == "visit" else None,
                    "grace_before": r.get("grace_until"),
                }
            )
        bulk_insert(self.env["housekeeping.tier.log"], logs)

    @api.model
    def _tier_reasons(self, trigger):
        """{is a downgrade: reason} for the logs and notes of ``trigger`` (translated
        once per batch, not once per customer)."""
        return {
            True: self.env._("Grace period ended without qualifying"),
            False: self.env._("Qualified with a completed visit")
            if trigger == "visit"
            else self.env._("Qualification rules"),
        }

    @api.model
    def _tier_notes(self, rows, tier_of, company_of, trigger, reason):
        """One chatter note per member whose tier or grace period changed, in the
        language of the member's company (``_staff_lang``): the texts are
        translated once per batch and language, then filled in per member."""
        lang_of = {cid: self._staff_lang(company) for cid, company in company_of.items()}
        by_lang = {}
        for r in rows:
            by_lang.setdefault(lang_of[r["cid"]], []).append(r)
        bodies = {}
        for lang, lang_rows in by_lang.items():
            engine = self.with_context(lang=lang)
            tiers = {tier_id: tier.with_context(lang=lang) for tier_id, tier in tier_of.items()}
            bodies.update(engine._tier_note_bodies(lang_rows, tiers, company_of, trigger, reason))
        self._log_notes(bodies)

    @api.model
    def _tier_note_bodies(self, rows, tier_of, company_of, trigger, reason):
        """{member id: note} for ``rows``, in the environment's language."""
        Partner = self.env["res.partner"]
        none = self.env._("none")
        reasons = self._tier_reasons(trigger)
        name_of = {tier_id: tier.name for tier_id, tier in tier_of.items()}
        # translated once per batch, not once per member
        texts = {
            "grace": self.env._(
                "Membership tier %(tier)s at risk: the customer no longer qualifies. "
                "%(needed)s before %(date)s to keep it, otherwise the tier is lowered."
            ),
            "requalified": self.env._("Qualifies again for %(tier)s: the grace period is over."),
            "manual": self.env._(
                "Membership tier set by hand: %(old)s → %(new)s until %(date)s (%(reason)s)"
            ),
            "moved": self.env._("Membership tier: %(old)s → %(new)s (%(reason)s)"),
            "short": self.env._("Still short of %(tier)s: grace period until %(date)s."),
        }

        bodies = {}
        for r in rows:
            old_name = name_of.get(r["old_tier"], none)
            new_name = name_of.get(r["new_tier"], none)
            if r["action"] == "grace":
                needed, _pct = Partner._hk_tier_gap(
                    tier_of[r["old_tier"]],
                    float(r["spend"]),
                    r["visits"],
                    r["activity"],
                    company_of[r["cid"]].currency_id,
                )
                body = texts["grace"] % {
                    "tier": old_name,
                    "needed": needed[:1].upper() + needed[1:],
                    "date": r["new_grace"],
                }
            elif r["action"] == "requalified":
                body = texts["requalified"] % {"tier": old_name}
            elif r["action"] == "manual":
                body = texts["manual"] % {
                    "old": old_name,
                    "new": new_name,
                    "date": r["manual_until"],
                    "reason": reason,
                }
            elif r["old_tier"] != r["new_tier"]:
                body = texts["moved"] % {
                    "old": old_name,
                    "new": new_name,
                    "reason": reason or reasons[r["action"] == "downgrade"],
                }
                if r["new_grace"]:
                    body += " " + texts["short"] % {"tier": new_name, "date": r["new_grace"]}
            else:
                continue
            bodies[r["id"]] = body
        return bodies

    @api.model
    def _tier_upgrade_journeys(self, upgrades, today):
        """Announce the upgrades at once through the active *Tier Upgrade* journeys
        (the built-in *Upgrade gift pack* sends the tier's welcome e-mail with the
        gift coupon): consent, the once-per-upgrade log and conversion are theirs,
        and the daily journey run finds nothing more to send. Without an active
        upgrade journey no message is sent (the gift pack is given all the same)."""
        journeys = self.env["housekeeping.journey"].sudo().search([("trigger", "=", "upgrade")])
        ids = [r["id"] for r in upgrades]
        engine = self.env["housekeeping.engine.journey"]
        for journey in journeys:
            engine._run_journey(journey, today, partner_ids=ids)

    @api.model
    def _tier_assign_agents(self, upgrades, tier_of):
        """Give members of a tier with a team of dedicated agents the least loaded
        agent of the team (ties: lowest id, so equal teams take turns), unless their
        agent is already in the team; the agent becomes their salesperson."""
        Partner = self.env["res.partner"]
        team_of = {tier_id: tier.agent_team_ids.ids for tier_id, tier in tier_of.items()}
        rows = [
            r
            for r in upgrades
            if team_of[r["new_tier"]] and r["agent_id"] not in team_of[r["new_tier"]]
        ]
        if not rows:
            return
        team_ids = {uid for r in rows for uid in team_of[r["new_tier"]]}
        load = dict.fromkeys(team_ids, 0)
        for user, count in Partner.sudo()._read_group(
            [("tier_agent_id", "in", list(team_ids))], ["tier_agent_id"], ["__count"]
        ):
            load[user.id] = count
        assigned = []
        for r in rows:
            team = team_of[r["new_tier"]]
            agent = min(team, key=lambda uid: (load[uid], uid))
            load[agent] += 1
            assigned.append(agent)
        self._apply(
            self._rows(id=[r["id"] for r in rows], tier_agent_id=assigned),
            {"tier_agent_id": "tier_agent_id", "user_id": "tier_agent_id"},
            only_changed=False,
        )

    # ------------------------------------------------------------------ visit pipeline
    @api.model
    def _visits_done(self, visits):
        """Step of the visit pipeline (``housekeeping.visit._hk_pipeline_done``):
        the tiers of the done ``visits``' customers, upgrades at once."""
        # the upgrade (and its gift) remembers the visit that earned it
        with engine_scope(tier_visit_ids=tuple(visits.ids)):
            self._tier_evaluate(partner_ids=visits.partner_id.ids, trigger="visit")

    # ------------------------------------------------------------------ cancelled visits
    @api.model
    def _tier_withdraw(self, visits):
        """Withdraw the upgrades earned by the cancelled ``visits`` when the customer
        no longer qualifies without them: back to the tier they had (or the one they
        qualify for, if higher) at once, with the grace period they had then (the
        upgrade was a mistake, not a lapse). Only an upgrade that is still the
        customer's last tier change is withdrawn (a later change, by hand or by the
        rules, stands), and only if its visit is still in the qualification window
        (an older one no longer counts either way). A chain of upgrades by cancelled
        visits is withdrawn step by step. The gift pack is taken back (points
        reversed, coupon archived) unless its coupon was used: then it stays, and is
        not given again in that window."""
        Log = self.env["housekeeping.tier.log"].sudo()
        today = fields.Date.context_today(self)
        for _step in range(10):
            logs = Log.search(
                [
                    ("visit_id", "in", visits.ids),
                    ("direction", "=", "up"),
                    ("withdrawn", "=", False),
                ]
            )
            if not logs:
                return
            last = dict(
                Log._read_group(
                    [
                        ("partner_id", "in", logs.partner_id.ids),
                        ("trigger", "!=", "cancel"),
                        ("withdrawn", "=", False),
                    ],
                    ["partner_id"],
                    ["id:max"],
                )
            )
            logs = logs.filtered(
                lambda log, last=last: (
                    last.get(log.partner_id) == log.id
                    and log.partner_id.membership_tier_id == log.to_tier_id
                )
            )
            if not logs:
                return
            self._tier_flush()
            self.env.cr.execute(
                self._tier_query(
                    today, partner_ids=logs.partner_id.ids, downgrade=False, only_changed=False
                )
            )
            now = {r["id"]: r for r in self.env.cr.dictfetchall()}
            rows, withdrawn = [], Log
            for log in logs:
                r = now.get(log.partner_id.id)
                if (
                    not r
                    or (r["q_seq"] is not None and r["q_seq"] >= log.to_tier_id.sequence)
                    or log.visit_id.date.date() < r["win_start"]
                ):
                    continue  # qualifies without the visit, or the visit no longer counts
                before = log.from_tier_id
                back = before.id or None
                grace = log.grace_before or None
                if r["q_seq"] is not None and (not before or r["q_seq"] > before.sequence):
                    back, grace = r["q_tier"], None
                rows.append(
                    {
                        **r,
                        "old_tier": log.to_tier_id.id,
                        "new_tier": back,
                        "action": "withdrawn",
                        "new_grace": grace,
                        "clear_manual": False,
                    }
                )
                withdrawn |= log
            if not rows:
                return
            self._tier_apply(
                rows,
                today,
                "cancel",
                reason=self.env._("Upgrade withdrawn: the visit that earned it was cancelled"),
            )
            Log.flush_model()
            self.env.cr.execute(
                "UPDATE housekeeping_tier_log SET withdrawn = TRUE WHERE id = ANY(%s)",
                [withdrawn.ids],
            )
            # the gift pack: taken back unless its coupon was used
            gifts = withdrawn.filtered(
                lambda log: (
                    log.gift_given and (not log.loyalty_card_id or log.loyalty_card_id.points > 0)
                )
            )
            if gifts:
                self.env["housekeeping.engine.points"]._reverse_credits(
                    self.env["housekeeping.points.entry"]
                    .sudo()
                    .search(
                        [
                            ("reason_code", "=", "tier_gift"),
                            ("entry_type", "=", "earn"),
                            ("visit_id", "in", gifts.visit_id.ids),
                            ("partner_id", "in", gifts.partner_id.ids),
                        ]
                    )
                )
                gifts.loyalty_card_id.write({"active": False})
                # the gift of the tier can be earned again in the same window
                self.env.cr.execute(
                    "UPDATE housekeeping_tier_log SET gift_withdrawn = TRUE WHERE id = ANY(%s)",
                    [gifts.ids],
                )
            Log.invalidate_model(["withdrawn", "gift_withdrawn"])
