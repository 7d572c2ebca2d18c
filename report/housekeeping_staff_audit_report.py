from odoo import fields, models, tools
from odoo.tools import SQL

AUDIT_KINDS = [
    ("adjustment", "Points Adjustment"),
    ("tier", "Manual Tier Change"),
    ("stage", "Manual Stage Change"),
    ("prepaid_topup", "Prepaid Top-up"),
    ("prepaid_refund", "Prepaid Refund"),
    ("prepaid_correction", "Prepaid Correction"),
]


class HousekeepingReportStaffAudit(models.Model):
    """What staff did by hand, per user and month: posted points adjustments (by
    their author), manual tier changes and manual stage changes (by the user who
    made them). One row per action, so that any grouping (user, month, kind,
    customer) counts right; ``kind`` tells them apart."""

    _name = "housekeeping.report.staff.audit"
    _description = "Staff Audit"
    _auto = False
    _order = "month desc, user_id, kind"
    _rec_name = "user_id"

    kind = fields.Selection(AUDIT_KINDS, readonly=True)
    user_id = fields.Many2one("res.users", readonly=True)
    month = fields.Date(readonly=True, help="First day of the month of the action.")
    date = fields.Date(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    count = fields.Integer(string="Actions", readonly=True, aggregator="sum")
    points = fields.Integer(
        readonly=True, aggregator="sum", help="Points adjusted (credits less debits)."
    )
    points_abs = fields.Integer(
        string="Points Moved",
        readonly=True,
        aggregator="sum",
        help="Points adjusted, credits and debits added up.",
    )
    approved = fields.Boolean(
        string="Approved by a Manager",
        readonly=True,
        help="A points adjustment posted after a manager's approval.",
    )
    amount = fields.Float(
        string="Prepaid Amount",
        readonly=True,
        aggregator="sum",
        help="Money moved on the prepaid balance (top-ups, refunds, corrections).",
    )

    def _query(self):
        return SQL(
            """
            SELECT a.id * 4 AS id, 'adjustment' AS kind, a.requested_by_id AS user_id,
                   date_trunc('month', a.posted_date)::date AS month, a.posted_date AS date,
                   a.company_id, a.partner_id, 1 AS count, a.points,
                   abs(a.points) AS points_abs, a.approved_by_id IS NOT NULL AS approved,
                   0.0 AS amount
              FROM housekeeping_points_adjustment a
             WHERE a.state = 'posted'
            UNION ALL
            SELECT l.id * 4 + 1, 'tier', l.create_uid, date_trunc('month', l.date)::date, l.date,
                   l.company_id, l.partner_id, 1, 0, 0, FALSE, 0.0
              FROM housekeeping_tier_log l
             WHERE l.trigger = 'manual'
            UNION ALL
            SELECT s.id * 4 + 2, 'stage', s.create_uid, date_trunc('month', s.date)::date, s.date,
                   s.company_id, s.partner_id, 1, 0, 0, FALSE, 0.0
              FROM housekeeping_stage_log s
             WHERE s.trigger = 'manual'
            UNION ALL
            -- prepaid balances: top-ups, refunds and manual corrections (by who did them)
            SELECT e.id * 4 + 3, 'prepaid_' || e.entry_type, e.user_id,
                   date_trunc('month', e.date)::date, e.date::date, e.company_id, e.partner_id,
                   1, 0, 0, FALSE, e.amount::float
              FROM housekeeping_prepaid_entry e
             WHERE e.entry_type IN ('topup', 'refund', 'correction')
            """
        )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._query())
        )
