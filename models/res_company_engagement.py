from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResCompany(models.Model):
    _inherit = "res.company"

    hk_survey_enabled = fields.Boolean(
        string="Satisfaction Survey",
        default=True,
        help="Send a rating request by e-mail when a visit is done (customers with an "
        "e-mail address and e-mail consent only).",
    )
    hk_complaint_score = fields.Integer(
        string="Complaint at Score",
        default=2,
        help="A rating at or below this score (1-5) opens a complaint with a service-recovery "
        "activity due in 24 hours.",
    )
    hk_vip_min_average = fields.Float(
        string="VIP Average Score",
        default=4.5,
        help="Customers whose last rated visits average at least this score are VIP.",
    )
    hk_vip_rated_visits = fields.Integer(
        string="VIP Rated Visits",
        default=3,
        help="Number of last rated visits averaged (a customer needs that many ratings).",
    )
    hk_vip_callback_days = fields.Integer(
        string="VIP Callback Every (days)",
        default=30,
        help="A callback activity is planned for the agent of each VIP customer this often.",
    )
    hk_conversion_days = fields.Integer(
        string="Conversion Window (days)",
        default=14,
        help="A visit done within this many days after a journey message converts it.",
    )

    @api.constrains(
        "hk_complaint_score",
        "hk_vip_min_average",
        "hk_vip_rated_visits",
        "hk_vip_callback_days",
        "hk_conversion_days",
    )
    def _check_engagement_settings(self):
        for company in self:
            if not 0 <= company.hk_complaint_score <= 5:
                raise ValidationError(
                    self.env._("The complaint score is a score from 0 (never) to 5.")
                )
            if not 1 <= company.hk_vip_min_average <= 5:
                raise ValidationError(self.env._("The VIP average score is between 1 and 5."))
            if (
                min(
                    company.hk_vip_rated_visits,
                    company.hk_vip_callback_days,
                    company.hk_conversion_days,
                )
                < 1
            ):
                raise ValidationError(
                    self.env._(
                        "VIP rated visits, callback days and conversion days must be at least 1."
                    )
                )
