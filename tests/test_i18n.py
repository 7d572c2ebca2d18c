"""Chinese first: the .pot is current and zh_CN.po translates every term."""

import io
import os
import re
from pathlib import Path
from unittest.mock import patch

import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import trans_export

I18N = Path(__file__).resolve().parent.parent / "i18n"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_]*\}")
REAL_WALK = os.walk


def _walk_without_caches(top, *args, **kwargs):
    """The checkout holds .cache/ (PostgreSQL, the addon symlink): never scan it."""
    for root, dirs, files in REAL_WALK(top, *args, **kwargs):
        dirs[:] = [d for d in dirs if d not in (".cache", ".git", "node_modules")]
        yield root, dirs, files


@tagged("post_install", "-at_install")
class TestTranslations(TransactionCase):
    def test_pot_is_current(self):
        buffer = io.BytesIO()
        with patch.object(os, "walk", _walk_without_caches):
            trans_export(None, ["housekeeping_membership"], buffer, "po", self.env)
        exported = {(e.msgctxt, e.msgid) for e in polib.pofile(buffer.getvalue().decode())}
        committed = {
            (e.msgctxt, e.msgid) for e in polib.pofile(str(I18N / "housekeeping_membership.pot"))
        }
        missing = sorted(msgid for _ctx, msgid in exported - committed)
        self.assertFalse(missing, f"run `make pot`: {len(missing)} new terms, e.g. {missing[:5]}")
        stale = sorted(msgid for _ctx, msgid in committed - exported)
        self.assertFalse(stale, f"run `make pot`: {len(stale)} stale terms, e.g. {stale[:5]}")

    def test_zh_cn_translates_every_term(self):
        pot = polib.pofile(str(I18N / "housekeeping_membership.pot"))
        po = {(e.msgctxt, e.msgid): e for e in polib.pofile(str(I18N / "zh_CN.po"))}
        untranslated, broken = [], []
        for entry in pot:
            translated = po.get((entry.msgctxt, entry.msgid))
            if not translated or not translated.msgstr.strip():
                untranslated.append(entry.msgid)
            elif sorted(PLACEHOLDER.findall(entry.msgid)) != sorted(
                PLACEHOLDER.findall(translated.msgstr)
            ):
                broken.append(entry.msgid)
        self.assertFalse(untranslated, f"{len(untranslated)} untranslated: {untranslated[:5]}")
        self.assertFalse(broken, f"placeholders differ: {broken[:5]}")

    def test_chinese_interface(self):
        self.env["res.lang"]._activate_lang("zh_CN")
        self.env["ir.module.module"].search(
            [("name", "=", "housekeeping_membership")]
        )._update_translations(["zh_CN"])
        env = self.env(context={"lang": "zh_CN"})
        fields = env["res.partner"].fields_get(["lifecycle_stage", "points_balance"])
        stages = dict(fields["lifecycle_stage"]["selection"])
        self.assertEqual(stages["loyal"], "老客户")
        self.assertEqual(stages["churned"], "已流失")
        self.assertEqual(fields["points_balance"]["string"], "积分")
        self.assertEqual(env.ref("housekeeping_membership.tier_gold").name, "金卡会员")
        self.assertNotEqual(env.ref("housekeeping_membership.menu_root").name, "Membership")
