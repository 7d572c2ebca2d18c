"""Service plans sold as a sale order line (周期服务 as a product): a plan template
names the product and the rhythm; confirming an order of that product creates the
customer's plan, whose visits then carry the order (``sale_order_id``)."""

from odoo import api, fields, models
from odoo.exceptions import ValidationError


class HousekeepingServicePlanTemplate(models.Model):
    _name = "housekeeping.service.plan.template"
    _inherit = ["housekeeping.offer.mixin"]
    _description = "Service Plan Offer"
    _order = "sequence, id"
    _check_company_auto = True

    product_id = fields.Many2one(
        help="The product sold for this plan. One unit is the number of visits below "
        "(or, without a number, the price of one visit of an open-ended plan).",
    )
    service_type_id = fields.Many2one(
        "housekeeping.service.type", required=True, check_company=True
    )
    rhythm = fields.Selection(
        [
            ("weekly", "Weekly"),
            ("monthly_day", "Monthly, on a day"),
            ("monthly_weekday", "Monthly, on a weekday"),
        ],
        required=True,
        default="weekly",
    )
    interval = fields.Integer(string="Every", default=1)
    weekday_ids = fields.Many2many(
        "housekeeping.weekday",
        "hk_plan_template_weekday_rel",
        "template_id",
        "weekday_id",
        string="On",
        help="Empty: the weekday of the plan's start (the order's delivery date, else "
        "its confirmation).",
    )
    month_day = fields.Integer(string="Day of Month", default=1)
    month_week = fields.Selection(
        [("1", "First"), ("2", "Second"), ("3", "Third"), ("4", "Fourth"), ("last", "Last")],
        string="Week of Month",
        default="1",
    )
    month_weekday_id = fields.Many2one("housekeeping.weekday", string="Weekday")
    time_start = fields.Float(string="Start Time", default=14.0)
    duration = fields.Float(string="Duration (hours)", default=2.0)
    max_visits = fields.Integer(
        string="Visits per Unit", help="0: an open-ended plan, the unit price is per visit."
    )

    _product_unique = models.Constraint(
        "UNIQUE(product_id)", "A product sells one service plan offer only."
    )
    _max_visits_positive = models.Constraint(
        "CHECK(max_visits >= 0)", "The number of visits cannot be negative."
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

    @api.constrains("rhythm", "month_day", "month_weekday_id", "month_week")
    def _check_rhythm(self):
        for template in self:
            if template.rhythm == "monthly_day" and not 1 <= template.month_day <= 31:
                raise ValidationError(self.env._("The day of the month is 1 to 31."))
            if template.rhythm == "monthly_weekday" and not (
                template.month_weekday_id and template.month_week
            ):
                raise ValidationError(
                    self.env._("A monthly plan on a weekday needs the week and the weekday.")
                )

    # ------------------------------------------------------------------ sales
    @api.model
    def _orders_confirmed(self, orders):
        """Create the plan of each confirmed order line of a plan product (once per
        line, a second confirmation creates nothing)."""
        lines = orders.order_line.filtered(
            lambda line: not line.display_type and line.product_uom_qty > 0
        )
        if not lines:
            return self.env["housekeeping.service.plan"]
        templates = self.search(
            [
                ("product_id", "in", lines.product_id.ids),
                ("company_id", "in", orders.company_id.ids),
            ]
        )
        by_product = {(t.product_id, t.company_id): t for t in templates}
        Plan = self.env["housekeeping.service.plan"].with_context(active_test=False)
        done = set(Plan.search([("sale_line_id", "in", lines.ids)]).sale_line_id.ids)
        vals_list = []
        for line in lines:
            order = line.order_id
            template = by_product.get((line.product_id, order.company_id))
            if not template or line.id in done:
                continue
            units = line.product_uom_qty
            visits = round(template.max_visits * units)
            per_visit = line.price_total / (visits or units)
            start = fields.Date.context_today(
                order.with_context(tz=order.partner_id.tz or "Asia/Shanghai"),
                order.commitment_date or fields.Datetime.now(),
            )
            weekdays = template.weekday_ids or self.env["housekeeping.weekday"].search(
                [("number", "=", start.isoweekday())]
            )
            vals_list.append(
                {
                    "partner_id": order.partner_id.id,
                    "service_type_id": template.service_type_id.id,
                    "company_id": order.company_id.id,
                    "user_id": order.user_id.id or self.env.uid,
                    "rhythm": template.rhythm,
                    "interval": template.interval,
                    "weekday_ids": [(6, 0, weekdays.ids)],
                    "month_day": template.month_day,
                    "month_week": template.month_week,
                    "month_weekday_id": template.month_weekday_id.id,
                    "time_start": template.time_start,
                    "duration": template.duration,
                    "amount": line.currency_id.round(per_visit),
                    "date_start": start,
                    "max_visits": visits,
                    "sale_order_id": order.id,
                    "sale_line_id": line.id,
                }
            )
        return Plan.create(vals_list)

    @api.model
    def _orders_cancelled(self, orders):
        """An order cancelled archives its plans (their visits to come go)."""
        plans = self.env["housekeeping.service.plan"].search([("sale_order_id", "in", orders.ids)])
        plans.write({"active": False})
