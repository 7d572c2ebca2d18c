from odoo import fields, models
from odoo.tools import SQL


class HousekeepingReportMembership(models.Model):
    """Membership analysis: one row per member (tier, spend) and one row per tier
    change (upgrades and downgrades by month), told apart by ``line_type``."""

    _name = "housekeeping.report.membership"
    _description = "Membership Analysis"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "partner_id"

    line_type = fields.Selection(
        [("member", "Member"), ("change", "Tier Change")], string="Type", readonly=True
    )
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    tier_id = fields.Many2one(
        "housekeeping.tier",
        readonly=True,
        help="Current tier of a member; tier reached for a change.",
    )
    from_tier_id = fields.Many2one("housekeeping.tier", string="Previous Tier", readonly=True)
    direction = fields.Selection([("up", "Upgrade"), ("down", "Downgrade")], readonly=True)
    date = fields.Date(readonly=True, help="Date of the tier change.")
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    member_count = fields.Integer(string="Members", readonly=True, aggregator="sum")
    spend = fields.Monetary(string="Total Spent", readonly=True, aggregator="sum")
    average_spend = fields.Monetary(readonly=True, aggregator="avg")
    upgrade_count = fields.Integer(string="Upgrades", readonly=True, aggregator="sum")
    downgrade_count = fields.Integer(string="Downgrades", readonly=True, aggregator="sum")

    @property
    def _table_query(self):
        engine = self.env["housekeeping.engine"]
        return SQL(
            """
            SELECT p.id * 2 AS id, 'member' AS line_type, p.id AS partner_id,
                   p.membership_tier_id AS tier_id, NULL::int AS from_tier_id,
                   NULL AS direction, NULL::date AS date, %(company)s AS company_id,
                   c.currency_id, 1 AS member_count, p.total_spent AS spend,
                   p.total_spent AS average_spend, 0 AS upgrade_count, 0 AS downgrade_count
              FROM res_partner p
              -- (a LEFT JOIN on the company's key: PostgreSQL drops it when the
              -- currency is not read, and then estimates the members right, a
              -- hash aggregate instead of sorting them; the company always exists)
              LEFT JOIN res_company c ON c.id = %(company)s
             WHERE p.active AND p.membership_tier_id IS NOT NULL
            UNION ALL
            SELECT l.id * 2 + 1, 'change', l.partner_id, l.to_tier_id, l.from_tier_id,
                   l.direction, l.date, l.company_id, c.currency_id, 0, NULL, NULL,
                   (l.direction = 'up')::int, (l.direction = 'down')::int
              FROM housekeeping_tier_log l
              JOIN res_company c ON c.id = COALESCE(l.company_id, %(main)s)
            """,
            main=self.env["res.partner"]._hk_main_company_id(),
            company=engine._settings_company_sql("p"),
        )
