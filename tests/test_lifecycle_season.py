from datetime import date

import numpy as np
from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import HousekeepingCase


@tagged("post_install", "-at_install")
class TestLifecycleSeason(HousekeepingCase):
    """Seasonal customers (issue 29): a season is the shortest arc of the calendar
    holding the visits of at least two years, by the customer's local day; the
    optional at-risk rule by probability, and the preview of both."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Partner = cls.env["res.partner"]
        # Evaluate only the customers of this test: put the others out of scope.
        cls.Partner.search([("lifecycle_stage", "!=", False)]).write({"active": False})
        cls.env.flush_all()

    def _customer(self, name, stamps, **vals):
        """A customer with a done visit at each of ``stamps`` (days at 09:00 UTC,
        or full UTC timestamps)."""
        partner = self.Partner.create({"name": name, "company_id": self.company.id, **vals})
        for stamp in stamps:
            self._visit(partner=partner, date=stamp if " " in stamp else f"{stamp} 09:00:00")
        return partner

    def _cron(self):
        return self.Partner._cron_evaluate_lifecycle()

    def _stage_on(self, partner, day):
        with freeze_time(f"{day} 12:00:00"):
            self._cron()
        return partner.lifecycle_stage

    def _set_probability(self, partner, probability, fit_date):
        """What the prediction engine writes nightly (an engine field: SQL here), and
        the company's fit of that night."""
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE res_partner SET probability_alive = %s WHERE id = %s",
            [probability, partner.id],
        )
        partner.invalidate_recordset(["probability_alive"])
        self._fit(fit_date)

    def _fit(self, day):
        fits = self.env["housekeeping.prediction.fit"].sudo()
        if not fits.search_count([("date", "=", day), ("company_id", "=", self.company.id)]):
            fits.create({"date": day, "company_id": self.company.id, "state": "fitted"})

    # ------------------------------------------------------------ seasons
    def test_season_crossing_the_new_year(self):
        """Deep cleaning around the Spring Festival, December to February, two winters:
        one season across the new year, due back at its start (5 December), at risk
        30 days later, churned a season later."""
        with freeze_time("2025-02-25 12:00:00"):
            winter = self._customer(
                "Winter",
                [
                    "2023-12-10",
                    "2024-01-15",
                    "2024-02-20",
                    "2024-12-05",
                    "2025-01-20",
                    "2025-02-25",
                ],
            )
            # a regular customer with the same visits over one winter only
            regular = self._customer("Regular", ["2024-12-05", "2025-01-20", "2025-02-25"])
        self.assertEqual(self._stage_on(winter, "2025-10-01"), "loyal")
        self.assertTrue(winter.lifecycle_seasonal)
        # 5 December (day 339) to 25 February (day 56)
        self.assertEqual((winter.lifecycle_season_start, winter.lifecycle_season_end), (339, 56))
        self.assertEqual(
            winter.with_context(lang="en_US").lifecycle_season_display, "Every year Dec–Feb"
        )
        self.assertEqual(winter.lifecycle_next_check, date(2026, 1, 5))
        self.assertFalse(regular.lifecycle_seasonal, "one winter is no season")
        self.assertEqual(regular.lifecycle_stage, "churned")

        self.assertEqual(self._stage_on(winter, "2026-01-04"), "loyal")
        self.assertEqual(self._stage_on(winter, "2026-01-05"), "at_risk")
        self.assertEqual(self._stage_on(winter, "2027-01-04"), "at_risk")
        self.assertEqual(winter.lifecycle_next_check, date(2027, 1, 5))
        self.assertEqual(self._stage_on(winter, "2027-01-05"), "churned")

    def test_seasons_of_four_and_five_months(self):
        """February to May (4 calendar months) and March to July (5) are seasons
        within the 150 days; a shorter longest season leaves out the longer one."""
        with freeze_time("2025-07-25 12:00:00"):
            spring = self._customer(
                "Spring",
                ["2024-02-10", "2024-03-15", "2024-04-20", "2024-05-25"]
                + ["2025-02-12", "2025-03-18", "2025-05-28"],
            )
            summer = self._customer(
                "Summer", ["2024-03-01", "2024-07-25", "2025-03-05", "2025-07-20"]
            )
        self._stage_on(spring, "2025-10-01")
        self.assertTrue(spring.lifecycle_seasonal)
        self.assertTrue(summer.lifecycle_seasonal)
        self.assertEqual(
            spring.with_context(lang="en_US").lifecycle_season_display, "Every year Feb–May"
        )
        self.assertEqual(
            summer.with_context(lang="en_US").lifecycle_season_display, "Every year Mar–Jul"
        )
        self.assertNotIn(spring.lifecycle_stage, ("at_risk", "churned"))
        self.assertNotIn(summer.lifecycle_stage, ("at_risk", "churned"))
        # month names in the user's language
        self.env["res.lang"]._activate_lang("zh_CN")
        self.assertIn("2月", spring.with_context(lang="zh_CN").lifecycle_season_display)

        # the grace is a setting: 10 days after 10 February
        self.company.hk_season_grace_days = 10
        self.assertEqual(self._stage_on(spring, "2026-02-20"), "loyal")
        self.assertEqual(spring.lifecycle_next_check, date(2026, 2, 21))
        self.assertEqual(self._stage_on(spring, "2026-02-21"), "at_risk")

        # 1 March to 25 July is 147 days: not a season of at most 120
        self.company.hk_season_max_days = 120
        with freeze_time("2026-02-21 12:00:00"):
            self._cron()
        self.assertFalse(summer.lifecycle_seasonal)
        self.assertFalse(summer.lifecycle_season_display)
        self.assertTrue(spring.lifecycle_seasonal, "February to May is 108 days")

    def test_one_stray_visit_is_tolerated(self):
        """Three springs and one visit in September: one visit in ten may be off
        season (10%); with no tolerance the customer is not seasonal."""
        with freeze_time("2025-04-15 12:00:00"):
            stray = self._customer(
                "Stray",
                ["2023-02-10", "2023-03-10", "2023-04-10"]
                + ["2024-02-12", "2024-03-12", "2024-04-12", "2024-09-20"]
                + ["2025-02-15", "2025-03-15", "2025-04-15"],
            )
        self._stage_on(stray, "2025-10-01")
        self.assertTrue(stray.lifecycle_seasonal)
        self.assertEqual(
            (stray.lifecycle_season_start, stray.lifecycle_season_end), (41, 105)
        )  # 10 February to 15 April
        self.assertEqual(
            stray.with_context(lang="en_US").lifecycle_season_display, "Every year Feb–Apr"
        )
        self.assertEqual(stray.lifecycle_next_check, date(2026, 3, 13))

        self.company.hk_season_off_share = 0
        with freeze_time("2025-10-01 12:00:00"):
            self._cron()
        self.assertFalse(stray.lifecycle_seasonal)
        self.assertFalse(stray.lifecycle_season_start)

    def test_visits_near_midnight_in_shanghai(self):
        """A visit at half past midnight on 1 January in Beijing time is in January
        (it is 31 December in UTC): the season is January, not December–January."""
        stamps = [
            "2023-12-31 16:30:00",  # 2024-01-01 00:30 in Asia/Shanghai
            "2024-01-20 09:00:00",
            "2024-12-31 17:00:00",  # 2025-01-01 01:00
            "2025-01-25 15:59:00",  # 2025-01-25 23:59
        ]
        with freeze_time("2025-01-26 12:00:00"):
            partner = self._customer("Night owl", stamps, tz="Asia/Shanghai")
            in_utc = self._customer("Night owl in UTC", stamps, tz="UTC")
        self.assertEqual(partner.last_visit_date, date(2025, 1, 25))
        self.assertEqual(self._stage_on(partner, "2026-01-25"), "loyal")
        self.assertTrue(partner.lifecycle_seasonal)
        self.assertEqual((partner.lifecycle_season_start, partner.lifecycle_season_end), (1, 25))
        self.assertEqual(
            partner.with_context(lang="en_US").lifecycle_season_display, "Every year in Jan"
        )
        # due back on 1 January, at risk 30 days later
        self.assertEqual(partner.lifecycle_next_check, date(2026, 2, 1))
        self.assertEqual(self._stage_on(partner, "2026-02-01"), "at_risk")
        # the same instants in UTC fall on 31 December: a season across the new year
        self.assertEqual((in_utc.lifecycle_season_start, in_utc.lifecycle_season_end), (365, 25))
        self.assertEqual(
            in_utc.with_context(lang="en_US").lifecycle_season_display, "Every year Dec–Jan"
        )

    def test_season_fields_are_the_engines(self):
        partner = self._customer("Guarded", ["2024-01-10", "2025-01-12"])
        with self.assertRaises(UserError):
            partner.with_user(self.user).write({"lifecycle_season_start": 100})
        self.assertIn(
            "lifecycle_season_end", self.env["housekeeping.engine.lifecycle"]._engine_fields
        )

    # ------------------------------------------------------------ probability rule
    def test_probability_rule(self):
        with freeze_time("2026-01-29 12:00:00"):
            unlikely = self._customer("Unlikely", ["2026-01-01", "2026-01-15", "2026-01-29"])
            unknown = self._customer("Unknown", ["2026-01-01", "2026-01-15", "2026-01-29"])
            back = self._customer("Back", ["2026-01-01", "2026-01-15", "2026-01-29"])
            seasonal = self._customer("Seasonal", ["2025-01-10", "2026-01-12", "2026-01-29"])
        for partner, probability in ((unlikely, 0.1), (back, 0.1), (seasonal, 0.05)):
            self._set_probability(partner, probability, "2026-02-01")
        self.assertEqual(self._stage_on(unlikely, "2026-02-05"), "loyal", "the rule is off")

        self.company.write({"hk_at_risk_probability_enabled": True, "hk_at_risk_probability": 30})
        self.assertEqual(self._stage_on(unlikely, "2026-02-05"), "at_risk")
        self.assertEqual(back.lifecycle_stage, "at_risk")
        self.assertEqual(unknown.lifecycle_stage, "loyal", "no prediction: interval rules only")
        self.assertEqual(seasonal.lifecycle_stage, "loyal", "a season is not judged by it")

        # a visit after the last prediction: back at once, without waiting for
        # tonight's figure
        with freeze_time("2026-02-06 12:00:00"):
            self._visit(partner=back, date="2026-02-06 09:00:00")
        self.assertEqual(back.lifecycle_stage, "loyal")
        self.assertEqual(back.won_back_date, date(2026, 2, 6))

        # tonight's prediction below the threshold makes the customer due at once
        with freeze_time("2026-02-07 12:00:00"):
            self._cron()
            self.assertTrue(unknown.lifecycle_next_check)
            self.env["housekeeping.engine.prediction"]._prediction_write(
                np.array([unknown.id, unlikely.id, back.id, seasonal.id]),
                np.array([0.2, 0.1, 0.1, 0.05]),
                np.array([0.5, 0.5, 0.5, 0.5]),
                np.array([100.0, 100.0, 100.0, 100.0]),
            )
            self.assertFalse(unknown.lifecycle_next_check)
            self._fit("2026-02-07")
            self._cron()
        self.assertEqual(unknown.lifecycle_stage, "at_risk")

        self.company.hk_at_risk_probability_enabled = False
        self.assertEqual(self._stage_on(unknown, "2026-02-08"), "loyal", "the rule off again")

    def test_preview_side_by_side(self):
        with freeze_time("2026-01-29 12:00:00"):
            unlikely = self._customer("Unlikely", ["2026-01-01", "2026-01-15", "2026-01-29"])
            self._customer("Unknown", ["2026-01-01", "2026-01-15", "2026-01-29"])
            spring = self._customer(
                "Spring", ["2024-02-10", "2024-05-25", "2025-02-12", "2025-05-28"]
            )
        self._set_probability(unlikely, 0.1, "2026-02-01")
        with freeze_time("2026-02-05 12:00:00"):
            self._cron()
            self.assertEqual(spring.lifecycle_stage, "loyal")
            preview = self.env["housekeeping.lifecycle.preview"].create(
                {"hk_at_risk_probability": 30}
            )
            self.assertEqual(preview.hk_season_max_days, 150, "defaults come from the company")
            self.assertFalse(preview.hk_at_risk_probability_enabled)
            preview.action_preview()
            self.assertEqual(
                [
                    (line.from_stage, line.to_stage, line.count, line.count_probability)
                    for line in preview.line_ids
                ],
                [("loyal", "at_risk", 0, 1)],
            )
            self.assertEqual((preview.moved_count, preview.moved_count_probability), (0, 1))

            # the season settings are previewed too: 10 February to 28 May is no
            # season of 90 days, and the customer has been idle 253 days (more
            # than twice the usual 105)
            preview.hk_season_max_days = 90
            preview.action_preview()
            self.assertEqual(
                [
                    (line.from_stage, line.to_stage, line.count, line.count_probability)
                    for line in preview.line_ids
                ],
                [("loyal", "at_risk", 1, 2)],
            )
            self.assertEqual((preview.moved_count, preview.moved_count_probability), (1, 2))
            self.assertEqual(spring.lifecycle_stage, "loyal", "nothing written")
            self.assertTrue(spring.lifecycle_seasonal)
            preview.hk_at_risk_probability_enabled = True
            preview.action_apply()
        self.assertEqual(self.company.hk_season_max_days, 90)
        self.assertTrue(self.company.hk_at_risk_probability_enabled)
        self.assertEqual(self.company.hk_at_risk_probability, 30)
