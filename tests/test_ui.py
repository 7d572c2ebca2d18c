from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestUi(HttpCase):
    def test_partner_form_records_a_visit(self):
        """A service agent opens a customer, records a visit and completes it."""
        new_test_user(
            self.env,
            login="hk_tour_agent",
            groups="housekeeping_membership.group_membership_user",
            name="Tour Agent",
        )
        partner = self.env["res.partner"].create({"name": "Tour Customer"})
        self.start_tour(
            f"/odoo/action-housekeeping_membership.res_partner_action_customers/{partner.id}",
            "hk_partner_visit_tour",
            login="hk_tour_agent",
        )
        visit = partner.visit_ids
        self.assertEqual(len(visit), 1)
        self.assertEqual(
            visit.service_type_id, self.env.ref("housekeeping_membership.service_type_deep")
        )
        self.assertEqual(visit.amount, 388)
        self.assertEqual(visit.state, "done")
        self.assertEqual(partner.visit_count, 1)
