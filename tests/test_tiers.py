import importlib.util
from datetime import date

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools.misc import file_path

from ..models.trust import engine_writes
from .common import HousekeepingCase


@tagged("post_install", "-at_install")
class TestTiers(HousekeepingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Partner = cls.env["res.partner"]
        cls.Tier = cls.env["housekeeping.tier"]
        # Evaluate only the customers of this test: put the others out of scope.
        cls.Partner.search(
            ["|", ("membership_tier_id", "!=", False), ("visit_count", ">", 0)]
        ).write({"active": False})
        cls.standard = cls.env.ref("housekeeping_membership.tier_standard")
        cls.silver = cls.env.ref("housekeeping_membership.tier_silver")
        cls.gold = cls.env.ref("housekeeping_membership.tier_gold")
        cls.black = cls.env.ref("housekeeping_membership.tier_black")
        # a known ladder: any of spend / visits over 12 months
        cls.silver.write({"min_spend": 1000, "min_visits": 5, "upgrade_points": 200})
        cls.gold.write({"min_spend": 3000, "min_visits": 10, "upgrade_points": 500})
        cls.black.write({"min_spend": 8000, "min_visits": 20, "upgrade_points": 1000})
        cls.coupon_program = (
            cls.env["loyalty.program"]
            .with_context(default_program_type="coupons")
            .create({"name": "Gold welcome: free deep cleaning"})
        )
        cls.gold.upgrade_program_id = cls.coupon_program
        cls.company.write({"hk_tier_window_months": 12, "hk_tier_grace_months": 3})
        cls.env.flush_all()

    def _member(self, name, dates, amount=200.0, company=None, **vals):
        partner = self.Partner.create(
            {"name": name, "company_id": (company or self.company).id, **vals}
        )
        extra = {}
        if company and company != self.company:
            extra = {
                "company_id": company.id,
                "employee": self.env["hr.employee"].create(
                    {"name": f"Cleaner of {company.name}", "company_id": company.id}
                ),
            }
        for when in dates:
            self._visit(partner=partner, date=f"{when} 09:00:00", amount=amount, **extra)
        return partner

    def _cron(self):
        return self.Partner._cron_evaluate_tiers()

    def _logs(self, partner):
        return self.env["housekeeping.tier.log"].search(
            [("partner_id", "=", partner.id)], order="id"
        )

    def _notes(self, partner, text):
        return partner.message_ids.filtered(lambda m: text in (m.body or ""))

    # ------------------------------------------------------------ upgrades
    @freeze_time("2026-03-05 20:00:00")
    def test_upgrade_on_crossing_visit(self):
        # the upgrade message is the Upgrade gift pack journey's: it needs consent
        partner = self._member(
            "Ms Wu",
            ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"],
            email="w@ex.com",
            consent_email=True,
        )
        self.assertEqual(partner.membership_tier_id, self.standard, "first visit: entry tier")
        self.assertIn("1 more visit", partner.tier_progress)
        self.assertIn("Silver", partner.tier_progress)
        self.assertEqual(partner.tier_progress_pct, 80.0)  # max(800/1000, 4/5)
        # the 5th visit crosses the Silver threshold: upgraded at once, no cron
        self._visit(partner=partner, date="2026-03-05 09:00:00")
        self.assertEqual(partner.membership_tier_id, self.silver)
        logs = self._logs(partner)
        self.assertEqual(
            [(log.from_tier_id, log.to_tier_id, log.trigger, log.direction) for log in logs],
            [
                (self.Tier, self.standard, "visit", "up"),
                (self.standard, self.silver, "visit", "up"),
            ],
        )
        self.assertTrue(logs[-1].gift_given)
        self.assertEqual(logs[-1].gift_points, 200)
        self.assertFalse(logs[0].gift_given, "the entry tier has no gift pack")
        self.assertEqual(len(self._notes(partner, "Membership tier")), 2)
        mails = self.env["mail.mail"].search(
            [("model", "=", "res.partner"), ("res_id", "=", partner.id)]
        )
        self.assertEqual(len(mails), 1, "the customer is told about Silver, not Standard")
        self.assertIn("Silver", mails.subject)
        self.assertIn(self.company.name, str(mails.body_html))
        # one big visit crosses Gold (3000): the Gold coupon is issued
        self._visit(partner=partner, date="2026-03-05 10:00:00", amount=2500)
        self.assertEqual(partner.membership_tier_id, self.gold)
        card = self.env["loyalty.card"].search([("partner_id", "=", partner.id)])
        self.assertEqual(card.program_id, self.coupon_program)
        self.assertEqual(card.points, 1)
        self.assertEqual(self._logs(partner)[-1].loyalty_card_id, card)
        gold_mail = self.env["mail.mail"].search(
            [("model", "=", "res.partner"), ("res_id", "=", partner.id)], order="id desc", limit=1
        )
        self.assertIn(card.code, str(gold_mail.body_html), "the e-mail gives the coupon code")
        self.assertIn("Black", partner.tier_progress)

    @freeze_time("2026-03-05 20:00:00")
    def test_visits_of_a_user_and_cancellation(self):
        partner = self._member("Mr Li", ["2026-03-01", "2026-03-02"], amount=600)
        self.assertEqual(partner.membership_tier_id, self.silver)
        # a visit that did not earn the upgrade: cancelling it changes no tier
        partner.visit_ids.sorted("date")[0].with_user(self.user).action_cancel()
        self.assertEqual(partner.membership_tier_id, self.silver, "lowered only at evaluation")
        # as a service agent (no loyalty rights), completing a visit that qualifies works
        other = self.Partner.create({"name": "Ms Zhou", "company_id": self.company.id})
        visit = (
            self.env["housekeeping.visit"]
            .with_user(self.user)
            .create(
                {
                    "partner_id": other.id,
                    "service_type_id": self.service_deep.id,
                    "date": "2026-03-05 09:00:00",
                    "amount": 3500,
                }
            )
        )
        visit.action_done()
        self.assertEqual(other.membership_tier_id, self.gold)
        self.assertTrue(self.env["loyalty.card"].search([("partner_id", "=", other.id)]))

    def test_cancelled_visit_withdraws_the_upgrade_it_earned(self):
        """An upgrade earned by a visit that is then cancelled (recorded by mistake)
        is withdrawn at once, without grace: the tier before it, the gift points
        taken back, the unused coupon archived; a real visit later earns the tier
        and its gift pack again."""
        with freeze_time("2026-03-05 20:00:00"):
            partner = self._member("Ms Tang", ["2026-03-01"], amount=1200)
            self.assertEqual(partner.membership_tier_id, self.silver)
            mistake = self._visit(partner=partner, date="2026-03-05 09:00:00", amount=2500)
            self.assertEqual(partner.membership_tier_id, self.gold)
            upgrade = self._logs(partner)[-1]
            self.assertEqual((upgrade.visit_id, upgrade.gift_points), (mistake, 500))
            card = upgrade.loyalty_card_id
            self.assertTrue(card.active)
            balance, earned = partner.points_balance, mistake.points_earned
            mistake.with_user(self.user).action_cancel()
            self.assertEqual(partner.membership_tier_id, self.silver)
            self.assertFalse(partner.tier_grace_until, "withdrawn, not lapsed: no grace")
            withdrawal = self._logs(partner)[-1]
            self.assertEqual(
                (withdrawal.from_tier_id, withdrawal.to_tier_id, withdrawal.direction),
                (self.gold, self.silver, "down"),
            )
            self.assertEqual(withdrawal.trigger, "cancel")
            self.assertTrue(upgrade.gift_withdrawn)
            self.assertFalse(card.active, "the unused Gold coupon is archived")
            self.assertEqual(partner.points_balance, balance - earned - 500)
            balance = partner.points_balance
            self.assertTrue(self._notes(partner, "visit that earned it was cancelled"))
            # a real visit earns Gold and its gift again in the same window
            real = self._visit(partner=partner, date="2026-03-05 11:00:00", amount=2500)
            self.assertEqual(partner.membership_tier_id, self.gold)
            self.assertTrue(self._logs(partner)[-1].gift_given)
            self.assertEqual(partner.points_balance, balance + real.points_earned + 500)
            self.assertEqual(
                self.env["loyalty.card"].search_count([("partner_id", "=", partner.id)]), 1
            )
            # a visit cancelled after a later change (set by hand) is not withdrawn
            partner.with_user(self.manager).action_set_tier(self.black, "VIP of the year")
            partner.visit_ids.filtered(lambda v: v.state == "done").sorted("date")[-1].with_user(
                self.manager
            ).action_cancel()
            self.assertEqual(partner.membership_tier_id, self.black)

    def test_withdrawal_walks_back_a_chain_and_keeps_the_grace(self):
        """Two mistaken visits (Silver → Gold → Black) cancelled together go back to
        Silver with the grace period the customer was in; a visit outside the
        qualification window, cancelled later, withdraws nothing."""
        with freeze_time("2025-01-10 20:00:00"):
            partner = self._member("Mr Ma", ["2025-01-10"], amount=1200)
            self.assertEqual(partner.membership_tier_id, self.silver)
        with freeze_time("2026-02-01 20:00:00"):
            self._cron()  # the visit left the window: grace on Silver
            grace = partner.tier_grace_until
            self.assertTrue(grace)
            first = self._visit(partner=partner, date="2026-02-01 09:00:00", amount=3000)
            second = self._visit(partner=partner, date="2026-02-01 10:00:00", amount=5000)
            self.assertEqual(partner.membership_tier_id, self.black)
            (first | second).with_user(self.manager).action_cancel()
            self.assertEqual(partner.membership_tier_id, self.silver)
            self.assertEqual(partner.tier_grace_until, grace, "the grace period it had")
            self.assertEqual(
                self._logs(partner).filtered("withdrawn").mapped("to_tier_id"),
                self.black | self.gold,
            )
            # earned again, then its visit cancelled once it left the window
            third = self._visit(partner=partner, date="2026-02-01 11:00:00", amount=3000)
            self.assertEqual(partner.membership_tier_id, self.gold)
        with freeze_time("2027-03-01 20:00:00"):
            third.with_user(self.manager).action_cancel()
            self.assertEqual(partner.membership_tier_id, self.gold, "nothing to withdraw")

    def test_no_double_gift_pack_in_a_window(self):
        with freeze_time("2026-01-10 20:00:00"):
            partner = self._member("Mr Sun", ["2026-01-10"], amount=3000)
            self.assertEqual(partner.membership_tier_id, self.gold)
            partner.with_user(self.manager).action_set_tier(
                self.silver, "Tier reset after a dispute", until=date(2026, 1, 11)
            )
            self.assertEqual(partner.membership_tier_id, self.silver)
        with freeze_time("2026-01-12 20:00:00"):
            self._visit(partner=partner, date="2026-01-12 09:00:00", amount=100)
            self.assertEqual(partner.membership_tier_id, self.gold, "crossed Gold a second time")
        gold_logs = self._logs(partner).filtered(lambda log: log.to_tier_id == self.gold)
        self.assertEqual(len(gold_logs), 2)
        self.assertEqual(gold_logs.mapped("gift_given"), [True, False])
        cards = self.env["loyalty.card"].search([("partner_id", "=", partner.id)])
        self.assertEqual(len(cards), 1, "one Gold coupon per window")
        # a year later, the next window gives the pack again
        with freeze_time("2027-02-01 20:00:00"):
            self._cron()  # short: grace
            partner.with_user(self.manager).action_set_tier(self.silver, "Reset")
            self._visit(partner=partner, date="2027-02-01 09:00:00", amount=3000)
            self.assertEqual(partner.membership_tier_id, self.gold)
            self.assertTrue(self._logs(partner)[-1].gift_given)
            self.assertEqual(
                len(self.env["loyalty.card"].search([("partner_id", "=", partner.id)])), 2
            )

    def test_second_gift_in_a_year_with_a_short_window(self):
        """With a 6-month window, upgrades on 2026-07-01 and 2027-01-15 fall in two
        windows that both start in 2026: each gives the pack, the points too, not
        only the log and the coupon."""
        self.company.hk_tier_window_months = 6
        with freeze_time("2026-07-01 20:00:00"):
            partner = self._member("Ms Qian", ["2026-07-01"], amount=3000)
            self.assertEqual(partner.membership_tier_id, self.gold)
            partner.with_user(self.manager).action_set_tier(self.silver, "Reset")
        with freeze_time("2027-01-15 20:00:00"):
            self._visit(partner=partner, date="2027-01-15 09:00:00", amount=3000)
            self.assertEqual(partner.membership_tier_id, self.gold)
        gold_logs = self._logs(partner).filtered(lambda log: log.to_tier_id == self.gold)
        self.assertEqual(gold_logs.mapped("gift_given"), [True, True])
        gifts = self.env["housekeeping.points.entry"].search(
            [("partner_id", "=", partner.id), ("note", "like", "Upgrade gift")]
        )
        self.assertEqual(gifts.mapped("points"), [500, 500])

    # ------------------------------------------------------------ grace and downgrade
    def test_grace_warning_then_downgrade_one_step(self):
        with freeze_time("2026-01-10 20:00:00"):
            partner = self._member("Ms Gao", ["2026-01-09", "2026-01-10"], amount=1600)
            self.assertEqual(partner.membership_tier_id, self.gold)
        with freeze_time("2027-01-15 20:00:00"):
            # the visits left the 12-month window: short of Gold, grace of 3 months
            self.assertEqual(self._cron(), 1)
            self.assertEqual(partner.membership_tier_id, self.gold)
            self.assertEqual(partner.tier_grace_until, date(2027, 4, 15))
            warning = self._notes(partner, "at risk")
            self.assertEqual(len(warning), 1)
            self.assertIn("10 more visits", warning.body)
            self.assertEqual(self._cron(), 0, "a second run changes nothing")
        with freeze_time("2027-04-14 20:00:00"):
            self.assertEqual(self._cron(), 0)
            self.assertEqual(partner.membership_tier_id, self.gold)
        with freeze_time("2027-04-15 20:00:00"):
            self.assertEqual(self._cron(), 1)
            # one step down, and still short of Silver: its grace starts at once
            self.assertEqual(partner.membership_tier_id, self.silver)
            self.assertEqual(partner.tier_grace_until, date(2027, 7, 15))
            log = self._logs(partner)[-1]
            self.assertEqual(
                (log.from_tier_id, log.to_tier_id, log.trigger, log.direction, log.gift_given),
                (self.gold, self.silver, "cron", "down", False),
            )
            self.assertEqual(self._cron(), 0)
        with freeze_time("2027-07-15 20:00:00"):
            self._cron()
            self.assertEqual(partner.membership_tier_id, self.standard)
            self.assertFalse(partner.tier_grace_until, "everyone qualifies for the entry tier")
            self.assertEqual(self._cron(), 0)

    def test_requalifying_during_grace_clears_it(self):
        with freeze_time("2026-01-10 20:00:00"):
            partner = self._member("Mr Ma", ["2026-01-10"], amount=1200)
            self.assertEqual(partner.membership_tier_id, self.silver)
        with freeze_time("2027-01-15 20:00:00"):
            self._cron()
            self.assertTrue(partner.tier_grace_until)
        with freeze_time("2027-02-01 20:00:00"):
            self._visit(partner=partner, date="2027-02-01 09:00:00", amount=1100)
            self.assertEqual(partner.membership_tier_id, self.silver)
            self.assertFalse(partner.tier_grace_until)
            self.assertEqual(len(self._notes(partner, "Qualifies again")), 1)
            self.assertEqual(len(self._logs(partner)), 1, "no tier change was logged")
        with freeze_time("2027-05-01 20:00:00"):
            self.assertEqual(self._cron(), 0)
            self.assertEqual(partner.membership_tier_id, self.silver)

    # ------------------------------------------------------------ manual assignment
    def test_manual_assignment_with_end_date(self):
        with freeze_time("2026-03-01 20:00:00"):
            partner = self._member("Corporate", ["2026-03-01"])
            self.assertEqual(partner.membership_tier_id, self.standard)
            with self.assertRaises(AccessError):
                partner.with_user(self.user).action_set_tier(self.gold, "VIP")
            with self.assertRaises(UserError):
                partner.with_user(self.manager).action_set_tier(self.gold, "  ")
            wizard = Form(
                self.env["housekeeping.tier.set"]
                .with_user(self.manager)
                .with_context(default_partner_ids=[partner.id])
            )
            wizard.tier_id = self.gold
            wizard.reason = "Corporate contract"
            wizard.date_until = date(2026, 4, 1)
            wizard.save().action_apply()
            self.assertEqual(partner.membership_tier_id, self.gold)
            self.assertEqual(partner.tier_manual_until, date(2026, 4, 1))
            log = self._logs(partner)[-1]
            self.assertEqual(
                (log.to_tier_id, log.trigger, log.reason, log.create_uid, log.gift_given),
                (self.gold, "manual", "Corporate contract", self.manager, False),
            )
            self.assertEqual(len(self._notes(partner, "set by hand")), 1)
        with freeze_time("2026-04-01 20:00:00"):
            self.assertEqual(self._cron(), 0, "held until the end date")
            self.assertEqual(partner.membership_tier_id, self.gold)
        with freeze_time("2026-04-02 20:00:00"):
            # the hold ended: the usual grace period applies
            self.assertEqual(self._cron(), 1)
            self.assertEqual(partner.membership_tier_id, self.gold)
            self.assertFalse(partner.tier_manual_until)
            self.assertEqual(partner.tier_grace_until, date(2026, 7, 2))
            self.assertEqual(self._cron(), 0)

    # ------------------------------------------------------------ configuration
    def test_thresholds_must_grow_with_rank(self):
        with self.assertRaises(ValidationError) as refused:
            self.gold.min_spend = 500  # below Silver's 1000
        self.assertIn("Gold", str(refused.exception))
        with self.assertRaises(ValidationError):
            self.black.min_visits = 6  # below Gold's 10
        with self.assertRaises(ValidationError):
            self.Tier.create({"name": "Platinum", "sequence": 20, "min_spend": 5000})
        self.env.invalidate_all()  # drop the refused values from the cache
        # a tier with members cannot be deleted
        with freeze_time("2026-03-05 20:00:00"):
            self._member("Member", ["2026-03-01"], amount=1500)
        with self.assertRaises(ValidationError):
            self.silver.unlink()
        # an unused threshold (0) is not compared
        self.gold.min_visits = 0
        self.Tier.create({"name": "Diamond", "sequence": 40, "min_spend": 20000})
        # another company's ladder is independent
        other = self.env["res.company"].create({"name": "Shanghai branch"})
        self.Tier.create(
            {"name": "Silver SH", "sequence": 10, "min_spend": 100, "company_id": other.id}
        )

    def test_settings_validated(self):
        with self.assertRaises(ValidationError):
            self.company.hk_tier_window_months = 0
        settings = self.env["res.config.settings"].create({"hk_tier_grace_months": 2})
        settings.execute()
        self.assertEqual(self.company.hk_tier_grace_months, 2)

    @freeze_time("2026-03-05 20:00:00")
    def test_points_multiplier(self):
        gold = self._member("Gold", ["2026-03-01"], amount=3000)
        nobody = self.Partner.create({"name": "No tier"})
        self.assertEqual((gold | nobody)._hk_points_multiplier(), {gold.id: 1.5, nobody.id: 1.0})

    @freeze_time("2026-03-05 20:00:00")
    def test_activity_score_counts_ratings_and_referrals(self):
        self.silver.write({"min_activity": 2})
        partner = self._member("Referrer", ["2026-03-01"], amount=100)
        self.assertEqual(partner.membership_tier_id, self.standard)
        self.env["rating.rating"].create(
            {
                "res_model_id": self.env["ir.model"]._get_id("housekeeping.visit"),
                "res_id": partner.visit_ids.id,
                "partner_id": partner.id,
                "rating": 5,
                "consumed": True,
            }
        )
        self._member("Friend", ["2026-03-02"], referred_by_id=partner.id)
        self.assertEqual(self._cron(), 1)
        self.assertEqual(partner.membership_tier_id, self.silver)

    def test_cron_upgrades_after_threshold_change(self):
        with freeze_time("2026-03-01 20:00:00"):
            partner = self._member(
                "Ms Xu", ["2026-03-01"], amount=800, email="xu@ex.com", consent_email=True
            )
            self.assertEqual(partner.membership_tier_id, self.standard)
            self.silver.min_spend = 500
            self.assertEqual(self._cron(), 1)
            self.assertEqual(partner.membership_tier_id, self.silver)
            log = self._logs(partner)[-1]
            self.assertEqual((log.trigger, log.gift_given), ("cron", True))
            self.assertEqual(
                self.env["mail.mail"].search_count(
                    [("model", "=", "res.partner"), ("res_id", "=", partner.id)]
                ),
                1,
            )
            # a first tier given by the evaluation (backfill after installation or an
            # import) comes without e-mail nor gift pack
            imported = self.Partner.create(
                {"name": "Imported", "email": "imp@ex.com", "consent_email": True}
            )
            visit = self._visit(partner=imported, date="2026-02-01 09:00:00", state="draft")
            visit.amount = 800
            self.env.flush_all()
            self.env.cr.execute(
                "UPDATE housekeeping_visit SET state = 'done' WHERE id = %s", [visit.id]
            )
            self.env.cr.execute(
                "UPDATE res_partner SET visit_count = 1 WHERE id = %s", [imported.id]
            )
            self.env.invalidate_all()
            self.assertEqual(self._cron(), 1)
            self.assertEqual(imported.membership_tier_id, self.silver)
            self.assertFalse(self._logs(imported).gift_given)
            self.assertFalse(
                self.env["mail.mail"].search_count(
                    [("model", "=", "res.partner"), ("res_id", "=", imported.id)]
                )
            )

    @freeze_time("2026-03-05 20:00:00")
    def test_merge_keeps_the_best_tier(self):
        keep = self._member("Ms He", ["2026-03-01", "2026-03-02", "2026-03-03"], amount=100)
        dup = self._member("Ms He (dup)", ["2026-03-04", "2026-03-05"], amount=100)
        self.assertEqual((keep | dup).membership_tier_id, self.standard)
        wizard = self.env["base.partner.merge.automatic.wizard"].create({})
        wizard._merge((keep | dup).ids, keep)
        self.assertEqual(keep.visit_count, 5)
        self.assertEqual(keep.membership_tier_id, self.silver)

    @freeze_time("2026-03-05 20:00:00")
    def test_partner_form_as_service_agent(self):
        partner = self._member("Ms Tang", ["2026-03-01"], amount=1200)
        form = Form(partner.with_user(self.user))
        self.assertEqual(form.membership_tier_id, self.silver)
        self.assertIn("Gold", form.tier_progress)
        action = partner.with_user(self.user).action_view_tier_logs()
        logs = self.env[action["res_model"]].with_user(self.user).search(action["domain"])
        self.assertEqual(logs.to_tier_id, self.silver)
        members = self.silver.with_user(self.manager).action_view_members()
        self.assertIn(partner, self.Partner.search(members["domain"]))

    # ------------------------------------------------------------ benefits
    @freeze_time("2026-03-05 20:00:00")
    def test_dedicated_agents_round_robin(self):
        agent_a = new_test_user(
            self.env, login="agent_a", groups="housekeeping_membership.group_membership_user"
        )
        agent_b = new_test_user(
            self.env, login="agent_b", groups="housekeeping_membership.group_membership_user"
        )
        self.black.agent_team_ids = agent_a | agent_b
        partners = self.Partner.create(
            [{"name": f"VIP {i}", "company_id": self.company.id} for i in range(3)]
        )
        visits = self._draft_visits(
            partners, "2026-03-05 09:00:00", amount=9000, service_type=self.service_deep
        )
        visits.action_done()
        self.assertEqual(partners.membership_tier_id, self.black)
        self.assertEqual(partners.mapped("tier_agent_id"), agent_a | agent_b)
        self.assertEqual(
            [p.tier_agent_id for p in partners], [agent_a, agent_b, agent_a], "least loaded first"
        )
        self.assertEqual([p.user_id for p in partners], [p.tier_agent_id for p in partners])
        late = self._member("VIP late", ["2026-03-05"], amount=9000)
        self.assertEqual(late.tier_agent_id, agent_b)

    @freeze_time("2026-03-05 20:00:00")
    def test_priority_booking_orders_visits(self):
        regular = self._member("Regular", ["2026-03-01"])
        vip = self._member("VIP", ["2026-03-01"], amount=3000)  # Gold: priority booking
        later = self.env["housekeeping.visit"].create(
            [
                {
                    "partner_id": p.id,
                    "service_type_id": self.service_hourly.id,
                    "date": "2026-03-10 09:00:00",
                }
                for p in (regular, vip)
            ]
        )
        self.assertEqual(later.sorted("tier_sequence", reverse=True)[0].partner_id, vip)
        found = self.env["housekeeping.visit"].search([("id", "in", later.ids)])
        self.assertEqual(found.partner_id.ids, [vip.id, regular.id])
        # only the visit still to do ranks: history is not rewritten by a tier change
        # and the customer's visits list by date
        history = self.env["housekeeping.visit"].search([("partner_id", "=", vip.id)])
        self.assertEqual(history.mapped("tier_sequence"), [20, 0])
        self.assertEqual(regular.visit_ids.mapped("tier_sequence"), [0, 0])
        self.assertEqual(
            [str(d.date()) for d in history.mapped("date")], ["2026-03-10", "2026-03-01"]
        )

    @freeze_time("2026-03-05 20:00:00")
    def test_tier_change_reranks_only_visits_to_do(self):
        vip = self._member("VIP", ["2026-03-01", "2026-03-02"], amount=3000)  # Gold
        todo = self.env["housekeeping.visit"].create(
            {
                "partner_id": vip.id,
                "service_type_id": self.service_hourly.id,
                "date": "2026-03-10 09:00:00",
            }
        )
        done = vip.visit_ids - todo
        self.assertEqual(todo.tier_sequence, 20)
        self.assertEqual(done.mapped("tier_sequence"), [0, 0])
        vip.action_set_tier(self.silver, "test")  # no priority booking
        self.assertEqual(todo.tier_sequence, 0)
        vip.action_set_tier(self.black, "test")
        self.assertEqual(todo.tier_sequence, self.black.sequence)
        self.assertEqual(done.mapped("tier_sequence"), [0, 0])
        todo.action_cancel()
        self.assertEqual(todo.tier_sequence, 0)
        today = todo.copy({"date": "2026-03-05 09:00:00"})
        self.assertEqual(today.tier_sequence, self.black.sequence)
        today.action_done()
        self.assertEqual(today.tier_sequence, 0, "a done visit joins the history")

    def test_priority_member_wins_the_cleaner(self):
        regular = self._member("Regular", ["2026-03-01"])
        vip = self._member("VIP", ["2026-03-01"], amount=3000)  # Gold: priority booking
        Visit = self.env["housekeeping.visit"]

        def booking(partner, date, duration=2.0):
            return Visit.create(
                {
                    "partner_id": partner.id,
                    "service_type_id": self.service_hourly.id,
                    "employee_id": self.cleaner.id,
                    "date": date,
                    "duration": duration,
                }
            )

        first = booking(regular, "2026-04-10 02:00:00")
        first.action_schedule()
        # the Gold member wants the same cleaner an hour later: overlap, Gold wins
        gold = booking(vip, "2026-04-10 03:00:00")
        gold.action_schedule()
        self.assertEqual(gold.state, "scheduled")
        self.assertEqual((first.state, first.employee_id.id), ("draft", False))
        self.assertIn("Reschedule", first.activity_ids.summary)
        # a regular customer cannot take the Gold member's cleaner
        other = booking(regular, "2026-04-10 04:30:00")
        with self.assertRaises(UserError):
            other.action_schedule()
        self.assertEqual(other.state, "draft")
        # not overlapping: fine
        later = booking(regular, "2026-04-10 06:00:00")
        later.action_schedule()
        # moved in the calendar onto the Gold member's booking: refused, unchanged
        with self.assertRaises(UserError), self.cr.savepoint():
            later.date = "2026-04-10 03:30:00"
        later.invalidate_recordset()
        self.assertEqual(str(later.date), "2026-04-10 06:00:00")
        self.assertEqual(gold.employee_id, self.cleaner)

    def test_reserved_slots(self):
        regular = self._member("Regular", ["2026-03-01"])
        vip = self._member("VIP", ["2026-03-01"], amount=3000)
        (regular | vip).write({"tz": "Asia/Shanghai"})
        self.company.write(
            {
                "hk_reserved_weekday_ids": [
                    (6, 0, self.env.ref("housekeeping_membership.weekday_6").ids)
                ],
                "hk_reserved_time_window": "morning",
            }
        )
        Visit = self.env["housekeeping.visit"]
        # Saturday 2026-04-11 09:00 in Shanghai = 01:00 UTC
        values = {"service_type_id": self.service_hourly.id, "date": "2026-04-11 01:00:00"}
        refused = Visit.create({**values, "partner_id": regular.id})
        with self.assertRaises(UserError):
            refused.action_schedule()
        Visit.create({**values, "partner_id": vip.id}).action_schedule()
        # Saturday afternoon is open to everyone
        afternoon = Visit.create(
            {**values, "partner_id": regular.id, "date": "2026-04-11 07:00:00"}
        )
        afternoon.action_schedule()
        # but a scheduled visit cannot be moved into the reserved morning
        with self.assertRaises(UserError), self.cr.savepoint():
            afternoon.date = "2026-04-11 02:00:00"
        # nor created already scheduled there (an import, a sale order with a
        # delivery date): nothing is created
        count = Visit.search_count([])
        with self.assertRaises(UserError), self.cr.savepoint():
            Visit.create({**values, "partner_id": regular.id, "state": "scheduled"})
        self.assertEqual(Visit.search_count([]), count)
        Visit.create({**values, "partner_id": vip.id, "state": "scheduled"})

    def test_visit_created_scheduled_is_checked_for_the_cleaner(self):
        """A visit created already scheduled takes the cleaner as scheduling does:
        refused on a booking of an equal or higher tier, bumping a lower one."""
        regular = self._member("Regular", ["2026-03-01"])
        vip = self._member("VIP", ["2026-03-01"], amount=3000)
        Visit = self.env["housekeeping.visit"]
        values = {
            "service_type_id": self.service_hourly.id,
            "employee_id": self.cleaner.id,
            "duration": 2.0,
            "state": "scheduled",
        }
        first = Visit.create({**values, "partner_id": regular.id, "date": "2026-04-10 02:00:00"})
        with self.assertRaises(UserError), self.cr.savepoint():
            Visit.create({**values, "partner_id": regular.id, "date": "2026-04-10 03:00:00"})
        gold = Visit.create({**values, "partner_id": vip.id, "date": "2026-04-10 03:00:00"})
        self.assertEqual(gold.state, "scheduled")
        self.assertEqual((first.state, first.employee_id.id), ("draft", False))

    def test_complaints_go_to_the_dedicated_agent(self):
        agent = new_test_user(
            self.env, login="hk_agent_gold", groups="housekeeping_membership.group_membership_user"
        )
        self.gold.agent_team_ids = agent
        vip = self._member("VIP", ["2026-03-01"], amount=3000)
        self.assertEqual(vip.tier_agent_id, agent)
        complaint = self.env["housekeeping.complaint"].create(
            {"name": "Late", "partner_id": vip.id}
        )
        self.assertEqual(complaint.user_id, agent)

    def test_holiday_pricelist_on_sale_order(self):
        member_list = self.env["product.pricelist"].create({"name": "Gold members"})
        holiday_list = self.env["product.pricelist"].create({"name": "Gold holidays"})
        self.gold.write(
            {"default_pricelist_id": member_list.id, "holiday_pricelist_id": holiday_list.id}
        )
        self.env["housekeeping.holiday"].create(
            {"name": "Spring Festival", "date_from": "2026-02-15", "date_to": "2026-02-23"}
        )
        with freeze_time("2026-02-01 20:00:00"):
            partner = self._member("Gold customer", ["2026-02-01"], amount=3000)
            regular = self._member("Regular customer", ["2026-02-01"])
        self.assertEqual(partner.membership_tier_id, self.gold)
        order = self.env["sale.order"].create(
            {"partner_id": partner.id, "date_order": "2026-02-18 10:00:00"}
        )
        self.assertEqual(order.pricelist_id, holiday_list)
        order.date_order = "2026-03-02 10:00:00"
        self.assertEqual(order.pricelist_id, member_list)
        other = self.env["sale.order"].create(
            {"partner_id": regular.id, "date_order": "2026-02-18 10:00:00"}
        )
        self.assertEqual(other.pricelist_id, regular.property_product_pricelist)
        # a pricelist chosen by hand stays when the date changes, a member's or not
        corporate = self.env["product.pricelist"].create({"name": "Corporate contract"})
        for draft in (order, other):
            draft.pricelist_id = corporate
            draft.date_order = "2026-02-19 10:00:00"
            self.assertEqual(draft.pricelist_id, corporate)

    # ------------------------------------------------------------ engine properties
    def _population(self, prefix, count, tier):
        with freeze_time("2026-01-10 20:00:00"):
            partners = self.Partner.create(
                [{"name": f"{prefix}{i}", "company_id": self.company.id} for i in range(count)]
            )
            self.env["housekeeping.visit"].create(
                [
                    {
                        "partner_id": p.id,
                        "service_type_id": self.service_hourly.id,
                        "date": "2026-01-10 09:00:00",
                        "amount": 100,
                        "employee_id": self.cleaner.id,
                    }
                    for p in partners
                ]
            ).action_done()
        with engine_writes("membership_tier_id"):  # as an earlier evaluation left them
            partners.write({"membership_tier_id": tier.id})
        return partners

    def test_cron_is_idempotent_and_resumable(self):
        members = self._population("R", 5, self.gold)
        self.env["ir.config_parameter"].sudo().set_param(
            "housekeeping_membership.tier_batch_size", 2
        )
        with freeze_time("2026-03-05 20:00:00"):
            # an interrupted run: one batch of 2 went through before the crash
            changed, more = self.env["housekeeping.engine.tier"]._tier_evaluate(
                trigger="cron", limit=2
            )
            self.assertEqual((changed, more), (2, True))
            self.assertEqual(self._cron(), 3, "the next run resumes with the others")
            self.assertEqual(set(members.mapped("tier_grace_until")), {date(2026, 6, 5)})
            self.assertEqual(self._cron(), 0)
            notes = self.env["mail.message"].search_count(
                [
                    ("model", "=", "res.partner"),
                    ("res_id", "in", members.ids),
                    ("body", "ilike", "at risk"),
                ]
            )
            self.assertEqual(notes, 5, "one warning per member, nothing twice")
        with freeze_time("2026-06-05 20:00:00"):
            self.assertEqual(self._cron(), 5)
            self.assertEqual(members.membership_tier_id, self.silver)
            self.assertEqual(self._cron(), 0)

    def test_scheduled_action_runs_in_batches(self):
        members = self._population("S", 3, self.gold)
        self.env["ir.config_parameter"].sudo().set_param(
            "housekeeping_membership.tier_batch_size", 2
        )
        cron = self.env.ref("housekeeping_membership.ir_cron_tier_evaluate")
        self.assertEqual(cron.interval_type, "months")
        with freeze_time("2026-03-05 20:00:00"), self.enter_registry_test_mode():
            cron.method_direct_trigger()
        self.env.invalidate_all()
        self.assertEqual(set(members.mapped("tier_grace_until")), {date(2026, 6, 5)})

    def test_query_count_does_not_grow(self):
        def counted_run(day):
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            with freeze_time(day):
                changed = self._cron()
            return changed, self.cr.sql_log_count - before

        small = self._population("Small", 50, self.gold)
        grace_small = counted_run("2026-03-05 20:00:00")
        down_small = counted_run("2026-06-05 20:00:00")
        self.assertEqual(small.membership_tier_id, self.silver)
        large = self._population("Large", 500, self.gold)
        # the small population is back in grace on 2026-06-05; move it out of scope
        small.write({"active": False})
        grace_large = counted_run("2026-03-05 20:00:00")
        down_large = counted_run("2026-06-05 20:00:00")
        self.assertEqual(large.membership_tier_id, self.silver)
        self.assertEqual((grace_small[0], grace_large[0]), (50, 500))
        self.assertEqual((down_small[0], down_large[0]), (50, 500))
        for label, (_n1, q_small), (_n2, q_large) in (
            ("grace", grace_small, grace_large),
            ("downgrade", down_small, down_large),
        ):
            self.assertLessEqual(
                abs(q_large - q_small), 5, f"{label}: 50 members {q_small} queries, 500: {q_large}"
            )

    def test_visit_hook_query_count_does_not_grow(self):
        """Completing many qualifying visits at once (e.g. a day's schedule) upgrades
        their customers set-based: logs, notes and coupons in a constant number of
        queries; only the e-mails cost about one query each (rendering)."""

        def counted(prefix, count, email):
            with freeze_time("2026-03-05 20:00:00"):
                partners = self.Partner.create(
                    [
                        {"name": f"{prefix}{i}", "email": email and f"{prefix}{i}@ex.com"}
                        for i in range(count)
                    ]
                )
                visits = self.env["housekeeping.visit"].create(
                    [
                        {
                            "partner_id": p.id,
                            "service_type_id": self.service_deep.id,
                            "date": "2026-03-05 09:00:00",
                            "amount": 3500,
                            "employee_id": self.cleaner.id,
                        }
                        for p in partners
                    ]
                )
                self.env.flush_all()
                self.env.invalidate_all()
                before = self.cr.sql_log_count
                visits.action_done()
                self.env.flush_all()
                queries = self.cr.sql_log_count - before
            self.assertEqual(partners.membership_tier_id, self.gold)
            self.assertEqual(
                self.env["loyalty.card"].search_count([("partner_id", "in", partners.ids)]), count
            )
            return queries

        small, large = counted("Few", 5, False), counted("Many", 50, False)
        self.assertLessEqual(large - small, 5, f"5 customers: {small} queries, 50: {large}")
        small, large = counted("FewMail", 5, True), counted("ManyMail", 50, True)
        self.assertLessEqual(large - small, 45, f"5 e-mails: {small} queries, 50: {large}")

    # ------------------------------------------------------------ multi-company
    def test_ladder_and_settings_per_company(self):
        other = self.env["res.company"].create({"name": "Shanghai branch"})
        other.write({"hk_tier_grace_months": 0})
        sh_basic = self.Tier.create({"name": "SH Basic", "sequence": 0, "company_id": other.id})
        sh_vip = self.Tier.create(
            {
                "name": "SH VIP",
                "sequence": 10,
                "min_visits": 2,
                "company_id": other.id,
                "points_multiplier": 3.0,
            }
        )
        with freeze_time("2026-01-10 20:00:00"):
            here = self._member("Beijing", ["2026-01-09", "2026-01-10"])
            there = self._member("Shanghai", ["2026-01-09", "2026-01-10"], company=other)
        self.assertEqual(here.membership_tier_id, self.standard)
        self.assertEqual(there.membership_tier_id, sh_vip)
        self.assertEqual(self._logs(there)[-1].company_id, other)
        self.assertEqual(there._hk_points_multiplier(), {there.id: 3.0})
        # a customer shared between companies follows the company of the latest visit
        with freeze_time("2026-01-10 20:00:00"):
            shared = self.Partner.create({"name": "Shared", "company_id": False})
            for day in ("2026-01-09", "2026-01-10"):
                self._visit(
                    partner=shared,
                    date=f"{day} 09:00:00",
                    company_id=other.id,
                    employee=there.visit_ids[0].employee_id,
                )
        self.assertEqual(shared.membership_tier_id, sh_vip)
        self.assertEqual(shared.with_company(other).tier_progress, "Highest tier reached")
        with freeze_time("2027-02-01 20:00:00"):
            # no grace in Shanghai: straight down to the tier still qualified for
            self._cron()
        self.assertEqual(there.membership_tier_id, sh_basic)
        self.assertFalse(there.tier_grace_until)
        # users of a company see its tiers and the shared ones only
        user_a = new_test_user(
            self.env, login="hk_tier_user_a", groups="housekeeping_membership.group_membership_user"
        )
        visible = self.Tier.with_user(user_a).search([])
        self.assertIn(self.gold, visible)
        self.assertNotIn(sh_vip, visible)
        self.assertNotIn(
            self._logs(there)[-1],
            self.env["housekeeping.tier.log"].with_user(user_a).search([]),
        )


class TestMigration(HousekeepingCase):
    def test_migration_1_1_resets_history_priority(self):
        """Upgrading from 19.0.1.0.0: done visits lose the tier priority they had."""
        done = self._visit()
        todo = self._visit(state="draft", date="2030-01-10 09:00:00")
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE housekeeping_visit SET tier_sequence = 20 WHERE id IN %s",
            [(done.id, todo.id)],
        )
        path = file_path("housekeeping_membership/migrations/19.0.1.1.0/post-migration.py")
        spec = importlib.util.spec_from_file_location("hk_migration_1_1", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.migrate(self.env.cr, "19.0.1.0.0")
        (done | todo).invalidate_recordset(["tier_sequence"])
        self.assertEqual(done.tier_sequence, 0)
        self.assertEqual(todo.tier_sequence, 20, "visits still to do keep their priority")
