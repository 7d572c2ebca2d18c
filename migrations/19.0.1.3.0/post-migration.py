"""19.0.1.3.0

- A referral's ledger entries named the other customer in their note, which the
  anonymization of that customer did not erase: the other customer is now the
  entry's *Related Customer* (renamed with them when anonymized) and the note is
  cleared. The only rewrite of ledger rows, done once here: their points, dates and
  causes are unchanged.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        r"""
        UPDATE housekeeping_points_entry e
           SET related_partner_id = CASE
                   WHEN e.source_key LIKE 'referral:%' THEN split_part(e.source_key, ':', 2)::int
                   ELSE (SELECT rp.referred_by_id FROM res_partner rp WHERE rp.id = e.partner_id)
               END,
               note = NULL
         WHERE e.reason_code = 'referral'
           AND split_part(e.source_key, ':', 2) ~ '^[0-9]+$'
           AND (e.source_key LIKE 'referral:%' OR e.source_key LIKE 'referred:%')
           AND EXISTS (SELECT 1 FROM res_partner p
                        WHERE p.id = CASE WHEN e.source_key LIKE 'referral:%'
                                          THEN split_part(e.source_key, ':', 2)::int
                                          ELSE e.partner_id END)
        """
    )
