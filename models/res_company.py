from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    # Settings are per company (a chain of stores runs one company each);
    # res.config.settings shows them for the current company.
    hk_visits_from_sale = fields.Boolean(
        string="Create Visits from Sale Orders",
        default=True,
        help="Confirming a sale order of service products creates one visit per unit.",
    )
    hk_rfm_window_months = fields.Integer(
        string="RFM Window (months)",
        default=12,
        help="Frequency and monetary scores count the done visits of this many months.",
    )
