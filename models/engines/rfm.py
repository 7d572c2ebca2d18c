from odoo import api, fields, models
from odoo.tools import SQL

from ..housekeeping_partner_rfm import RFM_COLUMNS


class HousekeepingEngineRfm(models.AbstractModel):
    """RFM scores (nightly, ``ir_cron_rfm``): recency, frequency and monetary
    quintiles of every customer with done visits, and their segment, written to
    ``housekeeping.partner.rfm`` (the partner shows them). One set-based pass of
    seven statements whatever the population: no batches, no position."""

    _name = "housekeeping.engine.rfm"
    _inherit = ["housekeeping.engine"]
    _description = "RFM Engine"

    _engine_key = "rfm"

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
    def _run(self):
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
        Partner = self.env["res.partner"]
        self.env["housekeeping.visit"].flush_model()
        Partner.flush_model(["last_visit_date", "company_id", "visit_count", "active"])
        cr = self.env.cr
        self._without_jit()
        cr.execute(
            SQL(
                """
            CREATE TEMP TABLE hk_rfm_new ON COMMIT DROP AS
            WITH fm AS MATERIALIZED (
                SELECT p.id, p.visit_count AS vc,
                       %(company)s AS company_id,
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
                               WHERE rc.id = %(company)s)
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
                company=self._settings_company_sql(),
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
        Partner.invalidate_model(list(RFM_COLUMNS))
        return updated
