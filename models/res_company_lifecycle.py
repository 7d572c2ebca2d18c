from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from .res_partner_lifecycle import LIFECYCLE_SETTINGS


class ResCompany(models.Model):
    _inherit = "res.company"

    hk_new_min_visits = fields.Integer(
        string="Visits to Become Loyal",
        default=3,
        help="A new customer becomes loyal after this many done visits…",
    )
    hk_new_max_days = fields.Integer(
        string="Days to Become Loyal",
        default=90,
        help="…or after this many days as a customer with at least a second visit.",
    )
    hk_at_risk_factor = fields.Float(
        string="At-Risk Factor",
        default=2.0,
        help="At risk when the time since the last visit exceeds the customer's typical "
        "interval times this factor.",
    )
    hk_at_risk_floor_days = fields.Integer(
        string="At-Risk Days (no interval yet)",
        default=45,
        help="At risk after this many days without a visit for customers without a "
        "typical interval yet (a single visit).",
    )
    hk_churn_factor = fields.Float(string="Churn Factor", default=4.0)
    hk_churn_floor_days = fields.Integer(
        string="Churn Floor (days)",
        default=180,
        help="Churned when the time since the last visit exceeds the typical interval times "
        "the churn factor, and at least this many days.",
    )
    hk_low_rating = fields.Integer(
        string="Low Rating",
        default=2,
        help="A rating at or below this score (1-5) on one of the last rated visits puts "
        "the customer at risk.",
    )
    hk_rated_visits_window = fields.Integer(string="Recent Visits Checked", default=3)
    hk_price_increase_pct = fields.Integer(
        string="Price Increase Signal (%)",
        default=10,
        help="When a customer is lost and the last visit of their usual service cost this "
        "much more than the average of the earlier ones, price is suggested as the reason.",
    )
    hk_lifecycle_override_days = fields.Integer(
        string="Manual Stage Holds (days)",
        default=30,
        help="A stage set by hand holds this many days or until the next done visit.",
    )

    @api.constrains(
        "hk_new_min_visits",
        "hk_new_max_days",
        "hk_at_risk_factor",
        "hk_at_risk_floor_days",
        "hk_churn_factor",
        "hk_churn_floor_days",
        "hk_low_rating",
        "hk_rated_visits_window",
        "hk_lifecycle_override_days",
        "hk_price_increase_pct",
    )
    def _check_lifecycle_settings(self):
        for company in self:
            if (
                min(
                    company.hk_new_min_visits,
                    company.hk_new_max_days,
                    company.hk_at_risk_floor_days,
                    company.hk_churn_floor_days,
                    company.hk_rated_visits_window,
                    company.hk_lifecycle_override_days,
                )
                < 1
            ):
                raise ValidationError(
                    self.env._("Lifecycle day and visit thresholds must be at least 1.")
                )
            if (
                company.hk_at_risk_factor <= 0
                or company.hk_churn_factor <= company.hk_at_risk_factor
            ):
                raise ValidationError(
                    self.env._(
                        "The churn factor must be greater than the at-risk factor, and both positive."
                    )
                )
            if company.hk_churn_floor_days <= company.hk_at_risk_floor_days:
                raise ValidationError(
                    self.env._("The churn floor must be longer than the at-risk period.")
                )
            if company.hk_price_increase_pct < 0:
                raise ValidationError(
                    self.env._("The price increase signal is a percentage of 0 or more.")
                )
            if not 1 <= company.hk_low_rating <= 5:
                raise ValidationError(
                    self.env._("The low rating threshold is a score from 1 to 5.")
                )

    def write(self, vals):
        """New thresholds: every customer of these companies is evaluated at the next
        run (one UPDATE; customers without a company follow the main company)."""
        result = super().write(vals)
        if set(LIFECYCLE_SETTINGS).intersection(vals):
            main = self.env["res.partner"]._hk_main_company()
            self.env["res.partner"].flush_model(["company_id", "lifecycle_next_check"])
            self.env.cr.execute(
                SQL(
                    """
                UPDATE res_partner SET lifecycle_next_check = NULL
                 WHERE lifecycle_next_check IS NOT NULL
                   AND COALESCE(company_id, %s) = ANY(%s)
                """,
                    main.id,
                    self.ids,
                )
            )
            self.env["res.partner"].invalidate_model(["lifecycle_next_check"])
        return result
