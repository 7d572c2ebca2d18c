import json
from datetime import timedelta

from markupsafe import escape

from odoo import api, fields, models
from odoo.tools import SQL

from ..bulk import pg_array
from ..lifecycle_rules import LIFECYCLE_SETTINGS, LOST_STAGES, STAGE_LADDER
from ..trust import engine_writes
from .statistics import local_day, local_tz


class HousekeepingEngineLifecycle(models.AbstractModel):
    """Lifecycle stages (daily, ``ir_cron_lifecycle_evaluate``, and the visit
    pipeline): potential, new, loyal, at risk, churned, won back.

    ``_lifecycle_query`` is the rules, one statement over the customers' stored
    statistics, open complaints and recent ratings with their company's
    thresholds; ``_lifecycle_load`` keeps its rows in a temporary table and
    ``_lifecycle_apply`` writes them (stage fields, stage logs, chatter notes,
    win-back playbooks). The daily run (``_run``) takes the customers due
    (``lifecycle_next_check``) batch by batch. The partner keeps the fields,
    the manual stage and the churn-reason actions (``models/res_partner.py``)."""

    _name = "housekeeping.engine.lifecycle"
    _inherit = ["housekeeping.engine"]
    _description = "Lifecycle Engine"

    _engine_key = "lifecycle"
    _engine_batch_param = "lifecycle_batch_size"
    # the guarded partner fields this engine writes (churn_reason_id is also
    # chosen by staff: not the engine's alone)
    _engine_fields = (
        "lifecycle_stage",
        "lifecycle_stage_date",
        "lifecycle_seasonal",
        "lifecycle_season_start",
        "lifecycle_season_end",
        "lifecycle_next_check",
        "lifecycle_override_until",
        "won_back_date",
        "churn_reason_confirmed",
    )

    # ------------------------------------------------------------------ entry point
    @api.model
    def _run(self):
        """Evaluate every customer due, of every company, batch by batch.

        Each batch re-runs the rule query for the customers whose stage must
        change (at most the batch size), applies it and commits: a crash loses at
        most one uncommitted batch and the next run resumes where it stopped; a
        second run finds nothing to change.
        """

        def rule_query():
            # the customers due (their next check has come; each batch takes the
            # next ones by id): each batch's evaluation then runs the rules once per
            # customer (every customer due gets at least a new next check)
            self._lifecycle_flush()
            return SQL(
                "SELECT p.id FROM res_partner p WHERE %s",
                self._lifecycle_customers(fields.Date.context_today(self), due=True),
            )

        return self._chunks(
            self._engine_key,
            self._engine_batch_param,
            rule_query,
            lambda ids: self._lifecycle_evaluate(partner_ids=ids, trigger="cron"),
            default=self._engine_batch_default,
        )

    # ------------------------------------------------------------------ the rules
    @api.model
    def _lifecycle_query(
        self, today, partner_ids=None, overrides=None, only_changed=True, limit=None, due=False
    ):
        """SQL returning ``(id, old_stage, new_stage, seasonal, season_start,
        season_end, suggestion, next_check, changed, old_stage_date, company_id)``
        rows, ``season_start``/``season_end`` the arc of a seasonal customer (days
        of a common year, 1-365), ``suggestion``
        being the code of the suggested churn reason (or None), ``next_check`` the
        first day the result can change with time alone, ``changed`` whether the
        stage or the seasonal flag does, ``old_stage_date`` and ``company_id`` the
        customer's (for the log of a change).
        ``only_changed`` keeps the rows where one of them differs from what is
        stored; ``due`` scopes the query to the customers whose
        ``lifecycle_next_check`` has come (or is empty): an index scan, so that the
        daily run reads what can have changed, not the population.

        One statement over the stored consumption statistics of the customers, their
        open complaints and their recent ratings; thresholds come from the customer's
        company (``COALESCE(partner.company_id, main company)``), or from ``overrides``
        (the dry-run wizard). Customers are partners with a visit, a prospect flag or
        a stage already.
        """
        overrides = overrides or {}
        scope = SQL("TRUE") if partner_ids is None else SQL("p.id = ANY(%s)", list(partner_ids))
        # each threshold: the dry-run wizard's, else the company's, else the default
        settings = SQL(",\n").join(
            SQL(
                "COALESCE(%s, %s, %s) AS %s",
                overrides.get(name),
                SQL.identifier("rc", name),
                default,
                SQL.identifier(alias),
            )
            for name, (alias, default) in LIFECYCLE_SETTINGS.items()
        )
        return SQL(
            """
            WITH cust AS (
                SELECT p.id, p.lifecycle_stage AS old_stage, p.visit_count, p.first_visit_date,
                       p.last_visit_date, p.visit_interval_days AS interval_days, p.is_prospect,
                       p.lifecycle_override_until, p.lifecycle_seasonal AS old_seasonal,
                       p.lifecycle_season_start AS old_season_start,
                       p.lifecycle_season_end AS old_season_end,
                       p.preferred_service_type_id, p.lifecycle_next_check AS old_next,
                       p.lifecycle_stage_date AS old_stage_date, p.company_id,
                       p.probability_alive, f.fit_date,
                       COALESCE(rc.hk_price_increase_pct, 10) AS price_pct,
                       %(settings)s,
                       %(tz)s AS tz
                  FROM res_partner p
                  JOIN res_company rc ON rc.id = %(company)s
                  LEFT JOIN (SELECT company_id, max(date) AS fit_date
                               FROM housekeeping_prediction_fit GROUP BY 1
                            ) f ON f.company_id = rc.id
                 WHERE %(scope)s AND %(customers)s
            ), season AS MATERIALIZED (%(season)s
            ), complaint AS MATERIALIZED (
                SELECT cp.partner_id
                  FROM housekeeping_complaint cp JOIN cust c ON c.id = cp.partner_id
                 WHERE cp.state IN ('new', 'in_progress')
                 GROUP BY 1
            ), recent AS (
                SELECT v.id, v.partner_id,
                       row_number() OVER (PARTITION BY v.partner_id ORDER BY v.date DESC) AS rn
                  FROM housekeeping_visit v JOIN cust c ON c.id = v.partner_id
                 WHERE v.state = 'done'
            ), low AS MATERIALIZED (
                -- computed once: inlined, a misestimate (fresh data, no statistics
                -- yet) put it on the inner side of a nested loop, run per customer
                SELECT r.partner_id
                  FROM recent r
                  JOIN cust c ON c.id = r.partner_id AND r.rn <= c.rated_window
                  JOIN rating_rating rr ON rr.res_model = 'housekeeping.visit'
                                       AND rr.res_id = r.id AND rr.consumed AND rr.rating > 0
                 WHERE rr.rating <= c.low_rating
                 GROUP BY 1
            ), planned AS MATERIALIZED (
                -- on an active service plan with a visit to come: the next planned
                -- visit is the expectation, not the time since the last one
                SELECT sp.partner_id, max(v.plan_occurrence) AS planned_until
                  FROM housekeeping_service_plan sp
                  JOIN cust c ON c.id = sp.partner_id
                  JOIN housekeeping_visit v ON v.plan_id = sp.id
                 WHERE sp.active AND sp.paused IS NOT TRUE
                   AND v.state IN ('draft', 'scheduled') AND v.plan_occurrence >= %(today)s
                 GROUP BY 1
            ), eval AS (
                -- the columns the stage ladder reads (models/lifecycle_rules.py)
                SELECT c.*, %(today)s::date AS today,
                       (%(today)s::date - c.last_visit_date) AS idle,
                       (s.partner_id IS NOT NULL) AS seasonal,
                       s.season_start, s.season_end,
                       (cp.partner_id IS NOT NULL OR l.partner_id IS NOT NULL) AS quality,
                       (pl.partner_id IS NOT NULL) AS planned, pl.planned_until,
                       -- the probability rule: only with a prediction that has seen
                       -- the last visit (the company's last fit is later), so that a
                       -- customer just back is not held at risk by yesterday's figure
                       (c.prob_on AND c.probability_alive IS NOT NULL
                        AND c.probability_alive * 100 < c.prob
                        AND c.fit_date > c.last_visit_date) AS unlikely,
                       -- a seasonal customer is due back at the first start of their
                       -- season after the last visit: at risk once the grace has
                       -- passed without a visit, churned a season later
                       %(next_start)s + c.season_grace AS season_due,
                       (%(next_start)s + interval '1 year')::date + c.season_grace AS season_lost,
                       COALESCE(NULLIF(c.interval_days, 0) * c.risk_f, c.risk_floor) AS risk_days,
                       GREATEST(COALESCE(NULLIF(c.interval_days, 0) * c.churn_f, 0),
                                c.churn_floor) AS churn_days
                  FROM cust c
                  LEFT JOIN season s ON s.partner_id = c.id
                  LEFT JOIN complaint cp ON cp.partner_id = c.id
                  LEFT JOIN low l ON l.partner_id = c.id
                  LEFT JOIN planned pl ON pl.partner_id = c.id
            ), staged AS (
                SELECT e.id, e.old_stage, e.old_seasonal, e.old_next, e.seasonal, e.quality,
                       e.season_start, e.season_end, e.old_season_start, e.old_season_end,
                       e.old_stage_date, e.company_id,
                       e.last_visit_date, e.preferred_service_type_id, e.price_pct,
                       %(next_check)s AS next_check,
                       %(ladder)s AS new_stage
                  FROM eval e
            )
            -- The churn-reason signals are only looked for on the rows returned
            -- (customers moving to at risk / churned), not over the population.
            SELECT s.id, s.old_stage, s.new_stage, s.seasonal, s.season_start, s.season_end,
                   %(suggestion)s AS suggestion,
                   s.next_check,
                   (s.new_stage IS DISTINCT FROM s.old_stage
                    OR s.seasonal IS DISTINCT FROM s.old_seasonal) AS changed,
                   s.old_stage_date, s.company_id
              FROM staged s
             WHERE %(changed)s
             ORDER BY id
             %(limit)s
            """,
            settings=settings,
            company=self._settings_company_sql(),
            scope=scope,
            today=today,
            tz=local_tz(self.env, SQL("p.tz")),
            season=self._lifecycle_season_sql(),
            ladder=self._ladder_sql(STAGE_LADDER, keep=SQL("e.old_stage")),
            next_check=self._lifecycle_next_check_sql(),
            suggestion=self._lifecycle_suggestion_sql(),
            # the first start of the season after the last visit (in its year, or
            # the next)
            next_start=SQL(
                """(make_date(extract(year FROM c.last_visit_date)::int, s.start_month,
                             s.start_day)
                    + CASE WHEN make_date(extract(year FROM c.last_visit_date)::int,
                                          s.start_month, s.start_day) > c.last_visit_date
                           THEN interval '0' ELSE interval '1 year' END)::date"""
            ),
            customers=self._lifecycle_customers(today, due),
            changed=SQL(
                "(new_stage IS DISTINCT FROM old_stage OR seasonal IS DISTINCT FROM old_seasonal"
                " OR next_check IS DISTINCT FROM old_next"
                " OR (season_start, season_end) IS DISTINCT FROM (old_season_start, old_season_end))"
            )
            if only_changed
            else SQL("TRUE"),
            limit=SQL("LIMIT %s", limit) if limit else SQL(""),
        )

    @api.model
    def _lifecycle_next_check_sql(self):
        """SQL on a row ``e`` of the rules: the first day a threshold of time is
        crossed (the stage may change without new data); a year or so at the
        latest, spread by id, as a safety net."""
        return SQL(
            """CASE
                 WHEN e.lifecycle_override_until >= e.today AND e.old_stage IS NOT NULL
                   THEN e.lifecycle_override_until + 1
                 ELSE LEAST(
                   -- on a plan: no change by time until its last visit to come
                   CASE WHEN e.planned THEN e.planned_until + 1 END,
                   CASE WHEN e.visit_count > 0 AND e.seasonal AND NOT e.planned THEN LEAST(
                     CASE WHEN e.season_due >= e.today THEN e.season_due + 1 END,
                     CASE WHEN e.season_lost >= e.today THEN e.season_lost + 1 END) END,
                   CASE WHEN e.visit_count > 0 AND NOT e.seasonal AND NOT e.planned THEN LEAST(
                     CASE WHEN e.idle <= e.risk_days
                          THEN e.last_visit_date + floor(e.risk_days)::int + 1 END,
                     CASE WHEN e.idle <= e.churn_days
                          THEN e.last_visit_date + floor(e.churn_days)::int + 1 END) END,
                   CASE WHEN e.visit_count >= 2 AND e.visit_count < e.new_min
                         AND e.today - e.first_visit_date < e.new_days
                        THEN e.first_visit_date + e.new_days END,
                   e.today + 337 + e.id %% 28)
               END"""
        )

    @api.model
    def _lifecycle_season_sql(self):
        """SQL of the ``season`` rows of the rule query: ``(partner_id,
        season_start, season_end, start_month, start_day)`` of the seasonal
        customers among ``cust`` (docs/decisions.md, Seasonal customers)."""
        return SQL(
            """
                -- The season of a customer (docs/decisions.md, Seasonal customers):
                -- the shortest arc of the calendar, taken circularly (it may cross
                -- the new year), holding all their done visits by local day but the
                -- tolerated share; seasonal when it is at most the longest season
                -- and holds visits of two different seasons (years).
                WITH month AS (
                    -- a cheap first pass, on UTC months without time zones: who may
                    -- be seasonal at all (visits spanning two seasons, and a window of
                    -- consecutive calendar months, one month wider on each side than
                    -- the longest season can touch, holding all their visits but the
                    -- tolerated share). The exact pass below (time zones, three window
                    -- functions) then reads the visits of these candidates only.
                    -- p<m>: the visits in months 1 to m (prefix sums of the months)
                    SELECT v.partner_id, count(*) AS n, max(v.date) - min(v.date) AS span,
                           count(*) FILTER (WHERE v.month <= 1) AS p1,
                           count(*) FILTER (WHERE v.month <= 2) AS p2,
                           count(*) FILTER (WHERE v.month <= 3) AS p3,
                           count(*) FILTER (WHERE v.month <= 4) AS p4,
                           count(*) FILTER (WHERE v.month <= 5) AS p5,
                           count(*) FILTER (WHERE v.month <= 6) AS p6,
                           count(*) FILTER (WHERE v.month <= 7) AS p7,
                           count(*) FILTER (WHERE v.month <= 8) AS p8,
                           count(*) FILTER (WHERE v.month <= 9) AS p9,
                           count(*) FILTER (WHERE v.month <= 10) AS p10,
                           count(*) FILTER (WHERE v.month <= 11) AS p11
                      FROM (SELECT v.partner_id, v.date, extract(month FROM v.date) AS month
                              FROM housekeeping_visit v JOIN cust c ON c.id = v.partner_id
                             WHERE v.state = 'done') v
                     GROUP BY v.partner_id
                ), candidate AS MATERIALIZED (
                    SELECT q.partner_id, q.season_days, q.season_share, q.tz
                      FROM (SELECT m.partner_id, m.n, m.span, c.season_days, c.season_share,
                                   c.tz, LEAST(12, (c.season_days - 1) / 28 + 4) AS w,
                                   -- prefix sums over two years of months: a window of w
                                   -- months from month i holds a[i + w] - a[i] visits
                                   ARRAY[0, m.p1, m.p2, m.p3, m.p4, m.p5, m.p6, m.p7, m.p8, m.p9, m.p10, m.p11, m.n, m.n + m.p1, m.n + m.p2, m.n + m.p3, m.n + m.p4, m.n + m.p5, m.n + m.p6, m.n + m.p7, m.n + m.p8, m.n + m.p9, m.n + m.p10, m.n + m.p11, 2 * m.n] AS a
                              FROM month m JOIN cust c ON c.id = m.partner_id) q
                     WHERE q.span >= make_interval(days => 363 - q.season_days)
                       AND GREATEST(
                                    q.a[q.w + 1] - q.a[1],
                                    q.a[q.w + 2] - q.a[2],
                                    q.a[q.w + 3] - q.a[3],
                                    q.a[q.w + 4] - q.a[4],
                                    q.a[q.w + 5] - q.a[5],
                                    q.a[q.w + 6] - q.a[6],
                                    q.a[q.w + 7] - q.a[7],
                                    q.a[q.w + 8] - q.a[8],
                                    q.a[q.w + 9] - q.a[9],
                                    q.a[q.w + 10] - q.a[10],
                                    q.a[q.w + 11] - q.a[11],
                                    q.a[q.w + 12] - q.a[12]
                           ) >= q.n - floor(q.n * q.season_share / 100.0 + 0.5)
                ), day AS (
                    -- x: the day of a common year, 0-364 (29 February counts as 1 March)
                    SELECT l.partner_id, l.day, l.season_days, l.season_share,
                           make_date(2001, extract(month FROM l.day)::int, 1)
                             + extract(day FROM l.day)::int - 1 - DATE '2001-01-01' AS x
                      FROM (SELECT v.partner_id, c.season_days, c.season_share,
                                   %(local_day)s AS day
                              FROM candidate c
                              JOIN housekeeping_visit v ON v.partner_id = c.partner_id
                             WHERE v.state = 'done') l
                ), counted AS (
                    -- n visits, of which tol may fall outside (rounded to the nearest)
                    SELECT d.partner_id, d.x, d.season_days, count(*) OVER w AS n,
                           floor(count(*) OVER w * d.season_share / 100.0 + 0.5) AS tol
                      FROM day d
                    WINDOW w AS (PARTITION BY d.partner_id ORDER BY d.x
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
                ), arc AS (
                    -- the arcs from each visit's day holding every visit (len_all)
                    -- and all but tol (len_tol): the last day is n - 1 (n - tol - 1)
                    -- visits on, or past the new year: 1 (tol + 1) visits back, a
                    -- year later
                    SELECT k.partner_id, k.x AS start, k.season_days,
                           COALESCE(lead(k.x, (k.n - 1)::int) OVER w,
                                    lag(k.x) OVER w + 365) - k.x + 1 AS len_all,
                           COALESCE(lead(k.x, (k.n - k.tol - 1)::int) OVER w,
                                    lag(k.x, (k.tol + 1)::int) OVER w + 365) - k.x + 1 AS len_tol
                      FROM counted k
                    WINDOW w AS (PARTITION BY k.partner_id ORDER BY k.x)
                ), best AS (
                    -- every visit when they fit in the longest season, else all but
                    -- the tolerated ones; the shortest such arc
                    SELECT DISTINCT ON (a.partner_id) a.partner_id, a.start,
                           CASE WHEN a.len_all <= a.season_days THEN a.len_all
                                ELSE a.len_tol END AS len
                      FROM arc a
                     WHERE a.len_tol <= a.season_days
                     ORDER BY a.partner_id, a.len_all <= a.season_days DESC,
                              CASE WHEN a.len_all <= a.season_days THEN a.len_all
                                   ELSE a.len_tol END, a.start
                )
                SELECT b.partner_id, b.start + 1 AS season_start,
                       (b.start + b.len - 1) %% 365 + 1 AS season_end,
                       extract(month FROM DATE '2001-01-01' + b.start)::int AS start_month,
                       extract(day FROM DATE '2001-01-01' + b.start)::int AS start_day
                  FROM best b JOIN day d ON d.partner_id = b.partner_id
                 WHERE (d.x - b.start + 365) %% 365 < b.len
                 GROUP BY b.partner_id, b.start, b.len
                 -- the first day of the season each visit belongs to: two seasons
                 -- are a year apart (a 29 February moves one by a day)
                HAVING max(d.day - (d.x - b.start + 365) %% 365)
                       - min(d.day - (d.x - b.start + 365) %% 365) > 1
            """,
            local_day=local_day(SQL("v.date"), SQL("c.tz")),
        )

    @api.model
    def _lifecycle_suggestion_sql(self):
        """SQL on a row ``s`` of the rules: the code of the churn reason suggested
        to a customer moving to at risk or churned (a quality signal, a price
        rise or a declined quotation, a competitor named in the chatter), or
        NULL."""
        return SQL(
            """CASE
                     WHEN s.new_stage NOT IN ('at_risk', 'churned') THEN NULL
                     WHEN s.quality THEN 'quality'
                     -- a quotation declined (cancelled) since the last visit
                     WHEN EXISTS (
                          SELECT 1 FROM sale_order so
                           WHERE so.partner_id = s.id AND so.state = 'cancel'
                             AND so.date_order >= s.last_visit_date)
                       -- or the last visit of the usual service cost more than the
                       -- average of the earlier ones by the company's percentage
                       OR EXISTS (
                          SELECT 1 FROM (
                              SELECT v.amount,
                                     row_number() OVER (ORDER BY v.date DESC, v.id DESC) AS rn,
                                     sum(v.amount) OVER () AS total, count(*) OVER () AS n
                                FROM housekeeping_visit v
                               WHERE v.partner_id = s.id AND v.state = 'done'
                                 AND v.service_type_id = s.preferred_service_type_id
                          ) h
                           WHERE h.rn = 1 AND h.n >= 2
                             AND h.amount > (1 + s.price_pct / 100.0)
                                            * (h.total - h.amount) / (h.n - 1))
                       THEN 'price'
                     -- visits stopped right after a note mentioning a competitor
                     WHEN EXISTS (
                          SELECT 1 FROM mail_message m
                           WHERE m.model = 'res.partner' AND m.res_id = s.id
                             AND m.message_type = 'comment'
                             AND m.date >= s.last_visit_date - 30
                             AND m.body::text ILIKE ANY(%(keywords)s))
                       THEN 'competitor'
                   END""",
            keywords=self._competitor_patterns(),
        )

    @api.model
    def _lifecycle_customers(self, today, due=False):
        """SQL condition on ``p`` (``res_partner``) of the customers the lifecycle
        rules evaluate: partners with a visit, a prospect flag or a stage already;
        with ``due``, only those whose ``lifecycle_next_check`` has come (or is
        empty)."""
        return SQL(
            """p.active AND %s
               AND (p.visit_count > 0 OR p.is_prospect OR p.lifecycle_stage IS NOT NULL
                    OR EXISTS (SELECT 1 FROM housekeeping_visit v0
                                WHERE v0.partner_id = p.id AND v0.state != 'cancelled'))""",
            SQL("(p.lifecycle_next_check IS NULL OR p.lifecycle_next_check <= %s)", today)
            if due
            else SQL("TRUE"),
        )

    @api.model
    def _competitor_patterns(self):
        words = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param(
                "housekeeping_membership.competitor_keywords",
                "competitor,竞争对手,别家,其他公司,其他家政",
            )
        )
        words = [w.strip().replace("%", r"\%").replace("_", r"\_") for w in words.split(",")]
        return [f"%{w}%" for w in words if w] or ["%competitor%"]

    @api.model
    def _lifecycle_flush(self):
        self.env["housekeeping.visit"].flush_model()
        self.env["housekeeping.complaint"].flush_model(["state", "partner_id"])
        self.env["rating.rating"].flush_model()
        self.env["res.company"].flush_model(list(LIFECYCLE_SETTINGS) + ["hk_price_increase_pct"])
        self.env["sale.order"].flush_model(["state", "partner_id", "date_order"])
        self.env["housekeeping.prediction.fit"].flush_model(["date", "company_id"])
        self.env["housekeeping.service.plan"].flush_model(["partner_id", "active", "paused"])
        self.env["mail.message"].flush_model(["model", "res_id", "body", "date"])
        self.env["res.partner"].flush_model()

    # the rows an evaluation applies: a temporary table (dropped at commit; each batch
    # of the scheduler commits), so that the stage change, its log and its chatter note
    # are written from the rule query's result in SQL, without every row travelling to
    # Python and back as arrays (a quarter of a batch's time at 1M customers, measured)
    _lifecycle_rows = "hk_lifecycle_rows"

    @api.model
    def _lifecycle_load(self, source):
        """Fill the temporary table of the rows to apply from ``source``, an SQL query
        with the columns of ``_lifecycle_query``; returns how many rows it holds."""
        table = SQL.identifier(self._lifecycle_rows)
        self.env.cr.execute(SQL("DROP TABLE IF EXISTS %s", table))
        self.env.cr.execute(
            SQL(
                """CREATE TEMPORARY TABLE %s ON COMMIT DROP AS
                   SELECT q.*, NULL::int4 AS reason_id, false AS won_back FROM (%s) q""",
                table,
                source,
            )
        )
        count = self.env.cr.rowcount
        # a temporary table has no statistics until analysed: without them the joins
        # with res_partner below could scan that table instead of probing its index
        self.env.cr.execute(SQL("ANALYZE %s", table))
        return count

    @api.model
    def _lifecycle_evaluate(self, partner_ids=None, trigger="cron", limit=None):
        """Evaluate (all or some) customers and apply the changes; returns
        ``(changed_count, more)`` where ``more`` says a limit cut the batch."""
        today = fields.Date.context_today(self)
        self._lifecycle_flush()
        count = self._lifecycle_load(
            self._lifecycle_query(today, partner_ids=partner_ids, limit=limit and limit + 1)
        )
        more = bool(limit) and count > limit
        if more:
            self.env.cr.execute(
                SQL(
                    "DELETE FROM %(t)s WHERE id = (SELECT max(id) FROM %(t)s)",
                    t=SQL.identifier(self._lifecycle_rows),
                )
            )
        if not count:
            return 0, more
        # rows whose only change is the day of their next check are not counted
        return self._lifecycle_apply(self._lifecycle_rows, today, trigger), more

    @api.model
    def _visits_done(self, visits):
        """Step of the visit pipeline (``housekeeping.visit._hk_pipeline_done``):
        the stages of the done ``visits``' customers."""
        customers = visits.partner_id
        # a new done visit ends a manual override
        with engine_writes("lifecycle_override_until"):
            customers.filtered("lifecycle_override_until").write(
                {"lifecycle_override_until": False}
            )
        self._lifecycle_evaluate(partner_ids=customers.ids, trigger="visit")

    @api.model
    def _mark_due(self, partners):
        """Have the next run evaluate ``partners`` (their complaints, ratings or
        settings changed)."""
        # one UPDATE, not an ORM write (ratings and complaints arrive one by one and
        # the partner's write() has nothing to do with this column)
        ids = [pid for pid in partners.ids if pid]
        if ids:
            self._apply(self._rows(id=ids), {"lifecycle_next_check": SQL("NULL::date")})

    @api.model
    def _lifecycle_apply(self, rows, today, trigger, reason=None):
        """Write the changes held in the temporary table ``rows`` (see
        ``_lifecycle_load``) set-based: one UPDATE, one INSERT of logs, one of
        chatter notes, churn-reason suggestions, playbooks. Returns how many customers'
        stage (or seasonal flag) changed."""
        Partner = self.env["res.partner"]
        cr = self.env.cr
        table = SQL.identifier(rows)
        # the suggested churn reasons (the active ones, as a search finds them) and the
        # customers won back: a lost customer with a visit done since it was lost (not
        # one whose complaint was resolved, or whose stage an agent set by hand)
        cr.execute(
            SQL(
                """
            UPDATE %(t)s r SET reason_id = cr.id
              FROM housekeeping_churn_reason cr
             WHERE cr.code = r.suggestion AND cr.active;
            UPDATE %(t)s r SET won_back = true
              FROM res_partner p
             WHERE p.id = r.id AND r.old_stage IN %(lost)s AND r.new_stage IN ('new', 'loyal')
               AND p.last_visit_date >= p.lifecycle_stage_date
            """,
                t=table,
                lost=LOST_STAGES,
            )
        )
        self._apply(
            SQL("SELECT * FROM %s", table),
            {
                "lifecycle_stage": "new_stage",
                "lifecycle_seasonal": "seasonal",
                "lifecycle_season_start": "season_start",
                "lifecycle_season_end": "season_end",
                "lifecycle_stage_date": SQL(
                    """CASE WHEN p.lifecycle_stage IS DISTINCT FROM c.new_stage
                            THEN %s::date ELSE p.lifecycle_stage_date END""",
                    today,
                ),
                "won_back_date": SQL(
                    "CASE WHEN c.won_back THEN %s::date ELSE p.won_back_date END", today
                ),
                # a customer back (new, loyal) or not yet one loses the reason; a
                # reason confirmed by staff stays; else the one suggested
                "churn_reason_id": SQL(
                    """CASE WHEN c.new_stage IN ('new', 'loyal', 'potential') THEN NULL
                            WHEN p.churn_reason_confirmed THEN p.churn_reason_id
                            ELSE COALESCE(c.reason_id, p.churn_reason_id) END"""
                ),
                "churn_reason_confirmed": SQL(
                    """CASE WHEN c.new_stage IN ('new', 'loyal', 'potential') THEN false
                            ELSE p.churn_reason_confirmed END"""
                ),
                "lifecycle_override_until": SQL(
                    """CASE WHEN p.lifecycle_override_until < %s::date THEN NULL
                            ELSE p.lifecycle_override_until END""",
                    today,
                ),
                "lifecycle_next_check": "next_check",
            },
            # (the rows are the changes: every one is written)
            only_changed=False,
        )
        # what Python needs of the rows: who changes stage (their company for the
        # notes' reply-to), who is lost or won back (playbooks)
        cr.execute(
            SQL("SELECT id, company_id, old_stage, new_stage, won_back, changed FROM %s", table)
        )
        company_of, lost_ids, won_ids, changed = {}, [], [], 0
        for pid, company, old, new, won_back, row_changed in cr.fetchall():
            changed += bool(row_changed)
            if old == new:
                continue
            company_of[pid] = company
            if new in LOST_STAGES and old not in LOST_STAGES:
                lost_ids.append(pid)
            if won_back:
                won_ids.append(pid)
        if not company_of:
            return changed
        # the stage logs and notes are for staff: in the language of the company
        # whose settings apply to each customer (``_staff_langs``), one pass per
        # language (a few at most, whatever the population)
        by_lang = {}
        for pid, lang in self._staff_langs(list(company_of)).items():
            by_lang.setdefault(lang, []).append(pid)
        for lang, lang_ids in by_lang.items():
            self.with_context(lang=lang)._lifecycle_log_changes(
                table, lang_ids, len(by_lang) > 1, today, trigger, reason
            )
        if lost_ids:
            self._start_winback_playbooks(Partner.browse(lost_ids), today)
        if won_ids:
            self._close_winback_runs(Partner.browse(sorted(won_ids)), today)
        return changed

    @api.model
    def _lifecycle_log_changes(self, table, partner_ids, only_them, today, trigger, reason):
        """The stage logs and chatter notes of the customers ``partner_ids`` whose
        stage changed (rows of the temporary ``table``: only theirs if
        ``only_them``, else all its changed rows are theirs), in the language of the
        environment."""
        Partner = self.env["res.partner"]
        cr = self.env.cr
        scope = SQL("c.id = ANY(%s::int4[])", pg_array(partner_ids)) if only_them else SQL("TRUE")
        # the reason given, a return, a quality signal or the rules; each note's text
        # is one of a few, formatted here once per batch (translated once)
        texts = {
            "given": reason,
            "won": self.env._("Won back: a visit was completed"),
            "quality": self.env._("Service quality signal (complaint or low rating)"),
            "rules": self.env._("Lifecycle rules"),
        }
        kind = SQL(
            """CASE WHEN %s THEN 'given' WHEN c.won_back THEN 'won'
                    WHEN c.suggestion = 'quality' AND c.new_stage = 'at_risk' THEN 'quality'
                    ELSE 'rules' END""",
            bool(reason),
        )
        labels = dict(Partner._fields["lifecycle_stage"]._description_selection(self.env))
        none_label = self.env._("none")
        note_format = self.env._("Lifecycle stage: %(old)s → %(new)s (%(reason)s)")
        notes = {
            f"{old or ''}|{new}|{key}": "".join(
                (
                    "<p>",
                    escape(
                        note_format
                        % {
                            "old": labels.get(old, none_label),
                            "new": labels[new],
                            "reason": text,
                        }
                    ),
                    "</p>",
                )
            )
            for old in [None, *labels]
            for new in labels
            for key, text in texts.items()
            if text
        }
        now = fields.Datetime.now()
        cr.execute(
            SQL(
                """
            INSERT INTO housekeeping_stage_log (partner_id, from_stage, to_stage, date, trigger,
                        reason, days_in_previous_stage, churn_reason_id, company_id,
                        create_uid, create_date, write_uid, write_date)
            SELECT c.id, NULLIF(c.old_stage, ''), c.new_stage, %(today)s, %(trigger)s,
                   %(texts)s::jsonb ->> %(kind)s, COALESCE(%(today)s::date - c.old_stage_date, 0),
                   c.reason_id, c.company_id, %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM %(t)s c
             WHERE c.old_stage IS DISTINCT FROM c.new_stage AND %(scope)s
            """,
                today=today,
                trigger=trigger,
                scope=scope,
                texts=json.dumps(texts),
                kind=kind,
                uid=self.env.uid,
                now=now,
                t=table,
            )
        )
        self.env["housekeeping.stage.log"].invalidate_model()
        self._log_notes_from(
            SQL(
                """SELECT c.id AS res_id,
                          %s::jsonb ->> (COALESCE(c.old_stage, '') || '|' || c.new_stage
                                         || '|' || %s) AS body
                     FROM %s c
                    WHERE c.old_stage IS DISTINCT FROM c.new_stage AND %s""",
                json.dumps(notes),
                kind,
                table,
                scope,
            ),
            partner_ids,
        )

    # ------------------------------------------------------------------ win-back
    @api.model
    def _start_winback_playbooks(self, partners, today):
        """Open the playbook of each customer's churn reason: an activity with the
        script for a service agent and, when configured, a compensation coupon."""
        # the columns read here and by the activities' document name (the customer's
        # display name, computed one activity at a time by mail.activity: the fields
        # Odoo declares it and the complete name to depend on), in one query for the
        # batch: not a fetch of every partner column
        display_fields = {
            dependency.split(".")[0]
            for name in ("display_name", "complete_name")
            for dependency in partners._fields[name].get_depends(partners)[0]
        }
        # only the customers with a reason have a playbook (on a first run a third of
        # the population becomes lost and a few have a reason): selected and read in
        # one query
        partners = partners.with_context(active_test=False).search_fetch(
            [("id", "in", partners.ids), ("churn_reason_id", "!=", False)],
            ["churn_reason_id", "company_id", "user_id", *display_fields],
            order="id",
        )
        if not partners:
            return
        playbooks = self.env["housekeeping.winback.playbook"].search(
            [("reason_id", "in", partners.churn_reason_id.ids)], order="sequence, id"
        )
        by_reason = {}
        for playbook in playbooks:
            by_reason.setdefault(playbook.reason_id.id, playbook)
        # the activity is for staff: the playbook's name and script in the language
        # of each customer's company (``_staff_langs``), read once per language
        lang_of = self._staff_langs(partners.ids)
        texts = {
            (lang, playbook.id): (playbook.name, playbook.script)
            for lang in set(lang_of.values())
            for playbook in playbooks.with_context(lang=lang)
        }
        activities, runs = [], []
        fallback = partners._hk_fallback_agent()
        model_id = self.env["ir.model"]._get_id("res.partner")
        for partner in partners:
            playbook = by_reason.get(partner.churn_reason_id.id)
            if not playbook or (
                playbook.company_id
                and partner.company_id
                and playbook.company_id != partner.company_id
            ):
                continue
            activities.append(
                {
                    "res_model_id": model_id,
                    "res_id": partner.id,
                    "activity_type_id": playbook.activity_type_id.id,
                    "summary": texts[lang_of[partner.id], playbook.id][0],
                    "note": texts[lang_of[partner.id], playbook.id][1],
                    "date_deadline": today + timedelta(days=playbook.activity_delay_days),
                    "user_id": (partner.user_id or playbook.user_id or fallback).id,
                }
            )
            runs.append(
                {
                    "partner_id": partner.id,
                    "playbook_id": playbook.id,
                    "date": today,
                    "deadline": today + timedelta(days=playbook.winback_days),
                    "company_id": partner.company_id.id,
                    "program": playbook.loyalty_program_id,
                }
            )
        # created in bulk by the engine: the agents see them in their activities, without
        # one notification e-mail per activity (mail.activity would send one each)
        self.env["mail.activity"].sudo().with_context(mail_activity_quick_update=True).create(
            activities
        )
        with_coupon = [run for run in runs if run["program"]]
        if with_coupon:
            # Coupons are native loyalty cards (their rights are sales rights).
            cards = (
                self.env["loyalty.card"]
                .sudo()
                .create(
                    [
                        {
                            "program_id": run["program"].id,
                            "partner_id": run["partner_id"],
                            "points": 1,
                        }
                        for run in with_coupon
                    ]
                )
            )
            for run, card in zip(with_coupon, cards, strict=True):
                run["loyalty_card_id"] = card.id
        for run in runs:
            del run["program"]
        self.env["housekeeping.winback.run"].sudo().create(runs)

    @api.model
    def _close_winback_runs(self, partners, today):
        runs = (
            self.env["housekeeping.winback.run"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", partners.ids),
                    ("won_back", "=", False),
                    ("deadline", ">=", today),
                ]
            )
        )
        runs.write({"won_back": True, "won_back_date": today})
