from odoo import api, fields, models


class SaleOrder(models.Model):
    _inherit = "sale.order"  # pylint: disable=consider-merging-classes-inherited  # until merged into models/sale_order.py (architecture issue)

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
