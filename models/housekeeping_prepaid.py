"""Prepaid membership (储值卡): the ledger of stored value and the top-up offers.

The balance itself is Odoo's eWallet: one ``loyalty.card`` per customer and
company, of the company's eWallet program (``res.company.hk_prepaid_program_id``),
whose ``points`` are money and whose ``loyalty.history`` lists every movement, so
that Odoo's own screens, the portal and ``sale_loyalty`` (paying an order with the
eWallet) see the same balance. This addon's movements (a visit paid from the
balance, its credit back, a top-up with its bonus, a refund, an expiry, a manual
correction) are also rows of ``housekeeping.prepaid.entry``, an append-only ledger
that keeps what Odoo's history does not: the principal and the bonus apart, the
cause (visit, sale order, offer), the reason and who did it. The engine
``housekeeping.engine.prepaid`` writes the card, its history line and the entry in
one statement, under a row lock on the card.
"""

from odoo import api, fields, models
from odoo.exceptions import UserError

from .housekeeping_visit import PAYMENT_METHODS
from .trust import is_open

# opened (trust.engine_writes) by the prepaid engine only
PREPAID_LEDGER = "prepaid_ledger"

PREPAID_ENTRY_TYPES = [
    ("topup", "Top-up"),
    ("spend", "Visit Payment"),
    ("reversal", "Visit Cancelled"),
    ("refund", "Refund"),
    ("expire", "Bonus Expired"),
    ("correction", "Correction"),
]


class HousekeepingPrepaidEntry(models.Model):
    """One movement of a customer's stored value; never edited or deleted.
    ``amount`` = ``principal`` + ``bonus`` (signed: credits positive)."""

    _name = "housekeeping.prepaid.entry"
    _description = "Prepaid Balance Movement"
    _order = "date desc, id desc"

    card_id = fields.Many2one(
        "loyalty.card", string="eWallet", required=True, index=True, ondelete="restrict"
    )
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, ondelete="restrict"
    )
    company_id = fields.Many2one("res.company", required=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    date = fields.Datetime(required=True, default=fields.Datetime.now, index=True)
    entry_type = fields.Selection(PREPAID_ENTRY_TYPES, string="Type", required=True, index=True)
    amount = fields.Monetary(required=True)
    principal = fields.Monetary(required=True)
    bonus = fields.Monetary(required=True)
    visit_id = fields.Many2one("housekeeping.visit", index="btree_not_null", ondelete="restrict")
    sale_order_id = fields.Many2one("sale.order", index="btree_not_null", ondelete="set null")
    sale_line_id = fields.Many2one("sale.order.line", index="btree_not_null", ondelete="set null")
    offer_id = fields.Many2one("housekeeping.prepaid.offer", ondelete="set null")
    origin_entry_id = fields.Many2one(
        "housekeeping.prepaid.entry",
        string="Reverses",
        index="btree_not_null",
        ondelete="restrict",
    )
    history_id = fields.Many2one("loyalty.history", string="eWallet History", ondelete="set null")
    reason = fields.Char()
    user_id = fields.Many2one("res.users", string="By", default=lambda self: self.env.user)

    _amount_sum = models.Constraint(
        "CHECK(amount = principal + bonus)",
        "A prepaid movement's amount is its principal plus its bonus.",
    )
    # a visit is paid once per completion: one open payment at most
    _visit_spend_idx = models.Index("(visit_id) WHERE entry_type = 'spend'")

    @api.depends("entry_type", "visit_id", "sale_order_id", "amount")
    def _compute_display_name(self):
        labels = dict(self._fields["entry_type"]._description_selection(self.env))
        for entry in self:
            cause = entry.visit_id.name or entry.sale_order_id.name or entry.reason or ""
            entry.display_name = " · ".join(p for p in (labels.get(entry.entry_type), cause) if p)

    @api.model_create_multi
    def create(self, vals_list):
        if not is_open(PREPAID_LEDGER):
            raise UserError(
                self.env._(
                    "The prepaid balance changes through its actions (top-up, visit "
                    "payment, refund, correction), never by typing into its ledger."
                )
            )
        return super().create(vals_list)

    def write(self, vals):  # pylint: disable=method-required-super
        raise UserError(self.env._("Prepaid movements cannot be changed. Post a correction."))

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(self.env._("Prepaid movements cannot be deleted. Post a correction."))


class HousekeepingPrepaidOffer(models.Model):
    """A top-up offer (充值档位): the customer pays the product's price and receives
    it as principal plus a bonus, fixed or by the customer's tier. Sold as its
    product on a sale order (the confirmation credits the eWallet) or at the
    counter (the Top Up wizard makes and confirms that order)."""

    _name = "housekeeping.prepaid.offer"
    _inherit = ["housekeeping.offer.mixin"]
    _description = "Prepaid Top-up Offer"
    _order = "sequence, amount, id"
    _check_company_auto = True

    currency_id = fields.Many2one(related="company_id.currency_id")
    product_id = fields.Many2one(
        help="The product sold for this top-up; its price is the principal credited."
    )
    amount = fields.Monetary(
        string="Pay", required=True, help="The price of the top-up (the principal)."
    )
    bonus_mode = fields.Selection(
        [("fixed", "Fixed"), ("tier", "By Tier")], default="fixed", required=True
    )
    bonus_amount = fields.Monetary(string="Bonus", help="The bonus credited on top (fixed).")
    tier_bonus_ids = fields.One2many("housekeeping.prepaid.offer.tier", "offer_id")
    bonus_validity_months = fields.Integer(
        string="Bonus Valid (months)",
        help="The bonus left expires this many months after the top-up (0: never). "
        "The principal never expires.",
    )

    _amount_positive = models.Constraint("CHECK(amount > 0)", "A top-up must cost something.")
    _bonus_positive = models.Constraint(
        "CHECK(bonus_amount >= 0 AND bonus_validity_months >= 0)",
        "A bonus and its validity cannot be negative.",
    )
    _product_unique = models.Constraint(
        "UNIQUE(product_id)", "A product sells one top-up offer only."
    )

    def _bonus_for(self, partner):
        """The bonus of one unit of the offer for ``partner`` (by tier or fixed)."""
        self.ensure_one()
        if self.bonus_mode == "tier":
            line = self.tier_bonus_ids.filtered(lambda t: t.tier_id == partner.membership_tier_id)[
                :1
            ]
            return line.bonus_amount if line else self.bonus_amount
        return self.bonus_amount


class HousekeepingPrepaidOfferTier(models.Model):
    _name = "housekeeping.prepaid.offer.tier"
    _description = "Top-up Bonus per Tier"

    offer_id = fields.Many2one("housekeeping.prepaid.offer", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="offer_id.company_id", store=True)
    currency_id = fields.Many2one(related="offer_id.currency_id")
    tier_id = fields.Many2one("housekeeping.tier", required=True, ondelete="cascade")
    bonus_amount = fields.Monetary(string="Bonus", required=True)

    _tier_unique = models.Constraint("UNIQUE(offer_id, tier_id)", "One bonus per tier and offer.")


# the methods that may pay the rest of a visit paid in part from the balance
REST_METHODS = [m for m in PAYMENT_METHODS if m[0] not in ("prepaid", "package")]


class HousekeepingVisit(models.Model):
    """Split payment: a visit paid from the prepaid balance may take only a part
    of its amount from it (``prepaid_amount``, all of it by default) and the rest
    by another method (``payment_method_rest``). The prepaid engine debits, and
    credits back on cancel, the part only."""

    _inherit = "housekeeping.visit"

    prepaid_amount = fields.Monetary(
        string="Paid from Balance",
        compute="_compute_prepaid_amount",
        store=True,
        readonly=False,
        precompute=True,
        tracking=True,
        help="The part of the amount paid from the customer's prepaid balance (all of it "
        "by default); the rest is paid by the method of 'Rest Paid By'.",
    )
    payment_method_rest = fields.Selection(
        REST_METHODS,
        string="Rest Paid By",
        tracking=True,
        help="How the part of the amount not paid from the prepaid balance is paid.",
    )
    amount_rest = fields.Monetary(string="Rest to Pay", compute="_compute_amount_rest")

    _prepaid_amount_range = models.Constraint(
        "CHECK(prepaid_amount IS NULL OR (prepaid_amount >= 0 AND prepaid_amount <= amount))",
        "The part paid from the prepaid balance must be between zero and the visit's amount.",
    )

    @api.depends("payment_method", "amount")
    def _compute_prepaid_amount(self):
        for visit in self:
            visit.prepaid_amount = visit.amount if visit.payment_method == "prepaid" else 0.0

    @api.depends("payment_method", "amount", "prepaid_amount")
    def _compute_amount_rest(self):
        for visit in self:
            visit.amount_rest = (
                max((visit.amount or 0.0) - (visit.prepaid_amount or 0.0), 0.0)
                if visit.payment_method == "prepaid"
                else 0.0
            )

    def write(self, vals):
        """A visit to come paid in advance from the balance (portal) keeps its
        customer, amount and payment: the debit was taken for them."""
        frozen = {"partner_id", "company_id", "amount", "prepaid_amount", "payment_method"}
        if frozen & set(vals):
            self.filtered(lambda v: v.state != "done")._hk_check_advance_frozen(vals)
        return super().write(vals)

    def _hk_check_advance_frozen(self, vals):
        paid = self.env["housekeeping.engine.prepaid"]._visits_paid_in_advance(self)
        for visit in self.filtered(lambda v: v.id in paid):
            changed = [
                name
                for name in (
                    "partner_id",
                    "company_id",
                    "amount",
                    "prepaid_amount",
                    "payment_method",
                )
                if name in vals
                and visit._fields[name].convert_to_write(visit[name], visit) != vals[name]
                and not (
                    visit._fields[name].type == "monetary"
                    and not visit.currency_id.compare_amounts(visit[name], vals[name] or 0.0)
                )
            ]
            if changed:
                raise UserError(
                    self.env._(
                        "The visit %(visit)s was paid in advance from the prepaid balance: "
                        "its customer, amount and payment stay. To change them, cancel the "
                        "visit (the balance is credited back) and record it again.",
                        visit=visit.name,
                    )
                )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_paid_in_advance(self):
        if self.env["housekeeping.engine.prepaid"]._visits_paid_in_advance(self):
            raise UserError(
                self.env._(
                    "A visit paid in advance from the prepaid balance cannot be deleted: "
                    "cancel it instead (the balance is credited back)."
                )
            )

    def _hk_check_done_frozen(self, vals):
        super()._hk_check_done_frozen(vals)
        if "prepaid_amount" not in vals:
            return
        for visit in self:
            if visit.currency_id.compare_amounts(
                visit.prepaid_amount or 0.0, vals["prepaid_amount"] or 0.0
            ):
                raise UserError(
                    self.env._(
                        "The visit %(visit)s is done: the part paid from the prepaid balance "
                        "was debited. To correct it, cancel the visit (the balance is "
                        "credited back) and record it again.",
                        visit=visit.name,
                    )
                )
