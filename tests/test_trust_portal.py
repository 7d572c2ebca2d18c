"""The customer portal, attacked over real HTTP as a portal customer would: the
portal's own forms (with their CSRF token), the survey links of Odoo's rating
(/rate/<token>/...), and JSON-RPC exactly as the web client sends it
(/web/dataset/call_kw, /mail/message/...). Every refusal is checked to change
nothing: the rating rows and values, the complaints, the activities, the
chatter, the rows of the rewards and of the customer."""

import re
from contextlib import contextmanager
from unittest.mock import patch

from odoo import sql_db
from odoo.exceptions import UserError
from odoo.http import Request
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import SQL, mute_logger

# a statement that writes a row or locks one (SELECT ... FOR UPDATE / SHARE)
WRITE_OR_LOCK = re.compile(
    r"\b(INSERT\s+INTO|DELETE\s+FROM)\b"
    r"|\bUPDATE\s+\"?\w+\"?\s+(AS\s+\w+\s+)?SET\b"
    r"|\bFOR\s+(NO\s+KEY\s+|KEY\s+)?(UPDATE|SHARE)\b",
    re.IGNORECASE,
)
# what Odoo itself writes on any request of a logged-in user (its device log)
FRAMEWORK_WRITES = ("res_device_log",)

# the portal's pages that a customer opens (GET): none may write or lock a row
PORTAL_PAGES = (
    "/my/home",
    "/my/membership",
    "/my/points",
    "/my/points/page/2",
    "/my/referral",
    "/my/rewards",
    "/my/coupons",
    "/my/visits",
    "/my/preferences",
)
# the routes of these pages (and of the share link), declared read-only
READONLY_ROUTES = (
    "/my/membership",
    "/my/points",
    "/my/points/page/<int:page>",
    "/my/referral",
    "/my/rewards",
    "/my/coupons",
    "/my/visits",
    "/my/preferences",
    "/housekeeping/ref/<string:code>",
)


class TrustPortalCase(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.user = new_test_user(
            cls.env,
            login="hk_trust_wu",
            groups="base.group_portal",
            name="Customer Wu",
            email="trust.wu@example.com",
        )
        cls.customer = cls.user.partner_id
        cls.customer.write({"tz": "Asia/Shanghai", "consent_email": True})
        cls.other_user = new_test_user(
            cls.env, login="hk_trust_li", groups="base.group_portal", name="Customer Li"
        )
        cls.agent = new_test_user(
            cls.env,
            login="hk_trust_agent",
            groups="housekeeping_membership.group_membership_user",
            name="Agent Zhang",
        )
        cls.service = cls.env.ref("housekeeping_membership.service_type_hourly")
        cls.cleaner = cls.env["hr.employee"].create({"name": "Cleaner Zhao"})
        visit_model = cls.env["housekeeping.visit"]
        cls.visit = visit_model.create(
            {
                "partner_id": cls.customer.id,
                "service_type_id": cls.service.id,
                "date": "2026-01-10 02:00:00",
                "amount": 120,
                "payment_method": "wechat",
                "employee_id": cls.cleaner.id,
                "user_id": cls.agent.id,
                "notes": "<p>Internal: the dog bites, the key is under the mat</p>",
            }
        )
        cls.visit.action_done()
        cls.other_visit = visit_model.create(
            {
                "partner_id": cls.other_user.partner_id.id,
                "service_type_id": cls.service.id,
                "date": "2026-01-10 02:00:00",
                "amount": 80,
            }
        )
        cls.other_visit.action_done()

    # ------------------------------------------------------------------ helpers
    def _login(self, user=None):
        user = user or self.user
        self.authenticate(user.login, user.login)
        return Request.csrf_token(self)

    def _call_kw(self, model, method, *args, **kwargs):
        return self.make_jsonrpc_request(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )

    @contextmanager
    def _refused(self, error="odoo.exceptions.AccessError"):
        """The JSON-RPC call in the block must fail with ``error``."""
        with self.assertRaises(JsonRpcException) as caught:
            with mute_logger("odoo.http", "odoo.models", "odoo.orm.models"):
                yield
        if error:
            self.assertEqual(str(caught.exception), error)

    def _rating_state(self, visit):
        """Everything a rating touches: the visit's rating rows (values, feedback,
        consumed), the complaints, the activities and the visit's chatter."""
        env = self.env
        env.flush_all()
        env.invalidate_all()
        state = {}
        env.cr.execute(
            SQL(
                "SELECT id, rating, feedback, consumed, message_id FROM rating_rating "
                "WHERE res_model = 'housekeeping.visit' AND res_id = %s ORDER BY id",
                visit.id,
            )
        )
        state["ratings"] = env.cr.fetchall()
        for table in ("housekeeping_complaint", "mail_activity", "rating_rating"):
            env.cr.execute(SQL("SELECT count(*) FROM %s", SQL.identifier(table)))
            state[table] = env.cr.fetchone()[0]
        env.cr.execute(
            SQL(
                "SELECT id, body::text FROM mail_message "
                "WHERE model = 'housekeeping.visit' AND res_id = %s ORDER BY id",
                visit.id,
            )
        )
        state["chatter"] = env.cr.fetchall()
        return state

    @contextmanager
    def _statements(self):
        """The SQL statements run meanwhile (the HTTP requests run on the test's
        connection, in threads of this process)."""
        seen = []
        execute = sql_db.Cursor.execute

        def logging_execute(cr, query, params=None, log_exceptions=True):
            seen.append(query.code if isinstance(query, SQL) else str(query))
            return execute(cr, query, params, log_exceptions)

        with patch.object(sql_db.Cursor, "execute", logging_execute):
            yield seen

    @staticmethod
    def _writes(statements):
        return [
            query
            for query in statements
            if WRITE_OR_LOCK.search(query) and not any(t in query for t in FRAMEWORK_WRITES)
        ]

    def _row_versions(self, records):
        """xmin/xmax of the rows: an UPDATE gives a row a new xmin, a lock (FOR
        UPDATE / SHARE) sets its xmax."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT id, xmin::text, xmax::text FROM %s WHERE id = ANY(%s) ORDER BY id",
                SQL.identifier(records._table),
                records.ids,
            )
        )
        return self.env.cr.fetchall()


@tagged("post_install", "-at_install")
class TestOneRatingPerVisit(TrustPortalCase):
    """A visit is rated once, whatever the path: the second submission shows the
    first rating and writes nothing."""

    def _survey_token(self):
        token = self.visit.rating_ids.filtered(lambda r: not r.consumed).access_token
        self.assertTrue(token, "the survey e-mail created the pending rating")
        return token

    def test_portal_form_rates_once(self):
        csrf = self._login()
        self.url_open(
            f"/my/visits/{self.visit.id}/rate",
            data={"csrf_token": csrf, "score": "2", "comment": "Kitchen still greasy"},
        )
        first = self._rating_state(self.visit)
        self.assertEqual([r[1] for r in first["ratings"]], [2.0])
        self.assertEqual(len(self.visit.complaint_ids), 1, "a low score opens a complaint")

        response = self.url_open(
            f"/my/visits/{self.visit.id}/rate",
            data={"csrf_token": csrf, "score": "1", "comment": "Again and again"},
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("You already rated this visit 2/5", response.text)
        self.assertIn("Your rating: 2/5", response.text, "the page shows the first rating")
        self.assertNotIn("Thank you for your rating", response.text)
        self.assertEqual(self._rating_state(self.visit), first, "nothing changed")

        # the same customer through the other doors of the server: refused
        rating = self.visit.rating_ids.filtered("consumed")
        with self._refused():
            self._call_kw("housekeeping.visit", "action_record_rating", [self.visit.id], 1)
        with self._refused():
            self._call_kw(
                "housekeeping.visit", "rating_apply", [self.visit.id], 1, token=rating.access_token
            )
        with self._refused():
            self._call_kw("rating.rating", "write", [rating.id], {"rating": 1})
        with self._refused(error=None):
            self.make_jsonrpc_request(
                "/mail/message/post",
                {
                    "thread_model": "housekeeping.visit",
                    "thread_id": self.visit.id,
                    "post_data": {
                        "body": "One more",
                        "message_type": "comment",
                        "rating_value": 1,
                    },
                },
            )
        with self._refused(error=None):
            self.make_jsonrpc_request(
                "/mail/message/update_content",
                {
                    "message_id": rating.message_id.id,
                    "update_data": {"body": "Changed my mind", "rating_value": 1},
                },
            )
        self.assertEqual(self._rating_state(self.visit), first, "nothing changed")

    def test_survey_link_after_portal_rating_shows_it(self):
        token = self._survey_token()
        csrf = self._login()
        self.url_open(f"/my/visits/{self.visit.id}/rate", data={"csrf_token": csrf, "score": "2"})
        first = self._rating_state(self.visit)
        self.assertEqual([r[1] for r in first["ratings"]], [2.0], "the survey's rating row")

        # the customer then clicks a smiley of the survey e-mail, logged in or not
        for login in (self.user, None):
            if login:
                self._login(login)
            else:
                self.authenticate(None, None)
            page = self.url_open(f"/rate/{token}/5")
            self.assertEqual(page.status_code, 200)
            self.assertIn("You already rated this visit", page.text)
            self.assertIn("2/5", page.text)
            self.assertNotIn("submit_feedback", page.text, "no form to rate again")
            response = self.url_open(
                f"/rate/{token}/submit_feedback",
                data={
                    "rate": 5,
                    "feedback": "Changed my mind",
                    "csrf_token": Request.csrf_token(self),
                },
            )
            self.assertEqual(response.status_code, 200)
            self.assertIn("2/5", response.text)
            self.assertEqual(self._rating_state(self.visit), first, "nothing changed")

    def test_survey_link_first_then_link_and_portal_form(self):
        token = self._survey_token()
        self.authenticate(None, None)
        self.url_open(
            f"/rate/{token}/submit_feedback",
            data={"rate": 1, "feedback": "Late", "csrf_token": Request.csrf_token(self)},
        ).raise_for_status()
        first = self._rating_state(self.visit)
        self.assertEqual([r[1] for r in first["ratings"]], [1.0])
        self.assertEqual(self.visit.complaint_ids.severity, "high")

        response = self.url_open(
            f"/rate/{token}/submit_feedback",
            data={
                "rate": 5,
                "feedback": "Sorry, it was fine",
                "csrf_token": Request.csrf_token(self),
            },
        )
        self.assertIn("1/5", response.text)
        self.assertEqual(self._rating_state(self.visit), first, "the link rates once")

        csrf = self._login()
        response = self.url_open(
            f"/my/visits/{self.visit.id}/rate", data={"csrf_token": csrf, "score": "1"}
        )
        self.assertIn("You already rated this visit 1/5", response.text)
        self.assertEqual(self._rating_state(self.visit), first, "the portal form too")

    def test_phone_score_after_customer_rating_is_refused(self):
        """Decision: a phone score (staff, wizard) is a rating like the others: on a
        visit the customer already rated it is refused with the rating given."""
        csrf = self._login()
        self.url_open(f"/my/visits/{self.visit.id}/rate", data={"csrf_token": csrf, "score": "2"})
        first = self._rating_state(self.visit)
        self._login(self.agent)
        wizard_id = self._call_kw(
            "housekeeping.visit.rate",
            "create",
            [{"visit_id": self.visit.id, "score": "1", "feedback": "On the phone"}],
        )
        with self._refused(error="odoo.exceptions.UserError"):
            self._call_kw("housekeeping.visit.rate", "action_record", wizard_id)
        self.assertEqual(self._rating_state(self.visit), first, "nothing changed")
        wizard = self.env["housekeeping.visit.rate"].with_user(self.agent).browse(wizard_id)
        with self.assertRaisesRegex(UserError, r"already rated 2/5"):
            wizard.action_record()
        self.assertEqual(self._rating_state(self.visit), first, "nothing changed")


@tagged("post_install", "-at_install")
class TestVisitFieldsForCustomers(TrustPortalCase):
    """A customer reads over RPC only the visit fields its portal pages show."""

    def test_customer_reads_only_the_portal_fields(self):
        visit_model = self.env["housekeeping.visit"]
        # what the portal's visit pages show, and the fields the list sorts on
        allowed = visit_model._hk_portal_fields | visit_model._hk_order_fields()
        self.assertNotIn("amount", allowed)
        self.assertIn("notes", visit_model._fields)
        self._login()
        # every other field, one by one: refused
        for name in sorted(set(visit_model._fields) - allowed):
            with self.subTest(field=name), self._refused():
                self._call_kw("housekeeping.visit", "read", [self.visit.id], [name])
        # the fields the pages show are readable
        values = self._call_kw(
            "housekeeping.visit",
            "read",
            [self.visit.id],
            ["name", "display_name", "date", "state", "service_type_id", "employee_id"],
        )
        self.assertEqual(values[0]["state"], "done")
        self.assertEqual(values[0]["service_type_id"][0], self.service.id)
        # a read of "all fields" returns the allowed ones only
        values = self._call_kw("housekeeping.visit", "read", [self.visit.id])
        self.assertLessEqual(set(values[0]), allowed)
        self.assertNotIn("notes", values[0])
        # fields_get describes the allowed ones only
        described = self._call_kw("housekeeping.visit", "fields_get", attributes=["type"])
        self.assertLessEqual(set(described), allowed)
        # search_read, web_read, web_search_read, searching on a hidden field (an
        # oracle on its value), grouping and aggregating: refused
        with self._refused():
            self._call_kw("housekeeping.visit", "search_read", [], ["amount"])
        with self._refused():
            self._call_kw(
                "housekeeping.visit", "search_read", [("notes", "ilike", "dog")], ["name"]
            )
        with self._refused():
            self._call_kw("housekeeping.visit", "search_count", [("amount", ">", 100)])
        with self._refused():
            self._call_kw("housekeeping.visit", "web_read", [self.visit.id], {"notes": {}})
        with self._refused():
            self._call_kw(
                "housekeeping.visit",
                "web_search_read",
                [],
                {"name": {}, "user_id": {"fields": {"display_name": {}}}},
            )
        with self._refused():
            self._call_kw(
                "housekeeping.visit", "formatted_read_group", [], ["state"], ["amount:sum"]
            )
        with self._refused():
            self._call_kw("housekeeping.visit", "formatted_read_group", [], ["user_id"], [])
        with self._refused():
            self._call_kw("housekeeping.visit", "web_read_group", [], ["payment_method"], [])
        with self._refused():
            self._call_kw("housekeeping.visit", "search", [], order="amount desc")
        # what is allowed still works on the allowed fields
        found = self._call_kw(
            "housekeeping.visit",
            "web_search_read",
            [],
            {
                "name": {},
                "date": {},
                "state": {},
                "service_type_id": {"fields": {"display_name": {}}},
            },
        )
        self.assertEqual([r["id"] for r in found["records"]], [self.visit.id], "own visits only")
        # another customer's visit: not even its reference
        with self._refused():
            self._call_kw("housekeeping.visit", "read", [self.other_visit.id], ["name"])
        # the portal page still shows the visit, its cleaner and the rating
        csrf = Request.csrf_token(self)
        self.url_open(f"/my/visits/{self.visit.id}/rate", data={"csrf_token": csrf, "score": "4"})
        page = self.url_open("/my/visits").text
        self.assertIn(f'data-visit="{self.visit.id}"', page)
        self.assertIn("Cleaner Zhao", page)
        self.assertIn("Your rating: 4/5", page)
        self.assertNotIn("the dog bites", page)


@tagged("post_install", "-at_install")
class TestPortalPagesWriteNothing(TrustPortalCase):
    """Viewing the portal never writes or locks a row: concurrent visitors never
    wait on one another; only the forms (POST) write, the redemption locks."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        program = (
            cls.env["loyalty.program"]
            .with_context(default_program_type="coupons")
            .create({"name": "¥20 off"})
        )
        reward_model = cls.env["housekeeping.reward"]
        cls.rewards = reward_model.create(
            [
                {
                    "name": "Limited ¥20 coupon",
                    "points_cost": 100,
                    "reward_type": "coupon",
                    "loyalty_program_id": program.id,
                    "stock_limit": 10,
                },
                {
                    "name": "Limited eco kit",
                    "points_cost": 50,
                    "reward_type": "gift",
                    "stock_limit": 5,
                    "per_customer_limit": 1,
                },
            ]
        )

    def test_rewards_page_takes_no_lock(self):
        self.assertGreaterEqual(self.customer.points_balance, 100, "every reward is affordable")
        self._login()
        before = self._row_versions(self.rewards)
        with self._statements() as statements:
            page = self.url_open("/my/rewards")
        self.assertEqual(page.status_code, 200)
        for reward in self.rewards:
            self.assertIn(f"/my/rewards/{reward.id}/redeem", page.text, "offered")
        self.assertEqual(self._writes(statements), [], "the page wrote or locked rows")
        self.assertEqual(
            self._row_versions(self.rewards),
            before,
            "the rewards' rows are neither written nor locked",
        )

        # the redemption (POST) is what locks the stock, and it still does
        csrf = Request.csrf_token(self)
        with self._statements() as statements:
            self.url_open(f"/my/rewards/{self.rewards[1].id}/redeem", data={"csrf_token": csrf})
        self.assertTrue(
            [q for q in statements if re.search(r"UPDATE\s+housekeeping_reward\b", q)],
            "a redemption locks the reward's stock",
        )
        self.assertEqual(self.customer.points_balance, 70)

    def test_portal_pages_write_nothing(self):
        self.assertFalse(self.customer.referral_code)
        self._login()
        before = self._row_versions(self.customer) + self._row_versions(self.visit)
        for url in PORTAL_PAGES:
            with self.subTest(url=url):
                with self._statements() as statements:
                    response = self.url_open(url)
                self.assertEqual(response.status_code, 200)
                self.assertEqual(self._writes(statements), [], "the page wrote or locked rows")
        with self._statements() as statements:
            counters = self.make_jsonrpc_request(
                "/my/counters", {"counters": ["hk_points", "hk_visit_count"]}
            )
            self.url_open("/housekeeping/ref/ABCD2345", allow_redirects=False)
        self.assertEqual(counters["hk_visit_count"], 1)
        self.assertEqual(self._writes(statements), [])
        self.assertEqual(
            self._row_versions(self.customer) + self._row_versions(self.visit),
            before,
            "the customer's and the visit's rows are untouched",
        )
        self.assertFalse(self.customer.referral_code, "viewing the page creates no code")
        # the pages that only read say so: Odoo may serve them from a replica
        routing = {
            rule.rule: rule.endpoint.routing
            for rule in self.env["ir.http"].routing_map().iter_rules()
            if not rule.methods or "GET" in rule.methods
        }
        for url in READONLY_ROUTES:
            with self.subTest(route=url):
                self.assertIs(routing[url].get("readonly"), True)
