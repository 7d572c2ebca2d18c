from datetime import timedelta

import pytz
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_date

from .trust import engine_writes, is_open

PAYMENT_METHODS = [
    ("cash", "Cash"),
    ("wechat", "WeChat Pay"),
    ("alipay", "Alipay"),
    ("card", "Bank Card"),
    ("prepaid", "Prepaid Balance"),
    ("package", "Visit Package"),
    ("other", "Other"),
]

# A done visit may be dated at most this far in the future (clock skew, time zones).
FUTURE_TOLERANCE = timedelta(hours=1)

# Opened (trust.engine_writes) by the state buttons only: a visit's state is
# written by them and by nothing a client sends (no context key opens it).
STATE_ACTION = "visit_state"

# The states of a visit still to do (priority booking ranks them).
OPEN_STATES = ("draft", "scheduled")

# The reserved time windows of priority booking, in local hours [start, stop).
WINDOW_HOURS = {"morning": (8, 12), "afternoon": (12, 18), "evening": (18, 21)}


class HousekeepingVisit(models.Model):
    _name = "housekeeping.visit"
    _description = "Service Visit"
    _inherit = ["rating.mixin", "mail.thread", "mail.activity.mixin"]
    # Priority booking: visits still to do of customers in a priority tier come
    # first; done and cancelled visits rank 0, so a customer's history reads by date
    # and a tier change rewrites only the visits still to do.
    _order = "tier_sequence desc, date desc, id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Reference", required=True, readonly=True, copy=False, default="/", index="trigram"
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        ondelete="restrict",
    )
    service_type_id = fields.Many2one(
        "housekeeping.service.type",
        required=True,
        tracking=True,
        ondelete="restrict",
        check_company=True,
    )
    date = fields.Datetime(tracking=True, index=True)
    duration = fields.Float(
        string="Duration (hours)",
        compute="_compute_duration",
        store=True,
        readonly=False,
        precompute=True,
        help="The service type's default duration, which can be changed.",
    )
    employee_id = fields.Many2one(
        "hr.employee", string="Cleaner", tracking=True, index="btree_not_null", check_company=True
    )
    user_id = fields.Many2one(
        "res.users", string="Service Agent", default=lambda self: self.env.user, tracking=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    amount = fields.Monetary(tracking=True)
    payment_method = fields.Selection(PAYMENT_METHODS, tracking=True)
    coupon_card_id = fields.Many2one(
        "loyalty.card",
        string="Coupon Used",
        ondelete="set null",
        help="The coupon (loyalty card) the customer used for this visit.",
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("scheduled", "Scheduled"),
            ("done", "Done"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        tracking=True,
        index=True,
        copy=False,
    )
    done_date = fields.Datetime(readonly=True, copy=False)
    notes = fields.Html()
    sale_order_id = fields.Many2one(
        "sale.order", index="btree_not_null", ondelete="set null", copy=False
    )
    sale_line_id = fields.Many2one(
        "sale.order.line", index="btree_not_null", ondelete="set null", copy=False
    )
    complaint_ids = fields.One2many("housekeeping.complaint", "visit_id")
    # Contact data shown on the visit for the cleaner and the agent.
    partner_phone = fields.Char(related="partner_id.phone", string="Phone")
    special_instructions = fields.Text(related="partner_id.special_instructions")
    partner_address = fields.Char(related="partner_id.contact_address", string="Address")
    partner_rating_avg = fields.Float(
        related="partner_id.hk_rating_avg", string="Customer Satisfaction"
    )
    # the calendar's entry: customer, district and service, short enough to read
    # when visits overlap
    calendar_name = fields.Char(compute="_compute_calendar_name")

    _amount_positive = models.Constraint(
        "CHECK(amount >= 0)", "The amount of a visit cannot be negative."
    )
    _duration_positive = models.Constraint(
        "CHECK(duration >= 0 AND duration <= 744)",
        "The duration of a visit must be between 0 and 744 hours.",
    )
    # the visits list in its default order (_order): its first page read from the
    # index, not a sort of every visit (3.4 s at 11.8M visits, 0.3 ms with it)
    _list_order_idx = models.Index("(tier_sequence, date, id)")
    # a customer's done visits in date order (statistics, lifecycle); the amount
    # rides along so that RFM's window sums read the index alone
    _partner_date_idx = models.Index("(partner_id, date) INCLUDE (amount) WHERE state = 'done'")
    # the done visits of a cleaner's day (visits without a cleaner under 0): how
    # housekeeping.visit.fact._hk_refresh finds the visits of a fact key
    _fact_key_idx = models.Index("(COALESCE(employee_id, 0), date) WHERE state = 'done'")

    # ------------------------------------------------------------------ CRUD
    @api.depends("service_type_id")
    def _compute_duration(self):
        for visit in self:
            visit.duration = visit.service_type_id.default_duration or visit.duration or 2.0

    @api.depends("partner_id.name", "partner_id.city", "partner_id.street", "service_type_id")
    def _compute_calendar_name(self):
        for visit in self:
            partner = visit.partner_id
            visit.calendar_name = " · ".join(
                part
                for part in (
                    partner.name,
                    partner.city or partner.street,
                    visit.service_type_id.name,
                )
                if part
            )

    @api.model_create_multi
    def create(self, vals_list):
        """A visit created already done runs the pipeline of a completion; one
        created already scheduled (a sale order with a delivery date, an import,
        the portal) is checked as when a draft one is scheduled: reserved slots and
        the cleaner's other bookings (priority booking)."""
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code("housekeeping.visit") or "/"
        visits = super().create(vals_list)
        # dispatch: a blocked cleaner is refused, skills ask a manager's confirmation
        visits.filtered("employee_id")._hk_check_cleaner()
        done = visits.filtered(lambda v: v.state == "done")
        if done:
            done._hk_check_done()
            done._hk_pipeline_done()
        scheduled = visits.filtered(lambda v: v.state == "scheduled")
        # a confirmed sale order (paid online, signed on the portal) is not refused
        # for its delivery date: its visit waits in draft for an agent instead
        from_sale = scheduled.filtered("sale_order_id")
        (scheduled - from_sale)._hk_check_reserved_slot()
        (scheduled - from_sale)._hk_resolve_cleaner_conflicts()
        for visit in from_sale:
            try:
                with self.env.cr.savepoint():
                    visit._hk_check_reserved_slot()
                    visit._hk_resolve_cleaner_conflicts()
            except UserError as error:
                visit._hk_write_state({"state": "draft"})
                visit.activity_schedule(
                    "mail.mail_activity_data_todo",
                    summary=self.env._("Reschedule: the delivery date cannot be booked"),
                    note=str(error),
                    user_id=(visit.user_id or self.env.user).id,
                )
        return visits

    def write(self, vals):
        """The state changes through the buttons only; a done visit keeps its
        customer and amount. A scheduled visit moved (calendar drag and drop, a new
        time or cleaner) is checked as when it was scheduled: reserved slots and the
        cleaner's other bookings (priority booking)."""
        stats_fields = {"amount", "date", "service_type_id", "coupon_card_id", "partner_id"}
        if {"state", "done_date"} & set(vals) and not is_open(STATE_ACTION):
            # a state written directly (a kanban card dragged to another column, an
            # import, an RPC call) would skip what the buttons do: points, tier and
            # stage on completion, their reversal on cancellation
            raise UserError(
                self.env._(
                    "The state of a visit changes with its buttons (Schedule, Done, "
                    "Cancel, Reset to Draft), which also update the customer's points, "
                    "tier and stage."
                )
            )
        done_before = self.filtered(lambda v: v.state == "done")
        done_before._hk_check_done_frozen(vals)
        partners_before = done_before.partner_id
        # the visit facts (visit reports): a visit done or no longer, or a done
        # visit moved or changed, refreshes the facts of its keys before and after
        Facts = self.env["housekeeping.visit.fact"].sudo()
        fact_keys = ()
        if done_before and set(Facts._visit_fields) & set(vals):
            fact_keys = Facts._hk_keys(done_before.ids)
        res = super().write(vals)
        if "state" in vals and vals["state"] == "done":
            # done now: their contribution added to their keys (a key's other
            # visits are not read again); a done one rewritten, recounted
            Facts._hk_add((self - done_before).ids)
            if fact_keys:
                Facts._hk_refresh(done_before.ids, fact_keys)
        elif "state" in vals and done_before:
            # no longer done: taken away, unless more than the state changed
            if fact_keys:
                Facts._hk_refresh(done_before.ids, fact_keys)
            else:
                Facts._hk_add(done_before.ids, sign=-1)
        elif fact_keys:
            Facts._hk_refresh(done_before.ids, fact_keys)
        if {"employee_id", "partner_id", "service_type_id"} & set(vals):
            self.filtered("employee_id")._hk_check_cleaner()
        if "state" not in vals and stats_fields & set(vals) and done_before:
            done_before._hk_check_done()
            self.env["housekeeping.engine.statistics"]._refresh_visit_stats(
                (partners_before | done_before.partner_id).ids
            )
        if {"date", "duration", "employee_id"} & set(vals) and not is_open(STATE_ACTION):
            moved = self.filtered(lambda v: v.state == "scheduled")
            if moved:
                moved._hk_check_reserved_slot()
                moved._hk_resolve_cleaner_conflicts()
        return res

    def _hk_check_done_frozen(self, vals):
        """The customer and the amount of a done visit earned its points and count
        in its tier: they cannot change without reversing them first."""
        for visit in self:
            if "partner_id" in vals and visit.partner_id.id != vals["partner_id"]:
                changed = True
            else:
                changed = "amount" in vals and visit.currency_id.compare_amounts(
                    visit.amount, vals["amount"] or 0.0
                )
            # a visit paid from the balance or a package keeps how it was paid
            prepaid = ("prepaid", "package")
            if (
                "payment_method" in vals
                and vals["payment_method"] != visit.payment_method
                and (visit.payment_method in prepaid or vals["payment_method"] in prepaid)
            ):
                changed = True
            if changed:
                raise UserError(
                    self.env._(
                        "The visit %(visit)s is done: its customer and amount earned "
                        "points and count towards the tier. To correct them, cancel the "
                        "visit (its points are reversed) and record it again.",
                        visit=visit.name,
                    )
                )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_done(self):
        if any(visit.state == "done" for visit in self):
            raise UserError(
                self.env._(
                    "A done visit cannot be deleted: cancel it instead so that its "
                    "points and statistics are reversed."
                )
            )

    # ------------------------------------------------------------------ constraints
    @api.constrains("company_id", "partner_id")
    def _check_partner_company(self):
        for visit in self:
            company = visit.partner_id.company_id
            if company and company != visit.company_id:
                raise ValidationError(
                    self.env._(
                        "The visit %(visit)s belongs to %(company)s but its customer "
                        "%(customer)s belongs to %(partner_company)s.",
                        visit=visit.name,
                        company=visit.company_id.name,
                        customer=visit.partner_id.display_name,
                        partner_company=company.name,
                    )
                )

    @api.constrains("date")
    def _check_date_plausible(self):
        for visit in self:
            if visit.date and visit.date.year < 2000:
                raise ValidationError(
                    self.env._("A visit date before the year 2000 is not plausible.")
                )
            if visit.date and visit.date > fields.Datetime.now() + timedelta(days=3650):
                raise ValidationError(
                    self.env._("A visit cannot be planned more than ten years ahead.")
                )

    def _hk_check_done(self):
        now = fields.Datetime.now()
        for visit in self:
            if not visit.partner_id:
                raise ValidationError(self.env._("A done visit needs a customer."))
            if not visit.date:
                raise ValidationError(
                    self.env._(
                        "The visit %(visit)s needs a date before it can be done.", visit=visit.name
                    )
                )
            if visit.date > now + FUTURE_TOLERANCE:
                raise ValidationError(
                    self.env._(
                        "The visit %(visit)s is dated in the future: it cannot be done yet.",
                        visit=visit.name,
                    )
                )

    # ------------------------------------------------------------------ state flow
    def action_schedule(self):
        # priority booking first: a reserved slot refuses, a lower tier's visit
        # on the same cleaner goes back to draft
        self._hk_check_reserved_slot()
        self._hk_resolve_cleaner_conflicts()
        for visit in self:
            if visit.state != "draft":
                raise UserError(self.env._("Only draft visits can be scheduled."))
            if not visit.date:
                raise UserError(
                    self.env._(
                        "Set a date before scheduling the visit %(visit)s.", visit=visit.name
                    )
                )
        self._hk_write_state({"state": "scheduled"})
        return True

    def action_done(self):
        """Complete the visits: statistics, tier, points and stage of their customers."""
        if any(visit.state not in ("draft", "scheduled") for visit in self):
            raise UserError(self.env._("Only draft or scheduled visits can be completed."))
        # the customers' rows first (id order), then their visits, as the engines
        # do: a tier evaluation re-ranking their visits meanwhile cannot deadlock
        self.env["housekeeping.engine"]._lock_partners(self.partner_id.ids)
        # a prepaid balance short refuses before anything is written
        self.env["housekeeping.engine.prepaid"]._check_visits_payable(self)
        for visit in self.filtered(lambda v: not v.date):
            visit.date = fields.Datetime.now()
        self._hk_check_done()
        self._hk_write_state({"state": "done", "done_date": fields.Datetime.now()})
        self._hk_pipeline_done()
        return True

    def _hk_write_state(self, vals):
        """Write ``vals`` (with a state) from a state button: the one way through
        the state guard of ``write()``."""
        with engine_writes(STATE_ACTION):
            return self.write(vals)

    def action_cancel(self):
        """Cancel the visits; a done visit's points and statistics are reversed."""
        if any(visit.state == "cancelled" for visit in self):
            raise UserError(self.env._("This visit is already cancelled."))
        was_done = self.filtered(lambda v: v.state == "done")
        # (the customers' rows before their visits, as in action_done)
        self.env["housekeeping.engine"]._lock_partners(self.partner_id.ids)
        self._hk_write_state({"state": "cancelled"})
        if was_done:
            was_done._hk_pipeline_cancelled(was_done=True)
        others = self - was_done
        if others:
            others._hk_pipeline_cancelled(was_done=False)
        return True

    # ------------------------------------------------------------------ pipeline
    # What a visit changing state does to its customers: statistics, tiers,
    # points, lifecycle, engagement, in this order and in one transaction, each
    # step the engine that owns it (models/engines). A step builds on the steps
    # above it: the tier counts the refreshed statistics, the points use the new
    # tier's multiplier, the stage sees the statistics of the visit.
    def _hk_pipeline_done(self):
        """The visits of ``self`` were completed."""
        # prepaid first: a balance short raises before any step has changed anything
        self.env["housekeeping.engine.prepaid"]._visits_done(self)
        self.env["housekeeping.engine.statistics"]._refresh_visit_stats(self.partner_id.ids)
        self.env["housekeeping.engine.tier"]._visits_done(self)
        self.env["housekeeping.engine.points"]._visits_done(self)
        self.env["housekeeping.engine.lifecycle"]._visits_done(self)
        # engagement: rating requests, journey conversions
        self.env["housekeeping.engine.vip"]._visits_done(self)

    def _hk_pipeline_cancelled(self, was_done):
        """The visits of ``self`` were cancelled; ``was_done``: they had been
        completed (what their completion did is taken back)."""
        customers = self.partner_id
        if was_done:
            self.env["housekeeping.engine.prepaid"]._visits_cancelled(self)
            self.env["housekeeping.engine.statistics"]._refresh_visit_stats(customers.ids)
            self.env["housekeeping.engine.tier"]._tier_withdraw(self)
            self.env["housekeeping.engine.points"]._reverse_visit_points(self)
        else:
            # a visit to come paid in advance from the balance (portal): credited back
            advance = self.filtered(lambda v: v.payment_method == "prepaid")
            if advance:
                self.env["housekeeping.engine.prepaid"]._visits_cancelled(advance)
        self.env["housekeeping.engine.lifecycle"]._lifecycle_evaluate(
            partner_ids=customers.ids, trigger="visit"
        )

    def action_draft(self):
        if any(visit.state != "cancelled" for visit in self):
            raise UserError(self.env._("Only cancelled visits can be reset to draft."))
        self._hk_write_state({"state": "draft"})
        return True

    # ------------------------------------------------------------------ rating
    hk_is_rated = fields.Boolean(
        string="Rated",
        compute="_compute_hk_is_rated",
        compute_sudo=True,
        help="The customer rated this visit (a visit is rated once).",
    )

    @api.depends("rating_last_value")
    def _compute_hk_is_rated(self):
        # rating_last_value is Odoo's stored score of the last consumed rating
        for visit in self:
            visit.hk_is_rated = bool(visit.rating_last_value)

    def _rating_get_partner(self):
        return self.partner_id

    def _rating_get_operator(self):
        return self.user_id.partner_id

    @api.depends("partner_id", "service_type_id", "date")
    def _compute_display_name(self):
        for visit in self:
            parts = [visit.name or "", visit.service_type_id.name or ""]
            visit.display_name = " · ".join(p for p in parts if p)

    # ------------------------------------------------------------------ portal access
    # The visit fields a customer (portal user) may read: those the portal pages
    # show (views/portal_templates.xml, portal_my_visits) and what they need to
    # be listed and named (id, the reference behind display_name, and the fields
    # of the default order, added below). Every other field (notes, amounts,
    # agents, chatter, sale links, fields added later) is refused to share users
    # on every path: read, search_read, web_read, domains, groupings, fields_get.
    _hk_portal_fields = frozenset(
        {
            "id",
            "display_name",
            "name",
            "service_type_id",
            "date",
            "state",
            "employee_id",
            "rating_last_value",
            "hk_is_rated",
        }
    )

    @api.model
    def _has_field_access(self, field, operation):
        if (
            not self.env.su
            and field.name not in self._hk_portal_fields
            and self.env.user.share
            and field.name not in self._hk_order_fields()
        ):
            return False
        return super()._has_field_access(field, operation)

    @api.model
    def _hk_order_fields(self):
        """The fields the default order sorts on: a list of visits must sort."""
        return {part.split()[0] for part in self._order.split(",") if part.strip()}

    # ------------------------------------------------------------------ tier
    membership_tier_id = fields.Many2one(
        related="partner_id.membership_tier_id", string="Membership Tier"
    )
    tier_sequence = fields.Integer(
        string="Tier Priority",
        compute="_compute_tier_sequence",
        store=True,
        help="Rank of the customer's tier when the tier has priority booking and the "
        "visit is still to do, else 0.",
    )
    _partner_open_idx = models.Index("(partner_id) WHERE state IN ('draft', 'scheduled')")

    @api.depends(
        "state",
        "partner_id.membership_tier_id.sequence",
        "partner_id.membership_tier_id.priority_booking",
    )
    def _compute_tier_sequence(self):
        for visit in self:
            tier = visit.partner_id.membership_tier_id
            open_visit = visit.state in OPEN_STATES
            visit.tier_sequence = tier.sequence if tier.priority_booking and open_visit else 0

    # ------------------------------------------------------------------ booking
    # Priority booking (优先预约权) when visits compete for a cleaner's time.
    # Scheduling a visit (action_schedule, create, write above) checks the cleaner's
    # other scheduled visits that overlap it (``[date, date + duration)``): if the
    # other customer's tier has a lower priority, the higher tier wins: the other
    # visit goes back to draft without its cleaner and an activity asks to
    # reschedule it; otherwise scheduling is refused. A company can also reserve
    # weekdays and a time of day for priority tiers.
    def _hk_local_start(self):
        tz = pytz.timezone(self.partner_id.tz or self.env.user.tz or "Asia/Shanghai")
        return pytz.utc.localize(self.date).astimezone(tz)

    def _hk_check_reserved_slot(self):
        for visit in self.filtered("date"):
            company = visit.company_id
            window = company.hk_reserved_time_window
            if not window or not company.hk_reserved_weekday_ids or visit.tier_sequence:
                continue
            local = visit._hk_local_start()
            start, stop = WINDOW_HOURS[window]
            if (
                local.isoweekday() in company.hk_reserved_weekday_ids.mapped("number")
                and start <= local.hour < stop
            ):
                raise UserError(
                    self.env._(
                        "%(day)s %(window)s is reserved for priority members: choose another "
                        "time for %(customer)s.",
                        day=local.strftime("%Y-%m-%d"),
                        window=dict(
                            company._fields["hk_reserved_time_window"]._description_selection(
                                self.env
                            )
                        )[window],
                        customer=visit.partner_id.display_name,
                    )
                )

    def _hk_resolve_cleaner_conflicts(self):
        bumped = self.browse()
        for visit in self.filtered(lambda v: v.employee_id and v.date):
            end = visit.date + timedelta(hours=visit.duration or 0)
            others = self.search(
                [
                    ("id", "!=", visit.id),
                    ("employee_id", "=", visit.employee_id.id),
                    ("state", "=", "scheduled"),
                    ("date", "<", end),
                    ("date", ">=", visit.date - timedelta(hours=12)),
                ]
            ).filtered(
                lambda o, start=visit.date: o.date + timedelta(hours=o.duration or 0) > start
            )
            for other in others:
                if other.tier_sequence >= visit.tier_sequence:
                    if self.env["housekeeping.engine.dispatch"]._override_confirmed(visit, other):
                        continue
                    raise UserError(
                        self.env._(
                            "%(cleaner)s is already booked at that time (%(other)s).",
                            cleaner=visit.employee_id.name,
                            other=other.name,
                        )
                    )
                bumped |= other
        if bumped:
            bumped._hk_write_state({"state": "draft", "employee_id": False})
            for other in bumped:
                other.activity_schedule(
                    "mail.mail_activity_data_todo",
                    summary=self.env._("Reschedule: the cleaner went to a priority member"),
                    user_id=(other.user_id or other.partner_id.user_id or self.env.user).id,
                )
                other.message_post(
                    body=self.env._(
                        "The cleaner was given to a priority member's visit; choose another "
                        "cleaner or time."
                    ),
                    subtype_xmlid="mail.mt_note",
                )
        return bumped

    # ------------------------------------------------------------------ points
    is_paid = fields.Boolean(string="Paid", copy=False, tracking=True)
    points_earned = fields.Integer(compute="_compute_points_earned")

    def _compute_points_earned(self):
        totals = dict(
            self.env["housekeeping.points.entry"]
            .sudo()
            ._read_group(
                # the visit's own points (not the referral, task or gift its
                # completion triggered) and their reversals
                [
                    ("visit_id", "in", self.ids),
                    "|",
                    ("reason_code", "=", "visit"),
                    "&",
                    ("entry_type", "=", "reversal"),
                    ("origin_entry_id.reason_code", "=", "visit"),
                ],
                ["visit_id"],
                ["points:sum"],
            )
        )
        for visit in self:
            visit.points_earned = totals.get(visit, 0)

    def action_mark_paid(self):
        """Record the payment; with *Earn When Paid*, the points are credited now."""
        if any(visit.state == "cancelled" for visit in self):
            raise UserError(self.env._("A cancelled visit cannot be marked paid."))
        self.write({"is_paid": True})
        done = self.filtered(lambda v: v.state == "done")
        for partner in done.partner_id:
            self.env["housekeeping.engine.points"]._earn_visit_points(
                done.filtered(lambda v, p=partner: v.partner_id == p)
            )
        return True

    # ------------------------------------------------------------------ engagement: survey
    rating_request_sent = fields.Boolean(
        readonly=True, copy=False, help="A satisfaction survey was e-mailed to the customer."
    )

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
            # Odoo's rating_send_request, signed: the message's author is named
            # (the visit's agent, else the company), never OdooBot
            author = visit._hk_survey_author()
            sender = {"author_id": author.id}
            if author.email:
                sender["email_from"] = author.email_formatted
            visit.with_context(mail_notify_force_send=False).message_post_with_source(
                template.with_context(lang=visit.partner_id.lang),
                email_layout_xmlid="mail.mail_notification_light",
                force_send=False,
                subtype_xmlid="mail.mt_note",
                **sender,
            )
        visits.write({"rating_request_sent": True})
        return visits

    def _hk_survey_author(self):
        """Who signs the survey: the visit's agent when a person (an active internal
        user with an e-mail address), else the visit's company."""
        self.ensure_one()
        agent = self.user_id
        if agent and agent.active and not agent.share and agent.email and not agent._is_superuser():
            return agent.partner_id
        return self.company_id.partner_id

    # ------------------------------------------------------------------ engagement: ratings
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
        self.env["housekeeping.engine.vip"].sudo()._vip_evaluate(self.partner_id.ids)

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
        # a person who works: agent, salesperson or service desk, never OdooBot
        responsible = self.partner_id._hk_service_responsible()
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
            user_id=complaint.user_id.id,
        )
        return complaint

    # ------------------------------------------------------------------ reporting
    # visits per month, cohorts and dashboard KPIs read done visits by date
    _done_date_idx = models.Index("(date) WHERE state = 'done'")

    # ------------------------------------------------------------------ dispatch and plans
    # Dispatch (派单, models/engines/dispatch.py) and recurring service plans
    # (models/housekeeping_service_plan.py, models/engines/service_plan.py).
    dispatch_note = fields.Char(
        readonly=True, copy=False, help="Why dispatch proposed or assigned this cleaner."
    )
    plan_id = fields.Many2one(
        "housekeeping.service.plan",
        string="Service Plan",
        index="btree_not_null",
        ondelete="set null",
        copy=False,
        readonly=True,
    )
    plan_occurrence = fields.Date(
        readonly=True, copy=False, help="The day of the service plan this visit is for."
    )
    # a plan creates one visit per occurrence, however often its cron runs
    _plan_occurrence_unique = models.UniqueIndex(
        "(plan_id, plan_occurrence) WHERE plan_id IS NOT NULL AND plan_occurrence IS NOT NULL",
        "A service plan has one visit per occurrence.",
    )
    # the cleaners' calendars (dispatch reads them by cleaner and time)
    _employee_date_idx = models.Index(
        "(employee_id, date) WHERE employee_id IS NOT NULL AND state != 'cancelled'"
    )

    def _hk_check_cleaner(self):
        """A cleaner the customer blocked is refused; one outside their skills
        needs a manager's confirmation (logged)."""
        return self.env["housekeeping.engine.dispatch"]._check_assignment(self)

    def suggest_cleaners(self, limit=5):
        """The cleaners dispatch proposes for this visit, best first: a list of
        ``{"employee_id", "name", "score", "reasons"}``; never a cleaner the
        customer blocked, one busy in the slot (with the travel buffer) or one
        outside their skills."""
        self.ensure_one()
        self.check_access("read")
        return self.env["housekeeping.engine.dispatch"].sudo()._suggest(self, limit=limit)

    def action_auto_assign(self):
        """Assign the best free cleaner to each visit still to do without one,
        priority members first; the reason is written on each visit."""
        self.check_access("write")
        todo = self.filtered(lambda v: v.state in OPEN_STATES and not v.employee_id)
        assigned = self.env["housekeeping.engine.dispatch"].sudo()._auto_assign(todo)
        left = len(todo) - len(assigned)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success" if not left else "warning",
                "message": self.env._(
                    "%(assigned)s visits assigned, %(left)s without a free cleaner.",
                    assigned=len(assigned),
                    left=left,
                ),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
