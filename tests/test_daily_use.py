"""A day at a cleaning company (issue 28): whose settings apply to a customer,
satisfaction that shows, complaints that reach a person, languages."""

from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged

from .common import HousekeepingCase


@tagged("post_install", "-at_install")
class TestDailyUse(HousekeepingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cny = cls.env.ref("base.CNY")
        cls.cny.active = True
        cls.branch = cls.env["res.company"].create(
            {"name": "洁家家政服务", "currency_id": cls.cny.id}
        )
        cls.branch_cleaner = cls.env["hr.employee"].create(
            {"name": "Cleaner of the branch", "company_id": cls.branch.id}
        )
        cls.Tier = cls.env["housekeeping.tier"]
        cls.branch_silver = cls.Tier.create(
            {"name": "Branch Silver", "sequence": 10, "min_visits": 2, "company_id": cls.branch.id}
        )
        cls.Tier.create({"name": "Branch Basic", "sequence": 0, "company_id": cls.branch.id})

    def _shared_customer(self, name="Shared Ms Lin", dates=("2026-01-09", "2026-01-10")):
        partner = self.env["res.partner"].create({"name": name, "company_id": False})
        with freeze_time(f"{dates[-1]} 20:00:00"):
            for day in dates:
                self._visit(
                    partner=partner,
                    date=f"{day} 09:00:00",
                    company_id=self.branch.id,
                    employee=self.branch_cleaner,
                )
        return partner

    # ------------------------------------------------------------------ company rule
    def test_shared_customer_follows_company_of_latest_visit(self):
        partner = self._shared_customer()
        self.assertEqual(partner.hk_visit_company_id, self.branch)
        self.assertEqual(partner._hk_settings_company(), self.branch)
        # the branch's ladder, not the main company's
        self.assertEqual(partner.membership_tier_id, self.branch_silver)
        # the branch's currency on the customer and in Members per Tier
        self.assertEqual(partner.hk_currency_id, self.cny)
        line = self.env["housekeeping.report.membership"].search(
            [("partner_id", "=", partner.id), ("line_type", "=", "member")]
        )
        self.assertEqual(line.company_id, self.branch)
        self.assertEqual(line.currency_id, self.cny)
        # the engine field is the statistics engine's: nobody writes it
        with self.assertRaises(UserError):
            partner.write({"hk_visit_company_id": self.company.id})

    def test_lifecycle_preview_counts_customers_of_the_branch(self):
        partner = self._shared_customer()
        with freeze_time("2026-09-01 20:00:00"):
            # months later, the branch's rules move the customer; the main
            # company's preview does not count them
            counts = {}
            for company in (self.branch, self.company):
                preview = (
                    self.env["housekeeping.lifecycle.preview"]
                    .with_context(default_company_id=company.id)
                    .create({})
                )
                preview.action_preview()
                counts[company] = preview.moved_count
        self.assertEqual(partner._hk_settings_company(), self.branch)
        self.assertGreaterEqual(counts[self.branch], 1)
        self.assertEqual(counts[self.company], 0)

    # ------------------------------------------------------------------ complaints
    def test_complaint_goes_to_a_person_who_works(self):
        desk = new_test_user(
            self.env, login="hk_desk", groups="housekeeping_membership.group_membership_user"
        )
        self.company.hk_service_desk_user_id = desk
        bot = self.env.ref("base.user_root")
        Complaint = self.env["housekeeping.complaint"].with_user(bot).sudo()
        agent_customer = self.env["res.partner"].create(
            {"name": "Agent's", "tier_agent_id": self.user.id}
        )
        seller_customer = self.env["res.partner"].create(
            {"name": "Seller's", "user_id": self.manager.id}
        )
        desk_customer = self.env["res.partner"].create({"name": "Desk's"})
        complaints = Complaint.create(
            [
                {"name": "Rude", "partner_id": agent_customer.id},
                {"name": "Late", "partner_id": seller_customer.id},
                {"name": "Dusty", "partner_id": desk_customer.id},
                {"name": "Given", "partner_id": desk_customer.id, "user_id": bot.id},
            ]
        )
        self.assertEqual(complaints[0].user_id, self.user, "the dedicated agent")
        self.assertEqual(complaints[1].user_id, self.manager, "the salesperson")
        self.assertEqual(complaints[2].user_id, desk, "the service desk")
        self.assertEqual(complaints[3].user_id, desk, "OdooBot is never the responsible")
        # a low score: the complaint and its recovery activity go to the desk
        visit = self._visit(partner=desk_customer, date="2026-03-05 09:00:00")
        visit.with_user(bot).sudo().action_record_rating(1, "Not cleaned")
        recovery = visit.complaint_ids
        self.assertEqual(recovery.user_id, desk)
        self.assertEqual(recovery.activity_ids.user_id, desk)
        # without a service desk: a membership manager, still not OdooBot
        self.company.hk_service_desk_user_id = False
        nobody = self.env["res.partner"].create({"name": "Nobody's"})
        complaint = Complaint.create({"name": "Broken", "partner_id": nobody.id})
        self.assertTrue(complaint.user_id)
        self.assertNotEqual(complaint.user_id, bot)
        self.assertFalse(complaint.user_id.share)

    # ------------------------------------------------------------------ satisfaction
    def test_ratings_show_on_the_visit_and_the_customer(self):
        partner = self.env["res.partner"].create({"name": "Rater"})
        visits = self.env["housekeeping.visit"]
        for day, _score in (("2026-02-01", 5), ("2026-02-08", 3), ("2026-02-15", 0)):
            visits |= self._visit(partner=partner, date=f"{day} 09:00:00")
        visits[0].action_record_rating(5)
        visits[1].action_record_rating(3)
        # a rating created directly, as the demo and imports do: visible once asked
        self.assertEqual(visits[0].rating_last_value, 5)
        self.assertTrue(visits[0].hk_is_rated)
        self.assertFalse(visits[2].hk_is_rated)
        self.assertEqual(partner.hk_rated_visit_count, 2)
        self.assertAlmostEqual(partner.hk_rating_avg, 4.0)
        self.env["rating.rating"].sudo().create(
            {
                "res_model_id": self.env["ir.model"]._get_id("housekeeping.visit"),
                "res_id": visits[2].id,
                "partner_id": partner.id,
                "rating": 4,
                "consumed": True,
            }
        )
        self.env["rating.rating"].flush_model()
        self.env.add_to_compute(visits._fields["rating_last_value"], visits[2])
        partner.invalidate_recordset(["hk_rating_avg", "hk_rated_visit_count"])
        self.assertEqual(visits[2].rating_last_value, 4)
        self.assertEqual(partner.hk_rated_visit_count, 3)
        self.assertAlmostEqual(partner.hk_rating_avg, 4.0)

    # ------------------------------------------------------------------ languages
    def test_engine_notes_in_the_company_language(self):
        self.env["res.lang"]._activate_lang("zh_CN")
        self.env["ir.module.module"].search(
            [("name", "=", "housekeeping_membership")]
        )._update_translations(["zh_CN"])
        self.branch.partner_id.lang = "zh_CN"
        partner = self._shared_customer("Shared Mr Gao")
        # the caller works in English; the customer's company in Chinese
        engine = self.env["housekeeping.engine.vip"].with_context(lang="en_US")
        engine._vip_apply([(partner.id, "add")])
        note = partner.message_ids.filtered(lambda m: "VIP" in (m.body or ""))[:1]
        self.assertIn("VIP客户", note.body)
        # the tier notes too
        tier_note = partner.message_ids.filtered(lambda m: "Branch Silver" in (m.body or ""))
        self.assertTrue(tier_note)
        self.assertNotIn("Membership tier", tier_note[0].body)

    def test_lifecycle_notes_in_each_company_language(self):
        """One run over customers of a Chinese and an English company: each stage
        note and log in its company's language, whatever the caller's."""
        self.env["res.lang"]._activate_lang("zh_CN")
        self.env["ir.module.module"].search(
            [("name", "=", "housekeeping_membership")]
        )._update_translations(["zh_CN"])
        self.branch.partner_id.lang = "zh_CN"
        self.company.partner_id.lang = "en_US"
        chinese = self._shared_customer("Shared Ms Wu")
        english = self.env["res.partner"].create({"name": "Mr Ford", "is_prospect": True})
        engine = self.env["housekeeping.engine.lifecycle"].with_context(lang="en_US")
        with freeze_time("2026-01-11 08:00:00"):
            engine._lifecycle_evaluate(partner_ids=(chinese | english).ids, trigger="manual")
        cn_note = chinese.message_ids.filtered(lambda m: "→" in str(m.body or ""))[:1]
        en_note = english.message_ids.filtered(lambda m: "→" in str(m.body or ""))[:1]
        self.assertTrue(cn_note and en_note)
        self.assertNotIn("Lifecycle stage", str(cn_note.body))
        self.assertIn("Lifecycle stage", str(en_note.body))

    def test_customer_email_in_the_customer_language(self):
        self.env["res.lang"]._activate_lang("zh_CN")
        self.env["ir.module.module"].search(
            [("name", "=", "housekeeping_membership")]
        )._update_translations(["zh_CN"])
        template = self.env.ref("housekeeping_membership.mail_template_points_expiring")
        chinese = self.env["res.partner"].create({"name": "Ms Zhao", "lang": "zh_CN"})
        english = self.env["res.partner"].create({"name": "Mr Smith", "lang": "en_US"})
        subjects = template.with_context(lang="en_US")._render_field(
            "subject", (chinese | english).ids, compute_lang=True
        )
        self.assertNotEqual(subjects[chinese.id], subjects[english.id])
        self.assertRegex(subjects[chinese.id], "[\u4e00-\u9fff]")
