"""19.0.1.5.0

- ``housekeeping.visit.prepaid_amount`` (the part paid from the prepaid balance) is a
  stored computed field: created and filled here in one statement, before the ORM
  would compute it record by record for every visit of the database (ten million
  at the largest benchmark scale). Existing visits paid by ``prepaid`` were paid
  whole from the balance.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute("ALTER TABLE housekeeping_visit ADD COLUMN IF NOT EXISTS prepaid_amount numeric")
    cr.execute(
        """
        UPDATE housekeeping_visit
           SET prepaid_amount = CASE WHEN payment_method = 'prepaid' THEN amount ELSE 0 END
         WHERE prepaid_amount IS NULL
        """
    )
