"""Customer portal: the customer's recurring service plans (周期服务), which they
may pause, resume, or skip one date of, no later than the company's notice period
before the visit (as for cancelling a visit on /my/visits).

Plans are reached by id only after checking that they are the logged-in
customer's (else 404), then read and written with ``sudo()``; forms are POST with
Odoo's CSRF token.
"""

from datetime import timedelta

from werkzeug.exceptions import NotFound

from odoo import fields, http
from odoo.exceptions import UserError, ValidationError
from odoo.http import request
from odoo.tools import SQL

from .portal import HousekeepingPortal


class HousekeepingPortalPlans(HousekeepingPortal):
    def _hk_own_plan(self, plan_id):
        plan = request.env["housekeeping.service.plan"].sudo().browse(plan_id).exists()
        if not plan or not plan.active or plan.partner_id != self._hk_partner():
            raise NotFound()
        # a change from the portal and one by the staff do not cross
        request.env.cr.execute(
            SQL("SELECT 1 FROM housekeeping_service_plan WHERE id = %s FOR NO KEY UPDATE", plan.id)
        )
        plan.invalidate_recordset()
        return plan

    @staticmethod
    def _hk_notice_end(plan):
        """The first moment the customer may still change on the portal."""
        return fields.Datetime.now() + timedelta(hours=plan.company_id.hk_portal_notice_hours)

    def _hk_plan_upcoming(self, plan):
        return plan.visit_ids.filtered(
            lambda v: v.state in ("draft", "scheduled") and v.date >= fields.Datetime.now()
        ).sorted("date")

    @http.route()
    def portal_visits(self, **kw):
        response = super().portal_visits(**kw)
        # a link to the plans page when the customer has one
        response.qcontext["hk_plan_count"] = (
            request.env["housekeeping.service.plan"]
            .sudo()
            .search_count([("partner_id", "=", self._hk_partner().id)])
        )
        return response

    @http.route("/my/plans", type="http", auth="user", website=True, readonly=True)
    def portal_plans(self, **kw):
        partner = self._hk_partner()
        plans = (
            request.env["housekeeping.service.plan"]
            .sudo()
            .search([("partner_id", "=", partner.id)], order="id")
        )
        upcoming = {plan.id: self._hk_plan_upcoming(plan) for plan in plans}
        changeable = {
            visit.id
            for plan in plans
            for visit in upcoming[plan.id]
            if not self._hk_change_refusal(visit)
        }
        values = self._hk_values(
            "hk_plans",
            plans=plans,
            upcoming=upcoming,
            changeable=changeable,
            rhythms=dict(plans._fields["rhythm"]._description_selection(request.env)),
            notice_line=request.env._(
                "To change this visit less than %(hours)s hours before it starts, please call us.",
                hours=(partner.company_id or request.env.company).hk_portal_notice_hours,
            ),
        )
        return request.render("housekeeping_membership.portal_my_plans", values)

    @http.route(
        "/my/plans/<int:plan_id>/pause", type="http", auth="user", methods=["POST"], website=True
    )
    def portal_pause_plan(self, plan_id, **kw):
        """Pause a plan: its visits after the notice period are removed; those
        inside it stay (too close to cancel on the portal)."""
        plan = self._hk_own_plan(plan_id)
        if plan.paused:
            return self._hk_redirect(
                "/my/plans", error=request.env._("This plan is already paused.")
            )
        keep_until = self._hk_notice_end(plan)
        kept = self._hk_plan_upcoming(plan).filtered(lambda v: v.date <= keep_until)
        plan.action_pause(keep_until=keep_until)
        plan.message_post(
            body=request.env._("Paused by the customer on the portal."),
            subtype_xmlid="mail.mt_note",
        )
        message = request.env._("Your plan is paused: no more visits are planned.")
        if kept:
            message = request.env._(
                "Your plan is paused. The visit of %(date)s is too close to be cancelled "
                "here: please call us to cancel it.",
                date=self._hk_datetime(kept[0].date),
            )
        return self._hk_redirect("/my/plans", message=message)

    @http.route(
        "/my/plans/<int:plan_id>/resume", type="http", auth="user", methods=["POST"], website=True
    )
    def portal_resume_plan(self, plan_id, **kw):
        plan = self._hk_own_plan(plan_id)
        if not plan.paused:
            return self._hk_redirect("/my/plans", error=request.env._("This plan is not paused."))
        plan.action_resume()
        plan.message_post(
            body=request.env._("Resumed by the customer on the portal."),
            subtype_xmlid="mail.mt_note",
        )
        return self._hk_redirect(
            "/my/plans",
            message=request.env._("Your plan is resumed: its visits are planned again."),
        )

    @http.route(
        "/my/plans/<int:plan_id>/skip", type="http", auth="user", methods=["POST"], website=True
    )
    def portal_skip_plan_date(self, plan_id, date=None, **kw):
        """Skip one visit of the plan (a date of its visits to come), no later than
        the notice period before it: the visit is removed and not planned again."""
        plan = self._hk_own_plan(plan_id)
        try:
            day = fields.Date.to_date(date) if date else None
        except ValueError:
            day = None
        visit = day and self._hk_plan_upcoming(plan).filtered(lambda v: v.plan_occurrence == day)
        if not visit:
            return self._hk_redirect(
                "/my/plans", error=request.env._("Choose one of the plan's visits to come.")
            )
        refusal = self._hk_change_refusal(visit[0])
        if refusal:
            return self._hk_redirect("/my/plans", error=refusal)
        when = self._hk_datetime(visit[0].date)
        try:
            with request.env.cr.savepoint():
                plan.action_skip_date(day, reason=request.env._("Skipped by the customer"))
                plan.message_post(
                    body=request.env._(
                        "The customer skipped the visit of %(date)s on the portal.", date=when
                    ),
                    subtype_xmlid="mail.mt_note",
                )
        except (UserError, ValidationError) as error:
            return self._hk_redirect("/my/plans", error=str(error))
        return self._hk_redirect(
            "/my/plans",
            message=request.env._("The visit of %(date)s is skipped.", date=when),
        )
