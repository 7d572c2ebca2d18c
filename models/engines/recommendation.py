from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

# the parameters of the engine and their defaults (ir.config_parameter keys)
PARAMS = {
    "recommendation_min_customers": 2,
    "recommendation_profile_weight": 1.0,
    "recommendation_season_score": 100,
    "recommendation_calendar_score": 10,
    "recommendation_season_lookahead_days": 45,
    "recommendation_season_gap_days": 180,
}
# a run refreshes the table's planner statistics when it wrote more rows than this
# and than the statistics knew (see ``_run``)
ANALYZE_MIN_ROWS = 10000
# a customer's set of services as a bit string (bit n set: service type n booked),
# aggregated over rows ``v`` with a ``service_type_id``, with the zero string
# ``SERVICE_SET_ZERO`` cross-joined as ``z``: the population figures and each range
# build their sets the same way, so that they compare
SERVICE_SET = SQL("bit_or(set_bit(z.zero, v.service_type_id, 1))")
SERVICE_SET_ZERO = SQL(
    "(SELECT repeat('0', max(id) + 1)::varbit AS zero FROM housekeeping_service_type) z"
)


class HousekeepingEngineRecommendation(models.AbstractModel):
    """Service recommendations (nightly, ``ir_cron_recommendations``): rebuilds
    every customer's top 3 in ``housekeeping.recommendation`` (the rows and how
    they read are there) from the population's co-occurrence figures, by ranges
    of customer ids."""

    _name = "housekeeping.engine.recommendation"
    _inherit = ["housekeeping.engine"]
    _description = "Recommendation Engine"

    _engine_key = "recommendations"
    _engine_batch_param = "recommendation_batch_size"
    _engine_batch_default = 50000

    @api.model
    def _recommendation_params(self):
        get = self.env["ir.config_parameter"].sudo().get_param
        return {
            key: type(default)(get(f"housekeeping_membership.{key}", default))
            for key, default in PARAMS.items()
        }

    @api.model
    def _recommendation_upcoming_months(self, today, lookahead):
        """The calendar months touched by ``today`` .. ``today + lookahead``, in order."""
        months, day = [], today
        while day <= today + timedelta(days=lookahead):
            if day.month not in months:
                months.append(day.month)
            day += timedelta(days=1)
        return months

    @api.model
    def _recommendation_seasonal_types(self, upcoming):
        """``(service_type_ids, months)``: the active service types flagged in season
        in one of the ``upcoming`` months, with the first such month (one query)."""
        ids, first_months = [], []
        for service_type in (
            self.env["housekeeping.service.type"]
            .sudo()
            .search_fetch([("season_months", "!=", False)], ["season_months"])
        ):
            months = {
                int(m)
                for m in service_type.season_months.replace(" ", "").split(",")
                if m.isdigit()
            }
            ahead = [m for m in upcoming if m in months]
            if ahead:
                ids.append(service_type.id)
                first_months.append(ahead[0])
        return ids, first_months

    @api.model
    def _recommendation_stats(self):
        """The population's co-occurrence figures, kept in two small temporary
        tables for the batches of the run: ``hk_rec_pairs`` (service ``src``,
        service ``dst``, customers of ``src`` who also book ``dst``, their share)
        and ``hk_rec_tags`` (household tag, service, customers with the tag who book
        it, their share).

        One pass over the done visits gives each customer's set of services as a
        bit string (bit *n* set: service type *n* booked), a hash aggregate of one
        row per customer; the population has few distinct sets, and the pairs and
        household shares are counted per set, then weighted by its customers."""
        params = self._recommendation_params()
        tags = self.env["res.partner"]._fields["household_tag_ids"]
        self.env.cr.execute(
            SQL(
                """
            DROP TABLE IF EXISTS hk_rec_masks;
            DROP TABLE IF EXISTS hk_rec_sets;
            DROP TABLE IF EXISTS hk_rec_pairs;
            DROP TABLE IF EXISTS hk_rec_tags;
            CREATE TEMPORARY TABLE hk_rec_masks AS
                SELECT v.partner_id, %(service_set)s AS used
                  FROM housekeeping_visit v
                  JOIN res_partner p ON p.id = v.partner_id AND p.active
                 CROSS JOIN %(zero)s
                 WHERE v.state = 'done'
                 GROUP BY 1;
            -- each distinct set, its services and its customers
            CREATE TEMPORARY TABLE hk_rec_sets AS
                SELECT s.used, g.service_type_id, s.n
                  FROM (SELECT used, count(*) AS n FROM hk_rec_masks GROUP BY 1) s
                 CROSS JOIN generate_series(0, length(s.used) - 1) AS g(service_type_id)
                 WHERE get_bit(s.used, g.service_type_id) = 1;
            CREATE TEMPORARY TABLE hk_rec_pairs AS
                WITH buyers AS (
                    SELECT service_type_id, sum(n) AS n FROM hk_rec_sets GROUP BY 1
                )
                SELECT *, row_number() OVER (PARTITION BY dst
                                             ORDER BY pct DESC, n DESC, src) AS best
                  FROM (SELECT a.service_type_id AS src, b.service_type_id AS dst,
                               sum(a.n)::bigint AS n, 100.0 * sum(a.n) / min(bu.n) AS pct
                          FROM hk_rec_sets a
                          JOIN hk_rec_sets b ON b.used = a.used
                                            AND b.service_type_id != a.service_type_id
                          JOIN buyers bu ON bu.service_type_id = a.service_type_id
                         GROUP BY 1, 2
                        HAVING sum(a.n) >= %(min_support)s) x;
            CREATE TEMPORARY TABLE hk_rec_tags AS
                WITH tagged AS (
                    -- the customers with a tag who book something, per set
                    SELECT rel.%(tag_col)s AS tag_id, m.used, count(*) AS n
                      FROM %(tag_rel)s rel
                      JOIN res_partner p ON p.id = rel.%(tag_partner)s AND p.active
                      JOIN housekeeping_household_tag t ON t.id = rel.%(tag_col)s AND t.active
                      JOIN hk_rec_masks m ON m.partner_id = rel.%(tag_partner)s
                     GROUP BY 1, 2
                ), tag_size AS (
                    SELECT tag_id, sum(n) AS n FROM tagged GROUP BY 1
                )
                SELECT tg.tag_id, s.service_type_id AS dst, sum(tg.n)::bigint AS n,
                       100.0 * sum(tg.n) / min(ts.n) AS pct
                  FROM tagged tg
                  JOIN hk_rec_sets s ON s.used = tg.used
                  JOIN tag_size ts ON ts.tag_id = tg.tag_id
                 GROUP BY 1, 2
                HAVING sum(tg.n) >= %(min_support)s;
            DROP TABLE hk_rec_masks;
            DROP TABLE hk_rec_sets;
            ANALYZE hk_rec_pairs;
            ANALYZE hk_rec_tags;
            """,
                min_support=params["recommendation_min_customers"],
                service_set=SERVICE_SET,
                zero=SERVICE_SET_ZERO,
                tag_rel=SQL.identifier(tags.relation),
                tag_partner=SQL.identifier(tags.column1),
                tag_col=SQL.identifier(tags.column2),
            )
        )

    @api.model
    def _recommendation_fresh(self, today, id_from, id_to):
        """The ``WITH`` clause of ``_recommendation_query`` up to ``fresh``: the
        top 3 rows of the customers whose id is in ``[id_from, id_to)``, from
        ``_recommendation_stats`` and their own visits and household profile,
        read only (the bench computes the same rows over every customer with it)."""
        params = self._recommendation_params()
        upcoming = self._recommendation_upcoming_months(
            today, params["recommendation_season_lookahead_days"]
        )
        calendar_ids, calendar_months = self._recommendation_seasonal_types(upcoming)
        tags = self.env["res.partner"]._fields["household_tag_ids"]
        gap = today - timedelta(days=params["recommendation_season_gap_days"])
        return SQL(
            """
            WITH batch AS (
                SELECT id, company_id FROM res_partner
                 WHERE id >= %(id_from)s AND id < %(id_to)s AND active
            ), own AS (
                -- one pass over the range's visits (cancelled ones aside), per
                -- customer and service: whether they use it (a done visit), the
                -- months of its done visits as a bit mask and the last one (a hash
                -- aggregate, no sort), and whether one is recent or booked ahead
                -- (then it is no recommendation)
                SELECT v.partner_id, v.service_type_id,
                       bool_or(v.state = 'done') AS used,
                       bit_or(1 << extract(month FROM v.date)::int)
                           FILTER (WHERE v.state = 'done') AS months,
                       max(v.date) FILTER (WHERE v.state = 'done') AS last_date,
                       bool_or(v.date >= %(gap)s OR v.state IN ('draft', 'scheduled'))
                           AS blocked
                  FROM housekeeping_visit v
                 WHERE v.state != 'cancelled'
                   AND v.partner_id >= %(id_from)s AND v.partner_id < %(id_to)s
                 GROUP BY 1, 2
            ), used AS (
                -- (archived customers are few: an anti-join keeps the estimates right)
                SELECT o.partner_id, o.service_type_id, o.months, o.last_date
                  FROM own o
                 WHERE o.used
                   AND NOT EXISTS (
                       SELECT 1 FROM res_partner a
                        WHERE a.id = o.partner_id AND NOT a.active
                          AND a.id >= %(id_from)s AND a.id < %(id_to)s)
            ), profile AS (
                SELECT rel.%(tag_partner)s AS partner_id, rel.%(tag_col)s AS tag_id
                  FROM %(tag_rel)s rel
                  JOIN batch b ON b.id = rel.%(tag_partner)s
                  JOIN housekeeping_household_tag t ON t.id = rel.%(tag_col)s AND t.active
                 WHERE rel.%(tag_partner)s >= %(id_from)s AND rel.%(tag_partner)s < %(id_to)s
            ), customers AS (
                -- each customer's set of services (as in ``_recommendation_stats``):
                -- the history part depends on it alone, and sets are few
                SELECT v.partner_id, %(service_set)s AS used
                  FROM used v
                 CROSS JOIN %(zero)s
                 GROUP BY 1
            ), set_history AS (
                -- for each set, each service outside it and the strongest of the
                -- set's services toward it (pairs are ranked per target once, in
                -- ``best``)
                SELECT s.used, pr.dst, pr.pct, pr.src, pr.n
                  FROM (SELECT s.used, p2.dst, min(p2.best) AS best
                          FROM (SELECT DISTINCT used FROM customers) s
                          -- (a service type created since the figures has no bit)
                          JOIN hk_rec_pairs p2
                            ON CASE WHEN p2.src < length(s.used)
                                    THEN get_bit(s.used, p2.src) = 1 END
                           AND CASE WHEN p2.dst < length(s.used)
                                    THEN get_bit(s.used, p2.dst) = 0 ELSE TRUE END
                         GROUP BY 1, 2) s
                  JOIN hk_rec_pairs pr ON pr.dst = s.dst AND pr.best = s.best
            ), history AS (
                SELECT c.partner_id, h.dst, 'history' AS basis,
                       h.pct AS score, h.src, NULL::int AS tag_id, h.n AS support,
                       h.pct, NULL::int AS month, NULL::int AS years
                  FROM customers c
                  JOIN set_history h ON h.used = c.used
            ), household AS (
                SELECT DISTINCT ON (pf.partner_id, tb.dst)
                       pf.partner_id, tb.dst, 'profile' AS basis,
                       %(weight)s * tb.pct AS score, NULL::int AS src, pf.tag_id,
                       tb.n AS support, tb.pct, NULL::int AS month, NULL::int AS years
                  FROM profile pf
                  JOIN hk_rec_tags tb ON tb.tag_id = pf.tag_id
                 ORDER BY pf.partner_id, tb.dst, tb.pct DESC, tb.n DESC, pf.tag_id
            ), season AS (
                -- seasonal services: booked in at most 3 distinct months, not in the
                -- last months, once in an upcoming month
                SELECT DISTINCT ON (u.partner_id, u.service_type_id)
                       u.partner_id, u.service_type_id AS dst, 'season' AS basis,
                       %(season_score)s::float AS score, NULL::int AS src, NULL::int AS tag_id,
                       0 AS support, 0 AS pct, m.month, y.years
                  FROM used u
                  JOIN unnest(%(upcoming)s::int[]) WITH ORDINALITY AS m(month, pos)
                    ON u.months & (1 << m.month) != 0
                 CROSS JOIN LATERAL (
                       SELECT count(DISTINCT extract(year FROM v.date))::int AS years
                         FROM housekeeping_visit v
                        WHERE v.partner_id = u.partner_id
                          AND v.service_type_id = u.service_type_id
                          AND v.state = 'done'
                          AND extract(month FROM v.date) = m.month) y
                 -- at most 3 distinct months (bit_count() would need PostgreSQL 14,
                 -- Odoo 19 supports 13), none lately, and a habit (two years in that
                 -- month) or a service flagged in season
                 WHERE length(replace(u.months::bit(13)::text, '0', '')) <= 3
                   AND u.last_date < %(gap)s
                   AND (y.years >= 2 OR u.service_type_id = ANY(%(calendar_ids)s::int[]))
                 ORDER BY u.partner_id, u.service_type_id, m.pos
            ), calendar AS (
                SELECT c.partner_id, s.id AS dst, 'calendar' AS basis,
                       %(calendar_score)s::float AS score, NULL::int AS src, NULL::int AS tag_id,
                       0 AS support, 0 AS pct, s.month, NULL::int AS years
                  FROM customers c
                  CROSS JOIN unnest(%(calendar_ids)s::int[], %(calendar_months)s::int[])
                       AS s(id, month)
            ), cand AS (
                SELECT * FROM history
                UNION ALL SELECT * FROM household
                UNION ALL SELECT * FROM season
                UNION ALL SELECT * FROM calendar
            ), merged AS (
                SELECT DISTINCT ON (c.partner_id, c.dst)
                       c.*, sum(c.score) OVER (PARTITION BY c.partner_id, c.dst) AS total
                  FROM cand c
                  JOIN batch p ON p.id = c.partner_id
                  JOIN housekeeping_service_type st ON st.id = c.dst AND st.active
                       AND (st.company_id IS NULL OR p.company_id IS NULL
                            OR st.company_id = p.company_id)
                  LEFT JOIN own x ON x.partner_id = c.partner_id AND x.service_type_id = c.dst
                 -- a service booked recently (or booked ahead) is no recommendation;
                 -- one the customer uses is one only for its season
                 WHERE NOT coalesce(x.blocked, FALSE)
                   AND (c.basis = 'season' OR NOT coalesce(x.used, FALSE))
                 ORDER BY c.partner_id, c.dst, c.score DESC,
                          array_position(ARRAY['season', 'history', 'profile', 'calendar'],
                                         c.basis)
            ), ranked AS (
                SELECT m.*, row_number() OVER (PARTITION BY m.partner_id
                                               ORDER BY m.total DESC, m.dst) AS rn
                  FROM merged m
            ), fresh AS (
                SELECT partner_id, dst AS service_type_id, rn::int AS rank,
                       round(total::numeric, 1)::float AS score, basis::varchar AS basis,
                       src AS source_service_type_id, tag_id AS household_tag_id,
                       support::int AS support, round(pct)::int AS percent,
                       month AS season_month, years AS season_years
                  FROM ranked WHERE rn <= 3
            )
            """,
            id_from=id_from,
            id_to=id_to,
            service_set=SERVICE_SET,
            zero=SERVICE_SET_ZERO,
            weight=params["recommendation_profile_weight"],
            season_score=params["recommendation_season_score"],
            calendar_score=params["recommendation_calendar_score"],
            tag_rel=SQL.identifier(tags.relation),
            tag_partner=SQL.identifier(tags.column1),
            tag_col=SQL.identifier(tags.column2),
            upcoming=upcoming,
            gap=gap,
            calendar_ids=calendar_ids,
            calendar_months=calendar_months,
        )

    @api.model
    def _recommendation_query(self, today, id_from, id_to):
        """The statement rebuilding the top 3 of the customers whose id is in
        ``[id_from, id_to)``: the rows of ``_recommendation_fresh``, of which
        it deletes the stored rows no longer right and inserts the missing ones."""
        return SQL(
            """
            %(fresh)s
            , stale AS (
                -- only what changed is rewritten: the rows still right stay in
                -- place (a nightly rerun leaves no dead rows nor index churn); all
                -- parts of the statement see the same snapshot, so the INSERT below
                -- still sees the rows this DELETE removes
                DELETE FROM housekeeping_recommendation r
                 WHERE r.partner_id >= %(id_from)s AND r.partner_id < %(id_to)s
                   AND NOT EXISTS (
                       SELECT 1 FROM fresh f
                        WHERE f.partner_id = r.partner_id AND %(same)s)
            )
            INSERT INTO housekeeping_recommendation
                   (partner_id, service_type_id, rank, score, basis, source_service_type_id,
                    household_tag_id, support, percent, season_month, season_years,
                    create_uid, create_date, write_uid, write_date)
            SELECT f.partner_id, f.service_type_id, f.rank, f.score, f.basis,
                   f.source_service_type_id, f.household_tag_id, f.support, f.percent,
                   f.season_month, f.season_years,
                   %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
              FROM fresh f
             WHERE NOT EXISTS (
                   SELECT 1 FROM housekeeping_recommendation r
                    WHERE r.partner_id = f.partner_id AND %(same)s)
            """,
            fresh=self._recommendation_fresh(today, id_from, id_to),
            same=SQL(
                "(f.service_type_id, f.rank, f.score, f.basis, f.source_service_type_id, "
                "f.household_tag_id, f.support, f.percent, f.season_month, f.season_years) "
                "IS NOT DISTINCT FROM "
                "(r.service_type_id, r.rank, r.score, r.basis, r.source_service_type_id, "
                "r.household_tag_id, r.support, r.percent, r.season_month, r.season_years)"
            ),
            id_from=id_from,
            id_to=id_to,
            uid=self.env.uid,
        )

    @api.model
    def _run(self):
        """Nightly: rebuild every customer's top 3, idempotent. The population's
        co-occurrence figures are computed once (``_recommendation_stats``), then
        customers are rebuilt by ranges of ids (one statement each, which deletes
        the recommendations no longer right and inserts the new ones;
        ``housekeeping_membership.recommendation_batch_size`` ids, default 50,000),
        so that sorts stay in memory and the cost grows linearly with the
        population. Inside the scheduler each range commits. Returns the number of
        recommendations written (0 when nothing changed)."""
        today = fields.Date.context_today(self)
        self.env["housekeeping.visit"].flush_model(
            ["partner_id", "service_type_id", "state", "date"]
        )
        self.env["housekeeping.service.type"].flush_model(["active", "company_id", "season_months"])
        self.env["housekeeping.household.tag"].flush_model(["active"])
        self.env["res.partner"].flush_model(["active", "company_id", "household_tag_ids"])
        self._recommendation_stats()
        self.env.cr.execute(
            "SELECT min(id), max(id), "
            "(SELECT greatest(reltuples, 0) FROM pg_class "
            "  WHERE oid = 'housekeeping_recommendation'::regclass) FROM res_partner"
        )
        low, high, known = self.env.cr.fetchone()
        stats = {"known": known, "new": 0}

        def step(size, after):
            # the next range of ids after the last one done (kept between the
            # scheduler's calls by the engine's position)
            id_from = max(after + 1, low or 0)
            id_to = id_from + size
            self._without_jit()
            self.env.cr.execute(self._recommendation_query(today, id_from, id_to))
            written = self.env.cr.rowcount
            # A first run fills a table whose statistics say it is empty: the
            # planner would then read the whole table to compare each range's rows
            # (a run that grows quadratically: minutes per range at 1M). Refresh
            # them whenever the table has doubled since they were taken.
            stats["new"] += written
            if stats["new"] > max(stats["known"], ANALYZE_MIN_ROWS):
                self.env.cr.execute("ANALYZE housekeeping_recommendation")
                stats["known"] += stats["new"]
                stats["new"] = 0
            # (the range's ids, customers or not, are what the batch went through)
            return size, written, id_to <= (high or 0), id_to - 1

        count = self._batches(
            self._engine_key,
            self._engine_batch_param,
            step,
            default=self._engine_batch_default,
        )
        self.env.cr.execute("DROP TABLE IF EXISTS hk_rec_pairs; DROP TABLE IF EXISTS hk_rec_tags")
        self.env["housekeeping.recommendation"].invalidate_model()
        self.env["res.partner"].invalidate_model(["hk_recommendation_ids"])
        return count
