"""19.0.1.6.0

- ``housekeeping.visit.fact`` (done visits per company, local day, service type
  and cleaner), read by the visit reports and the dashboard's visit figures:
  filled here from the existing visits in one set-based pass; from then on the
  code that changes a visit, a rating or a complaint keeps it exact.
- ``housekeeping.report.cleaner.customers`` (the cleaner scorecard's customers
  served, rebooked and lost per cleaner and month): every month computed here,
  then the recent months every night.
"""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["housekeeping.visit.fact"]._hk_rebuild()
    env["housekeeping.report.cleaner.customers"]._refresh()
