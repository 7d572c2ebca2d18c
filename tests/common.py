from decimal import Decimal
from unittest.mock import patch

from odoo.tests import TransactionCase, new_test_user


def read_counted(env, report, groupby, aggregates, domain=(), per_row=False, digits=9):
    """The grouped read of ``report`` (a ``housekeeping.report.counted``):
    ``({groups: aggregates}, served)``, records as ids and amounts rounded to
    ``digits``; ``served`` says whether its model of counts answered. With
    ``per_row``, a condition on the customer (every row has one) makes it read
    the same rows one by one."""
    env.flush_all()
    env.invalidate_all()
    Report = env[report]
    Counts = type(env[Report._hk_counts_model])
    domain = list(domain)
    if per_row:
        domain.append(("partner_id", "!=", False))
    with patch.object(Counts, "_read_group", autospec=True, side_effect=Counts._read_group) as spy:
        rows = Report._read_group(domain, groupby, aggregates)
    result = {}
    for row in rows:
        values = tuple(
            v.id
            if hasattr(v, "_name")
            else round(float(v), digits)
            if isinstance(v, (float, Decimal))
            else v
            for v in row
        )
        result[values[: len(groupby)]] = values[len(groupby) :]
    return result, spy.called


class HousekeepingCase(TransactionCase):
    """Fixtures shared by the addon's tests; no demo data is used."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True, mail_notrack=True))
        cls.company = cls.env.company
        cls.company.write({"country_id": cls.env.ref("base.cn").id})
        cls.service_hourly = cls.env.ref("housekeeping_membership.service_type_hourly")
        cls.service_deep = cls.env.ref("housekeeping_membership.service_type_deep")
        cls.service_appliance = cls.env.ref("housekeeping_membership.service_type_appliance")
        cls.cleaner = cls.env["hr.employee"].create({"name": "Cleaner Li"})
        cls.cleaner_2 = cls.env["hr.employee"].create({"name": "Cleaner Wang"})
        cls.user = new_test_user(
            cls.env,
            login="hk_user",
            groups="housekeeping_membership.group_membership_user",
            name="Agent Zhang",
        )
        cls.manager = new_test_user(
            cls.env,
            login="hk_manager",
            groups="housekeeping_membership.group_membership_manager,base.group_system",
            name="Manager Chen",
        )
        cls.customer = cls.env["res.partner"].create(
            {"name": "Customer Wu", "email": "wu@example.com"}
        )

    @classmethod
    def _company_user(cls, login, company, group="housekeeping_membership.group_membership_user"):
        """A back-office user of ``company`` only (multi-company tests)."""
        return new_test_user(
            cls.env,
            login=login,
            groups=group,
            company_id=company.id,
            company_ids=[(6, 0, company.ids)],
        )

    @classmethod
    def _visit(cls, partner=None, date="2026-01-10 09:00:00", amount=100.0, state="done", **kw):
        """Create a visit; ``state='done'`` goes through action_done()."""
        vals = {
            "partner_id": (partner or cls.customer).id,
            "service_type_id": kw.pop("service_type", cls.service_hourly).id,
            "date": date,
            "amount": amount,
            "employee_id": kw.pop("employee", cls.cleaner).id,
            "payment_method": "wechat",
            **kw,
        }
        visit = cls.env["housekeeping.visit"].create(vals)
        if state == "done":
            visit.action_done()
        elif state == "scheduled":
            visit.action_schedule()
        elif state == "cancelled":
            visit.action_cancel()
        return visit

    @classmethod
    def _draft_visits(cls, partners, date, amount=100.0, service_type=None):
        """One draft visit per partner, to complete them together as one batch."""
        return cls.env["housekeeping.visit"].create(
            [
                {
                    "partner_id": partner.id,
                    "service_type_id": (service_type or cls.service_hourly).id,
                    "date": date,
                    "amount": amount,
                }
                for partner in partners
            ]
        )
