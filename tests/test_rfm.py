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
        with self.assertQueryCount(3):
            self.env["res.partner"]._cron_compute_rfm()
        for i in range(5, 40):
            self._customer(f"C{i}", [("2026-03-10 09:00:00", 100 + i)])
        self.env.flush_all()
        with self.assertQueryCount(3):
            self.env["res.partner"]._cron_compute_rfm()
