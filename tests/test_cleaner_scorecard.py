from freezegun import freeze_time

from odoo.tests import tagged

from .common import HousekeepingCase


@tagged("post_install", "-at_install")
@freeze_time("2026-03-20 04:00:00")
class TestCleanerScorecard(HousekeepingCase):
    """The cleaner scorecard (员工绩效) against figures computed by hand."""

    def test_scorecard_per_cleaner_and_month(self):
        co = self.env["res.company"].create({"name": "Score Co", "hk_complaint_score": 1})
        self.env.user.company_ids |= co
        a = self.env["hr.employee"].create({"name": "A", "company_id": co.id})
        b = self.env["hr.employee"].create({"name": "B", "company_id": co.id})
        c1, c2, c3 = self.env["res.partner"].create(
            [{"name": f"c{i}", "company_id": co.id, "tz": "Asia/Shanghai"} for i in (1, 2, 3)]
        )

        def visit(partner, day, cleaner, hours, amount):
            return self._visit(
                partner=partner,
                date=f"2026-{day} 06:00:00",
                employee=cleaner,
                amount=amount,
                duration=hours,
                company_id=co.id,
            )

        visit(c1, "02-02", a, 2.0, 100)
        v_c1 = visit(c1, "02-16", a, 3.0, 150)
        v_c2 = visit(c2, "02-10", a, 2.0, 200)
        v_c3 = visit(c3, "02-12", b, 2.0, 80)
        visit(c1, "03-01", b, 2.0, 100)  # c1 rebooked within her interval (13.5 days)
        v_c1.action_record_rating(5)
        v_c2.action_record_rating(3)
        complaint = self.env["housekeeping.complaint"]
        complaint.create(
            {
                "name": "Late",
                "partner_id": c2.id,
                "visit_id": v_c2.id,
                "severity": "high",
                "company_id": co.id,
            }
        )
        complaint.create(
            {
                "name": "Dust",
                "partner_id": c3.id,
                "visit_id": v_c3.id,
                "employee_id": b.id,
                "severity": "low",
                "company_id": co.id,
            }
        )
        # c2 churned 33 days after A's visit: lost after A's visit
        self.env["housekeeping.stage.log"].create(
            {
                "partner_id": c2.id,
                "from_stage": "new",
                "to_stage": "churned",
                "date": "2026-03-15",
                "trigger": "cron",
                "company_id": co.id,
            }
        )
        c1.preferred_employee_ids = a
        c3.blocked_employee_ids = a
        # customers served, rebooked and lost: computed by the nightly refresh
        self.env["housekeeping.report.cleaner.customers"]._cron_refresh()
        self.env.flush_all()
        rows = self.env["housekeeping.report.cleaner"].search([("company_id", "=", co.id)])
        got = {
            (r.employee_id.name, str(r.month)): (
                r.visit_count,
                r.hours,
                r.revenue,
                r.rated_count,
                r.rating_avg,
                r.complaint_count,
                r.complaint_serious_count,
                r.customer_count,
                r.rebooked_count,
                r.rebooking_rate,
                r.lost_count,
                r.preferred_by_count,
                r.blocked_by_count,
            )
            for r in rows
        }
        self.assertEqual(
            got,
            {
                ("A", "2026-02-01"): (3, 7.0, 450.0, 2, 4.0, 1, 1, 2, 1, 50.0, 1, 1, 1),
                ("B", "2026-02-01"): (1, 2.0, 80.0, 0, 0.0, 1, 0, 1, 0, 0.0, 0, 0, 0),
                ("B", "2026-03-01"): (1, 2.0, 100.0, 0, 0.0, 0, 0, 1, 0, 0.0, 0, 0, 0),
            },
        )
        # the employee form's counts and its scorecard button
        self.assertEqual((a.hk_preferred_by_count, a.hk_blocked_by_count), (1, 1))
        action = a.action_hk_open_scorecard()
        self.assertEqual(action["domain"], [("employee_id", "=", a.id)])
        # the pivot groups by cleaner
        groups = self.env["housekeeping.report.cleaner"]._read_group(
            [("company_id", "=", co.id)], ["employee_id"], ["visit_count:sum", "revenue:sum"]
        )
        self.assertEqual(
            {emp.name: (count, revenue) for emp, count, revenue in groups},
            {"A": (3, 450.0), "B": (2, 180.0)},
        )

    def test_dashboard_ranks_the_cleaners_of_the_period(self):
        """The store manager's dashboard ranks the period's cleaners: without
        complaints first, then by average rating, then by visits."""
        co = self.env["res.company"].create({"name": "Rank Co"})
        self.env.user.company_ids |= co
        a, b, c = self.env["hr.employee"].create(
            [{"name": name, "company_id": co.id} for name in ("A", "B", "C")]
        )
        customer = self.env["res.partner"].create({"name": "Ranked", "company_id": co.id})

        def visit(day, cleaner, amount, score=None):
            done = self._visit(
                partner=customer,
                date=f"2026-03-{day} 06:00:00",
                employee=cleaner,
                amount=amount,
                company_id=co.id,
            )
            if score:
                done.action_record_rating(score)
            return done

        visit("05", a, 100, 5)
        visit("10", a, 100, 4)
        visit("12", b, 80, 5)
        complained = visit("15", c, 300, 5)
        visit("02", c, 300)
        # last month: not this period's
        self._visit(
            partner=customer, date="2026-02-20 06:00:00", employee=b, amount=999, company_id=co.id
        )
        self.env["housekeeping.complaint"].create(
            {
                "name": "Broken vase",
                "partner_id": customer.id,
                "visit_id": complained.id,
                "severity": "high",
                "company_id": co.id,
            }
        )
        data = self.env["housekeeping.dashboard"].get_dashboard_data("month", [co.id])
        self.assertEqual(
            [
                (r["name"], r["visits"], r["revenue"], r["rating"], r["complaints"])
                for r in data["cleaners"]["rows"]
            ],
            [("B", 1, 80.0, 5.0, 0), ("A", 2, 200.0, 4.5, 0), ("C", 2, 600.0, 5.0, 1)],
        )
