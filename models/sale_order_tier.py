from odoo import api, fields, models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    @api.depends("date_order")
    def _compute_pricelist_id(self):
        """Members get the pricelist of their tier: the holiday pricelist when the
        order is dated in a holiday of its company, else the tier's pricelist."""
        super()._compute_pricelist_id()
        orders = self.filtered(
            lambda o: o.state == "draft" and o.partner_id.commercial_partner_id.membership_tier_id
        )
        if not orders:
            return
        days = {
            order: fields.Date.context_today(order, order.date_order or fields.Datetime.now())
            for order in orders
        }
        holidays = self.env["housekeeping.holiday"]._hk_holiday_ranges(
            orders.company_id, min(days.values()), max(days.values())
        )
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
                order.pricelist_id = pricelist.id
