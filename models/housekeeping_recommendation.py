from odoo import api, fields, models
from odoo.tools import SQL


class HousekeepingRecommendation(models.Model):
    """Up to three service types suggested to a customer, from what other customers
    who use the same services also book (co-occurrence over all done visits).
    Rebuilt every night by one statement."""

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
    score = fields.Integer(
        help="Customers sharing one of this customer's services who also book this one, "
        "summed over the customer's services."
    )
    source_service_type_id = fields.Many2one(
        "housekeeping.service.type",
        string="Because Of",
        ondelete="cascade",
        help="The customer's service most often booked together with the recommended one.",
    )
    support = fields.Integer(
        help="Customers who booked both the source and the recommended service."
    )
    explanation = fields.Char(compute="_compute_explanation")

    @api.depends("service_type_id", "source_service_type_id", "support")
    def _compute_explanation(self):
        for rec in self:
            rec.explanation = self.env._(
                "%(count)s customers who book %(origin)s also book %(target)s.",
                count=rec.support,
                origin=rec.source_service_type_id.name or "",
                target=rec.service_type_id.name or "",
            )

    @api.model
    def _cron_recommend_services(self):
        """Nightly: rebuild every customer's top 3 (one DELETE and one INSERT …
        SELECT over the done visits; idempotent)."""
        min_support = int(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("housekeeping_membership.recommendation_min_customers", 2)
        )
        self.env["housekeeping.visit"].flush_model(["partner_id", "service_type_id", "state"])
        self.env["housekeeping.service.type"].flush_model(["active", "company_id"])
        self.env.cr.execute(
            SQL(
                """
            DELETE FROM housekeeping_recommendation;
            WITH used AS (
                SELECT DISTINCT v.partner_id, v.service_type_id
                  FROM housekeeping_visit v
                  JOIN res_partner p ON p.id = v.partner_id AND p.active
                 WHERE v.state = 'done'
            ), pairs AS (
                SELECT a.service_type_id AS src, b.service_type_id AS dst, count(*) AS n
                  FROM used a
                  JOIN used b ON b.partner_id = a.partner_id
                             AND b.service_type_id != a.service_type_id
                 GROUP BY 1, 2
                HAVING count(*) >= %(min_support)s
            ), cand AS (
                SELECT u.partner_id, pr.dst, sum(pr.n) AS score,
                       (array_agg(pr.src ORDER BY pr.n DESC, pr.src))[1] AS src,
                       max(pr.n) AS support
                  FROM used u
                  JOIN pairs pr ON pr.src = u.service_type_id
                  JOIN res_partner p ON p.id = u.partner_id
                  JOIN housekeeping_service_type st ON st.id = pr.dst AND st.active
                       AND (st.company_id IS NULL OR p.company_id IS NULL
                            OR st.company_id = p.company_id)
                 WHERE NOT EXISTS (SELECT 1 FROM used x
                                    WHERE x.partner_id = u.partner_id
                                      AND x.service_type_id = pr.dst)
                 GROUP BY u.partner_id, pr.dst
            ), ranked AS (
                SELECT c.*, row_number() OVER (PARTITION BY c.partner_id
                                               ORDER BY c.score DESC, c.support DESC, c.dst) AS rn
                  FROM cand c
            )
            INSERT INTO housekeeping_recommendation
                   (partner_id, service_type_id, rank, score, source_service_type_id, support,
                    create_uid, create_date, write_uid, write_date)
            SELECT partner_id, dst, rn, score, src, support,
                   %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
              FROM ranked WHERE rn <= 3
            """,
                min_support=min_support,
                uid=self.env.uid,
            )
        )
        count = self.env.cr.rowcount
        self.invalidate_model()
        self.env["res.partner"].invalidate_model(["hk_recommendation_ids"])
        return count


class ResPartner(models.Model):
    _inherit = "res.partner"

    hk_recommendation_ids = fields.One2many(
        "housekeeping.recommendation", "partner_id", string="Recommended Services"
    )
