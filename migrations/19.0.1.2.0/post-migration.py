"""19.0.1.2.0

- The RFM scores moved from ``res_partner`` to ``housekeeping_partner_rfm`` (one
  narrow row per customer: a nightly run no longer rewrites a million partner
  rows and their indexes). Copy the scores there, so that the segments stay until
  the next run, and drop the old columns, which Odoo keeps for a field no longer
  stored.
"""

from odoo.tools.sql import column_exists


def migrate(cr, version):
    if not version or not column_exists(cr, "res_partner", "rfm_segment"):
        return
    cr.execute(
        """
        INSERT INTO housekeeping_partner_rfm
               (partner_id, recency, frequency, monetary, segment)
        SELECT id, rfm_recency, rfm_frequency, rfm_monetary, rfm_segment
          FROM res_partner
         WHERE rfm_segment IS NOT NULL
            ON CONFLICT (partner_id) DO NOTHING
        """
    )
    cr.execute(
        """
        ALTER TABLE res_partner
              DROP COLUMN IF EXISTS rfm_recency, DROP COLUMN IF EXISTS rfm_frequency,
              DROP COLUMN IF EXISTS rfm_monetary, DROP COLUMN IF EXISTS rfm_segment
        """
    )
