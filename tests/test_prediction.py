"""BG/NBD and Gamma-Gamma: the published CDNOW figures, the nightly engine on a
small population, the guard on the figures and bad input."""

import csv
from datetime import datetime, timedelta

import numpy as np
from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import file_open

from ..models.housekeeping_prediction import (
    bgnbd_expected_visits,
    bgnbd_probability_alive,
    gamma_gamma_expected_value,
)
from .common import HousekeepingCase

NOW = "2026-06-30 12:00:00"


def cdnow_summary():
    """The CDNOW sample (2,357 customers; weeks): x, t_x, T, mean repeat amount."""
    with file_open(
        "housekeeping_membership/tests/data/cdnow_customers_summary_with_transactions.csv"
    ) as handle:
        rows = list(csv.DictReader(handle))
    return tuple(np.array([float(row[key]) for row in rows]) for key in ("x", "t_x", "T", "zbar"))


@tagged("post_install", "-at_install")
class TestPredictionModels(HousekeepingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Prediction = cls.env["housekeeping.prediction"]
        cls.x, cls.t_x, cls.age, cls.monetary = cdnow_summary()

    def test_bgnbd_cdnow_matches_the_paper(self):
        """Fader, Hardie & Lee (2005), CDNOW sample: r = 0.243, α = 4.414,
        a = 0.793, b = 2.426, LL = -9582.4."""
        self.assertEqual(len(self.x), 2357)
        fit = self.Prediction.fit_bgnbd(self.x.tolist(), self.t_x.tolist(), self.age.tolist())
        self.assertEqual(set(fit), {"r", "alpha", "a", "b", "log_likelihood"})
        self.assertEqual(round(fit["r"], 3), 0.243)
        self.assertEqual(round(fit["alpha"], 3), 4.414)
        self.assertEqual(round(fit["a"], 3), 0.793)
        self.assertEqual(round(fit["b"], 3), 2.426)
        self.assertEqual(round(fit["log_likelihood"], 1), -9582.4)
        # the paper's worked example: 2 repeat purchases, the last at 30.43
        # weeks, T = 38.86: 1.226 purchases expected in the next 39 weeks
        params = (fit["r"], fit["alpha"], fit["a"], fit["b"])
        one = (np.array([2.0]), np.array([30.43]), np.array([38.86]))
        self.assertAlmostEqual(float(bgnbd_expected_visits(params, 39, *one)[0]), 1.226, places=3)
        # a customer without repeat purchase cannot have dropped out (BG/NBD)
        self.assertEqual(float(bgnbd_probability_alive(params, *np.zeros((3, 1)))[0]), 1.0)

    def test_bgnbd_in_days_scales_alpha_only(self):
        """The unit of time scales α alone: the engine fits in days."""
        fit = self.Prediction.fit_bgnbd(self.x, self.t_x * 7, self.age * 7)
        self.assertAlmostEqual(fit["alpha"] / 7, 4.414, places=2)
        self.assertEqual(round(fit["r"], 3), 0.243)
        self.assertEqual(round(fit["b"], 3), 2.426)

    def test_gamma_gamma_cdnow_matches_the_paper(self):
        """Fader, Hardie & Lee (2005), RFM and CLV, the 946 repeat customers:
        p = 6.25, q = 3.74, γ = 15.44 (the sample's amounts are rounded to the
        cent: γ comes out 15.448, within 0.01)."""
        repeat = self.x > 0
        self.assertEqual(int(repeat.sum()), 946)
        fit = self.Prediction.fit_gamma_gamma(self.x[repeat], self.monetary[repeat])
        self.assertEqual(set(fit), {"p", "q", "gamma"})
        self.assertEqual(round(fit["p"], 2), 6.25)
        self.assertEqual(round(fit["q"], 2), 3.74)
        self.assertAlmostEqual(fit["gamma"], 15.44, delta=0.01)
        # the expected visit value of a customer with no repeat yet: p·γ/(q-1)
        params = (fit["p"], fit["q"], fit["gamma"])
        self.assertAlmostEqual(
            gamma_gamma_expected_value(params, 0.0, 0.0), 6.25 * 15.44 / 2.74, delta=0.1
        )

    def test_bad_input_is_refused_with_a_clear_message(self):
        fit = self.Prediction.fit_bgnbd
        with self.assertRaisesRegex(ValidationError, "same length"):
            fit([1, 2], [1, 2], [3])
        with self.assertRaisesRegex(ValidationError, "cannot be negative"):
            fit([1, -1], [1, 2], [3, 4])
        with self.assertRaisesRegex(ValidationError, "customer 2 has recency 5"):
            fit([1, 2], [1, 5], [3, 4])
        with self.assertRaisesRegex(ValidationError, "sequences of numbers"):
            fit(["a"], [1], [2])
        with self.assertRaisesRegex(ValidationError, "finite"):
            fit([1, float("nan")], [1, 1], [2, 2])
        with self.assertRaisesRegex(ValidationError, "At least one customer"):
            fit([], [], [])
        with self.assertRaisesRegex(ValidationError, "repeat visit"):
            fit([0, 0], [0, 0], [3, 4])
        with self.assertRaisesRegex(ValidationError, "penalizer"):
            fit([1, 0], [1, 0], [3, 4], penalizer=-1)
        with self.assertRaisesRegex(ValidationError, "at least one repeat visit"):
            self.Prediction.fit_gamma_gamma([0, 2], [10, 20])
        with self.assertRaisesRegex(ValidationError, "above 0"):
            self.Prediction.fit_gamma_gamma([1, 2], [0, 20])
        with self.assertRaisesRegex(ValidationError, "same length"):
            self.Prediction.fit_gamma_gamma([1, 2], [10])

    def test_portal_users_cannot_fit(self):
        portal = self.env["res.users"].create(
            {
                "name": "Portal Fit",
                "login": "portal_fit",
                "group_ids": [(6, 0, [self.env.ref("base.group_portal").id])],
            }
        )
        with self.assertRaises(UserError):
            self.Prediction.with_user(portal).fit_bgnbd([1], [1], [2])


@tagged("post_install", "-at_install")
class TestPredictionEngine(HousekeepingCase):
    """A small population of weekly customers: steady ones, lapsed ones, one-offs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Engine = cls.env["housekeeping.engine.prediction"]
        cls.now = datetime(2026, 6, 30, 12, 0)
        cls.today = cls.now.date()

    @classmethod
    def _population(cls, prefix, steady=12, lapsed=12, once=8):
        """Customers and their visit days (days before today); returns the partners
        by role. Visits at 09:00 UTC (the same local day in every test time zone)."""
        plan = []
        for i in range(steady):
            start, last = 150 + 9 * i, i % 7
            plan.append((f"{prefix} steady {i}", list(range(start, last - 1, -7))))
        for i in range(lapsed):
            start = 200 + 8 * i
            stop = 60 + 17 * i
            plan.append((f"{prefix} lapsed {i}", list(range(start, stop - 1, -7))))
        for i in range(once):
            plan.append((f"{prefix} once {i}", [10 + 37 * i]))
        return cls._customers(plan)

    @classmethod
    def _customers(cls, plan, amount=lambda day: 100.0 + day % 3 * 20):
        partners = cls.env["res.partner"].create([{"name": name} for name, _days in plan])
        vals = [
            {
                "partner_id": partner.id,
                "service_type_id": cls.service_hourly.id,
                "date": (cls.now.replace(hour=9) - timedelta(days=day)).strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
                "amount": amount(day),
            }
            for partner, (_name, days) in zip(partners, plan, strict=True)
            for day in days
        ]
        with freeze_time(NOW):
            cls.env["housekeeping.visit"].create(vals).action_done()
        return partners

    def _run(self):
        with freeze_time(NOW):
            return self.Engine._cron_predict()

    def test_steady_customer_alive_lapsed_customer_lost(self):
        self._population("P")
        steady, lapsed = self._customers(
            [
                # weekly for 40 weeks, last visit 3 days ago
                ("Steady Wu", list(range(283, 2, -7))),
                # weekly for half a year, nothing for 120 days
                ("Lapsed Li", list(range(302, 119, -7))),
            ]
        )
        self.assertGreater(self._run(), 30)
        fit = self.env["housekeeping.prediction.fit"].search([("company_id", "=", self.company.id)])
        self.assertEqual(len(fit), 1)
        self.assertEqual(fit.state, "fitted", fit.note)
        self.assertEqual(fit.date, self.today)
        self.assertEqual(
            fit.customer_count, self.env["res.partner"].search_count([("visit_count", ">", 0)])
        )
        self.assertLess(fit.log_likelihood, 0)
        self.assertTrue(fit.p and fit.q and fit.gamma)

        self.assertGreater(steady.probability_alive, 0.9)
        self.assertLess(lapsed.probability_alive, 0.2)
        self.assertGreater(steady.expected_visits_90d, 5)
        self.assertLess(lapsed.expected_visits_90d, 1)
        self.assertGreater(steady.predicted_value_12m, lapsed.predicted_value_12m)

        # sortable and filterable
        Partner = self.env["res.partner"]
        lost = Partner.search([("probability_alive", "!=", False), ("probability_alive", "<", 0.3)])
        self.assertIn(lapsed, lost)
        self.assertNotIn(steady, lost)
        ranked = Partner.search(
            [("id", "in", (steady | lapsed).ids)], order="predicted_value_12m desc"
        )
        self.assertEqual(ranked[0], steady)
        # the explanation line
        with freeze_time(NOW):
            steady.invalidate_recordset(["prediction_summary"])
            summary = steady.prediction_summary
        self.assertRegex(summary, r"^\d+% likely still a customer: usually every 7 days, ")
        self.assertTrue(summary.endswith("last visit 3 days ago"), summary)

    def test_value_is_in_company_currency(self):
        """predicted_value_12m = expected visits of the next 365 days × the
        Gamma-Gamma expected value of a visit, rounded to the company currency."""
        partners = self._population("V")
        self._run()
        fit = self.env["housekeeping.prediction.fit"].search([("company_id", "=", self.company.id)])
        customer = partners[0]  # steady 0: weekly from 150 days ago to today
        days = np.arange(150, -1, -7)
        x, t_x, age = len(days) - 1, days[0] - days[-1], days[0]
        repeat_mean = float(np.mean([100.0 + day % 3 * 20 for day in days[1:]]))
        one = (np.array([float(x)]), np.array([float(t_x)]), np.array([float(age)]))
        year = bgnbd_expected_visits((fit.r, fit.alpha, fit.a, fit.b), 365, *one)[0]
        value = gamma_gamma_expected_value((fit.p, fit.q, fit.gamma), x, repeat_mean)
        currency = self.company.currency_id
        self.assertEqual(customer.hk_currency_id, currency)
        self.assertAlmostEqual(
            customer.predicted_value_12m, currency.round(year * value), delta=currency.rounding
        )
        self.assertEqual(currency.round(customer.predicted_value_12m), customer.predicted_value_12m)

    def test_rerun_replaces_the_days_fit_and_writes_nothing(self):
        # (customers whose first visit is older than the holdout period: 29 of 32)
        self.env["ir.config_parameter"].sudo().set_param(
            "housekeeping_membership.prediction_min_customers", 20
        )
        self._population("R")
        self.assertGreater(self._run(), 0)
        self.assertEqual(self._run(), 0)
        fits = self.env["housekeeping.prediction.fit"].search(
            [("company_id", "=", self.company.id)]
        )
        self.assertEqual(len(fits), 1)
        self.assertEqual(fits.holdout_days, 90)
        self.assertGreater(fits.holdout_customer_count, 0)
        self.assertTrue(fits.holdout_actual)
        self.assertTrue(fits.holdout_predicted)

    def test_too_few_customers_keep_the_last_fitted_model(self):
        partners = self._population("K")
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("housekeeping_membership.prediction_min_customers", 10000)
        self._run()
        fit = self.env["housekeeping.prediction.fit"].search([("company_id", "=", self.company.id)])
        self.assertEqual(fit.state, "skipped")
        self.assertIn("Too few customers", fit.note)
        self.assertFalse(partners[0].probability_alive)
        self.assertFalse(partners[0].prediction_summary)
        # fitted one day, skipped the next: the customers keep the last model
        params.set_param("housekeeping_membership.prediction_min_customers", 30)
        self._run()
        alive = partners[0].probability_alive
        self.assertTrue(alive)
        params.set_param("housekeeping_membership.prediction_min_customers", 10000)
        with freeze_time("2026-07-01 12:00:00"):
            self.Engine._cron_predict()
        fits = self.env["housekeeping.prediction.fit"].search(
            [("company_id", "=", self.company.id)]
        )
        self.assertEqual(fits.mapped("state"), ["skipped", "fitted"])
        self.assertTrue(partners[0].probability_alive)

    def test_customer_without_visits_any_more_loses_the_figures(self):
        partners = self._population("G")
        self._run()
        gone = partners[0]
        self.assertTrue(gone.probability_alive)
        with freeze_time(NOW):
            gone.visit_ids.action_cancel()
        self._run()
        self.assertFalse(gone.probability_alive)
        self.assertFalse(gone.expected_visits_90d)
        self.assertFalse(gone.predicted_value_12m)

    def test_query_count_does_not_grow_with_the_population(self):
        def queries():
            self._run()  # the day's fit exists: each measured run replaces it
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            self._run()
            return self.cr.sql_log_count - before

        # (both populations fitted: a skipped fit writes fewer columns)
        self.env["ir.config_parameter"].sudo().set_param(
            "housekeeping_membership.prediction_min_customers", 5
        )
        self._population("Q", steady=4, lapsed=4, once=2)
        small = queries()
        self._population("Q2", steady=16, lapsed=16, once=8)
        self.assertEqual(queries(), small)

    def test_figures_are_the_engines_alone(self):
        partner = self.env["res.partner"].create({"name": "Forger"})
        for field, value in (
            ("probability_alive", 0.5),
            ("expected_visits_90d", 3.0),
            ("predicted_value_12m", 999.0),
        ):
            for user in (self.env.user, self.manager):
                with self.subTest(field=field, user=user.login), self.assertRaises(UserError):
                    partner.with_user(user).write({field: value})
            with self.assertRaises(UserError):
                self.env["res.partner"].create({"name": "Forged", field: value})
        self.assertIn("probability_alive", self.env["res.partner"]._hk_engine_fields())
        self.assertFalse(partner.probability_alive)

    def test_fits_are_read_only_for_staff_and_per_company(self):
        self._population("S")
        self._run()
        Fit = self.env["housekeeping.prediction.fit"]
        fit = Fit.search([("company_id", "=", self.company.id)])
        for user in (self.user, self.manager):
            self.assertEqual(Fit.with_user(user).search([("id", "=", fit.id)]), fit)
            with self.assertRaises(AccessError):
                fit.with_user(user).write({"r": 1.0})
            with self.assertRaises(AccessError):
                fit.with_user(user).unlink()
            with self.assertRaises(AccessError):
                Fit.with_user(user).create({"date": self.today, "company_id": self.company.id})
        other = self.env["res.company"].create({"name": "Other branch"})
        stranger = self._company_user("hk_other_pred", other)
        self.assertFalse(Fit.with_user(stranger).search([("id", "=", fit.id)]))

    def test_scheduled_action(self):
        """ir_cron_prediction runs the engine through the scheduler (as its user,
        outside sudo) and fits and predicts in one call."""
        cron = self.env.ref("housekeeping_membership.ir_cron_prediction")
        self.assertEqual(cron.model_id.model, "housekeeping.engine.prediction")
        self.assertIn("_cron_predict", cron.code)
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "days"))
        partners = self._population("C")
        with freeze_time(NOW), self.enter_registry_test_mode():
            self.assertIs(cron.method_direct_trigger(), True)
        self.env.invalidate_all()
        fit = self.env["housekeeping.prediction.fit"].search([("company_id", "=", self.company.id)])
        self.assertEqual(fit.state, "fitted")
        self.assertTrue(partners[0].probability_alive)
