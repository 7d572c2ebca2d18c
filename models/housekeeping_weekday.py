from odoo import fields, models


class HousekeepingWeekday(models.Model):
    _name = "housekeeping.weekday"
    _description = "Weekday"
    _order = "number"

    name = fields.Char(required=True, translate=True)
    number = fields.Integer(required=True, help="ISO weekday: 1 = Monday … 7 = Sunday.")

    _number_unique = models.Constraint("UNIQUE(number)", "Each weekday exists once.")
    _number_range = models.Constraint(
        "CHECK(number BETWEEN 1 AND 7)", "A weekday number is between 1 and 7."
    )
