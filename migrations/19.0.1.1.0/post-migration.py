"""19.0.1.1.0

- The tier priority of a visit applies to the visits still to do only: done and
  cancelled visits rank 0 (one statement, whatever the history).
- The stage log's company column lost its own index, which the (company_id, date)
  index serves; Odoo keeps an index a field no longer asks for, so drop it here.
- The retention cohorts are a snapshot table: computed once here, then nightly.
"""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        UPDATE housekeeping_visit
           SET tier_sequence = 0
         WHERE state IN ('done', 'cancelled') AND tier_sequence <> 0
        """
    )
    cr.execute("DROP INDEX IF EXISTS housekeeping_stage_log__company_id_index")
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["housekeeping.report.cohort"]._cron_refresh()
