"""Query counts that must not grow with a customer's history or the population."""

from odoo.tests import tagged

from .common import HousekeepingCase


@tagged("post_install", "-at_install")
class TestFormAndListLoad(HousekeepingCase):
    SPEC = {
        "display_name": {},
        "visit_count": {},
        "total_spent": {},
        "last_visit_date": {},
        "lifecycle_stage": {},
        "lifecycle_days_in_stage": {},
        "points_balance": {},
        "check_in_streak": {},
        "referral_count": {},
        "membership_tier_id": {"fields": {"display_name": {}}},
        "tier_progress": {},
        "complaint_count": {},
        "visit_ids": {
            "fields": {"name": {}, "date": {}, "amount": {}, "state": {}},
            "limit": 40,
        },
        "points_entry_ids": {
            "fields": {"date": {}, "entry_type": {}, "points": {}},
            "limit": 20,
        },
    }

    def _customer_with(self, visits):
        partner = self.env["res.partner"].create({"name": f"History {visits}"})
        vals = [
            {
                "partner_id": partner.id,
                "service_type_id": self.service_hourly.id,
                "date": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d} 09:00:00",
                "amount": 100,
                "employee_id": self.cleaner.id,
            }
            for i in range(visits)
        ]
        self.env["housekeeping.visit"].create(vals).action_done()
        return partner

    def _form_queries(self, partner):
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.cr.sql_log_count
        partner.with_user(self.user).web_read(self.SPEC)
        return self.cr.sql_log_count - before

    def test_partner_form_load_is_constant(self):
        small = self._customer_with(2)
        big = self._customer_with(120)
        self._form_queries(small)  # warm the caches of the registry
        self.assertEqual(self._form_queries(small), self._form_queries(big))

    def test_customer_list_load_is_constant(self):
        list_spec = {
            "display_name": {},
            "visit_count": {},
            "total_spent": {},
            "lifecycle_stage": {},
            "membership_tier_id": {"fields": {"display_name": {}}},
            "points_balance": {},
            # read from the RFM score table: one query for the page
            "rfm_segment": {},
        }

        def queries(limit):
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            self.env["res.partner"].with_user(self.user).web_search_read(
                [("visit_count", ">", 0)], list_spec, limit=limit
            )
            return self.cr.sql_log_count - before

        for i in range(30):
            self._customer_with(1 + i % 3)
        queries(5)
        self.assertEqual(queries(5), queries(25))
