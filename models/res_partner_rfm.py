from odoo import api, fields, models
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


class ResPartner(models.Model):
    _inherit = "res.partner"

    rfm_recency = fields.Integer(
        string="Recency Score",
        readonly=True,
        copy=False,
        help="1 (longest since the last visit) to 5 (most recent): quintile within the company; "
        "customers with equal values share a score.",
    )
    rfm_frequency = fields.Integer(string="Frequency Score", readonly=True, copy=False)
    rfm_monetary = fields.Integer(string="Monetary Score", readonly=True, copy=False)
    rfm_segment = fields.Selection(
        RFM_SEGMENTS, string="RFM Segment", readonly=True, copy=False, index="btree_not_null"
    )

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
    def _cron_compute_rfm(self):
        """Score every customer with done visits in one statement.

        Recency comes from ``last_visit_date`` (maintained by the statistics
        engine); frequency and monetary count the done visits of the rolling
        window (``hk_rfm_window_months`` of the customer's company, default 12).
        Quintiles (``ntile(5)``) are taken within each company. Rows whose
        scores do not change are not written, so a rerun writes nothing.
        """
        self.env["housekeeping.visit"].flush_model()
        self.flush_model(["last_visit_date", "company_id"])
        main_company = self._hk_main_company()
        self.env.cr.execute(
            SQL(
                """
            WITH cust AS (
                SELECT p.id, COALESCE(p.company_id, %(main)s) AS company_id, p.last_visit_date,
                       p.visit_count AS vc
                  FROM res_partner p
                 WHERE p.visit_count > 0 AND p.active
            ), win AS (
                SELECT c.id,
                       count(v.id) AS freq,
                       COALESCE(sum(v.amount), 0) AS money
                  FROM cust c
                  JOIN res_company rc ON rc.id = c.company_id
                  LEFT JOIN housekeeping_visit v
                         ON v.partner_id = c.id AND v.state = 'done'
                        AND v.date >= %(now)s::timestamp - make_interval(months => COALESCE(rc.hk_rfm_window_months, 12))
                 GROUP BY c.id
            ), scored AS (
                -- quintile = ceil(5 × cumulative share): ties share the same score
                SELECT c.id, c.vc,
                       ceil(5 * cume_dist() OVER (PARTITION BY c.company_id
                                                  ORDER BY c.last_visit_date))::int AS r,
                       ceil(5 * cume_dist() OVER (PARTITION BY c.company_id
                                                  ORDER BY w.freq))::int AS f,
                       ceil(5 * cume_dist() OVER (PARTITION BY c.company_id
                                                  ORDER BY w.money))::int AS m
                  FROM cust c JOIN win w ON w.id = c.id
            ), named AS (
                SELECT id, r, f, m, %(segment)s AS segment FROM scored
            )
            UPDATE res_partner p
               SET rfm_recency = n.r, rfm_frequency = n.f, rfm_monetary = n.m,
                   rfm_segment = n.segment
              FROM named n
             WHERE p.id = n.id
               AND (p.rfm_recency, p.rfm_frequency, p.rfm_monetary, p.rfm_segment)
                   IS DISTINCT FROM (n.r, n.f, n.m, n.segment)
            """,
                main=main_company.id,
                # Odoo's clock, not the database's: the window moves with the day
                # the scheduler (or a test) runs on
                now=fields.Datetime.now(),
                segment=self._rfm_segment_sql(),
            )
        )
        updated = self.env.cr.rowcount
        self.invalidate_model(["rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_segment"])
        return updated
