import os
import re
import subprocess
import tempfile
import unicodedata
from datetime import date

from freezegun import freeze_time

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from ..models.trust import engine_writes
from .common import HousekeepingCase

TODAY = "2026-06-30 20:00:00"


class ReportsCase(HousekeepingCase):
    @classmethod
    def _rating(cls, visit, rating):
        return cls.env["rating.rating"].create(
            {
                "res_model_id": cls.env["ir.model"]._get_id("housekeeping.visit"),
                "res_id": visit.id,
                "partner_id": visit.partner_id.id,
                "rating": rating,
                "consumed": True,
            }
        )

    def _groups(self, model, domain, groupby, aggregates):
        """read_group as {group key(s): aggregate value(s)} with ids for records."""
        self.env.flush_all()
        result = {}
        for row in self.env[model]._read_group(domain, groupby, aggregates):
            keys = tuple(k.id if hasattr(k, "_name") else k for k in row[: len(groupby)])
            values = row[len(groupby) :]
            result[keys if len(keys) > 1 else keys[0]] = values if len(values) > 1 else values[0]
        return result


@tagged("post_install", "-at_install")
@freeze_time(TODAY)
class TestLifecycleReports(ReportsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a, cls.b, cls.c = cls.env["res.partner"].create(
            [{"name": "Report A"}, {"name": "Report B"}, {"name": "Report C"}]
        )
        quality = cls.env.ref("housekeeping_membership.churn_reason_quality")
        price = cls.env.ref("housekeeping_membership.churn_reason_price")
        rows = [
            (cls.a, False, "new", "2026-01-15", 0, False),
            (cls.a, "new", "loyal", "2026-03-10", 54, False),
            (cls.a, "loyal", "at_risk", "2026-05-20", 71, price),
            (cls.b, False, "new", "2026-02-03", 0, False),
            (cls.b, "new", "at_risk", "2026-04-01", 57, quality),
            (cls.b, "at_risk", "churned", "2026-06-05", 65, quality),
            (cls.c, False, "potential", "2026-03-01", 0, False),
            (cls.c, "potential", "new", "2026-03-20", 19, False),
        ]
        cls.env["housekeeping.stage.log"].create(
            [
                {
                    "partner_id": partner.id,
                    "from_stage": from_stage,
                    "to_stage": to_stage,
                    "date": day,
                    "trigger": "cron",
                    "days_in_previous_stage": days,
                    "churn_reason_id": reason and reason.id,
                    "company_id": cls.company.id,
                }
                for partner, from_stage, to_stage, day, days, reason in rows
            ]
        )
        cls.quality, cls.price = quality, price

    def test_transition_matrix_churn_and_time_in_stage(self):
        model = "housekeeping.report.lifecycle.transition"
        domain = [("partner_id", "in", (self.a | self.b | self.c).ids)]
        matrix = self._groups(model, domain, ["from_stage", "to_stage"], ["transition_count:sum"])
        self.assertEqual(
            matrix,
            {
                (False, "new"): 2,
                (False, "potential"): 1,
                ("potential", "new"): 1,
                ("new", "loyal"): 1,
                ("new", "at_risk"): 1,
                ("loyal", "at_risk"): 1,
                ("at_risk", "churned"): 1,
            },
        )
        lost = domain + [("to_stage", "in", ("at_risk", "churned"))]
        by_reason = self._groups(model, lost, ["churn_reason_id"], ["__count"])
        self.assertEqual(by_reason, {self.quality.id: 2, self.price.id: 1})
        churned = self._groups(
            model, domain + [("to_stage", "=", "churned")], ["churn_reason_id"], ["__count"]
        )
        self.assertEqual(churned, {self.quality.id: 1})
        time_in = self._groups(
            model,
            domain + [("from_stage", "!=", False)],
            ["from_stage"],
            ["days_in_previous_stage:avg"],
        )
        self.assertEqual(time_in, {"new": 55.5, "loyal": 71.0, "at_risk": 65.0, "potential": 19.0})
        per_month = self._groups(model, domain, ["date:month"], ["transition_count:sum"])
        self.assertEqual(
            {d.month: n for d, n in per_month.items()}, {1: 1, 2: 1, 3: 3, 4: 1, 5: 1, 6: 1}
        )

    def test_customers_per_stage_over_time(self):
        counts = self._groups(
            "housekeeping.report.lifecycle.snapshot",
            [("company_id", "=", self.company.id)],
            ["date:month", "lifecycle_stage"],
            ["customer_count:sum"],
        )
        self.assertEqual(
            {(d.month, stage): n for (d, stage), n in counts.items()},
            {
                (1, "new"): 1,
                (2, "new"): 2,
                (3, "loyal"): 1,
                (3, "new"): 2,
                (4, "loyal"): 1,
                (4, "at_risk"): 1,
                (4, "new"): 1,
                (5, "at_risk"): 2,
                (5, "new"): 1,
                (6, "at_risk"): 1,
                (6, "churned"): 1,
                (6, "new"): 1,
            },
        )
        rows = self.env["housekeeping.report.lifecycle.snapshot"].search(
            [("company_id", "=", self.company.id)]
        )
        self.assertEqual(min(rows.mapped("date")), date(2026, 1, 1))
        self.assertEqual(max(rows.mapped("date")), date(2026, 6, 1))

    def test_funnel(self):
        funnel = self._groups(
            "housekeeping.report.lifecycle.funnel",
            [("partner_id", "in", (self.a | self.b | self.c).ids)],
            ["step"],
            ["customer_count:sum"],
        )
        self.assertEqual(funnel, {"1_potential": 3, "2_new": 3, "3_loyal": 1})

    def test_winback_rate_measures(self):
        playbook = self.env["housekeeping.winback.playbook"].create(
            {"name": "Apologise", "reason_id": self.quality.id}
        )
        runs = self.env["housekeeping.winback.run"].create(
            [
                {
                    "partner_id": partner.id,
                    "playbook_id": playbook.id,
                    "date": "2026-05-01",
                    "deadline": "2026-07-01",
                }
                for partner in (self.a, self.b, self.c)
            ]
        )
        runs[0].write({"won_back": True, "won_back_date": "2026-06-01"})
        [(attempts, won, rate)] = self.env["housekeeping.winback.run"]._read_group(
            [("playbook_id", "=", playbook.id)],
            [],
            ["hk_run_count:sum", "hk_won_count:sum", "hk_win_rate:avg"],
        )
        self.assertEqual((attempts, won), (3, 1))
        self.assertAlmostEqual(rate, 100 / 3)
        self.assertAlmostEqual(playbook.win_rate, rate)


@tagged("post_install", "-at_install")
@freeze_time(TODAY)
class TestVisitReports(ReportsCase):
    def test_cohorts(self):
        p1, p2, p3 = self.env["res.partner"].create(
            [{"name": "Cohort 1"}, {"name": "Cohort 2"}, {"name": "Cohort 3"}]
        )
        for partner, day in (
            (p1, "2026-01-10"),
            (p1, "2026-02-12"),
            (p1, "2026-04-08"),
            (p2, "2026-01-20"),
            (p2, "2026-03-05"),
            (p3, "2026-02-15"),
            (p3, "2026-03-18"),
        ):
            self._visit(partner, date=f"{day} 09:00:00")
        self._visit(p3, date="2026-05-05 09:00:00", state="cancelled")
        Cohort = self.env["housekeeping.report.cohort"]
        # a snapshot: computed by the nightly action, identical when recomputed
        self.assertFalse(Cohort.search([("company_id", "=", self.company.id)]))
        cells_count = Cohort._cron_refresh()
        self.assertEqual(Cohort._cron_refresh(), cells_count)
        rows = Cohort.search([("company_id", "=", self.company.id)])
        self.assertEqual(len(rows), cells_count)
        self.assertEqual(set(rows.mapped("snapshot_date")), {date.fromisoformat(TODAY[:10])})
        cells = {(r.cohort_month.month, r.month_offset): r for r in rows}
        self.assertEqual(
            {k: (r.cohort_size, r.active_count, r.retention) for k, r in cells.items()},
            {
                (1, 0): (2, 2, 100.0),
                (1, 1): (2, 1, 50.0),
                (1, 2): (2, 1, 50.0),
                (1, 3): (2, 1, 50.0),
                (1, 4): (2, 0, 0.0),
                (1, 5): (2, 0, 0.0),
                (2, 0): (1, 1, 100.0),
                (2, 1): (1, 1, 100.0),
                (2, 2): (1, 0, 0.0),
                (2, 3): (1, 0, 0.0),
                (2, 4): (1, 0, 0.0),
            },
        )
        triangle = self._groups(
            "housekeeping.report.cohort",
            [("company_id", "=", self.company.id), ("month_offset", "=", 1)],
            ["cohort_month:month"],
            ["retention:avg"],
        )
        self.assertEqual(sorted(triangle.values()), [50.0, 100.0])

    def test_cohorts_use_company_time_zone(self):
        """A visit late on 31 January UTC is a February visit in Beijing: the cohort
        month is the company's local month, whoever refreshes the snapshot."""
        partner = self.env["res.partner"].create({"name": "Night visit"})
        self._visit(partner, date="2026-01-31 20:00:00")
        Cohort = self.env["housekeeping.report.cohort"]
        cron = self.env.ref("housekeeping_membership.ir_cron_cohort_refresh")
        self.assertEqual(
            (cron.model_id.model, cron.code), ("housekeeping.engine.cohort", "model._cron()")
        )
        for tz, month in (("Asia/Shanghai", 2), ("UTC", 1)):
            self.company.partner_id.tz = tz
            Cohort.with_context(tz="America/New_York")._cron_refresh()
            first = Cohort.search([("company_id", "=", self.company.id), ("month_offset", "=", 0)])
            self.assertEqual(first.cohort_month.month, month, tz)

    def test_visits_seasonality_and_satisfaction(self):
        p1, p2 = self.env["res.partner"].create([{"name": "Visit 1"}, {"name": "Visit 2"}])
        v1 = self._visit(p1, date="2025-03-10 09:00:00", amount=100)
        v2 = self._visit(p2, date="2026-03-12 09:00:00", amount=200)
        v3 = self._visit(
            p1,
            date="2026-03-20 09:00:00",
            amount=300,
            service_type=self.service_deep,
            employee=self.cleaner_2,
        )
        v4 = self._visit(
            p2,
            date="2026-04-05 09:00:00",
            amount=500,
            service_type=self.service_deep,
            employee=self.cleaner_2,
        )
        self._visit(p1, date="2026-05-05 09:00:00", amount=999, state="cancelled")
        self._visit(p2, date="2026-07-05 09:00:00", amount=999, state="scheduled")
        self._rating(v1, 5)
        self._rating(v2, 3)
        self._rating(v3, 2)
        complaint = self.env["housekeeping.complaint"]
        complaint.create({"name": "Late", "partner_id": p2.id, "visit_id": v2.id})
        complaint.create(
            [{"name": f"Broken {i}", "partner_id": p2.id, "visit_id": v4.id} for i in range(2)]
        )
        model = "housekeeping.report.visit"
        domain = [("company_id", "=", self.company.id)]
        per_month = self._groups(
            model, domain, ["date:month", "service_type_id"], ["visit_count:sum", "amount:sum"]
        )
        self.assertEqual(
            {(d.year, d.month, st): tuple(v) for (d, st), v in per_month.items()},
            {
                (2025, 3, self.service_hourly.id): (1, 100),
                (2026, 3, self.service_hourly.id): (1, 200),
                (2026, 3, self.service_deep.id): (1, 300),
                (2026, 4, self.service_deep.id): (1, 500),
            },
        )
        seasons = self._groups(model, domain, ["month_of_year", "year"], ["amount:sum"])
        self.assertEqual(seasons, {("03", "2025"): 100, ("03", "2026"): 500, ("04", "2026"): 500})
        by_cleaner = self._groups(
            model, domain, ["employee_id"], ["rating:avg", "rated_count:sum", "complaint_count:sum"]
        )
        self.assertEqual(
            {k: tuple(v) for k, v in by_cleaner.items()},
            {self.cleaner.id: (4.0, 2, 1), self.cleaner_2.id: (2.0, 1, 2)},
        )
        by_type = self._groups(model, domain, ["service_type_id"], ["rating:avg"])
        self.assertEqual(by_type, {self.service_hourly.id: 4.0, self.service_deep.id: 2.0})

    def test_membership(self):
        silver = self.env.ref("housekeeping_membership.tier_silver")
        gold = self.env.ref("housekeeping_membership.tier_gold")
        members = self.env["res.partner"].create([{"name": f"Member {i}"} for i in range(3)])
        # set as the engines would (the report reads them, not how they came)
        with engine_writes("membership_tier_id", "total_spent"):
            members[0].write({"membership_tier_id": silver.id, "total_spent": 2500})
            members[1].write({"membership_tier_id": silver.id, "total_spent": 3500})
            members[2].write({"membership_tier_id": gold.id, "total_spent": 7000})
        self.env["housekeeping.tier.log"].create(
            [
                {
                    "partner_id": members[0].id,
                    "to_tier_id": silver.id,
                    "direction": "up",
                    "date": "2026-04-03",
                    "trigger": "visit",
                },
                {
                    "partner_id": members[2].id,
                    "to_tier_id": gold.id,
                    "direction": "up",
                    "date": "2026-04-20",
                    "trigger": "visit",
                },
                {
                    "partner_id": members[1].id,
                    "from_tier_id": gold.id,
                    "to_tier_id": silver.id,
                    "direction": "down",
                    "date": "2026-05-02",
                    "trigger": "cron",
                },
            ]
        )
        model = "housekeeping.report.membership"
        domain = [("partner_id", "in", members.ids)]
        per_tier = self._groups(
            model,
            domain + [("line_type", "=", "member")],
            ["tier_id"],
            ["member_count:sum", "spend:sum", "average_spend:avg"],
        )
        self.assertEqual(
            {k: tuple(v) for k, v in per_tier.items()},
            {silver.id: (2, 6000, 3000), gold.id: (1, 7000, 7000)},
        )
        per_month = self._groups(
            model,
            domain + [("line_type", "=", "change")],
            ["date:month"],
            ["upgrade_count:sum", "downgrade_count:sum"],
        )
        self.assertEqual({d.month: tuple(v) for d, v in per_month.items()}, {4: (2, 0), 5: (0, 1)})
        # both kinds of rows mixed: the measures of the other kind are neutral
        mixed = self._groups(
            model,
            domain,
            ["tier_id"],
            ["member_count:sum", "upgrade_count:sum", "average_spend:avg"],
        )
        self.assertEqual(tuple(mixed[silver.id]), (2, 1, 3000))


@tagged("post_install", "-at_install")
@freeze_time(TODAY)
class TestReportAccess(ReportsCase):
    def test_rights_and_companies(self):
        company_b = self.env["res.company"].create({"name": "Store B"})
        manager_b = self._company_user(
            "hk_manager_b", company_b, "housekeeping_membership.group_membership_manager"
        )
        self._visit(date="2026-06-01 09:00:00", amount=120)
        self.env.flush_all()
        models = [
            "housekeeping.report.lifecycle.transition",
            "housekeeping.report.lifecycle.snapshot",
            "housekeeping.report.lifecycle.funnel",
            "housekeeping.report.cohort",
            "housekeeping.report.membership",
            "housekeeping.report.visit",
        ]
        # the manager of company A sees A's figures; the one of company B does not
        visit_report = self.env["housekeeping.report.visit"]
        self.assertEqual(visit_report.with_user(self.manager).search_count([]), 1)
        self.assertEqual(visit_report.with_user(manager_b).search_count([]), 0)
        cohort = self.env["housekeeping.report.cohort"]
        cohort._cron_refresh()
        self.assertTrue(cohort.with_user(self.manager).search_count([]))
        self.assertEqual(cohort.with_user(manager_b).search_count([]), 0)
        for model in models:
            self.env[model].with_user(self.manager).search_read([], limit=5)
        # staff read the visits and membership analyses, not the lifecycle ones
        self.env["housekeeping.report.visit"].with_user(self.user).search_read([])
        self.env["housekeeping.report.membership"].with_user(self.user).search_read([])
        for model in models[:4]:
            with self.assertRaises(AccessError):
                self.env[model].with_user(self.user).search_read([])
        # report rows are read-only
        with self.assertRaises(AccessError):
            visit_report.with_user(self.manager).search([]).write({"amount": 1})


class DashboardData:
    """A small population whose dashboard figures are computed by hand (today is
    2026-06-30; last 90 days: after 04-01; the 90 before: after 01-01; the 90
    before those: after 2025-10-03)."""

    @classmethod
    def _dashboard_dataset(cls, env):
        hourly = env.ref("housekeeping_membership.service_type_hourly")
        names = [f"Dash {i}" for i in range(1, 10)]
        p = env["res.partner"].create([{"name": name} for name in names])
        visits = {}
        for idx, day, rating in (
            (0, "2025-12-15", 0),
            (0, "2026-02-10", 0),
            (0, "2026-05-10", 5),
            (1, "2026-03-01", 2),
            (1, "2026-06-10", 4),
            (2, "2026-03-15", 0),
            (3, "2026-06-20", 3),
            (4, "2026-05-05", 0),
            (5, "2025-03-01", 0),
            (5, "2025-04-01", 0),
            (6, "2024-12-01", 0),
            (7, "2026-05-25", 0),
        ):
            # done without the engines (stages and points are set below by hand)
            visit = env["housekeeping.visit"].create(
                {
                    "partner_id": p[idx].id,
                    "service_type_id": hourly.id,
                    "date": f"{day} 09:00:00",
                    "amount": 100,
                }
            )
            with engine_writes("visit_state"):
                visit.write({"state": "done"})
            visits[idx, day] = visit
            if rating:
                env["rating.rating"].create(
                    {
                        "res_model_id": env["ir.model"]._get_id("housekeeping.visit"),
                        "res_id": visit.id,
                        "partner_id": p[idx].id,
                        "rating": rating,
                        "consumed": True,
                    }
                )
        p._hk_refresh_visit_stats()
        for idx, stage in enumerate(
            ["loyal", "new", "at_risk", "new", "new", "churned", "at_risk", "new", "churned"]
        ):
            with engine_writes("lifecycle_stage"):
                p[idx].lifecycle_stage = stage
        env["housekeeping.stage.log"].create(
            [
                {
                    "partner_id": p[idx].id,
                    "from_stage": from_stage,
                    "to_stage": to_stage,
                    "date": day,
                    "trigger": "cron",
                    "company_id": env.company.id,
                }
                for idx, from_stage, to_stage, day in (
                    (2, False, "new", "2026-03-15"),
                    (2, "new", "at_risk", "2026-06-15"),
                    (6, "loyal", "at_risk", "2026-06-01"),
                    (5, "new", "at_risk", "2026-02-01"),
                    (5, "at_risk", "churned", "2026-06-05"),
                    (8, "at_risk", "churned", "2026-05-12"),
                )
            ]
        )
        with freeze_time("2026-05-10 08:00:00"):
            p[0].env["housekeeping.engine.points"]._grant_points(
                p[0], 100, "goodwill", origin="dashboard-may"
            )
        with freeze_time(TODAY):
            p[1].env["housekeeping.engine.points"]._grant_points(
                p[1], 50, "goodwill", origin="dashboard-june"
            )
        env.flush_all()
        return p


@tagged("post_install", "-at_install")
@freeze_time(TODAY)
class TestDashboard(ReportsCase, DashboardData):
    def test_dashboard_kpis(self):
        self.env.user.tz = "UTC"
        self._dashboard_dataset(self.env)
        data = self.env["housekeeping.dashboard"].with_user(self.manager).get_dashboard_data()
        kpis = {k["key"]: k for k in data["kpis"]}
        # key: (value, previous, shown, trend)
        expected = {
            "active": (5, 3, "5", "+66.7%"),  # P1 P2 P4 P5 P8 / P1 P2 P3
            "new": (1, 2, "1", "-50.0%"),  # P4 / P5 P8
            "at_risk": (2, 1, "2", "+100.0%"),  # P3 P7 / P6 at the end of May
            "churned": (1, 1, "1", "+0.0%"),  # P6 / P9
            "repeat": (33.3, 50.0, "33.3%", "-16.7 pts"),  # 2 of 6 / 1 of 2
            "retention": (66.7, 100.0, "66.7%", "-33.3 pts"),  # P1 P2 of P1 P2 P3 / P1
            "satisfaction": (4.0, 2.0, "4.00", "+2.00"),  # (5 + 4 + 3) / 3 / 2
            "liability": (150, 100, "150", "+50.0%"),
        }
        self.assertEqual(
            {key: (k["value"], k["previous"], k["display"], k["trend"]) for key, k in kpis.items()},
            expected,
        )
        self.assertTrue(kpis["active"]["good"])
        self.assertTrue(kpis["at_risk"]["bad"])
        self.assertIn("1.50", kpis["liability"]["extra"])  # 150 points × 0.01
        charts = data["charts"]
        self.assertEqual(
            [(r["key"], r["value"]) for r in charts["stages"]["rows"]],
            [("potential", 0), ("new", 4), ("loyal", 1), ("at_risk", 2), ("churned", 2)],
        )
        visits = {r["key"]: r["value"] for r in charts["visits"]["rows"]}
        self.assertEqual(len(visits), 12)
        self.assertEqual(list(visits)[0], "2025-07")
        self.assertEqual(
            {k: v for k, v in visits.items() if v},
            {"2025-12": 1, "2026-02": 1, "2026-03": 2, "2026-05": 3, "2026-06": 2},
        )
        with self.assertRaises(AccessError):
            self.env["housekeeping.dashboard"].with_user(
                new_test_user(self.env, login="hk_plain", groups="base.group_user")
            ).get_dashboard_data()


@tagged("post_install", "-at_install")
class TestDashboardTour(HttpCase, DashboardData):
    def test_dashboard_tour(self):
        with freeze_time(TODAY):
            new_test_user(
                self.env,
                login="hk_dash_manager",
                groups="housekeeping_membership.group_membership_manager",
                name="Dashboard Manager",
                tz="UTC",
            )
            self._dashboard_dataset(self.env)
            user = self.env["res.users"].search([("login", "=", "hk_dash_manager")])
            data = self.env["housekeeping.dashboard"].with_user(user).get_dashboard_data()
            shown = {k["key"]: k["display"] for k in data["kpis"]}
            self.assertEqual(
                shown,
                {
                    "active": "5",
                    "new": "1",
                    "at_risk": "2",
                    "churned": "1",
                    "repeat": "33.3%",
                    "retention": "66.7%",
                    "satisfaction": "4.00",
                    "liability": "150",
                },
            )
            self.start_tour(
                "/odoo/action-housekeeping_membership.hk_membership_dashboard_action",
                "hk_dashboard_tour",
                login="hk_dash_manager",
            )


@tagged("post_install", "-at_install")
class TestReportPdfs(ReportsCase, HttpCase):
    """Both PDFs render Chinese text (wkhtmltopdf with the CJK fonts; an HTTP case
    so that wkhtmltopdf loads the report assets from the test server)."""

    def _pdf_text(self, report, res_ids):
        pdf, kind = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf(report, res_ids)
        )
        self.assertEqual(kind, "pdf")
        self.assertTrue(pdf.startswith(b"%PDF"))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "report.pdf")
            with open(path, "wb") as fh:
                fh.write(pdf)
            out = subprocess.run(
                ["pdftotext", "-enc", "UTF-8", path, "-"], capture_output=True, check=True
            )
            info = subprocess.run(["pdfinfo", path], capture_output=True, check=True)
        pages = int(re.search(rb"Pages:\s+(\d+)", info.stdout).group(1))
        # The CJK fonts map some ideographs (小) to the same glyph as their Kangxi
        # radical (⼩); pdftotext reports the radical, NFKC folds it back.
        return unicodedata.normalize("NFKC", out.stdout.decode()), pages

    def test_chinese_pdfs(self):
        note = "钥匙放在物业前台，请勿按门铃"
        with freeze_time("2026-06-20 20:00:00"):
            customer = self.env["res.partner"].create(
                {"name": "王小明", "special_instructions": note, "household_size": 3}
            )
            visits = self.env["housekeeping.visit"]
            for day, amount in (("2026-06-01", 150), ("2026-06-08", 160), ("2026-06-15", 170)):
                visits |= self._visit(customer, date=f"{day} 09:00:00", amount=amount)
            self._rating(visits[-1], 5)
        text, pages = self._pdf_text(
            "housekeeping_membership.action_report_customer_profile", customer.ids
        )
        self.assertEqual(pages, 1)
        self.assertIn("王小明", text)
        self.assertIn(unicodedata.normalize("NFKC", note), text)
        # the Latin text is drawn with the web font, which pdftotext does not
        # extract: check the content on the HTML rendering
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "housekeeping_membership.action_report_customer_profile", customer.ids
            )[0]
            .decode()
        )
        for expected in ("王小明", note, "Standard", "Loyal", "5.0 / 5", "480"):
            self.assertIn(expected, html)
        self.assertEqual(html.count("Hourly Cleaning"), 3)
        statement = self.env["housekeeping.points.statement"].create(
            {"partner_id": customer.id, "date_from": "2026-06-01", "date_to": "2026-06-30"}
        )
        text, _pages = self._pdf_text(
            "housekeeping_membership.action_report_points_statement", statement.ids
        )
        self.assertIn("王小明", text)
