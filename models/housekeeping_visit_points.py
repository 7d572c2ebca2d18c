from odoo import fields, models
from odoo.exceptions import UserError


class HousekeepingVisit(models.Model):
    _inherit = "housekeeping.visit"  # pylint: disable=consider-merging-classes-inherited  # until the engines move to models/engines (architecture issue)

    is_paid = fields.Boolean(string="Paid", copy=False, tracking=True)
    points_earned = fields.Integer(compute="_compute_points_earned")

    def _compute_points_earned(self):
        totals = dict(
            self.env["housekeeping.points.entry"]
            .sudo()
            ._read_group(
                # the visit's own points (not the referral, task or gift its
                # completion triggered) and their reversals
                [
                    ("visit_id", "in", self.ids),
                    "|",
                    ("reason_code", "=", "visit"),
                    "&",
                    ("entry_type", "=", "reversal"),
                    ("origin_entry_id.reason_code", "=", "visit"),
                ],
                ["visit_id"],
                ["points:sum"],
            )
        )
        for visit in self:
            visit.points_earned = totals.get(visit, 0)

    def action_mark_paid(self):
        """Record the payment; with *Earn When Paid*, the points are credited now."""
        if any(visit.state == "cancelled" for visit in self):
            raise UserError(self.env._("A cancelled visit cannot be marked paid."))
        self.write({"is_paid": True})
        done = self.filtered(lambda v: v.state == "done")
        for partner in done.partner_id:
            partner._hk_earn_visit_points(done.filtered(lambda v, p=partner: v.partner_id == p))
        return True
