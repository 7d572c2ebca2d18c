"""Visit packages (次卡): N visits of a service type, paid in advance, valid until a
date. A package product sold on a sale order gives the customer one
``housekeeping.package`` per unit; a done visit paid "by package" uses one visit
of the customer's oldest valid package of its service type, a cancelled one gives
it back. Every use and give-back is a ``housekeeping.package.use`` row (never
edited); the package's ``visits_used`` is kept by the prepaid engine
(``housekeeping.engine.prepaid``) under a row lock, so two visits at the same
moment never use more than the package holds."""

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from .trust import engine_writes, is_open

# opened (trust.engine_writes) by the prepaid engine and the package actions only
PACKAGE_LEDGER = "package_ledger"
# package fields only the engine and the package actions write
PACKAGE_ENGINE_FIELDS = {"visits_used", "partner_id", "state"}


class HousekeepingPackageTemplate(models.Model):
    """What a package product gives (次卡): N visits of a service type,
    optionally of a duration, valid for some months, transferable or not."""

    _name = "housekeeping.package.template"
    _inherit = ["housekeeping.offer.mixin"]
    _description = "Visit Package Offer"
    _order = "sequence, id"
    _check_company_auto = True

    product_id = fields.Many2one(help="The product sold for this package.")
    service_type_id = fields.Many2one(
        "housekeeping.service.type", required=True, ondelete="restrict", check_company=True
    )
    visit_count = fields.Integer(string="Visits", required=True, default=10)
    duration = fields.Float(
        string="Duration (hours)",
        help="Each visit of the package lasts up to this long (0: any duration).",
    )
    validity_months = fields.Integer(string="Valid (months)", required=True, default=12)
    transferable = fields.Boolean(help="The package can be given to another customer.")

    _visit_count_positive = models.Constraint(
        "CHECK(visit_count > 0 AND validity_months > 0 AND duration >= 0)",
        "A package gives at least one visit, for at least one month.",
    )
    _product_unique = models.Constraint(
        "UNIQUE(product_id)", "A product sells one visit package only."
    )


class HousekeepingPackage(models.Model):
    """One customer's visit package: the visits it gave and used."""

    _name = "housekeeping.package"
    _description = "Visit Package"
    _order = "date_start, id"
    _check_company_auto = True

    name = fields.Char(required=True, readonly=True)
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, ondelete="restrict"
    )
    company_id = fields.Many2one("res.company", required=True, index=True)
    template_id = fields.Many2one(
        "housekeeping.package.template", string="Offer", required=True, ondelete="restrict"
    )
    service_type_id = fields.Many2one(
        "housekeeping.service.type", required=True, ondelete="restrict"
    )
    duration = fields.Float(string="Duration (hours)", readonly=True)
    visits_total = fields.Integer(string="Visits", required=True, readonly=True)
    visits_used = fields.Integer(readonly=True, default=0)
    visits_left = fields.Integer(compute="_compute_visits_left", store=True)
    date_start = fields.Date(required=True, readonly=True, default=fields.Date.context_today)
    date_end = fields.Date(string="Valid Until", required=True, readonly=True, index=True)
    transferable = fields.Boolean(readonly=True)
    state = fields.Selection(
        [("active", "Active"), ("cancelled", "Cancelled")],
        default="active",
        required=True,
        readonly=True,
    )
    sale_order_id = fields.Many2one("sale.order", index="btree_not_null", ondelete="set null")
    sale_line_id = fields.Many2one("sale.order.line", index="btree_not_null", ondelete="set null")
    use_ids = fields.One2many("housekeeping.package.use", "package_id", string="Uses")

    _used_within_total = models.Constraint(
        "CHECK(visits_used >= 0 AND visits_used <= visits_total)",
        "A package cannot be used more than the visits it holds.",
    )

    @api.depends("visits_total", "visits_used")
    def _compute_visits_left(self):
        for package in self:
            package.visits_left = package.visits_total - package.visits_used

    @api.model_create_multi
    def create(self, vals_list):
        if not is_open(PACKAGE_LEDGER):
            raise UserError(
                self.env._("A visit package is given by selling its product on a sale order.")
            )
        return super().create(vals_list)

    def write(self, vals):
        if PACKAGE_ENGINE_FIELDS.intersection(vals) and not is_open(PACKAGE_LEDGER):
            raise UserError(
                self.env._(
                    "A package's visits change through visits paid by package; its customer "
                    "through Transfer."
                )
            )
        return super().write(vals)

    def action_transfer(self, partner):
        """Give what is left of a transferable package to ``partner`` (staff)."""
        self.ensure_one()
        self.partner_id._hk_check_staff()
        if not self.transferable:
            raise UserError(self.env._("This package is not transferable."))
        if partner == self.partner_id or not partner:
            raise ValidationError(self.env._("Choose another customer to transfer to."))
        if partner.company_id and partner.company_id != self.company_id:
            raise ValidationError(self.env._("A package stays in its company."))
        self.env.cr.execute(
            SQL("SELECT id FROM housekeeping_package WHERE id = %s FOR NO KEY UPDATE", self.id)
        )
        note = self.env._(
            "Package %(package)s transferred from %(old)s to %(new)s",
            package=self.name,
            old=self.partner_id.display_name,
            new=partner.display_name,
        )
        with engine_writes(PACKAGE_LEDGER):
            self.sudo().write({"partner_id": partner.id})
        partner.message_post(body=note, subtype_xmlid="mail.mt_note")
        return True


class HousekeepingPackageUse(models.Model):
    """A visit of a package used (+1) or given back (-1); never edited."""

    _name = "housekeeping.package.use"
    _description = "Visit Package Use"
    _order = "date desc, id desc"

    package_id = fields.Many2one(
        "housekeeping.package", required=True, index=True, ondelete="restrict"
    )
    partner_id = fields.Many2one("res.partner", required=True, index=True, ondelete="restrict")
    company_id = fields.Many2one("res.company", required=True, index=True)
    visit_id = fields.Many2one("housekeeping.visit", required=True, index=True, ondelete="restrict")
    units = fields.Integer(required=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now)
    origin_use_id = fields.Many2one(
        "housekeeping.package.use", index="btree_not_null", ondelete="restrict"
    )

    @api.model_create_multi
    def create(self, vals_list):
        if not is_open(PACKAGE_LEDGER):
            raise UserError(self.env._("Package visits are used by visits paid by package."))
        return super().create(vals_list)

    def write(self, vals):  # pylint: disable=method-required-super
        raise UserError(self.env._("Package uses cannot be changed."))

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(self.env._("Package uses cannot be deleted."))
