from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import HousekeepingCase


@tagged("post_install", "-at_install")
class TestCustomerDatabase(HousekeepingCase):
    def test_profile_fields_and_age(self):
        elderly = self.env.ref("housekeeping_membership.household_tag_elderly")
        pets = self.env.ref("housekeeping_membership.household_tag_pets")
        wednesday = self.env.ref("housekeeping_membership.weekday_3")
        partner = self.env["res.partner"].create(
            {
                "name": "Zhao Min",
                "country_id": self.env.ref("base.cn").id,
                "phone": "+86 138 0013 8000",
                "birthday": "1980-06-15",
                "gender": "female",
                "acquisition_channel": "wechat",
                "household_tag_ids": [(6, 0, (elderly | pets).ids)],
                "home_area": 120,
                "home_type": "apartment",
                "preferred_weekday_ids": [(6, 0, wednesday.ids)],
                "preferred_time_window": "afternoon",
                "prefers_eco_products": True,
                "preferred_employee_ids": [(6, 0, self.cleaner.ids)],
                "blocked_employee_ids": [(6, 0, self.cleaner_2.ids)],
                "special_instructions": "Key under the mat; cat is shy.",
            }
        )
        with freeze_time("2026-06-14"):
            partner.invalidate_recordset(["age"])
            self.assertEqual(partner.age, 45)
        with freeze_time("2026-06-15"):
            partner.invalidate_recordset(["age"])
            self.assertEqual(partner.age, 46)
        found = self.env["res.partner"].search(
            [("household_tag_ids", "in", pets.ids), ("prefers_eco_products", "=", True)]
        )
        self.assertIn(partner, found)

    def test_china_mobile_validation(self):
        china = self.env.ref("base.cn")
        for good in ("13800138000", "+8613800138000", "139-1234-5678", "86 15012345678"):
            partner = self.env["res.partner"].create(
                {"name": "OK", "country_id": china.id, "phone": good}
            )
            self.assertEqual(partner.phone, good)
        for bad in ("12345", "12800138000", "1380013800", "+85213800138000", "phone"):
            with self.assertRaises(ValidationError, msg=bad), self.cr.savepoint():
                self.env["res.partner"].create(
                    {"name": "Bad", "country_id": china.id, "phone": bad}
                )
        self.assertFalse(self.env["res.partner"].search([("name", "=", "Bad")]))
        # Outside China, the number is not checked as a mainland mobile.
        france = self.env.ref("base.fr")
        self.env["res.partner"].create(
            {"name": "FR", "country_id": france.id, "phone": "+33 1 23 45 67 89"}
        )

    def test_company_landline_accepted(self):
        company = self.env["res.partner"].create(
            {
                "name": "洁家家政",
                "is_company": True,
                "country_id": self.env.ref("base.cn").id,
                "phone": "400-800-1234",
            }
        )
        self.assertEqual(company.phone, "400-800-1234")

    def test_birthday_in_future_refused(self):
        with freeze_time("2026-03-01"):
            with self.assertRaisesRegex(ValidationError, "future"):
                self.customer.birthday = "2026-03-02"
        self.customer.invalidate_recordset(flush=False)
        self.assertFalse(self.customer.birthday)

    def test_self_referral_and_household_bounds(self):
        with self.assertRaises(ValidationError):
            self.customer.referred_by_id = self.customer
        with self.assertRaises(ValidationError):
            self.customer.home_area = -5
        with self.assertRaises(ValidationError):
            self.customer.household_size = 1000

    def test_consumption_statistics(self):
        self._visit(date="2026-01-01 02:00:00", amount=100, service_type=self.service_hourly)
        self._visit(date="2026-01-08 02:00:00", amount=200, service_type=self.service_hourly)
        coupon_visit = self._visit(
            date="2026-01-22 02:00:00", amount=600, service_type=self.service_deep
        )
        self._visit(date="2026-02-22 02:00:00", amount=999, state="scheduled")
        c = self.customer
        self.assertEqual(c.visit_count, 3)
        self.assertEqual(c.total_spent, 900)
        self.assertEqual(c.average_ticket, 300)
        self.assertEqual(str(c.first_visit_date), "2026-01-01")
        self.assertEqual(str(c.last_visit_date), "2026-01-22")
        self.assertEqual(str(c.customer_since), "2026-01-01")
        # gaps 7 and 14 days: median 10.5
        self.assertEqual(c.visit_interval_days, 10.5)
        self.assertEqual(c.preferred_service_type_id, self.service_hourly)
        self.assertEqual(c.coupon_usage_rate, 0)
        # Cancelling a done visit updates the statistics at once.
        coupon_visit.action_cancel()
        self.assertEqual(c.visit_count, 2)
        self.assertEqual(c.total_spent, 300)
        self.assertEqual(str(c.last_visit_date), "2026-01-08")
        # Correcting the date of a done visit updates them too (its amount earned
        # points: it is corrected by cancelling the visit and recording it again).
        first = c.visit_ids.filtered(lambda v: v.amount == 100)
        first.date = "2026-01-02 02:00:00"
        self.assertEqual(str(c.first_visit_date), "2026-01-02")
        self.assertEqual(c.visit_interval_days, 6)
        # Searchable: agents filter on these fields.
        self.assertIn(c, self.env["res.partner"].search([("total_spent", ">=", 300)]))

    def test_statistics_local_day(self):
        # 23:30 UTC on Jan 1st is Jan 2nd in Shanghai.
        self.customer.tz = "Asia/Shanghai"
        self._visit(date="2026-01-01 23:30:00")
        self.assertEqual(str(self.customer.last_visit_date), "2026-01-02")

    def test_refresh_query_count_constant_in_history(self):
        other = self.env["res.partner"].create({"name": "Long History"})
        for day in range(1, 29):
            self._visit(partner=other, date=f"2025-02-{day:02d} 08:00:00")
        self._visit(partner=self.customer, date="2025-02-01 08:00:00")
        self.env.flush_all()
        with self.assertQueryCount(1):
            self.customer._hk_refresh_visit_stats()
        with self.assertQueryCount(1):
            other._hk_refresh_visit_stats()
        self.assertEqual(other.visit_count, 28)
        # several partners at once: still one statement
        with self.assertQueryCount(1):
            (self.customer | other)._hk_refresh_visit_stats()

    def test_callback_activity(self):
        self.customer.with_user(self.user).action_schedule_callback()
        activity = self.customer.activity_ids
        self.assertEqual(
            activity.activity_type_id,
            self.env.ref("housekeeping_membership.mail_activity_type_callback"),
        )
        self.assertEqual(activity.user_id, self.user)

    def test_complaint_flow(self):
        visit = self._visit()
        complaint = (
            self.env["housekeeping.complaint"]
            .with_user(self.user)
            .create(
                {
                    "name": "Kitchen not cleaned",
                    "partner_id": self.customer.id,
                    "visit_id": visit.id,
                    "employee_id": self.cleaner.id,
                    "category": "quality",
                    "severity": "high",
                }
            )
        )
        self.assertEqual(self.customer.open_complaint_count, 1)
        self.assertIn("Kitchen not cleaned", self.customer.message_ids[0].body)
        with self.assertRaisesRegex(Exception, "resolution"):
            complaint.action_resolve()
        complaint.resolution = "Free re-cleaning done the next day."
        complaint.action_resolve()
        self.assertEqual(complaint.state, "resolved")
        self.customer.invalidate_recordset(["open_complaint_count", "complaint_count"])
        self.assertEqual(self.customer.open_complaint_count, 0)
        self.assertEqual(self.customer.complaint_count, 1)


@tagged("post_install", "-at_install")
class TestPartnerMerge(HousekeepingCase):
    def test_merge_moves_visits_and_recomputes_statistics(self):
        duplicate = self.env["res.partner"].create(
            {"name": "Customer Wu (dup)", "email": "wu@example.com"}
        )
        self._visit(partner=self.customer, date="2026-01-01 09:00:00", amount=100)
        self._visit(partner=duplicate, date="2026-01-15 09:00:00", amount=300)
        self.env["housekeeping.complaint"].create({"name": "Late", "partner_id": duplicate.id})
        wizard = self.env["base.partner.merge.automatic.wizard"].create({})
        wizard._merge((self.customer | duplicate).ids, self.customer)
        self.assertFalse(duplicate.exists())
        self.assertEqual(self.customer.visit_count, 2)
        self.assertEqual(self.customer.total_spent, 400)
        self.assertEqual(str(self.customer.last_visit_date), "2026-01-15")
        self.assertEqual(self.customer.visit_interval_days, 14)
        self.assertEqual(self.customer.complaint_count, 1)


class TestMainCompany(HousekeepingCase):
    def test_main_company_is_the_same_for_everyone_and_cached(self):
        """Customers without a company follow the main company's settings, whoever
        completes their visit: a user of another company too."""
        Partner = self.env["res.partner"]
        main = Partner._hk_main_company()
        self.assertEqual(main, self.env["res.company"].search([], order="id", limit=1))
        branch = self.env["res.company"].create({"name": "Branch Store"})
        self.assertEqual(Partner._hk_main_company(), main, "a new company is not the main one")
        user_b = self._company_user("hk_branch_user", branch)
        # what a plain search gives that user: its own company only
        self.assertEqual(
            self.env["res.company"].with_user(user_b).search([], order="id", limit=1), branch
        )
        self.assertEqual(Partner.with_user(user_b)._hk_main_company(), main)
        self.assertTrue(Partner.with_user(user_b)._hk_main_company().hk_at_risk_factor)
        with self.assertQueryCount(0):
            Partner._hk_main_company()
