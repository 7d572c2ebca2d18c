from odoo import api, fields, models
from odoo.exceptions import ValidationError

# Qualification thresholds, in the order they are compared and described.
TIER_THRESHOLDS = ("min_spend", "min_visits", "min_activity")


class HousekeepingTier(models.Model):
    """A membership tier (普通会员, 银卡会员, 金卡会员, 黑卡会员 …).

    Tiers form a ladder per company: a company with tiers of its own uses them, the
    others use the shared tiers (no company). A higher ``sequence`` is a better tier.
    A customer qualifies for a tier over the rolling qualification window of their
    company when any (or all, see ``qualification``) of the thresholds set (above
    zero) is met; a tier without any threshold is the entry tier.
    """

    _name = "housekeeping.tier"
    _description = "Membership Tier"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=0, help="Rank of the tier: a higher number is a better tier.")
    active = fields.Boolean(default=True)
    color = fields.Integer()
    company_id = fields.Many2one(
        "res.company",
        index=True,
        help="Leave empty to share the tier between the companies that have no tiers of their own.",
    )
    currency_id = fields.Many2one("res.currency", compute="_compute_currency_id")
    # ------------------------------------------------------------------ qualification
    min_spend = fields.Monetary(
        string="Minimum Spend",
        help="Amount of the done visits over the qualification window (company currency); "
        "0 means not used.",
    )
    min_visits = fields.Integer(
        string="Minimum Visits", help="Done visits over the qualification window; 0 means not used."
    )
    min_activity = fields.Integer(
        string="Minimum Activity",
        help="Activity score over the qualification window: visits rated by the customer plus "
        "customers referred (their first visit in the window); 0 means not used.",
    )
    qualification = fields.Selection(
        [("any", "Any Threshold"), ("all", "All Thresholds")],
        default="any",
        required=True,
        help="Any: meeting one of the thresholds set is enough. All: every threshold set must "
        "be met.",
    )
    # ------------------------------------------------------------------ benefits
    points_multiplier = fields.Float(
        default=1.0, digits=(16, 2), help="Points earned on visits are multiplied by this factor."
    )
    upgrade_points = fields.Integer(
        string="Upgrade Gift Points",
        help="Points credited once per qualification window when a customer reaches the tier.",
    )
    upgrade_program_id = fields.Many2one(
        "loyalty.program",
        string="Upgrade Gift Coupon",
        ondelete="set null",
        help="A coupon of this program is issued once per qualification window when a "
        "customer reaches the tier.",
    )
    priority_booking = fields.Boolean(
        help="Visits of these customers come first in the visit lists and calendar."
    )
    agent_team_ids = fields.Many2many(
        "res.users",
        "hk_tier_agent_rel",
        "tier_id",
        "user_id",
        string="Dedicated Agents",
        domain=[("share", "=", False)],
        help="Customers reaching the tier get a dedicated agent of this team (the least "
        "loaded), who becomes their salesperson.",
    )
    birthday_program_id = fields.Many2one(
        "loyalty.program", string="Birthday Coupon", ondelete="set null"
    )
    default_pricelist_id = fields.Many2one(
        "product.pricelist",
        string="Member Pricelist",
        ondelete="set null",
        help="Pricelist of new quotations of the tier's customers.",
    )
    holiday_pricelist_id = fields.Many2one(
        "product.pricelist",
        ondelete="set null",
        help="Pricelist of quotations dated during a holiday.",
    )
    benefits = fields.Text(translate=True, help="Benefits as told to the customer.")
    partner_ids = fields.One2many("res.partner", "membership_tier_id", string="Members")
    partner_count = fields.Integer(string="Members Count", compute="_compute_partner_count")

    _multiplier_positive = models.Constraint(
        "CHECK(points_multiplier >= 0)", "The points multiplier cannot be negative."
    )
    _thresholds_positive = models.Constraint(
        "CHECK(COALESCE(min_spend, 0) >= 0 AND COALESCE(min_visits, 0) >= 0 "
        "AND COALESCE(min_activity, 0) >= 0 AND COALESCE(upgrade_points, 0) >= 0)",
        "Tier thresholds and gift points cannot be negative.",
    )

    @api.depends("company_id")
    @api.depends_context("company")
    def _compute_currency_id(self):
        for tier in self:
            tier.currency_id = (tier.company_id or self.env.company).currency_id

    def _compute_partner_count(self):
        counts = dict(
            self.env["res.partner"]._read_group(
                [("membership_tier_id", "in", self.ids)], ["membership_tier_id"], ["__count"]
            )
        )
        for tier in self:
            tier.partner_count = counts.get(tier, 0)

    # ------------------------------------------------------------------ ladder
    def _hk_has_threshold(self):
        self.ensure_one()
        return any(self[name] > 0 for name in TIER_THRESHOLDS)

    @api.model
    def _hk_ladders(self, companies):
        """{company_id: tiers (ascending)} for ``companies``: their own active tiers,
        else the shared ones. One query whatever the number of companies."""
        tiers = (
            self.sudo()
            .with_context(active_test=True)
            .search(["|", ("company_id", "=", False), ("company_id", "in", companies.ids)])
        )
        shared = tiers.filtered(lambda t: not t.company_id)
        ladders = {}
        for company in companies:
            own = tiers.filtered(lambda t, c=company: t.company_id == c)
            ladders[company.id] = (own or shared).sorted(lambda t: (t.sequence, t.id))
        return ladders

    @api.constrains("sequence", "min_spend", "min_visits", "min_activity", "company_id", "active")
    def _check_monotonic_thresholds(self):
        """Within a ladder, a better tier never asks for less than a lower one."""
        labels = {
            name: self._fields[name]._description_string(self.env) for name in TIER_THRESHOLDS
        }
        for company_id in {tier.company_id.id for tier in self}:
            ladder = self.search(
                [("company_id", "=", company_id or False), ("active", "=", True)],
                order="sequence, id",
            )
            for lower, higher in zip(ladder, ladder[1:], strict=False):
                if lower.sequence == higher.sequence:
                    raise ValidationError(
                        self.env._(
                            "The tiers %(a)s and %(b)s have the same rank (sequence %(seq)s): "
                            "give each tier of a ladder its own rank.",
                            a=lower.name,
                            b=higher.name,
                            seq=lower.sequence,
                        )
                    )
            for index, higher in enumerate(ladder):
                for lower in ladder[:index]:
                    for name in TIER_THRESHOLDS:
                        if lower[name] > 0 and 0 < higher[name] < lower[name]:
                            raise ValidationError(
                                self.env._(
                                    "The tier %(higher)s ranks above %(lower)s but asks for a "
                                    "lower %(threshold)s (%(high_value)s < %(low_value)s): a "
                                    "better tier cannot be easier to reach.",
                                    higher=higher.name,
                                    lower=lower.name,
                                    threshold=labels[name],
                                    high_value=higher[name],
                                    low_value=lower[name],
                                )
                            )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_members(self):
        partners = self.env["res.partner"].with_context(active_test=False).sudo()
        for tier in self:
            if partners.search_count([("membership_tier_id", "=", tier.id)], limit=1):
                raise ValidationError(
                    self.env._(
                        "The tier %(tier)s still has members: archive it instead, or move "
                        "its members to another tier first.",
                        tier=tier.name,
                    )
                )

    def action_view_members(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "housekeeping_membership.res_partner_action_customers"
        )
        action["domain"] = [("membership_tier_id", "=", self.id)]
        action["context"] = {}
        return action
