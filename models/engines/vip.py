from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL

from ..bulk import bulk_insert


class HousekeepingEngineVip(models.AbstractModel):
    """VIP customers (daily, ``ir_cron_vip_evaluate``): tags the customers whose
    last rated visits meet their company's satisfaction threshold with *VIP*,
    untags those it tagged who no longer do (a tag put by hand is left alone),
    then plans the periodic callback activity of each VIP. Two stages of one
    pass, batch by batch, by customer id. It also runs the engagement step of
    the visit pipeline (rating requests, journey conversions: ``_visits_done``)."""

    _name = "housekeeping.engine.vip"
    _inherit = ["housekeeping.engine"]
    _description = "VIP Engine"

    _engine_key = "vip"
    _engine_batch_param = "vip_batch_size"
    _engine_fields = ("hk_vip_since", "hk_vip_callback_date")

    @api.model
    def _vip_category(self):
        return self.env.ref("housekeeping_membership.res_partner_category_vip")

    @api.model
    def _vip_query(self, partner_ids=None, limit=None, after_id=0):
        """SQL returning ``(partner_id, action)`` rows, ``action`` being ``add`` or
        ``remove``: one statement over the latest rating of each rated done visit,
        the last N rated visits of each customer (N and the minimum average from the
        customer's company), compared with who has the VIP tag; by customer id,
        after ``after_id``."""
        scope = SQL("TRUE") if partner_ids is None else SQL("p.id = ANY(%s)", list(partner_ids))
        if after_id:
            scope = SQL("%s AND p.id > %s", scope, after_id)
        return SQL(
            """
            WITH rated AS (
                SELECT DISTINCT ON (rr.res_id) rr.res_id AS visit_id, rr.rating
                  FROM rating_rating rr
                 WHERE rr.res_model = 'housekeeping.visit' AND rr.consumed AND rr.rating > 0
                 ORDER BY rr.res_id, rr.write_date DESC, rr.id DESC
            ), ranked AS (
                SELECT v.partner_id, r.rating,
                       row_number() OVER (PARTITION BY v.partner_id
                                          ORDER BY v.date DESC, v.id DESC) AS rn
                  FROM rated r
                  JOIN housekeeping_visit v ON v.id = r.visit_id AND v.state = 'done'
            ), qualified AS (
                SELECT p.id
                  FROM ranked k
                  JOIN res_partner p ON p.id = k.partner_id
                  JOIN res_company c ON c.id = %(company)s
                 WHERE p.active AND %(scope)s AND k.rn <= GREATEST(c.hk_vip_rated_visits, 1)
                 GROUP BY p.id, c.hk_vip_rated_visits, c.hk_vip_min_average
                HAVING count(*) >= GREATEST(c.hk_vip_rated_visits, 1)
                   AND avg(k.rating) >= c.hk_vip_min_average
            ), tagged AS (
                SELECT rel.partner_id AS id, p.hk_vip_since
                  FROM res_partner_res_partner_category_rel rel
                  JOIN res_partner p ON p.id = rel.partner_id
                 WHERE rel.category_id = %(vip)s AND %(scope)s
            )
            SELECT q.id, 'add' FROM qualified q
             WHERE NOT EXISTS (SELECT 1 FROM tagged t WHERE t.id = q.id)
            UNION ALL
            SELECT t.id, 'remove' FROM tagged t
             WHERE t.hk_vip_since IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM qualified q WHERE q.id = t.id)
            ORDER BY 1
            %(limit)s
            """,
            company=self._settings_company_sql(),
            scope=scope,
            vip=self._vip_category().id,
            limit=SQL("LIMIT %s", limit) if limit else SQL(""),
        )

    @api.model
    def _vip_flush(self):
        self.env["rating.rating"].flush_model(["res_model", "res_id", "consumed", "rating"])
        self.env["housekeeping.visit"].flush_model(["partner_id", "state", "date"])
        self.env["res.company"].flush_model(["hk_vip_rated_visits", "hk_vip_min_average"])
        self.env["res.partner"].flush_model(["active", "company_id", "category_id", "hk_vip_since"])

    @api.model
    def _vip_evaluate(self, partner_ids=None, limit=None, after_id=0):
        """Tag / untag VIP customers (of id above ``after_id``); returns
        ``(changed_count, more)``."""
        rows, more = self._vip_evaluate_rows(partner_ids, limit=limit, after_id=after_id)
        return len(rows), more

    @api.model
    def _vip_evaluate_rows(self, partner_ids=None, limit=None, after_id=0):
        """``_vip_evaluate`` returning the rows ``(partner_id, action)`` applied."""
        self._vip_flush()
        self.env.cr.execute(
            self._vip_query(partner_ids, limit=limit and limit + 1, after_id=after_id)
        )
        rows = self.env.cr.fetchall()
        more = bool(limit) and len(rows) > limit
        rows = rows[:limit] if limit else rows
        if rows:
            self._vip_apply(rows)
        return rows, more

    @api.model
    def _vip_apply(self, rows):
        """Apply the VIP changes set-based: the tag (relation rows), the date, one
        chatter note each (one INSERT)."""
        today = fields.Date.context_today(self)
        vip = self._vip_category()
        added = [pid for pid, action in rows if action == "add"]
        removed = [pid for pid, action in rows if action == "remove"]
        self._apply_relation("category_id", vip.id, add_ids=added, remove_ids=removed)
        if added:
            self._apply(self._rows(id=added), {"hk_vip_since": SQL("%s::date", today)})
        if removed:
            self._apply(
                self._rows(id=removed),
                {"hk_vip_since": SQL("NULL::date"), "hk_vip_callback_date": SQL("NULL::date")},
            )
        vip.invalidate_recordset()
        # in the language of each customer's company, translated once per language
        lang_of = self._staff_langs([pid for pid, _action in rows])
        texts = {}
        for lang in set(lang_of.values()):
            env = self.with_context(lang=lang).env
            texts[lang, "add"] = env._(
                "VIP: the customer's last rated visits meet the satisfaction threshold."
            )
            texts[lang, "remove"] = env._(
                "VIP tag removed: the last rated visits no longer meet the satisfaction threshold."
            )
        self._log_notes({pid: texts[lang_of[pid], action] for pid, action in rows})

    @api.model
    def _vip_schedule_callbacks(self, today, limit=None, after_id=0):
        """Plan a callback activity for the agent of each VIP customer (of id above
        ``after_id``) whose last callback was planned at least N days ago (company
        setting) and who has no open callback; one query and one INSERT. Returns
        the ids of the customers planned, in order."""
        activity_type = self.env.ref("housekeeping_membership.mail_activity_type_callback")
        self.env["res.partner"].flush_model(
            ["hk_vip_callback_date", "user_id", "tier_agent_id", "category_id"]
        )
        self.env["mail.activity"].flush_model(["res_model", "res_id", "activity_type_id", "active"])
        self.env.cr.execute(
            SQL(
                """
            SELECT p.id, COALESCE(p.tier_agent_id, p.user_id), p.name
              FROM res_partner p
              JOIN res_partner_res_partner_category_rel rel
                ON rel.partner_id = p.id AND rel.category_id = %(vip)s
              JOIN res_company c ON c.id = %(company)s
             WHERE p.active AND p.id > %(after)s
               AND (p.hk_vip_callback_date IS NULL
                    OR p.hk_vip_callback_date <= %(today)s::date - c.hk_vip_callback_days)
               AND NOT EXISTS (SELECT 1 FROM mail_activity a
                                WHERE a.res_model = 'res.partner' AND a.res_id = p.id
                                  AND a.activity_type_id = %(type)s AND a.active)
             ORDER BY p.id
             %(limit)s
            """,
                vip=self._vip_category().id,
                company=self._settings_company_sql(),
                today=today,
                type=activity_type.id,
                after=after_id,
                limit=SQL("LIMIT %s", limit) if limit else SQL(""),
            )
        )
        rows = self.env.cr.fetchall()
        if not rows:
            return []
        model_id = self.env["ir.model"]._get_id("res.partner")
        # for staff: in the language of each customer's company, once per language
        lang_of = self._staff_langs([r[0] for r in rows])
        summaries, intros = {}, {}
        for lang in set(lang_of.values()):
            env = self.with_context(lang=lang).env
            summaries[lang] = env._("VIP callback: thank the customer and ask for feedback")
            intros[lang] = env._("Services to suggest:")
        # the services to suggest during the call, with the reason of each
        suggest = {}
        recommendations = self.env["housekeeping.recommendation"].search(
            [("partner_id", "in", [r[0] for r in rows])]
        )
        for lang in intros:
            for rec in recommendations.with_context(lang=lang).filtered(
                lambda r, lang=lang: lang_of[r.partner_id.id] == lang
            ):
                suggest.setdefault(rec.partner_id.id, []).append(
                    Markup("<li><b>%s</b>: %s</li>") % (rec.service_type_id.name, rec.explanation)
                )
        bulk_insert(
            self.env["mail.activity"],
            [
                {
                    "res_model_id": model_id,
                    "res_model": "res.partner",
                    "res_id": pid,
                    "res_name": name,
                    "activity_type_id": activity_type.id,
                    "summary": summaries[lang_of[pid]],
                    "note": (
                        Markup("<p>%s</p><ul>%s</ul>")
                        % (intros[lang_of[pid]], Markup().join(suggest[pid]))
                        if pid in suggest
                        else None
                    ),
                    "date_deadline": today,
                    "user_id": user_id or self.env.user.id,
                    "automated": True,
                    "active": True,
                }
                for pid, user_id, name in rows
            ],
        )
        self._apply(
            self._rows(id=[r[0] for r in rows]), {"hk_vip_callback_date": SQL("%s::date", today)}
        )
        self.env["res.partner"].invalidate_model(["activity_ids"])
        return [r[0] for r in rows]

    @api.model
    def _run(self):
        """Daily: tag customers who became VIP, untag those who no longer qualify
        (logged in the chatter), then plan the periodic VIP callbacks: two stages
        of one pass (``_batches``), batches of
        ``housekeeping_membership.vip_batch_size`` customers by id that commit in
        the cron; a second run changes nothing. Returns the customers tagged or
        untagged."""
        today = fields.Date.context_today(self)

        def evaluate(limit, after):
            rows, more = self._vip_evaluate_rows(limit=limit, after_id=after)
            return len(rows), len(rows), more, rows[-1][0] if rows else after

        def callbacks(limit, after):
            planned = self._vip_schedule_callbacks(today, limit=limit, after_id=after)
            # (the count returned is the tags' changes)
            return len(planned), 0, len(planned) == limit, planned[-1] if planned else after

        return self._batches(
            self._engine_key,
            self._engine_batch_param,
            [("evaluate", evaluate), ("callbacks", callbacks)],
        )

    # ------------------------------------------------------------------ visit pipeline
    @api.model
    def _visits_done(self, visits):
        """The engagement step of the visit pipeline
        (``housekeeping.visit._hk_pipeline_done``): the rating requests of the
        done ``visits`` and the journey messages they convert."""
        visits._hk_send_rating_requests()
        self._mark_conversions(visits)

    @api.model
    def _mark_conversions(self, visits):
        """A done visit converts the journey messages sent to its customer within the
        company's conversion window before it."""
        visits = visits.filtered(lambda v: v.state == "done" and v.date)
        if not visits:
            return
        send_model = self.env["housekeeping.journey.send"].sudo()
        sends = send_model.search(
            [
                ("partner_id", "in", visits.partner_id.ids),
                ("converted", "=", False),
                ("date", "<=", max(visits.mapped("date"))),
            ]
        )
        ordered = visits.sorted("date")
        converted = {}  # visit id: the sends it converts (one write per visit)
        for send in sends:
            window = timedelta(days=(send.partner_id._hk_company()).hk_conversion_days)
            visit = next(
                (
                    v
                    for v in ordered
                    if v.partner_id == send.partner_id and send.date <= v.date <= send.date + window
                ),
                None,
            )
            if visit:
                converted[visit.id] = converted.get(visit.id, send_model) | send
        for visit_id, converted_sends in converted.items():
            converted_sends.write({"converted": True, "converted_visit_id": visit_id})
