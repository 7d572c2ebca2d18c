from odoo import models


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    def _update_foreign_keys(self, src_partners, dst_partner):
        """Visits, complaints (and, per capability, ledger rows and logs) move with
        Odoo's generic foreign-key update; the stored aggregates of the surviving
        partner are then recomputed once."""
        result = super()._update_foreign_keys(src_partners, dst_partner)
        dst_partner._hk_after_merge(src_partners)
        return result
