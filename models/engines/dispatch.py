"""Dispatch (派单): which cleaner for which visit.

Set-based: a run loads, in a fixed number of queries whatever the number of
visits and cleaners, the visits, the candidate cleaners with their skills and
districts, the cleaners' calendars around the visits, the customers' preferred,
blocked and past cleaners (with their ratings) and the week's workload; it then
scores every (visit, cleaner) pair with numpy, one vector per visit, and writes
the assignments back with one UPDATE. No query per pair, no ORM loop.

Score parts (``WEIGHTS``): the customer's preferred cleaners first, then
continuity (visits done for this customer, and their ratings), the working
district found in the customer's address, and the week's workload (fewer visits
this week is better). A cleaner the customer blocked, one busy in the slot
(visit duration plus the company's travel buffer on both sides) or one outside
their skills is never proposed. When several visits compete for a cleaner, a
priority member's visit (``tier_sequence``) is placed first.
"""

import functools
import math
from datetime import datetime, timedelta

import numpy as np
import pytz

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

# Score parts; a test checks each rule, the README lists them.
WEIGHTS = {
    "preferred": 100.0,  # on the customer's preferred list
    "served": 4.0,  # per done visit for this customer, up to SERVED_CAP
    "rating": 10.0,  # per star above 3 of this customer's ratings of the cleaner
    "district": 15.0,  # their working district is in the customer's address
    "workload": 3.0,  # minus, per visit already in that week
}
SERVED_CAP = 10
OPEN_OR_DONE = ("draft", "scheduled", "done")


class HousekeepingEngineDispatch(models.AbstractModel):
    _name = "housekeeping.engine.dispatch"
    _inherit = ["housekeeping.engine"]
    _description = "Dispatch Engine"

    _engine_key = "dispatch"

    @api.model
    def _run(self):
        """Assign the open visits of the next seven days that have no cleaner."""
        now = fields.Datetime.now()
        visits = self.env["housekeeping.visit"].search(
            [
                ("state", "in", ("draft", "scheduled")),
                ("employee_id", "=", False),
                ("date", ">=", now),
                ("date", "<", now + timedelta(days=7)),
            ]
        )
        return len(self._auto_assign(visits))

    # ------------------------------------------------------------------ checks
    @api.model
    def _is_manager(self):
        return self.env.user.has_group("housekeeping_membership.group_membership_manager")

    @api.model
    def _check_assignment(self, visits):
        """Refuse a blocked cleaner (everyone); a cleaner outside their skills on a
        visit still to do needs a manager's confirmation (context
        ``hk_dispatch_confirm``), which is logged on the visit."""
        if not visits:
            return
        self.env["housekeeping.visit"].flush_model(["employee_id", "partner_id", "service_type_id"])
        self.env.cr.execute(
            SQL(
                """
            SELECT v.id,
                   EXISTS (SELECT 1 FROM hk_partner_blocked_employee_rel b
                            WHERE b.employee_id = v.employee_id
                              AND b.partner_id IN (v.partner_id, p.commercial_partner_id)),
                   v.state IN ('draft', 'scheduled')
                   AND EXISTS (SELECT 1 FROM hk_employee_service_type_rel s
                                WHERE s.employee_id = v.employee_id)
                   AND NOT EXISTS (SELECT 1 FROM hk_employee_service_type_rel s
                                    WHERE s.employee_id = v.employee_id
                                      AND s.service_type_id = v.service_type_id)
              FROM housekeeping_visit v
              JOIN res_partner p ON p.id = v.partner_id
             WHERE v.id = ANY(%s) AND v.employee_id IS NOT NULL
            """,
                visits.ids,
            )
        )
        rows = self.env.cr.fetchall()
        for visit_id, blocked, _unskilled in rows:
            if blocked:
                visit = visits.browse(visit_id)
                raise UserError(
                    self.env._(
                        "%(customer)s does not want %(cleaner)s: choose another cleaner for "
                        "%(visit)s.",
                        customer=visit.partner_id.display_name,
                        cleaner=visit.employee_id.name,
                        visit=visit.name,
                    )
                )
        for visit_id, _blocked, unskilled in rows:
            if unskilled:
                visit = visits.browse(visit_id)
                self._confirm_or_refuse(
                    visit,
                    self.env._(
                        "%(cleaner)s is not qualified for %(service)s.",
                        cleaner=visit.employee_id.name,
                        service=visit.service_type_id.name,
                    ),
                )

    @api.model
    def _confirm_or_refuse(self, visit, problem):
        """A manager who confirmed (``hk_dispatch_confirm``) goes ahead, logged on
        the visit; a manager who did not is asked to; anyone else is refused."""
        if not self._is_manager():
            raise UserError(
                self.env._(
                    "%(problem)s Only a membership manager can assign this cleaner.",
                    problem=problem,
                )
            )
        if not self.env.context.get("hk_dispatch_confirm"):
            raise UserError(
                self.env._(
                    "%(problem)s Confirm to assign them anyway.",
                    problem=problem,
                )
            )
        visit.message_post(
            body=self.env._(
                "%(problem)s Assigned anyway, confirmed by %(user)s.",
                problem=problem,
                user=self.env.user.name,
            ),
            subtype_xmlid="mail.mt_note",
        )
        return True

    @api.model
    def _override_confirmed(self, visit, other):
        """The cleaner of ``visit`` is already booked by ``other`` (same or higher
        priority): refused, unless a manager confirmed it (logged)."""
        if not self._is_manager() or not self.env.context.get("hk_dispatch_confirm"):
            return False
        return self._confirm_or_refuse(
            visit,
            self.env._(
                "%(cleaner)s is already booked at that time (%(other)s).",
                cleaner=visit.employee_id.name,
                other=other.name,
            ),
        )

    # ------------------------------------------------------------------ entry points
    @api.model
    def _suggest(self, visit, limit=5):
        board = self._board(visit)
        result = board.rank(0, limit)
        return [
            {
                "employee_id": board.emp_ids[e],
                "name": board.emp_names[e],
                "score": round(float(score), 2),
                "reasons": board.reasons(0, e),
            }
            for e, score in result
        ]

    @api.model
    def _auto_assign(self, visits):
        """Assign greedily, priority members' visits first, then by date; returns
        the visits assigned. One UPDATE writes cleaners and explanations."""
        if not visits:
            return visits
        board = self._board(visits)
        order = sorted(
            range(len(board.visit_ids)),
            key=lambda i: (-board.tier[i], board.start[i] or 0, board.visit_ids[i]),
        )
        chosen, notes = {}, {}
        nobody = self.env._("No free qualified cleaner")
        for i in order:
            ranked = board.rank(i, 1)
            if not ranked:
                notes[board.visit_ids[i]] = nobody
                continue
            e = ranked[0][0]
            chosen[board.visit_ids[i]] = board.emp_ids[e]
            notes[board.visit_ids[i]] = f"{board.emp_names[e]}: {', '.join(board.reasons(i, e))}"
            board.book(i, e)
        ids = list(notes)
        visit_model = self.env["housekeeping.visit"]
        visit_model.flush_model()
        self._apply(
            self._rows(
                model="housekeeping.visit",
                id=ids,
                employee_id=[chosen.get(vid) for vid in ids],
                dispatch_note=[notes[vid] for vid in ids],
            ),
            {
                "employee_id": SQL("COALESCE(c.employee_id, p.employee_id)"),
                "dispatch_note": "dispatch_note",
                "write_uid": SQL("%s", self.env.uid),
                "write_date": SQL("%s::timestamp", fields.Datetime.now()),
            },
            model="housekeeping.visit",
            only_changed=False,
        )
        return visit_model.browse(list(chosen))

    # ------------------------------------------------------------------ the board
    @api.model
    def _board(self, visits):
        """Load what scoring needs for ``visits`` (a fixed number of queries)."""
        return DispatchBoard(self, visits)


class DispatchBoard:
    """The visits, the candidate cleaners and their calendars as numpy arrays.

    Time is cut into slots (5 minutes, coarser for long spans) from ``t0``; a
    cleaner's busy slots are their visits widened by the travel buffer on both
    sides. Slots round outwards, so a cleaner called free is free."""

    def __init__(self, engine, visits):
        self.engine = engine
        env = self.env = engine.env
        cr = env.cr
        env["housekeeping.visit"].flush_model()
        env["res.partner"].flush_model()
        env["hr.employee"].flush_model()
        env["res.company"].flush_model(["hk_dispatch_travel_buffer"])
        self.user_tz = pytz.timezone(env.user.tz or "Asia/Shanghai")
        # 1. the visits
        cr.execute(
            SQL(
                """
            SELECT v.id, v.partner_id, COALESCE(p.commercial_partner_id, p.id), v.company_id,
                   v.service_type_id, v.date, COALESCE(v.duration, 0),
                   COALESCE(v.tier_sequence, 0),
                   concat_ws(' ', p.street, p.street2, p.city, p.zip),
                   COALESCE(p.tz, %s), COALESCE(c.hk_dispatch_travel_buffer, 0)
              FROM housekeeping_visit v
              JOIN res_partner p ON p.id = v.partner_id
              JOIN res_company c ON c.id = v.company_id
             WHERE v.id = ANY(%s)
             ORDER BY v.id
            """,
                self.user_tz.zone,
                visits.ids,
            )
        )
        rows = cr.fetchall()
        n = len(rows)
        self.visit_ids = [r[0] for r in rows]
        self.partner = [r[1] for r in rows]
        self.commercial = [r[2] for r in rows]
        self.company = [r[3] for r in rows]
        self.service = [r[4] for r in rows]
        self.date = [r[5] for r in rows]
        self.duration = [r[6] for r in rows]
        self.tier = [r[7] for r in rows]
        self.address = [r[8] or "" for r in rows]
        self.tz = [r[9] for r in rows]
        self.buffer = [r[10] for r in rows]
        companies = sorted(set(self.company))
        # 2. the candidate cleaners, their skills and districts
        cr.execute(
            SQL(
                """
            SELECT e.id, e.name, e.company_id, COALESCE(e.hk_district, ''),
                   array_remove(array_agg(s.service_type_id), NULL)
              FROM hr_employee e
              LEFT JOIN hk_employee_service_type_rel s ON s.employee_id = e.id
             WHERE e.active AND e.hk_cleaner AND e.company_id = ANY(%s)
             GROUP BY e.id
             ORDER BY e.id
            """,
                companies,
            )
        )
        emps = cr.fetchall()
        m = len(emps)
        self.emp_ids = [r[0] for r in emps]
        self.emp_names = [r[1] for r in emps]
        self.emp_index = {eid: k for k, eid in enumerate(self.emp_ids)}
        emp_company = np.array([r[2] for r in emps], dtype=np.int64)
        self.company_mask = {c: emp_company == c for c in companies}
        skills = [set(r[4]) for r in emps]
        self.service_mask = {}
        for st in set(self.service):
            self.service_mask[st] = np.array([not s or st in s for s in skills], dtype=bool)
        self.skilled = np.array([bool(s) for s in skills], dtype=bool)
        self.emp_districts = [
            [d.strip() for d in r[3].replace("，", ",").replace("、", ",").split(",") if d.strip()]
            for r in emps
        ]
        # time slots
        dated = [i for i in range(n) if self.date[i]]
        buf_max = max(self.buffer, default=0)
        if dated:
            t0 = min(self.date[i] for i in dated) - timedelta(minutes=buf_max + 60)
            t1 = max(self.date[i] + timedelta(hours=self.duration[i]) for i in dated)
            t1 += timedelta(minutes=buf_max + 60)
        else:
            t0 = t1 = fields.Datetime.now()
        span = max((t1 - t0).total_seconds() / 60, 1)
        self.slot = max(5, math.ceil(span / 20000))
        self.t0 = t0
        self.n_slots = int(math.ceil(span / self.slot)) + 1
        self.busy = np.zeros((m, self.n_slots), dtype=bool)
        self.start = [self._slot_floor(self.date[i]) if self.date[i] else None for i in range(n)]
        self.end = [
            self._slot_ceil(self.date[i] + timedelta(hours=self.duration[i]))
            if self.date[i]
            else None
            for i in range(n)
        ]
        # 3. the cleaners' calendars around the visits (not the visits themselves)
        if dated and m:
            cr.execute(
                SQL(
                    """
                SELECT o.employee_id, o.date, o.date + COALESCE(o.duration, 0) * interval '1 hour',
                       COALESCE(c.hk_dispatch_travel_buffer, 0)
                  FROM housekeeping_visit o
                  JOIN res_company c ON c.id = o.company_id
                 WHERE o.employee_id = ANY(%s) AND o.state IN %s
                   AND o.date >= %s - interval '1 day' AND o.date < %s
                   AND o.id != ALL(%s)
                """,
                    self.emp_ids,
                    OPEN_OR_DONE,
                    t0,
                    t1,
                    self.visit_ids,
                )
            )
            for emp_id, o_start, o_end, o_buffer in cr.fetchall():
                buf = timedelta(minutes=o_buffer)
                self._mark(self.emp_index[emp_id], o_start - buf, o_end + buf)
        # 4. the customers' preferred, blocked and past cleaners
        partners = sorted(set(self.partner) | set(self.commercial))
        cr.execute(
            SQL(
                """
            SELECT 'preferred', partner_id, employee_id, 0, NULL::float
              FROM hk_partner_preferred_employee_rel WHERE partner_id = ANY(%(p)s)
            UNION ALL
            SELECT 'blocked', partner_id, employee_id, 0, NULL
              FROM hk_partner_blocked_employee_rel WHERE partner_id = ANY(%(p)s)
            UNION ALL
            SELECT 'served', v.partner_id, v.employee_id, count(*),
                   avg(r.rating) FILTER (WHERE r.rating > 0)
              FROM housekeeping_visit v
              LEFT JOIN rating_rating r
                ON r.res_model = 'housekeeping.visit' AND r.res_id = v.id AND r.consumed
             WHERE v.partner_id = ANY(%(p)s) AND v.state = 'done' AND v.employee_id IS NOT NULL
             GROUP BY v.partner_id, v.employee_id
            """,
                p=partners,
            )
        )
        self.preferred, self.blocked, self.served = {}, {}, {}
        for kind, pid, eid, count, avg in cr.fetchall():
            if eid not in self.emp_index:
                continue
            k = self.emp_index[eid]
            if kind == "preferred":
                self.preferred.setdefault(pid, set()).add(k)
            elif kind == "blocked":
                self.blocked.setdefault(pid, set()).add(k)
            else:
                self.served.setdefault(pid, {})[k] = (count, avg)
        # 5. the week's workload (local ISO weeks, the dispatcher's time zone)
        self.week = [self._week(self.date[i]) if self.date[i] else None for i in range(n)]
        weeks = sorted({w for w in self.week if w is not None})
        self.week_index = {w: k for k, w in enumerate(weeks)}
        self.load = np.zeros((m, max(len(weeks), 1)), dtype=np.float64)
        if weeks and m:
            tzname = self.user_tz.zone
            cr.execute(
                SQL(
                    """
                SELECT employee_id,
                       date_trunc('week', (date AT TIME ZONE 'UTC') AT TIME ZONE %s)::date,
                       count(*)
                  FROM housekeeping_visit
                 WHERE employee_id = ANY(%s) AND state IN %s
                   AND date >= %s AND date < %s AND id != ALL(%s)
                 GROUP BY 1, 2
                """,
                    tzname,
                    self.emp_ids,
                    OPEN_OR_DONE,
                    self._week_start_utc(weeks[0]),
                    self._week_start_utc(weeks[-1]) + timedelta(days=7),
                    self.visit_ids,
                )
            )
            for emp_id, week, count in cr.fetchall():
                if week in self.week_index:
                    self.load[self.emp_index[emp_id], self.week_index[week]] = count
        self._district_cache = {}
        self.all_districts = sorted({d for ds in self.emp_districts for d in ds})

    # ---------------------------------------------------------------- time
    def _slot_floor(self, when):
        return int((when - self.t0).total_seconds() // 60 // self.slot)

    def _slot_ceil(self, when):
        return int(math.ceil((when - self.t0).total_seconds() / 60 / self.slot))

    def _mark(self, k, start, end):
        s0 = max(self._slot_floor(start), 0)
        s1 = min(self._slot_ceil(end), self.n_slots)
        if s1 > s0:
            self.busy[k, s0:s1] = True

    def _local(self, when, tzname=None):
        tz = pytz.timezone(tzname) if tzname else self.user_tz
        return pytz.utc.localize(when).astimezone(tz)

    def _week(self, when):
        local = self._local(when).date()
        return local - timedelta(days=local.weekday())

    def _week_start_utc(self, monday):
        local = self.user_tz.localize(datetime.combine(monday, datetime.min.time()))
        return local.astimezone(pytz.utc).replace(tzinfo=None)

    # ---------------------------------------------------------------- scoring
    def _district_vector(self, address):
        vec = self._district_cache.get(address)
        if vec is None:
            found = {d for d in self.all_districts if d in address}
            vec = np.array([bool(found.intersection(ds)) for ds in self.emp_districts], dtype=bool)
            self._district_cache[address] = vec
        return vec

    def _scores(self, i):
        """Scores of every cleaner for visit ``i``; -inf where not a candidate."""
        ok = self.company_mask[self.company[i]] & self.service_mask[self.service[i]]
        if self.start[i] is not None:
            buf_slots = 0  # the calendars carry the buffers
            s0 = max(self.start[i] - buf_slots, 0)
            ok = ok & ~self.busy[:, s0 : self.end[i]].any(axis=1)
        score = np.where(self._district_vector(self.address[i]), WEIGHTS["district"], 0.0)
        if self.week[i] is not None:
            score = score - WEIGHTS["workload"] * self.load[:, self.week_index[self.week[i]]]
        for pid in {self.partner[i], self.commercial[i]}:
            for k in self.preferred.get(pid, ()):
                score[k] += WEIGHTS["preferred"]
            for k, (count, avg) in self.served.get(pid, {}).items():
                score[k] += WEIGHTS["served"] * min(count, SERVED_CAP)
                if avg:
                    score[k] += WEIGHTS["rating"] * (avg - 3)
            for k in self.blocked.get(pid, ()):
                ok[k] = False
        return np.where(ok, score, -np.inf)

    def rank(self, i, limit):
        """[(cleaner index, score)] of the best ``limit`` candidates of visit ``i``."""
        score = self._scores(i)
        candidates = np.flatnonzero(score > -np.inf)
        if not len(candidates):
            return []
        if limit and len(candidates) > limit:
            top = candidates[np.argpartition(-score[candidates], limit - 1)[:limit]]
        else:
            top = candidates
        # best first, then the lower id (stable)
        top = sorted(top, key=lambda k: (-score[k], self.emp_ids[k]))
        return [(int(k), float(score[k])) for k in top]

    def book(self, i, k):
        """Visit ``i`` now holds cleaner ``k``: busy with the buffer, one more visit."""
        if self.start[i] is None:
            return
        buf = timedelta(minutes=self.buffer[i])
        start = self.date[i]
        self._mark(k, start - buf, start + timedelta(hours=self.duration[i]) + buf)
        self.load[k, self.week_index[self.week[i]]] += 1

    @functools.cached_property
    def texts(self):
        """The reasons' texts, translated once per run (formatted per visit)."""
        return {
            "preferred": self.env._("preferred"),
            "served": self.env._("served %(count)s times"),
            "qualified": self.env._("qualified"),
            "district": self.env._("works in %(district)s"),
            "load": self.env._("%(count)s visits this week"),
            "free": self.env._("free %(start)s–%(end)s"),
        }

    def reasons(self, i, k):
        """The score's parts of cleaner ``k`` for visit ``i``, in words."""
        texts = self.texts
        parts = []
        partner_ids = {self.partner[i], self.commercial[i]}
        if any(k in self.preferred.get(pid, ()) for pid in partner_ids):
            parts.append(texts["preferred"])
        count, avg = 0, None
        for pid in partner_ids:
            if k in self.served.get(pid, {}):
                count, avg = self.served[pid][k]
        if count:
            parts.append(texts["served"] % {"count": count})
        if avg:
            parts.append(f"{avg:.1f}★")
        if self.skilled[k]:
            parts.append(texts["qualified"])
        districts = [d for d in self.emp_districts[k] if d in self.address[i]]
        if districts:
            parts.append(texts["district"] % {"district": districts[0]})
        if self.week[i] is not None:
            load = int(self.load[k, self.week_index[self.week[i]]])
            parts.append(texts["load"] % {"count": load})
            start = self._local(self.date[i], self.tz[i])
            end = start + timedelta(hours=self.duration[i])
            parts.append(
                texts["free"] % {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
            )
        return parts
