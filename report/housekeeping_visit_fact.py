import logging

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# the key of a fact row; NULL service type or cleaner compare as 0
FACT_KEY = "company_id, date, COALESCE(service_type_id, 0), COALESCE(employee_id, 0)"
# visit fields a fact reads: a done visit changing one of them moves or changes facts
FACT_VISIT_FIELDS = ("date", "company_id", "service_type_id", "employee_id", "amount", "duration")
FACT_MEASURES = (
    "visit_count",
    "amount",
    "duration",
    "rated_count",
    "rating_sum",
    "complaint_count",
    "complained_visit_count",
)


class HousekeepingVisitFact(models.Model):
    """Done visits aggregated per company, local day (time zone of the company's
    address, else UTC), service type and cleaner: the table the visit reports and
    the dashboard's visit figures read instead of the visits (a few rows per
    cleaner and day instead of every visit).

    Kept exact by the code that changes its inputs, each time recomputing the
    keys it touched from the visits in one statement (``_hk_refresh``): the
    visit pipeline (done, cancelled), a done visit's date, cleaner, service
    type, company, amount or duration edited, a rating given, changed or
    removed, a complaint created, moved, cancelled or deleted. ``_hk_rebuild``
    recomputes everything and fixes what differs (upgrade, nightly check)."""

    _name = "housekeeping.visit.fact"
    _description = "Done Visits per Day"
    _log_access = False
    _order = "date desc, id desc"
    _rec_name = "date"
    # a done visit writing one of these refreshes its facts (housekeeping.visit.write)
    _visit_fields = FACT_VISIT_FIELDS

    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    date = fields.Date(string="Day", required=True, readonly=True)
    service_type_id = fields.Many2one("housekeeping.service.type", readonly=True)
    employee_id = fields.Many2one("hr.employee", string="Cleaner", readonly=True)
    visit_count = fields.Integer(string="Visits", readonly=True)
    # numeric (digits=0): sums added and taken away stay exact
    amount = fields.Float(string="Revenue", readonly=True, digits=0)
    duration = fields.Float(string="Hours", readonly=True, digits=0)
    rated_count = fields.Integer(string="Rated Visits", readonly=True)
    rating_sum = fields.Float(string="Sum of Ratings", readonly=True, digits=0)
    complaint_count = fields.Integer(string="Complaints", readonly=True)
    complained_visit_count = fields.Integer(string="Visits with Complaints", readonly=True)

    _key_uniq = models.UniqueIndex(f"({FACT_KEY})")
    _date_idx = models.Index("(date, company_id)")

    # ------------------------------------------------------------------ SQL
    @api.model
    def _tz_sql(self):
        """SQL relation ``tz(company_id, tz)``: the time zone of each company's days."""
        return SQL(
            """SELECT c.id AS company_id, COALESCE(NULLIF(p.tz, ''), 'UTC') AS tz
                 FROM res_company c JOIN res_partner p ON p.id = c.partner_id"""
        )

    @api.model
    def _aggregate_sql(self, where, done_only=True):
        """SQL of the facts computed from scratch from the visits matching ``where``
        (SQL on ``v``, the visits, and ``z.tz``), done ones only unless
        ``done_only`` is False: one row per key."""
        return SQL(
            """SELECT v.company_id,
                      (v.date AT TIME ZONE 'UTC' AT TIME ZONE z.tz)::date AS date,
                      v.service_type_id, v.employee_id,
                      count(*) AS visit_count, COALESCE(sum(v.amount), 0) AS amount,
                      COALESCE(sum(v.duration), 0) AS duration,
                      count(*) FILTER (WHERE v.rating_last_value > 0) AS rated_count,
                      COALESCE(sum(v.rating_last_value) FILTER (WHERE v.rating_last_value > 0), 0)
                          AS rating_sum,
                      COALESCE(sum(cp.n), 0) AS complaint_count,
                      count(cp.n) AS complained_visit_count
                 FROM housekeeping_visit v
                 JOIN (%(tz)s) z ON z.company_id = v.company_id
                 LEFT JOIN LATERAL (
                      SELECT count(*) AS n FROM housekeeping_complaint c
                       WHERE c.visit_id = v.id AND c.state != 'cancelled'
                      HAVING count(*) > 0) cp ON TRUE
                WHERE %(done)s AND v.date IS NOT NULL AND %(where)s
                GROUP BY 1, 2, 3, 4""",
            tz=self._tz_sql(),
            where=where,
            done=SQL("v.state = 'done'") if done_only else SQL("TRUE"),
        )

    @api.model
    def _upsert_sql(self, source):
        """INSERT the rows of ``source`` (SQL, the columns of ``_aggregate_sql``),
        updating the facts of the same key."""
        columns = SQL(", ".join(FACT_MEASURES))
        return SQL(
            """INSERT INTO housekeeping_visit_fact
                          (company_id, date, service_type_id, employee_id, %(columns)s)
               SELECT company_id, date, service_type_id, employee_id, %(columns)s
                 FROM (%(source)s) s
               ON CONFLICT (%(key)s) DO UPDATE SET %(set)s
                WHERE (%(old)s) IS DISTINCT FROM (%(new)s)""",
            columns=columns,
            source=source,
            key=SQL(FACT_KEY),
            set=SQL(", ".join(f"{m} = EXCLUDED.{m}" for m in FACT_MEASURES)),
            old=SQL(", ".join(f"housekeeping_visit_fact.{m}" for m in FACT_MEASURES)),
            new=SQL(", ".join(f"EXCLUDED.{m}" for m in FACT_MEASURES)),
        )

    def _flush_inputs(self):
        self.env["housekeeping.visit"].flush_model(
            [*FACT_VISIT_FIELDS, "state", "rating_last_value"]
        )
        self.env["housekeeping.complaint"].flush_model(["visit_id", "state"])
        self.env["res.company"].flush_model(["partner_id"])
        self.env["res.partner"].flush_model(["tz"])

    # ------------------------------------------------------------------ incremental
    @api.model
    def _hk_keys(self, visit_ids):
        """The fact keys of the visits ``visit_ids`` as they are now (whatever their
        state), to refresh after they change: [(company, day, service type, cleaner)]."""
        if not visit_ids:
            return []
        self._flush_inputs()
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT v.company_id,
                          (v.date AT TIME ZONE 'UTC' AT TIME ZONE z.tz)::date,
                          COALESCE(v.service_type_id, 0), COALESCE(v.employee_id, 0)
                     FROM housekeeping_visit v
                     JOIN (%s) z ON z.company_id = v.company_id
                    WHERE v.id = ANY(%s) AND v.date IS NOT NULL""",
                self._tz_sql(),
                list(visit_ids),
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _hk_refresh(self, visit_ids, keys=()):
        """Recompute, from the visits, the facts of the keys of ``visit_ids`` (as they
        are now) and of ``keys`` (their keys before a change, from ``_hk_keys``), in
        one statement: rows upserted, rows of keys left without a done visit
        deleted.

        Concurrency: two transactions refreshing one key both write its row (or
        both insert it); under Odoo's REPEATABLE READ the later one fails to
        serialize (a concurrent update, or a conflicting row its snapshot does not
        see) and Odoo retries its request, which then counts both visits. A key is
        one cleaner's day and service type, so two completions rarely meet."""
        if not visit_ids and not keys:
            return
        self._flush_inputs()
        companies, days, services, employees = (
            (list(col) for col in zip(*keys, strict=True)) if keys else ([], [], [], [])
        )
        self.env.cr.execute(
            SQL(
                """
            WITH z AS (%(tz)s), k AS (
                SELECT x.company_id, x.day, x.service_type_id, x.employee_id, z.tz
                  FROM unnest(%(companies)s::int[], %(days)s::date[], %(services)s::int[],
                              %(employees)s::int[]) AS x(company_id, day, service_type_id,
                                                         employee_id)
                  JOIN z ON z.company_id = x.company_id
                 UNION
                SELECT v.company_id, (v.date AT TIME ZONE 'UTC' AT TIME ZONE z.tz)::date,
                       COALESCE(v.service_type_id, 0), COALESCE(v.employee_id, 0), z.tz
                  FROM housekeeping_visit v
                  JOIN z ON z.company_id = v.company_id
                 WHERE v.id = ANY(%(visit_ids)s) AND v.date IS NOT NULL
            ), agg AS (
                SELECT k.company_id, k.day AS date, NULLIF(k.service_type_id, 0) AS service_type_id,
                       NULLIF(k.employee_id, 0) AS employee_id, a.*
                  FROM k, LATERAL (
                       SELECT count(*) AS visit_count, COALESCE(sum(v.amount), 0) AS amount,
                              COALESCE(sum(v.duration), 0) AS duration,
                              count(*) FILTER (WHERE v.rating_last_value > 0) AS rated_count,
                              COALESCE(sum(v.rating_last_value)
                                       FILTER (WHERE v.rating_last_value > 0), 0) AS rating_sum,
                              COALESCE(sum(cp.n), 0) AS complaint_count,
                              count(cp.n) AS complained_visit_count
                         FROM housekeeping_visit v
                         LEFT JOIN LATERAL (
                              SELECT count(*) AS n FROM housekeeping_complaint c
                               WHERE c.visit_id = v.id AND c.state != 'cancelled'
                              HAVING count(*) > 0) cp ON TRUE
                        WHERE v.state = 'done' AND COALESCE(v.employee_id, 0) = k.employee_id
                          AND v.date >= (k.day::timestamp AT TIME ZONE k.tz) AT TIME ZONE 'UTC'
                          AND v.date < ((k.day + 1)::timestamp AT TIME ZONE k.tz)
                                       AT TIME ZONE 'UTC'
                          AND v.company_id = k.company_id
                          AND COALESCE(v.service_type_id, 0) = k.service_type_id) a
            ), gone AS (
                DELETE FROM housekeeping_visit_fact f
                 USING agg
                 WHERE agg.visit_count = 0 AND f.company_id = agg.company_id
                   AND f.date = agg.date
                   AND COALESCE(f.service_type_id, 0) = COALESCE(agg.service_type_id, 0)
                   AND COALESCE(f.employee_id, 0) = COALESCE(agg.employee_id, 0)
            )
            %(upsert)s
                """,
                companies=companies,
                days=days,
                services=services,
                employees=employees,
                visit_ids=list(visit_ids),
                tz=self._tz_sql(),
                upsert=self._upsert_sql(SQL("SELECT * FROM agg WHERE visit_count > 0")),
            )
        )
        self.invalidate_model()

    @api.model
    def _hk_add(self, visit_ids, sign=1):
        """Add (``sign`` 1: the visits just became done) or take away (-1: they were
        done and are no longer, nothing else of them changed) the contribution of
        the visits ``visit_ids`` to their keys, in one call whatever the number of
        visits a key already counts (a recount of the key reads all of them: a
        cleaner's busy day at the largest benchmark scale is 1,800 visits). The
        rows left without a visit are deleted. Concurrency as in ``_hk_refresh``:
        two transactions adding to one row, the later fails to serialize and is
        retried."""
        if not visit_ids:
            return
        self._flush_inputs()
        columns = SQL(", ".join(FACT_MEASURES))
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO housekeeping_visit_fact
                   (company_id, date, service_type_id, employee_id, %(columns)s)
            SELECT company_id, date, service_type_id, employee_id, %(signed)s
              FROM (%(source)s) s
            ON CONFLICT (%(key)s) DO UPDATE SET %(add)s;
            DELETE FROM housekeeping_visit_fact f
             WHERE f.visit_count <= 0
               AND f.date IN (SELECT (v.date AT TIME ZONE 'UTC' AT TIME ZONE z.tz)::date
                                FROM housekeeping_visit v
                                JOIN (%(tz)s) z ON z.company_id = v.company_id
                               WHERE v.id = ANY(%(ids)s) AND v.date IS NOT NULL)
                """,
                columns=columns,
                signed=SQL(
                    ", ".join(f"%s * {m}" for m in FACT_MEASURES), *[sign] * len(FACT_MEASURES)
                ),
                source=self._aggregate_sql(SQL("v.id = ANY(%s)", list(visit_ids)), done_only=False),
                key=SQL(FACT_KEY),
                add=SQL(
                    ", ".join(
                        f"{m} = housekeeping_visit_fact.{m} + EXCLUDED.{m}" for m in FACT_MEASURES
                    )
                ),
                tz=self._tz_sql(),
                ids=list(visit_ids),
            )
        )
        self.invalidate_model()

    # ------------------------------------------------------------------ rebuild
    @api.model
    def _hk_rebuild(self):
        """Recompute every fact from the visits and fix the rows that differ (a
        database upgraded to the facts, the nightly check, a company's time zone
        changed). Returns the number of rows written or deleted."""
        self._flush_inputs()
        self.env.cr.execute(
            SQL(
                """
            CREATE TEMPORARY TABLE hk_fact_rebuild ON COMMIT DROP AS %(agg)s;
            WITH gone AS (
                DELETE FROM housekeeping_visit_fact f
                 WHERE NOT EXISTS (
                       SELECT 1 FROM hk_fact_rebuild r
                        WHERE r.company_id = f.company_id AND r.date = f.date
                          AND COALESCE(r.service_type_id, 0) = COALESCE(f.service_type_id, 0)
                          AND COALESCE(r.employee_id, 0) = COALESCE(f.employee_id, 0))
                RETURNING 1
            ), written AS (
                %(upsert)s
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM written);
                """,
                agg=self._aggregate_sql(SQL("TRUE")),
                upsert=self._upsert_sql(SQL("SELECT * FROM hk_fact_rebuild")),
            )
        )
        fixed = self.env.cr.fetchone()[0]
        self.env.cr.execute("DROP TABLE hk_fact_rebuild")
        self.invalidate_model()
        return fixed

    @api.model
    def _cron_check(self):
        """Nightly: the facts against the visits; what differs is fixed and logged
        (nothing should, every change refreshes its keys)."""
        fixed = self._hk_rebuild()
        if fixed:
            _logger.warning("visit facts: %s rows differed from the visits and were fixed", fixed)
        return fixed

    @api.model
    def _hk_expected(self):
        """The facts computed from scratch, for the tests and the check:
        {(company, day, service type, cleaner): (measures…)}."""
        self._flush_inputs()
        self.env.cr.execute(self._aggregate_sql(SQL("TRUE")))
        return {tuple(row[:4]): tuple(row[4:]) for row in self.env.cr.fetchall()}

    @api.model
    def _hk_current(self):
        self.env.cr.execute(
            SQL(
                "SELECT company_id, date, service_type_id, employee_id, %s "
                "FROM housekeeping_visit_fact",
                SQL(", ".join(FACT_MEASURES)),
            )
        )
        return {tuple(row[:4]): tuple(row[4:]) for row in self.env.cr.fetchall()}
