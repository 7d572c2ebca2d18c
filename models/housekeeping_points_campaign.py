from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL


class HousekeepingPointsCampaign(models.Model):
    """Holiday and task campaigns (节日任务): bonus points, once per customer, when
    a task is met within the campaign's dates."""

    _name = "housekeeping.points.campaign"
    _description = "Points Campaign"
    _order = "date_from desc, id desc"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    date_from = fields.Date(required=True)
    date_to = fields.Date(required=True)
    task = fields.Selection(
        [
            ("visits", "Complete visits"),
            ("review", "Rate a visit"),
            ("profile", "Complete the profile"),
        ],
        required=True,
        default="visits",
    )
    service_type_id = fields.Many2one(
        "housekeeping.service.type", help="Only visits of this service count (any if empty)."
    )
    visit_count = fields.Integer(string="Visits Needed", default=1)
    points = fields.Integer(required=True, default=100)
    description = fields.Text(translate=True)
    rewarded_count = fields.Integer(compute="_compute_rewarded_count", string="Rewarded")

    _points_positive = models.Constraint(
        "CHECK(points > 0 AND visit_count > 0)", "Points and visits needed must be positive."
    )

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for campaign in self:
            if campaign.date_from > campaign.date_to:
                raise ValidationError(self.env._("A campaign cannot end before it starts."))

    def _source_key(self):
        return f"task:{self.id}"

    def _rewarded_sql(self, alias="e"):
        """SQL condition on a ledger entry: a credit of this campaign's task that
        stands (``task:<id>``, or ``task:<id>:<n>`` after a withdrawn one)."""
        return SQL(
            "(%(e)s.source_key = %(key)s OR %(e)s.source_key LIKE %(pattern)s) AND %(standing)s",
            e=SQL.identifier(alias),
            key=self._source_key(),
            pattern=self._source_key() + ":%",
            standing=self.env["housekeeping.points.entry"]._standing_sql(alias),
        )

    def _compute_rewarded_count(self):
        """Customers holding a standing credit of each campaign: one query for all."""
        Entry = self.env["housekeeping.points.entry"]
        Entry.flush_model()
        ids = [campaign.id for campaign in self if campaign.id]
        counts = {}
        if ids:
            self.env.cr.execute(
                SQL(
                    """
                SELECT split_part(e.source_key, ':', 2)::int, count(DISTINCT e.partner_id)
                  FROM housekeeping_points_entry e
                 WHERE e.reason_code = 'task' AND e.source_key LIKE 'task:%%'
                   AND split_part(e.source_key, ':', 2) = ANY(%s) AND %s
                 GROUP BY 1
                """,
                    [str(i) for i in ids],
                    Entry._standing_sql(),
                )
            )
            counts = dict(self.env.cr.fetchall())
        for campaign in self:
            campaign.rewarded_count = counts.get(campaign.id, 0)

    def _met_by(self, partner_ids):
        """The ids among ``partner_ids`` who meet the task (rewarded or not): a
        cancelled visit takes the task's points back only from those who no longer
        meet it."""
        if not self or not partner_ids:
            return set()
        self.ensure_one()
        self.env["housekeeping.visit"].flush_model()
        self.env.cr.execute(self._qualified_query(partner_ids, rewarded_too=True))
        return {row[0] for row in self.env.cr.fetchall()}

    def _qualified_query(self, partner_ids=None, rewarded_too=False):
        """SQL of the customers who met the task and were not rewarded yet (or
        rewarded too, with ``rewarded_too``)."""
        self.ensure_one()
        scope = SQL("TRUE") if partner_ids is None else SQL("p.id = ANY(%s)", list(partner_ids))
        not_rewarded = (
            SQL("TRUE")
            if rewarded_too
            else SQL(
                """NOT EXISTS (SELECT 1 FROM housekeeping_points_entry e
                                WHERE e.partner_id = p.id AND %s)""",
                self._rewarded_sql(),
            )
        )
        if self.task == "visits":
            return SQL(
                """
                SELECT p.id FROM res_partner p
                  JOIN housekeeping_visit v ON v.partner_id = p.id
                 WHERE %(scope)s AND %(not_rewarded)s AND v.state = 'done'
                   AND v.company_id = %(company)s
                   AND v.date >= %(start)s AND v.date < %(stop)s::date + 1
                   AND (%(service)s IS NULL OR v.service_type_id = %(service)s)
                 GROUP BY p.id HAVING count(*) >= %(needed)s
                """,
                scope=scope,
                not_rewarded=not_rewarded,
                company=self.company_id.id,
                start=self.date_from,
                stop=self.date_to,
                service=self.service_type_id.id or None,
                needed=self.visit_count,
            )
        if self.task == "review":
            return SQL(
                """
                SELECT DISTINCT p.id FROM res_partner p
                  JOIN housekeeping_visit v ON v.partner_id = p.id
                  JOIN rating_rating r ON r.res_model = 'housekeeping.visit' AND r.res_id = v.id
                 WHERE %(scope)s AND %(not_rewarded)s AND r.consumed AND r.rating > 0
                   AND v.company_id = %(company)s
                   AND r.write_date >= %(start)s AND r.write_date < %(stop)s::date + 1
                """,
                scope=scope,
                not_rewarded=not_rewarded,
                company=self.company_id.id,
                start=self.date_from,
                stop=self.date_to,
            )
        return SQL(
            """
            SELECT p.id FROM res_partner p
             WHERE %(scope)s AND %(not_rewarded)s AND p.active AND p.visit_count > 0
               AND %(settings_company)s = %(company)s
               AND %(complete)s
            """,
            scope=scope,
            not_rewarded=not_rewarded,
            company=self.company_id.id,
            settings_company=self.env["housekeeping.engine"]._settings_company_sql("p"),
            complete=self.env["housekeeping.engine.points"]._profile_complete_sql(),
        )

    def _reward_qualified(self, today, partner_ids=None, visit_of=None):
        """Credit every customer who met the task: one query per campaign (and one
        for the keys). ``visit_of``: {customer id: the visit whose completion met
        it}, linked to the credit so that cancelling the visit can take it back."""
        total = 0
        for model in (
            "housekeeping.visit",
            "rating.rating",
            "res.partner",
            "housekeeping.points.entry",
        ):
            self.env[model].flush_model()
        for campaign in self.filtered(lambda c: c.date_from <= today <= c.date_to):
            self.env.cr.execute(campaign._qualified_query(partner_ids))
            ids = [row[0] for row in self.env.cr.fetchall()]
            if not ids:
                continue
            partners = self.env["res.partner"].browse(ids)
            Entry = self.env["housekeeping.points.entry"]
            keys = Entry._cause_keys((pid, campaign._source_key()) for pid in ids)
            entries = Entry._post_credits(
                [
                    {
                        "partner_id": pid,
                        "company_id": campaign.company_id.id,
                        "points": campaign.points,
                        "entry_type": "earn",
                        "reason_code": "task",
                        "note": campaign.name,
                        "date": today,
                        "expiry_date": partners.browse(pid)._hk_expiry_date(today),
                        "source_key": keys[pid, campaign._source_key()],
                        "visit_id": (visit_of or {}).get(pid),
                    }
                    for pid in ids
                    if keys[pid, campaign._source_key()]
                ]
            )
            total += len(entries)
        return total
