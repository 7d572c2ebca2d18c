from odoo import models
from odoo.tools import SQL

from ..models.trust import engine_writes


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    def _update_values(self, src_partners, dst_partner):
        """Odoo copies the merged customers' stored fields into the surviving one
        when it has none: engine-owned fields included (the merge is their owning
        action there); ``_hk_pipeline_merged`` then recomputes them from the
        merged visits and ledger."""
        with engine_writes():
            return super()._update_values(src_partners, dst_partner)

    def _update_foreign_keys(self, src_partners, dst_partner):
        """Visits, complaints, ledger rows and logs move with Odoo's generic
        foreign-key update; the stored aggregates of the surviving partner are then
        recomputed once.

        Journey messages move to the surviving customer, except those of an
        occasion it was messaged for too (once-only key); recommendations of the
        merged customers are dropped (rebuilt at night).

        Two records of one person often hold ledger entries of the same cause (the
        profile bonus, a birthday, a check-in of the same day): their key
        (``source_key``, unique per customer) would collide on the surviving
        customer, and Odoo's update, which does not see a unique index, would fail.
        The merged customers' entries of such causes keep their points and date and
        get a key of their own (``<key>:merged-<former customer id>``): the ledger
        keeps every entry, and the balance, their sum, is unchanged."""
        # engagement: journey messages and recommendations
        self.env["housekeeping.journey.send"].flush_model()
        self.env.cr.execute(
            SQL(
                """
            DELETE FROM housekeeping_journey_send s
             WHERE s.partner_id = ANY(%(src)s)
               AND EXISTS (SELECT 1 FROM housekeeping_journey_send d
                            WHERE d.partner_id = %(dst)s AND d.journey_id = s.journey_id
                              AND d.period_key = s.period_key);
            DELETE FROM housekeeping_journey_send s
             WHERE s.partner_id = ANY(%(src)s)
               AND s.id NOT IN (SELECT DISTINCT ON (journey_id, period_key) id
                                  FROM housekeeping_journey_send
                                 WHERE partner_id = ANY(%(src)s)
                                 ORDER BY journey_id, period_key, id);
            DELETE FROM housekeeping_recommendation WHERE partner_id = ANY(%(src)s);
            """,
                src=src_partners.ids,
                dst=dst_partner.id,
            )
        )
        self.env["housekeeping.journey.send"].invalidate_model()
        self.env["housekeeping.recommendation"].invalidate_model()
        # points: ledger keys that would collide on the surviving customer
        entry = self.env["housekeeping.points.entry"]
        entry.flush_model()
        self.env.cr.execute(
            SQL(
                """
            UPDATE housekeeping_points_entry s
               SET source_key = s.source_key || ':merged-' || s.partner_id
             WHERE s.partner_id = ANY(%(src)s) AND s.source_key IS NOT NULL
               AND EXISTS (SELECT 1 FROM housekeeping_points_entry o
                            WHERE o.partner_id = ANY(%(all)s) AND o.partner_id != s.partner_id
                              AND o.source_key = s.source_key)
            """,
                src=src_partners.ids,
                all=[*src_partners.ids, dst_partner.id],
            )
        )
        entry.invalidate_model(["source_key"])
        result = super()._update_foreign_keys(src_partners, dst_partner)
        self._hk_pipeline_merged(dst_partner)
        return result

    def _hk_pipeline_merged(self, dst_partner):
        """``dst_partner`` absorbed the merged customers' visits and ledger: its
        stored aggregates are recomputed once, in the order of the visit pipeline
        (statistics, tier, points balance, lifecycle stage)."""
        self.env["housekeeping.engine.statistics"]._refresh_visit_stats(dst_partner.ids)
        self.env["housekeeping.engine.tier"]._tier_evaluate(
            partner_ids=dst_partner.ids, trigger="manual", downgrade=False
        )
        self.env["housekeeping.engine.points"]._refresh_balance(dst_partner)
        dst_partner.env["housekeeping.engine.lifecycle"]._lifecycle_evaluate(
            partner_ids=dst_partner.ids, trigger="manual"
        )
