from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL, format_amount

from .res_partner_lifecycle import LIFECYCLE_STAGES

ACTIVE_DAYS = 90


class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited  # until the engines move to models/engines (architecture issue)

    # ------------------------------------------------------------------ dashboard
    @api.model
    @api.readonly
    def hk_dashboard_data(self):
        """Figures of the "Membership Overview" dashboard for the companies of the
        user, each KPI with the value of the previous period and the trend.

        Periods: active customers, satisfaction and retention compare the last 90
        days with the 90 days before; new and churned customers this month with last
        month; at risk customers and the points liability now with the end of last
        month; the repeat-purchase rate the last 12 months with the 12 before.
        """
        self._hk_check_staff()
        if not self.env.su and not self.env.user.has_group(
            "housekeeping_membership.group_membership_user"
        ):
            raise AccessError(self.env._("Only membership users can open the dashboard."))
        for model in (
            "housekeeping.visit",
            "housekeeping.stage.log",
            "housekeeping.points.entry",
            "rating.rating",
            "res.partner",
        ):
            self.env[model].flush_model()
        today = fields.Date.context_today(self)
        ctx = {
            "today": today,
            "companies": self.env.companies.ids,
            "month": today.replace(day=1),
            "prev_month": today.replace(day=1) - relativedelta(months=1),
        }
        values = {}
        for key, query in self._hk_dashboard_queries(ctx).items():
            self.env.cr.execute(query)
            values[key] = self.env.cr.fetchone()
        # one pass over the visits gives three KPIs (current, previous each)
        row = values.pop("visit_kpis")
        values.update(active=row[0:2], repeat=row[2:4], retention=row[4:6])
        return {
            "kpis": self._hk_dashboard_kpis(values),
            "charts": self._hk_dashboard_charts(ctx),
            "date": fields.Date.to_string(today),
        }

    @api.model
    def _hk_dashboard_queries(self, ctx):
        """{kpi: SQL returning (current, previous)}."""
        today = ctx["today"]

        def window(days_back_from, days_back_to):
            # done visits dated in (today - from, today - to], as calendar days; a
            # range on the column itself, so that the index on the date serves it
            return SQL(
                "v.date >= %s AND v.date < %s",
                today - timedelta(days=days_back_from - 1),
                today - timedelta(days=days_back_to - 1),
            )

        visits = SQL(
            "FROM housekeeping_visit v WHERE v.state = 'done' AND v.company_id = ANY(%s)",
            ctx["companies"],
        )
        partners = SQL(
            "p.active AND (p.company_id IS NULL OR p.company_id = ANY(%s))", ctx["companies"]
        )
        logs = SQL("(l.company_id IS NULL OR l.company_id = ANY(%s))", ctx["companies"])
        d = ACTIVE_DAYS
        return {
            # active customers (a visit in the last 90 days, and the 90 before),
            # repeat-purchase rate (2+ visits among customers with one, last 12
            # months and the 12 before) and retention (customers of the previous 90
            # days seen again in the last 90, and the same one period earlier):
            # one scan of two years of visits, grouped by customer once
            "visit_kpis": SQL(
                """SELECT count(*) FILTER (WHERE p0), count(*) FILTER (WHERE p1),
                          100.0 * count(*) FILTER (WHERE y0 >= 2)
                                / NULLIF(count(*) FILTER (WHERE y0 >= 1), 0),
                          100.0 * count(*) FILTER (WHERE y1 >= 2)
                                / NULLIF(count(*) FILTER (WHERE y1 >= 1), 0),
                          100.0 * count(*) FILTER (WHERE p1 AND p0)
                                / NULLIF(count(*) FILTER (WHERE p1), 0),
                          100.0 * count(*) FILTER (WHERE p2 AND p1)
                                / NULLIF(count(*) FILTER (WHERE p2), 0)
                     FROM (SELECT v.partner_id, bool_or(%s) AS p0, bool_or(%s) AS p1,
                                  bool_or(%s) AS p2, count(*) FILTER (WHERE %s) AS y0,
                                  count(*) FILTER (WHERE %s) AS y1
                           %s AND %s GROUP BY v.partner_id) c""",
                window(d, 0),
                window(2 * d, d),
                window(3 * d, 2 * d),
                window(365, 0),
                window(730, 365),
                visits,
                window(max(730, 3 * d), 0),
            ),
            "new": SQL(
                """SELECT count(*) FILTER (WHERE p.first_visit_date >= %(month)s),
                          count(*) FILTER (WHERE p.first_visit_date < %(month)s)
                     FROM res_partner p
                    WHERE %(partners)s AND p.first_visit_date >= %(prev)s
                      AND p.first_visit_date <= %(today)s""",
                month=ctx["month"],
                prev=ctx["prev_month"],
                today=today,
                partners=partners,
            ),
            "at_risk": SQL(
                """SELECT (SELECT count(*) FROM res_partner p
                            WHERE %(partners)s AND p.lifecycle_stage = 'at_risk'),
                          (SELECT count(*) FROM (
                               SELECT DISTINCT ON (l.partner_id) l.to_stage
                                 FROM housekeeping_stage_log l
                                 JOIN res_partner p ON p.id = l.partner_id
                                WHERE %(logs)s AND %(partners)s AND l.date < %(month)s
                                ORDER BY l.partner_id, l.date DESC, l.id DESC) s
                            WHERE s.to_stage = 'at_risk')""",
                partners=partners,
                logs=logs,
                month=ctx["month"],
            ),
            "churned": SQL(
                """SELECT count(DISTINCT l.partner_id) FILTER (WHERE l.date >= %(month)s),
                          count(DISTINCT l.partner_id) FILTER (WHERE l.date < %(month)s)
                     FROM housekeeping_stage_log l
                    WHERE %(logs)s AND l.to_stage = 'churned'
                      AND l.date >= %(prev)s AND l.date <= %(today)s""",
                logs=logs,
                month=ctx["month"],
                prev=ctx["prev_month"],
                today=today,
            ),
            "satisfaction": SQL(
                """SELECT avg(r.rating) FILTER (WHERE %s), avg(r.rating) FILTER (WHERE %s)
                     FROM rating_rating r
                     JOIN housekeeping_visit v ON v.id = r.res_id
                    WHERE r.res_model = 'housekeeping.visit' AND r.consumed AND r.rating > 0
                      AND v.state = 'done' AND v.company_id = ANY(%s) AND %s""",
                window(d, 0),
                window(2 * d, d),
                ctx["companies"],
                window(2 * d, 0),
            ),
            "liability": SQL(
                """SELECT COALESCE(sum(e.points), 0),
                          COALESCE(sum(e.points) FILTER (WHERE e.date < %(month)s), 0),
                          COALESCE(sum(e.points * c.hk_point_value), 0),
                          COALESCE(sum(e.points * c.hk_point_value)
                                   FILTER (WHERE e.date < %(month)s), 0)
                     FROM housekeeping_points_entry e
                     JOIN res_company c ON c.id = e.company_id
                    WHERE e.company_id = ANY(%(companies)s) AND e.date <= %(today)s""",
                month=ctx["month"],
                companies=ctx["companies"],
                today=today,
            ),
        }

    @api.model
    def _hk_dashboard_kpis(self, values):
        currency = self.env.company.currency_id

        def kpi(key, label, current, previous, kind="count", good="up", help_text="", extra=""):
            current = current or 0
            previous = previous or 0
            if kind == "count":
                current, previous = int(current), int(previous)
                display = str(current)
            elif kind == "percent":
                current, previous = round(float(current), 1), round(float(previous), 1)
                display = f"{current:.1f}%"
            else:  # rating out of 5
                current, previous = round(float(current), 2), round(float(previous), 2)
                display = f"{current:.2f}"
            delta = round(current - previous, 2)
            if kind == "percent":
                trend = self.env._("%(delta)+.1f pts", delta=delta) if previous else ""
            elif kind == "rating":
                trend = f"{delta:+.2f}" if previous else ""
            else:
                trend = f"{100.0 * delta / previous:+.1f}%" if previous else ""
            improving = delta > 0 if good == "up" else delta < 0
            return {
                "key": key,
                "label": label,
                "value": current,
                "previous": previous,
                "display": display,
                "trend": trend,
                "direction": "up" if delta > 0 else "down" if delta < 0 else "flat",
                "good": bool(delta) and improving,
                "bad": bool(delta) and not improving,
                "help": help_text,
                "extra": extra,
            }

        points, points_prev, money, _money_prev = values["liability"]
        return [
            kpi(
                "active",
                self.env._("Active Customers"),
                *values["active"],
                help_text=self.env._("Customers with a done visit in the last 90 days."),
            ),
            kpi(
                "new",
                self.env._("New This Month"),
                *values["new"],
                help_text=self.env._("Customers whose first done visit is this month."),
            ),
            kpi(
                "at_risk",
                self.env._("At Risk"),
                *values["at_risk"],
                good="down",
                help_text=self.env._("Customers at risk now, compared with the end of last month."),
            ),
            kpi(
                "churned",
                self.env._("Churned This Month"),
                *values["churned"],
                good="down",
                help_text=self.env._("Customers who became churned this month."),
            ),
            kpi(
                "repeat",
                self.env._("Repeat-Purchase Rate"),
                *values["repeat"],
                kind="percent",
                help_text=self.env._(
                    "Customers with two done visits or more in the last 12 months, "
                    "among those with at least one."
                ),
            ),
            kpi(
                "retention",
                self.env._("Retention"),
                *values["retention"],
                kind="percent",
                help_text=self.env._(
                    "Customers active in the previous 90 days who are still active in "
                    "the last 90 days."
                ),
            ),
            kpi(
                "satisfaction",
                self.env._("Average Satisfaction"),
                *values["satisfaction"],
                kind="rating",
                help_text=self.env._(
                    "Average rating of the visits of the last 90 days (out of 5)."
                ),
            ),
            kpi(
                "liability",
                self.env._("Points Liability"),
                points,
                points_prev,
                good="down",
                help_text=self.env._("Outstanding points, compared with the end of last month."),
                extra=format_amount(self.env, float(money), currency),
            ),
        ]

    @api.model
    def _hk_dashboard_charts(self, ctx):
        partner_scope = [
            ("company_id", "in", ctx["companies"] + [False]),
            ("lifecycle_stage", "!=", False),
        ]
        per_stage = dict(self._read_group(partner_scope, ["lifecycle_stage"], ["__count"]))
        labels = dict(self._fields["lifecycle_stage"]._description_selection(self.env))
        stages = [
            {"key": key, "label": labels[key], "value": per_stage.get(key, 0)}
            for key, _label in LIFECYCLE_STAGES
        ]
        first = ctx["month"] - relativedelta(months=11)
        self.env.cr.execute(
            SQL(
                """
                -- one pass over the year's visits, grouped by month (a join per
                -- month range read the visits twelve times: 19 s at 1M customers)
                SELECT to_char(m, 'YYYY-MM'), COALESCE(x.n, 0), COALESCE(x.amount, 0)
                  FROM generate_series(%(first)s::date, %(month)s::date, interval '1 month') m
                  LEFT JOIN (
                       SELECT date_trunc('month', v.date) AS month, count(*) AS n,
                              sum(v.amount) AS amount
                         FROM housekeeping_visit v
                        WHERE v.state = 'done' AND v.company_id = ANY(%(companies)s)
                          AND v.date >= %(first)s AND v.date < %(today)s::date + 1
                        GROUP BY 1) x ON x.month = m
                 ORDER BY m
                """,
                first=first,
                month=ctx["month"],
                companies=ctx["companies"],
                today=ctx["today"],
            )
        )
        visits = [
            {"key": month, "label": month, "value": count, "amount": float(amount)}
            for month, count, amount in self.env.cr.fetchall()
        ]
        per_tier = self._read_group(
            [
                ("company_id", "in", ctx["companies"] + [False]),
                ("membership_tier_id", "!=", False),
            ],
            ["membership_tier_id"],
            ["__count"],
        )
        tiers = sorted(
            (
                {
                    "key": tier.id,
                    "label": tier.name,
                    "value": count,
                    "sequence": tier.sequence,
                }
                for tier, count in per_tier
            ),
            key=lambda row: (row["sequence"], row["key"]),
        )
        return {
            "stages": {"title": self.env._("Customers per Stage"), "rows": stages},
            "visits": {"title": self.env._("Done Visits per Month"), "rows": visits},
            "tiers": {"title": self.env._("Members per Tier"), "rows": tiers},
        }

    # ------------------------------------------------------------------ profile PDF
    def _hk_profile_data(self):
        """Last five done visits of the customer with their rating (customer
        profile PDF)."""
        self.ensure_one()
        visits = self.env["housekeeping.visit"].search(
            [("partner_id", "=", self.id), ("state", "=", "done")], order="date desc", limit=5
        )
        ratings = dict(
            self.env["rating.rating"]
            .sudo()
            ._read_group(
                [
                    ("res_model", "=", "housekeeping.visit"),
                    ("res_id", "in", visits.ids),
                    ("consumed", "=", True),
                    ("rating", ">", 0),
                ],
                ["res_id"],
                ["rating:avg"],
            )
        )
        stages = dict(self._fields["lifecycle_stage"]._description_selection(self.env))
        return {
            "visits": [(visit, ratings.get(visit.id)) for visit in visits],
            "stage": stages.get(self.lifecycle_stage, ""),
        }
