from odoo import fields, models


class HousekeepingHouseholdTag(models.Model):
    _name = "housekeeping.household.tag"
    _description = "Household Composition Tag"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(required=True, help="Stable key used by rules and journeys.")
    sequence = fields.Integer(default=10)
    color = fields.Integer()
    active = fields.Boolean(default=True)

    _code_unique = models.Constraint("UNIQUE(code)", "The code of a household tag must be unique.")
