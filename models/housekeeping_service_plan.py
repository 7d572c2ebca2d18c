"""Recurring service plans (周期服务): "every Wednesday afternoon", "every other
Monday", "the 15th of each month", "the last Friday of the month". The daily
cron (``housekeeping.engine.service_plan``) keeps the next weeks of each active
plan's visits created, one visit per occurrence (unique plan and day)."""

from odoo import api, fields, models
from odoo.exceptions import ValidationError

# Fields whose change moves the plan's future visits still to do.
RESCHEDULE_FIELDS = {
    "rhythm",
    "interval",
    "weekday_ids",
    "month_day",
    "month_week",
    "month_weekday_id",
    "time_start",
    "duration",
    "amount",
    "date_start",
    "date_end",
    "max_visits",
    "skip_holidays",
    "employee_id",
    "service_type_id",
}
# Fields whose change can make the customer planned or not (the lifecycle rules).
LIFECYCLE_FIELDS = RESCHEDULE_FIELDS | {"active", "paused", "partner_id"}


class HousekeepingServicePlan(models.Model):
    _name = "housekeeping.service.plan"
    _description = "Service Plan"
    _inherit = ["mail.thread"]
    _order = "partner_id, id"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True, readonly=False)
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, tracking=True
    )
    service_type_id = fields.Many2one(
        "housekeeping.service.type", required=True, tracking=True, check_company=True
    )
    employee_id = fields.Many2one(
        "hr.employee",
        string="Cleaner",
        tracking=True,
        check_company=True,
        help="Empty: any cleaner, chosen by dispatch for each visit.",
    )
    user_id = fields.Many2one("res.users", string="Service Agent", default=lambda s: s.env.user)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    active = fields.Boolean(default=True, tracking=True)
    paused = fields.Boolean(default=False, tracking=True, help="A paused plan creates no visits.")
    rhythm = fields.Selection(
        [
            ("weekly", "Weekly"),
            ("monthly_day", "Monthly, on a day"),
            ("monthly_weekday", "Monthly, on a weekday"),
        ],
        required=True,
        default="weekly",
        tracking=True,
    )
    interval = fields.Integer(
        string="Every", default=1, help="Every N weeks (weekly) or N months (monthly)."
    )
    weekday_ids = fields.Many2many(
        "housekeeping.weekday", "hk_plan_weekday_rel", "plan_id", "weekday_id", string="On"
    )
    month_day = fields.Integer(
        string="Day of Month", default=1, help="In a shorter month, its last day."
    )
    month_week = fields.Selection(
        [("1", "First"), ("2", "Second"), ("3", "Third"), ("4", "Fourth"), ("last", "Last")],
        string="Week of Month",
        default="1",
    )
    month_weekday_id = fields.Many2one("housekeeping.weekday", string="Weekday")
    time_start = fields.Float(
        string="Start Time", default=14.0, help="Local time of the customer (Asia/Shanghai)."
    )
    duration = fields.Float(string="Duration (hours)", default=2.0)
    pricelist_id = fields.Many2one(
        "product.pricelist",
        help="The price per visit comes from this pricelist (the price of the service "
        "type's product); it can still be changed by hand.",
    )
    amount = fields.Monetary(
        string="Price per Visit",
        compute="_compute_amount",
        store=True,
        readonly=False,
        precompute=True,
    )
    date_start = fields.Date(
        string="Start", required=True, default=fields.Date.context_today, tracking=True
    )
    date_end = fields.Date(string="End", tracking=True)
    max_visits = fields.Integer(string="Number of Visits", help="0: no limit.")
    skip_holidays = fields.Boolean(
        default=True, help="No visit on the company's holidays (春节, 国庆 …)."
    )
    skip_ids = fields.One2many("housekeeping.service.plan.skip", "plan_id", string="Skipped Dates")
    visit_ids = fields.One2many("housekeeping.visit", "plan_id", string="Visits")
    visit_count = fields.Integer(compute="_compute_visit_count")
    next_visit_date = fields.Datetime(compute="_compute_visit_count")
    note = fields.Text()
    # sold as a sale order line (housekeeping.service.plan.template): its visits
    # carry the order
    sale_order_id = fields.Many2one(
        "sale.order", index="btree_not_null", ondelete="set null", copy=False, readonly=True
    )
    sale_line_id = fields.Many2one(
        "sale.order.line", index="btree_not_null", ondelete="set null", copy=False, readonly=True
    )

    _interval_positive = models.Constraint(
        "CHECK(interval >= 1 AND interval <= 52)", "A plan repeats every 1 to 52 weeks or months."
    )
    _duration_positive = models.Constraint(
        "CHECK(duration > 0 AND duration <= 24)", "A plan's visits last 0 to 24 hours."
    )
    _time_start_range = models.Constraint(
        "CHECK(time_start >= 0 AND time_start < 24)", "The start time is between 0:00 and 24:00."
    )
    _max_visits_positive = models.Constraint(
        "CHECK(max_visits >= 0)", "The number of visits cannot be negative."
    )
    _amount_positive = models.Constraint("CHECK(amount >= 0)", "A price cannot be negative.")
    _active_plans_idx = models.Index("(id) WHERE active AND paused IS NOT TRUE")

    @api.depends("pricelist_id", "service_type_id")
    def _compute_amount(self):
        """The pricelist's price of the service, when the plan has a pricelist; else
        the price set by hand, or the service's list price."""
        for plan in self:
            product = plan.service_type_id.product_id
            if plan.pricelist_id and product:
                plan.amount = plan.pricelist_id._get_product_price(product, 1.0)
            else:
                plan.amount = plan.amount or (product.lst_price if product else 0.0)

    @api.depends("partner_id", "service_type_id")
    def _compute_name(self):
        for plan in self:
            plan.name = " · ".join(
                p for p in (plan.partner_id.name, plan.service_type_id.name) if p
            )

    def _compute_visit_count(self):
        now = fields.Datetime.now()
        counts = dict(
            self.env["housekeeping.visit"]._read_group(
                [("plan_id", "in", self.ids)], ["plan_id"], ["__count"]
            )
        )
        nexts = dict(
            self.env["housekeeping.visit"]._read_group(
                [
                    ("plan_id", "in", self.ids),
                    ("state", "in", ("draft", "scheduled")),
                    ("date", ">=", now),
                ],
                ["plan_id"],
                ["date:min"],
            )
        )
        for plan in self:
            plan.visit_count = counts.get(plan, 0)
            plan.next_visit_date = nexts.get(plan, False)

    @api.constrains(
        "rhythm", "weekday_ids", "month_day", "month_weekday_id", "date_start", "date_end"
    )
    def _check_rhythm(self):
        for plan in self:
            if plan.rhythm == "weekly" and not plan.weekday_ids:
                raise ValidationError(
                    self.env._("A weekly plan needs at least one day of the week.")
                )
            if plan.rhythm == "monthly_day" and not 1 <= plan.month_day <= 31:
                raise ValidationError(self.env._("The day of the month is 1 to 31."))
            if plan.rhythm == "monthly_weekday" and not (plan.month_weekday_id and plan.month_week):
                raise ValidationError(
                    self.env._("A monthly plan on a weekday needs the week and the weekday.")
                )
            if plan.date_end and plan.date_end < plan.date_start:
                raise ValidationError(self.env._("A plan cannot end before it starts."))

    @api.constrains("employee_id", "partner_id")
    def _check_employee_not_blocked(self):
        for plan in self:
            partner = plan.partner_id
            if plan.employee_id and plan.employee_id in (
                partner.blocked_employee_ids | partner.commercial_partner_id.blocked_employee_ids
            ):
                raise ValidationError(
                    self.env._(
                        "%(customer)s does not want %(cleaner)s: choose another cleaner.",
                        customer=partner.display_name,
                        cleaner=plan.employee_id.name,
                    )
                )

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        plans = super().create(vals_list)
        self.env["housekeeping.engine.service_plan"].sudo()._generate(plans.ids)
        plans._hk_lifecycle_due()
        return plans

    def write(self, vals):
        customers = self.partner_id
        res = super().write(vals)
        if RESCHEDULE_FIELDS & set(vals):
            self.filtered(lambda p: p.active and not p.paused)._hk_reschedule()
        if "active" in vals or "paused" in vals:
            stopped = self.filtered(lambda p: not p.active or p.paused)
            stopped._hk_future_open_visits().sudo().unlink()
            self.env["housekeeping.engine.service_plan"].sudo()._generate((self - stopped).ids)
        if LIFECYCLE_FIELDS & set(vals):
            self._hk_lifecycle_due(customers)
        return res

    def unlink(self):
        customers = self.partner_id
        res = super().unlink()
        self.env["housekeeping.engine.lifecycle"].sudo()._mark_due(customers)
        return res

    def _hk_lifecycle_due(self, customers=None):
        """Have the next lifecycle run evaluate the plans' customers: being on an
        active plan with a visit to come holds off the stages by time
        (``planned`` in ``models/lifecycle_rules.py``)."""
        customers = self.partner_id | (customers or self.partner_id)
        self.env["housekeeping.engine.lifecycle"].sudo()._mark_due(customers)

    def _hk_future_open_visits(self):
        # a pause from the portal keeps the visits inside the notice period
        # (context ``hk_plan_keep_until``, see ``action_pause``)
        since = max(
            fields.Datetime.now(),
            self.env.context.get("hk_plan_keep_until") or fields.Datetime.now(),
        )
        return self.env["housekeeping.visit"].search(
            [
                ("plan_id", "in", self.ids),
                ("state", "in", ("draft", "scheduled")),
                ("date", ">", since),
            ],
            order="date, id",
        )

    def _hk_reschedule(self):
        """Move the future visits still to do onto the plan's occurrences as they
        are now (in date order); surplus ones are deleted, missing ones created."""
        engine = self.env["housekeeping.engine.service_plan"].sudo()
        for plan in self:
            movable = plan._hk_future_open_visits()
            wanted = engine._occurrences(plan.ids, exclude=movable.ids)
            wanted = [row for row in wanted if row[0] == plan.id]
            movable.sudo().write({"plan_occurrence": False})
            for visit, (_plan_id, day, when) in zip(movable, wanted, strict=False):
                visit.write(
                    {
                        "plan_occurrence": day,
                        "date": when,
                        "duration": plan.duration,
                        "amount": plan.amount,
                        "service_type_id": plan.service_type_id.id,
                        **({"employee_id": plan.employee_id.id} if plan.employee_id else {}),
                    }
                )
            movable[len(wanted) :].sudo().unlink()
        engine._generate(self.ids)

    # ------------------------------------------------------------------ actions
    def action_pause(self, keep_until=None):
        """Pause the plans: their future visits still to do are removed, but those
        starting before ``keep_until`` (a datetime: the portal's notice period)."""
        self.with_context(hk_plan_keep_until=keep_until).write({"paused": True})
        return True

    def action_resume(self):
        self.write({"paused": False})
        return True

    def action_view_visits(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Visits"),
            "res_model": "housekeeping.visit",
            "view_mode": "list,form,calendar",
            "domain": [("plan_id", "=", self.id)],
            "context": {"default_plan_id": self.id},
        }

    def action_skip_date(self, date, reason=None):
        """Skip one day of the plan (a customer's request): its visit still to do
        is removed and the cron does not create it again."""
        self.ensure_one()
        self.env["housekeeping.service.plan.skip"].create(
            {"plan_id": self.id, "date": date, "reason": reason or False}
        )
        return True


class HousekeepingServicePlanSkip(models.Model):
    _name = "housekeeping.service.plan.skip"
    _description = "Skipped Date of a Service Plan"
    _order = "date"

    plan_id = fields.Many2one(
        "housekeeping.service.plan", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="plan_id.company_id", store=True, index=True)
    date = fields.Date(required=True)
    reason = fields.Char()

    _plan_date_unique = models.Constraint(
        "UNIQUE(plan_id, date)", "This date is already skipped for this plan."
    )

    @api.model_create_multi
    def create(self, vals_list):
        skips = super().create(vals_list)
        for skip in skips:
            self.env["housekeeping.visit"].sudo().search(
                [
                    ("plan_id", "=", skip.plan_id.id),
                    ("plan_occurrence", "=", skip.date),
                    ("state", "in", ("draft", "scheduled")),
                ]
            ).unlink()
        skips.plan_id._hk_lifecycle_due()
        return skips

    def unlink(self):
        plans = self.plan_id
        res = super().unlink()
        self.env["housekeeping.engine.service_plan"].sudo()._generate(plans.ids)
        plans._hk_lifecycle_due()
        return res
