from odoo.tests import tagged

from .common import HousekeepingCase


@tagged("post_install", "-at_install")
class TestSaleVisits(HousekeepingCase):
    def _order(self, qty=3, price=150.0, product=None, **vals):
        product = product or self.service_hourly.product_id
        return self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": product.id,
                            "product_uom_qty": qty,
                            "price_unit": price,
                            "tax_ids": [(5, 0, 0)],
                        },
                    )
                ],
                **vals,
            }
        )

    def test_confirm_creates_one_visit_per_unit(self):
        order = self._order(qty=3, price=150.0, commitment_date="2026-02-01 08:00:00")
        order.action_confirm()
        visits = order.hk_visit_ids
        self.assertEqual(len(visits), 3)
        self.assertEqual(set(visits.mapped("amount")), {150.0})
        self.assertEqual(set(visits.mapped("state")), {"scheduled"})
        self.assertEqual(visits.service_type_id, self.service_hourly)
        self.assertEqual(visits.partner_id, self.customer)
        self.assertEqual(order.hk_visit_count, 3)

    def test_delivery_date_in_a_reserved_slot_waits_for_an_agent(self):
        """An order whose delivery date falls in a slot reserved for priority tiers
        is confirmed all the same (it may be paid online); its visit waits in draft
        with an activity to reschedule it."""
        self.customer.tz = "Asia/Shanghai"
        self.company.write(
            {
                "hk_reserved_weekday_ids": [
                    (6, 0, self.env.ref("housekeeping_membership.weekday_6").ids)
                ],
                "hk_reserved_time_window": "morning",
            }
        )
        # Saturday 2026-04-11 09:00 in Shanghai
        order = self._order(qty=1, commitment_date="2026-04-11 01:00:00")
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        visit = order.hk_visit_ids
        self.assertEqual(visit.state, "draft")
        self.assertIn("Reschedule", visit.activity_ids.summary)
        self.assertIn("reserved for priority members", str(visit.activity_ids.note))

    def test_non_service_product_creates_nothing(self):
        product = self.env["product.product"].create(
            {"name": "Mop", "type": "consu", "list_price": 30}
        )
        order = self._order(qty=2, product=product)
        order.action_confirm()
        self.assertFalse(order.hk_visit_ids)

    def test_cancel_order_cancels_open_visits(self):
        order = self._order(qty=2)
        order.action_confirm()
        done, open_visit = order.hk_visit_ids
        done.date = "2026-01-05 09:00:00"
        done.action_done()
        order._action_cancel()
        self.assertEqual(done.state, "done")
        self.assertEqual(open_visit.state, "cancelled")

    def test_setting_disables_creation(self):
        self.company.hk_visits_from_sale = False
        order = self._order(qty=1)
        order.action_confirm()
        self.assertFalse(order.hk_visit_ids)
