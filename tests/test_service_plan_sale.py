from datetime import date

from freezegun import freeze_time

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from .common import HousekeepingCase


@tagged("post_install", "-at_install")
class TestServicePlanSale(HousekeepingCase):
    """A service plan sold as a sale order line (issue 30): confirming the order
    creates the customer's plan once, its visits carry the order, cancelling the
    order archives the plan."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.hk_plan_horizon_weeks = 4
        cls.customer.tz = "Asia/Shanghai"
        cls.product = cls.env["product.product"].create(
            {"name": "每周保洁 · 4次", "type": "service", "list_price": 480.0}
        )
        cls.wednesday = cls.env["housekeeping.weekday"].search([("number", "=", 3)])
        cls.template = cls.env["housekeeping.service.plan.template"].create(
            {
                "name": "Weekly cleaning, 4 visits",
                "product_id": cls.product.id,
                "service_type_id": cls.service_hourly.id,
                "rhythm": "weekly",
                "time_start": 14.0,
                "duration": 2.0,
                "max_visits": 4,
            }
        )

    def _order(self, qty=1, price=480.0, **vals):
        return self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": self.product.id,
                            "product_uom_qty": qty,
                            "price_unit": price,
                            "tax_ids": [(5, 0, 0)],
                        },
                    )
                ],
                **vals,
            }
        )

    def _plans(self, order):
        return (
            self.env["housekeeping.service.plan"]
            .with_context(active_test=False)
            .search([("sale_order_id", "=", order.id)])
        )

    @freeze_time("2026-03-02 01:00:00")
    def test_confirm_creates_the_plan_and_its_visits(self):
        # delivery from Wednesday 4 March (Shanghai): the plan's weekday
        order = self._order(qty=2, commitment_date="2026-03-04 01:00:00")
        order.action_confirm()
        plan = self._plans(order)
        self.assertEqual(len(plan), 1)
        self.assertEqual(plan.partner_id, self.customer)
        self.assertEqual(plan.weekday_ids, self.wednesday)
        self.assertEqual(plan.date_start, date(2026, 3, 4))
        self.assertEqual(plan.max_visits, 8, "4 visits per unit, 2 units")
        self.assertEqual(plan.amount, 120.0, "960 for 8 visits")
        self.assertEqual(plan.sale_line_id, order.order_line)
        visits = plan.visit_ids.sorted("date")
        self.assertEqual(
            [str(d) for d in visits.mapped("plan_occurrence")],
            ["2026-03-04", "2026-03-11", "2026-03-18", "2026-03-25"],
        )
        self.assertEqual(visits.sale_order_id, order)
        self.assertEqual(order.hk_visit_ids, visits, "the order shows the plan's visits")
        # no visit per unit besides (the product is no service's)
        self.assertEqual(order.hk_visit_count, 4)
        # once per line: confirming again creates nothing
        self.env["housekeeping.service.plan.template"]._orders_confirmed(order)
        self.assertEqual(len(self._plans(order)), 1)

        # the count is honoured across the plan's runs
        with freeze_time("2026-04-27 01:00:00"):
            self.env["housekeeping.engine.service_plan"]._cron()
        self.assertEqual(len(plan.visit_ids), 8)

        # cancelled: the plan is archived, its visits to come go
        order._action_cancel()
        self.assertFalse(plan.active)
        self.assertFalse(
            plan.visit_ids.filtered(lambda v: v.state in ("draft", "scheduled")),
        )

    @freeze_time("2026-03-02 01:00:00")
    def test_open_ended_plan_priced_per_visit(self):
        self.template.write({"max_visits": 0, "weekday_ids": [(6, 0, self.wednesday.ids)]})
        order = self._order(qty=1, price=150.0)
        order.action_confirm()
        plan = self._plans(order)
        self.assertEqual(plan.max_visits, 0)
        self.assertEqual(plan.amount, 150.0)
        self.assertEqual(plan.date_start, date(2026, 3, 2))
        self.assertEqual(plan.weekday_ids, self.wednesday)
        self.assertEqual(len(plan.visit_ids), 4)

    def test_a_service_product_cannot_be_an_offer(self):
        """A service's product makes a visit per unit sold: no offer (a plan, a
        package, a top-up) may sell it too, and the refusal names the offer."""
        service_product = self.service_hourly.product_id
        self.assertTrue(service_product)
        with self.assertRaisesRegex(ValidationError, "Service Plan Offer"):
            self.template.copy({"product_id": service_product.id})
        with self.assertRaisesRegex(ValidationError, "Visit Package Offer"):
            self.env["housekeeping.package.template"].create(
                {
                    "name": "Ten visits",
                    "product_id": service_product.id,
                    "service_type_id": self.service_hourly.id,
                }
            )
        with self.assertRaisesRegex(ValidationError, "Prepaid Top-up Offer"):
            self.env["housekeeping.prepaid.offer"].create(
                {"name": "Top up 1000", "product_id": service_product.id, "amount": 1000.0}
            )

    def test_offers_by_company_and_role(self):
        other = self.env["res.company"].create({"name": "Plan Branch"})
        branch_user = self._company_user("hk_plan_branch", other)
        Template = self.env["housekeeping.service.plan.template"]
        self.assertFalse(Template.with_user(branch_user).search([("id", "=", self.template.id)]))
        self.assertEqual(Template.with_user(self.user).search([]), self.template)
        with self.assertRaises(AccessError):
            self.template.with_user(self.user).write({"max_visits": 1})
        self.template.with_user(self.manager).write({"max_visits": 6})
        self.assertEqual(self.template.max_visits, 6)
