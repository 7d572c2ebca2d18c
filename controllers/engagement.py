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
        """The link of every marketing message. The signed token in the link (HMAC
        of the customer id) is the only credential, so no login is needed.

        GET only shows a confirmation page (link scanners and previews open links:
        they must not unsubscribe anyone); the page's button POSTs to the same URL,
        and so does a mail client's one-click unsubscribe (``List-Unsubscribe=
        One-Click``, RFC 8058). Only a POST withdraws the consents."""
        partner = request.env["res.partner"].sudo().browse(partner_id).exists()
        if not partner or not partner._hk_check_unsubscribe_token(token):
            return request.render(
                "housekeeping_membership.unsubscribe_page", {"state": "invalid"}, status=404
            )
        if partner.lang:
            request.update_context(lang=partner.lang)
        values = {"partner": partner, "action_url": request.httprequest.path}
        if request.httprequest.method != "POST":
            subscribed = partner.consent_email or partner.consent_sms
            values["state"] = "confirm" if subscribed else "already"
            return request.render("housekeeping_membership.unsubscribe_page", values)
        one_click = kwargs.get("List-Unsubscribe") == "One-Click"
        partner._hk_unsubscribe(channel="one_click" if one_click else "page")
        values["state"] = "done"
        return request.render("housekeeping_membership.unsubscribe_page", values)
