"""Priority booking (优先预约权) when visits compete for a cleaner's time.

Scheduling a visit checks the cleaner's other scheduled visits that overlap it
(``[date, date + duration)``): if the other customer's tier has a lower priority,
the higher tier wins: the other visit goes back to draft without its cleaner and
an activity asks to reschedule it; otherwise scheduling is refused. A company can
also reserve weekdays and a time of day for priority tiers.
"""

from datetime import timedelta

import pytz

from odoo import api, models
from odoo.exceptions import UserError

from .housekeeping_visit import STATE_ACTION
from .trust import is_open

WINDOW_HOURS = {"morning": (8, 12), "afternoon": (12, 18), "evening": (18, 21)}


class HousekeepingVisit(models.Model):
    _inherit = "housekeeping.visit"  # pylint: disable=consider-merging-classes-inherited  # until the engines move to models/engines (architecture issue)

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

    def action_schedule(self):
        self._hk_check_reserved_slot()
        self._hk_resolve_cleaner_conflicts()
        return super().action_schedule()

    @api.model_create_multi
    def create(self, vals_list):
        """A visit created already scheduled (a sale order with a delivery date, an
        import, the portal) is checked as when a draft one is scheduled: reserved
        slots and the cleaner's other bookings."""
        visits = super().create(vals_list)
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
        """A scheduled visit moved (calendar drag and drop, a new time or cleaner)
        is checked as when it was scheduled: reserved slots and the cleaner's
        other bookings."""
        result = super().write(vals)
        if {"date", "duration", "employee_id"} & set(vals) and not is_open(STATE_ACTION):
            moved = self.filtered(lambda v: v.state == "scheduled")
            if moved:
                moved._hk_check_reserved_slot()
                moved._hk_resolve_cleaner_conflicts()
        return result


class HousekeepingComplaint(models.Model):
    _inherit = "housekeeping.complaint"  # pylint: disable=consider-merging-classes-inherited  # until merged into models/housekeeping_complaint.py (architecture issue)

    @api.model_create_multi
    def create(self, vals_list):
        """A complaint goes to the customer's dedicated agent (专属客服) when they
        have one, unless a responsible is given."""
        partners = self.env["res.partner"].browse(
            [vals["partner_id"] for vals in vals_list if vals.get("partner_id")]
        )
        agents = {p.id: p.tier_agent_id.id for p in partners if p.tier_agent_id}
        for vals in vals_list:
            if "user_id" not in vals and agents.get(vals.get("partner_id")):
                vals["user_id"] = agents[vals["partner_id"]]
        return super().create(vals_list)
