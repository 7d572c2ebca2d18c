from odoo import fields, models

RFM_SEGMENTS = [
    ("champions", "Champions"),
    ("loyal", "Loyal Customers"),
    ("potential", "Potential Loyalists"),
    ("new", "New Customers"),
    ("promising", "Promising"),
    ("need_attention", "Need Attention"),
    ("about_to_sleep", "About to Sleep"),
    ("at_risk", "At Risk"),
    ("cant_lose", "Can't Lose Them"),
    ("hibernating", "Hibernating"),
    ("lost", "Lost"),
]


# the partner fields shown from the score table, and their column there
RFM_COLUMNS = {
    "rfm_recency": "recency",
    "rfm_frequency": "frequency",
    "rfm_monetary": "monetary",
    "rfm_segment": "segment",
}


class HousekeepingPartnerRfm(models.Model):
    """The RFM scores of a customer: one row per customer with done visits,
    written by the nightly RFM engine alone (``housekeeping.engine.rfm``).

    The scores live here, not on ``res_partner``: a run scores every customer,
    and writing a ``res_partner`` row maintains its fourteen indexes (two of
    them on an expression of the phone, one a trigram index), about ten times
    the cost of writing this narrow row (measured, docs/benchmarks.md). The partner
    shows them through fields that read, search, group and sort by this table.
    """

    _name = "housekeeping.partner.rfm"
    _description = "Customer RFM Score"
    _order = "partner_id"
    _rec_name = "partner_id"
    # no create/write user columns: each adds a foreign key checked per row
    # written (with a company column, three checks took a fifth of a first run)
    _log_access = False

    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, readonly=True, ondelete="cascade"
    )
    # (the customer's: not a column of its own, checked and written per row)
    company_id = fields.Many2one(related="partner_id.company_id")
    recency = fields.Integer(string="Recency Score", readonly=True, aggregator="avg")
    frequency = fields.Integer(string="Frequency Score", readonly=True, aggregator="avg")
    monetary = fields.Integer(string="Monetary Score", readonly=True, aggregator="avg")
    segment = fields.Selection(RFM_SEGMENTS, string="RFM Segment", readonly=True, index=True)

    _partner_unique = models.Constraint(
        "UNIQUE(partner_id)", "A customer has one set of RFM scores."
    )
