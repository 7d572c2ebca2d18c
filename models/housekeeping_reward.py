from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError


class HousekeepingReward(models.Model):
    """The points catalog (积分兑换): free services, coupons and gifts."""

    _name = "housekeeping.reward"
    _description = "Points Reward"
    _order = "sequence, points_cost, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    description = fields.Text(translate=True)
    points_cost = fields.Integer(string="Points", required=True)
    reward_type = fields.Selection(
        [("service", "Free Service"), ("coupon", "Coupon"), ("gift", "Gift")],
        string="Type",
        required=True,
        default="coupon",
    )
    loyalty_program_id = fields.Many2one(
        "loyalty.program",
        string="Coupon Program",
        help="Redeeming issues a coupon (loyalty card) of this program, usable on a sale order.",
    )
    company_id = fields.Many2one("res.company", index=True, default=lambda self: self.env.company)
    date_from = fields.Date(string="Valid From")
    date_to = fields.Date(string="Valid Until")
    stock_limit = fields.Integer(
        string="Available Quantity", help="How many times it can be redeemed in all; 0 = no limit."
    )
    per_customer_limit = fields.Integer(
        string="Per Customer", help="How many times one customer may redeem it; 0 = no limit."
    )
    tier_ids = fields.Many2many(
        "housekeeping.tier",
        string="Reserved for Tiers",
        help="Only members of these tiers may redeem it (any customer if empty).",
    )
    redeemed_count = fields.Integer(compute="_compute_redeemed_count", string="Redeemed")
    image_128 = fields.Image(max_width=128, max_height=128)

    _points_positive = models.Constraint(
        "CHECK(points_cost > 0)", "A reward costs a positive number of points."
    )
    _limits_positive = models.Constraint(
        "CHECK(stock_limit >= 0 AND per_customer_limit >= 0)", "Limits cannot be negative."
    )

    @api.constrains("reward_type", "loyalty_program_id")
    def _check_program(self):
        for reward in self:
            if reward.reward_type in ("service", "coupon") and not reward.loyalty_program_id:
                raise ValidationError(
                    self.env._(
                        "The reward %(name)s needs a coupon program: the customer receives "
                        "a coupon of it.",
                        name=reward.name,
                    )
                )

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for reward in self:
            if reward.date_from and reward.date_to and reward.date_from > reward.date_to:
                raise ValidationError(self.env._("A reward cannot end before it starts."))

    def _compute_redeemed_count(self):
        counts = dict(
            self.env["housekeeping.points.entry"]
            .sudo()
            ._read_group(
                [("reward_id", "in", self.ids), ("entry_type", "=", "redeem")],
                ["reward_id"],
                ["__count"],
            )
        )
        for reward in self:
            reward.redeemed_count = counts.get(reward, 0)

    def _hk_check_redeemable(self, partner, today):
        self.ensure_one()
        if not self.active:
            raise UserError(self.env._("The reward %(name)s is archived.", name=self.name))
        if (self.date_from and today < self.date_from) or (self.date_to and today > self.date_to):
            raise UserError(
                self.env._("The reward %(name)s is not available today.", name=self.name)
            )
        if self.company_id and partner.company_id and partner.company_id != self.company_id:
            raise UserError(
                self.env._("The reward %(name)s belongs to another company.", name=self.name)
            )
        if self.tier_ids and partner.membership_tier_id not in self.tier_ids:
            raise UserError(
                self.env._(
                    "The reward %(name)s is reserved for %(tiers)s members.",
                    name=self.name,
                    tiers=", ".join(self.tier_ids.mapped("name")),
                )
            )
        Entry = self.env["housekeeping.points.entry"].sudo()
        if self.stock_limit:
            # lock the reward by writing its row: a transaction that counted the
            # redemptions before another one gave the last unit then fails to
            # serialize (and is retried) instead of counting from its older snapshot,
            # which a lock alone (SELECT ... FOR UPDATE) would let it do
            self.env.cr.execute(
                "UPDATE housekeeping_reward SET write_date = write_date WHERE id = %s", [self.id]
            )
            used = Entry.search_count([("reward_id", "=", self.id), ("entry_type", "=", "redeem")])
            if used >= self.stock_limit:
                raise UserError(self.env._("The reward %(name)s is out of stock.", name=self.name))
        if self.per_customer_limit:
            mine = Entry.search_count(
                [
                    ("reward_id", "=", self.id),
                    ("entry_type", "=", "redeem"),
                    ("partner_id", "=", partner.id),
                ]
            )
            if mine >= self.per_customer_limit:
                raise UserError(
                    self.env._(
                        "%(customer)s already redeemed %(name)s %(count)s time(s), the limit.",
                        customer=partner.display_name,
                        name=self.name,
                        count=mine,
                    )
                )

    def redeem(self, partner):
        """Debit the points of ``partner`` and return what the reward gives: a
        ``loyalty.card`` (service and coupon rewards) or a ``mail.activity`` to
        deliver the gift. Nothing is written when a check fails."""
        self.ensure_one()
        partner.ensure_one()
        today = fields.Date.context_today(self)
        self._hk_check_redeemable(partner, today)
        Entry = self.env["housekeeping.points.entry"].sudo()
        entry_vals = {
            "entry_type": "redeem",
            "reason_code": "reward",
            "reward_id": self.id,
            "note": self.name,
        }
        Entry._check_balance(partner, self.points_cost)
        if self.reward_type in ("service", "coupon"):
            # Coupons are native loyalty cards (their rights are sales rights).
            result = (
                self.env["loyalty.card"]
                .sudo()
                .create(
                    {
                        "program_id": self.loyalty_program_id.id,
                        "partner_id": partner.id,
                        "points": 1,
                    }
                )
            )
            entry_vals["loyalty_card_id"] = result.id
        else:
            result = (
                self.env["mail.activity"]
                .sudo()
                .create(
                    {
                        "res_model_id": self.env["ir.model"]._get_id("res.partner"),
                        "res_id": partner.id,
                        "activity_type_id": self.env.ref("mail.mail_activity_data_todo").id,
                        "summary": self.env._("Deliver the gift: %(name)s", name=self.name),
                        "user_id": (partner.user_id or partner._hk_fallback_agent()).id,
                    }
                )
            )
        Entry._post_debit(partner, self.points_cost, entry_vals)
        partner.message_post(
            body=self.env._(
                "Redeemed %(points)s points for %(reward)s.",
                points=self.points_cost,
                reward=self.name,
            ),
            subtype_xmlid="mail.mt_note",
        )
        return result


class HousekeepingPointsAdjustment(models.Model):
    """A manual correction of a customer's points, approved by a manager above the
    company's threshold; posting it writes an ``adjust`` ledger entry."""

    _name = "housekeeping.points.adjustment"
    _description = "Points Adjustment"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    points = fields.Integer(required=True, help="Positive to credit, negative to debit.")
    reason_code = fields.Selection(
        [("goodwill", "Goodwill Gesture"), ("correction", "Correction"), ("other", "Other")],
        string="Reason",
        required=True,
        default="correction",
    )
    note = fields.Char(string="Explanation", required=True)
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("to_approve", "To Approve"),
            ("posted", "Posted"),
            ("refused", "Refused"),
        ],
        default="draft",
        required=True,
        tracking=True,
    )
    needs_approval = fields.Boolean(compute="_compute_needs_approval")
    entry_id = fields.Many2one("housekeeping.points.entry", readonly=True, copy=False)
    approved_by_id = fields.Many2one("res.users", readonly=True, copy=False)

    _points_nonzero = models.Constraint("CHECK(points != 0)", "An adjustment cannot be zero.")

    @api.depends("points", "company_id")
    def _compute_needs_approval(self):
        for adjustment in self:
            adjustment.needs_approval = (
                abs(adjustment.points) > adjustment.company_id.hk_points_approval_threshold
            )

    def _is_manager(self):
        return self.env.user.has_group("housekeeping_membership.group_membership_manager")

    def action_post(self):
        """Post at once, or ask a manager when above the threshold."""
        for adjustment in self:
            if adjustment.state != "draft":
                raise UserError(self.env._("Only draft adjustments can be posted."))
            if adjustment.needs_approval and not self._is_manager():
                adjustment.state = "to_approve"
                adjustment.activity_schedule(
                    "mail.mail_activity_data_todo",
                    summary=self.env._("Approve a points adjustment"),
                    user_id=self._approver().id,
                )
            else:
                adjustment._post()
        return True

    def _approver(self):
        group = self.env.ref("housekeeping_membership.group_membership_manager")
        return group.sudo().user_ids.filtered(lambda u: not u.share)[:1] or self.env.user

    def action_approve(self):
        if not self._is_manager():
            raise UserError(self.env._("Only a membership manager can approve adjustments."))
        for adjustment in self:
            if adjustment.state != "to_approve":
                raise UserError(
                    self.env._("Only adjustments waiting for approval can be approved.")
                )
            adjustment.approved_by_id = self.env.user
            adjustment._post()
            adjustment.activity_unlink(["mail.mail_activity_data_todo"])
        return True

    def action_refuse(self):
        if not self._is_manager():
            raise UserError(self.env._("Only a membership manager can refuse adjustments."))
        self.filtered(lambda a: a.state == "to_approve").write({"state": "refused"})
        self.activity_unlink(["mail.mail_activity_data_todo"])
        return True

    def _post(self):
        self.ensure_one()
        Entry = self.env["housekeeping.points.entry"].sudo()
        vals = {
            "entry_type": "adjust",
            "reason_code": self.reason_code,
            "note": self.note,
            "company_id": self.company_id.id,
            "source_key": f"adjustment:{self.id}",
        }
        if self.points > 0:
            today = fields.Date.context_today(self)
            entry = Entry._post_credits(
                [
                    {
                        **vals,
                        "partner_id": self.partner_id.id,
                        "points": self.points,
                        "date": today,
                        "expiry_date": self.partner_id._hk_expiry_date(today),
                    }
                ]
            )
        else:
            entry = Entry._post_debit(self.partner_id, -self.points, vals)
        self.write({"state": "posted", "entry_id": entry.id})

    @api.ondelete(at_uninstall=False)
    def _unlink_if_not_posted(self):
        if any(adjustment.state == "posted" for adjustment in self):
            raise UserError(self.env._("A posted adjustment cannot be deleted."))
