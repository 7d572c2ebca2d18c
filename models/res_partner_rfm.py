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
    def _rfm_segment_sql(self):
        """CASE expression naming the segment from the r, f, m scores (classic RFM grid)."""
        return SQL("""
            CASE
                WHEN r >= 4 AND vc <= 1 THEN 'new'
                WHEN r >= 4 AND f >= 4 AND m >= 4 THEN 'champions'
                WHEN r >= 3 AND f >= 4 THEN 'loyal'
                WHEN r >= 4 AND f BETWEEN 2 AND 3 THEN 'potential'
                WHEN r = 3 AND f <= 2 THEN 'promising'
                WHEN r = 3 AND f = 3 THEN 'need_attention'
                WHEN r = 2 AND f <= 2 THEN 'about_to_sleep'
                WHEN r <= 2 AND f >= 4 AND m >= 4 THEN 'cant_lose'
                WHEN r = 2 AND f >= 3 THEN 'at_risk'
                WHEN r = 1 AND f >= 2 THEN 'hibernating'
                ELSE 'lost'
            END""")

    @api.model
    def _rfm_histogram_sql(self, column):
        """Each distinct value of ``fm.<column>`` per company, with ``le`` the
        customers whose value is lower or equal and ``n`` all of them."""
        return SQL(
            """
                SELECT company_id, %(value)s,
                       sum(count(*)) OVER (PARTITION BY company_id ORDER BY %(value)s) AS le,
                       sum(count(*)) OVER (PARTITION BY company_id) AS n
                  FROM fm GROUP BY company_id, %(value)s""",
            value=SQL.identifier(column),
        )

    @api.model
    def _cron_compute_rfm(self):
        """Score every customer with done visits, in the same seven statements
        whatever their number (compute and compare into a temporary table,
        analyse it, delete, update, insert, drop it; JIT off).

        Recency comes from ``last_visit_date`` (maintained by the statistics
        engine); frequency and monetary count the done visits of the rolling
        window (``hk_rfm_window_months`` of the customer's company, default 12),
        read per customer from the visits' ``(partner_id, date) INCLUDE (amount)``
        index alone. A score is ``ceil(5 × share of the company's customers whose
        value is lower or equal)``: ties share a score. The shares come from a
        histogram of each value (a few hundred distinct days, visit counts and
        amounts) joined back by hash, not from sorting the customers three times:
        at 1M customers the sorts spilled to disk and took most of the run.
        The scores go to ``housekeeping.partner.rfm`` (one narrow row per
        customer, see there why): rows whose scores do not change are not
        written, so a rerun writes nothing, and the rows of customers no longer
        scored (archived, or whose visits were all cancelled) are deleted.
        Returns the number of customers whose scores were written.
        """
        self.env["housekeeping.visit"].flush_model()
        self.flush_model(["last_visit_date", "company_id", "visit_count", "active"])
        main_company = self._hk_main_company()
        cr = self.env.cr
        # compiling the statement (JIT) took 2.8 s of its 23 s at 1M customers,
        # for no gain on its execution; off for this transaction
        cr.execute("SET LOCAL jit = off")
        cr.execute(
            SQL(
                """
            CREATE TEMP TABLE hk_rfm_new ON COMMIT DROP AS
            WITH fm AS MATERIALIZED (
                SELECT p.id, p.visit_count AS vc,
                       COALESCE(p.company_id, %(main)s) AS company_id,
                       -- (no customer with visits lacks it; if one did, it ranks last
                       -- as NULLS LAST did)
                       COALESCE(p.last_visit_date, 'infinity'::date) AS lvd,
                       w.freq, w.money
                  FROM res_partner p
                 CROSS JOIN LATERAL (
                       SELECT count(*) AS freq, COALESCE(sum(v.amount), 0) AS money
                         FROM housekeeping_visit v
                        WHERE v.partner_id = p.id AND v.state = 'done'
                          AND v.date >= (
                              SELECT %(now)s::timestamp
                                     - make_interval(months => COALESCE(rc.hk_rfm_window_months, 12))
                                FROM res_company rc
                               WHERE rc.id = COALESCE(p.company_id, %(main)s))
                 ) w
                 WHERE p.visit_count > 0 AND p.active
            ), hr AS (%(recency_histogram)s
            ), hf AS (%(frequency_histogram)s
            ), hm AS (%(monetary_histogram)s
            ), scored AS (
                -- ceil(5 × le / n) in integers: exact at the quintile boundaries
                SELECT fm.id, fm.vc,
                       div(5 * hr.le + hr.n - 1, hr.n)::int AS r,
                       div(5 * hf.le + hf.n - 1, hf.n)::int AS f,
                       div(5 * hm.le + hm.n - 1, hm.n)::int AS m
                  FROM fm
                  JOIN hr ON hr.company_id = fm.company_id AND hr.lvd = fm.lvd
                  JOIN hf ON hf.company_id = fm.company_id AND hf.freq = fm.freq
                  JOIN hm ON hm.company_id = fm.company_id AND hm.money = fm.money
            ), named AS (
                SELECT id, r, f, m, %(segment)s AS segment FROM scored
            )
            -- compared with the scores kept, keeping only what changes: a rerun
            -- writes a handful of rows here (the engine reads the score table
            -- once, planned on its size: an insert that read the table it grows,
            -- planned on an empty table, rescanned it for every row)
            SELECT COALESCE(n.id, s.partner_id) AS partner_id, n.r, n.f, n.m, n.segment,
                   CASE WHEN n.id IS NULL THEN 'gone'
                        WHEN s.partner_id IS NULL THEN 'new'
                        ELSE 'changed' END AS action
              FROM named n
              FULL JOIN housekeeping_partner_rfm s ON s.partner_id = n.id
             WHERE n.id IS NULL OR s.partner_id IS NULL
                OR (s.recency, s.frequency, s.monetary, s.segment)
                   IS DISTINCT FROM (n.r, n.f, n.m, n.segment)
            """,
                main=main_company.id,
                # Odoo's clock, not the database's: the window moves with the day
                # the scheduler (or a test) runs on
                now=fields.Datetime.now(),
                segment=self._rfm_segment_sql(),
                recency_histogram=self._rfm_histogram_sql("lvd"),
                frequency_histogram=self._rfm_histogram_sql("freq"),
                monetary_histogram=self._rfm_histogram_sql("money"),
            )
        )
        cr.execute("ANALYZE hk_rfm_new")
        # customers no longer scored (archived, or their visits cancelled)
        cr.execute("""
            DELETE FROM housekeeping_partner_rfm s
             USING hk_rfm_new n
             WHERE n.action = 'gone' AND s.partner_id = n.partner_id
        """)
        cr.execute("""
            UPDATE housekeeping_partner_rfm s
               SET recency = n.r, frequency = n.f, monetary = n.m, segment = n.segment
              FROM hk_rfm_new n
             WHERE n.action = 'changed' AND s.partner_id = n.partner_id
        """)
        updated = cr.rowcount
        # (ON CONFLICT: a run started by hand beside the scheduled one)
        cr.execute("""
            INSERT INTO housekeeping_partner_rfm (partner_id, recency, frequency, monetary, segment)
            SELECT partner_id, r, f, m, segment FROM hk_rfm_new WHERE action = 'new'
                ON CONFLICT (partner_id) DO NOTHING
        """)
        updated += cr.rowcount
        cr.execute("DROP TABLE hk_rfm_new")
        self.env["housekeeping.partner.rfm"].invalidate_model()
        self.invalidate_model(list(RFM_COLUMNS))
        return updated
