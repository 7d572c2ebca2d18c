from odoo import api, models
from odoo.tools import SQL

# The customer fields the statistics engine maintains; never written by the ORM.
VISIT_STAT_FIELDS = (
    "visit_count",
    "total_spent",
    "average_ticket",
    "first_visit_date",
    "last_visit_date",
    "visit_interval_days",
    "preferred_service_type_id",
    "coupon_usage_rate",
    "hk_visit_company_id",
)


def local_day(timestamp, tz):
    """SQL: the calendar day of the UTC ``timestamp`` (SQL) in the time zone ``tz``
    (SQL): the day a visit counts on, here and in the lifecycle's seasons."""
    return SQL("(%s AT TIME ZONE 'UTC' AT TIME ZONE %s)::date", timestamp, tz)


def local_tz(env, partner_tz):
    """SQL: the time zone of a customer (``partner_tz``, SQL of ``res_partner.tz``),
    else the current user's, else UTC."""
    return SQL("COALESCE(NULLIF(%s, ''), %s)", partner_tz, env.user.tz or "UTC")


class HousekeepingEngineStatistics(models.AbstractModel):
    """Consumption statistics of the customers (visit count, spending, first and
    last visit, interval, preferred service, coupon usage), in one SQL statement
    per call. No scheduled action: the first step of the visit pipeline
    (``housekeeping.visit._hk_pipeline_done`` / ``_hk_pipeline_cancelled``) and of
    a merge (``base.partner.merge.automatic.wizard._hk_pipeline_merged``), through
    ``res.partner._hk_refresh_visit_stats()`` (an alias); ``_run()`` recomputes every
    customer, batch by batch (a recompute by hand, the benchmark).

    ``customer_since`` is filled when empty but stays writable by staff (an
    imported customer's date): not one of the engine's fields."""

    _name = "housekeeping.engine.statistics"
    _inherit = ["housekeeping.engine"]
    _description = "Visit Statistics Engine"

    _engine_key = "statistics"
    _engine_batch_param = "statistics_batch_size"
    _engine_batch_default = 50000
    _engine_fields = VISIT_STAT_FIELDS

    @api.model
    def _run(self):
        """Recompute the statistics of every customer, by batches of customer ids
        (keyset, ``_batches``: resumed after the last batch committed inside the
        scheduler). Rows already right are not rewritten. Returns the number of
        customers whose statistics changed."""
        cr = self.env.cr

        def step(limit, after):
            cr.execute(
                SQL(
                    "SELECT id FROM res_partner WHERE id > %s ORDER BY id LIMIT %s",
                    after,
                    limit,
                )
            )
            ids = [row[0] for row in cr.fetchall()]
            if not ids:
                return 0, 0, False, after
            done = self._refresh_visit_stats(ids)
            return len(ids), done, len(ids) == limit, ids[-1]

        return self._batches(
            self._engine_key, self._engine_batch_param, step, default=self._engine_batch_default
        )

    @api.model
    def _refresh_visit_stats(self, partner_ids):
        """Recompute the consumption statistics of the customers ``partner_ids`` in
        one SQL statement. Returns the number of customers whose figures changed.

        Reads only the done visits of these partners (index on partner_id, date),
        so the cost depends on their history, never on the whole population.
        """
        ids = [pid for pid in partner_ids if pid]
        if not ids:
            return 0
        partners = self.env["res.partner"].browse(ids)
        self.env["housekeeping.visit"].flush_model()
        partners.flush_recordset(["tz", "customer_since"])
        source = SQL(
            """
            WITH target AS (
                SELECT p.id, %(tz)s AS tz
                  FROM res_partner p
                 WHERE p.id = ANY(%(ids)s) AND p.id BETWEEN %(low)s AND %(high)s
            ), done AS (
                SELECT v.partner_id, v.amount, v.service_type_id, v.coupon_card_id,
                       %(local_day)s AS local_day,
                       EXTRACT(EPOCH FROM v.date - lag(v.date) OVER w) / 86400.0 AS gap,
                       -- the company of the latest done visit: whose settings apply
                       -- to a customer without a company of their own (the same sort
                       -- as the gaps: no sort of its own)
                       last_value(v.company_id) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING
                                                       AND UNBOUNDED FOLLOWING) AS visit_company
                  FROM housekeeping_visit v
                  JOIN target t ON t.id = v.partner_id
                 -- (the range bounds the index scans when many customers are given:
                 -- a merge join otherwise reads the index from its start)
                 WHERE v.state = 'done' AND v.partner_id BETWEEN %(low)s AND %(high)s
                WINDOW w AS (PARTITION BY v.partner_id ORDER BY v.date, v.id)
            ), agg AS (
                SELECT partner_id,
                       count(*) AS cnt,
                       COALESCE(sum(amount), 0) AS total,
                       min(local_day) AS first_day,
                       max(local_day) AS last_day,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY gap)
                           FILTER (WHERE gap IS NOT NULL) AS interval_days,
                       100.0 * count(coupon_card_id) / count(*) AS coupon_rate,
                       mode() WITHIN GROUP (ORDER BY service_type_id) AS pref_type,
                       min(visit_company) AS visit_company
                  FROM done GROUP BY partner_id
            )
            SELECT t.id,
                   COALESCE(a.cnt, 0) AS visit_count,
                   COALESCE(a.total, 0) AS total_spent,
                   CASE WHEN a.cnt > 0 THEN a.total / a.cnt ELSE 0 END AS average_ticket,
                   a.first_day AS first_visit_date, a.last_day AS last_visit_date,
                   COALESCE(round(a.interval_days::numeric, 1), 0) AS visit_interval_days,
                   a.pref_type AS preferred_service_type_id,
                   COALESCE(round(a.coupon_rate::numeric, 1), 0) AS coupon_usage_rate,
                   a.visit_company AS hk_visit_company_id
              FROM target t LEFT JOIN agg a ON a.partner_id = t.id
            """,
            ids=ids,
            low=min(ids),
            high=max(ids),
            tz=local_tz(self.env, SQL("p.tz")),
            local_day=local_day(SQL("v.date"), SQL("t.tz")),
        )
        # rows already right are not rewritten (no dead tuples on a rerun); new
        # figures: the lifecycle rules look at the customer at the next run
        changed = self._apply(
            source,
            {
                **{name: name for name in VISIT_STAT_FIELDS},
                "customer_since": SQL("COALESCE(p.customer_since, c.first_visit_date)"),
            },
            # (the range bounds the index scan of the update too)
            where=SQL("p.id BETWEEN %s AND %s", min(ids), max(ids)),
            extra={"lifecycle_next_check": SQL("NULL::date")},
        )
        return changed
