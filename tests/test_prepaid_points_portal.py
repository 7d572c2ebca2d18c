"""Prepaid, second part (issue 31): *Points on Top-ups* (a top-up earns points on
its principal at the tier multiplier, the part of a visit paid from the balance
earns none, a refund or a cancelled top-up takes its points back, never twice,
never more than earned; the setting off changes nothing), and a visit to come
paid from the balance on the portal (debited at once, so nothing spends it
twice; refused with nothing changed when short, not the customer's, not payable
or already paid), also against a counter payment on two real cursors."""

import time
from datetime import timedelta

import psycopg2

from odoo import fields
from odoo.exceptions import UserError
from odoo.http import Request
from odoo.tests import HttpCase, new_test_user, tagged

from .test_prepaid import PrepaidCase, PrepaidCursorCase


class TopupPointsCase(PrepaidCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write(
            {
                "hk_prepaid_topup_points": True,
                "hk_points_per_currency": 1.0,
                "hk_points_allow_negative": False,
            }
        )
        cls.Points = cls.env["housekeeping.points.entry"]

    def _points(self, partner=None, **domain):
        partner = partner or self.customer
        partner.invalidate_recordset(["points_balance"])
        return partner.points_balance

    def _ledger(self, partner=None):
        entries = self.Points.search([("partner_id", "=", (partner or self.customer).id)])
        return sum(entries.mapped("points"))

    def _topup_entry(self, order):
        return self.env["housekeeping.prepaid.entry"].search(
            [("sale_order_id", "=", order.id), ("entry_type", "=", "topup")]
        )


class TestTopupPoints(TopupPointsCase):
    def test_setting_off_changes_nothing(self):
        self.company.hk_prepaid_topup_points = False
        order = self._sell_topup()
        self.assertEqual(self._points(), 0)  # no points on a top-up
        visit = self._prepaid_visit(amount=120.0)
        self.assertEqual(visit.points_earned, 120)  # consumption earns, whole amount
        self.engine._refund(self.customer, self.company, 300.0, "moving away")
        self.assertEqual(self._points(), 120)  # a refund takes no points
        self.assertFalse(self.Points.search([("reason_code", "like", "topup")]))
        self.assertEqual(self._ledger(), self._points())
        self.assertTrue(order)

    def test_topup_earns_on_principal_at_tier_multiplier(self):
        tier = self.env["housekeeping.tier"].search([], order="sequence desc", limit=1)
        tier.points_multiplier = 1.5
        self.customer.action_set_tier(tier, "VIP from the old system")
        order = self._sell_topup()  # 1000 + 200 bonus
        topup = self._topup_entry(order)
        credit = self.Points.search([("prepaid_entry_id", "=", topup.id)])
        # the principal only (not the bonus), at the tier's multiplier
        self.assertEqual(
            (credit.points, credit.entry_type, credit.reason_code, credit.source_key),
            (1500, "earn", "topup", f"topup:{topup.id}"),
        )
        self.assertEqual(credit.expiry_date, fields.Date.today() + timedelta(days=365))
        self.assertEqual(self._points(), 1500)
        # the same order confirmed again (a retried job) earns nothing more
        self.engine._orders_confirmed(order)
        self.assertEqual(self._points(), 1500)
        # balances brought from another system earn nothing
        self.engine._opening_balances({self.customer.id: 500.0}, self.company, "opening")
        self.assertEqual(self._points(), 1500)

    def test_part_paid_from_balance_earns_nothing(self):
        self._sell_topup()
        self.assertEqual(self._points(), 1000)
        visit = self._prepaid_visit(amount=120.0)
        self.assertEqual(visit.points_earned, 0)
        # split: 120 from the balance, 180 by WeChat: the 180 earns
        split = self._visit(
            amount=300.0,
            state="draft",
            payment_method="prepaid",
        )
        split.write({"prepaid_amount": 120.0, "payment_method_rest": "wechat"})
        split.action_done()
        self.assertEqual(split.points_earned, 180)
        # a visit paid otherwise earns as before
        cash = self._visit(amount=50.0)
        self.assertEqual(cash.points_earned, 50)
        self.assertEqual(self._points(), 1000 + 180 + 50)
        # cancelled: the balance is credited back, the points of the rest reversed,
        # the top-up's points stay (the money is back on the balance)
        visit.action_cancel()
        split.action_cancel()
        self.assertEqual(self.customer.prepaid_balance, 1200.0)
        self.assertEqual(self._points(), 1000 + 50)
        self.assertEqual(self._ledger(), self._points())

    def test_refund_takes_back_the_points_of_the_refunded_principal(self):
        order = self._sell_topup()
        credit = self.Points.search([("prepaid_entry_id", "=", self._topup_entry(order).id)])
        self._prepaid_visit(amount=120.0)  # 100 principal + 20 bonus, no points
        self.assertEqual(self._points(), 1000)
        refund = self.engine._refund(self.customer, self.company, 400.0, "part back")
        back = self.Points.search([("prepaid_entry_id", "=", refund.id)])
        self.assertEqual(
            (back.points, back.entry_type, back.reason_code, back.origin_entry_id),
            (-400, "reversal", "topup_refund", credit),
        )
        self.assertEqual(self._points(), 600)
        # all the principal left (500): the 100 spent on the visit keep their points
        self.engine._refund(self.customer, self.company, 500.0, "all back")
        self.assertEqual(self.customer.prepaid_balance, 0.0)
        self.assertEqual(self._points(), 100)
        self.assertEqual(self._ledger(), self._points())

    def test_refund_newest_topup_first(self):
        """The money paid back is the last paid in: a newer top-up that earned no
        points (the setting was off) is refunded first and takes none."""
        self._sell_topup()  # 1000 points
        self._prepaid_visit(amount=600.0)  # 500 principal + 100 bonus
        self.company.hk_prepaid_topup_points = False
        self._sell_topup()  # no points
        self.company.hk_prepaid_topup_points = True
        self.engine._refund(self.customer, self.company, 1000.0, "the newest back")
        self.assertEqual(self._points(), 1000)
        # then the older one: what is left of its principal (400 + rounding of the
        # proportional split) takes its points back, the 500 spent keep theirs
        principal = self.customer.prepaid_principal
        self.engine._refund(self.customer, self.company, principal, "all back")
        self.assertEqual(self._points(), 1000 - int(principal))
        self.assertEqual(self._ledger(), self._points())

    def test_refund_refused_when_the_points_were_spent(self):
        self._sell_topup()
        reward = self.env["housekeeping.reward"].create(
            {"name": "Gift", "points_cost": 900, "reward_type": "gift"}
        )
        reward.redeem(self.customer)
        self.assertEqual(self._points(), 100)
        entries = self.env["housekeeping.prepaid.entry"].search_count([])
        with self.assertRaisesRegex(UserError, "already spent 400 of the 500 points"):
            self.engine._refund(self.customer, self.company, 500.0, "moving away")
        # nothing changed
        self.assertEqual(self.customer.prepaid_balance, 1200.0)
        self.assertEqual(self.env["housekeeping.prepaid.entry"].search_count([]), entries)
        self.assertEqual(self._points(), 100)
        # a refund whose points are still there passes
        self.engine._refund(self.customer, self.company, 100.0, "a little back")
        self.assertEqual(self._points(), 0)
        # the company allows negative balances: the debt is recorded
        self.company.hk_points_allow_negative = True
        self.engine._refund(self.customer, self.company, 400.0, "moving away")
        self.assertEqual(self._points(), -400)
        self.assertEqual(self._ledger(), -400)

    def test_cancelled_topup_takes_back_all_its_points(self):
        order = self._sell_topup()
        self.assertEqual(self._points(), 1000)
        order._action_cancel()
        self.assertEqual(self.customer.prepaid_balance, 0.0)
        self.assertEqual(self._points(), 0)
        back = self.Points.search([("reason_code", "=", "topup_cancelled")])
        self.assertEqual(back.points, -1000)
        self.assertEqual(back.prepaid_entry_id.entry_type, "correction")
        self.assertEqual(back.prepaid_entry_id.origin_entry_id, self._topup_entry(order))
        # cancelled again (a retried job): nothing more
        self.engine._orders_cancelled(order)
        self.assertEqual(self._points(), 0)
        # after a partial refund, the cancellation takes what is left only
        order = self._sell_topup()
        self.engine._refund(self.customer, self.company, 300.0, "part back")
        self.assertEqual(self._points(), 700)
        # (a top-up partly refunded is no longer whole: its cancellation is refused
        # by the prepaid rules, and nothing moves)
        with self.assertRaises(UserError):
            order._action_cancel()
        self.assertEqual(self._points(), 700)

    def test_cancel_refused_when_the_points_were_spent(self):
        order = self._sell_topup()
        reward = self.env["housekeeping.reward"].create(
            {"name": "Gift", "points_cost": 800, "reward_type": "gift"}
        )
        reward.redeem(self.customer)
        with self.assertRaisesRegex(UserError, "already spent 800 of the 1000 points"):
            order._action_cancel()
        self.assertEqual(self.customer.prepaid_balance, 1200.0)
        self.assertEqual(self._points(), 200)

    def test_no_double_reward_in_any_sequence(self):
        """Top-up, pay a visit from the balance, cancel it, pay it again in
        advance and complete it, refund the rest: the customer ends with the
        points of the money really spent, once."""
        self._sell_topup()
        visit = self._prepaid_visit(amount=120.0)
        visit.action_cancel()
        self.assertEqual(self._points(), 1000)
        visit.action_draft()
        visit.date = fields.Datetime.now() + timedelta(days=2)
        self.engine._pay_in_advance(visit)
        self.assertEqual(self.customer.prepaid_balance, 1080.0)
        visit.date = fields.Datetime.now() - timedelta(hours=1)
        visit.action_done()
        self.assertEqual(self.customer.prepaid_balance, 1080.0)  # not debited twice
        self.assertEqual(visit.points_earned, 0)
        self.assertEqual(self._points(), 1000)
        # the rest of the principal (900) refunded: the 100 spent keep their points
        self.engine._refund(self.customer, self.company, 900.0, "moving away")
        self.assertEqual(self._points(), 100)
        # the visit cancelled after the refund: its 100 + 20 come back to the
        # balance, no points move (the visit earned none)
        visit.action_cancel()
        self.assertEqual(self.customer.prepaid_balance, 120.0)
        self.assertEqual(self._points(), 100)
        self.assertEqual(self._ledger(), 100)
        self.assertBalanceIsHistory()

    def test_topup_points_are_set_based(self):
        """Confirming top-ups for many customers costs the same number of queries
        whatever their number."""
        self.env["res.partner"].create([{"name": f"Warm-up {i}"} for i in range(2)])

        def run(count):
            partners = self.env["res.partner"].create(
                [{"name": f"Set-based {count}-{i}"} for i in range(count)]
            )
            self.env.flush_all()
            before = self.env.cr.sql_log_count
            entries = self.env["housekeeping.prepaid.entry"]
            for partner in partners:
                entries |= self.engine._opening_balances({partner.id: 100.0}, self.company, "x")
            self.env.flush_all()
            self.env.invalidate_all()
            start = self.env.cr.sql_log_count
            self.engine._topup_points(entries)
            self.env.flush_all()
            self.assertEqual(self.Points.search_count([("partner_id", "in", partners.ids)]), count)
            return self.env.cr.sql_log_count - start, before

        run(1)  # warm-up (the first credits of a run read the settings)
        few, _ = run(2)
        many, _ = run(8)
        self.assertEqual(few, many)


class TestPayInAdvance(TopupPointsCase):
    def _upcoming(self, amount=120.0, partner=None, **kw):
        # one a day: the cleaner is never booked twice at once
        self.days = getattr(self, "days", 0) + 1
        return self._visit(
            partner=partner,
            amount=amount,
            state="scheduled",
            date=fields.Datetime.now() + timedelta(days=2 + self.days),
            **kw,
        )

    def test_paid_now_not_again_when_done_credited_back_on_cancel(self):
        self.company.hk_prepaid_topup_points = False
        self._sell_topup()
        visit = self._upcoming(amount=120.0)
        spend = self.engine._pay_in_advance(visit)
        self.assertEqual((spend.entry_type, spend.amount, spend.visit_id), ("spend", -120.0, visit))
        self.assertEqual((visit.payment_method, visit.prepaid_amount), ("prepaid", 120.0))
        self.assertEqual(self.customer.prepaid_balance, 1080.0)
        self.assertEqual(self.engine._visits_paid_in_advance(visit), {visit.id})
        # paid: the amount and the payment stay, the visit cannot be deleted
        with self.assertRaisesRegex(UserError, "paid in advance"):
            visit.amount = 200.0
        with self.assertRaisesRegex(UserError, "paid in advance"):
            visit.payment_method = "cash"
        with self.assertRaisesRegex(UserError, "paid in advance"):
            visit.unlink()
        visit.employee_id = self.cleaner_2  # anything else may change
        # paid again: refused, nothing changed
        with self.assertRaisesRegex(UserError, "already paid"):
            self.engine._pay_in_advance(visit)
        self.assertEqual(self.customer.prepaid_balance, 1080.0)
        # cancelled before it is done: credited back
        visit.action_cancel()
        self.assertEqual(self.customer.prepaid_balance, 1200.0)
        self.assertFalse(self.engine._visits_paid_in_advance(visit))
        self.assertBalanceIsHistory()
        # another one, completed: nothing more is debited, the setting off earns
        # the whole amount on consumption as at the counter
        other = self._upcoming(amount=200.0)
        self.engine._pay_in_advance(other)
        other.date = fields.Datetime.now() - timedelta(hours=1)
        other.action_done()
        self.assertEqual(self.customer.prepaid_balance, 1000.0)
        self.assertEqual(other.points_earned, 200)
        self.assertEqual(
            self.env["housekeeping.prepaid.entry"].search_count(
                [("visit_id", "=", other.id), ("entry_type", "=", "spend")]
            ),
            1,
        )
        self.assertBalanceIsHistory()

    def test_refused_nothing_changed(self):
        self.engine._opening_balances({self.customer.id: 100.0}, self.company, "opening")
        entries = self.env["housekeeping.prepaid.entry"].search_count([])
        # short
        visit = self._upcoming(amount=120.0, payment_method="cash")
        with self.assertRaisesRegex(UserError, "short"):
            self.engine._pay_in_advance(visit)
        self.assertEqual(visit.payment_method, "cash")
        # no price yet
        free = self._upcoming(amount=0.0)
        with self.assertRaisesRegex(UserError, "no price"):
            self.engine._pay_in_advance(free)
        # paid otherwise, or by a package
        paid = self._upcoming(amount=50.0)
        paid.is_paid = True
        with self.assertRaisesRegex(UserError, "already paid"):
            self.engine._pay_in_advance(paid)
        package = self._upcoming(amount=50.0, payment_method="package")
        with self.assertRaisesRegex(UserError, "already paid"):
            self.engine._pay_in_advance(package)
        # done or cancelled
        done = self._visit(amount=50.0)
        with self.assertRaisesRegex(UserError, "no longer"):
            self.engine._pay_in_advance(done)
        cancelled = self._upcoming(amount=50.0)
        cancelled.action_cancel()
        with self.assertRaisesRegex(UserError, "no longer"):
            self.engine._pay_in_advance(cancelled)
        self.assertEqual(self.env["housekeeping.prepaid.entry"].search_count([]), entries)
        self.assertEqual(self.customer.prepaid_balance, 100.0)

    def test_paid_in_advance_read_in_one_query(self):
        """The visits page asks which visits are paid in advance in one query,
        whatever their number."""
        self.engine._opening_balances({self.customer.id: 5000.0}, self.company, "opening")
        for count in (2, 6):
            visits = self.env["housekeeping.visit"]
            for _i in range(count):
                visits |= self._upcoming(amount=10.0, payment_method="prepaid")
            self.engine._pay_in_advance(visits[0])
            self.env.flush_all()
            with self.assertQueryCount(1):
                paid = self.engine._visits_paid_in_advance(visits)
            self.assertEqual(paid, {visits[0].id})

    def test_query_count_does_not_grow_with_the_ledger(self):
        self.engine._opening_balances({self.customer.id: 5000.0}, self.company, "opening")

        def pay():
            visit = self._upcoming(amount=10.0)
            self.env.flush_all()
            self.env.invalidate_all()
            start = self.env.cr.sql_log_count
            self.engine._pay_in_advance(visit)
            self.env.flush_all()
            return self.env.cr.sql_log_count - start

        first = pay()
        for _i in range(10):  # a longer history, more customers
            self._prepaid_visit(amount=10.0)
            self._sell_topup(self.env["res.partner"].create({"name": "Another"}))
        self.assertEqual(pay(), first)


@tagged("post_install", "-at_install")
class TestPayInAdvancePortal(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(
            cls.env, login="hk_pay_wu", groups="base.group_portal", name="Customer Wu"
        )
        cls.other_user = new_test_user(
            cls.env, login="hk_pay_li", groups="base.group_portal", name="Customer Li"
        )
        cls.customer, cls.other = cls.user.partner_id, cls.other_user.partner_id
        engine = cls.env["housekeeping.engine.prepaid"]
        engine._opening_balances({cls.customer.id: 300.0}, cls.env.company, "opening")
        engine._opening_balances({cls.other.id: 300.0}, cls.env.company, "opening")
        service = cls.env.ref("housekeeping_membership.service_type_hourly")
        cls.visits = cls.env["housekeeping.visit"].create(
            [
                {
                    "partner_id": partner.id,
                    "service_type_id": service.id,
                    "date": fields.Datetime.now() + timedelta(days=5),
                    "amount": amount,
                    "payment_method": "wechat",
                }
                for partner, amount in (
                    (cls.customer, 120.0),
                    (cls.customer, 250.0),
                    (cls.other, 80.0),
                )
            ]
        )

    def _login(self, user):
        self.authenticate(user.login, user.login)
        return Request.csrf_token(self)

    def _balance(self, partner):
        partner.invalidate_recordset(["prepaid_balance"])
        return partner.prepaid_balance

    def test_pay_own_visit_from_the_portal(self):
        mine, big, others = self.visits
        token = self._login(self.user)
        page = self.url_open("/my/visits").text
        self.assertIn(f'action="/my/visits/{mine.id}/pay"', page)
        self.assertNotIn(f"/my/visits/{others.id}/pay", page)
        response = self.url_open(f"/my/visits/{mine.id}/pay", data={"csrf_token": token})
        self.assertEqual(response.status_code, 200)
        self.assertIn("from your prepaid balance", response.text)
        self.assertIn("o_hk_paid_from_balance", response.text)
        self.assertEqual(self._balance(self.customer), 180.0)
        mine.invalidate_recordset()
        self.assertEqual((mine.payment_method, mine.prepaid_amount), ("prepaid", 120.0))
        self.assertTrue(mine.message_ids.filtered(lambda m: "portal" in (m.body or "")))
        # twice: refused, nothing more debited
        response = self.url_open(f"/my/visits/{mine.id}/pay", data={"csrf_token": token})
        self.assertIn("already paid", response.text)
        self.assertEqual(self._balance(self.customer), 180.0)
        # without the CSRF token: refused
        response = self.url_open(f"/my/visits/{big.id}/pay", data={})
        self.assertNotEqual(response.status_code, 200)
        self.assertEqual(self._balance(self.customer), 180.0)

    def test_other_customers_visit_refused(self):
        _mine, _big, others = self.visits
        token = self._login(self.user)
        response = self.url_open(f"/my/visits/{others.id}/pay", data={"csrf_token": token})
        self.assertEqual(response.status_code, 404)
        self.assertEqual(self._balance(self.customer), 300.0)
        self.assertEqual(self._balance(self.other), 300.0)
        others.invalidate_recordset()
        self.assertEqual(others.payment_method, "wechat")
        # unknown visit: the same 404
        response = self.url_open("/my/visits/999999999/pay", data={"csrf_token": token})
        self.assertEqual(response.status_code, 404)

    def test_short_balance_refused(self):
        mine, big, _others = self.visits
        token = self._login(self.user)
        self.url_open(f"/my/visits/{mine.id}/pay", data={"csrf_token": token})
        self.assertEqual(self._balance(self.customer), 180.0)
        response = self.url_open(f"/my/visits/{big.id}/pay", data={"csrf_token": token})
        self.assertEqual(response.status_code, 200)
        self.assertIn("short", response.text)
        self.assertEqual(self._balance(self.customer), 180.0)
        big.invalidate_recordset()
        self.assertEqual(big.payment_method, "wechat")
        self.assertFalse(self.env["housekeeping.prepaid.entry"].search([("visit_id", "=", big.id)]))


@tagged("post_install", "-at_install", "hk_real_cursors")
class TestPayInAdvanceConcurrency(PrepaidCursorCase):
    """A portal payment in advance and a counter payment of another visit spend
    the same balance at the same moment, the balance holding one of them: one
    succeeds, the other is refused; the balance never goes below zero and equals
    its history and ledger."""

    ROUNDS = 4

    def setUp(self):
        super().setUp()
        now = fields.Datetime.now()
        self._committed_customer(
            "Concurrent portal customer",
            100.0,
            [
                {
                    # even: the portal's visit to come; odd: the counter's, done now
                    "date": now + timedelta(days=3) if i % 2 == 0 else now - timedelta(hours=2),
                    "amount": 70.0,
                    "payment_method": "wechat" if i % 2 == 0 else "prepaid",
                }
                for i in range(2 * self.ROUNDS)
            ],
        )

    def test_portal_and_counter_never_overdraw(self):
        retries = []

        def retried(work, name, delay):
            # as Odoo's HTTP layer: a transaction that fails to serialize is
            # retried on a new cursor, and then sees what the other one did
            def run(_env):
                time.sleep(delay)
                for attempt in range(3):
                    try:
                        with self.registry.cursor() as cr:
                            work(self._cursor_env(cr))
                        return name
                    except psycopg2.errors.SerializationFailure:
                        if attempt == 2:
                            raise
                        retries.append(name)
                return name

            return run

        def portal(visit_id, delay=0.0):
            def work(env):
                # as the route: the customer's visit locked, then paid
                env.cr.execute(
                    "SELECT 1 FROM housekeeping_visit WHERE id = %s FOR NO KEY UPDATE", [visit_id]
                )
                visit = env["housekeeping.visit"].browse(visit_id)
                env["housekeeping.engine.prepaid"].sudo()._pay_in_advance(visit)

            return retried(work, "portal", delay)

        def counter(visit_id, delay=0.0):
            def work(env):
                env["housekeeping.visit"].browse(visit_id).action_done()

            return retried(work, "counter", delay)

        winners = set()
        for round_no in range(self.ROUNDS):
            with self.registry.cursor() as cr:
                cr.execute("SELECT points FROM loyalty_card WHERE id = %s", [self.card_id])
                before = cr.fetchone()[0]
                if abs(before - 100.0) > 0.001:
                    env = self._cursor_env(cr)
                    env["housekeeping.engine.prepaid"]._correct(
                        env["res.partner"].browse(self.partner_id),
                        env.company,
                        100.0 - before,
                        "concurrency round",
                    )
            upcoming, past = self.visit_ids[2 * round_no : 2 * round_no + 2]
            delay = 1.0 if round_no % 2 else 0.0
            results = self._run_threads(portal(upcoming, delay), counter(past))
            label = f"round {round_no}: {results}, retries {retries}"
            oks = [r[1] for r in results if r[0] == "ok"]
            self.assertEqual(len(oks), 1, label)
            refused = [r[1] for r in results if r[0] == "refused"]
            self.assertEqual(refused, ["UserError"], label)
            winners.update(oks)
            with self.registry.cursor() as cr:
                cr.execute(
                    """SELECT c.points,
                              (SELECT COALESCE(sum(issued - used), 0) FROM loyalty_history
                                WHERE card_id = c.id),
                              (SELECT COALESCE(sum(amount), 0) FROM housekeeping_prepaid_entry
                                WHERE card_id = c.id),
                              (SELECT payment_method FROM housekeeping_visit WHERE id = %s),
                              (SELECT state FROM housekeeping_visit WHERE id = %s)
                         FROM loyalty_card c WHERE c.id = %s""",
                    [upcoming, past, self.card_id],
                )
                points, history, ledger, portal_method, counter_state = cr.fetchone()
            self.assertGreaterEqual(points, 0, label)
            self.assertAlmostEqual(points, 30.0, places=2, msg=label)
            self.assertAlmostEqual(points, history, places=2, msg=label)
            self.assertAlmostEqual(points, ledger, places=2, msg=label)
            # the winner's visit, and only the winner's, changed
            self.assertEqual(portal_method == "prepaid", oks == ["portal"], label)
            self.assertEqual(counter_state == "done", oks == ["counter"], label)
        self.assertTrue(winners, retries)


@tagged("post_install", "-at_install")
class TestPayInAdvanceTour(HttpCase):
    # a phone, as tests/test_role_tours.py's customer
    browser_size = "390x844"
    touch_enabled = True

    def test_customer_pays_a_visit_from_the_balance(self):
        """In Chromium, on a phone: the customer taps *Pay from balance* on a visit
        to come; it shows as paid and the balance is debited once."""
        env = self.env
        user = new_test_user(env, login="hk_pay_tour", groups="base.group_portal")
        partner = user.partner_id
        env["housekeeping.engine.prepaid"]._opening_balances(
            {partner.id: 300.0}, env.company, "opening"
        )
        visit = env["housekeeping.visit"].create(
            {
                "partner_id": partner.id,
                "service_type_id": env.ref("housekeeping_membership.service_type_hourly").id,
                "date": fields.Datetime.now() + timedelta(days=4),
                "amount": 120.0,
                "payment_method": "wechat",
            }
        )
        self.start_tour("/my/visits", "hk_prepaid_pay_tour", login=user.login, timeout=180)
        env.invalidate_all()
        self.assertEqual(partner.prepaid_balance, 180.0)
        self.assertEqual((visit.payment_method, visit.prepaid_amount), ("prepaid", 120.0))
        self.assertEqual(
            env["housekeeping.prepaid.entry"].search_count(
                [("visit_id", "=", visit.id), ("entry_type", "=", "spend")]
            ),
            1,
        )
