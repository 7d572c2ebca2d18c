#!/usr/bin/env python3
"""Screenshots of the demo database for the README, taken in headless Chromium.

    make run                      # in another terminal: serves housekeeping_demo on :8069
    python3 tools/screenshots.py  # writes docs/screenshots/*.png

Drives Chromium through the DevTools protocol (websocket-client), logs in as the
demo's store manager manager/manager (back office; admin/admin sets the language)
and customer/customer (portal, phone size).
"""

import argparse
import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket

ROOT = Path(__file__).resolve().parent.parent

BACK_OFFICE = [
    ("dashboard", "/odoo/action-housekeeping_membership.hk_membership_dashboard_action"),
    ("customers", "/odoo/action-housekeeping_membership.res_partner_action_customers"),
    ("lifecycle", "/odoo/action-housekeeping_membership.res_partner_action_lifecycle"),
    ("tiers", "/odoo/action-housekeeping_membership.housekeeping_tier_action"),
    ("points_ledger", "/odoo/action-housekeeping_membership.housekeeping_points_entry_action"),
    ("journeys", "/odoo/action-housekeeping_membership.housekeeping_journey_action"),
    ("visits", "/odoo/action-housekeeping_membership.housekeeping_visit_action"),
    (
        "visit_calendar",
        "/odoo/action-housekeeping_membership.housekeeping_visit_action?view_type=calendar",
    ),
    ("complaints", "/odoo/action-housekeeping_membership.housekeeping_complaint_action"),
]
PORTAL = [
    ("portal_home", "/my"),
    ("portal_membership", "/my/membership"),
    ("portal_visits", "/my/visits"),
    ("portal_coupons", "/my/coupons"),
    ("portal_points", "/my/points"),
    ("portal_rewards", "/my/rewards"),
    ("portal_referral", "/my/referral"),
    ("portal_preferences", "/my/preferences"),
]
# the demo's store manager (李店长, Asia/Shanghai) takes the back office pictures:
# the screens as the people of the demo company see them, in its currency
STAFF_LOGIN = "manager"


class Browser:
    def __init__(self, port=9333):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        self.profile = tempfile.mkdtemp()
        self.proc = subprocess.Popen(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--remote-debugging-port={port}",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(50):
            try:
                tabs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=1))
                break
            except OSError:
                time.sleep(0.2)
        page = next(t for t in tabs if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.seq = 0

    def call(self, method, **params):
        self.seq += 1
        self.ws.send(json.dumps({"id": self.seq, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.seq:
                return msg.get("result", {})

    def size(self, width, height, mobile=False):
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )

    def goto(self, url, wait=4.0, timeout=30.0):
        """Open ``url`` and wait until the page is drawn: the web client's view
        (or a portal page) is there and nothing is loading any more."""
        self.call("Page.navigate", url=url)
        time.sleep(1)
        ready = (
            "document.readyState === 'complete'"
            " && !document.querySelector('.o_loading_indicator, .o_blockUI')"
            " && (!document.querySelector('.o_web_client')"
            "     || !!document.querySelector('.o_action_manager .o_view_controller,"
            " .o_action_manager .o_action'))"
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            result = self.js(ready).get("result", {})
            if result.get("value") is True:
                break
            time.sleep(0.5)
        time.sleep(wait)

    def js(self, expression):
        return self.call("Runtime.evaluate", expression=expression, awaitPromise=True)

    def shot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        print("wrote", path.relative_to(ROOT))

    def login(self, base, login, password, lang=None):
        self.call("Network.clearBrowserCookies")
        if lang:
            # the portal's pages follow the browser's language cookie (set from its
            # Accept-Language on the first page), not the user's: the user's one
            self.call("Network.setCookie", name="frontend_lang", value=lang, url=base)
        # the login page offers the users logged in before (kept in the browser's
        # storage) instead of the form: forget them
        self.goto(f"{base}/web/login", wait=0)
        self.js("localStorage.clear(); sessionStorage.clear();")
        self.goto(f"{base}/web/login", wait=1)
        self.js(
            f"document.querySelector('#login').value={json.dumps(login)};"
            f"document.querySelector('#password').value={json.dumps(password)};"
            "document.querySelector('form.oe_login_form').submit();"
        )
        # wait for the answer: navigating away earlier would abort the login
        deadline = time.time() + 30
        while time.time() < deadline:
            time.sleep(1)
            href = self.js("location.pathname").get("result", {}).get("value") or ""
            if not href.startswith("/web/login"):
                break
        else:
            raise RuntimeError(f"could not log in as {login}")

    def set_lang(self, base, logins, lang):
        """Set the interface language of users (as the logged-in administrator)."""
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "model": "res.users",
                "method": "search",
                "args": [[["login", "in", logins]]],
                "kwargs": {"context": {"active_test": False}},
            },
        }
        self.js(
            f"fetch({json.dumps(base + '/web/dataset/call_kw')}, {{method: 'POST', "
            f"headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(json.dumps(payload))}}})"
            ".then(r => r.json()).then(r => fetch("
            f"{json.dumps(base + '/web/dataset/call_kw')}, {{method: 'POST', "
            "headers: {'Content-Type': 'application/json'}, body: JSON.stringify({jsonrpc: '2.0', "
            "method: 'call', params: {model: 'res.users', method: 'write', "
            f"args: [r.result, {{lang: {json.dumps(lang)}}}], kwargs: {{}}}}}})}}))"
        )
        time.sleep(1)

    def close(self):
        self.ws.close()
        self.proc.terminate()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://localhost:8069")
    parser.add_argument("--lang", default="zh_CN")
    args = parser.parse_args()
    # English pictures in docs/screenshots/, the others in docs/screenshots/<lang>/
    # (the language must be loaded: `make run` creates the demo with zh_CN)
    out = ROOT / "docs" / "screenshots"
    if args.lang != "en_US":
        out = out / args.lang
    out.mkdir(parents=True, exist_ok=True)
    browser = Browser()
    try:
        browser.call("Page.enable")
        browser.call("Network.enable")
        browser.size(1440, 900)
        browser.login(args.url, "admin", "admin")
        browser.set_lang(args.url, [STAFF_LOGIN, "customer"], args.lang)
        browser.login(args.url, STAFF_LOGIN, STAFF_LOGIN, lang=args.lang)
        browser.goto(args.url + "/odoo", wait=2)
        for name, path in BACK_OFFICE:
            browser.goto(args.url + path)
            browser.shot(out / f"{name}.png")
        browser.size(390, 844, mobile=True)
        browser.login(args.url, "customer", "customer", lang=args.lang)
        # (in English, the portal's pages are the portal tours' pictures, written
        # under the same names by `make screenshots`: only the home page here)
        portal = PORTAL if args.lang != "en_US" else PORTAL[:1]
        for name, path in portal:
            browser.goto(args.url + path)
            browser.shot(out / f"{name}.png")
    finally:
        browser.close()
    print(f"users {STAFF_LOGIN} and customer now use {args.lang}")


if __name__ == "__main__":
    main()
