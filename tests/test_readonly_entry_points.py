"""Replica-ready reads (issue 32): the screens that only show run on a read-only
cursor, so that Odoo may serve them from a read replica (``--db_replica_host``),
and write or lock nothing.

Each entry point below is called for real, over HTTP, as the user who opens it:
the portal's pages as a portal customer, the back office's calls through
``/web/dataset/call_kw`` exactly as the web client sends them. The request's
cursor is recorded when Odoo serves it: a read-only route serves once, on a
read-only cursor (in tests Odoo opens it with ``SET TRANSACTION READ ONLY``); a
statement that writes or locks raises ``ReadOnlySqlTransaction`` there and Odoo
serves the request a second time on a read/write cursor, which the record shows.
A route that loses ``readonly=True`` or a method that loses ``@api.readonly``
serves on a read/write cursor at once: both fail here, and the declarations are
checked too (the routing map, and the method resolution of
``web.controllers.dataset.DataSet._call_kw_readonly``).
"""

import re
import threading
from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import patch

from odoo import api, fields, http, sql_db
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import SQL

from ..controllers.portal import HousekeepingPortal
from ..models.housekeeping_dashboard import HousekeepingDashboard

MODULE = "housekeeping_membership"

# the portal's pages (GET): (route in the routing map, URL opened, who opens it)
PORTAL_PAGES = (
    ("/my/membership", "/my/membership", "portal"),
    ("/my/points", "/my/points", "portal"),
    ("/my/points/page/<int:page>", "/my/points/page/2", "portal"),
    ("/my/referral", "/my/referral", "portal"),
    ("/my/rewards", "/my/rewards", "portal"),
    ("/my/coupons", "/my/coupons", "portal"),
    ("/my/visits", "/my/visits", "portal"),
    ("/my/plans", "/my/plans", "portal"),
    ("/my/preferences", "/my/preferences", "portal"),
    ("/housekeeping/ref/<string:code>", "/housekeeping/ref/ABCD2345", "public"),
    ("/housekeeping/unsubscribe/<int:partner_id>/<string:token>", "{unsubscribe}", "public"),
    # the PDF reports, rendered as HTML (the same route and data, without wkhtmltopdf)
    (
        "/report/<converter>/<reportname>/<docids>",
        "/report/html/housekeeping_membership.report_customer_profile/{customer}",
        "user",
    ),
    (
        "/report/<converter>/<reportname>/<docids>",
        "/report/html/housekeeping_membership.report_points_statement/{statement}",
        "user",
    ),
)
# JSON routes: (route, params, who)
JSON_ROUTES = (("/my/counters", {"counters": ["hk_points", "hk_visit_count"]}, "portal"),)

# GET routes of the addon's controllers that write, on purpose
READ_WRITE_GET_ROUTES = {
    # Odoo's satisfaction-survey links (rating controller): opening one records the
    # score, as in Odoo; the addon only shows a visit's first rating instead
    "/rate/<string:token>/<int:rate>",
    "/rate/<string:token>/submit_feedback",
}

# the back office's read-only calls: (model, method, who, args, kwargs); args given
# by name are the web client's own (the list views' fields, a report's group-by)
RPC_CALLS = (
    ("housekeeping.dashboard", "get_dashboard_data", "user", [], {"period": "month"}),
    ("housekeeping.dashboard", "get_dashboard_data", "user", [], {"period": "30d"}),
    ("housekeeping.dashboard", "action_open_kpi", "user", ["at_risk"], {}),
    # the customer lists (Customers, Customer Lifecycle) and the visit list
    ("res.partner", "web_search_read", "user", "customers_list", {}),
    ("res.partner", "web_search_read", "user", "lifecycle_list", {}),
    ("housekeeping.visit", "web_search_read", "user", "visits_list", {}),
    # the visits' analysis (pivot and graph on the visits themselves)
    ("housekeeping.visit", "formatted_read_group", "user", "group", {}),
    ("housekeeping.visit", "formatted_read_grouping_sets", "user", "grouping_sets", {}),
    # the lifecycle preview's counts, computed on an in-memory wizard
    (
        "housekeeping.lifecycle.preview",
        "get_preview",
        "manager",
        [{"hk_at_risk_factor": 1.5, "hk_churn_floor_days": 30}],
        {},
    ),
)
# every report model (pivot, graph, list, grouped list): read as the least
# privileged group that may open it
REPORT_MODELS = {
    "housekeeping.report.membership": "user",
    "housekeeping.report.membership.tier": "user",
    "housekeeping.report.visit": "user",
    "housekeeping.report.prepaid.balance": "user",
    "housekeeping.report.lifecycle.transition": "manager",
    "housekeeping.report.lifecycle.snapshot": "manager",
    "housekeeping.report.lifecycle.funnel": "manager",
    "housekeeping.report.lifecycle.funnel.day": "manager",
    "housekeeping.report.lifecycle.transition.day": "manager",
    "housekeeping.report.cohort": "manager",
    "housekeeping.report.cleaner": "manager",
    "housekeeping.report.staff.audit": "manager",
    "housekeeping.cleaner.quality.report": "manager",
    "housekeeping.points.liability": "manager",
    "housekeeping.report.cleaner.customers": "manager",
    "housekeeping.visit.fact": "user",
}
REPORT_METHODS = (
    "formatted_read_group",
    "formatted_read_grouping_sets",
    "web_read_group",
    "web_search_read",
)

# a statement that writes a row or locks one (SELECT ... FOR UPDATE / SHARE)
WRITE_OR_LOCK = re.compile(
    r"\b(INSERT\s+INTO|DELETE\s+FROM)\b"
    r"|\bUPDATE\s+\"?\w+\"?\s+(AS\s+\w+\s+)?SET\b"
    r"|\bFOR\s+(NO\s+KEY\s+|KEY\s+)?(UPDATE|SHARE)\b",
    re.IGNORECASE,
)
# what Odoo itself writes on a logged-in user's request, on a cursor of its own
FRAMEWORK_WRITES = ("res_device_log",)


def rpc_readonly(model_class, method):
    """Whether ``/web/dataset/call_kw`` serves ``method`` on a read-only cursor:
    the resolution of ``DataSet._call_kw_readonly`` (addons/web/controllers/dataset.py)."""
    for cls in model_class.mro():
        function = getattr(cls, method, None)
        if function is not None and hasattr(function, "_readonly"):
            return function._readonly
    return False


@tagged("post_install", "-at_install")
class TestReadonlyEntryPoints(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.hk_portal_notice_hours = 24
        cls.portal_user = new_test_user(
            cls.env,
            login="hk_ro_wu",
            groups="base.group_portal",
            name="Customer Wu",
            email="ro.wu@example.com",
            tz="Asia/Shanghai",
        )
        cls.customer = cls.portal_user.partner_id
        cls.customer.write({"consent_email": True})
        cls.staff = new_test_user(
            cls.env,
            login="hk_ro_agent",
            groups="housekeeping_membership.group_membership_user",
            name="Agent Zhang",
        )
        cls.manager = new_test_user(
            cls.env,
            login="hk_ro_manager",
            groups="housekeeping_membership.group_membership_manager",
            name="Manager Chen",
        )
        cls.users = {"portal": cls.portal_user, "user": cls.staff, "manager": cls.manager}
        service = cls.env.ref("housekeeping_membership.service_type_hourly")
        cleaner = cls.env["hr.employee"].create({"name": "Cleaner Zhao"})
        visit_model = cls.env["housekeeping.visit"]
        now = fields.Datetime.now()
        for days in (200, 120, 40):
            visit = visit_model.create(
                {
                    "partner_id": cls.customer.id,
                    "service_type_id": service.id,
                    "date": now - timedelta(days=days),
                    "amount": 300,
                    "payment_method": "wechat",
                    "employee_id": cleaner.id,
                    "user_id": cls.staff.id,
                }
            )
            visit.action_done()
        cls.upcoming = visit_model.create(
            {
                "partner_id": cls.customer.id,
                "service_type_id": service.id,
                "date": now + timedelta(days=5),
                "amount": 300,
                "employee_id": cleaner.id,
                "user_id": cls.staff.id,
            }
        )
        cls.upcoming.action_schedule()
        cls.env["housekeeping.service.plan"].create(
            {
                "partner_id": cls.customer.id,
                "service_type_id": service.id,
                "company_id": cls.env.company.id,
                "weekday_ids": [(6, 0, cls.env["housekeeping.weekday"].search([], limit=2).ids)],
                "time_start": 14.0,
                "duration": 2.0,
                "amount": 120.0,
            }
        )
        program = (
            cls.env["loyalty.program"]
            .with_context(default_program_type="coupons")
            .create({"name": "¥20 off"})
        )
        cls.env["loyalty.card"].create(
            {"program_id": program.id, "partner_id": cls.customer.id, "points": 1}
        )
        cls.env["housekeeping.reward"].create(
            [
                {
                    "name": "¥20 coupon",
                    "points_cost": 100,
                    "reward_type": "coupon",
                    "loyalty_program_id": program.id,
                    "stock_limit": 10,
                },
                {"name": "Eco kit", "points_cost": 50, "reward_type": "gift", "stock_limit": 5},
            ]
        )
        cls.statement = (
            cls.env["housekeeping.points.statement"]
            .with_user(cls.staff)
            .create(
                {
                    "partner_id": cls.customer.id,
                    "date_from": fields.Date.today() - timedelta(days=365),
                    "date_to": fields.Date.today(),
                }
            )
        )

    # ------------------------------------------------------------------ helpers
    @contextmanager
    def _served(self):
        """``[(path, cursor is read-only)]``, one per time Odoo serves a request
        meanwhile (twice when a read-only attempt wrote and was served again)."""
        served = []
        serve = http.Request._serve_ir_http

        def recording_serve(request, rule, args):
            served.append((request.httprequest.path, request.env.cr.readonly))
            return serve(request, rule, args)

        with patch.object(http.Request, "_serve_ir_http", recording_serve):
            yield served

    @contextmanager
    def _statements(self):
        """The SQL statements run meanwhile (the requests run in this process)."""
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

    @staticmethod
    def _page_text(response):
        """The words of a page (an error page's message), for a failure's message."""
        text = re.sub(r"(?s)<(script|style|head)\b.*?</\1>|<[^>]+>", " ", response.text)
        return " ".join(text.split())[:1500]

    def _login(self, who):
        if who == "public":
            self.authenticate(None, None)
        else:
            user = self.users[who]
            self.authenticate(user.login, user.login)

    @contextmanager
    def _read_only(self, path):
        """Assert that what runs inside serves ``path`` once, on a read-only cursor,
        without a statement that writes or locks."""
        with self._served() as served, self._statements() as statements:
            yield
        self.assertEqual(
            served,
            [(path, True)],
            "served once on a read-only cursor (a second, read/write serve means the "
            "route or method is not read-only, or wrote and was retried)",
        )
        self.assertEqual(self._writes(statements), [], "nothing written or locked")

    def _routing(self):
        # ir.http builds the map for the database of the thread (a request's)
        with patch.object(threading.current_thread(), "dbname", self.env.cr.dbname, create=True):
            rules = list(self.env["ir.http"].routing_map().iter_rules())
        return {
            (rule.rule, method): rule.endpoint.routing
            for rule in rules
            for method in (rule.methods or {"GET", "POST"})
        }

    def _list_spec(self, model, view_xmlid):
        view = self.env.ref(view_xmlid)
        views = self.env[model].with_user(self.staff).get_views([(view.id, "list")])
        # as the web client asks: the name of each related record
        return {
            name: {"fields": {"display_name": {}}}
            if field["type"].endswith("2many") or field["type"] == "many2one"
            else {}
            for name, field in views["models"][model]["fields"].items()
        }

    def _groupby(self, model):
        """A field to group the report by: a date by month, else a many2one or a
        selection."""
        candidates = [
            field
            for field in self.env[model]._fields.values()
            if field.store and field.column_type and field.name != "id"
        ]
        # the company last: the reports with a field of their own group by it
        candidates.sort(key=lambda field: field.name == "company_id")
        for kinds in (("date", "datetime"), ("many2one", "selection")):
            for field in candidates:
                if field.type in kinds:
                    return (
                        f"{field.name}:month" if field.type in ("date", "datetime") else field.name
                    )
        self.fail(f"no field to group {model} by")

    def _call_args(self, model, method, args):
        """The arguments the web client sends for ``method`` (lists, pivots, graphs)."""
        if args == "customers_list":
            return [[], self._list_spec(model, f"{MODULE}.res_partner_view_list_housekeeping")], {
                "limit": 80,
                "context": {"search_default_filter_hk_customer": 1},
            }
        if args == "lifecycle_list":
            spec = self._list_spec(model, f"{MODULE}.res_partner_view_list_lifecycle_housekeeping")
            return [[], spec], {"limit": 80}
        if args == "visits_list":
            return [[], self._list_spec(model, f"{MODULE}.housekeeping_visit_view_list")], {
                "limit": 80
            }
        groupby = self._groupby(model)
        if args == "group" or method == "formatted_read_group":
            return [[], [groupby], ["__count"]], {}
        if args == "grouping_sets" or method == "formatted_read_grouping_sets":
            return [[], [[], [groupby]], ["__count"]], {}
        if method == "web_read_group":
            return [[], [groupby], ["__count"]], {}
        return [[], {"display_name": {}}], {"limit": 80}

    def _rpc(self, model, method, args, kwargs):
        path = f"/web/dataset/call_kw/{model}/{method}"
        with self._read_only(path):
            result = self.make_jsonrpc_request(
                path, {"model": model, "method": method, "args": args, "kwargs": kwargs}
            )
        return result

    # ------------------------------------------------------------------ tests
    def test_portal_pages_are_read_only(self):
        self.assertFalse(self.customer.referral_code)
        urls = {
            "unsubscribe": self.customer._hk_unsubscribe_url().split("://", 1)[1].split("/", 1)[1],
            "customer": self.customer.id,
            "statement": self.statement.id,
        }
        routing = self._routing()
        for route, url, who in PORTAL_PAGES:
            url = url.format(**urls)
            if not url.startswith("/"):
                url = f"/{url}"
            with self.subTest(url=url):
                readonly = routing[route, "GET"]["readonly"]
                if callable(readonly):
                    # only the unsubscribe link, GET read-only and POST read/write
                    self.assertIn("/housekeeping/unsubscribe/", route)
                else:
                    self.assertIs(readonly, True, f"{route} is declared readonly=True")
                self._login(who)
                with self._read_only(url):
                    response = self.url_open(url, allow_redirects=False)
                self.assertIn(response.status_code, (200, 303), self._page_text(response))
                if route.startswith("/my/"):
                    self.assertEqual(response.status_code, 200)
                    self.assertIn("Customer Wu", response.text)
        for route, params, who in JSON_ROUTES:
            with self.subTest(route=route):
                self.assertIs(routing[route, "POST"]["readonly"], True)
                self._login(who)
                with self._read_only(route):
                    counters = self.make_jsonrpc_request(route, params)
                self.assertGreaterEqual(counters["hk_visit_count"], 4)
        # nothing was created on the way (no lazy referral code, no device of ours)
        self.assertFalse(self.customer.referral_code, "viewing creates no referral code")

    def test_unsubscribe_post_still_writes(self):
        """The unsubscribe link is read-only for GET only: its POST withdraws the
        consent, on a read/write cursor."""
        url = "/" + self.customer._hk_unsubscribe_url().split("://", 1)[1].split("/", 1)[1]
        self.authenticate(None, None)
        with self._served() as served:
            response = self.url_open(url, data={"confirm": "1"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(served, [(url, False)])
        self.customer.invalidate_recordset(["consent_email"])
        self.assertFalse(self.customer.consent_email)

    def test_back_office_calls_are_read_only(self):
        calls = list(RPC_CALLS) + [
            (model, method, who, None, {})
            for model, who in REPORT_MODELS.items()
            for method in REPORT_METHODS
        ]
        for model, method, who, args, kwargs in calls:
            with self.subTest(model=model, method=method, args=args):
                self.assertIs(
                    rpc_readonly(type(self.env[model]), method),
                    True,
                    f"{model}.{method} is @api.readonly",
                )
                if args is None or isinstance(args, str):
                    args, extra = self._call_args(model, method, args)
                    kwargs = {**kwargs, **extra}
                self._login(who)
                result = self._rpc(model, method, args, kwargs)
                self.assertIsNotNone(result)
                if method == "get_dashboard_data":
                    self.assertTrue(result["kpis"])
                if method == "web_search_read" and model == "housekeeping.visit":
                    self.assertGreaterEqual(result["length"], 4)
                if method == "get_preview":
                    self.assertIn("moved_count", result)

    def test_every_report_is_listed(self):
        """A report added later must join REPORT_MODELS (and be read-only)."""
        # the models of report/ (but the printing wizard) and the addon's SQL views
        prefix = f"odoo.addons.{MODULE}.report."
        reports = {
            name
            for name, model_class in self.env.registry.items()
            if not model_class._abstract
            and not model_class._transient
            and model_class._original_module == MODULE
            and (
                not model_class._auto
                or any(cls.__module__.startswith(prefix) for cls in model_class.mro())
            )
        }
        self.assertIn("housekeeping.report.cohort", reports)
        self.assertLessEqual(reports, set(REPORT_MODELS), "every report is checked here")

    def test_every_portal_page_is_listed(self):
        """A GET page added later to the addon's controllers must join PORTAL_PAGES."""
        prefix = f"odoo.addons.{MODULE}.controllers."
        with patch.object(threading.current_thread(), "dbname", self.env.cr.dbname, create=True):
            rules = list(self.env["ir.http"].routing_map().iter_rules())
        ours = {
            rule.rule
            for rule in rules
            if rule.endpoint.__module__.startswith(prefix)
            and rule.endpoint.routing["type"] == "http"
            and (not rule.methods or "GET" in rule.methods)
        }
        self.assertIn("/my/visits", ours)
        listed = {route for route, _url, _who in PORTAL_PAGES}
        self.assertLessEqual(ours, listed | READ_WRITE_GET_ROUTES, "every page is checked here")

    def test_preview_counts_as_the_wizard(self):
        """The read-only preview gives the wizard's counts, and writes no wizard."""
        preview_model = self.env["housekeeping.lifecycle.preview"].with_user(self.manager)
        values = {"hk_at_risk_factor": 1.0, "hk_at_risk_floor_days": 10}
        before = preview_model.sudo().search_count([])
        result = preview_model.get_preview(values)
        self.assertEqual(preview_model.sudo().search_count([]), before, "no wizard row")
        with self.assertRaises(AccessError):
            preview_model.with_user(self.staff).get_preview(values)
        with self.assertRaises(UserError):
            preview_model.get_preview({"hk_unknown": 1})
        wizard = preview_model.create(values)
        wizard.action_preview()
        self.assertEqual(result["moved_count"], wizard.moved_count)
        self.assertEqual(
            sorted(
                (line["from_stage"], line["to_stage"], line["count"]) for line in result["lines"]
            ),
            sorted((line.from_stage, line.to_stage, line.count) for line in wizard.line_ids),
        )

    def test_the_check_sees_what_is_not_read_only(self):
        """The check above fails when a route loses ``readonly=True``, a method its
        ``@api.readonly``, or a read-only page writes."""
        self._login("portal")
        # a route declared read/write: served on a read/write cursor at once
        routing = self._routing()[("/my/coupons", "GET")]
        with patch.dict(routing, {"readonly": False}), self._served() as served:
            self.assertEqual(self.url_open("/my/coupons").status_code, 200)
        self.assertEqual(served, [("/my/coupons", False)])
        # a read-only page that writes: refused, then served again read/write
        values = HousekeepingPortal._hk_values

        def writing_values(controller, page_name, **kw):
            http.request.env.user.partner_id.sudo().comment = "seen"
            return values(controller, page_name, **kw)

        with (
            patch.object(HousekeepingPortal, "_hk_values", writing_values),
            self._served() as served,
            # the refused UPDATE, and "retrying with a read/write cursor"
            self.assertLogs("odoo.sql_db", "WARNING"),
            self.assertLogs("odoo.http", "WARNING") as retried,
        ):
            self.assertEqual(self.url_open("/my/coupons").status_code, 200)
        self.assertEqual(served, [("/my/coupons", True), ("/my/coupons", False)])
        self.assertIn("read-only transaction", retried.output[0])
        # a method without @api.readonly: served on a read/write cursor
        action_open_kpi = HousekeepingDashboard.action_open_kpi

        @api.model
        def read_write(dashboard, *args, **kwargs):
            return action_open_kpi(dashboard, *args, **kwargs)

        self._login("user")
        model = "housekeeping.dashboard"
        with patch.object(HousekeepingDashboard, "action_open_kpi", read_write):
            self.assertIs(rpc_readonly(type(self.env[model]), "action_open_kpi"), False)
            path = f"/web/dataset/call_kw/{model}/action_open_kpi"
            with self._served() as served:
                self.make_jsonrpc_request(
                    path,
                    {
                        "model": model,
                        "method": "action_open_kpi",
                        "args": ["at_risk"],
                        "kwargs": {},
                    },
                )
        self.assertEqual(served, [(path, False)])
