"""Bad inputs: every one is refused with a clear error and writes nothing.

Each test runs the bad operation inside ``assertRefused``, which snapshots the row
counts of the addon's tables (and of what they create: coupons, activities,
messages) and the raw database rows of the records involved, expects a
``UserError`` / ``ValidationError`` (or, for SQL constraints, the
``IntegrityError`` that Odoo's RPC layer turns into a ``ValidationError`` with the
constraint's message), and compares the snapshot afterwards.
"""

from contextlib import contextmanager
from datetime import timedelta

import psycopg2
from freezegun import freeze_time
from markupsafe import Markup

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.http import Request
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import SQL, mute_logger

from .common import HousekeepingCase

REFUSED = (UserError, ValidationError)
# SQL constraints: Odoo's RPC layer shows them as a ValidationError with their message.
REFUSED_SQL = (UserError, ValidationError, psycopg2.IntegrityError)

# Tables whose row counts must not move when an input is refused.
WATCHED_MODELS = (
    "res.partner",
    "res.company",
    "housekeeping.visit",
    "housekeeping.points.entry",
    "housekeeping.points.allocation",
    "housekeeping.points.adjustment",
    "housekeeping.points.campaign",
    "housekeeping.reward",
    "housekeeping.tier",
    "housekeeping.tier.log",
    "housekeeping.stage.log",
    "loyalty.card",
    "mail.activity",
    "mail.message",
    "rating.rating",
)


class SnapshotMixin:
    """Counts of the watched tables and raw rows of given records."""

    def _hk_snapshot(self, records=()):
        env = self.env
        env.flush_all()
        counts = {}
        for model in WATCHED_MODELS:
            env.cr.execute(SQL("SELECT count(*) FROM %s", SQL.identifier(env[model]._table)))
            counts[model] = env.cr.fetchone()[0]
        rows = {}
        for record in records:
            env.cr.execute(
                SQL(
                    "SELECT to_jsonb(t) FROM %s t WHERE id = ANY(%s)",
                    SQL.identifier(record._table),
                    record.ids,
                )
            )
            rows[(record._name, tuple(record.ids))] = sorted(
                (r[0] for r in env.cr.fetchall()), key=lambda r: r["id"]
            )
        return counts, rows

    @contextmanager
    def assertRefused(self, records=(), exc=REFUSED, message=None):
        """The body must raise ``exc`` (whose text contains ``message``) and leave
        the watched tables and the raw rows of ``records`` unchanged."""
        before = self._hk_snapshot(records)
        with self.assertRaises(Exception) as caught:  # noqa: B017 (the type is checked below)
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                yield
        self.assertIsInstance(caught.exception, exc)
        if message:
            self.assertIn(message, str(caught.exception))
        self.env.invalidate_all(flush=False)
        self.assertEqual(self._hk_snapshot(records), before, "a refused input wrote something")


@tagged("post_install", "-at_install")
class TestBadInputORM(SnapshotMixin, HousekeepingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program = (
            cls.env["loyalty.program"]
            .with_context(default_program_type="coupons")
            .create({"name": "Bad input coupon"})
        )
        cls.reward = cls.env["housekeeping.reward"].create(
            {
                "name": "¥30 coupon",
                "points_cost": 300,
                "reward_type": "coupon",
                "loyalty_program_id": cls.program.id,
            }
        )
        cls.gift = cls.env["housekeeping.reward"].create(
            {"name": "Apron", "points_cost": 100, "reward_type": "gift"}
        )
        cls.rich = cls.env["res.partner"].create({"name": "Rich customer"})
        cls.rich.env["housekeeping.engine.points"]._grant_points(
            cls.rich, 1000, "goodwill", origin="bad-input"
        )
        cls.china = cls.env.ref("base.cn")

    def _visit_vals(self, **vals):
        return {
            "partner_id": self.customer.id,
            "service_type_id": self.service_hourly.id,
            "date": "2026-01-10 09:00:00",
            "amount": 100.0,
            **vals,
        }

    # ------------------------------------------------------------------ visits
    def test_visit_negative_amount(self):
        with self.assertRefused(exc=REFUSED_SQL):
            self.env["housekeeping.visit"].create(self._visit_vals(amount=-50))

    def test_visit_negative_amount_on_write(self):
        visit = self._visit(state="draft")
        with self.assertRefused([visit, self.customer], exc=REFUSED_SQL):
            visit.amount = -1

    def test_done_visit_amount_and_customer_frozen(self):
        """A done visit's amount earned points: correcting it in place would leave
        them (and the tier) as they were."""
        visit = self._visit(amount=500)
        other = self.env["res.partner"].create({"name": "Someone else"})
        with self.assertRefused([visit, self.customer, other], message="is done"):
            visit.amount = 50
        with self.assertRefused([visit, self.customer, other], message="is done"):
            visit.partner_id = other
        # what earned nothing may still be corrected
        visit.write({"amount": 500, "payment_method": "cash"})
        self.assertEqual(visit.payment_method, "cash")

    def test_visit_state_only_through_buttons(self):
        """A state written directly (a kanban card dragged, an import) would skip the
        points of a completion or the reversal of a cancellation."""
        draft = self._visit(state="draft")
        with self.assertRefused([draft, self.customer], message="buttons"):
            draft.state = "done"
        done = self._visit(amount=300)
        with self.assertRefused([done, self.customer], message="buttons"):
            done.write({"state": "cancelled"})
        self.assertEqual(draft.state, "draft")
        self.assertEqual(self.customer.visit_count, 1)

    def test_done_visit_without_date(self):
        with self.assertRefused(message="needs a date"):
            self.env["housekeeping.visit"].create(self._visit_vals(date=False, state="done"))

    def test_done_visit_without_customer(self):
        with self.assertRefused(exc=REFUSED_SQL):
            self.env["housekeeping.visit"].create(self._visit_vals(partner_id=False, state="done"))

    def test_visit_in_another_company_than_its_customer(self):
        company_b = self.env["res.company"].create({"name": "Store B"})
        customer_b = self.env["res.partner"].create({"name": "B", "company_id": company_b.id})
        with self.assertRefused(message="belongs to"):
            self.env["housekeeping.visit"].create(
                self._visit_vals(partner_id=customer_b.id, company_id=self.company.id)
            )

    def test_visit_done_in_the_future(self):
        visit = self._visit(date=fields.Datetime.now() + timedelta(days=2), state="draft")
        with self.assertRefused([visit, self.customer], message="in the future"):
            visit.action_done()

    def test_visit_created_done_in_the_future(self):
        future = fields.Datetime.now() + timedelta(days=2)
        with self.assertRefused(message="in the future"):
            self.env["housekeeping.visit"].create(self._visit_vals(date=future, state="done"))

    def test_visit_before_2000(self):
        with self.assertRefused(message="2000"):
            self.env["housekeeping.visit"].create(self._visit_vals(date="1999-12-31 09:00:00"))

    def test_cancel_cancelled_visit(self):
        visit = self._visit(state="cancelled")
        with self.assertRefused([visit, self.customer], message="already cancelled"):
            visit.action_cancel()

    def test_done_visit_cannot_be_deleted(self):
        visit = self._visit()
        with self.assertRefused([visit, self.customer]):
            visit.unlink()

    def test_complete_a_done_visit_again(self):
        visit = self._visit()
        with self.assertRefused([visit, self.customer]):
            visit.action_done()

    # ------------------------------------------------------------------ customers
    def test_birthday_in_the_future(self):
        future = fields.Date.today() + timedelta(days=1)
        with self.assertRefused([self.customer], message="future"):
            self.customer.birthday = future

    def test_birthday_before_1900(self):
        with self.assertRefused([self.customer], message="1900"):
            self.customer.birthday = "1899-12-31"

    def test_invalid_china_mobile_for_an_individual(self):
        with self.assertRefused([self.customer], message="mobile"):
            self.customer.write({"country_id": self.china.id, "phone": "010-1234"})

    def test_invalid_china_mobile_on_create(self):
        with self.assertRefused(message="mobile"):
            self.env["res.partner"].create(
                {"name": "Bad phone", "country_id": self.china.id, "phone": "12800138000"}
            )

    def test_household_size_negative(self):
        with self.assertRefused([self.customer], message="household size"):
            self.customer.household_size = -1

    def test_household_size_huge(self):
        with self.assertRefused([self.customer], message="household size"):
            self.customer.household_size = 1000

    def test_home_area_huge(self):
        with self.assertRefused([self.customer], message="home size"):
            self.customer.home_area = 1e9

    def test_home_area_not_a_number(self):
        with self.assertRefused([self.customer], message="home size"):
            self.customer.home_area = float("nan")

    def test_self_referral_by_field(self):
        with self.assertRefused([self.customer], message="refer themselves"):
            self.customer.referred_by_id = self.customer

    def test_self_referral_by_code(self):
        code = self.customer._hk_ensure_referral_code()[0]
        with self.assertRefused([self.customer], message="own referral code"):
            self.customer.action_apply_referral_code(code)

    def test_unknown_referral_code(self):
        with self.assertRefused([self.customer], message="does not exist"):
            self.customer.action_apply_referral_code("NOPE2345")

    def test_empty_referral_code(self):
        with self.assertRefused([self.customer], message="does not exist"):
            self.customer.action_apply_referral_code("   ")

    def test_referral_after_first_visit(self):
        code = self.rich._hk_ensure_referral_code()[0]
        self._visit()
        with self.assertRefused([self.customer, self.rich], message="before their first visit"):
            self.customer.action_apply_referral_code(code)

    def test_duplicate_check_in(self):
        self.customer.action_check_in()
        with self.assertRefused([self.customer], message="Already checked in"):
            self.customer.action_check_in()

    def test_manual_stage_without_reason(self):
        with self.assertRefused([self.customer], message="reason"):
            self.customer.action_set_lifecycle_stage("loyal", "   ")

    def test_manual_stage_unknown(self):
        with self.assertRefused([self.customer], message="Unknown lifecycle stage"):
            self.customer.action_set_lifecycle_stage("vip", "Because")

    def test_manual_tier_without_reason(self):
        gold = self.env.ref("housekeeping_membership.tier_gold")
        with self.assertRefused([self.customer], message="reason"):
            self.customer.with_user(self.manager).action_set_tier(gold, "")

    # ------------------------------------------------------------------ redemption
    def test_redeem_with_too_few_points(self):
        self.customer.env["housekeeping.engine.points"]._grant_points(
            self.customer, 299, "goodwill", origin="short"
        )
        with self.assertRefused([self.customer], message="300 are needed"):
            self.reward.redeem(self.customer)

    def test_redeem_with_no_points_at_all(self):
        with self.assertRefused([self.customer], message="are needed"):
            self.gift.redeem(self.customer)

    def test_redeem_with_expired_points_not_swept_yet(self):
        """Points past their expiry date still count in the stored balance until the
        expiry cron runs: they cannot pay for a reward (the cron would then take
        them a second time and leave the balance negative)."""
        yesterday = fields.Date.today() - timedelta(days=1)
        # written before it expired (written already expired, it would expire at once)
        with freeze_time(yesterday - timedelta(days=1)):
            self.env["housekeeping.points.entry"]._post_credits(
                [
                    {
                        "partner_id": self.customer.id,
                        "company_id": self.company.id,
                        "points": 500,
                        "entry_type": "earn",
                        "reason_code": "goodwill",
                        "date": yesterday - timedelta(days=365),
                        "expiry_date": yesterday,
                        "source_key": "old-lot",
                    }
                ]
            )
        self.assertEqual(self.customer.points_balance, 500)
        with self.assertRefused([self.customer], message="expired"):
            self.gift.redeem(self.customer)
        self.env["res.partner"]._cron_expire_points()
        self.assertEqual(self.customer.points_balance, 0, "never negative")

    def test_redeem_archived_reward(self):
        self.reward.active = False
        with self.assertRefused([self.rich, self.reward], message="archived"):
            self.reward.redeem(self.rich)

    def test_redeem_expired_reward(self):
        self.reward.write({"date_from": "2020-01-01", "date_to": "2020-12-31"})
        with self.assertRefused([self.rich, self.reward], message="not available"):
            self.reward.redeem(self.rich)

    def test_redeem_reward_not_started(self):
        self.reward.date_from = fields.Date.today() + timedelta(days=10)
        with self.assertRefused([self.rich], message="not available"):
            self.reward.redeem(self.rich)

    def test_redeem_out_of_stock(self):
        self.gift.stock_limit = 1
        other = self.env["res.partner"].create({"name": "Early bird"})
        other.env["housekeeping.engine.points"]._grant_points(
            other, 100, "goodwill", origin="early"
        )
        self.gift.redeem(other)
        with self.assertRefused([self.rich], message="out of stock"):
            self.gift.redeem(self.rich)

    def test_redeem_over_per_customer_limit(self):
        self.gift.per_customer_limit = 2
        self.gift.redeem(self.rich)
        self.gift.redeem(self.rich)
        with self.assertRefused([self.rich], message="the limit"):
            self.gift.redeem(self.rich)

    def test_redeem_tier_restricted_reward(self):
        self.gift.tier_ids = self.env.ref("housekeeping_membership.tier_black")
        with self.assertRefused([self.rich], message="reserved for"):
            self.gift.redeem(self.rich)

    def test_redeem_other_company_reward(self):
        company_b = self.env["res.company"].create({"name": "Store B"})
        customer_b = self.env["res.partner"].create({"name": "B", "company_id": company_b.id})
        customer_b.env["housekeeping.engine.points"]._grant_points(
            customer_b, 500, "goodwill", origin="b"
        )
        with self.assertRefused([customer_b], message="another company"):
            self.gift.redeem(customer_b)

    def test_reward_without_coupon_program(self):
        with self.assertRefused(message="needs a coupon program"):
            self.env["housekeeping.reward"].create(
                {"name": "No program", "points_cost": 10, "reward_type": "coupon"}
            )

    def test_reward_with_negative_cost(self):
        with self.assertRefused(exc=REFUSED_SQL):
            self.env["housekeeping.reward"].create(
                {"name": "Negative", "points_cost": -10, "reward_type": "gift"}
            )

    def test_reward_with_negative_stock(self):
        with self.assertRefused([self.gift], exc=REFUSED_SQL):
            self.gift.stock_limit = -1

    def test_reward_ending_before_it_starts(self):
        with self.assertRefused([self.gift], message="end before"):
            self.gift.write({"date_from": "2026-05-01", "date_to": "2026-04-01"})

    # ------------------------------------------------------------------ campaigns
    def test_campaign_ending_before_it_starts(self):
        with self.assertRefused(message="end before"):
            self.env["housekeeping.points.campaign"].create(
                {"name": "Backwards", "date_from": "2026-02-10", "date_to": "2026-02-01"}
            )

    def test_campaign_without_points(self):
        with self.assertRefused(exc=REFUSED_SQL):
            self.env["housekeeping.points.campaign"].create(
                {"name": "Free", "date_from": "2026-02-01", "date_to": "2026-02-10", "points": 0}
            )

    # ------------------------------------------------------------------ adjustments
    def _adjustment(self, points, **vals):
        return self.env["housekeeping.points.adjustment"].create(
            {"partner_id": self.customer.id, "points": points, "note": "Test", **vals}
        )

    def test_zero_adjustment(self):
        with self.assertRefused(exc=REFUSED_SQL):
            self._adjustment(0)

    def test_adjustment_approved_by_non_manager(self):
        adjustment = self._adjustment(5000).with_user(self.user)
        adjustment.action_post()
        self.assertEqual(adjustment.state, "to_approve")
        with self.assertRefused([adjustment, self.customer], message="manager"):
            adjustment.action_approve()

    def test_adjustment_refused_by_non_manager(self):
        adjustment = self._adjustment(5000).with_user(self.user)
        adjustment.action_post()
        with self.assertRefused([adjustment], message="manager"):
            adjustment.action_refuse()

    def test_posting_a_posted_adjustment(self):
        adjustment = self._adjustment(50)
        adjustment.action_post()
        self.assertEqual(adjustment.state, "posted")
        with self.assertRefused([adjustment, self.customer], message="Only draft"):
            adjustment.action_post()

    def test_deleting_a_posted_adjustment(self):
        adjustment = self._adjustment(50)
        adjustment.action_post()
        with self.assertRefused([adjustment], message="cannot be deleted"):
            adjustment.unlink()

    def test_debit_adjustment_beyond_balance(self):
        adjustment = self._adjustment(-50)
        with self.assertRefused([adjustment, self.customer], message="are needed"):
            adjustment.action_post()

    # ------------------------------------------------------------------ ledger
    def test_ledger_write(self):
        entry = self.rich.points_entry_ids[:1]
        with self.assertRefused([entry, self.rich], message="cannot be changed"):
            entry.points = 99999

    def test_ledger_unlink(self):
        entry = self.rich.points_entry_ids[:1]
        with self.assertRefused([entry, self.rich], message="cannot be deleted"):
            entry.unlink()

    def test_ledger_create(self):
        with self.assertRefused([self.customer], message="never typed into the ledger"):
            self.env["housekeeping.points.entry"].create(
                {
                    "partner_id": self.customer.id,
                    "company_id": self.company.id,
                    "points": 1000,
                    "entry_type": "earn",
                    "reason_code": "other",
                    "date": fields.Date.today(),
                }
            )

    def test_allocation_create(self):
        with self.assertRefused(message="ledger only"):
            self.env["housekeeping.points.allocation"].create(
                {"debit_entry_id": 1, "lot_entry_id": 1, "partner_id": 1, "points": 1}
            )

    def test_debit_of_zero_points(self):
        with self.assertRefused([self.rich], message="positive"):
            self.env["housekeeping.points.entry"]._post_debit(
                self.rich, 0, {"entry_type": "redeem", "reason_code": "reward"}
            )

    # ------------------------------------------------------------------ configuration
    def test_tier_thresholds_not_monotonic(self):
        silver = self.env.ref("housekeeping_membership.tier_silver")
        with self.assertRefused([silver], message="cannot be easier to reach"):
            silver.min_spend = 100000

    def test_tier_same_rank(self):
        silver = self.env.ref("housekeeping_membership.tier_silver")
        with self.assertRefused([silver], message="same rank"):
            silver.sequence = 20  # Gold's

    def test_tier_negative_multiplier(self):
        gold = self.env.ref("housekeeping_membership.tier_gold")
        with self.assertRefused([gold], exc=REFUSED_SQL):
            gold.points_multiplier = -1

    def test_lifecycle_churn_factor_not_above_at_risk(self):
        with self.assertRefused([self.company], message="churn factor"):
            self.company.write({"hk_at_risk_factor": 3.0, "hk_churn_factor": 3.0})

    def test_lifecycle_low_rating_6(self):
        with self.assertRefused([self.company], message="1 to 5"):
            self.company.hk_low_rating = 6

    def test_lifecycle_threshold_zero(self):
        with self.assertRefused([self.company], message="at least 1"):
            self.company.hk_new_min_visits = 0

    def test_lifecycle_settings_through_config_wizard(self):
        with self.assertRefused([self.company], message="churn factor"):
            self.env["res.config.settings"].create({"hk_churn_factor": 1.0}).execute()

    def test_points_settings_negative(self):
        with self.assertRefused([self.company], message="cannot be negative"):
            self.company.hk_checkin_points = -5

    def test_points_settings_negative_bonus(self):
        for name in (
            "hk_referral_points",
            "hk_referral_new_points",
            "hk_referral_monthly_cap",
            "hk_birthday_points",
            "hk_profile_points",
        ):
            with self.subTest(name=name), self.assertRefused([self.company], message="negative"):
                self.company[name] = -1

    def test_points_streak_too_short(self):
        with self.assertRefused([self.company], message="at least 2 days"):
            self.company.hk_checkin_streak_days = 1


@tagged("post_install", "-at_install")
class TestBadInputPortal(SnapshotMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(
            cls.env, login="hk_bad_portal", groups="base.group_portal", name="Customer Bad"
        )
        cls.customer = cls.user.partner_id
        cls.customer.write({"tz": "Asia/Shanghai", "household_size": 3, "home_area": 80})
        cls.other = new_test_user(
            cls.env, login="hk_bad_other", groups="base.group_portal", name="Other Customer"
        ).partner_id
        cls.service = cls.env.ref("housekeeping_membership.service_type_hourly")
        Visit = cls.env["housekeeping.visit"]
        cls.visit = Visit.create(
            {
                "partner_id": cls.customer.id,
                "service_type_id": cls.service.id,
                "date": "2026-01-10 02:00:00",
                "amount": 120,
            }
        )
        cls.visit.action_done()
        cls.other_visit = Visit.create(
            {
                "partner_id": cls.other.id,
                "service_type_id": cls.service.id,
                "date": "2026-01-10 02:00:00",
                "amount": 80,
            }
        )
        cls.other_visit.action_done()
        cls.gift = cls.env["housekeeping.reward"].create(
            {"name": "Apron", "points_cost": 100, "reward_type": "gift"}
        )

    def setUp(self):
        super().setUp()
        self.authenticate(self.user.login, self.user.login)
        self.token = Request.csrf_token(self)

    def _post(self, url, **data):
        return self.url_open(url, data={"csrf_token": self.token, **data})

    def _request(self, **data):
        day = str(fields.Date.today() + timedelta(days=10))
        values = {
            "service_type_id": str(self.service.id),
            "date": day,
            "time_window": "morning",
            **data,
        }
        return self._post("/my/visits/request", **values)

    @contextmanager
    def assertPageRefused(self, records=(), status=200, message=None):
        """The request answers ``status`` (and shows ``message``) and writes nothing."""
        before = self._hk_snapshot(records)
        holder = {}
        yield holder
        response = holder["response"]
        self.assertEqual(response.status_code, status, response.text[:500])
        if message:
            self.assertIn(message, response.text)
        self.env.invalidate_all(flush=False)
        self.assertEqual(self._hk_snapshot(records), before, "a refused request wrote something")

    # ------------------------------------------------------------------ ratings
    def test_rate_other_customers_visit(self):
        with self.assertPageRefused([self.other_visit], status=404) as page:
            page["response"] = self._post(f"/my/visits/{self.other_visit.id}/rate", score="1")

    def test_rate_unknown_visit(self):
        with self.assertPageRefused(status=404) as page:
            page["response"] = self._post("/my/visits/99999999/rate", score="5")

    def test_rate_score_not_a_number(self):
        with self.assertPageRefused([self.visit], message="Choose a score from 1 to 5") as page:
            page["response"] = self._post(f"/my/visits/{self.visit.id}/rate", score="abc")

    def test_rate_score_out_of_range(self):
        for score in ("9", "0", "-1", "4.5", ""):
            with (
                self.subTest(score=score),
                self.assertPageRefused([self.visit], message="Choose a score") as page,
            ):
                page["response"] = self._post(f"/my/visits/{self.visit.id}/rate", score=score)

    def test_rate_cancelled_visit(self):
        visit = self.visit.copy({"date": "2026-01-11 02:00:00"})
        visit.action_cancel()
        with self.assertPageRefused([visit], message="Choose a score") as page:
            page["response"] = self._post(f"/my/visits/{visit.id}/rate", score="5")

    def test_rating_comment_with_html_stays_text(self):
        comment = '<script>alert("x")</script><b>bold</b>'
        self._post(f"/my/visits/{self.visit.id}/rate", score="4", comment=comment)
        rating = self.visit.rating_ids
        self.assertEqual(rating.feedback, comment, "stored as typed, as text")
        message = self.env["mail.message"].search(
            [("model", "=", "housekeeping.visit"), ("res_id", "=", self.visit.id)],
            order="id desc",
            limit=1,
        )
        self.assertNotIn("<script>", message.body)
        self.assertIn("&lt;script&gt;", message.body, "escaped in the chatter")
        page = self.url_open("/my/visits").text
        self.assertNotIn('<script>alert("x")', page)
        self.assertNotIn("<b>bold</b>", page)
        self.assertIsInstance(message.body, Markup)

    # ------------------------------------------------------------------ rewards
    def test_redeem_unknown_reward(self):
        with self.assertPageRefused([self.customer], status=404) as page:
            page["response"] = self._post("/my/rewards/99999999/redeem")

    def test_redeem_other_company_reward(self):
        company_b = self.env["res.company"].create({"name": "Store B"})
        reward_b = self.gift.copy({"company_id": company_b.id})
        with self.assertPageRefused([self.customer], status=404) as page:
            page["response"] = self._post(f"/my/rewards/{reward_b.id}/redeem")

    def test_redeem_without_points(self):
        self.gift.points_cost = 100000
        with self.assertPageRefused([self.customer], message="are needed") as page:
            page["response"] = self._post(f"/my/rewards/{self.gift.id}/redeem")

    # ------------------------------------------------------------------ visit requests
    def test_request_date_in_the_past(self):
        with self.assertPageRefused(message="from today on") as page:
            page["response"] = self._request(date="2020-01-01")

    def test_request_date_not_a_date(self):
        for value in ("tomorrow", "2026-02-30", ""):
            with (
                self.subTest(date=value),
                self.assertPageRefused(message="from today on") as page,
            ):
                page["response"] = self._request(date=value)

    def test_request_unknown_service_type(self):
        for value in ("99999999", "abc", "", "-3"):
            with (
                self.subTest(service=value),
                self.assertPageRefused(message="Choose a service") as page,
            ):
                page["response"] = self._request(service_type_id=value)

    def test_request_unknown_time_window(self):
        for value in ("midnight", "", "any"):
            with (
                self.subTest(window=value),
                self.assertPageRefused(message="time of day") as page,
            ):
                page["response"] = self._request(time_window=value)

    # ------------------------------------------------------------------ preferences
    def test_preferences_household_size_many(self):
        with self.assertPageRefused([self.customer], message="are numbers") as page:
            page["response"] = self._post("/my/preferences", household_size="many")

    def test_preferences_household_size_out_of_range(self):
        with self.assertPageRefused([self.customer], message="household size") as page:
            page["response"] = self._post("/my/preferences", household_size="-1")

    def test_preferences_home_area_not_finite(self):
        for value in ("nan", "inf", "1e12"):
            with (
                self.subTest(area=value),
                self.assertPageRefused([self.customer], message="home size") as page,
            ):
                page["response"] = self._post("/my/preferences", home_area=value)

    def test_preferences_home_type_castle(self):
        with self.assertPageRefused([self.customer], message="Invalid choice") as page:
            page["response"] = self._post("/my/preferences", home_type="castle")

    def test_preferences_unknown_time_window(self):
        with self.assertPageRefused([self.customer], message="Invalid choice") as page:
            page["response"] = self._post("/my/preferences", preferred_time_window="midnight")

    def test_preferences_oversized_instructions_truncated(self):
        text = "请换鞋套" * 5000
        response = self._post("/my/preferences", household_size="3", special_instructions=text)
        self.assertEqual(response.status_code, 200)
        self.assertIn("Preferences saved", response.text)
        self.customer.invalidate_recordset()
        self.assertEqual(self.customer.special_instructions, text[:2000])

    def test_unknown_data_request(self):
        with self.assertPageRefused([self.customer], message="Invalid request") as page:
            page["response"] = self._post("/my/preferences/data-request", kind="sell")

    # ------------------------------------------------------------------ CSRF
    def test_post_without_csrf_token(self):
        routes = {
            "/my/membership/check-in": {"x": "1"},
            f"/my/rewards/{self.gift.id}/redeem": {"x": "1"},
            f"/my/visits/{self.visit.id}/rate": {"score": "5"},
            "/my/visits/request": {
                "service_type_id": str(self.service.id),
                "date": str(fields.Date.today() + timedelta(days=3)),
                "time_window": "morning",
            },
            "/my/preferences": {"household_size": "7"},
            "/my/preferences/data-request": {"kind": "delete"},
        }
        self.customer.env["housekeeping.engine.points"]._grant_points(
            self.customer, 500, "goodwill", origin="csrf"
        )
        for url, data in routes.items():
            with (
                self.subTest(url=url),
                self.assertPageRefused([self.customer, self.visit], status=400) as page,
            ):
                page["response"] = self.url_open(url, data=data)
            with (
                self.subTest(url=url, token="forged"),
                self.assertPageRefused([self.customer, self.visit], status=400) as page,
            ):
                page["response"] = self.url_open(url, data={**data, "csrf_token": "x" * 40})
