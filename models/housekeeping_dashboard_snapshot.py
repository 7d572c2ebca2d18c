from odoo import api, fields, models
from odoo.tools import SQL

from .lifecycle_rules import FUNNEL_STEPS, LIFECYCLE_STAGES


class HousekeepingDashboardSnapshot(models.Model):
    """The *Membership Overview* figures that read the population, per company and
    day, as of the nightly run that wrote them (``housekeeping.engine.snapshot``,
    run by the nightly cohort refresh): each night adds (or, run again the same
    day, rewrites) that day's row of each company; earlier rows are never
    recomputed. The dashboard reads the latest rows (and the row of the day after
    the previous period for "at the end of the previous period"), a lookup
    whatever the population; without rows (a fresh install) it computes live.

    The visit KPIs keep their numerators and denominators, current and previous,
    so that the rates of several companies add up."""

    _name = "housekeeping.dashboard.snapshot"
    _description = "Membership Overview Snapshot"
    _order = "date desc, company_id"
    _rec_name = "date"

    date = fields.Date(required=True, readonly=True, help="Day of the nightly run.")
    company_id = fields.Many2one("res.company", required=True, readonly=True, ondelete="cascade")
    active_count = fields.Integer(
        string="Active Customers", readonly=True, help="A done visit in the last 90 days."
    )
    active_prev_count = fields.Integer(
        string="Active Before", readonly=True, help="A done visit in the 90 days before."
    )
    active_prev2_count = fields.Integer(
        string="Active Two Periods Before",
        readonly=True,
        help="A done visit in the 90 days before the previous 90.",
    )
    retained_count = fields.Integer(
        string="Retained", readonly=True, help="Active in the previous 90 days and the last 90."
    )
    retained_prev_count = fields.Integer(
        string="Retained Before",
        readonly=True,
        help="Active two periods before and in the previous 90 days.",
    )
    buyer_count = fields.Integer(
        string="Buyers", readonly=True, help="A done visit in the last 12 months."
    )
    repeat_buyer_count = fields.Integer(
        string="Repeat Buyers", readonly=True, help="Two done visits or more in the last 12 months."
    )
    buyer_prev_count = fields.Integer(
        string="Buyers Before", readonly=True, help="A done visit in the 12 months before."
    )
    repeat_buyer_prev_count = fields.Integer(
        string="Repeat Buyers Before",
        readonly=True,
        help="Two done visits or more in the 12 months before.",
    )
    stage_counts = fields.Json(readonly=True, help="Customers per lifecycle stage.")
    tier_counts = fields.Json(readonly=True, help="Members per tier (tier id: count).")
    points_closed = fields.Integer(
        string="Points Before the Day",
        readonly=True,
        help="Sum of the points entries dated before this day (the liability at the "
        "end of the day before).",
    )
    expected_visits = fields.Float(
        string="Expected Visits (90 Days)",
        readonly=True,
        digits=(16, 2),
        help="Sum of the active customers' expected visits in the next 90 days (the "
        "customer prediction). Empty on rows written before it was kept: the dashboard "
        "then sums the customers live.",
    )
    log_id = fields.Integer(
        string="Last Stage Log Row",
        readonly=True,
        help="The last lifecycle stage change counted in the customers per stage; the "
        "dashboard adds the changes written after it. Empty on rows written before it "
        "was kept: the dashboard then counts the customers at risk live.",
    )

    _company_date_unique = models.UniqueIndex("(company_id, date)")


class HousekeepingLifecycleMonth(models.Model):
    """Month-end lifecycle figures kept by the nightly snapshot engine, per
    company of the stage log row:

    - a row per stage (``lifecycle_stage`` set): the customers in that stage at
      the end of the month (``customer_count``), as of the log row ``log_id`` (the
      last one read); each night the months touched by the new log rows (the
      current one, as a rule) are rewritten, the months before never change (the
      stage log is append-only). The report adds the log rows after ``log_id``;
    - rows without a stage nor ``log_id``, per day (``day``) and company of the log
      rows folded in a run: the moves into churned (``churned_count``), the
      customers won back (from at risk or churned to new or loyal,
      ``won_back_count``), the moves into and out of at risk; summed over days,
      they give the dashboard's churned customers of a period, its churned and
      won-back months and its customers at risk at the end of the previous period;
    - one row without a stage with ``log_id``: the last log row read (kept when
      no count is left). Rows after it are read live."""

    _name = "housekeeping.lifecycle.month"
    _description = "Lifecycle Month Figures"
    _order = "month desc, company_id, lifecycle_stage"
    _rec_name = "month"

    month = fields.Date(required=True, readonly=True, index=True)
    company_id = fields.Many2one("res.company", readonly=True, ondelete="cascade")
    lifecycle_stage = fields.Selection(LIFECYCLE_STAGES, string="Stage", readonly=True)
    customer_count = fields.Integer(string="Customers", readonly=True)
    churned_count = fields.Integer(string="Customers Churned", readonly=True)
    won_back_count = fields.Integer(string="Customers Won Back", readonly=True)
    day = fields.Date(readonly=True, help="The day of the moves of a row without a stage.")
    at_risk_in_count = fields.Integer(string="Moves into At Risk", readonly=True)
    at_risk_out_count = fields.Integer(string="Moves out of At Risk", readonly=True)
    log_id = fields.Integer(string="Last Log Row Read", readonly=True, aggregator="max")

    @api.model
    def _fresh_sql(self, alias="l"):
        """SQL: the stage log rows (``alias``) not folded in yet."""
        return SQL(
            "%s > (SELECT COALESCE(max(log_id), 0) FROM housekeeping_lifecycle_month)",
            SQL.identifier(alias, "id"),
        )


class HousekeepingLifecycleReach(models.Model):
    """Per customer, what the lifecycle funnel needs of their stage log: the day of
    their first stage change and whether they ever reached new and loyal; folded
    in by the nightly snapshot engine up to ``log_id`` (the last log row read).
    The funnel report adds the log rows after it."""

    _name = "housekeeping.lifecycle.reach"
    _description = "Lifecycle Funnel Reach"
    _rec_name = "partner_id"

    partner_id = fields.Many2one("res.partner", required=True, readonly=True, ondelete="cascade")
    date = fields.Date(string="First Seen", readonly=True)
    reached_new = fields.Boolean(readonly=True)
    reached_loyal = fields.Boolean(readonly=True)
    log_id = fields.Integer(string="Last Log Row", readonly=True, index=True, aggregator="max")

    _partner_unique = models.UniqueIndex("(partner_id)")


class HousekeepingLifecycleFunnelFields(models.AbstractModel):
    """The figures of the lifecycle funnel: per customer and step
    (``housekeeping.report.lifecycle.funnel``), counted per step, company and
    first day (``housekeeping.report.lifecycle.funnel.day``) and as the nightly
    snapshot stored them (``housekeeping.lifecycle.funnel.count``)."""

    _name = "housekeeping.lifecycle.funnel.fields"
    _description = "Lifecycle Funnel Figures"

    step = fields.Selection(FUNNEL_STEPS, readonly=True)
    date = fields.Date(string="First Seen", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    customer_count = fields.Integer(string="Customers", readonly=True, aggregator="sum")


class HousekeepingLifecycleFunnelCount(models.Model):
    """The lifecycle funnel's customers per step, company and first day as of the
    last nightly snapshot: rewritten from the customers' flags
    (``housekeeping.lifecycle.reach``) by the snapshot engine after it folded the
    night's log rows in, active customers only. The funnel report adds the log
    rows written since (``housekeeping.report.lifecycle.funnel.day``)."""

    _name = "housekeeping.lifecycle.funnel.count"
    _inherit = ["housekeeping.lifecycle.funnel.fields"]
    _description = "Lifecycle Funnel Counts"
    _rec_name = "step"

    company_id = fields.Many2one(index=True)


class HousekeepingLifecycleTransitionCount(models.Model):
    """The lifecycle transitions counted per move (from, to), day, trigger, churn
    reason and company, with the days spent in the previous stage (their sum and
    the rows that have them, for a true average): the stage log rows folded in by
    the nightly snapshot engine, added up to the log row ``log_id`` (the last one
    read, the same on every row). The transition report adds the log rows
    written since (``housekeeping.report.lifecycle.transition.day``).

    ``churn_reason_id`` is the reason's id without a foreign key: a reason
    deleted since reads as none (as the log rows, set to none), and never makes
    two rows of the same key."""

    _name = "housekeeping.lifecycle.transition.count"
    _description = "Lifecycle Transition Counts"
    _order = "date desc, from_stage, to_stage"
    _rec_name = "date"

    from_stage = fields.Selection(LIFECYCLE_STAGES, readonly=True)
    to_stage = fields.Selection(LIFECYCLE_STAGES, readonly=True)
    date = fields.Date(readonly=True)
    trigger = fields.Selection(
        [("cron", "Scheduled Evaluation"), ("visit", "Visit"), ("manual", "Manual")],
        readonly=True,
    )
    churn_reason_id = fields.Integer(string="Churn Reason Given", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    transition_count = fields.Integer(string="Transitions", readonly=True)
    days_sum = fields.Float(
        string="Days in Previous Stage (Sum)",
        readonly=True,
        help="Sum of the days spent in the previous stage, over the transitions that have them.",
    )
    days_count = fields.Integer(
        string="Transitions with Days",
        readonly=True,
        help="The transitions whose days in the previous stage are known.",
    )
    log_id = fields.Integer(string="Last Log Row", readonly=True, index=True, aggregator="max")

    _key_unique = models.UniqueIndex(
        "(from_stage, to_stage, date, trigger, churn_reason_id, company_id) NULLS NOT DISTINCT"
    )
