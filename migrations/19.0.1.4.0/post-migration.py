"""19.0.1.4.0

- A customer without a company follows the company of their latest done visit
  (``res.partner.hk_visit_company_id``, kept by the visit statistics engine): filled
  here once for every customer with done visits, in one statement.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        UPDATE res_partner p
           SET hk_visit_company_id = v.company_id
          FROM (SELECT DISTINCT ON (partner_id) partner_id, company_id
                  FROM housekeeping_visit
                 WHERE state = 'done'
                 ORDER BY partner_id, date DESC, id DESC) v
         WHERE p.id = v.partner_id
           AND p.hk_visit_company_id IS DISTINCT FROM v.company_id
        """
    )
