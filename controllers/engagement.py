from odoo import http
from odoo.http import request


class HousekeepingEngagement(http.Controller):
    @http.route(
        "/housekeeping/unsubscribe/<int:partner_id>/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,  # RFC 8058 one-click unsubscribe posts without a session
        sitemap=False,
    )
    def unsubscribe(self, partner_id, token, **kwargs):
        """Withdraw the customer's e-mail and SMS consents; the signed token in the
        link (HMAC of the customer id) is the only credential."""
        partner = request.env["res.partner"].sudo().browse(partner_id).exists()
        if not partner or not partner._hk_check_unsubscribe_token(token):
            return request.render(
                "housekeeping_membership.unsubscribe_page", {"valid": False}, status=404
            )
        partner._hk_unsubscribe()
        return request.render(
            "housekeeping_membership.unsubscribe_page", {"valid": True, "partner": partner}
        )
