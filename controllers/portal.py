"""Customer portal (会员中心): membership, points, check-in, referral, rewards, visits
and preferences, for the logged-in customer only.

Every route works on ``request.env.user.partner_id``; records reached by id are
checked to belong to that customer (else 404) before anything is read or written
with ``sudo()``. Forms are POST with Odoo's CSRF token.
"""

from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytz
from werkzeug.exceptions import NotFound

from odoo import fields, http
from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager
from odoo.exceptions import UserError, ValidationError
from odoo.fields import Domain
from odoo.http import request
from odoo.tools import SQL, format_date, format_datetime, plaintext2html

from ..models.trust import engine_writes

POINTS_PER_PAGE = 20
# redemptions per customer per minute (system parameter
# housekeeping_membership.portal_redeem_rate_limit)
REDEEM_RATE_LIMIT = 3
TIME_WINDOWS = ("morning", "afternoon", "evening")
# the marketing consents a customer sets on the preferences page
CONSENT_FIELDS = ("consent_email", "consent_sms")
# session key of the message or error shown once after a portal action
FLASH_KEY = "hk_portal_flash"
# size (pixels) of the referral link's QR code, big enough to scan from a screen
QR_SIZE = 240


def plain_amount(value):
    """An amount as customers write it in a coupon's terms: 500, 49.5 (no currency,
    no useless decimals: 满500减50)."""
    value = round(value or 0.0, 2)
    return str(int(value)) if value == int(value) else f"{value:g}"


class HousekeepingPortal(CustomerPortal):
    # ------------------------------------------------------------------ helpers
    def _hk_partner(self):
        return request.env.user.partner_id

    def _hk_values(self, page_name, **values):
        partner = self._hk_partner().sudo()
        # the outcome of the customer's last action, shown once: kept in the session,
        # not in the URL, where a crafted link could show any text on the company's site
        flash = request.session.pop(FLASH_KEY, None) or {}
        return self._prepare_portal_layout_values() | {
            "page_name": page_name,
            "hk_partner": partner,
            "hk_message": flash.get("message"),
            "hk_error": flash.get("error"),
            **values,
        }

    def _hk_redirect(self, url, message=None, error=None):
        if message or error:
            request.session[FLASH_KEY] = {"message": message, "error": error}
        return request.redirect(url)

    @staticmethod
    def _hk_date(value):
        """A date in the customer's language (zh_CN: 2026/12/12)."""
        return format_date(request.env, value, lang_code=request.env.lang)

    def _hk_datetime(self, value):
        """A date and time in the customer's language and time zone."""
        partner = self._hk_partner()
        return format_datetime(
            request.env,
            value,
            tz=partner.tz or request.env.user.tz or "Asia/Shanghai",
            dt_format="short",
            lang_code=request.env.lang,
        )

    def _hk_program_terms(self, program):
        """What a coupon program gives and when it applies, one line per reward in
        the customer's words (e.g. 满500减50): the discount or the reward's own
        description, and the lowest minimum purchase of the program's rules (a
        rule without a minimum makes the coupon unconditional)."""
        minimum = min(program.rule_ids.mapped("minimum_amount") or [0.0])
        terms = []
        for reward in program.reward_ids:
            if minimum and reward.reward_type == "discount" and reward.discount_mode == "per_order":
                terms.append(
                    request.env._(
                        "%(discount)s off orders of %(minimum)s or more",
                        discount=plain_amount(reward.discount),
                        minimum=plain_amount(minimum),
                    )
                )
            elif minimum:
                terms.append(
                    request.env._(
                        "%(reward)s, on orders of %(minimum)s or more",
                        reward=reward.description,
                        minimum=plain_amount(minimum),
                    )
                )
            elif reward.description:
                terms.append(reward.description)
        return terms

    def _hk_valid_until(self, day):
        return day and request.env._("Valid until %(date)s", date=self._hk_date(day))

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        partner = self._hk_partner().sudo()
        if "hk_points" in counters:
            values["hk_points"] = partner.points_balance
        if "hk_visit_count" in counters:
            values["hk_visit_count"] = (
                request.env["housekeeping.visit"]
                .sudo()
                .search_count([("partner_id", "=", partner.id), ("state", "!=", "cancelled")])
            )
        return values

    # ------------------------------------------------------------------ membership
    @http.route("/my/membership", type="http", auth="user", website=True, readonly=True)
    def portal_membership(self, **kw):
        partner = self._hk_partner().sudo()
        expiring = partner._hk_points_expiring_soon(days=30)
        values = self._hk_values(
            "hk_membership",
            expiring_points=expiring["points"],
            expiring_date=expiring["date"],
            # one translatable sentence, so that each language orders its words:
            # "1320 积分将于 2026/12/12 过期"
            expiring_line=expiring["points"]
            and request.env._(
                "%(points)s points expire on %(date)s",
                points=expiring["points"],
                date=self._hk_date(expiring["date"]),
            ),
            hk_company=partner.company_id or request.env.company,
            checked_in_today=partner.last_check_in_date == partner._hk_local_today(),
        )
        return request.render("housekeeping_membership.portal_my_membership", values)

    @http.route("/my/membership/check-in", type="http", auth="user", methods=["POST"], website=True)
    def portal_check_in(self, **kw):
        partner = self._hk_partner().sudo()
        try:
            entries = partner.action_check_in()
        except UserError as error:
            return self._hk_redirect("/my/membership", error=str(error))
        return self._hk_redirect(
            "/my/membership",
            message=request.env._(
                "Checked in: +%(points)s points.", points=sum(entries.mapped("points"))
            ),
        )

    # ------------------------------------------------------------------ points history
    @http.route(
        ["/my/points", "/my/points/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
        readonly=True,
    )
    def portal_points(self, page=1, filterby="all", **kw):
        partner = self._hk_partner()
        filters = {
            "all": {"label": request.env._("All"), "domain": []},
            "earn": {"label": request.env._("Earned"), "domain": [("points", ">", 0)]},
            "redeem": {
                "label": request.env._("Redeemed"),
                "domain": [("entry_type", "=", "redeem")],
            },
            "expire": {
                "label": request.env._("Expired"),
                "domain": [("entry_type", "=", "expire")],
            },
        }
        if filterby not in filters:
            filterby = "all"
        Entry = request.env["housekeeping.points.entry"].sudo()
        domain = [("partner_id", "=", partner.id)] + filters[filterby]["domain"]
        count = Entry.search_count(domain)
        pager = portal_pager(
            url="/my/points",
            url_args={"filterby": filterby},
            total=count,
            page=page,
            step=POINTS_PER_PAGE,
        )
        entries = Entry.search(
            domain, order="date desc, id desc", limit=POINTS_PER_PAGE, offset=pager["offset"]
        )
        values = self._hk_values(
            "hk_points",
            entries=entries,
            pager=pager,
            searchbar_filters=filters,
            filterby=filterby,
            default_url="/my/points",
            labels=dict(Entry._fields["entry_type"]._description_selection(request.env)),
            reasons=dict(Entry._fields["reason_code"]._description_selection(request.env)),
        )
        return request.render("housekeeping_membership.portal_my_points", values)

    # ------------------------------------------------------------------ referral
    @http.route("/my/referral", type="http", auth="user", website=True, readonly=True)
    def portal_referral(self, **kw):
        partner = self._hk_partner().sudo()
        # viewing the page writes nothing: a customer without a code yet gets one
        # from the page's button (POST /my/referral/code)
        code = partner.referral_code
        friends = request.env["res.partner"].sudo().search([("referred_by_id", "=", partner.id)])
        Entry = request.env["housekeeping.points.entry"].sudo()
        # a referral taken back (the friend's visit cancelled) is not rewarded
        rewarded = set(
            Entry.search(
                [
                    ("partner_id", "=", partner.id),
                    ("reason_code", "=", "referral"),
                    *Entry._standing_domain(),
                ]
            ).mapped("source_key")
        )
        share_url = code and f"{partner.get_base_url()}/housekeeping/ref/{code}"
        values = self._hk_values(
            "hk_referral",
            code=code,
            share_url=share_url,
            # a QR code of the link (Odoo's barcode route, public and cached), to
            # save or show: WeChat opens it with a long press
            qr_url=share_url
            and "/report/barcode/?"
            + urlencode(
                {
                    "barcode_type": "QR",
                    "value": share_url,
                    "width": QR_SIZE,
                    "height": QR_SIZE,
                    "barLevel": "M",
                }
            ),
            friends=friends,
            rewarded={int(key.split(":")[1]) for key in rewarded if key},
        )
        return request.render("housekeeping_membership.portal_my_referral", values)

    @http.route("/my/referral/code", type="http", auth="user", methods=["POST"], website=True)
    def portal_referral_code(self, **kw):
        """Give the customer a referral code (kept if there is one already)."""
        self._hk_partner().sudo()._hk_ensure_referral_code()
        return request.redirect("/my/referral")

    @http.route(
        "/housekeeping/ref/<string:code>", type="http", auth="public", website=True, readonly=True
    )
    def referral_link(self, code, **kw):
        """The share link: remember the code and send the friend to sign up."""
        request.session["hk_referral_code"] = (code or "")[:16].upper()
        if not request.env.user._is_public():
            return request.redirect("/my/membership")
        return request.redirect(f"/web/signup?hk_ref={code[:16]}")

    # ------------------------------------------------------------------ rewards & coupons
    # viewing the catalog only reads: the stock of a limited reward is locked by
    # the redemption (POST) alone, so visitors never wait on one another
    @http.route("/my/rewards", type="http", auth="user", website=True, readonly=True)
    def portal_rewards(self, **kw):
        partner = self._hk_partner().sudo()
        today = fields.Date.context_today(partner)
        rewards = (
            request.env["housekeeping.reward"]
            .sudo()
            .search(
                [
                    ("company_id", "in", [False, (partner.company_id or request.env.company).id]),
                    "|",
                    ("date_from", "=", False),
                    ("date_from", "<=", today),
                    "|",
                    ("date_to", "=", False),
                    ("date_to", ">=", today),
                ]
            )
        )
        available = {}
        for reward in rewards:
            if partner.points_balance < reward.points_cost:
                available[reward.id] = request.env._(
                    "%(missing)s more points needed.",
                    missing=reward.points_cost - partner.points_balance,
                )
                continue
            try:
                reward._hk_check_redeemable(partner, today)
                available[reward.id] = True
            except UserError as error:
                available[reward.id] = str(error)
        terms = {
            reward.id: (
                self._hk_program_terms(reward.loyalty_program_id)
                if reward.loyalty_program_id
                else []
            )
            + ([self._hk_valid_until(reward.date_to)] if reward.date_to else [])
            for reward in rewards
        }
        values = self._hk_values("hk_rewards", rewards=rewards, available=available, terms=terms)
        return request.render("housekeeping_membership.portal_my_rewards", values)

    @http.route(
        "/my/rewards/<int:reward_id>/redeem",
        type="http",
        auth="user",
        methods=["POST"],
        website=True,
    )
    def portal_redeem(self, reward_id, **kw):
        partner = self._hk_partner().sudo()
        reward = request.env["housekeeping.reward"].sudo().browse(reward_id).exists()
        company = (partner.company_id or request.env.company).id
        if not reward or reward.company_id.id not in (False, company):
            raise NotFound()
        recent = (
            request.env["housekeeping.points.entry"]
            .sudo()
            .search_count(
                [
                    ("partner_id", "=", partner.id),
                    ("entry_type", "=", "redeem"),
                    ("create_date", ">=", datetime.now() - timedelta(minutes=1)),
                ]
            )
        )
        limit = int(
            request.env["ir.config_parameter"]
            .sudo()
            .get_param("housekeeping_membership.portal_redeem_rate_limit", REDEEM_RATE_LIMIT)
        )
        if recent >= limit:
            return self._hk_redirect(
                "/my/rewards",
                error=request.env._("Too many redemptions in a minute: please try again later."),
            )
        try:
            # a refusal must not leave half of the redemption behind (the
            # request commits after the error is shown)
            with request.env.cr.savepoint():
                result = reward.redeem(partner)
        except (UserError, ValidationError) as error:
            return self._hk_redirect("/my/rewards", error=str(error))
        if result._name == "loyalty.card":
            message = request.env._("Redeemed! Your coupon code: %(code)s", code=result.code)
            return self._hk_redirect("/my/coupons", message=message)
        return self._hk_redirect(
            "/my/rewards",
            message=request.env._("Redeemed! We will deliver %(gift)s to you.", gift=reward.name),
        )

    @http.route("/my/coupons", type="http", auth="user", website=True, readonly=True)
    def portal_coupons(self, **kw):
        partner = self._hk_partner()
        cards = (
            request.env["loyalty.card"]
            .sudo()
            .search(
                [
                    ("partner_id", "=", partner.id),
                    ("program_id.program_type", "=", "coupons"),
                    ("points", ">", 0),
                ],
                order="id desc",
            )
        )
        programs = cards.program_id
        program_terms = {program.id: self._hk_program_terms(program) for program in programs}
        values = self._hk_values(
            "hk_coupons",
            cards=cards,
            terms={card.id: program_terms[card.program_id.id] for card in cards},
            validity={
                card.id: self._hk_valid_until(card.expiration_date or card.program_id.date_to)
                for card in cards
            },
        )
        return request.render("housekeeping_membership.portal_my_coupons", values)

    # ------------------------------------------------------------------ visits
    @staticmethod
    def _hk_service_type_domain(partner):
        """The services a customer may request: its company's and those shared by
        every company (a service type of another company cannot serve it)."""
        return request.env["housekeeping.service.type"]._check_company_domain(
            partner.company_id or request.env.company
        )

    def _hk_own_visit(self, visit_id):
        visit = request.env["housekeeping.visit"].sudo().browse(visit_id).exists()
        if not visit or visit.partner_id != self._hk_partner():
            raise NotFound()
        return visit

    @staticmethod
    def _hk_change_refusal(visit):
        """Why the customer can no longer cancel or move ``visit`` on the portal
        (``None`` if they can): only a visit to come, and no later than the
        company's notice period before it starts."""
        if visit.state not in ("draft", "scheduled"):
            return request.env._("This visit can no longer be changed.")
        hours = visit.company_id.hk_portal_notice_hours
        if visit.date and visit.date < fields.Datetime.now() + timedelta(hours=hours):
            return request.env._(
                "A visit can be cancelled or moved up to %(hours)s hours before it starts: "
                "please call us.",
                hours=hours,
            )
        return None

    def _hk_locked_visit(self, visit_id):
        """The customer's visit, its row locked: a change from the portal and one by
        the staff (done, moved) do not cross."""
        visit = self._hk_own_visit(visit_id)
        request.env.cr.execute(
            SQL("SELECT 1 FROM housekeeping_visit WHERE id = %s FOR NO KEY UPDATE", visit.id)
        )
        visit.invalidate_recordset()
        return visit

    @http.route("/my/visits", type="http", auth="user", website=True, readonly=True)
    def portal_visits(self, **kw):
        partner = self._hk_partner()
        Visit = request.env["housekeeping.visit"].sudo()
        upcoming = Visit.search(
            [("partner_id", "=", partner.id), ("state", "in", ("draft", "scheduled"))],
            order="date",
        )
        past = Visit.search(
            [("partner_id", "=", partner.id), ("state", "=", "done")], order="date desc", limit=20
        )
        service_types = (
            request.env["housekeeping.service.type"]
            .sudo()
            .search(self._hk_service_type_domain(partner))
        )
        # a one-click booking link (next-visit nudge) pre-fills the request form
        prefill_service = (
            kw.get("service_type_id") if str(kw.get("service_type_id", "")).isdigit() else None
        )
        try:
            prefill_date = fields.Date.to_date(kw.get("date")) if kw.get("date") else None
        except ValueError:
            prefill_date = None
        values = self._hk_values(
            "hk_visits",
            # the visits the customer may still cancel or move (notice period)
            changeable={visit.id for visit in upcoming if not self._hk_change_refusal(visit)},
            notice_line=request.env._(
                "To change this visit less than %(hours)s hours before it starts, please call us.",
                hours=(partner.company_id or request.env.company).hk_portal_notice_hours,
            ),
            prefill_service=prefill_service,
            prefill_date=prefill_date and prefill_date.isoformat(),
            upcoming=upcoming,
            past=past,
            service_types=service_types,
            time_windows=dict(
                request.env["res.partner"]
                ._fields["preferred_time_window"]
                ._description_selection(request.env)
            ),
        )
        return request.render("housekeeping_membership.portal_my_visits", values)

    @http.route(
        "/my/visits/<int:visit_id>/rate", type="http", auth="user", methods=["POST"], website=True
    )
    def portal_rate_visit(self, visit_id, score=None, comment="", **kw):
        visit = self._hk_own_visit(visit_id)
        try:
            score = int(score)
        except (TypeError, ValueError):
            score = 0
        if visit.state != "done" or score not in (1, 2, 3, 4, 5):
            return self._hk_redirect(
                "/my/visits", error=request.env._("Choose a score from 1 to 5 for a done visit.")
            )
        given = visit._hk_given_rating()
        if given:
            # one rating per visit: the page shows the first one, nothing is written
            return self._hk_redirect(
                "/my/visits",
                error=request.env._(
                    "You already rated this visit %(score)s/5: a visit is rated once.",
                    score=int(given.rating),
                ),
            )
        token = visit._rating_get_access_token()
        visit.rating_apply(score, token=token, feedback=(comment or "")[:2000])
        return self._hk_redirect("/my/visits", message=request.env._("Thank you for your rating!"))

    @http.route(
        "/my/visits/<int:visit_id>/cancel", type="http", auth="user", methods=["POST"], website=True
    )
    def portal_cancel_visit(self, visit_id, **kw):
        """Cancel a visit to come, up to the company's notice period before it."""
        visit = self._hk_locked_visit(visit_id)
        refusal = self._hk_change_refusal(visit)
        if refusal:
            return self._hk_redirect("/my/visits", error=refusal)
        try:
            with request.env.cr.savepoint():
                visit.action_cancel()
                visit.message_post(
                    body=request.env._("Cancelled by the customer on the portal."),
                    subtype_xmlid="mail.mt_note",
                )
        except (UserError, ValidationError) as error:
            return self._hk_redirect("/my/visits", error=str(error))
        return self._hk_redirect(
            "/my/visits",
            message=request.env._(
                "Your visit of %(date)s is cancelled.", date=self._hk_datetime(visit.date)
            ),
        )

    @http.route(
        "/my/visits/<int:visit_id>/reschedule",
        type="http",
        auth="user",
        methods=["POST"],
        website=True,
    )
    def portal_reschedule_visit(self, visit_id, date=None, comment="", **kw):
        """Ask to move a visit: the request goes to the visit's agent (a note and an
        activity), the date changes only when the staff agrees it with the customer."""
        visit = self._hk_locked_visit(visit_id)
        refusal = self._hk_change_refusal(visit)
        if refusal:
            return self._hk_redirect("/my/visits", error=refusal)
        partner = self._hk_partner().sudo()
        try:
            day = fields.Date.to_date(date) if date else None
        except ValueError:
            day = False
        if day is False or (day and day < fields.Date.context_today(partner)):
            return self._hk_redirect(
                "/my/visits", error=request.env._("Choose a new date from today on.")
            )
        comment = (comment or "").strip()[:2000]
        lines = [
            request.env._(
                "The customer asks to move the visit of %(date)s.",
                date=self._hk_datetime(visit.date),
            )
        ]
        if day:
            lines.append(request.env._("Preferred date: %(date)s", date=self._hk_date(day)))
        if comment:
            lines.append(request.env._("Message: %(comment)s", comment=comment))
        note = plaintext2html("\n".join(lines))
        visit.message_post(body=note, subtype_xmlid="mail.mt_note")
        visit.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=request.env._("Reschedule requested by the customer"),
            note=note,
            user_id=(visit.user_id or partner.user_id or partner._hk_fallback_agent()).id,
        )
        return self._hk_redirect(
            "/my/visits",
            message=request.env._(
                "Request received: we will call you to agree on a new date. Until then, "
                "the visit stays as planned."
            ),
        )

    @http.route("/my/visits/request", type="http", auth="user", methods=["POST"], website=True)
    def portal_request_visit(self, service_type_id=None, date=None, time_window=None, **kw):
        partner = self._hk_partner().sudo()
        service_id = int(service_type_id) if (service_type_id or "").isdigit() else 0
        # one of the services the form offers: the customer's company's or shared
        service = (
            request.env["housekeeping.service.type"]
            .sudo()
            .search(Domain("id", "=", service_id) & self._hk_service_type_domain(partner), limit=1)
        )
        try:
            day = fields.Date.to_date(date)
        except ValueError:
            day = None
        today = fields.Date.context_today(partner)
        if not service or not day or day < today or time_window not in TIME_WINDOWS:
            return self._hk_redirect(
                "/my/visits",
                error=request.env._("Choose a service, a date from today on and a time of day."),
            )
        hour = {"morning": 9, "afternoon": 14, "evening": 18}[time_window]
        local = pytz.timezone(partner.tz or "Asia/Shanghai").localize(
            datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)
        )
        try:
            with request.env.cr.savepoint():
                visit = (
                    request.env["housekeeping.visit"]
                    .sudo()
                    .create(
                        {
                            "partner_id": partner.id,
                            "service_type_id": service.id,
                            "date": local.astimezone(pytz.utc).replace(tzinfo=None),
                            "company_id": (partner.company_id or request.env.company).id,
                            "user_id": (partner.user_id or partner._hk_fallback_agent()).id,
                            "notes": request.env._(
                                "Requested on the portal (%(window)s).", window=time_window
                            ),
                        }
                    )
                )
        except (UserError, ValidationError) as error:
            # a date too far ahead, a service the company does not offer: the form
            # says why, nothing is created
            return self._hk_redirect("/my/visits", error=str(error))
        visit.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=request.env._("Confirm the visit requested on the portal"),
            user_id=visit.user_id.id,
        )
        return self._hk_redirect(
            "/my/visits", message=request.env._("Request received: we will confirm it soon.")
        )

    # ------------------------------------------------------------------ preferences
    PREFERENCE_FIELDS = (
        "household_size",
        "home_area",
        "home_type",
        "preferred_time_window",
        "prefers_eco_products",
        "prefers_hypoallergenic",
        "special_instructions",
    )

    @http.route(
        "/my/preferences", type="http", auth="user", website=True, methods=["GET"], readonly=True
    )
    def portal_preferences(self, **kw):
        partner = self._hk_partner().sudo()
        Partner = request.env["res.partner"]
        values = self._hk_values(
            "hk_preferences",
            home_types=dict(Partner._fields["home_type"]._description_selection(request.env)),
            time_windows=dict(
                Partner._fields["preferred_time_window"]._description_selection(request.env)
            ),
            weekdays=request.env["housekeeping.weekday"].sudo().search([]),
            household_tags=request.env["housekeeping.household.tag"].sudo().search([]),
            consent_fields=CONSENT_FIELDS,
            partner=partner,
        )
        return request.render("housekeeping_membership.portal_my_preferences", values)

    @http.route("/my/preferences", type="http", auth="user", website=True, methods=["POST"])
    def portal_preferences_save(self, **post):
        partner = self._hk_partner().sudo()
        Partner = request.env["res.partner"]
        vals = {}
        try:
            vals["household_size"] = int(post.get("household_size") or 0)
            vals["home_area"] = float(post.get("home_area") or 0)
        except ValueError:
            return self._hk_redirect(
                "/my/preferences", error=request.env._("Household size and home size are numbers.")
            )
        for name in ("home_type", "preferred_time_window"):
            value = post.get(name) or False
            allowed = dict(Partner._fields[name]._description_selection(request.env))
            if value and value not in allowed:
                return self._hk_redirect("/my/preferences", error=request.env._("Invalid choice."))
            vals[name] = value
        vals["prefers_eco_products"] = bool(post.get("prefers_eco_products"))
        vals["prefers_hypoallergenic"] = bool(post.get("prefers_hypoallergenic"))
        vals["special_instructions"] = (post.get("special_instructions") or "")[:2000]
        weekday_ids = request.httprequest.form.getlist("preferred_weekday_ids")
        tag_ids = request.httprequest.form.getlist("household_tag_ids")
        vals["preferred_weekday_ids"] = [
            (
                6,
                0,
                request.env["housekeeping.weekday"]
                .sudo()
                .browse([int(i) for i in weekday_ids if i.isdigit()])
                .exists()
                .ids,
            )
        ]
        vals["household_tag_ids"] = [
            (
                6,
                0,
                request.env["housekeeping.household.tag"]
                .sudo()
                .browse([int(i) for i in tag_ids if i.isdigit()])
                .exists()
                .ids,
            )
        ]
        for name in CONSENT_FIELDS:
            vals[name] = bool(post.get(name))
        if any(vals[name] != partner[name] for name in CONSENT_FIELDS):
            # the consent record says how the decision was last made
            vals["consent_source"] = "website"
        try:
            # roll the refused values back: the request commits after the message
            with request.env.cr.savepoint():
                partner.write(vals)
        except (UserError, ValidationError) as error:
            return self._hk_redirect("/my/preferences", error=str(error))
        return self._hk_redirect("/my/preferences", message=request.env._("Preferences saved."))

    @http.route(
        "/my/preferences/data-request", type="http", auth="user", website=True, methods=["POST"]
    )
    def portal_data_request(self, kind=None, **kw):
        """PIPL: a request to export or delete personal data, tracked for staff."""
        partner = self._hk_partner().sudo()
        labels = {
            "export": request.env._("Export my personal data"),
            "delete": request.env._("Delete my personal data"),
        }
        if kind not in labels:
            return self._hk_redirect("/my/preferences", error=request.env._("Invalid request."))
        partner.message_post(
            body=request.env._("Data request from the customer: %(kind)s", kind=labels[kind]),
            subtype_xmlid="mail.mt_note",
        )
        if kind == "delete":
            # a membership manager confirms it with the Anonymize action (PIPL)
            with engine_writes("hk_deletion_requested"):
                partner.hk_deletion_requested = fields.Datetime.now()
        partner.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=labels[kind],
            note=request.env._(
                "Check the request, then use Anonymize (Deletion Request) on the customer."
            )
            if kind == "delete"
            else False,
            date_deadline=fields.Date.context_today(partner) + timedelta(days=15),
            user_id=(partner.user_id or partner._hk_fallback_agent()).id,
        )
        return self._hk_redirect(
            "/my/preferences",
            message=request.env._("Your request was recorded: we answer within 15 days."),
        )
