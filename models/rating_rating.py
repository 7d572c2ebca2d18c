from odoo import api, models


class RatingRating(models.Model):
    _inherit = "rating.rating"

    @api.model_create_multi
    def create(self, vals_list):
        ratings = super().create(vals_list)
        ratings._hk_lifecycle_due()
        ratings._hk_facts_refresh()
        return ratings

    def write(self, vals):
        facts_due = {"rating", "consumed", "res_id", "res_model_id", "res_model"}.intersection(vals)
        visits_before = self._hk_visit_ids() if facts_due else []
        result = super().write(vals)
        if {"rating", "consumed", "res_id", "res_model_id"}.intersection(vals):
            self._hk_lifecycle_due()
        if facts_due:
            self._hk_facts_refresh(visits_before)
        return result

    def unlink(self):
        visit_ids = self._hk_visit_ids()
        result = super().unlink()
        if visit_ids:
            self.browse()._hk_facts_refresh(visit_ids)
        return result

    def _hk_visit_ids(self):
        return [r.res_id for r in self if r.res_model == "housekeeping.visit" and r.res_id]

    def _hk_facts_refresh(self, visit_ids=()):
        """A visit's score (its stored ``rating_last_value``) counts in the facts of
        the visit reports: refreshed for the visits rated (before and after)."""
        visit_ids = list(visit_ids) + self._hk_visit_ids()
        if visit_ids:
            # recompute rating_last_value first (the facts read the column): the
            # ORM does not mark it when a rating is created or written directly
            # (and reads the ratings' stored res_model, not flushed yet at create)
            self.env["rating.rating"].flush_model()
            Visit = self.env["housekeeping.visit"].sudo()
            visits = Visit.browse(set(visit_ids)).exists()
            self.env.add_to_compute(Visit._fields["rating_last_value"], visits)
            Visit.flush_model(["rating_last_value"])
            self.env["housekeeping.visit.fact"].sudo()._hk_refresh(visits.ids)

    def _hk_lifecycle_due(self):
        """A score on a visit counts in the lifecycle rules (a low one is a quality
        signal): its customer is evaluated at the next run."""
        visit_ids = [r.res_id for r in self if r.res_model == "housekeeping.visit" and r.res_id]
        if visit_ids:
            visits = self.env["housekeeping.visit"].sudo().browse(visit_ids).exists()
            self.env["housekeeping.engine.lifecycle"]._mark_due(visits.partner_id)
