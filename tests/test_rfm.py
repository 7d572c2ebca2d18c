from freezegun import freeze_time

from odoo.tests import tagged

from .common import HousekeepingCase


@tagged("post_install", "-at_install")
class TestRfm(HousekeepingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Make this company's customers the only population scored in company 1.
        cls.env["res.partner"].search([("visit_count", ">", 0)]).write({"active": False})

    def _customer(self, name, visits):
        partner = self.env["res.partner"].create({"name": name, "company_id": self.company.id})
        for date, amount in visits:
            self._visit(partner=partner, date=date, amount=amount)
        return partner

    @freeze_time("2026-06-30 12:00:00")
    def test_segments_from_known_population(self):
        # five customers, one per quintile on each axis
        champion = self._customer(
            "Champion",
            [(f"2026-0{m}-10 09:00:00", 500) for m in range(1, 7)] + [("2026-06-28 09:00:00", 500)],
        )
        loyal = self._customer("Loyal", [(f"2026-0{m}-05 09:00:00", 200) for m in range(1, 6)])
        newbie = self._customer("Newbie", [("2026-06-29 09:00:00", 50)])
        sleepy = self._customer(
            "Sleepy", [("2025-12-01 09:00:00", 100), ("2026-01-01 09:00:00", 100)]
        )
        lost = self._customer("Lost", [("2024-01-01 09:00:00", 80)])
        updated = self.env["res.partner"]._cron_compute_rfm()
        self.assertEqual(updated, 5)
        # recency ranks: lost 1, sleepy 2, loyal 3, champion 4, newbie 5
        self.assertEqual(
            (
                lost.rfm_recency,
                sleepy.rfm_recency,
                loyal.rfm_recency,
                champion.rfm_recency,
                newbie.rfm_recency,
            ),
            (1, 2, 3, 4, 5),
        )
        # frequency in the 12-month window: lost 0, newbie 1, sleepy 2, loyal 5, champion 7
        self.assertEqual(
            (
                lost.rfm_frequency,
                newbie.rfm_frequency,
                sleepy.rfm_frequency,
                loyal.rfm_frequency,
                champion.rfm_frequency,
            ),
            (1, 2, 3, 4, 5),
        )
        self.assertEqual(champion.rfm_segment, "champions")
        self.assertEqual(loyal.rfm_segment, "loyal")
        self.assertEqual(newbie.rfm_segment, "new")
        # r=2, f=3: bought fairly often, not lately
        self.assertEqual(sleepy.rfm_segment, "at_risk")
        self.assertEqual(lost.rfm_segment, "lost")
        # usable as a filter / journey audience
        self.assertEqual(
            self.env["res.partner"].search([("rfm_segment", "=", "champions")]), champion
        )

    @freeze_time("2026-06-30 12:00:00")
    def test_rerun_writes_nothing_and_query_count_is_constant(self):
        for i in range(5):
            self._customer(f"C{i}", [(f"2026-0{i + 1}-10 09:00:00", 100 * (i + 1))])
        self.env["res.partner"]._cron_compute_rfm()
        self.assertEqual(self.env["res.partner"]._cron_compute_rfm(), 0)
        self.env.flush_all()
        with self.assertQueryCount(8):
            self.env["res.partner"]._cron_compute_rfm()
        for i in range(5, 40):
            self._customer(f"C{i}", [("2026-03-10 09:00:00", 100 + i)])
        self.env.flush_all()
        with self.assertQueryCount(8):
            self.env["res.partner"]._cron_compute_rfm()

    @freeze_time("2026-06-30 12:00:00")
    def test_scores_are_shares_of_each_company_over_its_window(self):
        """A score is ceil(5 × share of the company's customers whose value is
        lower or equal): ties share a score, and each company ranks its own
        customers over its own window (3 months for the branch)."""
        branch = self.env["res.company"].create(
            {"name": "Shanghai branch", "hk_rfm_window_months": 3}
        )
        branch_visit = {
            "company_id": branch.id,
            "employee": self.env["hr.employee"].create(
                {"name": "Cleaner SH", "company_id": branch.id}
            ),
        }
        # per company: (visit days, amount of each visit); ties on every axis
        population = {
            self.company: [
                (["2026-06-20"], 100),
                (["2026-06-20"], 100),
                (["2025-09-01", "2026-06-20"], 100),
                (["2025-09-01", "2026-02-01", "2026-05-01"], 80),
                (["2024-12-01"], 300),  # out of the 12-month window
                (["2026-01-15", "2026-03-15", "2026-04-15", "2026-06-01"], 150),
                (["2026-06-29"], 60),
            ],
            branch: [
                (["2026-01-10", "2026-06-10"], 200),  # January is out of 3 months
                (["2026-05-01", "2026-06-01"], 100),
                (["2026-02-01"], 500),  # out of the window
                (["2026-06-25"], 100),
            ],
        }
        windows = {self.company: "2025-06-30", branch: "2026-03-30"}
        expected = {}
        for company, customers in population.items():
            figures = {}
            for i, (days, amount) in enumerate(customers):
                partner = self.env["res.partner"].create(
                    {"name": f"{company.name} {i}", "company_id": company.id}
                )
                for day in days:
                    self._visit(
                        partner=partner,
                        date=f"{day} 09:00:00",
                        amount=amount,
                        **(branch_visit if company == branch else {}),
                    )
                in_window = [day for day in days if day > windows[company]]
                figures[partner] = (max(days), len(in_window), amount * len(in_window))
            n = len(figures)
            for partner, values in figures.items():
                expected[partner] = tuple(
                    # ceil(5 × lower-or-equal / n), in integers
                    -(-5 * sum(other[axis] <= values[axis] for other in figures.values()) // n)
                    for axis in range(3)
                )
        self.env["res.partner"]._cron_compute_rfm()
        self.assertEqual(
            {p: (p.rfm_recency, p.rfm_frequency, p.rfm_monetary) for p in expected}, expected
        )
        # spelled out for two of them: the tied pair shares its scores; the
        # branch customer whose January visit is out of its window counts 1 visit
        # (share 3/4 in the branch: 1 is ≥ 0, 1, 1; so f = ceil(3.75) = 4)
        first, second = list(expected)[:2]
        self.assertEqual(expected[first], expected[second])
        self.assertEqual(list(expected.values())[7][1], 4)

    @freeze_time("2026-06-30 12:00:00")
    def test_customers_filter_group_and_sort_by_scores(self):
        """The scores live in their own table; the customer list still filters,
        groups and sorts by them, and a customer no longer scored loses them."""
        Partner = self.env["res.partner"]
        customers = Partner.browse(
            [
                self._customer(f"C{i}", [(f"2026-0{i + 1}-10 09:00:00", 100 * (i + 1))]).id
                for i in range(5)
            ]
        )
        never = Partner.create({"name": "Never visited"})
        Partner._cron_compute_rfm()
        scores = self.env["housekeeping.partner.rfm"].search([("partner_id", "in", customers.ids)])
        self.assertEqual(len(scores), 5)
        self.assertEqual(customers.mapped("rfm_recency"), [1, 2, 3, 4, 5])
        population = customers | never
        domain = [("id", "in", population.ids)]
        self.assertEqual(Partner.search(domain + [("rfm_recency", ">=", 4)]), customers[3:])
        self.assertEqual(Partner.search(domain + [("rfm_segment", "=", False)]), never)
        # r=1, f=5 (every customer has one visit in the window): hibernating
        sleeping = customers.filtered(lambda p: p.rfm_segment == "hibernating")
        self.assertEqual(sleeping, customers[0])
        self.assertEqual(
            Partner.search(domain + [("rfm_segment", "!=", "hibernating")]), population - sleeping
        )
        # the web client offers grouping and sorting on them
        described = Partner.fields_get(["rfm_segment", "rfm_recency"], ["groupable", "sortable"])
        self.assertTrue(all(d["groupable"] and d["sortable"] for d in described.values()))
        groups = dict(Partner._read_group(domain, ["rfm_segment"], ["__count"]))
        self.assertEqual(groups[False], 1)
        self.assertEqual(groups["hibernating"], 1)
        self.assertEqual(sum(groups.values()), 6)
        self.assertEqual(
            Partner.search(domain + [("rfm_recency", "!=", False)], order="rfm_recency desc"),
            customers[::-1],
        )
        # next run: an archived customer drops out of the segments, a newcomer
        # with the latest visit pushes the four others down one recency rank
        customers[0].action_archive()
        newest = self._customer("Newest", [("2026-06-20 09:00:00", 50)])
        self.assertEqual(Partner._cron_compute_rfm(), 5)  # 4 rows rewritten, 1 new
        self.assertFalse(scores.exists().filtered(lambda s: s.partner_id == customers[0]))
        self.assertFalse(customers[0].rfm_segment)
        self.assertEqual((customers[1:] | newest).mapped("rfm_recency"), [1, 2, 3, 4, 5])

    def test_scores_follow_company_isolation(self):
        branch = self.env["res.company"].create({"name": "Store B"})
        user_b = self._company_user("hk_rfm_b", branch)
        customer = self._customer("Scored", [("2026-01-10 09:00:00", 100)])
        self.env["res.partner"]._cron_compute_rfm()
        score = self.env["housekeeping.partner.rfm"].search([("partner_id", "=", customer.id)])
        self.assertEqual(score.company_id, self.company)
        self.assertTrue(score.with_user(self.user).read(["segment"]))
        self.assertFalse(
            self.env["housekeeping.partner.rfm"].with_user(user_b).search([("id", "=", score.id)])
        )
