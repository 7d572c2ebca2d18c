from odoo import api, fields, models
from odoo.exceptions import UserError


class HousekeepingComplaint(models.Model):
    _name = "housekeeping.complaint"
    _description = "Customer Complaint"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "create_date desc, id desc"
    _check_company_auto = True
    _OPEN_STATES = ("new", "in_progress")

    name = fields.Char(string="Subject", required=True, tracking=True)
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        ondelete="restrict",
    )
    visit_id = fields.Many2one(
        "housekeeping.visit",
        index="btree_not_null",
        check_company=True,
        domain="[('partner_id', '=', partner_id)]",
    )
    employee_id = fields.Many2one(
        "hr.employee",
        string="Cleaner",
        index="btree_not_null",
        tracking=True,
        check_company=True,
    )
    service_type_id = fields.Many2one(related="visit_id.service_type_id", store=True)
    category = fields.Selection(
        [
            ("quality", "Cleaning Quality"),
            ("punctuality", "Punctuality"),
            ("attitude", "Attitude"),
            ("damage", "Damage or Loss"),
            ("price", "Price"),
            ("safety", "Safety"),
            ("other", "Other"),
        ],
        required=True,
        default="quality",
        tracking=True,
    )
    severity = fields.Selection(
        [("low", "Low"), ("medium", "Medium"), ("high", "High"), ("critical", "Critical")],
        required=True,
        default="medium",
        tracking=True,
    )
    state = fields.Selection(
        [
            ("new", "New"),
            ("in_progress", "In Progress"),
            ("resolved", "Resolved"),
            ("cancelled", "Cancelled"),
        ],
        default="new",
        required=True,
        tracking=True,
        index=True,
    )
    description = fields.Html()
    resolution = fields.Text(tracking=True)
    resolved_date = fields.Datetime(readonly=True, copy=False)
    user_id = fields.Many2one(
        "res.users", string="Responsible", default=lambda self: self.env.user, tracking=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    # engagement: the low satisfaction score that opened the complaint
    rating_id = fields.Many2one(
        "rating.rating", string="From Rating", readonly=True, ondelete="set null"
    )

    @api.onchange("visit_id")
    def _onchange_visit_id(self):
        if self.visit_id:
            self.partner_id = self.visit_id.partner_id
            self.employee_id = self.visit_id.employee_id

    @api.model_create_multi
    def create(self, vals_list):
        """A complaint goes to a person who works: the responsible given, else the
        customer's dedicated agent (专属客服), salesperson or the company's service
        desk (``res.partner._hk_service_responsible``), else the user creating it;
        never OdooBot. An open complaint marks the customer due for the lifecycle
        rules and is noted on the customer."""
        users = self.env["res.users"]
        partners = self.env["res.partner"].browse(
            [vals["partner_id"] for vals in vals_list if vals.get("partner_id")]
        )
        responsible = {p.id: p._hk_service_responsible().id for p in partners}
        creator = self.env.user.id if self.env.user._hk_is_working_person() else False
        for vals in vals_list:
            if vals.get("user_id") and users.browse(vals["user_id"])._hk_is_working_person():
                continue
            vals["user_id"] = responsible.get(vals.get("partner_id")) or creator
        complaints = super().create(vals_list)
        # the complaints count in the facts of their visits (visit reports)
        self.env["housekeeping.visit.fact"].sudo()._hk_refresh(complaints.visit_id.ids)
        # an open complaint is a quality signal: the customer is due for the rules
        self.env["housekeeping.engine.lifecycle"].sudo()._mark_due(complaints.partner_id)
        engine = self.env["housekeeping.engine"]
        for complaint in complaints:
            # a staff note: in the language of the customer's company
            lang = engine._staff_lang(complaint.partner_id._hk_settings_company())
            env = self.with_context(lang=lang).env
            complaint.partner_id.message_post(
                body=env._(
                    "Complaint opened: %(subject)s (%(category)s)",
                    subject=complaint.name,
                    category=dict(complaint._fields["category"]._description_selection(env))[
                        complaint.category
                    ],
                ),
                subtype_xmlid="mail.mt_note",
            )
        return complaints

    def write(self, vals):
        # a complaint moved to another visit, or cancelled (or no longer): the
        # facts of its visits (visit reports) count it or not
        facts_due = "visit_id" in vals or (
            "state" in vals
            and (vals["state"] == "cancelled" or any(c.state == "cancelled" for c in self))
        )
        visits_before = self.visit_id if facts_due else None
        if "state" not in vals and "partner_id" not in vals:
            result = super().write(vals)
            if facts_due:
                self.env["housekeeping.visit.fact"].sudo()._hk_refresh(
                    (visits_before | self.visit_id).ids
                )
            return result
        before = self.partner_id
        result = super().write(vals)
        if facts_due:
            self.env["housekeeping.visit.fact"].sudo()._hk_refresh(
                (visits_before | self.visit_id).ids
            )
        self.env["housekeeping.engine.lifecycle"].sudo()._mark_due(before | self.partner_id)
        return result

    def unlink(self):
        visits = self.visit_id
        result = super().unlink()
        self.env["housekeeping.visit.fact"].sudo()._hk_refresh(visits.ids)
        return result

    def action_start(self):
        self.filtered(lambda c: c.state == "new").write({"state": "in_progress"})
        return True

    def action_resolve(self):
        for complaint in self:
            if complaint.state not in self._OPEN_STATES:
                raise UserError(self.env._("Only open complaints can be resolved."))
            if not (complaint.resolution or "").strip():
                raise UserError(
                    self.env._(
                        "Describe the resolution of the complaint %(name)s before resolving it.",
                        name=complaint.name,
                    )
                )
        self.write({"state": "resolved", "resolved_date": fields.Datetime.now()})
        return True

    def action_cancel(self):
        self.filtered(lambda c: c.state in self._OPEN_STATES).write({"state": "cancelled"})
        return True

    def action_reopen(self):
        self.filtered(lambda c: c.state not in self._OPEN_STATES).write(
            {"state": "in_progress", "resolved_date": False}
        )
        return True
