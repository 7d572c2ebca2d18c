from odoo import models
from odoo.tools import SQL


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"  # pylint: disable=consider-merging-classes-inherited  # until merged into wizard/base_partner_merge.py (architecture issue)

    def _update_foreign_keys(self, src_partners, dst_partner):
        """Journey messages move to the surviving customer, except those of an
        occasion it was messaged for too (once-only key); recommendations of the
        merged customers are dropped (rebuilt at night)."""
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
        return super()._update_foreign_keys(src_partners, dst_partner)
