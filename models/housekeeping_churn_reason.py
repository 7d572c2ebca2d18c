from odoo import api, fields, models


class HousekeepingChurnReason(models.Model):
    _name = "housekeeping.churn.reason"
    _description = "Churn Reason"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    description = fields.Text(translate=True)
    playbook_ids = fields.One2many("housekeeping.winback.playbook", "reason_id", string="Playbooks")

    _code_unique = models.Constraint("UNIQUE(code)", "The code of a churn reason must be unique.")


class HousekeepingWinbackPlaybook(models.Model):
    _name = "housekeeping.winback.playbook"
    _description = "Win-back Playbook"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    reason_id = fields.Many2one("housekeeping.churn.reason", required=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", index=True)
    activity_type_id = fields.Many2one(
        "mail.activity.type",
        default=lambda self: self.env.ref(
            "housekeeping_membership.mail_activity_type_callback", raise_if_not_found=False
        ),
    )
    script = fields.Html(
        translate=True, help="What the service agent says or offers: put into the activity."
    )
    activity_delay_days = fields.Integer(string="Due in (days)", default=1)
    loyalty_program_id = fields.Many2one(
        "loyalty.program",
        string="Compensation Coupon",
        help="A coupon of this program is issued to the customer with the activity.",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Responsible",
        help="Gets the activity when the customer has no service agent (default: the "
        "administrator).",
    )
    winback_days = fields.Integer(
        string="Success Window (days)",
        default=60,
        help="The customer counts as won back by this playbook when a visit is done "
        "within this many days.",
    )
    run_ids = fields.One2many("housekeeping.winback.run", "playbook_id")
    run_count = fields.Integer(compute="_compute_run_stats")
    won_count = fields.Integer(compute="_compute_run_stats")
    win_rate = fields.Float(compute="_compute_run_stats", string="Win-back Rate (%)")

    def _compute_run_stats(self):
        groups = self.env["housekeeping.winback.run"]._read_group(
            [("playbook_id", "in", self.ids)], ["playbook_id", "won_back"], ["__count"]
        )
        runs, won = {}, {}
        for playbook, is_won, count in groups:
            runs[playbook.id] = runs.get(playbook.id, 0) + count
            if is_won:
                won[playbook.id] = won.get(playbook.id, 0) + count
        for playbook in self:
            playbook.run_count = runs.get(playbook.id, 0)
            playbook.won_count = won.get(playbook.id, 0)
            playbook.win_rate = (
                100.0 * playbook.won_count / playbook.run_count if playbook.run_count else 0.0
            )


class HousekeepingWinbackRun(models.Model):
    """A win-back attempt. Measures for the win-back pivot: attempts, won, and the
    win rate (%) as an average of 100/0 per attempt, so that it is right for any
    grouping."""

    _name = "housekeeping.winback.run"
    _description = "Win-back Attempt"
    _order = "date desc, id desc"

    partner_id = fields.Many2one("res.partner", required=True, index=True, ondelete="cascade")
    playbook_id = fields.Many2one(
        "housekeeping.winback.playbook", required=True, index=True, ondelete="cascade"
    )
    reason_id = fields.Many2one(related="playbook_id.reason_id", store=True)
    date = fields.Date(required=True, default=fields.Date.context_today)
    deadline = fields.Date(required=True)
    loyalty_card_id = fields.Many2one("loyalty.card", string="Coupon", ondelete="set null")
    won_back = fields.Boolean(readonly=True)
    won_back_date = fields.Date(readonly=True)
    company_id = fields.Many2one("res.company", index=True)

    # ------------------------------------------------------------------ reporting
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
