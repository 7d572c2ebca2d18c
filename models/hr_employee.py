"""What dispatch (派单) adds to hr.employee, in one class: whether the employee is
a cleaner, their skills per service type and their working district, and the
counts of customers who prefer or block them (the scorecard shows them too)."""

from odoo import api, fields, models
from odoo.tools import SQL


class HrEmployee(models.Model):
    _inherit = "hr.employee"

    hk_cleaner = fields.Boolean(
        string="Cleaner",
        default=True,
        help="Proposed by dispatch for visits. Untick for office staff.",
    )
    hk_service_type_ids = fields.Many2many(
        "housekeeping.service.type",
        "hk_employee_service_type_rel",
        "employee_id",
        "service_type_id",
        string="Service Skills",
        help="The service types this cleaner is qualified for. Empty: every service type.",
    )
    hk_district = fields.Char(
        string="Working District",
        help="District(s) the cleaner works in, e.g. 朝阳区; several separated by commas. "
        "Dispatch prefers cleaners whose district appears in the customer's address.",
    )
    hk_preferred_by_count = fields.Integer(
        string="Preferred By", compute="_compute_hk_customer_counts", compute_sudo=True
    )
    hk_blocked_by_count = fields.Integer(
        string="Blocked By", compute="_compute_hk_customer_counts", compute_sudo=True
    )

    @api.depends_context("company")
    def _compute_hk_customer_counts(self):
        counts = dict.fromkeys(self.ids, (0, 0))
        if self.ids:
            self.env["res.partner"].flush_model(["preferred_employee_ids", "blocked_employee_ids"])
            self.env.cr.execute(
                SQL(
                    """SELECT e.id,
                              (SELECT count(*) FROM hk_partner_preferred_employee_rel r
                                 JOIN res_partner p ON p.id = r.partner_id AND p.active
                                WHERE r.employee_id = e.id),
                              (SELECT count(*) FROM hk_partner_blocked_employee_rel r
                                 JOIN res_partner p ON p.id = r.partner_id AND p.active
                                WHERE r.employee_id = e.id)
                         FROM unnest(%s::int4[]) AS e(id)""",
                    self.ids,
                )
            )
            counts.update({row[0]: (row[1], row[2]) for row in self.env.cr.fetchall()})
        for employee in self:
            employee.hk_preferred_by_count, employee.hk_blocked_by_count = counts.get(
                employee.id, (0, 0)
            )

    def action_hk_open_scorecard(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "housekeeping_membership.housekeeping_report_cleaner_action"
        )
        action["domain"] = [("employee_id", "=", self.id)]
        return action
