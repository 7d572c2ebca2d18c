from odoo import api, fields, models
from odoo.tools import SQL

from ..models.res_partner_lifecycle import LIFECYCLE_SETTINGS, LIFECYCLE_STAGES


class HousekeepingLifecyclePreview(models.TransientModel):
    _name = "housekeeping.lifecycle.preview"
    _description = "Preview a Lifecycle Rule Change"

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    hk_new_min_visits = fields.Integer(string="Visits to Become Loyal")
    hk_new_max_days = fields.Integer(string="Days to Become Loyal")
    hk_at_risk_factor = fields.Float(string="At-Risk Factor")
    hk_at_risk_floor_days = fields.Integer(string="At-Risk Days (no interval yet)")
    hk_churn_factor = fields.Float(string="Churn Factor")
    hk_churn_floor_days = fields.Integer(string="Churn Floor (days)")
    hk_low_rating = fields.Integer(string="Low Rating")
    hk_rated_visits_window = fields.Integer(string="Recent Visits Checked")
    line_ids = fields.One2many("housekeeping.lifecycle.preview.line", "preview_id", readonly=True)
    moved_count = fields.Integer(string="Customers Who Would Move", readonly=True)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        company = self.env["res.company"].browse(values.get("company_id")) or self.env.company
        for name in LIFECYCLE_SETTINGS:
            if name in fields_list:
                values[name] = company[name]
        return values

    def action_preview(self):
        """Count, without writing, how many customers of the company would move from
        which stage to which with these thresholds."""
        self.ensure_one()
        engine = self.env["housekeeping.engine.lifecycle"]
        engine._lifecycle_flush()
        overrides = {name: self[name] for name in LIFECYCLE_SETTINGS}
        query = engine._lifecycle_query(fields.Date.context_today(self), overrides=overrides)
        self.env.cr.execute(
            SQL(
                """
            SELECT q.old_stage, q.new_stage, count(*)
              FROM (%s) q JOIN res_partner p ON p.id = q.id
             WHERE COALESCE(p.company_id, %s) = %s AND q.new_stage IS DISTINCT FROM q.old_stage
             GROUP BY 1, 2 ORDER BY 3 DESC
            """,
                query,
                # customers without a company follow the main company, whoever asks
                # (a plain search as a user of a branch would give the branch)
                engine._main_company().id,
                self.company_id.id,
            )
        )
        rows = self.env.cr.fetchall()
        self.line_ids = [(5, 0, 0)] + [
            (0, 0, {"from_stage": old or False, "to_stage": new, "count": count})
            for old, new, count in rows
        ]
        self.moved_count = sum(count for _old, _new, count in rows)
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_apply(self):
        """Save the previewed thresholds on the company."""
        self.ensure_one()
        self.company_id.write({name: self[name] for name in LIFECYCLE_SETTINGS})
        return {"type": "ir.actions.act_window_close"}


class HousekeepingLifecyclePreviewLine(models.TransientModel):
    _name = "housekeeping.lifecycle.preview.line"
    _description = "Lifecycle Preview Line"

    preview_id = fields.Many2one(
        "housekeeping.lifecycle.preview", required=True, ondelete="cascade"
    )
    from_stage = fields.Selection(LIFECYCLE_STAGES)
    to_stage = fields.Selection(LIFECYCLE_STAGES)
    count = fields.Integer(string="Customers")
