from odoo import http
from odoo.addons.rating.controllers.main import Rating
from odoo.http import request


class HousekeepingEngagement(http.Controller):
    def _hk_readonly_on_get(self, rule, args):
        """Read-only for GET (the confirmation page writes nothing: a read replica
        may serve it), read/write for the POST that unsubscribes."""
        return request.httprequest.method in ("GET", "HEAD")

    @http.route(
        "/housekeeping/unsubscribe/<int:partner_id>/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,  # RFC 8058 one-click unsubscribe posts without a session
        sitemap=False,
        readonly=_hk_readonly_on_get,
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


class HousekeepingRating(Rating):
    """Odoo's survey pages (/rate/<token>/<score>, the links of the satisfaction
    e-mail) on a visit the customer already rated, through any path: the page
    shows that first rating and nothing is written (one rating per visit)."""

    @http.route()
    def action_open_rating(self, token, rate, **kwargs):
        given = self._hk_given_visit_rating(token)
        if given:
            return self._hk_render_given_rating(given)
        return super().action_open_rating(token, rate, **kwargs)

    @http.route()
    def action_submit_rating(self, token, rate=0, **kwargs):
        given = self._hk_given_visit_rating(token)
        if given:
            return self._hk_render_given_rating(given)
        return super().action_submit_rating(token, rate=rate, **kwargs)

    def _hk_given_visit_rating(self, token):
        """The rating already given on the visit of ``token`` (empty if the token
        is not a visit's, or the visit is not rated yet)."""
        no_rating = request.env["rating.rating"].sudo()
        rating = no_rating.search([("access_token", "=", token)], limit=1) if token else no_rating
        if not rating or rating.res_model != "housekeeping.visit":
            return no_rating
        visit = request.env["housekeeping.visit"].sudo().browse(rating.res_id).exists()
        if not visit:
            return no_rating
        user = request.env.user
        if (
            not user._is_public()
            and user.partner_id.commercial_partner_id != rating.partner_id.commercial_partner_id
        ):
            # Odoo's page refuses another customer's link: let it say so
            return no_rating
        return visit._hk_given_rating()

    def _hk_render_given_rating(self, rating):
        if rating.partner_id.lang:
            request.update_context(lang=rating.partner_id.lang)
        visit = request.env["housekeeping.visit"].sudo().browse(rating.res_id)
        return request.render(
            "housekeeping_membership.visit_rating_given_page",
            {
                "rating": rating,
                "visit": visit,
                "score": int(rating.rating),
                "web_base_url": rating.get_base_url(),
            },
        )
