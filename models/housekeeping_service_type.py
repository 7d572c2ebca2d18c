from odoo import api, fields, models


class HousekeepingServiceType(models.Model):
    _name = "housekeeping.service.type"
    _description = "Service Type"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    description = fields.Text(translate=True)
    product_id = fields.Many2one(
        "product.product",
        string="Service Product",
        domain=[("type", "=", "service")],
        ondelete="restrict",
        help="Confirming a sale order of this product creates visits of this type.",
    )
    company_id = fields.Many2one("res.company", index=True)
    default_duration = fields.Float(string="Default Duration (hours)", default=2.0)
    season_months = fields.Char(
        help="Months when this service is in season, e.g. '1,2' for pre-Spring-Festival "
        "deep cleaning or '5,6' for air-conditioner cleaning. Used by recommendations.",
    )
    color = fields.Integer()
    visit_count = fields.Integer(compute="_compute_visit_count")

    _code_company_unique = models.Constraint(
        "UNIQUE(code, company_id)", "The code of a service type must be unique per company."
    )

    @api.depends_context("company")
    def _compute_visit_count(self):
        counts = dict(
            self.env["housekeeping.visit"]._read_group(
                [("service_type_id", "in", self.ids)], ["service_type_id"], ["__count"]
            )
        )
        for service_type in self:
            service_type.visit_count = counts.get(service_type, 0)

    @api.model
    def _service_products(self, products):
        """The products of ``products`` that are a service type's product (each
        unit sold makes a visit): an offer (``housekeeping.offer.mixin``: a package,
        a top-up, a plan) needs a product of its own. One query, whoever asks."""
        return self.sudo().search([("product_id", "in", products.ids)]).product_id
