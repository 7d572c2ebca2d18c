from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL


class HousekeepingPointsLiability(models.Model):
    """Outstanding points per company and their value in money (the liability):
    each point at what points are worth when redeemed (``housekeeping.reward.
    _hk_point_values``: the catalog's coupons and free services, else the company's
    *Value of a Point*)."""

    _name = "housekeeping.points.liability"
    _description = "Outstanding Points"
    _auto = False
    _order = "company_id"

    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    customer_count = fields.Integer(string="Customers", readonly=True)
    points = fields.Integer(string="Outstanding Points", readonly=True)
    point_value = fields.Float(
        string="Value per Point",
        readonly=True,
        digits=(12, 4),
        aggregator=None,
        help="What a point is worth when redeemed: the median value per point of the "
        "active coupons and free services of the rewards catalog, else the company's "
        "Value of a Point setting.",
    )
    value = fields.Monetary(readonly=True)

    @property
    def _table_query(self):
        values = self.env["housekeeping.reward"]._hk_point_values(
            self.env["res.company"].sudo().search([])
        )
        return SQL(
            """
            SELECT b.company_id AS id, b.company_id,
                   count(*) FILTER (WHERE b.balance > 0) AS customer_count,
                   sum(b.balance)::int AS points, pv.value AS point_value,
                   sum(b.balance) * pv.value AS value
              FROM (SELECT company_id, partner_id, sum(points) AS balance
                      FROM housekeeping_points_entry GROUP BY company_id, partner_id) b
              JOIN unnest(%s::int4[], %s::numeric[]) AS pv(company_id, value)
                ON pv.company_id = b.company_id
             GROUP BY b.company_id, pv.value
            """,
            list(values),
            list(values.values()),
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
