from datetime import timedelta

from markupsafe import Markup

from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date


class HousekeepingVisit(models.Model):
    _inherit = "housekeeping.visit"  # pylint: disable=consider-merging-classes-inherited  # until the engines move to models/engines (architecture issue)

    rating_request_sent = fields.Boolean(
        readonly=True, copy=False, help="A satisfaction survey was e-mailed to the customer."
    )

    # ------------------------------------------------------------------ survey
    def _hk_send_rating_requests(self):
        """E-mail the satisfaction survey (Odoo's rating request, /rate/<token>/<score>)
        for the done visits of ``self`` whose customer has an e-mail address and gave
        e-mail consent; queued, never sent inline."""
        template = self.env.ref(
            "housekeeping_membership.mail_template_visit_rating", raise_if_not_found=False
        )
        if not template or self.env.context.get("hk_demo"):
            # the demo's three years of history ask nobody for a rating
            return self.browse()
        visits = self.filtered(
            lambda v: (
                v.state == "done"
                and not v.rating_request_sent
                and v.company_id.hk_survey_enabled
                and v.partner_id.email
                and v.partner_id.consent_email
            )
        )
        for visit in visits:
            visit.rating_send_request(template, lang=visit.partner_id.lang, force_send=False)
        visits.write({"rating_request_sent": True})
        return visits

    # ------------------------------------------------------------------ ratings
    def action_record_rating(self, score, feedback=None):
        """Record a score given on the phone (1-5) through Odoo's rating. A visit
        is rated once: a visit the customer already rated (portal, survey link or
        an earlier call) is refused with the rating it has."""
        self.ensure_one()
        # a staff action: a customer rates through the portal or the survey link
        self.check_access("write")
        if self.state != "done":
            raise UserError(self.env._("Only done visits can be rated."))
        try:
            score = int(score)
        except (TypeError, ValueError):
            score = 0
        if not 1 <= score <= 5:
            raise UserError(self.env._("A satisfaction score is between 1 and 5."))
        given = self._hk_given_rating()
        if given:
            raise UserError(self._hk_already_rated_message(given))
        token = self._rating_get_access_token()
        return self.rating_apply(score, token=token, feedback=feedback)

    def _hk_given_rating(self):
        """The rating the customer gave on this visit (the first one if the data
        holds several), or an empty recordset: one rating per visit."""
        self.ensure_one()
        return (
            self.env["rating.rating"]
            .sudo()
            .search(
                [("res_model", "=", self._name), ("res_id", "=", self.id), ("consumed", "=", True)],
                order="id",
                limit=1,
            )
        )

    def _hk_already_rated_message(self, rating):
        return self.env._(
            "The visit %(visit)s was already rated %(score)s/5 on %(date)s: a visit is "
            "rated once, and its rating stays as given.",
            visit=self.display_name,
            score=int(rating.rating),
            date=format_date(self.env, rating.write_date),
        )

    def rating_apply(
        self, rate, token=None, rating=None, feedback=None, subtype_xmlid=None, **kwargs
    ):
        """One rating per visit, on every path (portal form, the survey's
        /rate/<token> page, a phone score): a visit already rated keeps its
        rating; the first one is returned and nothing is written (no new value,
        complaint, activity or message). Callers have write access to the visit
        (staff) or run as superuser after their own check (the portal and the
        /rate controllers), as Odoo's rating_apply expects.

        Two first ratings at the same moment (a double click) cannot both land:
        giving a rating recomputes the visit's stored ``rating_last_value``, so
        both transactions write the visit's row and the later one fails to
        serialize; Odoo retries its request, which then finds the first rating."""
        self.check_access("write")
        if len(self) == 1:
            given = self._hk_given_rating()
            if given:
                return given
        rating = super().rating_apply(
            rate,
            token=token,
            rating=rating,
            feedback=feedback,
            subtype_xmlid=subtype_xmlid,
            **kwargs,
        )
        visit = self.browse(rating.res_id) if rating.res_model == self._name else self.browse()
        if visit:
            visit._hk_after_rating(rating)
        return rating

    def _hk_after_rating(self, rating):
        """Low score: a complaint with a service-recovery activity due in 24 hours.
        Then the VIP status of the customer is evaluated at once."""
        self.ensure_one()
        threshold = self.company_id.hk_complaint_score
        if rating.rating and rating.rating <= threshold:
            self._hk_open_recovery_complaint(rating)
        self.partner_id.sudo()._hk_vip_evaluate(partner_ids=self.partner_id.ids)

    def _hk_open_recovery_complaint(self, rating):
        self.ensure_one()
        complaint_model = self.env["housekeeping.complaint"].sudo()
        if complaint_model.search_count(
            [
                ("visit_id", "=", self.id),
                ("rating_id", "=", rating.id),
                ("state", "in", complaint_model._OPEN_STATES),
            ]
        ):
            return complaint_model
        responsible = self.user_id or self.partner_id.user_id
        if not responsible and not self.env.user.share:
            responsible = self.env.user
        complaint = complaint_model.create(
            {
                "name": self.env._(
                    "Low satisfaction score (%(score)s/5) on %(visit)s",
                    score=int(rating.rating),
                    visit=self.display_name,
                ),
                "partner_id": self.partner_id.id,
                "visit_id": self.id,
                "employee_id": self.employee_id.id,
                "category": "quality",
                "severity": "high" if rating.rating <= 1 else "medium",
                "description": Markup("<p>%s</p>") % (rating.feedback or ""),
                "user_id": responsible.id,
                "company_id": self.company_id.id,
                "rating_id": rating.id,
            }
        )
        complaint.activity_schedule(
            "housekeeping_membership.mail_activity_type_service_recovery",
            date_deadline=fields.Date.to_date(fields.Datetime.now() + timedelta(hours=24)),
            summary=self.env._("Service recovery: call the customer within 24 hours"),
            user_id=responsible.id or False,
        )
        return complaint


class HousekeepingComplaint(models.Model):
    _inherit = "housekeeping.complaint"  # pylint: disable=consider-merging-classes-inherited  # until merged into models/housekeeping_complaint.py (architecture issue)

    rating_id = fields.Many2one(
        "rating.rating", string="From Rating", readonly=True, ondelete="set null"
    )
