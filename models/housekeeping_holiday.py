from odoo import api, fields, models
from odoo.exceptions import ValidationError


class HousekeepingHoliday(models.Model):
    """A holiday period (春节, 国庆 …): quotations of members dated in it use the
    holiday pricelist of their tier."""

    _name = "housekeeping.holiday"
    _description = "Holiday"
    _order = "date_from desc, id"

    name = fields.Char(required=True, translate=True)
    date_from = fields.Date(string="From", required=True)
    date_to = fields.Date(string="To", required=True)
    company_id = fields.Many2one(
        "res.company", index=True, help="Leave empty for a holiday of every company."
    )
    active = fields.Boolean(default=True)

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for holiday in self:
            if holiday.date_to < holiday.date_from:
                raise ValidationError(
                    self.env._("The holiday %(name)s ends before it starts.", name=holiday.name)
                )

    @api.model
    def _hk_holiday_ranges(self, companies, first_day, last_day):
        """{company_id or False: [(date_from, date_to), …]} of the holidays touching
        ``first_day``..``last_day`` (one query for a batch of orders)."""
        ranges = {}
        for holiday in self.sudo().search(
            [
                ("company_id", "in", [False, *companies.ids]),
                ("date_from", "<=", last_day),
                ("date_to", ">=", first_day),
            ]
        ):
            ranges.setdefault(holiday.company_id.id, []).append(
                (holiday.date_from, holiday.date_to)
            )
        return ranges
