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
