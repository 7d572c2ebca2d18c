from odoo import api, fields, models


class HousekeepingReportCohort(models.Model):
    """Retention cohorts: customers grouped by the month of their first done visit
    (per company), and the share of them with a done visit N months later.

    One row per cohort month × month offset (0 up to the current month): laid out
    in a pivot with cohorts as rows and offsets as columns, it is the classic
    retention triangle. Months are local months in the company's time zone (its
    partner's), else the refreshing user's.

    A snapshot, not a view: the figures read every done visit ever (22 s at 1M
    customers, 12M visits), for a report whose cells move once a month. The
    nightly scheduled action rewrites the snapshot in one statement
    (``housekeeping.engine.cohort``); the pivot reads a few hundred rows.
    """

    _name = "housekeeping.report.cohort"
    _description = "Customer Retention Cohorts"
    _order = "cohort_month desc, month_offset"
    _rec_name = "cohort_month"

    cohort_month = fields.Date(
        string="Cohort", readonly=True, help="Month of the first done visit."
    )
    month_offset = fields.Integer(string="Months Since First Visit", readonly=True, aggregator=None)
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    cohort_size = fields.Integer(string="Cohort Customers", readonly=True, aggregator="max")
    active_count = fields.Integer(string="Still Visiting", readonly=True, aggregator="sum")
    retention = fields.Float(
        string="Retention (%)",
        readonly=True,
        aggregator="avg",
        digits=(16, 1),
        help="Share of the cohort with a done visit in that month.",
    )
    snapshot_date = fields.Date(
        string="Computed On", readonly=True, help="Day of the nightly computation."
    )

    @api.model
    def _cron_refresh(self):
        """Rewrite the snapshot (the cohort engine, ``housekeeping.engine.cohort``);
        returns the number of cells."""
        return self.env["housekeeping.engine.cohort"]._cron()
