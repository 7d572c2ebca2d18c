"""The Preview Rule Change dialog previews without saving (issue 32, read replica).

Its "Preview" is a view widget (static/src/lifecycle_preview/) that sends the
form's unsaved thresholds to the read-only ``get_preview`` (``@api.readonly``: Odoo
may serve it from a read replica) instead of the former object button, which saved
the transient wizard and its lines first. A tour in Chromium
(static/tests/tours/hk_lifecycle_preview_tour.js) previews a lower "Visits to
Become Loyal" as a membership manager; the test checks that the preview was served
on a read-only cursor and that no wizard row was written.
"""

import re
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from unittest.mock import patch

from odoo import fields, http
from odoo.tests import HttpCase, new_test_user, tagged

from ..models.lifecycle_rules import LIFECYCLE_SETTINGS

MODEL = "housekeeping.lifecycle.preview"
WIDGET_JS = Path(__file__).parent.parent / "static/src/lifecycle_preview/hk_lifecycle_preview.js"


@tagged("post_install", "-at_install")
class TestLifecyclePreviewWidget(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.company = env.company
        cls.manager = new_test_user(
            env,
            login="hk_preview_manager",
            groups="housekeeping_membership.group_membership_manager",
            name="Manager Qin",
        )
        # two companies: the dialog shows the company field, which the widget sends
        branch = env["res.company"].create({"name": "PW Branch"})
        cls.manager.company_ids = [(4, branch.id)]
        service = env.ref("housekeeping_membership.service_type_hourly")
        cleaner = env["hr.employee"].create({"name": "Cleaner Guo"})
        now = fields.Datetime.now()

        def customer(name, *days_ago):
            partner = env["res.partner"].create({"name": name})
            for days in days_ago:
                env["housekeeping.visit"].create(
                    {
                        "partner_id": partner.id,
                        "service_type_id": service.id,
                        "date": now - timedelta(days=days),
                        "amount": 150,
                        "employee_id": cleaner.id,
                    }
                ).action_done()
            return partner

        # two visits: new while three make a customer loyal, loyal with two
        cls.twice = customer("PW Twice A", 20, 6) | customer("PW Twice B", 15, 3)
        cls.once = customer("PW Once", 5)  # new either way
        env["res.partner"]._cron_evaluate_lifecycle()
        env.invalidate_all()

    def _count_rows(self):
        """The wizard's rows and lines in the table (the tour's requests share this
        test's cursor)."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT (SELECT count(*) FROM housekeeping_lifecycle_preview),"
            " (SELECT count(*) FROM housekeeping_lifecycle_preview_line)"
        )
        return self.env.cr.fetchone()

    @contextmanager
    def _served_calls(self):
        """``[(call_kw path, cursor is read-only, args)]`` of the requests served
        meanwhile (a read-only attempt that wrote would be served again, read/write)."""
        served = []
        serve = http.Request._serve_ir_http

        def recording_serve(request, rule, args):
            path = request.httprequest.path
            if path.startswith("/web/dataset/call_kw"):
                call_args = request.get_json_data()["params"]["args"]
                served.append((path, request.env.cr.readonly, call_args))
            return serve(request, rule, args)

        with patch.object(http.Request, "_serve_ir_http", recording_serve):
            yield served

    def test_widget_knows_the_settings(self):
        """The widget sends the thresholds named as in LIFECYCLE_SETTINGS."""
        source = WIDGET_JS.read_text(encoding="utf-8")
        listed = re.search(r"LIFECYCLE_SETTINGS = \[(.*?)\];", source, re.S).group(1)
        self.assertEqual(re.findall(r'"(\w+)"', listed), list(LIFECYCLE_SETTINGS))

    def test_form_previews_with_the_widget(self):
        """The dialog has the widget; no object button saves the wizard to preview."""
        arch = (
            self.env[MODEL]
            .with_user(self.manager)
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        self.assertIn('<widget name="hk_lifecycle_preview"', arch)
        self.assertNotIn("action_preview", arch)
        self.assertIn('name="action_apply"', arch, "Save These Rules stays")
        self.assertIn('name="company_id"', arch)
        for name in ("moved_count", "line_ids"):
            self.assertNotIn(f'name="{name}"', arch)

    def test_preview_gives_stage_labels(self):
        result = self.env[MODEL].with_user(self.manager).get_preview({"hk_new_min_visits": 2})
        self.assertEqual(result["moved_count"], 2)
        self.assertEqual(
            [(line["from_stage"], line["to_stage"], line["count"]) for line in result["lines"]],
            [("new", "loyal", 2)],
        )
        self.assertEqual(result["stage_labels"]["new"], "New")
        self.assertEqual(result["stage_labels"]["loyal"], "Loyal")

    def test_preview_in_the_dialog_saves_nothing(self):
        self.assertEqual(set((self.twice | self.once).mapped("lifecycle_stage")), {"new"}, "before")
        self.assertEqual(self.company.hk_new_min_visits, 3)
        before = self._count_rows()
        with self._served_calls() as served:
            self.start_tour(
                "/odoo/action-housekeeping_membership.housekeeping_lifecycle_preview_action",
                "hk_lifecycle_preview_tour",
                login=self.manager.login,
                timeout=180,
            )
        self.assertEqual(self._count_rows(), before, "no wizard row nor line written")
        preview_path = f"/web/dataset/call_kw/{MODEL}/get_preview"
        previews = [(readonly, args) for path, readonly, args in served if path == preview_path]
        self.assertEqual(
            [readonly for readonly, _args in previews],
            [True, True],
            "twice, each on a read-only cursor",
        )
        # the form's unsaved values: the company as an id, every threshold of the form
        sent = previews[1][1][0]
        self.assertEqual(set(sent), {"company_id", *LIFECYCLE_SETTINGS})
        self.assertEqual(sent["company_id"], self.company.id)
        self.assertEqual(sent["hk_new_min_visits"], 2)
        self.assertEqual(sent["hk_at_risk_factor"], self.company.hk_at_risk_factor)
        self.assertEqual(previews[0][1][0]["hk_new_min_visits"], 3)
        methods = {path.rsplit("/", 1)[-1] for path, _readonly, _args in served}
        self.assertFalse(methods & {"web_save", "action_preview"}, "the wizard is never saved")
        # nothing applied either
        self.env.invalidate_all()
        self.assertEqual(self.company.hk_new_min_visits, 3)
        self.assertEqual(set((self.twice | self.once).mapped("lifecycle_stage")), {"new"})
