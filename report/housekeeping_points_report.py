from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL


class HousekeepingPointsLiability(models.Model):
    """Outstanding points per company and their value in money (the liability)."""

    _name = "housekeeping.points.liability"
    _description = "Outstanding Points"
    _auto = False
    _order = "company_id"

    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    customer_count = fields.Integer(string="Customers", readonly=True)
    points = fields.Integer(string="Outstanding Points", readonly=True)
    value = fields.Monetary(readonly=True)

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT e.company_id AS id, e.company_id, count(DISTINCT e.partner_id) AS customer_count,
                   sum(e.points)::int AS points, sum(e.points) * c.hk_point_value AS value
              FROM housekeeping_points_entry e
              JOIN res_company c ON c.id = e.company_id
             GROUP BY e.company_id, c.hk_point_value
            """
        )


class HousekeepingPointsStatement(models.TransientModel):
    """积分对账单: the movements of a customer's points over a period."""

    _name = "housekeeping.points.statement"
    _description = "Points Statement"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True)
    date_from = fields.Date(
        required=True, default=lambda self: fields.Date.context_today(self).replace(day=1)
    )
    date_to = fields.Date(required=True, default=fields.Date.context_today)

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for statement in self:
            if statement.date_from > statement.date_to:
                raise UserError(self.env._("The statement cannot end before it starts."))

    def _statement_data(self):
        """Opening balance, entries of the period, totals per type and closing
        balance, read from the ledger (three queries)."""
        self.ensure_one()
        Entry = self.env["housekeeping.points.entry"]
        domain = [("partner_id", "=", self.partner_id.id)]
        [(opening,)] = Entry._read_group(
            domain + [("date", "<", self.date_from)], [], ["points:sum"]
        )
        entries = Entry.search(
            domain + [("date", ">=", self.date_from), ("date", "<=", self.date_to)],
            order="date, id",
        )
        totals = dict(
            Entry._read_group(
                domain + [("date", ">=", self.date_from), ("date", "<=", self.date_to)],
                ["entry_type"],
                ["points:sum"],
            )
        )
        opening = opening or 0
        return {
            "opening": opening,
            "entries": entries,
            "totals": totals,
            "closing": opening + sum(totals.values()),
            "labels": dict(Entry._fields["entry_type"]._description_selection(self.env)),
            "reasons": dict(Entry._fields["reason_code"]._description_selection(self.env)),
        }

    def action_print(self):
        self.ensure_one()
        return self.env.ref("housekeeping_membership.action_report_points_statement").report_action(
            self
        )
