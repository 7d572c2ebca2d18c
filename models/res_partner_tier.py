from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import format_amount

from .trust import engine_scope


class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited  # until the engines move to models/engines (architecture issue)

    membership_tier_id = fields.Many2one(
        "housekeeping.tier",
        index=True,
        readonly=True,
        tracking=True,
        copy=False,
        ondelete="restrict",
        help="Reached at once when a done visit qualifies the customer; lowered only by the "
        "scheduled evaluation, after a grace period.",
    )
    tier_color = fields.Integer(related="membership_tier_id.color")
    tier_grace_until = fields.Date(
        copy=False,
        tracking=True,
        help="The customer no longer qualifies for the tier: it is kept until this date, "
        "then lowered by one tier unless the customer qualifies again.",
    )
    tier_manual_until = fields.Date(
        string="Manual Tier Until",
        copy=False,
        help="A tier set by hand is kept until this date (upgrades still apply).",
    )
    tier_agent_id = fields.Many2one(
        "res.users",
        string="Dedicated Agent",
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        tracking=True,
    )
    tier_progress = fields.Char(string="Next Tier", compute="_compute_tier_progress")
    tier_progress_pct = fields.Float(string="Tier Progress (%)", compute="_compute_tier_progress")
    tier_log_ids = fields.One2many("housekeeping.tier.log", "partner_id", string="Tier History")

    # ------------------------------------------------------------------ helpers
    def _hk_tier_gap(self, tier, spend, visits, activity, currency):
        """What the customer still needs for ``tier``: ``(text, percent)``; the text is
        empty when the customer qualifies."""
        parts, ratios, met = [], [], False
        if tier.min_spend > 0:
            ratios.append(min(spend / tier.min_spend, 1.0))
            met = met or spend >= tier.min_spend
            if spend < tier.min_spend:
                parts.append(
                    self.env._(
                        "spend %(amount)s more",
                        amount=format_amount(self.env, tier.min_spend - spend, currency),
                    )
                )
        if tier.min_visits > 0:
            ratios.append(min(visits / tier.min_visits, 1.0))
            met = met or visits >= tier.min_visits
            if visits < tier.min_visits:
                parts.append(
                    self.env._("%(count)s more visits", count=tier.min_visits - visits)
                    if tier.min_visits - visits > 1
                    else self.env._("1 more visit")
                )
        if tier.min_activity > 0:
            ratios.append(min(activity / tier.min_activity, 1.0))
            met = met or activity >= tier.min_activity
            if activity < tier.min_activity:
                parts.append(
                    self.env._(
                        "%(count)s more ratings or referrals",
                        count=tier.min_activity - activity,
                    )
                )
        if not ratios:
            return "", 100.0
        if tier.qualification == "any":
            if met:
                return "", 100.0
            return self.env._(" or ").join(parts), 100.0 * max(ratios)
        return self.env._(" and ").join(parts), 100.0 * min(ratios)

    @api.depends("membership_tier_id", "visit_count", "total_spent", "company_id")
    def _compute_tier_progress(self):
        today = fields.Date.context_today(self)
        main = self._hk_main_company()
        stats = {}
        real_ids = [partner._origin.id for partner in self if partner._origin.id]
        if real_ids:
            engine = self.env["housekeeping.engine.tier"]
            engine._tier_flush()
            self.env.cr.execute(
                engine._tier_query(today, partner_ids=real_ids, downgrade=False, only_changed=False)
            )
            stats = {row["id"]: row for row in self.env.cr.dictfetchall()}
        companies = self.env["res.company"].sudo().browse({row["cid"] for row in stats.values()})
        ladders = self.env["housekeeping.tier"]._hk_ladders(self.company_id | main | companies)
        for partner in self:
            row = stats.get(partner._origin.id, {})
            company = companies.browse(row.get("cid")) or partner.company_id or main
            ladder = ladders.get(company.id) or self.env["housekeeping.tier"]
            current = partner.membership_tier_id
            if current:
                upper = ladder.filtered(lambda t, c=current: t.sequence > c.sequence)
            elif partner.visit_count:
                upper = ladder.filtered(lambda t: t._hk_has_threshold())
            else:  # not a customer (yet): nothing to tell
                partner.tier_progress = False
                partner.tier_progress_pct = 0.0
                continue
            if not upper:
                partner.tier_progress = self.env._("Highest tier reached") if current else False
                partner.tier_progress_pct = 100.0 if current else 0.0
                continue
            target = upper[0]
            text, pct = self._hk_tier_gap(
                target,
                float(row.get("spend") or 0.0),
                row.get("visits") or 0,
                row.get("activity") or 0,
                company.currency_id,
            )
            if text:
                text = self.env._(
                    "%(needed)s to reach %(tier)s",
                    needed=text[:1].upper() + text[1:],
                    tier=target.name,
                )
            else:
                text = self.env._("Qualifies for %(tier)s", tier=target.name)
            partner.tier_progress = text
            partner.tier_progress_pct = round(pct, 1)

    # ------------------------------------------------------------------ visit pipeline
    def _hk_tier_visits_done(self, visits):
        """Step of the visit pipeline (``housekeeping.visit._hk_pipeline_done``):
        the customers' tiers after the done ``visits``."""
        # the upgrade (and its gift) remembers the visit that earned it
        with engine_scope(tier_visit_ids=tuple(visits.ids)):
            self.env["housekeeping.engine.tier"]._tier_evaluate(
                partner_ids=self.ids, trigger="visit"
            )

    def _hk_points_multiplier(self):
        """{partner_id: multiplier} applied when points are earned (the tier's)."""
        return {partner.id: partner.membership_tier_id.points_multiplier or 1.0 for partner in self}

    # ------------------------------------------------------------------ actions
    def action_set_tier(self, tier, reason, until=None):
        """Set the tier by hand (membership managers), with a reason; it holds until
        ``until`` (default: one qualification window): no grace period or downgrade
        before, upgrades still apply. Logged and noted in the chatter."""
        if not self.env.su and not self.env.user.has_group(
            "housekeeping_membership.group_membership_manager"
        ):
            raise AccessError(self.env._("Only membership managers can set a tier by hand."))
        reason = (reason or "").strip()
        if not reason:
            raise UserError(self.env._("Give a reason for setting the tier by hand."))
        tier = self.env["housekeeping.tier"].browse(getattr(tier, "id", tier) or [])
        today = fields.Date.context_today(self)
        until = fields.Date.to_date(until) if until else None
        if until and until < today:
            raise UserError(self.env._("The manual tier cannot end in the past."))
        main = self._hk_main_company()
        rows = []
        for partner in self:
            company = partner.company_id or main
            if tier.company_id and partner.company_id and tier.company_id != partner.company_id:
                raise UserError(
                    self.env._(
                        "The tier %(tier)s belongs to %(company)s, not to the company of "
                        "%(customer)s.",
                        tier=tier.name,
                        company=tier.company_id.name,
                        customer=partner.display_name,
                    )
                )
            rows.append(
                {
                    "id": partner.id,
                    "old_tier": partner.membership_tier_id.id or None,
                    "new_tier": tier.id or None,
                    "action": "manual",
                    "new_grace": None,
                    "clear_manual": False,
                    "manual_until": until
                    or today + relativedelta(months=company.hk_tier_window_months or 12),
                    "company_id": partner.company_id.id or None,
                    "cid": company.id,
                    "agent_id": partner.tier_agent_id.id or None,
                    "spend": 0,
                    "visits": 0,
                    "activity": 0,
                    "win_start": today,
                }
            )
        self.flush_recordset()
        self.env["housekeeping.engine.tier"]._tier_apply(rows, today, "manual", reason=reason)
        return True

    def action_view_tier_logs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "housekeeping_membership.housekeeping_tier_log_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["view_mode"] = "list"
        action["views"] = [(False, "list")]
        return action

    @api.model
    def _cron_evaluate_tiers(self):
        """Evaluate every member's tier (the tier engine, ``housekeeping.engine.tier``);
        returns the number of members whose tier or grace period changed."""
        return self.env["housekeeping.engine.tier"]._cron()
