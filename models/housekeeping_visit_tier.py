from odoo import api, fields, models


class HousekeepingVisit(models.Model):
    _inherit = "housekeeping.visit"
    # Priority booking: visits of customers in a priority tier come first.
    _order = "tier_sequence desc, date desc, id desc"

    membership_tier_id = fields.Many2one(
        related="partner_id.membership_tier_id", string="Membership Tier"
    )
    tier_sequence = fields.Integer(
        string="Tier Priority",
        compute="_compute_tier_sequence",
        store=True,
        help="Rank of the customer's tier when the tier has priority booking, else 0.",
    )

    @api.depends(
        "partner_id.membership_tier_id.sequence",
        "partner_id.membership_tier_id.priority_booking",
    )
    def _compute_tier_sequence(self):
        for visit in self:
            tier = visit.partner_id.membership_tier_id
            visit.tier_sequence = tier.sequence if tier.priority_booking else 0
