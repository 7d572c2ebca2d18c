from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..models.lifecycle_rules import LIFECYCLE_SETTINGS, LIFECYCLE_STAGES


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
    hk_season_max_days = fields.Integer(string="Longest Season (days)")
    hk_season_off_share = fields.Integer(string="Off-Season Visits Tolerated (%)")
    hk_season_grace_days = fields.Integer(string="Season Grace (days)")
    hk_at_risk_probability_enabled = fields.Boolean(
        string="At Risk by Probability",
        help="Whether Save These Rules turns the probability rule on. The preview shows "
        "both: the counts of the interval rules alone and with the probability rule.",
    )
    hk_at_risk_probability = fields.Integer(string="At-Risk Probability (%)")
    line_ids = fields.One2many("housekeeping.lifecycle.preview.line", "preview_id", readonly=True)
    moved_count = fields.Integer(string="Customers Who Would Move", readonly=True)
    moved_count_probability = fields.Integer(
        string="Customers Who Would Move (With Probability Rule)", readonly=True
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        company = self.env["res.company"].browse(values.get("company_id")) or self.env.company
        for name in LIFECYCLE_SETTINGS:
            if name in fields_list:
                values[name] = company[name]
        return values

    @api.model
    @api.readonly
    def get_preview(self, values=None):
        """The preview of ``values`` (thresholds named as in ``LIFECYCLE_SETTINGS``
        and ``company_id``; the company's settings for the others) computed on an
        in-memory wizard: nothing is written, so Odoo may run it on a read replica
        (``@api.readonly``). Returns ``{"lines": [{"from_stage", "to_stage",
        "count", "count_probability"}], "moved_count", "moved_count_probability",
        "stage_labels": {stage: label}}``, the labels in the user's language (the
        dialog's widget shows them without a ``fields_get``, which is not read-only)."""
        self.check_access("create")
        values = dict(values or {})
        unknown = sorted(set(values) - set(LIFECYCLE_SETTINGS) - {"company_id"})
        if unknown:
            raise UserError(
                self.env._("Unknown lifecycle settings: %(names)s", names=", ".join(unknown))
            )
        company = self.env["res.company"].browse(values.pop("company_id", None) or [])
        company = company or self.env.company
        if not self.env.su and company not in self.env.user.company_ids:
            raise AccessError(self.env._("You cannot preview the rules of this company."))
        wizard = self.with_context(default_company_id=company.id)
        defaults = wizard.default_get(["company_id", *LIFECYCLE_SETTINGS])
        result = wizard.new({**defaults, **values})._hk_preview_result()
        stage_field = self.env["housekeeping.lifecycle.preview.line"]._fields["to_stage"]
        result["stage_labels"] = dict(stage_field._description_selection(self.env))
        return result

    def _hk_preview_result(self):
        """Count, without writing, how many customers of the company would move from
        which stage to which with these thresholds: side by side, with the interval
        rules alone and with the rule by probability too (at this threshold)."""
        self.ensure_one()
        engine = self.env["housekeeping.engine.lifecycle"]
        engine._lifecycle_flush()
        overrides = {name: self[name] for name in LIFECYCLE_SETTINGS}
        counts = {}
        for column, with_probability in (("count", False), ("count_probability", True)):
            overrides["hk_at_risk_probability_enabled"] = with_probability
            for old, new, count in self._preview_moves(engine, overrides):
                counts.setdefault((old, new), {"count": 0, "count_probability": 0})
                counts[old, new][column] = count
        moves = sorted(
            counts.items(), key=lambda item: (-item[1]["count"], -item[1]["count_probability"])
        )
        return {
            "lines": [
                {"from_stage": old or False, "to_stage": new, **values}
                for (old, new), values in moves
            ],
            "moved_count": sum(values["count"] for _move, values in moves),
            "moved_count_probability": sum(values["count_probability"] for _move, values in moves),
        }

    def action_preview(self):
        """The counts of ``_hk_preview_result`` kept on this wizard (its own transient
        row and lines are all it writes). The dialog no longer calls it: its widget
        (static/src/lifecycle_preview/) calls ``get_preview``, which gives the same
        counts read-only; kept for API compatibility (RPC clients, scripts)."""
        self.ensure_one()
        result = self._hk_preview_result()
        self.line_ids = [(5, 0, 0)] + [(0, 0, line) for line in result["lines"]]
        self.moved_count = result["moved_count"]
        self.moved_count_probability = result["moved_count_probability"]
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def _preview_moves(self, engine, overrides):
        """``(from_stage, to_stage, count)`` of the company's customers whose stage
        the rules with ``overrides`` would change."""
        query = engine._lifecycle_query(fields.Date.context_today(self), overrides=overrides)
        self.env.cr.execute(
            SQL(
                """
            SELECT q.old_stage, q.new_stage, count(*)
              FROM (%s) q JOIN res_partner p ON p.id = q.id
             WHERE %s = %s AND q.new_stage IS DISTINCT FROM q.old_stage
             GROUP BY 1, 2 ORDER BY 3 DESC
            """,
                query,
                # the company whose settings apply to the customer, whoever asks
                # (a plain search as a user of a branch would give the branch)
                engine._settings_company_sql(),
                self.company_id.id,
            )
        )
        return self.env.cr.fetchall()

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
    count_probability = fields.Integer(string="With Probability Rule")
