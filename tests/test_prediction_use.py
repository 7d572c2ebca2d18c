"""The prediction put to use: journeys that target and order by predicted value
(a daily send cap, minimums), and the dashboard's 90-day visits forecast
against the cleaners' capacity."""

from datetime import date, datetime, timedelta

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import Form, TransactionCase, tagged

from ..models.engines.prediction import PREDICTION_FIELDS
from ..models.trust import engine_writes
from .common import HousekeepingCase
from .test_engagement import EngagementCase


def predict(partners, values, alive=None, visits=None):
    """Set the prediction engine's figures by hand (``False``: no prediction)."""
    alive = alive or [0.5 if value is not False else False for value in values]
    visits = visits or [1.0 if value is not False else False for value in values]
    with engine_writes(*PREDICTION_FIELDS):
        for partner, value, probability, expected in zip(
            partners, values, alive, visits, strict=True
        ):
            partner.write(
                {
                    "predicted_value_12m": value,
                    "probability_alive": probability,
                    "expected_visits_90d": expected,
                }
            )
    partners.env.flush_all()


@tagged("post_install", "-at_install")
class TestJourneyByPredictedValue(EngagementCase):
    """The wake-up journey (customers whose last visit, 29 January, is 60 days
    old from 30 March on)."""

    def _journey(self, partners, **vals):
        journey = self.wake_up
        journey.write({"audience_domain": repr([("id", "in", partners.ids)]), **vals})
        return journey

    def _run(self, journey, day, batch=2):
        with freeze_time(f"{day} 10:00:00"):
            self.env["housekeeping.engine.journey"]._run_journeys(
                journey, date.fromisoformat(day), batch=batch
            )
        return self._sends(journey).partner_id

    def test_cap_sends_the_most_valuable_first(self):
        partners = self._population("Val", 8)
        p = list(partners)
        predict(partners, [100, 800, 300, False, 700, 200, 600, 500])
        journey = self._journey(partners, max_per_day=3, order_by_value=True)
        # batches of 2 under a cap of 3: the day's three most valuable customers
        self.assertEqual(self._run(journey, "2026-04-05"), p[1] | p[4] | p[6])
        # the cap is per day: a second run on the same day sends nothing
        self.assertEqual(len(self._run(journey, "2026-04-05")), 3)
        self.assertEqual(
            self._run(journey, "2026-04-06") - (p[1] | p[4] | p[6]), p[7] | p[2] | p[5]
        )
        # the customer without a prediction comes last
        self.assertEqual(self._run(journey, "2026-04-07"), partners)
        sends = self._sends(journey)
        last_day = sends.filtered(lambda s: s.date.date() == date(2026, 4, 7)).partner_id
        self.assertEqual(last_day, p[0] | p[3])

    def test_cap_without_value_order_takes_the_oldest_customers(self):
        partners = self._population("Old", 5)
        predict(partners, [100, 200, 300, 400, 500])
        journey = self._journey(partners, max_per_day=2, order_by_value=False)
        self.assertEqual(self._run(journey, "2026-04-05", batch=100), partners[:2])

    def test_value_order_without_cap_sends_everyone(self):
        partners = self._population("All", 4)
        predict(partners, [100, False, 300, 50])
        journey = self._journey(partners, order_by_value=True)
        self.assertEqual(self._run(journey, "2026-04-05"), partners)

    def test_minimum_probability_and_value(self):
        partners = self._population("Min", 6)
        p = list(partners)
        predict(
            partners,
            [900, 900, 200, 400, False, 350],
            alive=[0.95, 0.2, 0.9, 0.5, False, 0.49],
        )
        journey = self._journey(partners, min_probability_alive=50, min_predicted_value=300)
        # p1 unlikely still a customer, p2 worth too little, p4 without a
        # prediction, p5 below 50 %
        self.assertEqual(self._run(journey, "2026-04-05", batch=100), p[0] | p[3])
        journey2 = journey.copy({"name": "Probability only", "min_predicted_value": 0})
        self.assertEqual(self._run(journey2, "2026-04-05", batch=100), p[0] | p[2] | p[3])

    def test_query_count_does_not_depend_on_the_population(self):
        """With a cap, each day sends the same number of messages: the runs take
        the same number of queries for 10 and for 50 customers."""
        small = self._population("Qs", 16)
        predict(small, list(range(100, 1700, 100)))
        journey = self._journey(small, max_per_day=4, order_by_value=True)

        def queries(day):
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            sent = len(self._run(journey, day, batch=100))
            return self.env.cr.sql_log_count - before, sent

        # two days warm the caches (templates, rules, the follow-up of the
        # messages of the day before)
        queries("2026-04-05")
        queries("2026-04-06")
        count_small, sent = queries("2026-04-07")
        self.assertEqual(sent, 12)
        large = self._population("Ql", 40)
        predict(large, [5000 + i for i in range(40)])
        journey.audience_domain = repr([("id", "in", (small | large).ids)])
        count_large, sent = queries("2026-04-08")
        self.assertEqual(sent, 16)
        self.assertEqual(
            self._sends(journey).filtered(lambda s: s.date.date() == date(2026, 4, 8)).partner_id,
            large[-4:],
            "the four most valuable",
        )
        self.assertEqual(count_large, count_small)

    def test_form_shows_the_options_and_checks_them(self):
        form = Form(self.env["housekeeping.journey"])
        form.name = "Win back the valuable ones"
        form.trigger = "wake_up"
        form.delay_days = 90
        form.mail_template_id = self.wake_up.mail_template_id
        form.min_probability_alive = 30
        form.min_predicted_value = 500
        form.max_per_day = 50
        form.order_by_value = True
        journey = form.save()
        self.assertEqual(
            (journey.min_probability_alive, journey.max_per_day, journey.order_by_value),
            (30, 50, True),
        )
        self.assertTrue(self.wake_up.order_by_value, "the wake-up journey orders by value")
        for vals in ({"min_probability_alive": 101}, {"max_per_day": -1}):
            with self.assertRaises(ValidationError):
                journey.write(vals)


@tagged("post_install", "-at_install")
@freeze_time("2026-06-30 12:00:00")
class TestDashboardForecast(HousekeepingCase):
    def test_expected_visits_against_capacity(self):
        """Expected: 2.5 + 4 + 1.25 = 7.75 visits. Capacity: two cleaners with a
        done visit in the last 90 days (not the one last seen 100 days ago, nor
        the archived one) × 3 visits a day × 90 days = 540."""
        self.env.user.tz = "UTC"
        self.company.hk_cleaner_daily_visits = 3
        old_hand = self.env["hr.employee"].create({"name": "Cleaner Old"})
        retired = self.env["hr.employee"].create({"name": "Cleaner Retired"})
        customers = self.env["res.partner"].create([{"name": f"Forecast {i}"} for i in range(5)])
        now = datetime(2026, 6, 30, 9, 0)
        for partner, employee, days in (
            (customers[0], self.cleaner, 3),
            (customers[1], self.cleaner_2, 89),
            (customers[1], self.cleaner, 20),
            (customers[2], old_hand, 100),
            (customers[3], retired, 10),
        ):
            self._visit(partner, date=now - timedelta(days=days), employee=employee)
        retired.active = False
        archived = customers[4]
        predict(customers, [0, 0, 0, 0, 0], visits=[2.5, 4.0, 1.25, False, 6.0])
        archived.active = False
        other = self.env["res.company"].create({"name": "Forecast Elsewhere"})
        stranger = self.env["res.partner"].create({"name": "Elsewhere", "company_id": other.id})
        predict(stranger, [0], visits=[9.0])

        data = self.env["housekeeping.dashboard"].with_user(self.manager).get_dashboard_data()
        forecast = data["forecast"]
        self.assertEqual(forecast["expected"], 7.75)
        self.assertEqual(forecast["cleaners"], 2)
        self.assertEqual(forecast["capacity"], 2 * 3 * 90)
        self.assertEqual(forecast["load"], round(100 * 7.75 / 540, 1))
        self.assertIn("90 days", forecast["help"])

        # no visits per cleaner: no capacity (and no load)
        self.company.hk_cleaner_daily_visits = 0
        forecast = (
            self.env["housekeeping.dashboard"].with_user(self.manager).get_dashboard_data()
        )["forecast"]
        self.assertEqual((forecast["capacity"], forecast["load"]), (0.0, None))
        with self.assertRaises(ValidationError):
            self.company.hk_cleaner_daily_visits = -1


@tagged("post_install", "-at_install")
class TestPredictionInLists(TransactionCase):
    def test_lifecycle_and_customer_lists_sort_by_prediction(self):
        """The lifecycle list and the customer list (grouped by RFM segment for the
        RFM report) show the probability and the predicted value, sortable."""
        Partner = self.env["res.partner"]
        for xmlid in (
            "housekeeping_membership.res_partner_view_list_lifecycle_housekeeping",
            "housekeeping_membership.res_partner_view_list_housekeeping",
        ):
            arch = Partner.get_view(self.env.ref(xmlid).id, "list")["arch"]
            for name in ("probability_alive", "predicted_value_12m"):
                self.assertIn(f'name="{name}"', arch, xmlid)
        for name in ("probability_alive", "predicted_value_12m"):
            self.assertTrue(Partner._fields[name].store, "stored: sortable and filterable")
