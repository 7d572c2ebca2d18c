from odoo import fields, models
from odoo.tools import SQL

from ..models.lifecycle_rules import LIFECYCLE_STAGES

FUNNEL_STEPS = [
    ("1_potential", "Potential"),
    ("2_new", "New"),
    ("3_loyal", "Loyal"),
]


class HousekeepingReportLifecycleTransition(models.Model):
    """Lifecycle transitions (one row per stage change): transition matrix
    (from × to), churn by reason, time spent in the previous stage."""

    _name = "housekeeping.report.lifecycle.transition"
    _description = "Lifecycle Transitions Analysis"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "partner_id"

    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    from_stage = fields.Selection(LIFECYCLE_STAGES, readonly=True)
    to_stage = fields.Selection(LIFECYCLE_STAGES, readonly=True)
    date = fields.Date(readonly=True)
    trigger = fields.Selection(
        [("cron", "Scheduled Evaluation"), ("visit", "Visit"), ("manual", "Manual")],
        readonly=True,
    )
    reason = fields.Char(readonly=True)
    # (a label of its own: two fields of a model may not share one)
    churn_reason_id = fields.Many2one(
        "housekeeping.churn.reason", string="Churn Reason Given", readonly=True
    )
    churn_reason = fields.Char(
        readonly=True,
        help='The churn reason of a move to at risk or churned, "Not confirmed" when '
        'none was given; "Not applicable" for the other moves.',
    )
    company_id = fields.Many2one("res.company", readonly=True)
    transition_count = fields.Integer(string="Transitions", readonly=True, aggregator="sum")
    days_in_previous_stage = fields.Float(
        string="Days in Previous Stage", readonly=True, aggregator="avg"
    )

    @property
    def _table_query(self):
        # a reason in the user's language, never empty (grouped, an empty
        # many2one reads "None")
        return SQL(
            """
            SELECT l.id, l.partner_id, l.from_stage, l.to_stage, l.date, l.trigger,
                   l.reason, l.churn_reason_id,
                   CASE WHEN l.to_stage IN ('at_risk', 'churned')
                        THEN COALESCE(r.name->>%s, r.name->>'en_US', %s)
                        ELSE %s END AS churn_reason,
                   l.company_id, 1 AS transition_count, l.days_in_previous_stage
              FROM housekeeping_stage_log l
              LEFT JOIN housekeeping_churn_reason r ON r.id = l.churn_reason_id
            """,
            self.env.lang or "en_US",
            self.env._("Not confirmed"),
            self.env._("Not applicable"),
        )


class HousekeepingReportLifecycleSnapshot(models.Model):
    """Customers per stage at the end of each month, derived from the stage log.

    The stage of a customer at a month end is the target stage of their last log
    row up to that day. Computed as running totals of monthly deltas (+1 into the
    month-end stage, -1 out of the previous month-end stage), so the cost is one
    pass over the log whatever the number of months.
    """

    _name = "housekeeping.report.lifecycle.snapshot"
    _description = "Customers per Stage over Time"
    _auto = False
    _order = "date desc, lifecycle_stage"
    _rec_name = "date"

    date = fields.Date(string="Month", readonly=True, help="Stages at the end of this month.")
    lifecycle_stage = fields.Selection(LIFECYCLE_STAGES, string="Stage", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    customer_count = fields.Integer(string="Customers", readonly=True, aggregator="sum")

    @property
    def _table_query(self):
        today = fields.Date.context_today(self)
        return SQL(
            """
            WITH monthly AS (
                SELECT DISTINCT ON (l.partner_id, date_trunc('month', l.date))
                       l.partner_id, date_trunc('month', l.date)::date AS month,
                       l.to_stage AS stage, l.company_id
                  FROM housekeeping_stage_log l
                 WHERE l.date <= %(today)s
                 ORDER BY l.partner_id, date_trunc('month', l.date), l.date DESC, l.id DESC
            ), moves AS (
                SELECT month, stage, company_id,
                       lag(stage) OVER w AS prev_stage, lag(company_id) OVER w AS prev_company
                  FROM monthly
                WINDOW w AS (PARTITION BY partner_id ORDER BY month)
            ), deltas AS (
                SELECT month, stage, company_id, sum(delta) AS delta
                  FROM (SELECT month, stage, company_id, 1 AS delta FROM moves
                        UNION ALL
                        SELECT month, prev_stage, prev_company, -1 FROM moves
                         WHERE prev_stage IS NOT NULL) d
                 GROUP BY month, stage, company_id
            ), months AS (
                SELECT generate_series(min(month), date_trunc('month', %(today)s::date),
                                       interval '1 month')::date AS month
                  FROM deltas
            ), series AS (
                SELECT m.month, k.stage, k.company_id,
                       sum(COALESCE(d.delta, 0)) OVER (
                           PARTITION BY k.stage, k.company_id ORDER BY m.month) AS customers
                  FROM months m
                 CROSS JOIN (SELECT DISTINCT stage, company_id FROM deltas) k
                  LEFT JOIN deltas d ON d.month = m.month AND d.stage = k.stage
                                    AND d.company_id IS NOT DISTINCT FROM k.company_id
            )
            SELECT row_number() OVER (ORDER BY month, company_id, stage) AS id,
                   month AS date, stage AS lifecycle_stage, company_id,
                   customers::int AS customer_count
              FROM series
             WHERE customers <> 0
            """,
            today=today,
        )


class HousekeepingReportLifecycleFunnel(models.Model):
    """Lifecycle funnel: customers who reached potential, new (a first visit) and
    loyal at least once."""

    _name = "housekeeping.report.lifecycle.funnel"
    _description = "Lifecycle Funnel"
    _auto = False
    _order = "step, partner_id"
    _rec_name = "partner_id"

    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    step = fields.Selection(FUNNEL_STEPS, readonly=True)
    date = fields.Date(string="First Seen", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    customer_count = fields.Integer(string="Customers", readonly=True, aggregator="sum")

    @property
    def _table_query(self):
        return SQL(
            """
            WITH reached AS (
                SELECT l.partner_id, min(l.date) AS date,
                       bool_or(l.to_stage != 'potential'
                               OR l.from_stage IN ('new', 'loyal', 'at_risk', 'churned'))
                           AS reached_new,
                       bool_or(l.to_stage = 'loyal' OR l.from_stage = 'loyal') AS reached_loyal
                  FROM housekeeping_stage_log l
                 GROUP BY l.partner_id
            )
            SELECT r.partner_id * 10 + s.rank AS id, r.partner_id, s.step, r.date,
                   p.company_id, 1 AS customer_count
              FROM reached r
              JOIN res_partner p ON p.id = r.partner_id AND p.active
             CROSS JOIN LATERAL (VALUES (1, '1_potential', true),
                                        (2, '2_new', r.reached_new),
                                        (3, '3_loyal', r.reached_loyal)) s(rank, step, ok)
             WHERE s.ok
            """
        )
