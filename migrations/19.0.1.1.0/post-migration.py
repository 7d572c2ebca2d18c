"""19.0.1.1.0: the tier priority of a visit applies to the visits still to do only;
done and cancelled visits rank 0 (one statement, whatever the history)."""


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
