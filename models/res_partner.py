import json
import re
import socket
from collections import Counter

from dateutil.relativedelta import relativedelta
from markupsafe import escape

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from .bulk import pg_array

# Mainland China mobile numbers: optional +86 / 86 prefix, then 1[3-9] and 9 digits.
CN_MOBILE_RE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
PHONE_NOISE_RE = re.compile(r"[\s\-().]")


class ResPartner(models.Model):
    _inherit = "res.partner"

    # ------------------------------------------------------------------ basic data
    gender = fields.Selection(
        [("female", "Female"), ("male", "Male"), ("other", "Other")],
    )
    birthday = fields.Date(tracking=True)
    age = fields.Integer(compute="_compute_age")
    customer_since = fields.Date(
        help="Date of the first completed visit, or set by hand for imported customers."
    )
    acquisition_channel = fields.Selection(
        [
            ("referral", "Referral"),
            ("store", "Store / Walk-in"),
            ("wechat", "WeChat"),
            ("mini_program", "Mini Program / Online"),
            ("platform", "Local Services Platform"),
            ("phone", "Phone"),
            ("community", "Community Event"),
            ("other", "Other"),
        ],
    )
    referred_by_id = fields.Many2one(
        "res.partner",
        index="btree_not_null",
        ondelete="set null",
    )
    is_prospect = fields.Boolean(
        string="Prospect", help="A potential customer who has not been served yet."
    )

    # ------------------------------------------------------------------ household profile
    household_tag_ids = fields.Many2many(
        "housekeeping.household.tag",
        string="Household",
        help="Household composition: elderly, infants, children, pets, …",
    )
    household_size = fields.Integer(string="People in Household")
    home_area = fields.Float(string="Home Size (m²)")
    home_type = fields.Selection(
        [
            ("apartment", "Apartment"),
            ("villa", "Villa"),
            ("townhouse", "Townhouse"),
            ("office", "Office"),
            ("other", "Other"),
        ],
    )
    preferred_weekday_ids = fields.Many2many("housekeeping.weekday", string="Preferred Days")
    preferred_time_window = fields.Selection(
        [
            ("morning", "Morning (8:00-12:00)"),
            ("afternoon", "Afternoon (12:00-18:00)"),
            ("evening", "Evening (18:00-21:00)"),
            ("any", "Any Time"),
        ],
        string="Preferred Time",
    )
    prefers_eco_products = fields.Boolean(string="Eco-Friendly Products")
    prefers_hypoallergenic = fields.Boolean(string="Hypoallergenic Products")
    preferred_employee_ids = fields.Many2many(
        "hr.employee",
        "hk_partner_preferred_employee_rel",
        "partner_id",
        "employee_id",
        string="Preferred Cleaners",
    )
    blocked_employee_ids = fields.Many2many(
        "hr.employee",
        "hk_partner_blocked_employee_rel",
        "partner_id",
        "employee_id",
        string="Blocked Cleaners",
    )
    special_instructions = fields.Text(help="Keys, parking, allergies, access codes, …")

    # ------------------------------------------------------------------ service records
    visit_ids = fields.One2many("housekeeping.visit", "partner_id", string="Visits")
    complaint_ids = fields.One2many("housekeeping.complaint", "partner_id", string="Complaints")
    complaint_count = fields.Integer(compute="_compute_complaint_count")
    open_complaint_count = fields.Integer(compute="_compute_complaint_count")

    # Consumption statistics: stored, searchable, maintained set-based in SQL.
    hk_currency_id = fields.Many2one("res.currency", compute="_compute_hk_currency_id")
    visit_count = fields.Integer(string="Done Visits", readonly=True, copy=False, default=0)
    total_spent = fields.Monetary(
        currency_field="hk_currency_id", readonly=True, copy=False, default=0.0
    )
    average_ticket = fields.Monetary(
        currency_field="hk_currency_id", readonly=True, copy=False, default=0.0
    )
    first_visit_date = fields.Date(readonly=True, copy=False)
    last_visit_date = fields.Date(readonly=True, copy=False, index="btree_not_null")
    visit_interval_days = fields.Float(
        string="Typical Interval (days)",
        readonly=True,
        copy=False,
        digits=(16, 1),
        help="Median number of days between two done visits.",
    )
    preferred_service_type_id = fields.Many2one(
        "housekeeping.service.type", readonly=True, copy=False
    )
    coupon_usage_rate = fields.Float(
        string="Coupon Usage (%)", readonly=True, copy=False, digits=(16, 1)
    )

    # ------------------------------------------------------------------ computes
    @api.depends("birthday")
    def _compute_age(self):
        today = fields.Date.context_today(self)
        for partner in self:
            partner.age = relativedelta(today, partner.birthday).years if partner.birthday else 0

    @api.depends_context("company")
    def _compute_hk_currency_id(self):
        for partner in self:
            partner.hk_currency_id = (partner.company_id or self.env.company).currency_id

    def _compute_complaint_count(self):
        complaint = self.env["housekeeping.complaint"]
        groups = complaint._read_group(
            [("partner_id", "in", self.ids)], ["partner_id", "state"], ["__count"]
        )
        total, open_ = {}, {}
        for partner, state, count in groups:
            total[partner.id] = total.get(partner.id, 0) + count
            if state in complaint._OPEN_STATES:
                open_[partner.id] = open_.get(partner.id, 0) + count
        for partner in self:
            partner.complaint_count = total.get(partner.id, 0)
            partner.open_complaint_count = open_.get(partner.id, 0)

    # ------------------------------------------------------------------ constraints
    @api.constrains("phone", "country_id", "is_company")
    def _check_cn_mobile(self):
        """Individuals in China are reached on their mobile phone; companies keep
        their landline or 400 number."""
        china = self.env.ref("base.cn", raise_if_not_found=False)
        for partner in self:
            if not partner.phone or not china or partner.country_id != china or partner.is_company:
                continue
            if not CN_MOBILE_RE.match(PHONE_NOISE_RE.sub("", partner.phone)):
                raise ValidationError(
                    self.env._(
                        "%(phone)s is not a valid mainland China mobile number "
                        "(11 digits starting with 13-19, optionally prefixed by +86).",
                        phone=partner.phone,
                    )
                )

    @api.constrains("birthday")
    def _check_birthday(self):
        today = fields.Date.context_today(self)
        for partner in self:
            if partner.birthday and partner.birthday > today:
                raise ValidationError(self.env._("A birthday cannot be in the future."))
            if partner.birthday and partner.birthday.year < 1900:
                raise ValidationError(self.env._("A birthday before 1900 is not plausible."))

    @api.constrains("referred_by_id")
    def _check_referred_by(self):
        for partner in self:
            if partner.referred_by_id and partner.referred_by_id == partner:
                raise ValidationError(self.env._("A customer cannot refer themselves."))

    @api.constrains("home_area", "household_size")
    def _check_household_numbers(self):
        for partner in self:
            # written as "not in range" so that NaN (float("nan") from a form) fails too
            if not 0 <= partner.home_area <= 100000:
                raise ValidationError(self.env._("The home size must be between 0 and 100,000 m²."))
            if not 0 <= partner.household_size <= 100:
                raise ValidationError(self.env._("The household size must be between 0 and 100."))

    # ------------------------------------------------------------------ statistics engine
    def _hk_refresh_visit_stats(self):
        """Recompute the consumption statistics of ``self`` (the statistics engine,
        ``housekeeping.engine.statistics``): the first step of the visit pipeline
        (``housekeeping.visit``) and of a merge."""
        return self.env["housekeeping.engine.statistics"]._refresh_visit_stats(self.ids)

    @api.model
    @tools.ormcache()
    def _hk_main_company_id(self):
        return self.env["res.company"].sudo().search([], order="id", limit=1).id

    @api.model
    def _hk_main_company(self):
        """The company whose settings apply to customers shared between companies (no
        company of their own): the first active company, whoever asks (as superuser:
        a user of another company reads its settings too). Cached: Odoo clears the
        cache when a company is created, archived or deleted."""
        return self.env["res.company"].sudo().browse(self._hk_main_company_id())

    # from this many partners on, the reply-to is computed once per company
    _hk_reply_to_grouped_from = 50

    @api.model
    def _hk_reply_to(self, partner_ids, default, author_id, company_of=None):
        """``_notify_get_reply_to`` of the partners ``partner_ids``, computed once
        per company: a partner's reply-to is its company's catchall unless an alias
        of its own exists, so Odoo's answer for one partner of each company (and for
        the partners with an alias) holds for all of them; ``_notify_get_reply_to``
        itself reads the company and formats the address partner by partner. For a
        few partners (a visit, a button) Odoo's own costs fewer queries.
        ``company_of`` ({partner id: company id}) saves reading the companies when the
        caller has them."""
        if len(partner_ids) < self._hk_reply_to_grouped_from:
            return (
                self.browse(partner_ids)
                .sudo()
                ._notify_get_reply_to(default=default, author_id=author_id)
            )
        if company_of is None or any(pid not in company_of for pid in partner_ids):
            self.flush_model(["company_id"])
            self.env.cr.execute(
                SQL("SELECT id, company_id FROM res_partner WHERE id = ANY(%s)", partner_ids)
            )
            company_of = dict(self.env.cr.fetchall())
        first_of = {}
        for pid in partner_ids:
            first_of.setdefault(company_of.get(pid), pid)
        aliased = (
            self.env["mail.alias"]
            .sudo()
            .search_fetch(
                [
                    ("alias_parent_model_id.model", "=", self._name),
                    ("alias_parent_thread_id", "in", partner_ids),
                ],
                ["alias_parent_thread_id"],
            )
            .mapped("alias_parent_thread_id")
        )
        computed = (
            self.browse(set(first_of.values()) | set(aliased))
            .sudo()
            ._notify_get_reply_to(default=default, author_id=author_id)
        )
        return {
            pid: computed[pid] if pid in computed else computed[first_of[company_of.get(pid)]]
            for pid in partner_ids
        }

    @api.model
    def _hk_post_notes(self, bodies, message_ids=None, company_of=None):
        """Post a chatter note on each customer of ``bodies`` (``{partner id: text}``)
        with one INSERT, as the engines do for thousands of customers at once
        (``message_post`` costs a dozen queries each). Notes notify nobody.
        ``message_ids`` (``{partner id: Message-Id}``) gives notes a key of their own,
        to find them again; ``company_of`` ({partner id: company id}), when the caller
        has it, saves reading the partners' companies for the reply-to."""
        if not bodies:
            return self.env["mail.message"]
        message_ids = message_ids or {}
        partner_ids = list(bodies)
        # one statement, the values shared by every note as parameters (not one
        # JSON document of a dozen columns per note)
        source = SQL(
            """SELECT * FROM unnest(%s::int4[], %s::text[], %s::varchar[])
                      AS n(res_id, body, message_id)""",
            pg_array(partner_ids),
            pg_array(["".join(("<p>", escape(bodies[pid]), "</p>")) for pid in partner_ids]),
            pg_array([message_ids.get(pid) for pid in partner_ids]),
        )
        return self._hk_post_notes_from(
            source, partner_ids, company_of=company_of, with_message_id=True
        )

    @api.model
    def _hk_post_notes_from(self, source, partner_ids, company_of=None, with_message_id=False):
        """``_hk_post_notes`` for notes whose rows come from SQL: ``source`` returns
        the columns ``res_id`` and ``body`` (HTML), and ``message_id`` if
        ``with_message_id``, for the customers ``partner_ids``."""
        partner_ids = list(partner_ids)
        # the id alone (cached lookup): no query to check that the subtype exists
        note = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note", raise_if_not_found=True)
        author_id, email_from = self.env["mail.thread"]._message_compute_author(None)
        reply_to = self._hk_reply_to(partner_ids, email_from, author_id, company_of=company_of)
        # the reply-to is most often the same for every note: passed once, with the
        # partners that differ from the most common one
        common = Counter(value or "" for value in reply_to.values()).most_common(1)[0][0]
        others = {
            str(pid): value or "" for pid, value in reply_to.items() if (value or "") != common
        }
        message_id = SQL("n.message_id") if with_message_id else SQL("NULL")
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO mail_message (model, res_id, message_type, subtype_id, author_id,
                        email_from, reply_to, message_id, date, body,
                        create_uid, create_date, write_uid, write_date)
            SELECT 'res.partner', n.res_id, 'notification', %(note)s, %(author)s, %(email)s,
                   NULLIF(COALESCE(%(others)s::jsonb ->> n.res_id::text, %(common)s), ''),
                   -- a tracking Message-Id like Odoo's (generate_tracking_message_id),
                   -- the time first: new ids go to the end of the Message-Id index
                   -- instead of random places in it (a fifth of the INSERT's time)
                   COALESCE(%(message_id)s,
                            '<' || extract(epoch FROM clock_timestamp()) || '.'
                            || (random() * 1e15)::bigint || '-openerp-'
                            || n.res_id || '-res.partner@' || %(host)s || '>'),
                   %(now)s, n.body, %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM (%(source)s) n
            RETURNING id
            """,
                note=note,
                author=author_id,
                email=email_from,
                others=json.dumps(others),
                common=common,
                message_id=message_id,
                host=socket.gethostname(),
                now=now,
                uid=self.env.uid,
                source=source,
            )
        )
        messages = self.env["mail.message"].browse([row[0] for row in self.env.cr.fetchall()])
        # the partners' cached chatter (message_ids) does not hold the new notes
        messages.invalidate_model()
        return messages

    @api.model
    def _hk_run_batches(self, engine, batch_param, steps, default=5000, on_finish=None):
        """The engines' batch loop (``housekeeping.engine._batches``), for the engines
        not yet moved to ``models/engines``."""
        return self.env["housekeeping.engine"]._batches(
            engine, batch_param, steps, default=default, on_finish=on_finish
        )

    @api.model
    def _hk_run_chunks(self, engine, batch_param, rule_query, evaluate, default=5000):
        """The engines' keyset over candidates (``housekeeping.engine._chunks``)."""
        return self.env["housekeeping.engine"]._chunks(
            engine, batch_param, rule_query, evaluate, default=default, table=self._table
        )

    # ------------------------------------------------------------------ actions
    def action_view_visits(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "housekeeping_membership.housekeeping_visit_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id, "search_default_filter_open": 0}
        return action

    def action_view_complaints(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "housekeeping_membership.housekeeping_complaint_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    def action_schedule_callback(self):
        """Plan a callback (回访) for the customer, assigned to the current user."""
        self._hk_check_staff()
        self.ensure_one()
        self.activity_schedule(
            "housekeeping_membership.mail_activity_type_callback",
            user_id=self.user_id.id or self.env.uid,
        )
        return True
