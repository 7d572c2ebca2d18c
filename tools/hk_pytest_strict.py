"""pytest glue for ``make test``: a skipped test is a failed run.

Odoo skips browser tests silently when websocket-client or Chromium is missing;
with ``HK_STRICT_SKIP=1`` (set by ``make test``) any skip makes pytest exit 1.
"""

import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    if not os.environ.get("HK_STRICT_SKIP"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(
            f"HK_STRICT_SKIP: {len(skipped)} test(s) skipped; a skipped test is a failure here "
            "(install websocket-client and Chromium: make test does it when it can).",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
