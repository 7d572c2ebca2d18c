"""19.0.1.6.0

The snapshots of the *Membership Overview* and of the lifecycle reports
(``housekeeping.dashboard.snapshot``, ``housekeeping.lifecycle.month``,
``housekeeping.lifecycle.reach``) are filled here (they read the visits, the stage log and the points, not the
visit facts of ``post-visit-facts.py``), so that an upgraded database answers
fast from its first opening instead of computing live until the first nightly
run.
"""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["housekeeping.engine.snapshot"]._run()
