from odoo import api, models


class RatingRating(models.Model):
    _inherit = "rating.rating"

    @api.model_create_multi
    def create(self, vals_list):
        ratings = super().create(vals_list)
        ratings._hk_lifecycle_due()
        return ratings

    def write(self, vals):
        result = super().write(vals)
        if {"rating", "consumed", "res_id", "res_model_id"}.intersection(vals):
            self._hk_lifecycle_due()
        return result

    def _hk_lifecycle_due(self):
        """A score on a visit counts in the lifecycle rules (a low one is a quality
        signal): its customer is evaluated at the next run."""
        visit_ids = [r.res_id for r in self if r.res_model == "housekeeping.visit" and r.res_id]
        if visit_ids:
            visits = self.env["housekeeping.visit"].sudo().browse(visit_ids).exists()
            self.env["housekeeping.engine.lifecycle"]._mark_due(visits.partner_id)
