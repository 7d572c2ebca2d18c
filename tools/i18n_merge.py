#!/usr/bin/env python3
"""Bring i18n/zh_CN.po in line with the .pot: every term of the template, keeping
existing translations; prints how many terms still lack a translation.

    make pot && python3 tools/i18n_merge.py
"""

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
POT = ROOT / "i18n" / "housekeeping_membership.pot"
PO = ROOT / "i18n" / "zh_CN.po"


def main():
    pot = polib.pofile(str(POT))
    old = polib.pofile(str(PO)) if PO.exists() else polib.POFile()
    known = {(e.msgctxt, e.msgid): e.msgstr for e in old if e.msgstr}
    po = polib.POFile(wrapwidth=78)
    po.metadata = dict(pot.metadata)
    po.metadata.update(
        {
            "Language": "zh_CN",
            "Language-Team": "Chinese (Simplified)",
            "Plural-Forms": "nplurals=1; plural=0;",
            "Content-Type": "text/plain; charset=UTF-8",
            "Content-Transfer-Encoding": "8bit",
        }
    )
    po.header = pot.header
    missing = 0
    for entry in pot:
        new = polib.POEntry(
            msgid=entry.msgid,
            msgctxt=entry.msgctxt,
            occurrences=entry.occurrences,
            comment=entry.comment,
            tcomment=entry.tcomment,
            flags=entry.flags,
            msgstr=known.get((entry.msgctxt, entry.msgid), ""),
        )
        missing += not new.msgstr
        po.append(new)
    po.save(str(PO))
    print(f"{len(pot)} terms, {missing} without a translation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
