from babel.dates import get_month_names

from odoo import api, fields, models
from odoo.tools.misc import babel_locale_parse

BASES = [
    ("history", "Similar History"),
    ("profile", "Similar Household"),
    ("season", "Own Season"),
    ("calendar", "Service Season"),
]


class HousekeepingRecommendation(models.Model):
    """Up to three service types suggested to a customer, from

    * what customers with similar histories book (co-occurrence over all done
      visits: the share of the customers who book one of the customer's services
      who also book the candidate),
    * what households with the same profile book (the share of the customers with
      one of the customer's household tags who book the candidate), added to the
      history score with a weight (setting),
    * the customer's own season (a service booked in the coming months of earlier
      years, seasonally) and the season of service types flagged with months.

    Rebuilt every night for the whole population by one DELETE and one INSERT …
    SELECT (the number of queries does not grow with the data)."""

    _name = "housekeeping.recommendation"
    _description = "Service Recommendation"
    _order = "partner_id, rank"

    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, ondelete="cascade"
    )
    service_type_id = fields.Many2one(
        "housekeeping.service.type", string="Recommended Service", required=True, ondelete="cascade"
    )
    rank = fields.Integer(required=True)
    score = fields.Float(
        digits=(16, 1),
        help="History share + household share × weight + season scores (settings).",
    )
    basis = fields.Selection(BASES, help="The strongest reason for the recommendation.")
    source_service_type_id = fields.Many2one(
        "housekeeping.service.type",
        string="Because Of",
        ondelete="cascade",
        help="Similar history: the customer's service most often booked with the recommended one.",
    )
    household_tag_id = fields.Many2one(
        "housekeeping.household.tag",
        string="Household",
        ondelete="cascade",
        help="Similar household: the customer's household tag whose households book it most.",
    )
    support = fields.Integer(
        help="Customers who booked both the source and the recommended service (or households "
        "of the same profile who booked it)."
    )
    percent = fields.Integer(
        string="Share (%)",
        help="Share of the comparable customers who booked the recommended service.",
    )
    season_month = fields.Integer(help="Season: the month the service is due.")
    season_years = fields.Integer(help="Own season: years the customer booked it in that month.")
    explanation = fields.Char(compute="_compute_explanation")

    @api.depends(
        "basis",
        "service_type_id",
        "source_service_type_id",
        "household_tag_id",
        "percent",
        "season_month",
        "season_years",
    )
    @api.depends_context("lang")
    def _compute_explanation(self):
        months = get_month_names("wide", locale=babel_locale_parse(self.env.lang or "en_US"))
        for rec in self:
            target = rec.service_type_id.name or ""
            month = months.get(rec.season_month, "")
            if rec.basis == "profile":
                rec.explanation = self.env._(
                    "Households like yours (%(profile)s) also book %(target)s: "
                    "%(percent)s%% of them.",
                    profile=rec.household_tag_id.name or "",
                    target=target,
                    percent=rec.percent,
                )
            elif rec.basis == "season" and rec.season_years > 1:
                rec.explanation = self.env._(
                    "You book %(target)s every %(month)s: its season is coming.",
                    target=target,
                    month=month,
                )
            elif rec.basis == "season":
                rec.explanation = self.env._(
                    "You booked %(target)s in %(month)s before: its season is coming.",
                    target=target,
                    month=month,
                )
            elif rec.basis == "calendar":
                rec.explanation = self.env._(
                    "%(target)s is in season from %(month)s.", target=target, month=month
                )
            else:
                rec.explanation = self.env._(
                    "Bought by %(percent)s%% of customers who book %(origin)s.",
                    percent=rec.percent,
                    origin=rec.source_service_type_id.name or "",
                )

    @api.model
    def _cron_recommend_services(self):
        """Rebuild every customer's top 3 (the recommendation engine,
        ``housekeeping.engine.recommendation``); returns the number of
        recommendations written."""
        return self.env["housekeeping.engine.recommendation"]._cron()
