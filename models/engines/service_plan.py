"""Recurring service plans: the daily run (``ir_cron_service_plan``) keeps the
next weeks (``res.company.hk_plan_horizon_weeks``) of every active plan's visits
created. Set-based: per batch of plans, one INSERT … SELECT generates the days
of the horizon, keeps those of each plan's rhythm that are not skipped (the
customer's requests, the company's holidays) and have no visit yet, and creates
the visits; the unique index on (plan, occurrence day) makes a rerun, or a run
racing another, create nothing twice (``ON CONFLICT DO NOTHING``). Then a
plan's cleaner busy at that time is taken off, and dispatch assigns the visits
without a cleaner, in one pass."""

from odoo import api, fields, models
from odoo.tools import SQL


class HousekeepingEngineServicePlan(models.AbstractModel):
    _name = "housekeeping.engine.service_plan"
    _inherit = ["housekeeping.engine"]
    _description = "Service Plan Engine"

    _engine_key = "service_plan"
    _engine_batch_param = "service_plan_batch_size"
    _engine_batch_default = 20000

    @api.model
    def _run(self):
        """One pass over the active plans, in batches of plans by id."""

        def step(limit, after):
            self.env.cr.execute(
                SQL(
                    """SELECT id FROM housekeeping_service_plan
                        WHERE active AND paused IS NOT TRUE AND id > %s ORDER BY id LIMIT %s""",
                    after,
                    limit,
                )
            )
            ids = [row[0] for row in self.env.cr.fetchall()]
            if not ids:
                return 0, 0, False, after
            created = self._generate(ids)
            return len(ids), len(created), len(ids) == limit, ids[-1]

        self.env["housekeeping.service.plan"].flush_model()
        return self._batches(
            self._engine_key,
            self._engine_batch_param,
            step,
            default=self._engine_batch_default,
        )

    # ------------------------------------------------------------------ occurrences
    @api.model
    def _occurrences_sql(self, plan_ids, exclude=()):
        """SQL: ``plan_id, day, date`` (the visit's UTC start) of the occurrences
        of ``plan_ids`` from now to the horizon that have no visit yet (visits
        ``exclude`` do not count), within the plan's number of visits."""
        now = fields.Datetime.now()
        return SQL(
            """
        -- materialized: each plan's weekdays and count once, not once per day
        WITH p AS MATERIALIZED (
            SELECT pl.id, pl.rhythm, GREATEST(COALESCE(pl.interval, 1), 1) AS interval, pl.month_day, pl.month_week,
                   pl.time_start, pl.date_start, pl.max_visits, pl.skip_holidays,
                   pl.company_id,
                   COALESCE(rp.tz, 'Asia/Shanghai') AS tz,
                   wd.number AS month_dow,
                   ARRAY(SELECT w.number FROM hk_plan_weekday_rel r
                           JOIN housekeeping_weekday w ON w.id = r.weekday_id
                          WHERE r.plan_id = pl.id) AS dows,
                   -- today in the customer's time zone, whoever asks (a portal
                   -- user in Shanghai and the scheduler in UTC see the same horizon)
                   GREATEST(pl.date_start, %(local_today)s) AS first_day,
                   LEAST(COALESCE(pl.date_end, 'infinity'::date),
                         %(local_today)s + 7 * c.hk_plan_horizon_weeks) AS last_day,
                   (SELECT count(*) FROM housekeeping_visit v
                     WHERE v.plan_id = pl.id AND v.plan_occurrence IS NOT NULL
                       AND v.id != ALL(%(exclude)s)) AS made
              FROM housekeeping_service_plan pl
              JOIN res_partner rp ON rp.id = pl.partner_id
              JOIN res_company c ON c.id = pl.company_id
              LEFT JOIN housekeeping_weekday wd ON wd.id = pl.month_weekday_id
             WHERE pl.id = ANY(%(plans)s) AND pl.active AND pl.paused IS NOT TRUE
        ), d AS (
            SELECT p.*, g.day::date AS day
              FROM p, generate_series(p.first_day, p.last_day, interval '1 day') AS g(day)
             WHERE p.first_day <= p.last_day
        ), o AS (
            SELECT d.id AS plan_id, d.day, d.max_visits, d.made,
                   ((d.day + make_interval(secs => d.time_start * 3600)) AT TIME ZONE d.tz)
                       AT TIME ZONE 'UTC' AS start
              FROM d
             WHERE CASE d.rhythm
                   WHEN 'weekly' THEN
                        extract(isodow FROM d.day)::int = ANY(d.dows)
                        AND ((d.day - date_trunc('week', d.date_start)::date) / 7) %% d.interval = 0
                   ELSE
                        ((extract(year FROM d.day) * 12 + extract(month FROM d.day))
                         - (extract(year FROM d.date_start) * 12
                            + extract(month FROM d.date_start)))::int %% d.interval = 0
                        AND CASE d.rhythm
                            WHEN 'monthly_day' THEN
                                 extract(day FROM d.day)::int = LEAST(d.month_day,
                                    extract(day FROM date_trunc('month', d.day)
                                            + interval '1 month - 1 day')::int)
                            ELSE
                                 extract(isodow FROM d.day)::int = d.month_dow
                                 AND CASE d.month_week
                                     WHEN 'last' THEN
                                          d.day + 7 >= (date_trunc('month', d.day)
                                                       + interval '1 month')::date
                                     ELSE (extract(day FROM d.day)::int - 1) / 7 + 1
                                          = d.month_week::int
                                     END
                            END
                   END
               AND NOT EXISTS (SELECT 1 FROM housekeeping_service_plan_skip s
                                WHERE s.plan_id = d.id AND s.date = d.day)
               AND NOT (d.skip_holidays IS TRUE AND EXISTS (
                        SELECT 1 FROM housekeeping_holiday h
                         WHERE h.active AND d.day BETWEEN h.date_from AND h.date_to
                           AND (h.company_id IS NULL OR h.company_id = d.company_id)))
               AND NOT EXISTS (SELECT 1 FROM housekeeping_visit v
                                WHERE v.plan_id = d.id AND v.plan_occurrence = d.day
                                  AND v.id != ALL(%(exclude)s))
        ), n AS (
            SELECT o.*, row_number() OVER (PARTITION BY o.plan_id ORDER BY o.day) AS rn
              FROM o
             WHERE o.start > %(now)s
        )
        SELECT n.plan_id, n.day, n.start FROM n
         WHERE COALESCE(n.max_visits, 0) = 0 OR n.made + n.rn <= n.max_visits
        """,
            local_today=SQL(
                "((%s::timestamp AT TIME ZONE 'UTC') AT TIME ZONE COALESCE(rp.tz, 'Asia/Shanghai'))"
                "::date",
                now,
            ),
            now=now,
            plans=list(plan_ids),
            exclude=list(exclude),
        )

    @api.model
    def _occurrences(self, plan_ids, exclude=()):
        """[(plan id, day, UTC start)] of the occurrences still without a visit."""
        if not plan_ids:
            return []
        self._flush()
        self.env.cr.execute(
            SQL("%s ORDER BY 1, 2", self._occurrences_sql(plan_ids, exclude=exclude))
        )
        return self.env.cr.fetchall()

    def _flush(self):
        # the planner's estimate of the days of the horizon is far too high (a
        # set-returning function): JIT would compile for seconds a query that runs
        # in one (2.6 of 3.6 s for 20,000 plans, measured)
        self._without_jit()
        for model in (
            "housekeeping.service.plan",
            "housekeeping.service.plan.skip",
            "housekeeping.visit",
            "housekeeping.holiday",
            "res.partner",
            "res.company",
        ):
            self.env[model].flush_model()

    # ------------------------------------------------------------------ visits
    @api.model
    def _visit_name_sql(self):
        """SQL for a new visit's reference, from its sequence (``housekeeping.visit``)
        when it is a plain PostgreSQL sequence; else '/' and the sequence, to name the
        visits afterwards."""
        seq = (
            self.env["ir.sequence"]
            .sudo()
            .search(
                [
                    ("code", "=", "housekeeping.visit"),
                    ("company_id", "in", [self.env.company.id, False]),
                ],
                order="company_id",
                limit=1,
            )
        )
        if not seq or seq.implementation != "standard" or seq.use_date_range:
            return SQL("'/'"), seq
        prefix, suffix = seq._get_prefix_suffix()
        seq_id, padding = seq.id, seq.padding
        seq = None  # named by the INSERT
        return (
            SQL(
                "%s || lpad(nextval(%s)::text, %s, '0') || %s",
                prefix or "",
                f"ir_sequence_{seq_id:03d}",
                padding,
                suffix or "",
            ),
            seq,
        )

    @api.model
    def _generate(self, plan_ids):
        """Create the missing visits of ``plan_ids`` up to the horizon; returns them."""
        visit_model = self.env["housekeeping.visit"]
        if not plan_ids:
            return visit_model
        self._flush()
        name_sql, seq = self._visit_name_sql()
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO housekeeping_visit
                   (name, partner_id, service_type_id, date, duration, employee_id,
                    user_id, company_id, amount, state, plan_id, plan_occurrence,
                    tier_sequence, sale_order_id, sale_line_id,
                    create_uid, create_date, write_uid, write_date)
            SELECT %(name)s, pl.partner_id, pl.service_type_id, occ.start, pl.duration,
                   pl.employee_id, COALESCE(pl.user_id, rp.user_id, %(uid)s), pl.company_id,
                   pl.amount, 'scheduled', pl.id, occ.day,
                   CASE WHEN t.priority_booking THEN t.sequence ELSE 0 END,
                   pl.sale_order_id, pl.sale_line_id,
                   %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM (%(occ)s) occ
              JOIN housekeeping_service_plan pl ON pl.id = occ.plan_id
              JOIN res_partner rp ON rp.id = pl.partner_id
              LEFT JOIN housekeeping_tier t ON t.id = rp.membership_tier_id
             ORDER BY occ.plan_id, occ.day
            ON CONFLICT DO NOTHING
            RETURNING id
            """,
                name=name_sql,
                uid=self.env.uid,
                now=now,
                occ=self._occurrences_sql(plan_ids),
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        if not ids:
            return visit_model
        if seq:
            names = [seq._next() for _i in ids]
            self._apply(
                self._rows(model="housekeeping.visit", id=ids, name=names),
                {"name": "name"},
                model="housekeeping.visit",
                only_changed=False,
            )
        # a plan's cleaner already booked then (another customer, a priority
        # member) leaves the visit to dispatch
        self._apply(
            SQL(
                """
            SELECT v.id FROM housekeeping_visit v
             WHERE v.id = ANY(%(ids)s) AND v.employee_id IS NOT NULL
               AND EXISTS (
                   SELECT 1 FROM housekeeping_visit o
                    WHERE o.employee_id = v.employee_id AND o.id != v.id
                      AND o.state IN ('draft', 'scheduled')
                      AND o.date < v.date + v.duration * interval '1 hour'
                      AND o.date + o.duration * interval '1 hour' > v.date
                      AND o.date > v.date - interval '1 day')
            """,
                ids=ids,
            ),
            {"employee_id": SQL("NULL::int4")},
            model="housekeeping.visit",
        )
        # rows written in SQL: what the caches hold of visits, and the plans' and
        # customers' lists of them, are read again
        visit_model.invalidate_model()
        self.env["housekeeping.service.plan"].invalidate_model(["visit_ids"])
        self.env["res.partner"].invalidate_model(["visit_ids"])
        self.env["sale.order"].invalidate_model(["hk_visit_ids"])
        visits = visit_model.browse(ids)
        self.env.cr.execute(
            SQL(
                "SELECT id FROM housekeeping_visit WHERE id = ANY(%s) AND employee_id IS NULL",
                ids,
            )
        )
        unassigned = visit_model.browse([row[0] for row in self.env.cr.fetchall()])
        if unassigned:
            self.env["housekeeping.engine.dispatch"]._auto_assign(unassigned)
        return visits
