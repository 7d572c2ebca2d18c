from odoo import fields, models


class HousekeepingTierLog(models.Model):
    """One change of membership tier; written by the tier engine only."""

    _name = "housekeeping.tier.log"
    _description = "Membership Tier Change"
    _order = "date desc, id desc"

    partner_id = fields.Many2one("res.partner", required=True, index=True, ondelete="cascade")
    from_tier_id = fields.Many2one("housekeeping.tier", ondelete="set null")
    to_tier_id = fields.Many2one("housekeeping.tier", ondelete="set null", index=True)
    direction = fields.Selection(
        [("up", "Upgrade"), ("down", "Downgrade")],
        help="Compared with the previous tier's rank.",
    )
    date = fields.Date(required=True, index=True)
    trigger = fields.Selection(
        [
            ("cron", "Scheduled Evaluation"),
            ("visit", "Visit"),
            ("cancel", "Visit Cancelled"),
            ("manual", "Manual"),
        ],
        required=True,
    )
    reason = fields.Char()
    gift_given = fields.Boolean(
        string="Gift Pack Given",
        help="The upgrade gift pack (points and coupon) of the tier was given with this change.",
    )
    gift_points = fields.Integer()
    gift_withdrawn = fields.Boolean(
        help="The visit that earned the upgrade was cancelled: the upgrade and its gift "
        "pack were withdrawn (the gift can be earned again).",
    )
    withdrawn = fields.Boolean(
        help="An upgrade withdrawn because the visit that earned it was cancelled.",
    )
    grace_before = fields.Date(
        help="The end of the grace period the customer was in before this change "
        "(restored if the upgrade is withdrawn).",
    )
    visit_id = fields.Many2one(
        "housekeeping.visit",
        index="btree_not_null",
        ondelete="set null",
        help="The completed visit that earned the upgrade.",
    )
    loyalty_card_id = fields.Many2one("loyalty.card", string="Gift Coupon", ondelete="set null")
    company_id = fields.Many2one("res.company", index=True)

    # the staff audit report reads the manual changes only (a few among millions)
    _manual_idx = models.Index("(date) WHERE trigger = 'manual'")
