from markupsafe import Markup, escape

from odoo import api, fields, models


class HousekeepingVisitAssign(models.TransientModel):
    """Assign a cleaner to a visit: dispatch's proposals with their reasons, and
    a manager's confirmation for a cleaner outside their skills or already
    booked (logged on the visit by the dispatch checks)."""

    _name = "housekeeping.visit.assign"
    _description = "Assign a Cleaner"

    visit_id = fields.Many2one("housekeeping.visit", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="visit_id.company_id")
    employee_id = fields.Many2one(
        "hr.employee", string="Cleaner", domain="[('company_id', '=', company_id)]"
    )
    suggestions = fields.Html(compute="_compute_suggestions", sanitize=False)
    is_manager = fields.Boolean(compute="_compute_suggestions")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        visit = self.env["housekeeping.visit"].browse(
            values.get("visit_id") or self.env.context.get("active_id")
        )
        if visit:
            values["visit_id"] = visit.id
            best = visit.suggest_cleaners(limit=1)
            if best and "employee_id" in fields_list:
                values["employee_id"] = best[0]["employee_id"]
        return values

    @api.depends("visit_id")
    def _compute_suggestions(self):
        manager = self.env.user.has_group("housekeeping_membership.group_membership_manager")
        for wizard in self:
            wizard.is_manager = manager
            rows = wizard.visit_id.suggest_cleaners(limit=5) if wizard.visit_id else []
            if not rows:
                wizard.suggestions = Markup("<p>%s</p>") % self.env._("No free qualified cleaner")
                continue
            wizard.suggestions = Markup("<ol>%s</ol>") % Markup("").join(
                Markup("<li><b>%s</b> (%s): %s</li>")
                % (escape(row["name"]), row["score"], ", ".join(row["reasons"]))
                for row in rows
            )

    def action_assign(self):
        self.ensure_one()
        self.visit_id.write({"employee_id": self.employee_id.id})
        return {"type": "ir.actions.act_window_close"}

    def action_assign_anyway(self):
        """A manager's confirmation: skills and clashes are logged, not refused
        (a blocked cleaner is refused all the same)."""
        self.ensure_one()
        self.visit_id.with_context(hk_dispatch_confirm=True).write(
            {"employee_id": self.employee_id.id}
        )
        return {"type": "ir.actions.act_window_close"}
