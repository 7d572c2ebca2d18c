import random
import re
from datetime import date, timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import SQL

from ..models.trust import engine_writes
from .common import HousekeepingCase
from .test_reports import TODAY, DashboardData

STAGES = ["potential", "new", "loyal", "at_risk", "churned"]

# the reports' queries before the snapshots (issue 32), kept as the oracle: the
# stored months and folded flags must give the same figures
OLD_SNAPSHOT = """
    WITH monthly AS (
        SELECT DISTINCT ON (l.partner_id, date_trunc('month', l.date))
               l.partner_id, date_trunc('month', l.date)::date AS month,
               l.to_stage AS stage, l.company_id
          FROM housekeeping_stage_log l
         WHERE l.date <= %(today)s
         ORDER BY l.partner_id, date_trunc('month', l.date), l.date DESC, l.id DESC
    ), moves AS (
        SELECT month, stage, company_id,
               lag(stage) OVER w AS prev_stage, lag(company_id) OVER w AS prev_company
          FROM monthly
        WINDOW w AS (PARTITION BY partner_id ORDER BY month)
    ), deltas AS (
        SELECT month, stage, company_id, sum(delta) AS delta
          FROM (SELECT month, stage, company_id, 1 AS delta FROM moves
                UNION ALL
                SELECT month, prev_stage, prev_company, -1 FROM moves
                 WHERE prev_stage IS NOT NULL) d
         GROUP BY month, stage, company_id
    ), months AS (
        SELECT generate_series(min(month), date_trunc('month', %(today)s::date),
                               interval '1 month')::date AS month
          FROM deltas
    ), series AS (
        SELECT m.month, k.stage, k.company_id,
               sum(COALESCE(d.delta, 0)) OVER (
                   PARTITION BY k.stage, k.company_id ORDER BY m.month) AS customers
          FROM months m
         CROSS JOIN (SELECT DISTINCT stage, company_id FROM deltas) k
          LEFT JOIN deltas d ON d.month = m.month AND d.stage = k.stage
                            AND d.company_id IS NOT DISTINCT FROM k.company_id
    )
    SELECT month, stage, company_id, customers::int FROM series WHERE customers <> 0
"""
OLD_FUNNEL = """
    WITH reached AS (
        SELECT l.partner_id, min(l.date) AS date,
               bool_or(l.to_stage != 'potential'
                       OR l.from_stage IN ('new', 'loyal', 'at_risk', 'churned'))
                   AS reached_new,
               bool_or(l.to_stage = 'loyal' OR l.from_stage = 'loyal') AS reached_loyal
          FROM housekeeping_stage_log l
         GROUP BY l.partner_id
    )
    SELECT r.partner_id, s.step, r.date, p.company_id
      FROM reached r
      JOIN res_partner p ON p.id = r.partner_id AND p.active
     CROSS JOIN LATERAL (VALUES (1, '1_potential', true),
                                (2, '2_new', r.reached_new),
                                (3, '3_loyal', r.reached_loyal)) s(rank, step, ok)
     WHERE s.ok
"""


@tagged("post_install", "-at_install")
class TestDashboardSnapshot(HousekeepingCase, DashboardData):
    """The nightly snapshots (housekeeping.engine.snapshot) give the figures the
    live computation gives, and the dashboard reads them in a number of queries
    that does not depend on the population."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = cls.env["res.company"].create({"name": "Snapshot Other Store"})

    def _snapshot(self):
        return self.env["housekeeping.engine.snapshot"]._run()

    def _dashboard(self, **kw):
        self.env.flush_all()
        self.env.invalidate_all()
        data = self.env["housekeeping.dashboard"].with_user(self.manager).get_dashboard_data(**kw)
        return data

    def _figures(self, data):
        """The figures of a dashboard answer, without when they were taken."""
        kpis = {
            k["key"]: (k["value"], k["previous"], k["display"], k["trend"]) for k in data["kpis"]
        }
        charts = {
            key: {k: v for k, v in chart.items() if k != "as_of"}
            for key, chart in data["charts"].items()
        }
        forecast = {k: v for k, v in data["forecast"].items() if k != "as_of"}
        return kpis, charts, forecast

    def _live(self, **kw):
        """The dashboard computed live, as without a snapshot (its rows ignored)."""
        Dashboard = type(self.env["housekeeping.dashboard"])
        with patch.object(Dashboard, "_snapshot_rows", lambda self, ctx: None):
            data = self._dashboard(**kw)
        self.assertFalse(data["as_of"])
        return data

    def _at_risk(self, data):
        """The at-risk KPI: (now, at the end of the previous period)."""
        kpi = next(k for k in data["kpis"] if k["key"] == "at_risk")
        return kpi["value"], kpi["previous"]

    def _stage_logs(self, seed, first, last, partners, companies):
        """Random stage chains (from_stage = the previous to_stage) of ``partners``
        dated between ``first`` and ``last``, each log row of one of ``companies``
        (False: none); the partners' stage follows their last row."""
        rnd = random.Random(seed)
        span = (last - first).days
        vals = []
        for partner in partners:
            stage = partner.lifecycle_stage or False
            days = sorted(rnd.sample(range(span + 1), rnd.randint(1, 5)))
            for day in days:
                to_stage = rnd.choice([s for s in STAGES if s != stage])
                vals.append(
                    {
                        "partner_id": partner.id,
                        "from_stage": stage,
                        "to_stage": to_stage,
                        "date": first + timedelta(days=day),
                        "trigger": "cron",
                        "company_id": rnd.choice(companies),
                    }
                )
                stage = to_stage
            with engine_writes("lifecycle_stage"):
                partner.lifecycle_stage = stage
        self.env["housekeeping.stage.log"].create(vals)
        self.env.flush_all()

    def _oracle(self, query, today=None):
        self.env.flush_all()
        self.env.cr.execute(SQL(query, today=today))
        return sorted(self.env.cr.fetchall(), key=repr)

    def _report_rows(self):
        self.env.flush_all()
        self.env.invalidate_all()
        return sorted(
            (
                (
                    r.date,
                    r.lifecycle_stage,
                    r.company_id.id or None,
                    r.customer_count,
                )
                for r in self.env["housekeeping.report.lifecycle.snapshot"].search([])
            ),
            key=repr,
        )

    def _funnel_rows(self):
        self.env.flush_all()
        self.env.invalidate_all()
        return sorted(
            (
                (r.partner_id.id, r.step, r.date, r.company_id.id or None)
                for r in self.env["housekeeping.report.lifecycle.funnel"].search([])
            ),
            key=repr,
        )

    def _funnel_groups(self, rows):
        """What the funnel's pivot shows (customers per step, company and first
        day, read through the counts per day), and the same counted from
        ``rows`` (the per-customer rows)."""
        self.env.flush_all()
        self.env.invalidate_all()
        Funnel = self.env["housekeeping.report.lifecycle.funnel"]
        groups = {
            (step, day, company.id or None): count
            for step, day, company, count in Funnel._read_group(
                [], ["step", "date:day", "company_id"], ["customer_count:sum"]
            )
        }
        expected = {}
        for _partner, step, day, company in rows:
            expected[(step, day, company)] = expected.get((step, day, company), 0) + 1
        return groups, expected

    # ------------------------------------------------------------------ dashboard
    def test_snapshot_equals_live(self):
        """Taken on the day, the snapshot gives the dashboard the figures it
        computes live without one; after a day of new points and visits, the live
        KPIs move and the snapshot KPIs keep the night's values, said so."""
        self.env.user.tz = "UTC"
        with freeze_time(TODAY):
            p = self._dashboard_dataset(self.env)
            tier = self.env["housekeeping.tier"].search([], limit=1)
            with engine_writes("membership_tier_id"):
                (p[0] | p[3]).membership_tier_id = tier
            live = {period: self._dashboard(period=period) for period in ("month", "30d")}
            self.assertFalse(live["month"]["as_of"])
            self.assertFalse(any(k["as_of"] for k in live["month"]["kpis"]))
            self.assertEqual(self._snapshot(), len(self.env["res.company"].search([])))
            # again the same day: the day's rows are rewritten, not added
            self._snapshot()
            snapshot = self.env["housekeeping.dashboard.snapshot"].search(
                [("company_id", "=", self.env.company.id)]
            )
            self.assertEqual(len(snapshot), 1)
            self.assertEqual(
                (snapshot.active_count, snapshot.active_prev_count, snapshot.points_closed),
                (5, 3, 100),
                "P1 P2 P4 P5 P8 / P1 P2 P3; the points dated before today",
            )
            for period in ("month", "30d"):
                data = self._dashboard(period=period)
                self.assertEqual(self._figures(data), self._figures(live[period]), period)
                self.assertTrue(data["as_of"])
                as_of = {k["key"]: k["as_of"] for k in data["kpis"]}
                self.assertTrue(as_of["active"] and as_of["repeat"] and as_of["retention"])
                self.assertFalse(as_of["new"] or as_of["churned"] or as_of["liability"])
            tiers = self._dashboard()["charts"]["tiers"]["rows"]
            self.assertEqual([(r["key"], r["value"]) for r in tiers], [(tier.id, 2)])
            # the members per tier are live (their counts), not as of the night
            with engine_writes("membership_tier_id"):
                p[1].membership_tier_id = tier
            chart = self._dashboard()["charts"]["tiers"]
            self.assertEqual([(r["key"], r["value"]) for r in chart["rows"]], [(tier.id, 3)])
            self.assertFalse(chart["as_of"])
            with engine_writes("membership_tier_id"):
                p[1].membership_tier_id = False
            # the day goes on: points granted, a new customer's first visit
            self.env["housekeeping.engine.points"]._grant_points(p[2], 30, "goodwill")
            newcomer = self.env["res.partner"].create({"name": "Snapshot Newcomer"})
            self._visit(newcomer, date="2026-06-30 10:00:00")
            newcomer._hk_refresh_visit_stats()
            kpis = {k["key"]: k for k in self._dashboard()["kpis"]}
            entries = self.env["housekeeping.points.entry"].search([])
            self.assertEqual(
                kpis["liability"]["value"],
                sum(entries.mapped("points")),
                "live: the night's 100, the 50 and 30 granted today, the newcomer's points",
            )
            self.assertGreater(kpis["liability"]["value"], 180)
            self.assertEqual(kpis["liability"]["previous"], 100)
            self.assertEqual(kpis["new"]["value"], 2, "live: P4 and the newcomer")
            self.assertEqual(kpis["active"]["value"], 5, "as of the night")
            # the action opens the customers the live figures count
            action = (
                self.env["housekeeping.dashboard"].with_user(self.manager).action_open_kpi("new")
            )
            self.assertEqual(self.env["res.partner"].search_count(action["domain"]), 2)
        # the next night: the row of the new day; the earlier row is left as it was
        with freeze_time("2026-07-01 02:00:00"):
            self._snapshot()
            rows = self.env["housekeeping.dashboard.snapshot"].search(
                [("company_id", "=", self.env.company.id)], order="date"
            )
            self.assertEqual(rows.mapped("date"), [date(2026, 6, 30), date(2026, 7, 1)])
            self.assertEqual(rows[0].active_count, 5)
            self.assertEqual(rows[1].active_count, 6, "the newcomer")
            self.assertEqual(rows[1].points_closed, sum(entries.mapped("points")))
            live = self.env["housekeeping.dashboard"]
            ctx = live.with_user(self.manager)._dashboard_context("month")
            self.assertEqual(
                live._visit_kpis(dict(ctx, snapshot=None)),
                live._visit_kpis(dict(ctx, snapshot=live._snapshot_rows(ctx))),
            )

    def test_snapshot_several_companies(self):
        """Per company rows add up; a company without a row yet: live."""
        self.env.user.tz = "UTC"
        self.manager.company_ids |= self.other
        with freeze_time(TODAY):
            self._dashboard_dataset(self.env)
            local = self.env["res.partner"].create(
                {"name": "Other Store Customer", "company_id": self.other.id}
            )
            self._visit(
                local,
                date="2026-06-01 09:00:00",
                company_id=self.other.id,
                employee=self.env["hr.employee"],
            )
            both = [self.env.company.id, self.other.id]
            live = self._dashboard(company_ids=both)
            self._snapshot()
            data = self._dashboard(company_ids=both)
            self.assertTrue(data["as_of"])
            self.assertEqual(self._figures(data), self._figures(live))
            kpis = {k["key"]: k["value"] for k in data["kpis"]}
            self.assertEqual(kpis["active"], 6)
            self.env["housekeeping.dashboard.snapshot"].search(
                [("company_id", "=", self.other.id)]
            ).unlink()
            data = self._dashboard(company_ids=both)
            self.assertFalse(data["as_of"], "a company without a snapshot: computed live")
            self.assertEqual(self._figures(data), self._figures(live))

    def test_dashboard_queries_do_not_depend_on_the_population(self):
        self.env.user.tz = "UTC"
        with freeze_time(TODAY):
            p = self._dashboard_dataset(self.env)
            with engine_writes("membership_tier_id"):
                p[0].membership_tier_id = self.env["housekeeping.tier"].search([], limit=1)
            self._snapshot()

            def count():
                # (a first count warms the caches: access rules, the user's record)
                self.env.flush_all()
                self.env.invalidate_all()
                before = self.env.cr.sql_log_count
                self.env["housekeeping.dashboard"].with_user(self.manager).get_dashboard_data()
                return self.env.cr.sql_log_count - before

            count()
            small = count()
            self.assertLess(small, 25)
            more = self.env["res.partner"].create(
                [{"name": f"Snapshot Crowd {i}"} for i in range(30)]
            )
            for partner in more:
                self._visit(partner, date="2026-06-20 09:00:00")
            self._stage_logs(3, date(2026, 1, 1), date(2026, 6, 29), more, [self.env.company.id])
            self._snapshot()
            count()
            self.assertEqual(count(), small)

    def test_at_risk_now_from_snapshot_and_fresh_log(self):
        """At risk now: the night's customers per stage plus the moves of the stage
        log written since (into at risk, less out of it), without a new snapshot;
        the figure the live count gives, now and at the end of the previous
        period."""
        self.env.user.tz = "UTC"
        with freeze_time(TODAY):
            p = self._dashboard_dataset(self.env)
            elsewhere = self.env["res.partner"].create(
                {"name": "Snapshot Elsewhere", "company_id": self.other.id}
            )
            self._snapshot()
            row = self.env["housekeeping.dashboard.snapshot"].search(
                [("company_id", "=", self.env.company.id)]
            )
            self.assertEqual(row.stage_counts["at_risk"], 2, "P3 and P7")
            self.assertEqual(row.log_id, max(self.env["housekeeping.stage.log"].search([]).ids))
            for period in ("month", "30d"):
                data = self._dashboard(period=period)
                self.assertTrue(data["as_of"])
                self.assertEqual(self._at_risk(data), self._at_risk(self._live(period=period)))
            self.assertEqual(self._at_risk(self._dashboard())[0], 2)
            # after the night, by hand (the lifecycle engine writes the stage and its
            # log row): two customers into at risk, one out of it
            for partner, stage in ((p[3], "at_risk"), (p[4], "at_risk"), (p[2], "loyal")):
                partner.with_user(self.manager).action_set_lifecycle_stage(stage, "Phone call")
            self.assertEqual(p[:5].mapped("lifecycle_stage")[2:], ["loyal", "at_risk", "at_risk"])
            # and moves of a customer of another company (not in this dashboard), as
            # the lifecycle engine writes them
            self.env["housekeeping.stage.log"].create(
                {
                    "partner_id": elsewhere.id,
                    "from_stage": False,
                    "to_stage": "at_risk",
                    "date": date(2026, 6, 30),
                    "trigger": "cron",
                    "company_id": self.other.id,
                }
            )
            with engine_writes("lifecycle_stage"):
                elsewhere.lifecycle_stage = "at_risk"
            for period in ("month", "30d"):
                data = self._dashboard(period=period)
                self.assertTrue(data["as_of"])
                live = self._live(period=period)
                self.assertEqual(self._at_risk(data), self._at_risk(live), period)
                # (the KPIs; the customers per stage chart says "as of the night")
                self.assertEqual(self._figures(data)[0], self._figures(live)[0], period)
            self.assertEqual(self._at_risk(self._dashboard())[0], 3, "2 + 2 - 1")
            self.assertEqual(
                self.env["housekeeping.dashboard.snapshot"].search_count([]),
                len(self.env["res.company"].search([])),
                "no new snapshot",
            )
            self.assertEqual(row.stage_counts["at_risk"], 2, "the night's count")
            # both companies: the other company's moves count too
            mine = [self.env.company.id]
            self.manager.company_ids |= self.other
            both = [self.env.company.id, self.other.id]
            self.assertEqual(
                self._at_risk(self._dashboard(company_ids=both)),
                self._at_risk(self._live(company_ids=both)),
            )
            # the next run folds the moves in: the same figure
            self._snapshot()
            self.assertEqual(row.stage_counts["at_risk"], 3)
            self.assertEqual(self._at_risk(self._dashboard(company_ids=mine))[0], 3)
            # rows written before the log row was kept: counted live
            self.env.cr.execute("UPDATE housekeeping_dashboard_snapshot SET log_id = NULL")
            with engine_writes("lifecycle_stage"):
                p[0].lifecycle_stage = "at_risk"  # (no log row: only the live count sees it)
            data = self._dashboard(company_ids=mine)
            self.assertTrue(data["as_of"])
            self.assertEqual(self._at_risk(data)[0], 4)

    def test_forecast_from_snapshot(self):
        """The expected visits of the forecast: the snapshot's sum, equal to the
        live sum on the night and kept as of the night (the customers are not
        read again); rows written before they kept it: summed live."""
        self.env.user.tz = "UTC"
        self.manager.company_ids |= self.other
        with freeze_time(TODAY):
            p = self._dashboard_dataset(self.env)
            elsewhere = self.env["res.partner"].create(
                {"name": "Snapshot Elsewhere", "company_id": self.other.id}
            )
            with engine_writes("expected_visits_90d"):
                for partner, visits in zip(
                    [*p[:5], elsewhere], [2.5, 4.0, 1.25, 0.0, 6.0, 9.0], strict=True
                ):
                    partner.expected_visits_90d = visits
            p[4].active = False
            mine = [self.env.company.id]
            live = self._dashboard(company_ids=mine)["forecast"]
            self.assertEqual(live["expected"], 7.75, "active customers of the company")
            self.assertFalse(live["as_of"])
            self._snapshot()
            rows = {
                row.company_id.id: row.expected_visits
                for row in self.env["housekeeping.dashboard.snapshot"].search([])
            }
            self.assertEqual(rows[self.env.company.id], 7.75)
            self.assertEqual(rows[self.other.id], 9.0)
            self.assertFalse(
                [
                    c
                    for c, visits in rows.items()
                    if c not in (self.env.company.id, self.other.id) and visits != 0
                ],
                "companies without customers: 0, not empty",
            )
            data = self._dashboard(company_ids=mine)
            forecast = data["forecast"]
            self.assertEqual(
                {k: v for k, v in forecast.items() if k != "as_of"},
                {k: v for k, v in live.items() if k != "as_of"},
            )
            self.assertEqual(forecast["as_of"], data["as_of"])
            self.assertTrue(forecast["as_of"])
            both = [self.env.company.id, self.other.id]
            self.assertEqual(self._dashboard(company_ids=both)["forecast"]["expected"], 16.75)
            # a new prediction after the night (straight in the table): the dashboard
            # keeps the night's sum, the live one moves
            self.env.cr.execute(
                "UPDATE res_partner SET expected_visits_90d = 100 WHERE id = %s", [p[0].id]
            )
            self.env["res.partner"].invalidate_model(["expected_visits_90d"])
            self.assertEqual(self._dashboard(company_ids=mine)["forecast"]["expected"], 7.75)
            self.assertEqual(self._live(company_ids=mine)["forecast"]["expected"], 105.25)
            # a row written before the snapshot kept the sum: the live sum
            self.env.cr.execute(
                "UPDATE housekeeping_dashboard_snapshot SET expected_visits = NULL"
                " WHERE company_id = %s",
                [self.other.id],
            )
            self.env["housekeeping.dashboard.snapshot"].invalidate_model()
            self.assertEqual(
                self._dashboard(company_ids=mine)["forecast"]["expected"], 7.75, "own row: kept"
            )
            data = self._dashboard(company_ids=both)
            self.assertTrue(data["as_of"], "the other figures: still the snapshot's")
            self.assertEqual(data["forecast"]["expected"], 105.25 + 9.0)
            self.assertFalse(data["forecast"]["as_of"])

    def test_dashboard_with_snapshot_reads_no_customer(self):
        """With the snapshot, no query of the dashboard reads ``res_partner``
        (the population); without it, the live figures do."""
        self.env.user.tz = "UTC"
        with freeze_time(TODAY):
            self._dashboard_dataset(self.env)
            self._snapshot()
            Cursor = type(self.env.cr)
            Cursor_execute = Cursor.execute

            def statements():
                queries = []

                def execute(cr, query, params=None, log_exceptions=None):
                    if isinstance(query, SQL):
                        query, params = query.code, query.params
                    queries.append((str(query), params))
                    return Cursor_execute(cr, query, params, log_exceptions)

                # a first call warms the caches: the user's record and access
                # rules are read through the ORM once (res_users inherits
                # res_partner); the figures' queries are the same on every call
                self._dashboard()
                self.env.flush_all()
                self.env.invalidate_all()
                with patch.object(Cursor, "execute", execute):
                    self.env["housekeeping.dashboard"].with_user(self.manager).get_dashboard_data()
                own = set(
                    (self.manager.partner_id | self.env["res.company"].search([]).partner_id).ids
                )
                return [
                    (query, params)
                    for query, params in queries
                    if re.search(r"\bres_partner\b", query)
                    # not the ORM's reads, by id, of the partner of the user
                    # (res_users inherits res_partner: time zone, name) or of the
                    # companies (their names, addresses): no customer
                    and not ('"res_partner"."id" IN %s' in query and set(params[0]) <= own)
                ]

            # the one query left on the customers is the new customers' (their
            # first visit in the two periods): a range of the first_visit_date
            # index, not a pass over the population
            read = statements()
            self.assertEqual(len(read), 1, read)
            self.assertIn("p.first_visit_date >=", read[0][0])
            self.assertNotIn("lifecycle_stage", read[0][0])
            self.env["housekeeping.dashboard.snapshot"].search([]).unlink()
            read = statements()
            self.assertTrue(
                any("expected_visits_90d" in q for q, _params in read)
                and any("lifecycle_stage = 'at_risk'" in q for q, _params in read),
                "live: the customers are read",
            )

    # ------------------------------------------------------------------ reports
    def test_stage_months_equal_the_log(self):
        """The stored closed months plus the live months after them give the old
        one-pass computation, month after month, company by company."""
        companies = [self.env.company.id, self.other.id, False]
        partners = self.env["res.partner"].create(
            [{"name": f"Snapshot Stages {i}"} for i in range(40)]
        )
        with freeze_time("2026-03-15 12:00:00"):
            self._stage_logs(1, date(2025, 1, 1), date(2026, 3, 15), partners, companies)
            oracle = self._oracle(OLD_SNAPSHOT, date(2026, 3, 15))
            self.assertTrue(oracle)
            self.assertEqual(self._report_rows(), oracle, "nothing stored: the whole log")
            self._snapshot()
            Month = self.env["housekeeping.lifecycle.month"]
            stored = Month.search([("lifecycle_stage", "!=", False)])
            self.assertEqual(max(stored.mapped("month")), date(2026, 3, 1), "up to this month")
            self.assertEqual(self._report_rows(), oracle, "stored")
            self._snapshot()
            self.assertEqual(self._report_rows(), oracle, "a run without new rows")
            stored_before = sorted(
                stored.filtered(lambda m: m.month < date(2026, 3, 1)).mapped(
                    lambda m: (m.id, m.customer_count)
                )
            )
        # more changes in the following months (of customers old and new)
        newcomers = self.env["res.partner"].create(
            [{"name": f"Snapshot Later {i}"} for i in range(10)]
        )
        with freeze_time("2026-06-10 12:00:00"):
            self._stage_logs(
                2, date(2026, 3, 16), date(2026, 6, 10), partners[:15] | newcomers, companies
            )
            oracle = self._oracle(OLD_SNAPSHOT, date(2026, 6, 10))
            self.assertEqual(self._report_rows(), oracle, "stored + the rows since")
            self._snapshot()
            months = Month.search([("lifecycle_stage", "!=", False)])
            self.assertEqual(max(months.mapped("month")), date(2026, 6, 1))
            self.assertEqual(
                sorted(
                    months.filtered(lambda m: m.month < date(2026, 3, 1)).mapped(
                        lambda m: (m.id, m.customer_count)
                    )
                ),
                stored_before,
                "the months before the new rows are left alone",
            )
            self.assertEqual(self._report_rows(), oracle)
        with freeze_time("2026-08-03 12:00:00"):
            # a month without a run: the last stored month carries on
            self._stage_logs(7, date(2026, 8, 1), date(2026, 8, 3), newcomers[:3], companies)
            oracle = self._oracle(OLD_SNAPSHOT, date(2026, 8, 3))
            self.assertEqual(self._report_rows(), oracle)
            # the manager's access: the rows of their companies (and of none)
            mine = self.env["housekeeping.report.lifecycle.snapshot"].with_user(self.manager)
            self.assertEqual(
                mine.search_count([]),
                len([r for r in oracle if r[2] in (self.env.company.id, None)]),
            )

    def test_churn_winback_chart_equal_the_log(self):
        """The dashboard's churned and won-back months read from the stored months
        equal the ones it counted from the log."""
        self.env.user.tz = "UTC"
        partners = self.env["res.partner"].create(
            [{"name": f"Snapshot Churn {i}"} for i in range(40)]
        )
        with freeze_time(TODAY):
            self._stage_logs(
                4, date(2025, 5, 1), date(2026, 6, 30), partners, [self.env.company.id]
            )
            live = self._dashboard()["charts"]
            self.assertTrue(any(live["churn_winback"]["series"][0]["values"]))
            self.assertTrue(any(live["churn_winback"]["series"][1]["values"]))
            self._snapshot()
            self.assertTrue(self.env["housekeeping.lifecycle.month"].search_count([]))
            charts = self._dashboard()["charts"]
            self.assertEqual(charts["churn_winback"], live["churn_winback"])
            self.assertEqual(charts["stage_trend"], live["stage_trend"])

    def test_funnel_equals_the_log(self):
        companies = [self.env.company.id, False]
        partners = self.env["res.partner"].create(
            [{"name": f"Snapshot Funnel {i}"} for i in range(30)]
        )
        with freeze_time("2026-03-15 12:00:00"):
            self._stage_logs(5, date(2025, 6, 1), date(2026, 3, 15), partners, companies)
            oracle = self._oracle(OLD_FUNNEL)
            self.assertEqual(self._funnel_rows(), oracle, "nothing folded: the whole log")
            self._snapshot()
            self.assertEqual(
                self.env["housekeeping.lifecycle.reach"].search_count(
                    [("partner_id", "in", partners.ids)]
                ),
                len(partners),
            )
            self.assertEqual(self._funnel_rows(), oracle, "folded")
        with freeze_time("2026-05-15 12:00:00"):
            self._stage_logs(6, date(2026, 3, 16), date(2026, 5, 15), partners[:10], companies)
            oracle = self._oracle(OLD_FUNNEL)
            self.assertEqual(self._funnel_rows(), oracle, "folded + the rows since")
            self._snapshot()
            self.assertEqual(self._funnel_rows(), oracle, "folded again")
            partners[0].active = False
            oracle = self._oracle(OLD_FUNNEL)
            self.assertEqual(self._funnel_rows(), oracle, "archived customers drop out")
            # the pivot's counts per day: the night's counts plus the rows since
            self._snapshot()
            self.assertEqual(*self._funnel_groups(oracle), "counts per day, folded")
            self._stage_logs(7, date(2026, 5, 1), date(2026, 5, 15), partners[10:20], companies)
            fresh = self.env["res.partner"].create({"name": "Snapshot Funnel new"})
            self._stage_logs(8, date(2026, 5, 10), date(2026, 5, 15), fresh, companies)
            oracle = self._oracle(OLD_FUNNEL)
            self.assertEqual(*self._funnel_groups(oracle), "counts per day + the rows since")
            # a grouped read on the customers still reads their rows
            Funnel = self.env["housekeeping.report.lifecycle.funnel"]
            self.assertEqual(
                Funnel._read_group([("partner_id", "=", fresh.id)], ["step"], ["__count"])[0][0],
                "1_potential",
            )
