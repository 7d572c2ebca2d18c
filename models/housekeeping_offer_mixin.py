"""What the offers sold as a product on a sale order share: a visit package
(``housekeeping.package.template``), a top-up (``housekeeping.prepaid.offer``)
and a service plan (``housekeeping.service.plan.template``)."""

from odoo import api, fields, models
from odoo.exceptions import ValidationError


class HousekeepingOfferMixin(models.AbstractModel):
    """An offer of a company, sold as its own product: confirming a sale order
    of that product gives the customer what the offer describes. The product
    may not be a service's product (one visit per unit: a sale of it plans a
    visit)."""

    _name = "housekeeping.offer.mixin"
    _description = "Offer Sold as a Product"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    product_id = fields.Many2one(
        "product.product",
        required=True,
        ondelete="restrict",
        check_company=True,
        help="The product sold for this offer.",
    )

    @api.constrains("product_id")
    def _check_product_not_service(self):
        taken = self.env["housekeeping.service.type"]._service_products(self.product_id)
        for offer in self:
            if offer.product_id in taken:
                raise ValidationError(
                    self.env._(
                        "The product %(product)s is a service's product (one visit per "
                        "unit): %(offer)s needs a product of its own.",
                        product=offer.product_id.display_name,
                        offer=self.env["ir.model"]._get(offer._name).name,
                    )
                )
