from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import HousekeepingCase


@tagged("post_install", "-at_install")
class TestVisit(HousekeepingCase):
    def test_state_flow(self):
        visit = self._visit(state="draft", date="2026-01-05 09:00:00")
        self.assertTrue(visit.name.startswith("V2026/") or visit.name.startswith("V"))
        self.assertEqual(visit.state, "draft")
        visit.action_schedule()
        self.assertEqual(visit.state, "scheduled")
        with freeze_time("2026-01-05 12:00:00"):
            visit.action_done()
        self.assertEqual(visit.state, "done")
        self.assertEqual(self.customer.visit_count, 1)
        with self.assertRaises(UserError):
            visit.action_done()
        visit.action_cancel()
        self.assertEqual(visit.state, "cancelled")
        self.assertEqual(self.customer.visit_count, 0)
        visit.action_draft()
        self.assertEqual(visit.state, "draft")

    def test_done_without_date_takes_now(self):
        visit = self._visit(state="draft", date=False)
        with freeze_time("2026-04-01 10:00:00"):
            visit.action_done()
        self.assertEqual(str(visit.date), "2026-04-01 10:00:00")

    def test_done_visit_cannot_be_deleted(self):
        visit = self._visit()
        with self.assertRaises(UserError):
            visit.unlink()
        self.assertTrue(visit.exists())

    def test_user_can_work_visits(self):
        visit = (
            self.env["housekeeping.visit"]
            .with_user(self.user)
            .create(
                {
                    "partner_id": self.customer.id,
                    "service_type_id": self.service_hourly.id,
                    "date": "2026-01-05 09:00:00",
                    "amount": 120,
                }
            )
        )
        visit.action_done()
        self.assertEqual(visit.state, "done")


@tagged("post_install", "-at_install")
class TestVisitBadInput(HousekeepingCase):
    def _count(self):
        return self.env["housekeeping.visit"].search_count([])

    def test_negative_amount(self):
        before = self._count()
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.cr.savepoint():
            self._visit(amount=-10, state="draft")
        self.assertEqual(self._count(), before)

    def test_done_visit_without_date_on_create(self):
        before = self._count()
        with self.assertRaisesRegex(ValidationError, "needs a date"), self.cr.savepoint():
            self.env["housekeeping.visit"].create(
                {
                    "partner_id": self.customer.id,
                    "service_type_id": self.service_hourly.id,
                    "state": "done",
                }
            )
        self.assertEqual(self._count(), before)

    def test_done_visit_without_customer(self):
        before = self._count()
        with (
            self.assertRaises(IntegrityError),
            mute_logger("odoo.sql_db"),
            self.cr.savepoint(),
        ):
            self.env["housekeeping.visit"].create(
                {
                    "service_type_id": self.service_hourly.id,
                    "date": "2026-01-01 10:00:00",
                    "state": "done",
                }
            )
        self.assertEqual(self._count(), before)

    def test_done_visit_in_future(self):
        visit = self._visit(state="scheduled", date="2026-05-01 09:00:00")
        with freeze_time("2026-04-01 09:00:00"):
            with self.assertRaisesRegex(ValidationError, "future"):
                visit.action_done()
        self.assertEqual(visit.state, "scheduled")
        self.assertEqual(self.customer.visit_count, 0)

    def test_visit_in_other_company_than_customer(self):
        other_company = self.env["res.company"].create({"name": "Other Store"})
        self.customer.company_id = self.company
        before = self._count()
        with self.assertRaisesRegex(ValidationError, "belongs to"), self.cr.savepoint():
            self.env["housekeeping.visit"].create(
                {
                    "partner_id": self.customer.id,
                    "service_type_id": self.service_hourly.id,
                    "company_id": other_company.id,
                    "date": "2026-01-01 10:00:00",
                }
            )
        self.assertEqual(self._count(), before)

    def test_implausible_dates(self):
        with self.assertRaises(ValidationError), self.cr.savepoint():
            self._visit(date="1990-01-01 10:00:00", state="draft")
        with self.assertRaises(ValidationError), self.cr.savepoint():
            self._visit(date="2099-01-01 10:00:00", state="draft")

    def test_amount_write_on_visit_checked(self):
        visit = self._visit(amount=100, state="draft")
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.cr.savepoint():
            visit.amount = -1
            visit.flush_recordset()
        visit.invalidate_recordset()
        self.assertEqual(visit.amount, 100)
