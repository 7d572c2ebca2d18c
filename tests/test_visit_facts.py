from freezegun import freeze_time

from odoo.tests import tagged

from .common import HousekeepingCase

TODAY = "2026-03-20 20:00:00"


@tagged("post_install", "-at_install")
@freeze_time(TODAY)
class TestVisitFacts(HousekeepingCase):
    """The visit facts (done visits per company, local day, service type and
    cleaner) stay equal to a from-scratch aggregation of the visits after every
    change of their inputs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Facts = cls.env["housekeeping.visit.fact"]
        cls.other = cls.env["res.partner"].create({"name": "Customer Other"})

    def assertFactsExact(self):
        self.env.flush_all()
        self.assertEqual(self.Facts._hk_current(), self.Facts._hk_expected())

    def _rate(self, visit, score):
        return self.env["rating.rating"].create(
            {
                "res_model_id": self.env["ir.model"]._get_id("housekeeping.visit"),
                "res_id": visit.id,
                "partner_id": visit.partner_id.id,
                "rating": score,
                "consumed": True,
            }
        )

    def _fact(self, visit):
        self.env.flush_all()
        facts = self.Facts.search(
            [
                ("company_id", "=", visit.company_id.id),
                ("date", "=", visit.date.date()),
                ("service_type_id", "=", visit.service_type_id.id),
                ("employee_id", "=", visit.employee_id.id),
            ]
        )
        return facts

    def test_done_cancel_rating_complaint_edit(self):
        v1 = self._visit(date="2026-03-10 09:00:00", amount=100)
        v2 = self._visit(date="2026-03-10 11:00:00", amount=250)
        v3 = self._visit(
            partner=self.other, date="2026-03-11 09:00:00", amount=80, employee=self.cleaner_2
        )
        self.assertFactsExact()
        fact = self._fact(v1)
        self.assertEqual((fact.visit_count, fact.amount), (2, 350))
        # a rating counts on its visit's key; changed, then removed
        rating = self._rate(v1, 5)
        self._rate(v3, 2)
        self.assertFactsExact()
        self.assertEqual((fact.rated_count, fact.rating_sum), (1, 5))
        rating.write({"rating": 3})
        self.assertFactsExact()
        self.assertEqual(fact.rating_sum, 3)
        rating.unlink()
        self.assertFactsExact()
        self.assertEqual(fact.rated_count, 0)
        # complaints: created, moved to another visit, cancelled, deleted
        complaint = self.env["housekeeping.complaint"].create(
            {"name": "Late", "partner_id": self.customer.id, "visit_id": v1.id}
        )
        self.assertFactsExact()
        self.assertEqual((fact.complaint_count, fact.complained_visit_count), (1, 1))
        complaint.write({"visit_id": v3.id, "partner_id": self.other.id})
        self.assertFactsExact()
        self.assertEqual(fact.complaint_count, 0)
        complaint.action_cancel()
        self.assertFactsExact()
        complaint.action_reopen()
        self.assertFactsExact()
        self.assertEqual(self._fact(v3).complaint_count, 1)
        complaint.unlink()
        self.assertFactsExact()
        # a done visit edited: another day, cleaner and service type (its old key
        # loses it, the new one gains it); then its duration
        v2.write(
            {
                "date": "2026-03-12 09:00:00",
                "employee_id": self.cleaner_2.id,
                "service_type_id": self.service_deep.id,
            }
        )
        self.assertFactsExact()
        self.assertEqual((fact.visit_count, fact.amount), (1, 100))
        v2.write({"duration": 3.5})
        self.assertFactsExact()
        # cancelled: its key is gone when it was the last visit of it
        v2.action_cancel()
        self.assertFactsExact()
        self.assertFalse(
            self.Facts.search([("date", "=", "2026-03-12"), ("company_id", "=", self.company.id)])
        )
        # back to draft, done again
        v2.action_draft()
        v2.action_done()
        self.assertFactsExact()

    def test_batch_done_and_merge(self):
        partners = self.env["res.partner"].create([{"name": f"Batch {i}"} for i in range(6)])
        visits = self._draft_visits(partners, "2026-03-05 09:00:00", amount=60)
        visits[:3].employee_id = self.cleaner
        visits.action_done()
        self.assertFactsExact()
        self.assertEqual(
            sum(self.Facts.search([("date", "=", "2026-03-05")]).mapped("visit_count")), 6
        )
        # partner merge: the visits move to the kept customer, the facts stay exact
        duplicate = partners[1]
        self.env["base.partner.merge.automatic.wizard"].create({})._merge(
            (partners[0] | duplicate).ids, partners[0]
        )
        self.assertFactsExact()
        self.assertEqual(
            sum(self.Facts.search([("date", "=", "2026-03-05")]).mapped("visit_count")), 6
        )

    def test_local_day_and_rebuild(self):
        # the company's time zone decides the day: 20:00 UTC is the next day in Shanghai
        self.company.partner_id.tz = "Asia/Shanghai"
        self.Facts._hk_rebuild()
        visit = self._visit(date="2026-03-09 20:00:00")
        self.assertFactsExact()
        self.assertEqual(
            self.Facts.search([("employee_id", "=", self.cleaner.id)]).date.isoformat(),
            "2026-03-10",
        )
        # facts damaged behind the code's back: the nightly check fixes them
        self.env.flush_all()
        self.env.cr.execute("UPDATE housekeeping_visit_fact SET visit_count = 7")
        self.env.cr.execute(
            "INSERT INTO housekeeping_visit_fact (company_id, date, visit_count, amount, "
            "duration, rated_count, rating_sum, complaint_count, complained_visit_count) "
            "VALUES (%s, '2020-01-01', 1, 0, 0, 0, 0, 0, 0)",
            [self.company.id],
        )
        self.assertTrue(self.Facts._cron_check())
        self.assertFactsExact()
        self.assertEqual(self.Facts._cron_check(), 0)
        self.assertTrue(visit)

    def _queries(self, func):
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        func()
        self.env.flush_all()
        return self.env.cr.sql_log_count - before

    def test_query_counts_do_not_depend_on_the_population(self):
        reads = [
            (
                "housekeeping.report.visit",
                ["date:month", "service_type_id"],
                ["visit_count:sum", "amount:sum"],
            ),
            ("housekeeping.report.visit", ["employee_id"], ["rating:avg", "complaint_count:sum"]),
            (
                "housekeeping.cleaner.quality.report",
                ["employee_id", "service_type_id"],
                ["visit_count:sum", "rating:avg", "complaint_rate:avg"],
            ),
        ]
        dashboard = self.env["housekeeping.dashboard"]

        def measure(date):
            # a new customer each time: the same completion, a larger population
            partner = self.env["res.partner"].create({"name": f"New {date}"})
            visit = self._visit(
                partner=partner, date=date, state="scheduled", employee=self.cleaner
            )
            counts = [self._queries(visit.action_done)]
            for model, groupby, aggregates in reads:
                counts.append(
                    self._queries(
                        lambda m=model, g=groupby, a=aggregates: self.env[m]._read_group([], g, a)
                    )
                )
            counts.append(self._queries(dashboard.get_dashboard_data))
            return counts

        measure("2026-03-01 09:00:00")  # warm the caches
        small = measure("2026-03-02 09:00:00")
        partners = self.env["res.partner"].create([{"name": f"Many {i}"} for i in range(30)])
        for day in range(1, 16):
            visits = self._draft_visits(
                partners, f"2026-02-{day:02d} 09:00:00", service_type=self.service_deep
            )
            visits.action_done()
        large = measure("2026-03-03 09:00:00")
        self.assertEqual(small, large)
        self.assertFactsExact()


@tagged("post_install", "-at_install")
@freeze_time(TODAY)
class TestVisitReportsOnFacts(HousekeepingCase):
    def test_true_average_over_rated_visits(self):
        # two days of a cleaner: 1 rated visit (5) and 3 rated visits (1, 1, 1):
        # the average is 8 / 4 = 2, not the average of the days' averages (3)
        first = self._visit(date="2026-03-01 09:00:00")
        second = [self._visit(date=f"2026-03-02 0{h}:00:00") for h in (7, 8, 9)]
        for visit, score in zip([first, *second], (5, 1, 1, 1), strict=True):
            self.env["rating.rating"].create(
                {
                    "res_model_id": self.env["ir.model"]._get_id("housekeeping.visit"),
                    "res_id": visit.id,
                    "partner_id": visit.partner_id.id,
                    "rating": score,
                    "consumed": True,
                }
            )
        self.env["housekeeping.complaint"].create(
            [
                {"name": f"Bad {i}", "partner_id": self.customer.id, "visit_id": second[0].id}
                for i in range(2)
            ]
        )
        self.env.flush_all()
        domain = [("employee_id", "=", self.cleaner.id)]
        [(avg, rated, complaints)] = self.env["housekeeping.report.visit"]._read_group(
            domain, [], ["rating:avg", "rated_count:sum", "complaint_count:sum"]
        )
        self.assertEqual((avg, rated, complaints), (2.0, 4, 2))
        [(avg, rate)] = self.env["housekeeping.cleaner.quality.report"]._read_group(
            domain, [], ["rating:avg", "complaint_rate:avg"]
        )
        self.assertEqual((avg, rate), (2.0, 25.0))
        # the dashboard's satisfaction and cleaner ranking read the same facts
        data = self.env["housekeeping.dashboard"].get_dashboard_data()
        satisfaction = next(k for k in data["kpis"] if k["key"] == "satisfaction")
        self.assertEqual(satisfaction["value"], 2.0)
        row = next(r for r in data["cleaners"]["rows"] if r["id"] == self.cleaner.id)
        self.assertEqual((row["visits"], row["rating"]), (4, 2.0))
