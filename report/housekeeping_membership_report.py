from odoo import api, fields, models
from odoo.fields import Domain
from odoo.orm.domains import DomainAnd, DomainCondition
from odoo.tools import SQL


class HousekeepingReportMembershipFields(models.AbstractModel):
    """The figures of the membership analysis: per member or tier change
    (``housekeeping.report.membership``), or counted per tier and company
    (``housekeeping.report.membership.tier``)."""

    _name = "housekeeping.report.membership.fields"
    _description = "Membership Figures"

    line_type = fields.Selection(
        [("member", "Member"), ("change", "Tier Change")], string="Type", readonly=True
    )
    tier_id = fields.Many2one(
        "housekeeping.tier",
        readonly=True,
        help="Current tier of a member; tier reached for a change.",
    )
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    member_count = fields.Integer(string="Members", readonly=True, aggregator="sum")
    spend = fields.Monetary(string="Total Spent", readonly=True, aggregator="sum")
    average_spend = fields.Monetary(readonly=True, aggregator="avg")
    upgrade_count = fields.Integer(string="Upgrades", readonly=True, aggregator="sum")
    downgrade_count = fields.Integer(string="Downgrades", readonly=True, aggregator="sum")


class HousekeepingReportMembership(models.Model):
    """Membership analysis: one row per member (tier, spend) and one row per tier
    change (upgrades and downgrades by month), told apart by ``line_type``.
    Grouped reads of the members that do not look at the customers are
    answered by the members counted per tier and company
    (``housekeeping.report.membership.tier``): a few rows instead of every
    member (1M at 1M customers: 0.17–0.29 s a pivot alone, seconds under load;
    0.003 s from the counts)."""

    _name = "housekeeping.report.membership"
    _inherit = ["housekeeping.report.membership.fields", "housekeeping.report.counted"]
    _description = "Membership Analysis"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "partner_id"

    _hk_counts_model = "housekeeping.report.membership.tier"
    _hk_counts_fields = frozenset({"line_type", "tier_id", "company_id", "currency_id"})
    _hk_counts_aggregates = {
        "__count": "member_count:sum",
        "member_count:sum": "member_count:sum",
        "spend:sum": "spend:sum",
        "spend:sum_currency": "spend:sum_currency",
        "average_spend:avg": "average_spend:avg",
        # (a member's average is their spend)
        "average_spend:sum_currency": "spend:sum_currency",
        "upgrade_count:sum": "upgrade_count:sum",
        "downgrade_count:sum": "downgrade_count:sum",
    }

    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    from_tier_id = fields.Many2one("housekeeping.tier", string="Previous Tier", readonly=True)
    direction = fields.Selection([("up", "Upgrade"), ("down", "Downgrade")], readonly=True)
    date = fields.Date(readonly=True, help="Date of the tier change.")

    @api.model
    def _hk_counts_domain(self, domain):
        # the counts hold the members: only a read of the members alone
        domain = Domain(domain)
        conditions = domain.children if isinstance(domain, DomainAnd) else (domain,)
        for condition in conditions:
            if (
                isinstance(condition, DomainCondition)
                and condition.field_expr == "line_type"
                and (
                    (condition.operator == "=" and condition.value == "member")
                    or (condition.operator == "in" and list(condition.value) == ["member"])
                )
            ):
                return domain
        return None

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


class HousekeepingReportMembershipTier(models.Model):
    """The members per tier and company whose settings apply to them, with their
    lifetime spend: the sum of the counted rows
    (``housekeeping.tier.member.count``), always current, a few rows whatever
    the number of customers. What the membership analysis hands its grouped
    reads of the members to. The average spend is the spend over the members
    (``_read_group_select``), not an average of the rows."""

    _name = "housekeeping.report.membership.tier"
    _inherit = ["housekeeping.report.membership.fields"]
    _description = "Members per Tier"
    _auto = False
    _order = "tier_id, company_id"
    _rec_name = "tier_id"

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        if aggregate_spec == "average_spend:avg":
            return SQL(
                "SUM(%s) / NULLIF(SUM(%s), 0)",
                SQL.identifier(self._table, "spend"),
                SQL.identifier(self._table, "member_count"),
            )
        return super()._read_group_select(aggregate_spec, query)

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT row_number() OVER (ORDER BY m.tier_id, m.company_id) AS id,
                   'member' AS line_type, m.tier_id, m.company_id, c.currency_id,
                   m.member_count::int AS member_count, m.spend,
                   m.spend / m.member_count AS average_spend,
                   0 AS upgrade_count, 0 AS downgrade_count
              FROM (%s) m
              JOIN res_company c ON c.id = m.company_id
            """,
            self.env["housekeeping.tier.member.count"]._members_sql(
                self.env["res.partner"]._hk_main_company_id()
            ),
        )
