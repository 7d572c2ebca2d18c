from odoo import api, fields, models
from odoo.fields import Domain
from odoo.tools import SQL

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
    written by the nightly RFM engine alone (``res.partner._cron_compute_rfm``).

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


class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited  # until the engines move to models/engines (architecture issue)

    rfm_recency = fields.Integer(
        string="Recency Score",
        compute="_compute_rfm",
        search="_search_rfm_recency",
        help="1 (longest since the last visit) to 5 (most recent): quintile within the company; "
        "customers with equal values share a score.",
    )
    rfm_frequency = fields.Integer(
        string="Frequency Score", compute="_compute_rfm", search="_search_rfm_frequency"
    )
    rfm_monetary = fields.Integer(
        string="Monetary Score", compute="_compute_rfm", search="_search_rfm_monetary"
    )
    rfm_segment = fields.Selection(
        RFM_SEGMENTS, string="RFM Segment", compute="_compute_rfm", search="_search_rfm_segment"
    )

    def _compute_rfm(self):
        scores = {
            score["partner_id"].id: score
            for score in self.env["housekeeping.partner.rfm"]
            .sudo()
            .search_fetch(
                [("partner_id", "in", [pid for pid in self._origin.ids if pid])],
                ["partner_id", *RFM_COLUMNS.values()],
            )
        }
        for partner in self:
            score = scores.get(partner._origin.id)
            for fname, column in RFM_COLUMNS.items():
                partner[fname] = score[column] if score else False

    def _hk_search_rfm(self, column, operator, value):
        """Customers whose score row matches; ``False`` among the values of ``in``
        stands for the customers not scored. The ORM inverts the negative
        operators itself."""
        if operator not in ("in", ">", ">=", "<", "<="):
            return NotImplemented
        scores = self.env["housekeeping.partner.rfm"].sudo()
        if operator != "in":
            return Domain(
                "id", "in", scores._search([(column, operator, value)]).subselect("partner_id")
            )
        values = [v for v in value if v is not False]
        domain = Domain.FALSE
        if values:
            domain = Domain(
                "id", "in", scores._search([(column, "in", values)]).subselect("partner_id")
            )
        if False in value:
            domain |= Domain("id", "not in", scores._search([]).subselect("partner_id"))
        return domain

    def _search_rfm_recency(self, operator, value):
        return self._hk_search_rfm("recency", operator, value)

    def _search_rfm_frequency(self, operator, value):
        return self._hk_search_rfm("frequency", operator, value)

    def _search_rfm_monetary(self, operator, value):
        return self._hk_search_rfm("monetary", operator, value)

    def _search_rfm_segment(self, operator, value):
        return self._hk_search_rfm("segment", operator, value)

    def _field_to_sql(self, alias, field_expr, query=None):
        """The scores as SQL, so that lists group and sort customers by them
        (the score table joined once per query)."""
        column = RFM_COLUMNS.get(field_expr)
        if not column:
            return super()._field_to_sql(alias, field_expr, query)
        self._check_field_access(self._fields[field_expr], "read")
        if query is None:
            return SQL(
                "(SELECT s.%s FROM housekeeping_partner_rfm s WHERE s.partner_id = %s)",
                SQL.identifier(column),
                SQL.identifier(alias, "id"),
            )
        rfm_alias = query.make_alias(alias, "hk_rfm")
        query.add_join(
            "LEFT JOIN",
            rfm_alias,
            "housekeeping_partner_rfm",
            SQL("%s = %s", SQL.identifier(rfm_alias, "partner_id"), SQL.identifier(alias, "id")),
        )
        return SQL.identifier(rfm_alias, column)

    @api.model
    def _cron_compute_rfm(self):
        """Score every customer (the RFM engine, ``housekeeping.engine.rfm``);
        returns the number of customers whose scores were written."""
        return self.env["housekeeping.engine.rfm"]._cron()
