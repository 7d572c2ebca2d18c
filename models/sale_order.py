from odoo import api, fields, models
from odoo.fields import Domain


class SaleOrder(models.Model):
    _inherit = "sale.order"

    hk_visit_ids = fields.One2many("housekeeping.visit", "sale_order_id", string="Visits")
    hk_visit_count = fields.Integer(string="Visits Count", compute="_compute_hk_visit_count")

    @api.depends("hk_visit_ids")
    def _compute_hk_visit_count(self):
        for order in self:
            order.hk_visit_count = len(order.hk_visit_ids)

    def _action_confirm(self):
        res = super()._action_confirm()
        self._hk_create_visits()
        # top-up offers credit the customer's prepaid balance (engines/prepaid.py)
        self.env["housekeeping.engine.prepaid"].sudo()._orders_confirmed(self)
        # plan products create the customer's service plan
        self.env["housekeeping.service.plan.template"].sudo()._orders_confirmed(self)
        return res

    def _action_cancel(self):
        # a top-up order takes its credit back, refused if already spent
        self.env["housekeeping.engine.prepaid"].sudo()._orders_cancelled(self)
        res = super()._action_cancel()
        self.env["housekeeping.service.plan.template"].sudo()._orders_cancelled(self)
        self.sudo().hk_visit_ids.filtered(
            lambda v: v.state in ("draft", "scheduled")
        ).action_cancel()
        return res

    def _hk_create_visits(self):
        """One visit per unit of each service line whose product has a service type."""
        lines = self.order_line.filtered(
            lambda line: (
                not line.display_type
                and line.product_uom_qty > 0
                and line.order_id.company_id.hk_visits_from_sale
            )
        )
        if not lines:
            return self.env["housekeeping.visit"]
        service_types = (
            self.env["housekeeping.service.type"]
            .sudo()
            .search(
                Domain("product_id", "in", lines.product_id.ids)
                & self.env["housekeeping.service.type"]._check_company_domain(
                    lines.order_id.company_id
                )
            )
        )
        # a company's own service type for the product, else one shared by every company
        type_by_product = {}
        for service_type in service_types:
            type_by_product.setdefault(
                (service_type.product_id, service_type.company_id), service_type
            )
        existing = set(
            self.env["housekeeping.visit"]
            .sudo()
            .search([("sale_line_id", "in", lines.ids)])
            .sale_line_id.ids
        )
        vals_list = []
        for line in lines:
            service_type = type_by_product.get(
                (line.product_id, line.order_id.company_id)
            ) or type_by_product.get((line.product_id, self.env["res.company"]))
            if not service_type or line.id in existing:
                continue
            units = max(int(round(line.product_uom_qty)), 1)
            unit_amount = line.currency_id.round(line.price_total / units)
            order = line.order_id
            for _unit in range(units):
                vals_list.append(
                    {
                        "partner_id": order.partner_id.id,
                        "service_type_id": service_type.id,
                        "company_id": order.company_id.id,
                        "amount": unit_amount,
                        "date": order.commitment_date or False,
                        "state": "scheduled" if order.commitment_date else "draft",
                        "duration": service_type.default_duration,
                        "sale_order_id": order.id,
                        "sale_line_id": line.id,
                        "user_id": order.user_id.id or self.env.uid,
                    }
                )
        # The sales flow creates visits whatever the salesman's membership rights.
        return self.env["housekeeping.visit"].sudo().create(vals_list)

    def action_view_hk_visits(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "housekeeping_membership.housekeeping_visit_action"
        )
        action["domain"] = [("sale_order_id", "=", self.id)]
        action["context"] = {"create": False}
        return action

    # ------------------------------------------------------------------ member pricelists (tiers)
    def _compute_pricelist_id(self):
        """Members get the pricelist of their tier: the holiday pricelist when the
        order is dated in a holiday of its company, else the tier's pricelist."""
        result = super()._compute_pricelist_id()
        for order, (pricelist, _tier_pricelists) in self._hk_member_pricelists().items():
            order.pricelist_id = pricelist
        return result

    @api.onchange("date_order")
    def _onchange_date_order_hk_pricelist(self):
        self._hk_follow_tier_pricelist()

    def write(self, vals):
        result = super().write(vals)
        if "date_order" in vals and "pricelist_id" not in vals:
            self._hk_follow_tier_pricelist()
        return result

    def _hk_follow_tier_pricelist(self):
        """A new order date moves a member's order between its tier's holiday and
        usual pricelists; a pricelist chosen by hand, and every order of a
        customer without a tier, keep theirs (the date is not a dependency of the
        pricelist, which Odoo would reset for every draft order)."""
        for order, (pricelist, tier_pricelists) in self._hk_member_pricelists().items():
            if order.pricelist_id != pricelist and order.pricelist_id in tier_pricelists:
                order.pricelist_id = pricelist

    def _hk_member_pricelists(self):
        """{order: (pricelist, the tier's pricelists)} of the draft orders of members
        whose tier has a pricelist for the order's company and day."""
        orders = self.filtered(
            lambda o: o.state == "draft" and o.partner_id.commercial_partner_id.membership_tier_id
        )
        if not orders:
            return {}
        days = {
            order: fields.Date.context_today(order, order.date_order or fields.Datetime.now())
            for order in orders
        }
        holidays = self.env["housekeeping.holiday"]._hk_holiday_ranges(
            orders.company_id, min(days.values()), max(days.values())
        )
        result = {}
        for order in orders:
            tier = order.partner_id.commercial_partner_id.sudo().membership_tier_id
            day = days[order]
            in_holiday = any(
                start <= day <= end
                for key in (False, order.company_id.id)
                for start, end in holidays.get(key, ())
            )
            pricelist = (in_holiday and tier.holiday_pricelist_id) or tier.default_pricelist_id
            if pricelist and (not pricelist.company_id or pricelist.company_id == order.company_id):
                result[order] = (pricelist, tier.default_pricelist_id | tier.holiday_pricelist_id)
        return result
