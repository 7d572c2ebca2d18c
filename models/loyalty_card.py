from odoo import api, fields, models
from odoo.exceptions import UserError

from .housekeeping_prepaid import PREPAID_LEDGER
from .trust import is_open

# written by the prepaid engine only (in SQL, with the balance)
BONUS_FIELDS = {"hk_bonus", "hk_bonus_expiry"}


class LoyaltyCard(models.Model):
    """A prepaid eWallet (``housekeeping.prepaid``): its ``points`` are the balance,
    of which ``hk_bonus`` is bonus (written by the prepaid engine only, in SQL,
    together with the balance) and the rest principal. Movements made by Odoo
    itself (an eWallet trigger product sold, an order paid with the eWallet, the
    Update Balance wizard) change the balance only: what they add is principal,
    what they take is taken from the principal first, the bonus never exceeding
    the balance."""

    _inherit = "loyalty.card"

    hk_bonus = fields.Float(
        string="Bonus Left",
        readonly=True,
        copy=False,
        help="The part of the eWallet balance that was given as a top-up bonus.",
    )
    hk_bonus_expiry = fields.Date(
        string="Bonus Expires",
        readonly=True,
        copy=False,
        help="The bonus left expires on this day (the latest top-up's bonus validity).",
    )
    hk_principal = fields.Float(
        string="Principal Left",
        compute="_compute_hk_principal",
        help="What the customer paid and has not spent: the part a refund returns.",
    )
    hk_prepaid_entry_ids = fields.One2many(
        "housekeeping.prepaid.entry", "card_id", string="Prepaid Movements"
    )
    # at the bonus expiry run: the cards whose bonus is due
    _hk_bonus_expiry_idx = models.Index("(hk_bonus_expiry) WHERE hk_bonus > 0")

    @api.depends("points", "hk_bonus")
    def _compute_hk_principal(self):
        for card in self:
            card.hk_principal = card.points - min(max(card.hk_bonus, 0.0), max(card.points, 0.0))

    @api.model_create_multi
    def create(self, vals_list):
        if any(BONUS_FIELDS.intersection(vals) for vals in vals_list):
            self._hk_refuse_bonus_fields()
        return super().create(vals_list)

    def write(self, vals):
        if BONUS_FIELDS.intersection(vals):
            self._hk_refuse_bonus_fields()
        return super().write(vals)

    def _hk_refuse_bonus_fields(self):
        if not is_open(PREPAID_LEDGER):
            raise UserError(
                self.env._(
                    "The bonus of a prepaid balance changes through top-ups, visits, refunds "
                    "and its expiry, never by hand."
                )
            )
