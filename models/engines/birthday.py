from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..birthday import birthday_days, birthday_sql


class HousekeepingEngineBirthday(models.AbstractModel):
    """Birthdays (daily, ``ir_cron_birthday``): the birthday bonus points, then
    the birthday journeys (the greeting, with the birthday coupon of the
    customer's tier when tiers are installed), in this order, in one run. The
    points are credited through the ledger (``housekeeping.points.entry``), the
    journeys sent by ``housekeeping.journey``: no customer field of its own."""

    _name = "housekeeping.engine.birthday"
    _inherit = ["housekeeping.engine"]
    _description = "Birthday Engine"

    _engine_key = "birthday"

    @api.model
    def _run(self):
        """Daily: the birthday points, then the birthday journeys. Returns the
        number of birthday points entries written."""
        result = self._birthday_points()
        self._birthday_journeys()
        return result

    @api.model
    def _birthday_points(self):
        """Birthday bonus points to customers whose birthday is today, or on a
        day since the last completed run that the scheduler missed (a week at most;
        29 February counts on 28 February in other years), once a year; one query
        and one INSERT for the population."""
        today = fields.Date.context_today(self)
        main = self.env["res.partner"]._hk_main_company()
        since = main.hk_birthday_points_date
        days, years = birthday_days(since, today)
        born, birth_year = birthday_sql("p", days, years)
        self.env["res.partner"].flush_model(["birthday", "active", "visit_count", "company_id"])
        self.env["res.company"].flush_model(["hk_birthday_points", "hk_points_validity_months"])
        self.env.cr.execute(
            SQL(
                """
            SELECT p.id, c.id, c.hk_birthday_points, %(year)s
              FROM res_partner p
              JOIN res_company c ON c.id = %(company)s
             WHERE p.active AND p.visit_count > 0 AND c.hk_birthday_points > 0 AND %(born)s
            """,
                company=self._settings_company_sql(),
                year=birth_year,
                born=born,
            )
        )
        rows = self.env.cr.fetchall()
        months = dict(
            self.env["res.company"]
            .browse({r[1] for r in rows})
            .mapped(lambda c: (c.id, c.hk_points_validity_months))
        )
        entries = (
            self.env["housekeeping.points.entry"]
            .sudo()
            ._post_credits(
                [
                    {
                        "partner_id": pid,
                        "company_id": cid,
                        "points": points,
                        "entry_type": "earn",
                        "reason_code": "birthday",
                        "date": today,
                        "expiry_date": today + relativedelta(months=months[cid])
                        if months[cid]
                        else None,
                        "source_key": f"birthday:{year}",
                    }
                    for pid, cid, points, year in rows
                ]
            )
        )
        if not since or since < today:
            main.hk_birthday_points_date = today
        return len(entries)

    @api.model
    def _birthday_journeys(self):
        """The birthday journeys: the greeting, with the birthday coupon of the
        customer's tier when tiers are installed (batches of the journeys' engine,
        position ``birthday_journeys``)."""
        today = fields.Date.context_today(self)
        journeys = self.env["housekeeping.journey"].search([("trigger", "=", "birthday")])
        self.env["housekeeping.engine.journey"]._run_journeys(
            journeys, today, engine="birthday_journeys"
        )
