from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from .trust import engine_writes, is_open

PAYMENT_METHODS = [
    ("cash", "Cash"),
    ("wechat", "WeChat Pay"),
    ("alipay", "Alipay"),
    ("card", "Bank Card"),
    ("prepaid", "Prepaid Balance"),
    ("other", "Other"),
]

# A done visit may be dated at most this far in the future (clock skew, time zones).
FUTURE_TOLERANCE = timedelta(hours=1)

# Opened (trust.engine_writes) by the state buttons only: a visit's state is
# written by them and by nothing a client sends (no context key opens it).
STATE_ACTION = "visit_state"


class HousekeepingVisit(models.Model):
    _name = "housekeeping.visit"
    _description = "Service Visit"
    _inherit = ["rating.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "date desc, id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Reference", required=True, readonly=True, copy=False, default="/", index="trigram"
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        ondelete="restrict",
    )
    service_type_id = fields.Many2one(
        "housekeeping.service.type",
        required=True,
        tracking=True,
        ondelete="restrict",
        check_company=True,
    )
    date = fields.Datetime(tracking=True, index=True)
    duration = fields.Float(string="Duration (hours)", default=2.0)
    employee_id = fields.Many2one(
        "hr.employee", string="Cleaner", tracking=True, index="btree_not_null", check_company=True
    )
    user_id = fields.Many2one(
        "res.users", string="Service Agent", default=lambda self: self.env.user, tracking=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    amount = fields.Monetary(tracking=True)
    payment_method = fields.Selection(PAYMENT_METHODS, tracking=True)
    coupon_card_id = fields.Many2one(
        "loyalty.card",
        string="Coupon Used",
        ondelete="set null",
        help="The coupon (loyalty card) the customer used for this visit.",
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("scheduled", "Scheduled"),
            ("done", "Done"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        tracking=True,
        index=True,
        copy=False,
    )
    done_date = fields.Datetime(readonly=True, copy=False)
    notes = fields.Html()
    sale_order_id = fields.Many2one(
        "sale.order", index="btree_not_null", ondelete="set null", copy=False
    )
    sale_line_id = fields.Many2one(
        "sale.order.line", index="btree_not_null", ondelete="set null", copy=False
    )
    complaint_ids = fields.One2many("housekeeping.complaint", "visit_id")
    # Contact data shown on the visit for the cleaner and the agent.
    partner_phone = fields.Char(related="partner_id.phone", string="Phone")
    special_instructions = fields.Text(related="partner_id.special_instructions")

    _amount_positive = models.Constraint(
        "CHECK(amount >= 0)", "The amount of a visit cannot be negative."
    )
    _duration_positive = models.Constraint(
        "CHECK(duration >= 0 AND duration <= 744)",
        "The duration of a visit must be between 0 and 744 hours.",
    )
    # a customer's done visits in date order (statistics, lifecycle); the amount
    # rides along so that RFM's window sums read the index alone
    _partner_date_idx = models.Index("(partner_id, date) INCLUDE (amount) WHERE state = 'done'")

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code("housekeeping.visit") or "/"
        visits = super().create(vals_list)
        done = visits.filtered(lambda v: v.state == "done")
        if done:
            done._hk_check_done()
            done._hk_pipeline_done()
        return visits

    def write(self, vals):
        stats_fields = {"amount", "date", "service_type_id", "coupon_card_id", "partner_id"}
        if {"state", "done_date"} & set(vals) and not is_open(STATE_ACTION):
            # a state written directly (a kanban card dragged to another column, an
            # import, an RPC call) would skip what the buttons do: points, tier and
            # stage on completion, their reversal on cancellation
            raise UserError(
                self.env._(
                    "The state of a visit changes with its buttons (Schedule, Done, "
                    "Cancel, Reset to Draft), which also update the customer's points, "
                    "tier and stage."
                )
            )
        done_before = self.filtered(lambda v: v.state == "done")
        done_before._hk_check_done_frozen(vals)
        partners_before = done_before.partner_id
        res = super().write(vals)
        if "state" not in vals and stats_fields & set(vals) and done_before:
            done_before._hk_check_done()
            (partners_before | done_before.partner_id)._hk_refresh_visit_stats()
        return res

    def _hk_check_done_frozen(self, vals):
        """The customer and the amount of a done visit earned its points and count
        in its tier: they cannot change without reversing them first."""
        for visit in self:
            if "partner_id" in vals and visit.partner_id.id != vals["partner_id"]:
                changed = True
            else:
                changed = "amount" in vals and visit.currency_id.compare_amounts(
                    visit.amount, vals["amount"] or 0.0
                )
            if changed:
                raise UserError(
                    self.env._(
                        "The visit %(visit)s is done: its customer and amount earned "
                        "points and count towards the tier. To correct them, cancel the "
                        "visit (its points are reversed) and record it again.",
                        visit=visit.name,
                    )
                )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_done(self):
        if any(visit.state == "done" for visit in self):
            raise UserError(
                self.env._(
                    "A done visit cannot be deleted: cancel it instead so that its "
                    "points and statistics are reversed."
                )
            )

    # ------------------------------------------------------------------ constraints
    @api.constrains("company_id", "partner_id")
    def _check_partner_company(self):
        for visit in self:
            company = visit.partner_id.company_id
            if company and company != visit.company_id:
                raise ValidationError(
                    self.env._(
                        "The visit %(visit)s belongs to %(company)s but its customer "
                        "%(customer)s belongs to %(partner_company)s.",
                        visit=visit.name,
                        company=visit.company_id.name,
                        customer=visit.partner_id.display_name,
                        partner_company=company.name,
                    )
                )

    @api.constrains("date")
    def _check_date_plausible(self):
        for visit in self:
            if visit.date and visit.date.year < 2000:
                raise ValidationError(
                    self.env._("A visit date before the year 2000 is not plausible.")
                )
            if visit.date and visit.date > fields.Datetime.now() + timedelta(days=3650):
                raise ValidationError(
                    self.env._("A visit cannot be planned more than ten years ahead.")
                )

    def _hk_check_done(self):
        now = fields.Datetime.now()
        for visit in self:
            if not visit.partner_id:
                raise ValidationError(self.env._("A done visit needs a customer."))
            if not visit.date:
                raise ValidationError(
                    self.env._(
                        "The visit %(visit)s needs a date before it can be done.", visit=visit.name
                    )
                )
            if visit.date > now + FUTURE_TOLERANCE:
                raise ValidationError(
                    self.env._(
                        "The visit %(visit)s is dated in the future: it cannot be done yet.",
                        visit=visit.name,
                    )
                )

    # ------------------------------------------------------------------ state flow
    def action_schedule(self):
        for visit in self:
            if visit.state != "draft":
                raise UserError(self.env._("Only draft visits can be scheduled."))
            if not visit.date:
                raise UserError(
                    self.env._(
                        "Set a date before scheduling the visit %(visit)s.", visit=visit.name
                    )
                )
        self._hk_write_state({"state": "scheduled"})
        return True

    def action_done(self):
        """Complete the visits: statistics, tier, points and stage of their customers."""
        if any(visit.state not in ("draft", "scheduled") for visit in self):
            raise UserError(self.env._("Only draft or scheduled visits can be completed."))
        for visit in self.filtered(lambda v: not v.date):
            visit.date = fields.Datetime.now()
        self._hk_check_done()
        self._hk_write_state({"state": "done", "done_date": fields.Datetime.now()})
        self._hk_pipeline_done()
        return True

    def _hk_write_state(self, vals):
        """Write ``vals`` (with a state) from a state button: the one way through
        the state guard of ``write()``."""
        with engine_writes(STATE_ACTION):
            return self.write(vals)

    def action_cancel(self):
        """Cancel the visits; a done visit's points and statistics are reversed."""
        if any(visit.state == "cancelled" for visit in self):
            raise UserError(self.env._("This visit is already cancelled."))
        was_done = self.filtered(lambda v: v.state == "done")
        self._hk_write_state({"state": "cancelled"})
        if was_done:
            was_done._hk_pipeline_cancelled(was_done=True)
        others = self - was_done
        if others:
            others._hk_pipeline_cancelled(was_done=False)
        return True

    # ------------------------------------------------------------------ pipeline
    # What a visit changing state does to its customers: statistics, tiers,
    # points, lifecycle, engagement, in this order and in one transaction, each
    # step a method of the capability that owns it. A step builds on the steps
    # above it: the tier counts the refreshed statistics, the points use the new
    # tier's multiplier, the stage sees the statistics of the visit.
    def _hk_pipeline_done(self):
        """The visits of ``self`` were completed."""
        customers = self.partner_id
        customers._hk_refresh_visit_stats()
        customers._hk_tier_visits_done(self)
        customers._hk_points_visits_done(self)
        customers._hk_lifecycle_visits_done(self)
        customers._hk_engagement_visits_done(self)

    def _hk_pipeline_cancelled(self, was_done):
        """The visits of ``self`` were cancelled; ``was_done``: they had been
        completed (what their completion did is taken back)."""
        customers = self.partner_id
        if was_done:
            customers._hk_refresh_visit_stats()
            self.env["housekeeping.engine.tier"]._tier_withdraw(self)
            customers._hk_reverse_visit_points(self)
        self.env["housekeeping.engine.lifecycle"]._lifecycle_evaluate(
            partner_ids=customers.ids, trigger="visit"
        )

    def action_draft(self):
        if any(visit.state != "cancelled" for visit in self):
            raise UserError(self.env._("Only cancelled visits can be reset to draft."))
        self._hk_write_state({"state": "draft"})
        return True

    # ------------------------------------------------------------------ rating
    def _rating_get_partner(self):
        return self.partner_id

    def _rating_get_operator(self):
        return self.user_id.partner_id

    @api.depends("partner_id", "service_type_id", "date")
    def _compute_display_name(self):
        for visit in self:
            parts = [visit.name or "", visit.service_type_id.name or ""]
            visit.display_name = " · ".join(p for p in parts if p)

    # ------------------------------------------------------------------ portal access
    # The visit fields a customer (portal user) may read: those the portal pages
    # show (views/portal_templates.xml, portal_my_visits) and what they need to
    # be listed and named (id, the reference behind display_name, and the fields
    # of the default order, added below). Every other field (notes, amounts,
    # agents, chatter, sale links, fields added later) is refused to share users
    # on every path: read, search_read, web_read, domains, groupings, fields_get.
    _hk_portal_fields = frozenset(
        {
            "id",
            "display_name",
            "name",
            "service_type_id",
            "date",
            "state",
            "employee_id",
            "rating_last_value",
        }
    )

    @api.model
    def _has_field_access(self, field, operation):
        if (
            not self.env.su
            and field.name not in self._hk_portal_fields
            and self.env.user.share
            and field.name not in self._hk_order_fields()
        ):
            return False
        return super()._has_field_access(field, operation)

    @api.model
    def _hk_order_fields(self):
        """The fields the default order sorts on: a list of visits must sort."""
        return {part.split()[0] for part in self._order.split(",") if part.strip()}
