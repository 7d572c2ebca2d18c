from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from .trust import engine_writes, is_open

# The trust guard of the adjustments (models/trust.py) and the fields only their
# actions set: never written by create()/write() from a client, even in draft.
ADJUSTMENT_GUARD = "adjustment"
ADJUSTMENT_ACTION_FIELDS = frozenset(
    {
        "state",
        "entry_id",
        "posted_date",
        "requested_by_id",
        "submitted_by_id",
        "approval_reason",
        "approved_by_id",
        "refused_by_id",
        "decision_date",
    }
)


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
    currency_id = fields.Many2one("res.currency", compute="_compute_currency_id")
    value = fields.Monetary(
        compute="_compute_value",
        store=True,
        readonly=False,
        help="What the customer receives, in money: the coupon's fixed amount or the "
        "price of the free service (filled from the coupon program when it can be). "
        "Active coupons and free services with a value give what a point is worth "
        "when redeemed, which values the outstanding points.",
    )

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

    @api.depends("company_id")
    def _compute_currency_id(self):
        for reward in self:
            reward.currency_id = (reward.company_id or self.env.company).currency_id

    @api.depends("loyalty_program_id")
    def _compute_value(self):
        """The first reward of the program with a money value: a fixed discount on
        the order, or free products at their sale price."""
        for reward in self:
            values = [
                line.discount
                if line.reward_type == "discount"
                else line.reward_product_id.lst_price * line.reward_product_qty
                for line in reward.loyalty_program_id.reward_ids
                if (line.reward_type == "discount" and line.discount_mode == "per_order")
                or (line.reward_type == "product" and line.reward_product_id)
            ]
            reward.value = values[0] if values else 0.0

    @api.model
    def _hk_point_values(self, companies):
        """{company id: money value of one point} for ``companies``: the median,
        over the active coupons and free services of the catalog that have a value
        (rewards of the company or of every company), of value ÷ points cost; the
        company's *Value of a Point* setting when its catalog has none. One query
        on the catalog, whatever the number of customers."""
        today = fields.Date.context_today(self)
        rewards = self.sudo().search_fetch(
            [
                ("reward_type", "in", ("service", "coupon")),
                ("value", ">", 0),
                ("company_id", "in", companies.ids + [False]),
                "|",
                ("date_to", "=", False),
                ("date_to", ">=", today),
            ],
            ["value", "points_cost", "company_id"],
        )
        values = {}
        for company in companies:
            ratios = sorted(
                r.value / r.points_cost
                for r in rewards
                if r.company_id in (company, self.env["res.company"]) and r.points_cost
            )
            if not ratios:
                values[company.id] = company.sudo().hk_point_value
                continue
            middle = len(ratios) // 2
            values[company.id] = (
                ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2
            )
        return values

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
        """Raise why ``partner`` cannot redeem the reward today. It only reads: the
        portal's catalog calls it for every reward on each view, so it must never
        lock or write a row; ``redeem()`` locks the stock first
        (``_hk_lock_stock``)."""
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

    def _hk_lock_stock(self):
        """Lock a reward of limited stock by writing its row, before its
        redemptions are counted: a transaction that counted them before another
        one gave the last unit then fails to serialize (and is retried) instead of
        counting from its older snapshot, which a lock alone (SELECT ... FOR
        UPDATE) would let it do. Only a redemption calls it."""
        self.ensure_one()
        if self.stock_limit:
            self.env.cr.execute(
                SQL("UPDATE housekeeping_reward SET write_date = write_date WHERE id = %s", self.id)
            )

    def redeem(self, partner):
        """Debit the points of ``partner`` and return what the reward gives: a
        ``loyalty.card`` (service and coupon rewards) or a ``mail.activity`` to
        deliver the gift. Nothing is written when a check fails."""
        self.ensure_one()
        partner.ensure_one()
        today = fields.Date.context_today(self)
        self._hk_lock_stock()
        self._hk_check_redeemable(partner, today)
        Entry = self.env["housekeeping.points.entry"].sudo()
        # what staff read (the ledger note, the gift activity, the chatter note) is
        # in the language of the customer's company, not the caller's
        staff = self.with_context(
            lang=self.env["housekeeping.engine"]._staff_lang(partner._hk_settings_company())
        )
        entry_vals = {
            "entry_type": "redeem",
            "reason_code": "reward",
            "reward_id": self.id,
            "note": staff.name,
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
                        "summary": staff.env._("Deliver the gift: %(name)s", name=staff.name),
                        "user_id": (partner.user_id or partner._hk_fallback_agent()).id,
                    }
                )
            )
        Entry._post_debit(partner, self.points_cost, entry_vals)
        partner.message_post(
            body=staff.env._(
                "Redeemed %(points)s points for %(reward)s.",
                points=self.points_cost,
                reward=staff.name,
            ),
            subtype_xmlid="mail.mt_note",
        )
        return result


class HousekeepingPointsAdjustment(models.Model):
    """A manual correction of a customer's points; posting it writes an ``adjust``
    ledger entry.

    A draft is edited by its author or a manager. Submitting it (``action_post``)
    posts it at once, or sends it to a manager's approval when it is above the
    company's threshold or would take its author's unapproved adjustments of the
    month above the company's cap. From then on the record is frozen: only the
    actions change it (approve, refuse), and the fields they set are written
    inside the addon's trust guard (``trust.engine_writes``), which nothing a
    client sends can open. Approval is four eyes: a manager who neither wrote nor
    submitted the adjustment."""

    _name = "housekeeping.points.adjustment"
    _description = "Points Adjustment"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"

    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, tracking=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    points = fields.Integer(
        required=True, tracking=True, help="Positive to credit, negative to debit."
    )
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
        readonly=True,
        copy=False,
        tracking=True,
    )
    needs_approval = fields.Boolean(compute="_compute_needs_approval")
    entry_id = fields.Many2one("housekeeping.points.entry", readonly=True, copy=False)
    posted_date = fields.Date(
        related="entry_id.date", store=True, string="Posted On", help="Date of the ledger entry."
    )
    # the author is the user who created the record (create_uid cannot be written
    # by anyone); stored to search and group on it, filled for existing rows
    requested_by_id = fields.Many2one(
        "res.users",
        compute="_compute_requested_by_id",
        store=True,
        index=True,
        string="Requested by",
    )
    submitted_by_id = fields.Many2one("res.users", readonly=True, copy=False)
    approval_reason = fields.Selection(
        [("threshold", "Above the approval threshold"), ("cap", "Above the monthly cap")],
        readonly=True,
        copy=False,
        help="Why the adjustment went to a manager's approval.",
    )
    approved_by_id = fields.Many2one("res.users", readonly=True, copy=False, tracking=True)
    refused_by_id = fields.Many2one("res.users", readonly=True, copy=False, tracking=True)
    decision_date = fields.Datetime(
        string="Approved/Refused On", readonly=True, copy=False, tracking=True
    )

    _points_nonzero = models.Constraint("CHECK(points != 0)", "An adjustment cannot be zero.")

    @api.depends("points", "company_id")
    def _compute_needs_approval(self):
        for adjustment in self:
            adjustment.needs_approval = (
                abs(adjustment.points) > adjustment.company_id.hk_points_approval_threshold
            )

    @api.depends("create_uid")
    def _compute_requested_by_id(self):
        for adjustment in self:
            adjustment.requested_by_id = adjustment.create_uid or self.env.user

    # ------------------------------------------------------------------ trust
    def _hk_protected_message(self, names):
        labels = ", ".join(self._fields[name]._description_string(self.env) for name in names)
        return self.env._(
            "These fields of a points adjustment are set by its actions (Post, Approve, "
            "Refuse) and cannot be written: %(fields)s.",
            fields=labels,
        )

    @api.model_create_multi
    def create(self, vals_list):
        if not is_open(ADJUSTMENT_GUARD):
            names = {name for vals in vals_list for name, value in vals.items() if value}
            names.update(
                key[len("default_") :]
                for key, value in self.env.context.items()
                if isinstance(key, str) and key.startswith("default_") and value
            )
            # a new adjustment is a draft (the web client may send its default state)
            if all(vals.get("state", "draft") == "draft" for vals in vals_list) and (
                self.env.context.get("default_state", "draft") == "draft"
            ):
                names.discard("state")
            protected = sorted(ADJUSTMENT_ACTION_FIELDS & names)
            if protected:
                raise UserError(self._hk_protected_message(protected))
        return super().create(vals_list)

    def write(self, vals):
        if vals and not is_open(ADJUSTMENT_GUARD):
            self._hk_check_client_write(vals)
        return super().write(vals)

    def _hk_check_client_write(self, vals):
        """Refuse what only the actions may do: set their fields, change a
        submitted, posted or refused adjustment, change someone else's draft."""
        protected = sorted(ADJUSTMENT_ACTION_FIELDS.intersection(vals))
        if protected:
            raise UserError(self._hk_protected_message(protected))
        frozen = self.filtered(lambda a: a.state != "draft")
        if frozen:
            raise UserError(
                self.env._(
                    "The adjustment of %(points)s points for %(customer)s is %(state)s: it "
                    "can no longer be changed. Create a new adjustment to correct it.",
                    points=frozen[0].points,
                    customer=frozen[0].partner_id.display_name,
                    state=dict(self._fields["state"]._description_selection(self.env))[
                        frozen[0].state
                    ],
                )
            )
        if not self.env.su and not self._is_manager():
            if self.filtered(lambda a: a.requested_by_id != self.env.user):
                raise UserError(
                    self.env._(
                        "Only its author or a membership manager can change a draft adjustment."
                    )
                )

    @api.ondelete(at_uninstall=False)
    def _unlink_if_draft(self):
        if any(adjustment.state != "draft" for adjustment in self):
            raise UserError(
                self.env._(
                    "A submitted, posted or refused adjustment cannot be deleted: it stays "
                    "on record. Only a draft can be deleted."
                )
            )

    # ------------------------------------------------------------------ actions
    def _is_manager(self):
        return self.env.user.has_group("housekeeping_membership.group_membership_manager")

    def action_post(self):
        """Post at once, or send to a manager's approval when above the company's
        threshold or above its author's monthly cap of unapproved adjustments."""
        for adjustment in self:
            if adjustment.state != "draft":
                raise UserError(self.env._("Only draft adjustments can be posted."))
            if adjustment.points < 0:
                # refused now rather than at approval: the balance does not cover it
                self.env["housekeeping.points.entry"].sudo()._check_balance(
                    adjustment.partner_id, -adjustment.points
                )
            reason = adjustment._hk_approval_reason()
            if reason:
                approver = adjustment._approver(self.env.user)
                with engine_writes(ADJUSTMENT_GUARD):
                    adjustment.write(
                        {
                            "state": "to_approve",
                            "submitted_by_id": self.env.uid,
                            "approval_reason": reason,
                        }
                    )
                adjustment.activity_schedule(
                    "mail.mail_activity_data_todo",
                    summary=self.env._("Approve a points adjustment"),
                    user_id=approver.id,
                )
            else:
                with engine_writes(ADJUSTMENT_GUARD):
                    adjustment.write({"submitted_by_id": self.env.uid})
                adjustment._post()
        return True

    def _hk_approval_reason(self):
        """``threshold``, ``cap`` or False (posts without approval)."""
        self.ensure_one()
        company = self.company_id
        if abs(self.points) > company.hk_points_approval_threshold:
            return "threshold"
        cap = company.hk_points_adjust_cap
        if cap and self._hk_unapproved_this_month() + abs(self.points) > cap:
            return "cap"
        return False

    def _hk_unapproved_this_month(self):
        """Absolute points of the author's adjustments posted without approval this
        month in the company. The author's user row is written (not changed) first:
        two submissions at the same moment then serialize (the second one fails and
        is retried) instead of both counting the month without the other one."""
        self.ensure_one()
        author = self.requested_by_id
        self.env.cr.execute(
            SQL("UPDATE res_users SET write_date = write_date WHERE id = %s", author.id)
        )
        today = fields.Date.context_today(self)
        start = today.replace(day=1)
        posted = self.sudo().search_fetch(
            [
                ("requested_by_id", "=", author.id),
                ("company_id", "=", self.company_id.id),
                ("state", "=", "posted"),
                ("approved_by_id", "=", False),
                ("posted_date", ">=", start),
                ("posted_date", "<", start + relativedelta(months=1)),
                ("id", "!=", self.id),
            ],
            ["points"],
        )
        return sum(abs(points) for points in posted.mapped("points"))

    def _approver(self, submitter=None):
        """The manager who gets the approval activity: an active internal manager of
        the company who neither wrote nor submits the adjustment."""
        self.ensure_one()
        excluded = self.requested_by_id | (submitter or self.submitted_by_id)
        group = self.env.ref("housekeeping_membership.group_membership_manager")
        candidates = group.sudo().user_ids.filtered(
            lambda u: not u.share and u not in excluded and self.company_id in u.company_ids
        )
        if not candidates:
            raise UserError(
                self.env._(
                    "This adjustment needs the approval of a membership manager other than "
                    "its author, and there is none in %(company)s.",
                    company=self.company_id.display_name,
                )
            )
        return candidates.sorted("id")[:1]

    def _hk_check_decision(self, verb):
        """A manager decides on adjustments waiting for approval that they neither
        wrote nor submitted (four eyes)."""
        if not self._is_manager():
            if verb == "approve":
                message = self.env._("Only a membership manager can approve adjustments.")
            else:
                message = self.env._("Only a membership manager can refuse adjustments.")
            raise UserError(message)
        for adjustment in self:
            if adjustment.state != "to_approve":
                if verb == "approve":
                    message = self.env._("Only adjustments waiting for approval can be approved.")
                else:
                    message = self.env._("Only adjustments waiting for approval can be refused.")
                raise UserError(message)
            if self.env.user in adjustment.requested_by_id | adjustment.submitted_by_id:
                raise UserError(
                    self.env._(
                        "You wrote or submitted this adjustment: another membership manager "
                        "approves or refuses it."
                    )
                )

    def action_approve(self):
        self._hk_check_decision("approve")
        now = fields.Datetime.now()
        for adjustment in self:
            with engine_writes(ADJUSTMENT_GUARD):
                adjustment.write({"approved_by_id": self.env.uid, "decision_date": now})
            adjustment._post()
            adjustment.activity_unlink(["mail.mail_activity_data_todo"])
        return True

    def action_refuse(self):
        self._hk_check_decision("refuse")
        with engine_writes(ADJUSTMENT_GUARD):
            self.write(
                {
                    "state": "refused",
                    "refused_by_id": self.env.uid,
                    "decision_date": fields.Datetime.now(),
                }
            )
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
        with engine_writes(ADJUSTMENT_GUARD):
            self.write({"state": "posted", "entry_id": entry.id})
