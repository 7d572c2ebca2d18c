from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .trust import engine_writes

LIFECYCLE_STAGES = [
    ("potential", "Potential"),
    ("new", "New"),
    ("loyal", "Loyal"),
    ("at_risk", "At Risk"),
    ("churned", "Churned"),
]
LOST_STAGES = ("at_risk", "churned")
# partner fields the rules read besides the visit statistics (which reset the next
# check themselves, see _hk_refresh_visit_stats)
_LIFECYCLE_INPUTS = {"is_prospect", "active", "lifecycle_override_until", "company_id"}

# res.company fields holding the thresholds (see res_company.py, section Lifecycle), with the
# name of the SQL parameter the engine reads them under.
LIFECYCLE_SETTINGS = (
    "hk_new_min_visits",
    "hk_new_max_days",
    "hk_at_risk_factor",
    "hk_at_risk_floor_days",
    "hk_churn_factor",
    "hk_churn_floor_days",
    "hk_low_rating",
    "hk_rated_visits_window",
)


class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited  # until the engines move to models/engines (architecture issue)

    lifecycle_stage = fields.Selection(
        LIFECYCLE_STAGES,
        index=True,
        readonly=True,
        tracking=True,
        copy=False,
        group_expand="_group_expand_lifecycle_stage",
    )
    lifecycle_stage_date = fields.Date(string="Stage Since", copy=False)
    lifecycle_days_in_stage = fields.Integer(
        string="Days in Stage", compute="_compute_lifecycle_days_in_stage"
    )
    won_back_date = fields.Date(copy=False, tracking=True)
    churn_reason_id = fields.Many2one(
        "housekeeping.churn.reason",
        tracking=True,
        copy=False,
        ondelete="set null",
    )
    churn_reason_confirmed = fields.Boolean(
        copy=False, help="Staff confirmed the suggested churn reason."
    )
    lifecycle_override_until = fields.Date(
        string="Manual Stage Until",
        copy=False,
        help="A manually set stage holds until this date or until the next done visit.",
    )
    lifecycle_seasonal = fields.Boolean(
        string="Seasonal Customer",
        readonly=True,
        copy=False,
        help="Visits cluster in the same months every year (e.g. deep cleaning before the "
        "Spring Festival): the customer is only at risk once the next season passes "
        "without a visit.",
    )
    lifecycle_next_check = fields.Date(
        string="Next Lifecycle Check",
        index=True,
        readonly=True,
        copy=False,
        help="The day the lifecycle rules look at this customer again: the first day "
        "the stage can change with time alone (a threshold of days without a visit, the "
        "end of a manual stage), at the latest about a year later. Empty: at the next "
        "run (new customers, and those whose visits, complaints or ratings changed).",
    )
    stage_log_ids = fields.One2many("housekeeping.stage.log", "partner_id", string="Stage History")

    def _group_expand_lifecycle_stage(self, stages, domain):
        return [key for key, _label in LIFECYCLE_STAGES]

    @api.depends("lifecycle_stage_date")
    def _compute_lifecycle_days_in_stage(self):
        today = fields.Date.context_today(self)
        for partner in self:
            partner.lifecycle_days_in_stage = (
                (today - partner.lifecycle_stage_date).days if partner.lifecycle_stage_date else 0
            )

    # ------------------------------------------------------------------ agents
    # (the rules, their writes and the win-back playbooks are the lifecycle engine's:
    # models/engines/lifecycle.py)
    def _hk_fallback_agent(self):
        """Who gets a customer's activity when the customer has no service agent:
        the current user if internal, else the administrator."""
        user = self.env.user
        if user._is_internal() and not user._is_superuser():
            return user
        return self.env.ref("base.user_admin", raise_if_not_found=False) or user

    # ------------------------------------------------------------------ hooks & actions
    def _hk_lifecycle_mark_due(self):
        """Have the next run evaluate these customers (their complaints, ratings or
        settings changed)."""
        # one UPDATE, not an ORM write (ratings and complaints arrive one by one and
        # the partner's write() overrides have nothing to do with this column)
        ids = [pid for pid in self.ids if pid]
        if not ids:
            return
        self.flush_model(["lifecycle_next_check"])
        self.env.cr.execute(
            "UPDATE res_partner SET lifecycle_next_check = NULL"
            " WHERE id = ANY(%s) AND lifecycle_next_check IS NOT NULL",
            [ids],
        )
        self.invalidate_recordset(["lifecycle_next_check"])

    def _hk_lifecycle_visits_done(self, visits):
        """Step of the visit pipeline (``housekeeping.visit._hk_pipeline_done``):
        the customers' stages after the done ``visits``."""
        # a new done visit ends a manual override
        with engine_writes("lifecycle_override_until"):
            self.filtered("lifecycle_override_until").write({"lifecycle_override_until": False})
        self.env["housekeeping.engine.lifecycle"]._lifecycle_evaluate(
            partner_ids=self.ids, trigger="visit"
        )

    def action_set_lifecycle_stage(self, stage, reason):
        """Set the stage by hand, with a reason; it holds for the company's override
        period or until the next done visit, then the rules apply again."""
        self._hk_check_staff()
        if stage not in dict(LIFECYCLE_STAGES):
            raise UserError(self.env._("Unknown lifecycle stage: %(stage)s", stage=stage))
        if not (reason or "").strip():
            raise UserError(self.env._("Give a reason for changing the lifecycle stage by hand."))
        today = fields.Date.context_today(self)
        with engine_writes("lifecycle_override_until"):
            for partner in self:
                days = (partner.company_id or self.env.company).hk_lifecycle_override_days
                partner.lifecycle_override_until = today + timedelta(days=days or 30)
        # the rules look again the day after the manual stage ends
        self.flush_recordset()
        engine = self.env["housekeeping.engine.lifecycle"]
        engine._lifecycle_load(
            SQL(
                """SELECT p.id, p.lifecycle_stage AS old_stage, %(stage)s::varchar AS new_stage,
                          p.lifecycle_seasonal AS seasonal, NULL::varchar AS suggestion,
                          p.lifecycle_override_until + 1 AS next_check,
                          p.lifecycle_stage IS DISTINCT FROM %(stage)s AS changed,
                          p.lifecycle_stage_date AS old_stage_date, p.company_id
                     FROM res_partner p
                    WHERE p.id = ANY(%(ids)s)""",
                stage=stage,
                ids=self.ids,
            )
        )
        engine._lifecycle_apply(engine._lifecycle_rows, today, "manual", reason=reason.strip())
        return True

    def action_confirm_churn_reason(self):
        self._hk_check_staff()
        with engine_writes("churn_reason_confirmed"):
            self.filtered("churn_reason_id").write({"churn_reason_confirmed": True})
        return True

    def write(self, vals):
        """A reason chosen by staff for a lost customer opens its playbook (once per
        open attempt) and counts as confirmed. A change of what the rules read
        outside the visits (prospect flag, archiving, manual stage end) makes the
        customer due for the next run."""
        if _LIFECYCLE_INPUTS.intersection(vals) and "lifecycle_next_check" not in vals:
            vals = {**vals, "lifecycle_next_check": False}
        if "churn_reason_id" not in vals:
            return super().write(vals)
        before = {p.id: p.churn_reason_id for p in self}
        vals = {**vals, "churn_reason_confirmed": bool(vals["churn_reason_id"])}
        result = super().write(vals)
        changed = self.filtered(
            lambda p: (
                p.churn_reason_id
                and p.churn_reason_id != before.get(p.id)
                and p.lifecycle_stage in LOST_STAGES
            )
        )
        if changed:
            open_runs = (
                self.env["housekeeping.winback.run"]
                .sudo()
                .search([("partner_id", "in", changed.ids), ("won_back", "=", False)])
            )
            running = {(r.partner_id.id, r.reason_id.id) for r in open_runs}
            todo = changed.filtered(lambda p: (p.id, p.churn_reason_id.id) not in running)
            if todo:
                self.env["housekeeping.engine.lifecycle"]._start_winback_playbooks(
                    todo, fields.Date.context_today(self)
                )
        return result

    @api.model
    def _cron_evaluate_lifecycle(self):
        """Evaluate every customer due (the lifecycle engine,
        ``housekeeping.engine.lifecycle``; the name integrations, tests and the
        scheduled action of databases installed before the engine model call);
        returns the number of customers whose stage changed."""
        return self.env["housekeeping.engine.lifecycle"]._cron()
