from odoo import api, fields, models

OPEN_STATES = ("draft", "scheduled")


class HousekeepingVisit(models.Model):
    _inherit = "housekeeping.visit"  # pylint: disable=consider-merging-classes-inherited  # until the engines move to models/engines (architecture issue)
    # Priority booking: visits still to do of customers in a priority tier come
    # first; done and cancelled visits rank 0, so a customer's history reads by date
    # and a tier change rewrites only the visits still to do.
    _order = "tier_sequence desc, date desc, id desc"

    membership_tier_id = fields.Many2one(
        related="partner_id.membership_tier_id", string="Membership Tier"
    )
    tier_sequence = fields.Integer(
        string="Tier Priority",
        compute="_compute_tier_sequence",
        store=True,
        help="Rank of the customer's tier when the tier has priority booking and the "
        "visit is still to do, else 0.",
    )
    _partner_open_idx = models.Index("(partner_id) WHERE state IN ('draft', 'scheduled')")

    @api.depends(
        "state",
        "partner_id.membership_tier_id.sequence",
        "partner_id.membership_tier_id.priority_booking",
    )
    def _compute_tier_sequence(self):
        for visit in self:
            tier = visit.partner_id.membership_tier_id
            open_visit = visit.state in OPEN_STATES
            visit.tier_sequence = tier.sequence if tier.priority_booking and open_visit else 0
