from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain
from odoo.tools import SQL, format_amount

from .lifecycle_rules import LIFECYCLE_STAGES

ACTIVE_DAYS = 90
# the horizon of the visits forecast (the customers' expected_visits_90d)
FORECAST_DAYS = 90


PERIODS = ("month", "30d")

# the visit KPIs of a snapshot row (housekeeping.dashboard.snapshot), in the order
# of ``_visit_kpi_rows``
SNAPSHOT_KPIS = (
    "active_count",
    "active_prev_count",
    "active_prev2_count",
    "retained_count",
    "retained_prev_count",
    "buyer_count",
    "repeat_buyer_count",
    "buyer_prev_count",
    "repeat_buyer_prev_count",
)


class HousekeepingDashboard(models.AbstractModel):
    """The *Membership Overview* dashboard (client action ``hk_membership_dashboard``,
    static/src/dashboard): its figures in one call, read-only (a read replica
    serves it when configured), a number of queries that does not depend on the
    population; a click on a customer KPI opens those customers
    (``action_open_kpi``)."""

    _name = "housekeeping.dashboard"
    _description = "Membership Overview"

    @api.model
    @api.readonly
    def get_dashboard_data(self, period="month", company_ids=None):
        """Figures of the "Membership Overview" dashboard for the companies of the
        user (``company_ids``, a subset of the user's allowed companies, or the
        companies selected in the web client), each KPI with the value of the
        previous period and the trend.

        Periods compare like with like. ``period`` is ``month`` (this month to
        date against the same days of last month) or ``30d`` (the last 30 days
        against the 30 before): new and churned customers count in those windows;
        at risk customers and the points liability are taken now and at the end of
        the previous window. Active customers, satisfaction and retention compare
        the last 90 days with the 90 days before; the repeat-purchase rate the last
        12 months with the 12 before.
        """
        ctx = self._dashboard_context(period, company_ids)
        # the figures of the last nightly run (housekeeping.dashboard.snapshot),
        # None before the first one: then computed live
        ctx["snapshot"] = self._snapshot_rows(ctx)
        # the month-end stages' estimated cost makes PostgreSQL compile the query
        # (JIT): 0.2 s of compiling for a few milliseconds of work
        self.env["housekeeping.engine"]._without_jit()
        values = {}
        for key, query in self._queries(ctx).items():
            self.env.cr.execute(query)
            values[key] = self.env.cr.fetchone()
        # active customers, repeat-purchase rate, retention (current, previous each)
        values.update(self._visit_kpis(ctx))
        allowed = self._allowed_companies()
        return {
            "kpis": self._kpis(values, ctx),
            "as_of": self._as_of(ctx),
            "charts": self._charts(ctx),
            "forecast": self._forecast(ctx),
            "cleaners": self._cleaner_ranking(ctx),
            "date": fields.Date.to_string(ctx["today"]),
            "period": ctx["period"],
            "periods": [
                {"key": "month", "label": self.env._("Month to date")},
                {"key": "30d", "label": self.env._("Last 30 days")},
            ],
            "compare": self.env._(
                "%(start)s – %(end)s against %(prev_start)s – %(prev_end)s",
                start=fields.Date.to_string(ctx["start"]),
                end=fields.Date.to_string(ctx["today"]),
                prev_start=fields.Date.to_string(ctx["prev_start"]),
                prev_end=fields.Date.to_string(ctx["prev_end"]),
            ),
            "companies": [{"id": c.id, "name": c.name} for c in allowed],
            "company_ids": ctx["companies"],
            "currency_id": ctx["currency"].id,
        }

    @api.model
    def _allowed_companies(self):
        return self.env.user.company_ids if not self.env.su else self.env["res.company"].search([])

    @api.model
    def _dashboard_context(self, period="month", company_ids=None):
        """Check the access, flush, and return the periods and companies of a
        dashboard call."""
        self.env["res.partner"]._hk_check_staff()
        if not self.env.su and not self.env.user.has_group(
            "housekeeping_membership.group_membership_user"
        ):
            raise AccessError(self.env._("Only membership users can open the dashboard."))
        if period not in PERIODS:
            raise UserError(self.env._("Unknown period %(period)s.", period=period))
        for model in (
            "housekeeping.visit",
            "housekeeping.stage.log",
            "housekeeping.points.entry",
            "rating.rating",
            "res.partner",
        ):
            self.env[model].flush_model()
        companies = self.env.companies
        if company_ids:
            companies = self._allowed_companies() & self.env["res.company"].browse(company_ids)
            if len(companies) != len(set(company_ids)):
                raise AccessError(self.env._("You cannot see the figures of these companies."))
        today = fields.Date.context_today(self)
        return {
            "today": today,
            "month": today.replace(day=1),
            "period": period,
            "companies": companies.ids,
            "currency": (
                self.env.company if self.env.company in companies else companies[:1]
            ).currency_id,
            **self._period_windows(today, period),
        }

    @api.model
    def _period_windows(self, today, period):
        """``start`` (the current window is ``[start, today]``) and the previous
        window ``[prev_start, prev_end]`` of the same length: the same days of last
        month (ending on its last day when it is shorter), or the 30 days before."""
        if period == "30d":
            start = today - timedelta(days=29)
            prev_end = start - timedelta(days=1)
            return {
                "start": start,
                "prev_start": prev_end - timedelta(days=29),
                "prev_end": prev_end,
            }
        start = today.replace(day=1)
        prev_start = start - relativedelta(months=1)
        prev_end = min(prev_start + (today - start), start - timedelta(days=1))
        return {"start": start, "prev_start": prev_start, "prev_end": prev_end}

    @api.model
    def _partner_company_domain(self, company_ids):
        """The domain of customers whose settings company
        (``housekeeping.engine._settings_company_sql``) is one of ``company_ids``."""
        partner_fields = self.env["res.partner"]._fields
        domain = Domain("company_id", "in", company_ids)
        unset = Domain("company_id", "=", False)
        main_in = self.env["res.partner"]._hk_main_company_id() in company_ids
        if "hk_visit_company_id" in partner_fields:
            domain |= unset & Domain("hk_visit_company_id", "in", company_ids)
            unset &= Domain("hk_visit_company_id", "=", False)
        if main_in:
            domain |= unset
        return domain

    @api.model
    def _visit_window_domain(self, ctx, days_back_from, days_back_to):
        today = ctx["today"]
        return Domain(
            [
                ("state", "=", "done"),
                ("company_id", "in", ctx["companies"]),
                ("date", ">=", today - timedelta(days=days_back_from - 1)),
                ("date", "<", today - timedelta(days=days_back_to - 1)),
            ]
        )

    @api.model
    def _kpi_domain(self, key, ctx):
        """The customers a KPI counts (its current value), as a domain on
        res.partner; None for the rates that do not count customers."""
        partners = self._partner_company_domain(ctx["companies"])
        d = ACTIVE_DAYS
        if key == "active":
            return Domain("visit_ids", "any", self._visit_window_domain(ctx, d, 0))
        if key == "retention":
            return Domain("visit_ids", "any", self._visit_window_domain(ctx, 2 * d, d)) & Domain(
                "visit_ids", "any", self._visit_window_domain(ctx, d, 0)
            )
        if key == "new":
            return partners & Domain(
                [("first_visit_date", ">=", ctx["start"]), ("first_visit_date", "<=", ctx["today"])]
            )
        if key == "at_risk":
            return partners & Domain("lifecycle_stage", "=", "at_risk")
        if key == "churned":
            return Domain(
                "stage_log_ids",
                "any",
                [
                    ("to_stage", "=", "churned"),
                    ("date", ">=", ctx["start"]),
                    ("date", "<=", ctx["today"]),
                    ("company_id", "in", ctx["companies"] + [False]),
                ],
            )
        if key == "liability":
            return Domain("points_balance", ">", 0) & Domain(
                "points_entry_ids", "any", [("company_id", "in", ctx["companies"])]
            )
        return None

    @api.model
    @api.readonly
    def action_open_kpi(self, key, period="month", company_ids=None):
        """The customers a KPI card counts, in the customers' list."""
        ctx = self._dashboard_context(period, company_ids)
        domain = self._kpi_domain(key, ctx)
        if domain is None:
            raise UserError(self.env._("This figure is a rate: it does not list customers."))
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "housekeeping_membership.res_partner_action_customers"
        )
        labels = {kpi[0]: kpi[1] for kpi in self._kpi_definitions(ctx)}
        action.update(
            name=labels[key],
            domain=list(domain),
            context={"create": False},
            target="current",
        )
        return action

    @api.model
    def _queries(self, ctx):
        """{kpi: SQL returning (current, previous)}."""
        today = ctx["today"]
        partners = SQL(
            "p.active AND %s = ANY(%s)",
            self.env["housekeeping.engine"]._settings_company_sql("p"),
            ctx["companies"],
        )
        d = ACTIVE_DAYS
        point_values = self.env["housekeeping.reward"]._hk_point_values(
            self.env["res.company"].browse(ctx["companies"])
        )
        # the points of the snapshot (dated before its day), per company
        snapshot = ctx.get("snapshot") or {}
        since = {c: snapshot[c]["date"] if c in snapshot else date.min for c in point_values}
        closed = {c: snapshot[c]["points_closed"] for c in point_values if c in snapshot}
        return {
            "new": SQL(
                """SELECT count(*) FILTER (WHERE p.first_visit_date >= %(start)s),
                          count(*) FILTER (WHERE p.first_visit_date <= %(prev_end)s)
                     FROM res_partner p
                    WHERE %(partners)s AND p.first_visit_date >= %(prev_start)s
                      AND p.first_visit_date <= %(today)s""",
                start=ctx["start"],
                prev_start=ctx["prev_start"],
                prev_end=ctx["prev_end"],
                today=today,
                partners=partners,
            ),
            # at risk now (``_at_risk_now``), and at the end of the previous period:
            # now, less the moves into at risk since, plus the moves out (``_moves``)
            "at_risk": SQL(
                """SELECT n, n - COALESCE((SELECT sum(m.at_risk) FROM %(moves)s m), 0)
                     FROM (SELECT %(now)s AS n) c""",
                now=self._at_risk_now(ctx, partners),
                moves=self._moves(ctx, ctx["prev_end"] + timedelta(days=1)),
            ),
            # the moves into churned of the windows (``_moves``)
            "churned": SQL(
                """SELECT COALESCE(sum(m.churned) FILTER (WHERE m.day >= %(start)s), 0),
                          COALESCE(sum(m.churned) FILTER (WHERE m.day <= %(prev_end)s), 0)
                     FROM %(moves)s m WHERE m.day <= %(today)s""",
                moves=self._moves(ctx, ctx["prev_start"]),
                start=ctx["start"],
                prev_end=ctx["prev_end"],
                today=today,
            ),
            # the rated done visits of the windows, from the visit facts (local
            # days): sum of the scores over the rated visits
            "satisfaction": SQL(
                """SELECT sum(f.rating_sum) FILTER (WHERE %(cur)s)
                              / NULLIF(sum(f.rated_count) FILTER (WHERE %(cur)s), 0),
                          sum(f.rating_sum) FILTER (WHERE %(prev)s)
                              / NULLIF(sum(f.rated_count) FILTER (WHERE %(prev)s), 0)
                     FROM housekeeping_visit_fact f
                    WHERE f.company_id = ANY(%(companies)s) AND f.rated_count > 0
                      AND %(both)s""",
                cur=SQL("f.date >= %s AND f.date <= %s", today - timedelta(days=d - 1), today),
                prev=SQL(
                    "f.date >= %s AND f.date <= %s",
                    today - timedelta(days=2 * d - 1),
                    today - timedelta(days=d),
                ),
                companies=ctx["companies"],
                both=SQL("f.date >= %s AND f.date <= %s", today - timedelta(days=2 * d - 1), today),
            ),
            # each point at what points are worth when redeemed (the catalog); the
            # points dated before the last nightly run are summed in its snapshot
            # (``closed``): read are only the entries since the earlier of the run
            # and the end of the previous period (all of them without a snapshot)
            "liability": SQL(
                """SELECT %(closed)s + COALESCE(sum(e.points) FILTER (WHERE %(live)s), 0),
                          %(closed)s + COALESCE(sum(e.points) FILTER (WHERE %(plus)s), 0)
                              - COALESCE(sum(e.points) FILTER (WHERE %(minus)s), 0),
                          %(closed_money)s
                              + COALESCE(sum(e.points * pv.value) FILTER (WHERE %(live)s), 0),
                          %(closed_money)s
                              + COALESCE(sum(e.points * pv.value) FILTER (WHERE %(plus)s), 0)
                              - COALESCE(sum(e.points * pv.value) FILTER (WHERE %(minus)s), 0)
                     FROM housekeeping_points_entry e
                     JOIN unnest(%(ids)s::int4[], %(values)s::numeric[], %(since)s::date[])
                          AS pv(company_id, value, since) ON pv.company_id = e.company_id
                    WHERE e.company_id = ANY(%(companies)s) AND e.date <= %(today)s
                      AND e.date >= %(lower)s""",
                live=SQL("e.date >= pv.since"),
                plus=SQL("e.date >= pv.since AND e.date <= %s", ctx["prev_end"]),
                minus=SQL("e.date > %s AND e.date < pv.since", ctx["prev_end"]),
                closed=sum(closed.values()),
                closed_money=sum(n * point_values.get(c, 0) for c, n in closed.items()),
                ids=list(point_values),
                values=list(point_values.values()),
                since=[since[c] for c in point_values],
                lower=min([*since.values(), ctx["prev_end"] + timedelta(days=1)]),
                companies=ctx["companies"],
                today=today,
            ),
        }

    # ------------------------------------------------------------------ snapshot
    # (housekeeping.dashboard.snapshot, written nightly by housekeeping.engine.snapshot)

    @api.model
    def _snapshot_rows(self, ctx):
        """{company id: its latest snapshot row (a dict)} of the dashboard's
        companies, one query; None unless every one of them has a row."""
        self.env["housekeeping.dashboard.snapshot"].flush_model()
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT ON (s.company_id) s.company_id, s.date, s.write_date,
                          s.stage_counts, s.tier_counts, s.points_closed, s.expected_visits,
                          s.log_id, %s
                     FROM housekeeping_dashboard_snapshot s
                    WHERE s.company_id = ANY(%s) AND s.date <= %s
                    ORDER BY s.company_id, s.date DESC""",
                SQL(", ").join(SQL.identifier("s", name) for name in SNAPSHOT_KPIS),
                ctx["companies"],
                ctx["today"],
            )
        )
        names = [d.name for d in self.env.cr.description]
        rows = {row[0]: dict(zip(names, row, strict=True)) for row in self.env.cr.fetchall()}
        return rows if len(rows) == len(ctx["companies"]) else None

    @api.model
    def _at_risk_now(self, ctx, partners):
        """SQL (a scalar): the customers at risk now. With the snapshot, its
        customers per stage plus the moves of the stage log rows written after
        the last one it counted (``log_id``: into at risk, less out of it), of the
        dashboard's companies and of none, as ``_moves`` counts them; else a count
        of the customers (``partners``: the SQL condition on ``res_partner p``).

        Exact, not "as of the night": the snapshot engine reads the counts and
        ``log_id`` in one statement, so one set of committed data; a customer's
        stage and its log row are written in the same transaction (the lifecycle
        engine, the manual change), so every change is either in the counts (its
        row at or before ``log_id``) or in the moves added (after it). Known
        approximations, until the next night's counts: a customer archived,
        unarchived, or moved to another company after the night still counts
        where the night counted them; a log row without a company counts in every
        company's figure (as in ``_moves``); a change committed during the
        night's run with a log row numbered before ``log_id`` is missed."""
        snapshot = ctx.get("snapshot")
        marks = {row["log_id"] for row in snapshot.values()} if snapshot else {None}
        if None in marks or len(marks) != 1:
            # no snapshot, rows written before ``log_id`` was kept, or rows of
            # different runs (not written so): counted live
            return SQL(
                """(SELECT count(*) FROM res_partner p
                     WHERE %s AND p.lifecycle_stage = 'at_risk')""",
                partners,
            )
        counted = sum((row["stage_counts"] or {}).get("at_risk", 0) for row in snapshot.values())
        return SQL(
            """(%(counted)s + COALESCE((
                SELECT sum((l.to_stage = 'at_risk')::int
                           - (l.from_stage IS NOT DISTINCT FROM 'at_risk')::int)
                  FROM housekeeping_stage_log l
                 WHERE l.id > %(mark)s
                   AND (l.company_id IS NULL OR l.company_id = ANY(%(companies)s))), 0))""",
            counted=counted,
            mark=marks.pop(),
            companies=ctx["companies"],
        )

    @api.model
    def _as_of(self, ctx):
        """When the snapshot figures were computed (the oldest of the companies'
        rows), in the user's time zone; False when computed live."""
        if not ctx.get("snapshot"):
            return False
        when = min(row["write_date"] for row in ctx["snapshot"].values())
        return self.env._(
            "as of %(time)s",
            time=fields.Datetime.to_string(fields.Datetime.context_timestamp(self, when))[:16],
        )

    @api.model
    def _visit_kpi_rows(self, company_ids, today):
        """Per company, ``(company_id, *SNAPSHOT_KPIS)`` as of ``today``: one scan
        of two years of done visits, grouped by company and customer (a customer of
        two companies counts in each). The nightly snapshot and the live fallback
        of the dashboard."""
        d = ACTIVE_DAYS

        def window(days_back_from, days_back_to):
            # done visits dated in (today - from, today - to], as calendar days; a
            # range on the column itself, so that the index on the date serves it
            return SQL(
                "v.date >= %s AND v.date < %s",
                today - timedelta(days=days_back_from - 1),
                today - timedelta(days=days_back_to - 1),
            )

        self.env.cr.execute(
            SQL(
                """SELECT company_id, count(*) FILTER (WHERE p0), count(*) FILTER (WHERE p1),
                          count(*) FILTER (WHERE p2), count(*) FILTER (WHERE p1 AND p0),
                          count(*) FILTER (WHERE p2 AND p1), count(*) FILTER (WHERE y0 >= 1),
                          count(*) FILTER (WHERE y0 >= 2), count(*) FILTER (WHERE y1 >= 1),
                          count(*) FILTER (WHERE y1 >= 2)
                     FROM (SELECT v.company_id, v.partner_id, bool_or(%s) AS p0,
                                  bool_or(%s) AS p1, bool_or(%s) AS p2,
                                  count(*) FILTER (WHERE %s) AS y0,
                                  count(*) FILTER (WHERE %s) AS y1
                             FROM housekeeping_visit v
                            WHERE v.state = 'done' AND v.company_id = ANY(%s) AND %s
                            GROUP BY v.company_id, v.partner_id) c
                    GROUP BY company_id""",
                window(d, 0),
                window(2 * d, d),
                window(3 * d, 2 * d),
                window(365, 0),
                window(730, 365),
                company_ids,
                window(max(730, 3 * d), 0),
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _visit_kpis(self, ctx):
        """``{active, repeat, retention: (current, previous)}``: from the snapshot
        rows (a lookup), else live (``_visit_kpi_rows``, one scan)."""
        if ctx.get("snapshot"):
            rows = [[row[name] for name in SNAPSHOT_KPIS] for row in ctx["snapshot"].values()]
        else:
            rows = [row[1:] for row in self._visit_kpi_rows(ctx["companies"], ctx["today"])]
        (
            active,
            active_prev,
            active_prev2,
            retained,
            retained_prev,
            buyers,
            repeat,
            buyers_prev,
            repeat_prev,
        ) = (sum(column) for column in zip(*rows, strict=True)) if rows else (0,) * 9

        def rate(part, whole):
            return 100.0 * part / whole if whole else None

        return {
            "active": (active, active_prev),
            "repeat": (rate(repeat, buyers), rate(repeat_prev, buyers_prev)),
            "retention": (rate(retained, active_prev), rate(retained_prev, active_prev2)),
        }

    @api.model
    def _population_counts(self, company_ids):
        """``({company: {stage: customers}}, {company: {tier id: members}},
        {company: expected visits}, log_id)`` of the active customers whose settings
        company is one of ``company_ids``: one query (the nightly snapshot). The
        expected visits are the sum of the customers' ``expected_visits_90d`` (what
        the dashboard's forecast sums live); ``log_id`` is the last stage log row
        at the time of the counts (the same statement, so the same data: the
        changes after it are the ones the counts miss)."""
        self.env.cr.execute(
            SQL(
                """SELECT g.company_id, g.lifecycle_stage, g.membership_tier_id, g.customers,
                          g.expected, m.log_id
                     FROM (SELECT COALESCE(max(l.id), 0) AS log_id
                             FROM housekeeping_stage_log l) m
                     LEFT JOIN (
                          SELECT %s AS company_id, p.lifecycle_stage, p.membership_tier_id,
                                 count(*) AS customers, sum(p.expected_visits_90d) AS expected
                            FROM res_partner p
                           WHERE p.active AND (p.lifecycle_stage IS NOT NULL
                                               OR p.membership_tier_id IS NOT NULL
                                               OR p.expected_visits_90d IS NOT NULL)
                           GROUP BY 1, 2, 3) g ON TRUE""",
                self.env["housekeeping.engine"]._settings_company_sql("p"),
            )
        )
        rows = self.env.cr.fetchall()
        # (at least one row: the one of the last log row, whatever the customers)
        log_id = rows[0][-1]
        stages, tiers, expected = {}, {}, {}
        for company_id, stage, tier_id, count, visits, _log_id in rows:
            if company_id not in company_ids:
                continue
            if stage:
                per = stages.setdefault(company_id, {})
                per[stage] = per.get(stage, 0) + count
            if tier_id:
                per = tiers.setdefault(company_id, {})
                per[str(tier_id)] = per.get(str(tier_id), 0) + count
            if visits:
                expected[company_id] = expected.get(company_id, 0) + visits
        return stages, tiers, expected, log_id

    @api.model
    def _moves(self, ctx, since):
        """SQL (a subquery): the stage moves from the day ``since`` on, of the
        companies of ``ctx`` (and of none), one row per day: ``churned`` (moves
        into churned), ``won_back`` (from at risk or churned to new or loyal) and
        ``at_risk`` (moves into at risk less moves out). The days folded by the
        nightly snapshot (``housekeeping.lifecycle.month``, a few rows a day),
        and the stage log rows written since (read by id)."""
        Month = self.env["housekeeping.lifecycle.month"]
        Month.flush_model()
        return SQL(
            """(SELECT m.day, m.churned_count AS churned, m.won_back_count AS won_back,
                       m.at_risk_in_count - m.at_risk_out_count AS at_risk
                  FROM housekeeping_lifecycle_month m
                 WHERE m.lifecycle_stage IS NULL AND m.log_id IS NULL AND m.day >= %(since)s
                   AND (m.company_id IS NULL OR m.company_id = ANY(%(companies)s))
                 UNION ALL
                SELECT l.date, (l.to_stage = 'churned')::int,
                       (l.from_stage IN ('at_risk', 'churned')
                        AND l.to_stage IN ('new', 'loyal'))::int,
                       (l.to_stage = 'at_risk')::int
                       - (l.from_stage IS NOT DISTINCT FROM 'at_risk')::int
                  FROM housekeeping_stage_log l
                 WHERE %(fresh)s AND l.date >= %(since)s
                   AND (l.company_id IS NULL OR l.company_id = ANY(%(companies)s)))""",
            since=since,
            companies=ctx["companies"],
            fresh=Month._fresh_sql("l"),
        )

    @api.model
    def _kpi_definitions(self, ctx):
        """[(key, label, kind, good, help, compared with)] of the KPI cards."""
        month = ctx["period"] == "month"
        previous = (
            self.env._("vs the same days of last month")
            if month
            else self.env._("vs the 30 days before")
        )
        then = self.env._("vs %(date)s", date=fields.Date.to_string(ctx["prev_end"]))
        rolling = self.env._("vs the 90 days before")
        return [
            (
                "active",
                self.env._("Active Customers"),
                "count",
                "up",
                self.env._("Customers with a done visit in the last 90 days."),
                rolling,
            ),
            (
                "new",
                self.env._("New This Month") if month else self.env._("New in 30 Days"),
                "count",
                "up",
                self.env._("Customers whose first done visit is in the period."),
                previous,
            ),
            (
                "at_risk",
                self.env._("At Risk"),
                "count",
                "down",
                self.env._("Customers at risk now, and at the end of the previous period."),
                then,
            ),
            (
                "churned",
                self.env._("Churned This Month") if month else self.env._("Churned in 30 Days"),
                "count",
                "down",
                self.env._("Customers who became churned in the period."),
                previous,
            ),
            (
                "repeat",
                self.env._("Repeat-Purchase Rate"),
                "percent",
                "up",
                self.env._(
                    "Customers with two done visits or more in the last 12 months, "
                    "among those with at least one."
                ),
                self.env._("vs the 12 months before"),
            ),
            (
                "retention",
                self.env._("Retention"),
                "percent",
                "up",
                self.env._(
                    "Customers active in the previous 90 days who are still active in "
                    "the last 90 days."
                ),
                rolling,
            ),
            (
                "satisfaction",
                self.env._("Average Satisfaction"),
                "rating",
                "up",
                self.env._("Average rating of the visits of the last 90 days (out of 5)."),
                rolling,
            ),
            (
                "liability",
                self.env._("Points Liability"),
                "count",
                "down",
                self.env._(
                    "Outstanding points, now and at the end of the previous period, valued "
                    "at what a point is worth when redeemed (the rewards catalog)."
                ),
                then,
            ),
        ]

    @api.model
    def _kpis(self, values, ctx):
        money = values["liability"][2]
        values = dict(values, liability=values["liability"][:2])
        clickable = {"active", "new", "at_risk", "churned", "retention", "liability"}
        # the KPIs of the nightly snapshot say when it was taken
        as_of = self._as_of(ctx)
        from_snapshot = {"active", "repeat", "retention"}
        kpis = []
        for key, label, kind, good, help_text, compare in self._kpi_definitions(ctx):
            current, previous = (v or 0 for v in values[key])
            if kind == "count":
                current, previous = int(current), int(previous)
                display = str(current)
            elif kind == "percent":
                current, previous = round(float(current), 1), round(float(previous), 1)
                display = f"{current:.1f}%"
            else:  # rating out of 5
                current, previous = round(float(current), 2), round(float(previous), 2)
                display = f"{current:.2f}"
            delta = round(current - previous, 2)
            if kind == "percent":
                trend = self.env._("%(delta)+.1f pts", delta=delta) if previous else ""
            elif kind == "rating":
                trend = f"{delta:+.2f}" if previous else ""
            else:
                trend = f"{100.0 * delta / previous:+.1f}%" if previous else ""
            improving = delta > 0 if good == "up" else delta < 0
            kpis.append(
                {
                    "key": key,
                    "label": label,
                    "kind": kind,
                    "value": current,
                    "previous": previous,
                    "display": display,
                    "trend": trend,
                    "direction": "up" if delta > 0 else "down" if delta < 0 else "flat",
                    "good": bool(delta) and improving,
                    "bad": bool(delta) and not improving,
                    "help": help_text,
                    "compare": compare,
                    "clickable": key in clickable,
                    "as_of": as_of if key in from_snapshot else False,
                    "money": float(money) if key == "liability" else None,
                    "extra": format_amount(self.env, float(money), ctx["currency"])
                    if key == "liability"
                    else "",
                }
            )
        return kpis

    @api.model
    def _charts(self, ctx):
        Partner = self.env["res.partner"]
        partner_scope = self._partner_company_domain(ctx["companies"]) & Domain(
            "lifecycle_stage", "!=", False
        )
        snapshot = ctx.get("snapshot")
        if snapshot:
            # as of the nightly snapshot: a lookup instead of a pass over the customers
            per_stage = {}
            for row in snapshot.values():
                for key, count in (row["stage_counts"] or {}).items():
                    per_stage[key] = per_stage.get(key, 0) + count
        else:
            per_stage = dict(Partner._read_group(partner_scope, ["lifecycle_stage"], ["__count"]))
        # the members per tier, live: their counts (a few rows, kept by every change
        # of a member), never as of the night
        per_tier = (
            self.env["housekeeping.report.membership.tier"]
            .sudo()
            ._read_group(
                [("company_id", "in", ctx["companies"])], ["tier_id"], ["member_count:sum"]
            )
        )
        labels = dict(Partner._fields["lifecycle_stage"]._description_selection(self.env))
        stages = [
            {"key": key, "label": labels[key], "value": per_stage.get(key, 0)}
            for key, _label in LIFECYCLE_STAGES
        ]
        first = ctx["month"] - relativedelta(months=11)
        self.env.cr.execute(
            SQL(
                """
                -- the year's done visits per month, from the visit facts (done
                -- visits per local day, service type and cleaner)
                SELECT to_char(m, 'YYYY-MM'), COALESCE(x.n, 0), COALESCE(x.amount, 0)
                  FROM generate_series(%(first)s::date, %(month)s::date, interval '1 month') m
                  LEFT JOIN (
                       SELECT date_trunc('month', f.date) AS month, sum(f.visit_count) AS n,
                              sum(f.amount) AS amount
                         FROM housekeeping_visit_fact f
                        WHERE f.company_id = ANY(%(companies)s)
                          AND f.date >= %(first)s AND f.date <= %(today)s
                        GROUP BY 1) x ON x.month = m
                 ORDER BY m
                """,
                first=first,
                month=ctx["month"],
                companies=ctx["companies"],
                today=ctx["today"],
            )
        )
        visits = [
            {"key": month, "label": month, "value": count, "amount": float(amount)}
            for month, count, amount in self.env.cr.fetchall()
        ]
        tiers = sorted(
            (
                {
                    "key": tier.id,
                    "label": tier.name,
                    "value": count,
                    "sequence": tier.sequence,
                }
                for tier, count in per_tier
            ),
            key=lambda row: (row["sequence"], row["key"]),
        )
        months = [row["key"] for row in visits]
        return {
            "stages": {
                "title": self.env._("Customers per Stage"),
                "rows": stages,
                "as_of": self._as_of(ctx),
            },
            "stage_trend": {
                "title": self.env._("Customers per Stage over Time"),
                "labels": months,
                "series": self._stage_trend(ctx, first, months, labels),
            },
            "churn_winback": {
                "title": self.env._("Churned and Won Back per Month"),
                "labels": months,
                "series": self._churn_winback(ctx, first, months),
            },
            "visits": {"title": self.env._("Done Visits per Month"), "rows": visits},
            "tiers": {"title": self.env._("Members per Tier"), "rows": tiers, "as_of": False},
        }

    @api.model
    def _forecast(self, ctx):
        """Visits the prediction expects in the next 90 days against the
        capacity of the cleaners, in one query.

        *Expected*: the sum of the customers' ``expected_visits_90d`` (the nightly
        BG/NBD prediction; customers without a prediction count 0). *Capacity*:
        for each company, its active cleaners (employees, still active, with a
        done visit of the company in the last 90 days) × the visits a cleaner
        does per day (company setting ``hk_cleaner_daily_visits``, an average
        over every day of the week, days off included) × 90 days.

        With the snapshot, *expected* is the sum its rows keep (as of the night,
        said so by ``as_of``: the prediction itself is nightly) instead of a pass
        over the customers; rows written before they kept it: summed live."""
        self.env["res.company"].flush_model(["hk_cleaner_daily_visits"])
        self.env["hr.employee"].flush_model(["active"])
        today = ctx["today"]
        snapshot = ctx.get("snapshot")
        stored = bool(snapshot) and all(
            row["expected_visits"] is not None for row in snapshot.values()
        )
        if stored:
            expected_sql = SQL(
                "%s::numeric", sum(row["expected_visits"] for row in snapshot.values())
            )
        else:
            expected_sql = SQL(
                "(SELECT COALESCE(sum(p.expected_visits_90d), 0) FROM res_partner p WHERE %s)",
                SQL(
                    "p.active AND %s = ANY(%s)",
                    self.env["housekeeping.engine"]._settings_company_sql("p"),
                    ctx["companies"],
                ),
            )
        self.env.cr.execute(
            SQL(
                """SELECT %(expected)s,
                          COALESCE(sum(c.cleaners), 0),
                          COALESCE(sum(c.cleaners * rc.hk_cleaner_daily_visits), 0) * %(days)s
                     FROM (SELECT f.company_id, count(DISTINCT f.employee_id) AS cleaners
                             FROM housekeeping_visit_fact f
                             JOIN hr_employee e ON e.id = f.employee_id AND e.active
                            WHERE f.company_id = ANY(%(companies)s)
                              AND f.date >= %(since)s AND f.date <= %(today)s
                            GROUP BY f.company_id) c
                     JOIN res_company rc ON rc.id = c.company_id""",
                expected=expected_sql,
                days=FORECAST_DAYS,
                companies=ctx["companies"],
                since=today - timedelta(days=FORECAST_DAYS - 1),
                today=today,
            )
        )
        expected, cleaners, capacity = self.env.cr.fetchone()
        expected, capacity = round(float(expected), 2), round(float(capacity), 2)
        return {
            "title": self.env._("Next 90 Days: Expected Visits and Capacity"),
            "expected": expected,
            "capacity": capacity,
            "cleaners": int(cleaners),
            "load": round(100.0 * expected / capacity, 1) if capacity else None,
            # the expected visits of the nightly snapshot say when it was taken
            "as_of": self._as_of(ctx) if stored else False,
            "help": self.env._(
                "Expected: the visits the customer prediction expects in the next 90 days, "
                "summed over the customers. Capacity: the cleaners with a done visit in the "
                "last 90 days × the visits a cleaner does per day (company setting) × 90 days."
            ),
        }

    @api.model
    def _cleaner_ranking(self, ctx, limit=5):
        """The cleaners of the period, best first, in one query: done visits of
        the current window, revenue, their average rating and the complaints about
        their visits of the window (a cleaner with complaints ranks after one
        without, then by rating and visits)."""
        self.env["housekeeping.complaint"].flush_model(["employee_id", "visit_id"])
        self.env["hr.employee"].flush_model(["name"])
        start, today = ctx["start"], ctx["today"]
        self.env.cr.execute(
            SQL(
                """
            WITH done AS (
                -- from the visit facts (done visits per local day and cleaner)
                SELECT f.employee_id, sum(f.visit_count) AS visits,
                       COALESCE(sum(f.amount), 0) AS revenue,
                       sum(f.rating_sum) / NULLIF(sum(f.rated_count), 0) AS rating
                  FROM housekeeping_visit_fact f
                 WHERE f.employee_id IS NOT NULL AND f.company_id = ANY(%(companies)s)
                   AND f.date >= %(start)s AND f.date <= %(today)s
                 GROUP BY f.employee_id
            ), complained AS (
                SELECT COALESCE(c.employee_id, v.employee_id) AS employee_id, count(*) AS n
                  FROM housekeeping_complaint c
                  LEFT JOIN housekeeping_visit v ON v.id = c.visit_id
                 WHERE c.company_id = ANY(%(companies)s)
                   -- about a visit of the period (else opened in the period)
                   AND COALESCE(v.date, c.create_date) >= %(start)s
                   AND COALESCE(v.date, c.create_date) < %(today)s::date + 1
                 GROUP BY 1
            )
            SELECT d.employee_id, e.name, d.visits, d.revenue, d.rating, COALESCE(k.n, 0)
              FROM done d
              JOIN hr_employee e ON e.id = d.employee_id
              LEFT JOIN complained k ON k.employee_id = d.employee_id
             ORDER BY COALESCE(k.n, 0) > 0, d.rating DESC NULLS LAST, d.visits DESC, d.employee_id
             LIMIT %(limit)s
            """,
                companies=ctx["companies"],
                start=start,
                today=today,
                limit=limit,
            )
        )
        return {
            "title": self.env._("Cleaners of the Period"),
            "rows": [
                {
                    "id": employee_id,
                    "name": name,
                    "visits": visits,
                    "revenue": float(revenue),
                    "rating": round(float(rating), 2) if rating is not None else None,
                    "complaints": complaints,
                }
                for employee_id, name, visits, revenue, rating, complaints in self.env.cr.fetchall()
            ],
        }

    @api.model
    def _stage_trend(self, ctx, first, months, labels):
        """Customers per stage at the end of each of the twelve months (the
        *Customers per Stage over Time* report, one grouped query)."""
        # the report is the managers'; the dashboard's users see its figures of
        # their companies (checked in _dashboard_context)
        rows = (
            self.env["housekeeping.report.lifecycle.snapshot"]
            .sudo()
            ._read_group(
                [("date", ">=", first), ("company_id", "in", ctx["companies"] + [False])],
                ["date:month", "lifecycle_stage"],
                ["customer_count:sum"],
            )
        )
        counts = {
            (fields.Date.to_date(month).strftime("%Y-%m"), stage): count
            for month, stage, count in rows
        }
        return [
            {
                "key": key,
                "label": labels[key],
                "values": [counts.get((month, key), 0) for month in months],
            }
            for key, _label in LIFECYCLE_STAGES
        ]

    @api.model
    def _churn_winback(self, ctx, first, months):
        """Customers who became churned, and customers won back (from at risk or
        churned to new or loyal), per month: the moves of the stage log
        (``_moves``), one query."""
        self.env.cr.execute(
            SQL(
                """SELECT to_char(m.day, 'YYYY-MM'), COALESCE(sum(m.churned), 0),
                          COALESCE(sum(m.won_back), 0)
                     FROM %s m WHERE m.day <= %s GROUP BY 1""",
                self._moves(ctx, first),
                ctx["today"],
            )
        )
        per_month = {month: (churned, won) for month, churned, won in self.env.cr.fetchall()}
        return [
            {
                "key": "churned",
                "label": self.env._("Churned"),
                "values": [per_month.get(month, (0, 0))[0] for month in months],
            },
            {
                "key": "won_back",
                "label": self.env._("Won Back"),
                "values": [per_month.get(month, (0, 0))[1] for month in months],
            },
        ]
