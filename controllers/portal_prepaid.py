"""Customer portal: paying a visit to come from the prepaid balance (储值卡支付).

The visit is reached by id only after checking that it is the logged-in
customer's (else 404) and its row is locked; the prepaid engine then locks the
customer's eWallet, checks the balance under the lock and debits it at once
(``housekeeping.engine.prepaid._pay_in_advance``): the money is reserved for the
visit, completing it debits nothing more, cancelling it credits it back. A
refusal (balance short, not payable, already paid) is shown with nothing changed.
The form is POST with Odoo's CSRF token.
"""

from odoo import http
from odoo.exceptions import UserError, ValidationError
from odoo.http import request
from odoo.tools import format_amount

from .portal_plans import HousekeepingPortalPlans


class HousekeepingPortalPrepaid(HousekeepingPortalPlans):
    @http.route()
    def portal_visits(self, **kw):
        response = super().portal_visits(**kw)
        upcoming = response.qcontext.get("upcoming")
        if upcoming is None:
            return response
        paid = request.env["housekeeping.engine.prepaid"].sudo()._visits_paid_in_advance(upcoming)
        partner = self._hk_partner().sudo()
        response.qcontext.update(
            hk_paid_in_advance=paid,
            # what the button offers: a priced visit to come, not paid yet, when the
            # customer holds a balance (the route checks it again under a lock)
            hk_payable={
                visit.id
                for visit in upcoming
                if visit.id not in paid
                and visit.amount > 0
                and not visit.is_paid
                and visit.payment_method != "package"
            }
            if partner.prepaid_balance > 0
            else set(),
            hk_prepaid_balance=partner.prepaid_balance,
            hk_prepaid_currency=partner.prepaid_currency_id,
        )
        return response

    @http.route(
        "/my/visits/<int:visit_id>/pay", type="http", auth="user", methods=["POST"], website=True
    )
    def portal_pay_visit(self, visit_id, **kw):
        """Pay a visit to come from the customer's prepaid balance, now."""
        visit = self._hk_locked_visit(visit_id)
        try:
            # a refusal leaves nothing behind (the request commits after the message)
            with request.env.cr.savepoint():
                request.env["housekeeping.engine.prepaid"].sudo()._pay_in_advance(visit)
                visit.message_post(
                    body=request.env._(
                        "Paid in advance from the prepaid balance by the customer on the "
                        "portal: %(amount)s.",
                        amount=format_amount(request.env, visit.amount, visit.currency_id),
                    ),
                    subtype_xmlid="mail.mt_note",
                )
        except (UserError, ValidationError) as error:
            return self._hk_redirect("/my/visits", error=str(error))
        partner = self._hk_partner().sudo()
        partner.invalidate_recordset(["prepaid_balance"])
        return self._hk_redirect(
            "/my/visits",
            message=request.env._(
                "Paid %(amount)s from your prepaid balance; %(balance)s left.",
                amount=format_amount(request.env, visit.amount, visit.currency_id),
                balance=format_amount(
                    request.env, partner.prepaid_balance, partner.prepaid_currency_id
                ),
            ),
        )
