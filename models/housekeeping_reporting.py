from odoo import api, fields, models


class HousekeepingStageLog(models.Model):
    _inherit = "housekeeping.stage.log"

    # the reports read the log per company and period
    _company_date_idx = models.Index("(company_id, date)")


class HousekeepingVisit(models.Model):
    _inherit = "housekeeping.visit"  # pylint: disable=consider-merging-classes-inherited  # until the engines move to models/engines (architecture issue)

    # visits per month, cohorts and dashboard KPIs read done visits by date
    _done_date_idx = models.Index("(date) WHERE state = 'done'")


class HousekeepingWinbackRun(models.Model):
    """Measures for the win-back pivot: attempts, won, and the win rate (%) as an
    average of 100/0 per attempt, so that it is right for any grouping."""

    _inherit = "housekeeping.winback.run"

    hk_run_count = fields.Integer(
        string="Attempts", compute="_compute_hk_win_measures", store=True, aggregator="sum"
    )
    hk_won_count = fields.Integer(
        string="Won Back Count", compute="_compute_hk_win_measures", store=True, aggregator="sum"
    )
    hk_win_rate = fields.Float(
        string="Win-back Rate (%)",
        compute="_compute_hk_win_measures",
        store=True,
        aggregator="avg",
        digits=(16, 1),
    )

    @api.depends("won_back")
    def _compute_hk_win_measures(self):
        for run in self:
            run.hk_run_count = 1
            run.hk_won_count = int(run.won_back)
            run.hk_win_rate = 100.0 if run.won_back else 0.0
