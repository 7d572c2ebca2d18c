import importlib.util
import threading
from datetime import date, timedelta
from unittest.mock import patch

import psycopg2
from freezegun import freeze_time

import odoo
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import BaseCase, Form, tagged
from odoo.tools.misc import file_path

from .common import HousekeepingCase


class PointsCase(HousekeepingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Entry = cls.env["housekeeping.points.entry"]
        cls.program = (
            cls.env["loyalty.program"]
            .with_context(default_program_type="coupons")
            .create({"name": "¥50 off (points)"})
        )
        cls.reward_coupon = cls.env["housekeeping.reward"].create(
            {
                "name": "¥50 coupon",
                "points_cost": 300,
                "reward_type": "coupon",
                "loyalty_program_id": cls.program.id,
            }
        )
        cls.reward_gift = cls.env["housekeeping.reward"].create(
            {"name": "Eco cleaning kit", "points_cost": 100, "reward_type": "gift"}
        )

    def assertBalanceIsLedger(self, partner):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT COALESCE(sum(points), 0) FROM housekeeping_points_entry WHERE partner_id = %s",
            [partner.id],
        )
        ledger_sum = self.env.cr.fetchone()[0]
        partner.invalidate_recordset(["points_balance"])
        self.assertEqual(partner.points_balance, ledger_sum)

    def _reminders(self, partner):
        """The expiry reminder notes in the customer's chatter."""
        return partner.message_ids.filtered(
            lambda m: (m.message_id or "").startswith("<hk-points-reminder")
        )

    def _entries(self, partner, **domain):
        return self.Entry.search(
            [("partner_id", "=", partner.id)] + [(k, "=", v) for k, v in domain.items()],
            order="id",
        )


@tagged("post_install", "-at_install")
class TestPointsLedger(PointsCase):
    @freeze_time("2026-03-10 20:00:00")
    def test_visit_earns_points_with_expiry(self):
        self.company.hk_points_per_currency = 1.5
        visit = self._visit(amount=199.9, date="2026-03-10 09:00:00")
        entry = self._entries(self.customer)
        self.assertEqual(len(entry), 1)
        self.assertEqual(entry.points, 299, "floor(199.9 × 1.5)")
        self.assertEqual(
            (entry.entry_type, entry.reason_code, entry.visit_id), ("earn", "visit", visit)
        )
        self.assertEqual(entry.expiry_date, date(2027, 3, 10))
        self.assertEqual(self.customer.points_balance, 299)
        # retrying the earning (a retried job, a double click) credits nothing more
        self.env["housekeeping.engine.points"]._earn_visit_points(visit)
        self.assertEqual(len(self._entries(self.customer)), 1)
        self.assertBalanceIsLedger(self.customer)
        # the database refuses a second credit for the same cause
        with self.assertRaises(psycopg2.errors.UniqueViolation), self.cr.savepoint():
            self.cr.execute(
                """INSERT INTO housekeeping_points_entry
                   (partner_id, company_id, points, entry_type, reason_code, date, source_key)
                   VALUES (%s, %s, 10, 'earn', 'visit', '2026-03-10', %s)""",
                [self.customer.id, self.company.id, entry.source_key],
            )

    def test_tier_multiplier_contract(self):
        partner_cls = type(self.env["res.partner"])
        original = partner_cls._hk_points_multiplier
        try:
            partner_cls._hk_points_multiplier = lambda self: dict.fromkeys(self.ids, 2.0)
            self._visit(amount=100)
        finally:
            partner_cls._hk_points_multiplier = original
        self.assertEqual(self.customer.points_balance, 200)

    def test_ledger_rows_are_immutable(self):
        self._visit(amount=100)
        entry = self._entries(self.customer)
        for env in (self.env, self.env(user=self.manager), self.env(su=True)):
            with self.assertRaises(UserError):
                entry.with_env(env).write({"points": 1000})
            with self.assertRaises(UserError):
                entry.with_env(env).unlink()
            with self.assertRaises(UserError):
                env["housekeeping.points.entry"].create(
                    {
                        "partner_id": self.customer.id,
                        "company_id": self.company.id,
                        "points": 1000,
                        "entry_type": "earn",
                        "reason_code": "other",
                        "date": "2026-01-01",
                    }
                )
        self.assertEqual(entry.points, 100)
        self.assertBalanceIsLedger(self.customer)

    def test_fifo_consumption_and_expiry(self):
        with freeze_time("2025-01-15 20:00:00"):
            self._visit(amount=200, date="2025-01-15 09:00:00")  # lot A, expires 2026-01-15
        with freeze_time("2025-06-15 20:00:00"):
            self._visit(amount=300, date="2025-06-15 09:00:00")  # lot B, expires 2026-06-15
        lot_a, lot_b = self._entries(self.customer, entry_type="earn")
        with freeze_time("2025-07-01 20:00:00"):
            self.reward_gift.redeem(self.customer)  # 100 from lot A
            self.reward_gift.redeem(self.customer)  # 100 more from lot A
            self.reward_gift.redeem(self.customer)  # 100 from lot B
        (lot_a | lot_b).invalidate_recordset(["remaining"])
        self.assertEqual((lot_a.remaining, lot_b.remaining), (0, 200))
        with freeze_time("2026-01-16 20:00:00"):
            self.assertEqual(self.env["res.partner"]._cron_expire_points(), 0, "lot A was used up")
        with freeze_time("2026-06-16 20:00:00"):
            self.assertEqual(self.env["res.partner"]._cron_expire_points(), 1)
            expired = self._entries(self.customer, entry_type="expire")
            self.assertEqual((expired.points, expired.origin_entry_id), (-200, lot_b))
            self.assertEqual(self.customer.points_balance, 0)
            # idempotent: a second run expires nothing
            self.assertEqual(self.env["res.partner"]._cron_expire_points(), 0)
        self.assertEqual(len(self._entries(self.customer, entry_type="expire")), 1)
        self.assertBalanceIsLedger(self.customer)

    def test_expiry_batches_resume_and_constant_queries(self):
        partners = self.env["res.partner"].create([{"name": f"Lot {i}"} for i in range(30)])
        with freeze_time("2025-01-15 20:00:00"):
            partners.env["housekeeping.engine.points"]._grant_points(
                partners, 50, "goodwill", origin="launch"
            )
        self.env["ir.config_parameter"].sudo().set_param(
            "housekeeping_membership.points_expire_batch_size", 7
        )
        with freeze_time("2026-02-01 20:00:00"):
            Entry = self.Entry.sudo()
            # interrupted run: one batch committed, then a crash
            self.assertEqual(Entry._expire_lots(date(2026, 2, 1), 7), 7)
            self.assertEqual(self.env["res.partner"]._cron_expire_points(), 23)
            self.assertEqual(self.env["res.partner"]._cron_expire_points(), 0)
        self.assertEqual(set(partners.mapped("points_balance")), {0})
        # one statement per batch whatever the number of lots
        more = self.env["res.partner"].create([{"name": f"More {i}"} for i in range(300)])
        with freeze_time("2025-01-15 20:00:00"):
            more.env["housekeeping.engine.points"]._grant_points(
                more, 50, "goodwill", origin="launch"
            )
        self.env.flush_all()
        with freeze_time("2026-02-01 20:00:00"), self.assertQueryCount(4):
            self.Entry.sudo()._expire_lots(date(2026, 2, 1), 1000)

    def test_expiry_reads_only_the_lots_expiring_since_the_last_run(self):
        """A completed run is recorded; the next one reads only the lots expiring
        since its day (less a margin), and a lot written already expired expires
        when it is written."""
        Partner, Entry = self.env["res.partner"], self.Entry.sudo()
        Run = self.env["housekeeping.points.expiry.run"].sudo()
        Run.search([]).unlink()
        old = Partner.create([{"name": f"Old {i}"} for i in range(5)])
        later = Partner.create({"name": "Later"})
        with freeze_time("2025-01-15 20:00:00"):
            old.env["housekeeping.engine.points"]._grant_points(
                old, 50, "goodwill", origin="launch"
            )  # expire 2026-01-15
        with freeze_time("2025-02-10 20:00:00"):
            later.env["housekeeping.engine.points"]._grant_points(
                later, 40, "goodwill", origin="launch"
            )  # expires 2026-02-10
        with freeze_time("2026-02-01 20:00:00"):
            self.assertEqual(Partner._cron_expire_points(), 5)
        self.assertEqual(Run.search([]).mapped("date"), [date(2026, 2, 1)])
        # the next run reads the lots expiring from 2026-01-25 (7 days of margin):
        # not the lots expired on 2026-01-15, which the whole ledger still holds
        since = date(2026, 1, 25)
        self.assertEqual(Entry._expire_lots_after(date(2026, 2, 2), 1000, 0, since)[:2], (0, 0))
        self.assertEqual(Entry._expire_lots_after(date(2026, 2, 2), 1000)[:2], (5, 0))
        # a lot written long after its expiry date (an import) expires at once
        late = Partner.create({"name": "Late"})
        with freeze_time("2026-02-05 20:00:00"):
            Entry._post_credits(
                [
                    {
                        "partner_id": late.id,
                        "company_id": self.company.id,
                        "points": 30,
                        "entry_type": "earn",
                        "reason_code": "goodwill",
                        "date": date(2025, 1, 20),
                        "expiry_date": date(2026, 1, 20),
                        "source_key": "import:1",
                    }
                ]
            )
        late.invalidate_recordset(["points_balance"])
        self.assertEqual(late.points_balance, 0)
        self.assertEqual(self._entries(late, entry_type="expire").points, -30)
        # the lot expiring since the last run expires on the next one
        with freeze_time("2026-02-11 20:00:00"):
            self.assertEqual(Partner._cron_expire_points(), 1)
            self.assertEqual(Partner._cron_expire_points(), 0)
        later.invalidate_recordset(["points_balance"])
        self.assertEqual(later.points_balance, 0)
        self.assertEqual(Run.search([]).mapped("lots_expired"), [0, 1, 5])
        # an interrupted run records nothing: the next one reads its range again
        with (
            freeze_time("2026-03-01 20:00:00"),
            patch.object(type(Entry), "_expire_lots_after", side_effect=RuntimeError),
            self.assertRaises(RuntimeError),
        ):
            Partner._cron_expire_points()
        self.assertEqual(len(Run.search([])), 3)
        # a technical record: agents do not see it; the administrator may delete it
        # (then the whole ledger is read again); nobody edits it
        with self.assertRaises(AccessError):
            Run.with_user(self.user).sudo(False).search([])
        with self.assertRaises(AccessError):
            Run.with_user(self.manager).sudo(False).search([]).write({"lots_expired": 0})

    def test_expiry_reminder_once(self):
        with freeze_time("2025-02-01 20:00:00"):
            self._visit(amount=80, date="2025-02-01 09:00:00")
        with freeze_time("2026-01-02 20:00:00"):  # 30 days before 2026-02-01
            self.env["res.partner"]._cron_expire_points()
            self.env["res.partner"]._cron_expire_points()
        reminders = self._reminders(self.customer)
        self.assertEqual(len(reminders), 1)
        self.assertIn("80 points", reminders.body)
        mails = self.env["mail.mail"].search(
            [("recipient_ids", "=", self.customer.id), ("subject", "=", "Your points expire soon")]
        )
        self.assertEqual(len(mails), 1, "one e-mail to the customer, not two")
        self.assertIn("2026-02-01", mails.body_html)

    def test_expiry_reminder_caught_up_after_days_without_scheduler(self):
        with freeze_time("2025-02-01 20:00:00"):
            self._visit(amount=80, date="2025-02-01 09:00:00")
        with freeze_time("2026-01-01 20:00:00"):
            self.env["res.partner"]._cron_expire_points()
        # 2 January (30 days before the expiry) passes without scheduler
        with freeze_time("2026-01-04 20:00:00"):
            self.env["res.partner"]._cron_expire_points()
            self.env["res.partner"]._cron_expire_points()
        reminders = self._reminders(self.customer)
        self.assertEqual(len(reminders), 1)
        self.assertIn("80 points", reminders.body)

    def test_cancelled_visit_reverses_points(self):
        visit = self._visit(amount=150)
        visit.action_cancel()
        reversal = self._entries(self.customer, entry_type="reversal")
        self.assertEqual(reversal.points, -150)
        self.assertEqual(reversal.origin_entry_id.visit_id, visit)
        self.assertEqual(self.customer.points_balance, 0)
        # done again after a reset: it earns again, once
        visit.action_draft()
        visit.action_done()
        self.assertEqual(self.customer.points_balance, 150)
        self.assertBalanceIsLedger(self.customer)

    def test_cancel_after_points_spent_needs_a_manager(self):
        visit = self._visit(amount=300)
        self.reward_coupon.redeem(self.customer)
        self.assertEqual(self.customer.points_balance, 0)
        with self.assertRaises(UserError):
            visit.with_user(self.user).action_cancel()
        self.assertEqual(visit.state, "done", "nothing changed")
        self.assertFalse(self._entries(self.customer, entry_type="reversal"))
        visit.with_user(self.manager).action_cancel()
        self.assertEqual(self.customer.points_balance, -300)
        # the next credits repay the debt first
        self._visit(amount=500, date="2026-01-11 09:00:00")
        self.assertEqual(self.customer.points_balance, 200)
        with self.assertRaises(UserError):
            self.reward_coupon.redeem(self.customer)
        self.reward_gift.redeem(self.customer)
        self.reward_gift.redeem(self.customer)
        self.assertBalanceIsLedger(self.customer)
        self.assertEqual(self.customer.points_balance, 0)

    def test_cancel_after_points_expired_takes_back_only_the_rest(self):
        """A visit cancelled after part of its points expired takes back only what
        did not expire; when all of it expired, nothing, and the visit done again
        earns again."""
        with freeze_time("2025-01-15 12:00:00"):
            visit = self._visit(amount=300, date="2025-01-15 09:00:00")
            other = self._visit(amount=200, date="2025-01-15 10:00:00")
            self.reward_gift.redeem(self.customer)  # spends the first lot's oldest points
        spent = self.reward_gift.points_cost
        lot = self._entries(self.customer, visit_id=visit.id, entry_type="earn")
        with freeze_time(lot.expiry_date + timedelta(days=1)):
            self.env["res.partner"]._cron_expire_points()
            balance = self.customer.points_balance
            self.assertEqual(balance, 0, "everything left expired")
            visit.with_user(self.manager).action_cancel()
            reversal = self._entries(self.customer, visit_id=visit.id, entry_type="reversal")
            self.assertEqual(reversal.points, -spent, "only what was spent of it")
            other.action_cancel()
            self.assertEqual(
                self._entries(self.customer, visit_id=other.id, entry_type="reversal").points, 0
            )
            self.assertEqual(self.customer.points_balance, -spent)
            self.assertBalanceIsLedger(self.customer)
            # done again: it earns again (a new completion)
            other.action_draft()
            other.action_done()
        self.assertEqual(self.customer.points_balance, 200 - spent)
        self.assertBalanceIsLedger(self.customer)

    def test_company_allows_negative_balance(self):
        self.company.hk_points_allow_negative = True
        visit = self._visit(amount=300)
        self.reward_coupon.redeem(self.customer)
        visit.with_user(self.user).action_cancel()
        self.assertEqual(self.customer.points_balance, -300)


@tagged("post_install", "-at_install")
class TestCheckIn(PointsCase):
    def test_merge_customers_with_the_same_causes(self):
        """Two records of one person both checked in on the same day and were both
        credited for a goodwill cause: merged, the customer keeps every entry and
        the sum of both balances."""
        duplicate = self.env["res.partner"].create({"name": "Customer (duplicate)"})
        with freeze_time("2026-03-02 10:00:00"):
            for partner in (self.customer, duplicate):
                partner.action_check_in()
                partner.env["housekeeping.engine.points"]._grant_points(
                    partner, 30, "goodwill", origin="spring-gift"
                )
        self._visit(partner=duplicate, amount=120)
        total = self.customer.points_balance + duplicate.points_balance
        count = self.Entry.search_count([("partner_id", "in", (self.customer | duplicate).ids)])
        wizard = self.env["base.partner.merge.automatic.wizard"].create({})
        wizard._merge((self.customer | duplicate).ids, self.customer)
        self.assertFalse(duplicate.exists())
        self.assertEqual(self.customer.points_balance, total)
        self.assertEqual(len(self._entries(self.customer)), count)
        self.assertBalanceIsLedger(self.customer)
        # the survivor's own causes keep their keys: no second check-in that day
        with freeze_time("2026-03-02 11:00:00"), self.assertRaises(UserError):
            self.customer.action_check_in()

    def test_check_in_repays_a_debt_before_it_can_expire(self):
        """A check-in after a debt (a reversal the balance could not cover) repays it
        first: when the check-in's points expire, only what is left of them goes,
        and the debt is not charged a second time."""
        self.company.hk_checkin_points = 400
        visit = self._visit(amount=300)
        self.reward_coupon.redeem(self.customer)
        visit.with_user(self.manager).action_cancel()
        self.assertEqual(self.customer.points_balance, -300)
        with freeze_time("2026-02-01 10:00:00"):
            self.customer.action_check_in()
        self.assertEqual(self.customer.points_balance, 100)
        lot = self._entries(self.customer, reason_code="check_in")
        with freeze_time(lot.expiry_date + timedelta(days=1)):
            self.env["res.partner"]._cron_expire_points()
        self.assertEqual(self._entries(self.customer, entry_type="expire").points, -100)
        self.assertEqual(self.customer.points_balance, 0)
        self.assertBalanceIsLedger(self.customer)

    def test_once_a_day_in_customer_timezone(self):
        self.customer.tz = "Asia/Shanghai"
        with freeze_time("2026-05-01 15:30:00"):  # 23:30 in Shanghai
            self.customer.action_check_in()
            with self.assertRaises(UserError):
                self.customer.action_check_in()
        with freeze_time("2026-05-01 16:30:00"):  # 00:30 the next day in Shanghai
            self.customer.action_check_in()
        entries = self._entries(self.customer, reason_code="check_in")
        self.assertEqual(entries.mapped("date"), [date(2026, 5, 1), date(2026, 5, 2)])
        self.assertEqual(self.customer.points_balance, 10)
        self.assertEqual(self.customer.check_in_streak, 2)

    def test_streak_bonus_with_coupon(self):
        self.company.write(
            {
                "hk_checkin_streak_days": 3,
                "hk_checkin_streak_points": 20,
                "hk_checkin_streak_program_id": self.program.id,
            }
        )
        for day in ("2026-05-01", "2026-05-02", "2026-05-04", "2026-05-05", "2026-05-06"):
            with freeze_time(f"{day} 04:00:00"):
                self.customer.action_check_in()
        bonus = self._entries(self.customer, reason_code="streak")
        self.assertEqual(len(bonus), 1, "the gap on 05-03 restarted the streak")
        self.assertEqual(bonus.date, date(2026, 5, 6))
        self.assertEqual(bonus.loyalty_card_id.program_id, self.program)
        self.assertEqual(bonus.loyalty_card_id.partner_id, self.customer)
        self.assertEqual(self.customer.points_balance, 5 * 5 + 20)
        self.assertBalanceIsLedger(self.customer)


@tagged("post_install", "-at_install")
class TestRedemption(PointsCase):
    def test_coupon_reward_usable_on_sale_order(self):
        self.customer.env["housekeeping.engine.points"]._grant_points(
            self.customer, 500, "goodwill", origin="welcome"
        )
        card = self.reward_coupon.redeem(self.customer)
        self.assertEqual(card._name, "loyalty.card")
        self.assertEqual(
            (card.program_id, card.partner_id, card.points), (self.program, self.customer, 1)
        )
        entry = self._entries(self.customer, entry_type="redeem")
        self.assertEqual(
            (entry.points, entry.reward_id, entry.loyalty_card_id), (-300, self.reward_coupon, card)
        )
        self.assertEqual(self.customer.points_balance, 200)
        product = self.service_hourly.product_id
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [
                    (0, 0, {"product_id": product.id, "product_uom_qty": 2, "price_unit": 100})
                ],
            }
        )
        status = order._try_apply_code(card.code)
        self.assertNotIn("error", status)
        ((coupon, rewards),) = status.items()
        order._apply_program_reward(rewards[:1], coupon)
        self.assertEqual(order.amount_untaxed, 180.0, "the coupon's 10% discount applies")

    def test_refusals_write_nothing(self):
        self.customer.env["housekeeping.engine.points"]._grant_points(
            self.customer, 250, "goodwill", origin="welcome"
        )
        cards_before = self.env["loyalty.card"].search_count([])
        with self.assertRaises(UserError):
            self.reward_coupon.redeem(self.customer)  # 300 > 250
        self.reward_coupon.stock_limit = 1
        other = self.env["res.partner"].create({"name": "Other"})
        other.env["housekeeping.engine.points"]._grant_points(
            other, 1000, "goodwill", origin="welcome"
        )
        self.reward_coupon.redeem(other)
        with self.assertRaises(UserError):
            self.reward_coupon.redeem(other)  # out of stock
        self.reward_gift.per_customer_limit = 1
        self.reward_gift.redeem(self.customer)
        with self.assertRaises(UserError):
            self.reward_gift.redeem(self.customer)
        self.reward_gift.write({"per_customer_limit": 0, "date_to": "2020-01-01"})
        with self.assertRaises(UserError):
            self.reward_gift.redeem(self.customer)
        self.assertEqual(self.env["loyalty.card"].search_count([]), cards_before + 1)
        self.assertEqual(self.customer.points_balance, 150)
        self.assertEqual(len(self._entries(self.customer, entry_type="redeem")), 1)
        self.assertBalanceIsLedger(self.customer)
        self.assertBalanceIsLedger(other)
        with self.assertRaises(ValidationError):
            self.env["housekeeping.reward"].create(
                {"name": "Broken", "points_cost": 10, "reward_type": "service"}
            )

    def test_tier_restriction(self):
        self.customer.env["housekeeping.engine.points"]._grant_points(
            self.customer, 1000, "goodwill", origin="welcome"
        )
        gold = self.env.ref("housekeeping_membership.tier_gold")
        self.reward_gift.tier_ids = gold
        with self.assertRaises(UserError):
            self.reward_gift.redeem(self.customer)
        self.assertEqual(self.customer.points_balance, 1000)
        self.customer.action_set_tier(gold, "VIP account")
        self.reward_gift.redeem(self.customer)
        self.assertEqual(self.customer.points_balance, 900)

    def test_gift_reward_creates_delivery_activity(self):
        self.customer.env["housekeeping.engine.points"]._grant_points(
            self.customer, 150, "goodwill", origin="welcome"
        )
        activity = self.reward_gift.redeem(self.customer)
        self.assertEqual(activity._name, "mail.activity")
        self.assertIn("Eco cleaning kit", activity.summary)
        self.assertEqual(self.reward_gift.redeemed_count, 1)

    def test_redeem_wizard_as_agent(self):
        self.customer.env["housekeeping.engine.points"]._grant_points(
            self.customer, 400, "goodwill", origin="welcome"
        )
        wizard = Form(
            self.env["housekeeping.reward.redeem"]
            .with_user(self.user)
            .with_context(default_partner_id=self.customer.id)
        )
        wizard.reward_id = self.reward_coupon
        action = wizard.save().action_redeem()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(self.customer.points_balance, 100)


@tagged("post_install", "-at_install")
class TestAdjustments(PointsCase):
    def test_small_adjustment_posts_at_once(self):
        adjustment = (
            self.env["housekeeping.points.adjustment"]
            .with_user(self.user)
            .create({"partner_id": self.customer.id, "points": 50, "note": "Late cleaner"})
        )
        adjustment.action_post()
        self.assertEqual(adjustment.state, "posted")
        self.assertEqual(adjustment.entry_id.entry_type, "adjust")
        self.assertEqual(self.customer.points_balance, 50)

    def test_large_adjustment_needs_approval(self):
        self.company.hk_points_approval_threshold = 100
        adjustment = (
            self.env["housekeeping.points.adjustment"]
            .with_user(self.user)
            .create({"partner_id": self.customer.id, "points": 1000, "note": "Corporate deal"})
        )
        adjustment.action_post()
        self.assertEqual(adjustment.state, "to_approve")
        self.assertEqual(self.customer.points_balance, 0)
        with self.assertRaises(UserError):
            adjustment.with_user(self.user).action_approve()
        adjustment.with_user(self.manager).action_approve()
        self.assertEqual(adjustment.state, "posted")
        self.assertEqual(adjustment.approved_by_id, self.manager)
        self.assertEqual(self.customer.points_balance, 1000)
        # a negative correction cannot take more than the balance
        debit = self.env["housekeeping.points.adjustment"].create(
            {"partner_id": self.customer.id, "points": -90, "note": "Typo"}
        )
        debit.action_post()
        self.assertEqual(self.customer.points_balance, 910)
        with self.assertRaises(UserError):
            self.env["housekeeping.points.adjustment"].with_user(self.manager).create(
                {"partner_id": self.customer.id, "points": -5000, "note": "Too much"}
            ).action_post()
        self.assertEqual(self.customer.points_balance, 910)
        self.assertBalanceIsLedger(self.customer)

    def test_access(self):
        self._visit(amount=100)
        portal = self.env["res.users"].create(
            {
                "name": "Portal Wu",
                "login": "portal_wu",
                "partner_id": self.customer.id,
                "group_ids": [(6, 0, [self.env.ref("base.group_portal").id])],
            }
        )
        stranger = self.env["res.partner"].create({"name": "Stranger"})
        stranger.env["housekeeping.engine.points"]._grant_points(
            stranger, 10, "goodwill", origin="x"
        )
        visible = self.Entry.with_user(portal).search([])
        self.assertEqual(visible.partner_id, self.customer)
        with self.assertRaises(AccessError):
            self.env["housekeeping.reward"].with_user(portal).create(
                {"name": "Hack", "points_cost": 1, "reward_type": "gift"}
            )


@tagged("post_install", "-at_install", "hk_real_cursors")
class TestConcurrentRedemption(BaseCase):
    """Two redemptions of one customer at the same moment, on two real database
    cursors: one succeeds, the other waits and fails; the balance never goes
    negative and equals the ledger."""

    def setUp(self):
        super().setUp()
        self.registry = odoo.modules.registry.Registry(odoo.tools.config["db_name"][0])
        with self.registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            program = (
                env["loyalty.program"]
                .with_context(default_program_type="coupons")
                .create({"name": "Concurrency coupon"})
            )
            self.reward_id = (
                env["housekeeping.reward"]
                .create(
                    {
                        "name": "Concurrency reward",
                        "points_cost": 300,
                        "reward_type": "coupon",
                        "loyalty_program_id": program.id,
                    }
                )
                .id
            )
            partner = env["res.partner"].create({"name": "Concurrent customer"})
            partner.env["housekeeping.engine.points"]._grant_points(
                partner, 500, "goodwill", origin="concurrency"
            )
            self.partner_id = partner.id
            self.program_id = program.id
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "DELETE FROM housekeeping_points_allocation WHERE partner_id = %s",
                [self.partner_id],
            )
            cr.execute(
                "DELETE FROM housekeeping_points_entry WHERE partner_id = %s", [self.partner_id]
            )
            cr.execute("DELETE FROM loyalty_card WHERE program_id = %s", [self.program_id])
            cr.execute("DELETE FROM housekeeping_reward WHERE id = %s", [self.reward_id])
            cr.execute("DELETE FROM loyalty_reward WHERE program_id = %s", [self.program_id])
            cr.execute("DELETE FROM loyalty_rule WHERE program_id = %s", [self.program_id])
            cr.execute("DELETE FROM loyalty_program WHERE id = %s", [self.program_id])
            cr.execute(
                "DELETE FROM mail_message WHERE model = 'res.partner' AND res_id = %s",
                [self.partner_id],
            )
            cr.execute("DELETE FROM res_partner WHERE id = %s", [self.partner_id])

    def _redeem(self, results, hold=None, ready=None):
        # The first redemption may meet a serialization failure from a background
        # job touching the customer (the test server runs crons): like Odoo's
        # request retry, it tries again; the second one reports what it met.
        for _attempt in range(3 if ready else 1):
            try:
                with self.registry.cursor() as cr:
                    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
                    env["housekeeping.reward"].browse(self.reward_id).redeem(
                        env["res.partner"].browse(self.partner_id)
                    )
                    if ready:
                        ready.set()
                    if hold:
                        hold.wait(10)
                results.append("ok")
                return
            except psycopg2.errors.SerializationFailure as error:
                failure = error
            except UserError as error:
                results.append(type(error).__name__)
                return
        results.append(type(failure).__name__)

    def test_two_cursors(self):
        # one list per thread: the second can report before the first appends
        first_results, second_results = [], []
        first_done, release = threading.Event(), threading.Event()
        first = threading.Thread(target=self._redeem, args=(first_results, release, first_done))
        first.start()
        self.assertTrue(first_done.wait(10), "first redemption ran")
        # the second one blocks on the customer's row lock until the first commits
        second = threading.Thread(target=self._redeem, args=(second_results,))
        second.start()
        second.join(1)
        self.assertTrue(second.is_alive(), "the second redemption waits for the first")
        release.set()
        first.join(10)
        second.join(10)
        results = first_results + second_results
        self.assertEqual(results[0], "ok")
        self.assertIn(results[1], ("UserError", "SerializationFailure"))
        with self.registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            partner = env["res.partner"].browse(self.partner_id)
            cr.execute(
                "SELECT sum(points), count(*) FILTER (WHERE entry_type = 'redeem') "
                "FROM housekeeping_points_entry WHERE partner_id = %s",
                [self.partner_id],
            )
            total, redemptions = cr.fetchone()
            self.assertEqual((partner.points_balance, total, redemptions), (200, 200, 1))


@tagged("post_install", "-at_install")
class TestEarningRules(PointsCase):
    def _new_customer(self, name, **vals):
        return self.env["res.partner"].create({"name": name, **vals})

    def test_referral_credits_once_on_first_paid_visit(self):
        self.company.write({"hk_referral_points": 200, "hk_referral_new_points": 30})
        code = self.customer._hk_ensure_referral_code()[0]
        self.assertEqual(len(code), 8)
        friend = self._new_customer("Friend", email="friend@example.com")
        with self.assertRaises(UserError):
            friend.action_apply_referral_code("NOPE1234")
        with self.assertRaises(UserError):
            self.customer.action_apply_referral_code(code)  # own code
        friend.action_apply_referral_code(code.lower())
        self.assertEqual(friend.referred_by_id, self.customer)
        self.assertEqual(friend.acquisition_channel, "referral")
        self.assertEqual(self.customer.referral_count, 1)
        self._visit(partner=friend, amount=0.0)  # free visit: no referral yet
        self.assertFalse(self._entries(self.customer, reason_code="referral"))
        self._visit(partner=friend, amount=120, date="2026-01-11 09:00:00")
        self._visit(partner=friend, amount=120, date="2026-01-12 09:00:00")
        referral = self._entries(self.customer, reason_code="referral")
        self.assertEqual(referral.points, 200, "once per referred customer")
        self.assertEqual(self._entries(friend, reason_code="referral").points, 30)
        with self.assertRaises(UserError):
            friend.action_apply_referral_code(code)  # already referred, already a customer
        self.assertBalanceIsLedger(self.customer)

    def test_cancelled_first_paid_visit_takes_back_the_referral(self):
        """The referral bonus of a first paid visit is taken back from both sides
        when that visit is cancelled and the referred customer has no other paid
        visit; a paid visit done later credits it again, once. The ledger names
        nobody: the other customer is the entry's related customer, anonymized
        with them."""
        self.company.write({"hk_referral_points": 200, "hk_referral_new_points": 30})
        friend = self._new_customer("Friend Wu", referred_by_id=self.customer.id)
        first = self._visit(partner=friend, amount=120)
        referral = self._entries(self.customer, reason_code="referral")
        self.assertEqual((referral.points, referral.visit_id), (200, first))
        self.assertEqual(referral.related_partner_id, friend)
        self.assertFalse(referral.note, "no customer's name in the ledger")
        self.assertEqual(
            self._entries(friend, reason_code="referral").related_partner_id, self.customer
        )
        self.assertEqual(first.points_earned, 120, "the visit's own points only")
        first.action_cancel()
        self.assertEqual(self.customer.points_balance, 0, "the referrer's bonus is taken back")
        self.assertEqual(friend.points_balance, 0, "the welcome bonus and the visit's points too")
        self.assertEqual(
            self._entries(self.customer, entry_type="reversal").origin_entry_id, referral
        )
        # a paid visit later: the referral counts again, once
        second = self._visit(partner=friend, amount=80, date="2026-01-12 09:00:00")
        self._visit(partner=friend, amount=80, date="2026-01-13 09:00:00")
        standing = self._entries(self.customer, reason_code="referral", entry_type="earn")
        self.assertEqual(len(standing), 2)
        self.assertEqual(self.customer.points_balance, 200)
        self.assertEqual(standing[-1].visit_id, second)
        # with another paid visit left, cancelling one keeps the referral
        second.action_cancel()
        self.assertEqual(self.customer.points_balance, 200)
        self.assertBalanceIsLedger(self.customer)
        self.assertBalanceIsLedger(friend)
        # the referred customer anonymized: the referrer's ledger shows no name
        friend.sudo().action_hk_anonymize()
        self.assertNotIn(
            "Wu",
            standing[-1].related_partner_id.sudo().with_context(active_test=False).display_name,
        )

    def test_referral_notes_of_an_earlier_version_migrated(self):
        """19.0.1.3.0 moves the names of the referral entries' notes to the related
        customer (an anonymization erases it there)."""
        friend = self._new_customer("Friend Zhao", referred_by_id=self.customer.id)
        self.env.cr.execute(
            """
            INSERT INTO housekeeping_points_entry (partner_id, company_id, points, entry_type,
                   reason_code, note, date, source_key)
            VALUES (%(referrer)s, %(company)s, 200, 'earn', 'referral', 'Friend Zhao',
                    '2026-01-10', 'referral:' || %(friend)s),
                   (%(friend)s, %(company)s, 30, 'earn', 'referral', %(name)s,
                    '2026-01-10', 'referred:' || %(friend)s)
            """,
            {
                "referrer": self.customer.id,
                "friend": friend.id,
                "company": self.company.id,
                "name": self.customer.name,
            },
        )
        path = file_path("housekeeping_membership/migrations/19.0.1.3.0/post-migration.py")
        spec = importlib.util.spec_from_file_location("hk_migration_1_3", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.migrate(self.env.cr, "19.0.1.2.0")
        self.Entry.invalidate_model()
        entries = self._entries(self.customer, reason_code="referral") | self._entries(
            friend, reason_code="referral"
        )
        self.assertEqual(entries.mapped("note"), [False, False])
        self.assertEqual(entries.mapped("related_partner_id"), friend | self.customer)

    def test_referral_abuse_guards(self):
        self.company.hk_referral_monthly_cap = 2
        self.customer.write({"phone": "13800138000", "street": "1 Chaoyang Rd", "city": "Beijing"})
        twin = self._new_customer(
            "Twin", phone="+86 138 0013 8000", referred_by_id=self.customer.id
        )
        same_home = self._new_customer(
            "Same home", street="1 chaoyang rd ", city="beijing", referred_by_id=self.customer.id
        )
        self._visit(partner=twin, amount=100)
        self._visit(partner=same_home, amount=100)
        self.assertFalse(self._entries(self.customer, reason_code="referral"), "self-referrals")
        friends = [
            self._new_customer(f"Friend {i}", referred_by_id=self.customer.id) for i in range(3)
        ]
        with freeze_time("2026-01-20 20:00:00"):
            for friend in friends:
                self._visit(partner=friend, amount=100, date="2026-01-20 09:00:00")
        self.assertEqual(len(self._entries(self.customer, reason_code="referral")), 2, "cap")
        self.assertTrue(
            self.customer.message_ids.filtered(lambda m: "monthly limit" in (m.body or ""))
        )

    def test_referrals_of_one_batch(self):
        """Visits completed together (a batch from a sale order or an import) credit
        each referral once and respect the monthly cap across the batch."""
        self.company.write({"hk_referral_points": 50, "hk_referral_monthly_cap": 2})
        friends = self.env["res.partner"].create(
            [{"name": f"Batch friend {i}", "referred_by_id": self.customer.id} for i in range(4)]
        )
        with freeze_time("2026-01-20 20:00:00"):
            visits = self._draft_visits(friends, "2026-01-20 09:00:00")
            visits.action_done()
            referral = self._entries(self.customer, reason_code="referral")
            self.assertEqual(len(referral), 2, "the cap holds inside one batch")
            self.assertEqual(sum(referral.mapped("points")), 100)
            more = visits.copy({"date": "2026-01-20 10:00:00"})
            more.action_done()
        self.assertEqual(len(self._entries(self.customer, reason_code="referral")), 2)
        self.assertBalanceIsLedger(self.customer)

    def _visits_campaign(self, name, date_to, **vals):
        """A campaign from 2026-01-15: 300 points for 2 visits."""
        return self.env["housekeeping.points.campaign"].create(
            {
                "name": name,
                "date_from": "2026-01-15",
                "date_to": date_to,
                "task": "visits",
                "visit_count": 2,
                "points": 300,
                **vals,
            }
        )

    def test_campaign_task_once(self):
        with freeze_time("2026-01-20 20:00:00"):
            campaign = self._visits_campaign(
                "Spring Festival deep cleaning", "2026-02-16", service_type_id=self.service_deep.id
            )
            self._visit(service_type=self.service_deep, date="2026-01-16 09:00:00", amount=0)
            self.assertFalse(self._entries(self.customer, reason_code="task"))
            self._visit(service_type=self.service_hourly, date="2026-01-17 09:00:00", amount=0)
            self.assertFalse(self._entries(self.customer, reason_code="task"))
            self._visit(service_type=self.service_deep, date="2026-01-18 09:00:00", amount=0)
            self._visit(service_type=self.service_deep, date="2026-01-19 09:00:00", amount=0)
            task = self._entries(self.customer, reason_code="task")
            self.assertEqual((task.points, task.note), (300, campaign.name))
            self.assertEqual(self.env["res.partner"]._cron_points_campaigns(), 0)
            self.assertEqual(campaign.rewarded_count, 1)
        with self.assertRaises(ValidationError):
            campaign.date_to = "2026-01-01"

    def test_cancelled_visit_takes_back_the_task_only_when_no_longer_met(self):
        with freeze_time("2026-01-20 20:00:00"):
            campaign = self._visits_campaign("Two visits in January", "2026-01-31")
            first = self._visit(date="2026-01-16 09:00:00", amount=0)
            second = self._visit(date="2026-01-17 09:00:00", amount=0)
            task = self._entries(self.customer, reason_code="task")
            self.assertEqual((task.points, task.visit_id), (300, second))
            third = self._visit(date="2026-01-18 09:00:00", amount=0)
            # two visits remain: the task is still met, its points stay
            second.action_cancel()
            self.assertEqual(self.customer.points_balance, 300)
            # one left: taken back
            third.action_cancel()
            self.assertEqual(self.customer.points_balance, 0)
            self.assertEqual(campaign.rewarded_count, 0)
            self.assertEqual(first.state, "done")
        # later: the visit done again meets the task again, credited once
        with freeze_time("2026-01-25 20:00:00"):
            third.action_draft()
            third.action_done()
            self.assertEqual(self.customer.points_balance, 300)
            self.assertEqual(self.env["res.partner"]._cron_points_campaigns(), 0)
            campaign.invalidate_recordset(["rewarded_count"])
            self.assertEqual(campaign.rewarded_count, 1)
        self.assertBalanceIsLedger(self.customer)

    def test_review_and_profile_campaigns_by_cron(self):
        visit = self._visit(amount=0)
        with freeze_time("2026-03-01 20:00:00"):
            review = self.env["housekeeping.points.campaign"].create(
                {
                    "name": "Rate us",
                    "date_from": "2026-03-01",
                    "date_to": "2026-03-31",
                    "task": "review",
                    "points": 20,
                }
            )
            self.env["rating.rating"].create(
                {
                    "res_model_id": self.env["ir.model"]._get_id("housekeeping.visit"),
                    "res_id": visit.id,
                    "partner_id": self.customer.id,
                    "rating": 5,
                    "consumed": True,
                }
            )
            # the review is dated in the campaign (the database clock is not frozen)
            self.env.flush_all()
            self.env.cr.execute(
                "UPDATE rating_rating SET write_date = '2026-03-02 10:00' WHERE res_id = %s "
                "AND res_model = 'housekeeping.visit'",
                [visit.id],
            )
            self.assertEqual(self.env["res.partner"]._cron_points_campaigns(), 1)
            self.assertEqual(self.env["res.partner"]._cron_points_campaigns(), 0)
        self.assertEqual(review.rewarded_count, 1)

    def test_profile_completion_bonus(self):
        self.company.hk_profile_points = 50
        self.customer.write({"phone": "13800138000", "birthday": "1985-05-05"})
        self.assertEqual(self.customer.points_balance, 0, "not complete yet")
        self.customer.write({"street": "1 Chaoyang Rd", "household_size": 3, "home_area": 90})
        self.assertEqual(self.customer.points_balance, 50)
        self.customer.write({"home_area": 95})
        self.assertEqual(self.customer.points_balance, 50, "once")

    def test_birthday_bonus_once_a_year(self):
        self.company.hk_birthday_points = 88
        self._visit(amount=0)
        self.customer.birthday = "1992-02-29"
        other = self._new_customer("Not a customer yet", birthday="1990-02-28")
        with freeze_time("2027-02-28 20:00:00"):
            self.assertEqual(self.env["res.partner"]._cron_birthday(), 1)
            self.assertEqual(self.env["res.partner"]._cron_birthday(), 0)
        self.assertEqual(self._entries(self.customer, reason_code="birthday").points, 88)
        self.assertFalse(self._entries(other))

    def test_birthday_bonus_caught_up_after_days_without_scheduler(self):
        """A birthday on a day the scheduler did not run is given by the next run
        (a week back at most), once, under the year it fell in."""
        self.company.hk_birthday_points = 88
        self._visit(amount=0)
        self.customer.birthday = "1990-03-05"
        late = self._new_customer("Missed too long ago", birthday="1985-02-28")
        self._visit(partner=late, amount=0)
        new_year = self._new_customer("New Year's Eve", birthday="1988-12-31")
        self._visit(partner=new_year, amount=0)
        Partner = self.env["res.partner"]
        Partner._hk_main_company().hk_birthday_points_date = False
        with freeze_time("2026-02-27 20:00:00"):
            Partner._cron_birthday()  # the last run before the scheduler stopped
        with freeze_time("2026-03-07 20:00:00"):
            self.assertEqual(Partner._cron_birthday(), 1, "5 March caught up, 28 February too old")
            self.assertEqual(Partner._cron_birthday(), 0)
        self.assertEqual(self._entries(self.customer, reason_code="birthday").points, 88)
        self.assertFalse(self._entries(late, reason_code="birthday"))
        # across the new year: 31 December is counted in its own year
        with freeze_time("2026-12-30 20:00:00"):
            Partner._cron_birthday()
        with freeze_time("2027-01-02 20:00:00"):
            Partner._cron_birthday()
        with freeze_time("2027-12-31 20:00:00"):
            Partner._cron_birthday()
        self.assertEqual(
            self._entries(new_year, reason_code="birthday").mapped("source_key"),
            ["birthday:2026", "birthday:2027"],
        )

    def test_earn_when_paid(self):
        self.company.hk_points_when_paid = True
        visit = self._visit(amount=100)
        self.assertEqual(self.customer.points_balance, 0)
        visit.action_mark_paid()
        self.assertEqual(self.customer.points_balance, 100)
        self.assertEqual(visit.points_earned, 100)
        visit.action_mark_paid()
        self.assertEqual(self.customer.points_balance, 100)


@tagged("post_install", "-at_install")
class TestPointsReports(PointsCase):
    def test_statement_and_liability(self):
        with freeze_time("2026-01-05 20:00:00"):
            self._visit(amount=100, date="2026-01-05 09:00:00")
        with freeze_time("2026-02-05 20:00:00"):
            self._visit(amount=250, date="2026-02-05 09:00:00")
            self.reward_gift.redeem(self.customer)
        statement = self.env["housekeeping.points.statement"].create(
            {"partner_id": self.customer.id, "date_from": "2026-02-01", "date_to": "2026-02-28"}
        )
        data = statement._statement_data()
        self.assertEqual((data["opening"], data["closing"]), (100, 250))
        self.assertEqual(data["entries"].mapped("points"), [250, -100])
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("housekeeping_membership.report_points_statement", statement.ids)[0]
            .decode()
        )
        self.assertIn("Closing balance", html)
        self.assertIn("Eco cleaning kit", html)
        with self.assertRaises(UserError):
            statement.date_to = "2026-01-01"
        self.company.hk_point_value = 0.05
        self.env.flush_all()
        liability = self.env["housekeeping.points.liability"].search(
            [("company_id", "=", self.company.id)]
        )
        self.env.cr.execute(
            "SELECT sum(points) FROM housekeeping_points_entry WHERE company_id = %s",
            [self.company.id],
        )
        total = self.env.cr.fetchone()[0]
        self.assertEqual(liability.points, total)
        self.assertAlmostEqual(liability.value, total * 0.05)
