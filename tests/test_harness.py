import os
import subprocess
import sys
import tempfile
from pathlib import Path

from odoo.addons.housekeeping_membership.hooks import FAST_DEFAULT_COLUMNS, pre_init_hook
from odoo.tests import BaseCase, TransactionCase, tagged

ROOT = Path(__file__).resolve().parent.parent


@tagged("post_install", "-at_install")
class TestHarness(BaseCase):
    """`make test` must fail, not pass, when a test is skipped (e.g. no Chromium)."""

    def _run_pytest(self, strict):
        with tempfile.TemporaryDirectory() as tmp:
            test_file = Path(tmp, "test_skip.py")
            test_file.write_text(
                "import unittest\n"
                "class T(unittest.TestCase):\n"
                "    def test_browser(self):\n"
                "        raise unittest.SkipTest('websocket-client module is not installed')\n"
                "    def test_ok(self):\n"
                "        pass\n"
            )
            env = dict(os.environ, PYTHONPATH=str(ROOT / "tools"))
            env.pop("HK_STRICT_SKIP", None)
            if strict:
                env["HK_STRICT_SKIP"] = "1"
            return subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-p",
                    "no:odoo",
                    "-p",
                    "no:cacheprovider",
                    "-p",
                    "hk_pytest_strict",
                    "--rootdir",
                    tmp,
                    str(test_file),
                ],
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp,
                timeout=120,
                check=False,
            )

    def test_skip_fails_the_run(self):
        result = self._run_pytest(strict=True)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("1 skipped", result.stdout)
        self.assertIn("HK_STRICT_SKIP", result.stdout)

    def test_without_strict_mode_skip_passes(self):
        result = self._run_pytest(strict=False)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_makefile_targets(self):
        makefile = (ROOT / "Makefile").read_text()
        for target in ("run:", "test:", "test-odoo:", "test-compat:", "lint:", "bench:"):
            self.assertIn(target, makefile)
        self.assertIn("make test", (ROOT / ".ci" / "run").read_text())

    def _harness(self, *args, **env_overrides):
        env = {k: v for k, v in os.environ.items() if k not in ("ODOO_SRC", "PYTHONPATH")}
        env.update(env_overrides)
        return subprocess.run(
            ["bash", str(ROOT / "tools" / "harness.sh"), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    def test_without_odoo_stops_with_one_clear_message(self):
        # -I -S: an interpreter that cannot import the installed Odoo
        for command in ("test", "run"):
            result = self._harness(command, PYTHON=f"{sys.executable} -I -S")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("Odoo 19.0 is not importable", result.stderr)
            self.assertIn("ODOO_SRC", result.stderr)

    def test_bad_odoo_src_is_reported(self):
        result = self._harness("test", ODOO_SRC="/nonexistent/odoo")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("ODOO_SRC=/nonexistent/odoo is not an Odoo 19.0 source tree", result.stderr)


@tagged("post_install", "-at_install")
class TestInstallHook(TransactionCase):
    def test_fast_default_columns_match_the_fields(self):
        """The pre-init hook adds partner columns with their default in constant time;
        each must be the field's own column type and default, or the values read
        after installation would differ from Odoo's."""
        Partner = self.env["res.partner"]
        for column, column_type, label in FAST_DEFAULT_COLUMNS:
            field = Partner._fields[column]
            self.assertEqual(field.column_type[0], column_type, column)
            self.assertEqual(field.default(Partner), 0, column)
            self.assertEqual(field.string, label, column)
        # existing partners read 0, not NULL, in SQL as in the ORM
        self.env.cr.execute(
            "SELECT count(*) FROM res_partner WHERE visit_count IS NULL OR total_spent IS NULL"
            " OR average_ticket IS NULL OR points_balance IS NULL"
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        # the hook is idempotent: the columns exist, nothing is altered
        pre_init_hook(self.env)
