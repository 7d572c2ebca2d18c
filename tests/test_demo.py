from datetime import timedelta

from odoo import fields
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestDemoData(TransactionCase):
    def test_demo_generator_is_deterministic_and_fast(self):
        queries = self.env.cr.sql_log_count
        partners = self.env["housekeeping.demo"]._generate_demo_data()
        queries = self.env.cr.sql_log_count - queries
        self.assertEqual(len(partners), 200)
        # a bound on the work, not on the clock (a wall-clock limit failed on a
        # loaded machine): 11,184 statements on 2026-12-02, for 200 customers and
        # their three years of visits, ratings, ledger and journeys
        self.assertLess(queries, 14000)
        visits = self.env["housekeeping.visit"].search([("partner_id", "in", partners.ids)])
        self.assertGreater(len(visits.filtered(lambda v: v.state == "done")), 100)
        self.assertTrue(visits.filtered(lambda v: v.state == "scheduled"))
        self.assertTrue(partners.filtered("referred_by_id"))
        self.assertTrue(partners.filtered(lambda p: p.visit_count == 0))
        self.assertEqual(
            self.env["housekeeping.complaint"].search_count([("partner_id", "in", partners.ids)]), 4
        )
        portal = self.env["res.users"].search([("login", "=", "customer")])
        self.assertTrue(portal._is_portal())
        self.assertGreater(portal.partner_id.visit_count, 10)
        # a story: every lifecycle stage, tiers, a ledger
        stages = set(partners.mapped("lifecycle_stage"))
        self.assertTrue({"potential", "new", "loyal", "at_risk", "churned"} <= stages, stages)
        self.assertGreaterEqual(len(stages), 4)
        self.assertGreater(len(set(partners.mapped("membership_tier_id"))), 1)
        ledger = self.env["housekeeping.points.entry"].search([("partner_id", "in", partners.ids)])
        self.assertTrue({"earn", "expire"} <= set(ledger.mapped("entry_type")))
        for partner in partners:
            self.assertEqual(
                partner.points_balance,
                sum(ledger.filtered(lambda e, p=partner: e.partner_id == p).mapped("points")),
            )
        ratings = self.env["rating.rating"].search_count(
            [("res_model", "=", "housekeeping.visit"), ("partner_id", "in", partners.ids)]
        )
        self.assertGreater(ratings, 50)
        # the ratings show: on the visits and as the customers' average
        rated = visits.filtered("rating_last_value")
        self.assertGreater(len(rated), 50)
        self.assertTrue(all(rated.mapped("hk_is_rated")))
        self.assertTrue(
            partners.filtered(lambda p: p.hk_rating_avg >= 1 and p.hk_rated_visit_count)
        )
        # everything belongs to the demo company, where its people work
        company = visits[0].company_id
        self.assertEqual(set(partners.mapped("company_id")), {company})
        self.assertEqual(set(visits.mapped("company_id")), {company})
        # with a logo of its own: the portal and documents show it, not Odoo's placeholder
        self.assertTrue(company.logo)
        self.assertNotEqual(company.logo, self.env.ref("base.main_company").logo)
        agent = self.env.ref("housekeeping_membership.demo_user_agent")
        manager = self.env.ref("housekeeping_membership.demo_user_manager")
        self.assertEqual(company.hk_service_desk_user_id, agent)
        self.assertEqual({agent.tz, manager.tz}, {"Asia/Shanghai"})
        self.assertTrue(manager.has_group("housekeeping_membership.group_membership_manager"))
        complaints = self.env["housekeeping.complaint"].search([("partner_id", "in", partners.ids)])
        bot = self.env.ref("base.user_root")
        self.assertNotIn(bot, complaints.mapped("user_id"))
        resolved = complaints.filtered(lambda c: c.state == "resolved")
        self.assertEqual(set(resolved.mapped("user_id")), {agent, manager})
        # the holiday campaign has the company's public holidays
        holidays = self.env["housekeeping.holiday"].search([("company_id", "=", company.id)])
        self.assertGreaterEqual(len(holidays), 6)
        # churn reasons confirmed on some churned customers; history over the years
        self.assertTrue(partners.filtered("churn_reason_confirmed"))
        tier_logs = self.env["housekeeping.tier.log"].search([("partner_id", "in", partners.ids)])
        self.assertGreater(len(set(tier_logs.mapped(lambda log: log.date.year))), 1)
        # journeys went out (to those who consented) and some customers came back
        sends = self.env["housekeeping.journey.send"].search([("partner_id", "in", partners.ids)])
        self.assertTrue(sends)
        self.assertTrue(all(s.partner_id.consent_email or s.partner_id.consent_sms for s in sends))
        self.assertTrue(sends.filtered("converted"))
        # same seed, same story
        names = partners.mapped("name")
        self.assertEqual(names[:3], partners.browse(partners.ids[:3]).mapped("name"))
        # points were earned and expired month by month over the history: each
        # expiry the day after its lot's expiry date, not all on the day of the install
        today = fields.Date.context_today(partners)
        expired = ledger.filtered(lambda e: e.entry_type == "expire")
        earned = ledger.filtered(lambda e: e.entry_type == "earn")
        self.assertGreater(len({(e.date.year, e.date.month) for e in expired}), 6)
        self.assertGreater(len({(e.date.year, e.date.month) for e in earned}), 24)
        # referral bonuses on the day of the referred customer's first visit
        referrals = earned.filtered(
            lambda e: e.reason_code == "referral" and e.source_key.startswith("referral:")
        )
        self.assertGreater(len(set(referrals.mapped("date"))), 1)
        for entry in referrals:
            self.assertEqual(entry.date, entry.related_partner_id.first_visit_date)
        # upgrade gifts on the day of their upgrade (those past their validity expired)
        gifts = earned.filtered(lambda e: e.reason_code == "tier_gift")
        self.assertGreater(len(set(gifts.mapped("date"))), 1)
        upgrades = {(log.partner_id, log.date) for log in tier_logs if log.direction == "up"}
        self.assertTrue(all((gift.partner_id, gift.date) in upgrades for gift in gifts))
        self.assertTrue(expired.filtered(lambda e: e.origin_entry_id.reason_code == "tier_gift"))
        for entry in expired:
            lot = entry.origin_entry_id
            self.assertEqual(entry.date, min(today, lot.expiry_date + timedelta(days=1)))
        # the catalog says what a point is worth: the free 2-hour cleaning (2 × ¥60
        # for 800 points) and the ¥50 coupon (500 points), median ¥0.125
        rewards = self.env["housekeeping.reward"].search([("company_id", "=", company.id)])
        values = {r.reward_type: r.value for r in rewards if r.reward_type != "gift"}
        self.assertEqual(values, {"service": 120, "coupon": 50})
        point_value = self.env["housekeeping.reward"]._hk_point_values(company)[company.id]
        self.assertAlmostEqual(point_value, 0.125)
        liability = self.env["housekeeping.points.liability"].search(
            [("company_id", "=", company.id)]
        )
        self.assertEqual(liability.points, sum(partners.mapped("points_balance")))
        self.assertAlmostEqual(liability.value, liability.points * 0.125, places=2)
