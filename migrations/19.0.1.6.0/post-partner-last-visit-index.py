"""19.0.1.6.0

``res_partner.last_visit_date`` is indexed with the id (``_hk_last_visit_idx``:
the customer list sorted by last visit, either way, reads its first page from
the index): the former single-column index is dropped (Odoo keeps an index a
field no longer declares).
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute("DROP INDEX IF EXISTS res_partner__last_visit_date_index")
