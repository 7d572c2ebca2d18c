from odoo import fields, models, tools
from odoo.tools import SQL


class HousekeepingReportPrepaidBalance(models.Model):
    """Outstanding prepaid balances (a liability): one row per customer's eWallet
    of a company's prepaid program, the principal and the bonus apart, with the
    bonus expiry and the last movement."""

    _name = "housekeeping.report.prepaid.balance"
    _description = "Outstanding Prepaid Balances"
    _auto = False
    _order = "balance desc"
    _rec_name = "partner_id"

    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    card_id = fields.Many2one("loyalty.card", string="eWallet", readonly=True)
    balance = fields.Float(readonly=True, aggregator="sum")
    principal = fields.Float(readonly=True, aggregator="sum")
    bonus = fields.Float(readonly=True, aggregator="sum")
    bonus_expiry = fields.Date(string="Bonus Expires", readonly=True)
    last_move = fields.Datetime(string="Last Movement", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
            CREATE OR REPLACE VIEW %s AS (
                SELECT c.id, c.id AS card_id, c.partner_id, rc.id AS company_id,
                       c.points AS balance,
                       c.points - LEAST(GREATEST(COALESCE(c.hk_bonus, 0), 0),
                                        GREATEST(c.points, 0)) AS principal,
                       LEAST(GREATEST(COALESCE(c.hk_bonus, 0), 0), GREATEST(c.points, 0)) AS bonus,
                       CASE WHEN c.hk_bonus > 0 THEN c.hk_bonus_expiry END AS bonus_expiry,
                       (SELECT max(h.create_date) FROM loyalty_history h
                         WHERE h.card_id = c.id) AS last_move
                  FROM loyalty_card c
                  JOIN res_company rc ON rc.hk_prepaid_program_id = c.program_id
                 WHERE c.active AND c.partner_id IS NOT NULL
            )
            """,
                SQL.identifier(self._table),
            )
        )
