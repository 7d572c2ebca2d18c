"""19.0.1.7.0

The members per tier are read from their counts
(``housekeeping.tier.member.count``, counted again by its ``init()`` at this
upgrade, kept by a trigger on ``res_partner`` since): the covering index they
were read from before (``res_partner_hk_tier_members_idx``) only cost an entry
per customer row rewritten, and goes (Odoo keeps an index a model no longer
declares).
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute("DROP INDEX IF EXISTS res_partner_hk_tier_members_idx")
