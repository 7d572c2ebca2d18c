from odoo.tests import tagged

from ..hooks import uninstall_hook
from ..models.trust import engine_writes
from .common import HousekeepingCase, read_counted

MEMBERS = (("line_type", "=", "member"),)
AGGREGATES = ("__count", "member_count:sum", "spend:sum", "average_spend:avg")
GROUPINGS = (["tier_id"], ["company_id"], ["tier_id", "company_id"], ["currency_id"], [])


@tagged("post_install", "-at_install")
class TestTierMemberCounts(HousekeepingCase):
    """The members per tier are read from counts that a trigger on the customers
    keeps (housekeeping.tier.member.count), whatever changes a member: an
    engine, staff, a merge, a deletion, plain SQL; the same figures as the
    members' rows, in a number of queries that does not depend on them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.silver = cls.env.ref("housekeeping_membership.tier_silver")
        cls.gold = cls.env.ref("housekeeping_membership.tier_gold")
        cls.other = cls.env["res.company"].create({"name": "Tier Count Other Store"})
        cls.manager.company_ids = cls.company | cls.other

    def _members(self, count, tier, spend, **vals):
        partners = self.env["res.partner"].create(
            [{"name": f"Counted {tier.name} {i}", **vals} for i in range(count)]
        )
        with engine_writes("membership_tier_id", "total_spent"):
            partners.write({"membership_tier_id": tier.id, "total_spent": spend})
        return partners

    def _read(self, groupby, domain=MEMBERS, aggregates=AGGREGATES, per_row=False, env=None):
        """The report's grouped read, and whether the counts served it."""
        return read_counted(
            env or self.env,
            "housekeeping.report.membership",
            groupby,
            aggregates,
            domain,
            per_row,
            digits=6,
        )

    def _assert_same(self, label, env=None):
        for groupby in GROUPINGS:
            counted, by_counts = self._read(groupby, env=env)
            per_row, by_counts_too = self._read(groupby, per_row=True, env=env)
            self.assertTrue(by_counts, f"{label} {groupby}: read from the counts")
            self.assertFalse(by_counts_too, f"{label} {groupby}: read per member")
            self.assertEqual(counted, per_row, f"{label} {groupby}")

    def _per_tier(self):
        counted, _by_counts = self._read(["tier_id"], aggregates=("member_count:sum", "spend:sum"))
        return {key[0]: value for key, value in counted.items()}

    def test_counts_follow_every_change(self):
        base = self._per_tier()

        def moved(tier, count, spend):
            before = base.get(tier.id, (0, 0.0))
            return (before[0] + count, round(before[1] + spend, 6))

        silver = self._members(3, self.silver, 2500.0)
        gold = self._members(2, self.gold, 8000.0, company_id=self.other.id)
        self._assert_same("created")
        self.assertEqual(self._per_tier()[self.silver.id], moved(self.silver, 3, 7500))

        # a done visit: the statistics engine rewrites the spend (2500 -> 180)
        self._visit(partner=silver[0], amount=180.0)
        self.assertEqual(silver[0].total_spent, 180.0)
        self._assert_same("visit done")
        self.assertEqual(self._per_tier()[self.silver.id], moved(self.silver, 3, 5180))

        # a tier set by staff, an archive, a company changed
        with engine_writes("membership_tier_id"):
            silver[1].write({"membership_tier_id": self.gold.id})
        silver[2].action_archive()
        gold[0].company_id = self.company
        self._assert_same("tier, archive, company")
        self.assertEqual(self._per_tier()[self.silver.id], moved(self.silver, 1, 180))
        self.assertEqual(self._per_tier()[self.gold.id], moved(self.gold, 3, 18500))
        silver[2].action_unarchive()
        self._assert_same("unarchived")

        # a merge, a deletion, plain SQL (an import)
        wizard = self.env["base.partner.merge.automatic.wizard"].create({})
        wizard._merge((gold[0] | gold[1]).ids, gold[0])
        self._assert_same("merged")
        silver[2].unlink()
        self.env.flush_all()
        Counts = self.env["housekeeping.tier.member.count"]
        rows = Counts.search_count([])
        self.env.cr.execute("UPDATE res_partner SET total_spent = 99 WHERE id = %s", [silver[1].id])
        # a spend changed on the same key (no company: NULLs compared as equal) is
        # one row of the difference
        self.assertEqual(Counts.search_count([]), rows + 1)
        self._assert_same("deleted, SQL")

        # the night adds the rows up: one per key, the same figures
        counted = self._read(["tier_id", "company_id"])[0]
        rows = Counts._fold()
        self.assertEqual(rows, Counts.search_count([]))
        self.env.cr.execute(
            """SELECT count(*) = count(DISTINCT (tier_id, company_id, visit_company_id))
                 FROM housekeeping_tier_member_count"""
        )
        self.assertTrue(self.env.cr.fetchone()[0], "one row per key")
        self.assertEqual(self._read(["tier_id", "company_id"])[0], counted)
        self._assert_same("folded")

    def test_recount_repairs(self):
        self._members(2, self.silver, 100.0)
        truth = self._per_tier()
        # counts written behind the trigger's back (a restore without triggers)
        self.env.cr.execute(
            """INSERT INTO housekeeping_tier_member_count
                      (tier_id, company_id, member_count, spend)
               VALUES (%s, %s, 5, 1000)""",
            [self.silver.id, self.company.id],
        )
        self.assertNotEqual(self._per_tier(), truth)
        # an upgrade counts again
        self.env["housekeeping.tier.member.count"].init()
        self.assertEqual(self._per_tier(), truth)
        self._assert_same("recounted")

    def test_reads_the_counts_only_for_members(self):
        self._members(2, self.silver, 100.0)
        self.env["housekeeping.tier.log"].create(
            {
                "partner_id": self.customer.id,
                "to_tier_id": self.silver.id,
                "direction": "up",
                "date": "2026-04-03",
                "trigger": "visit",
            }
        )
        # tier changes, both kinds, a customer's own rows, a having: per row
        for domain in ([("line_type", "=", "change")], [], [*MEMBERS, ("direction", "=", "up")]):
            self.assertFalse(self._read(["tier_id"], domain=domain)[1], domain)
        # a member's own measure on the members: from the counts, as the pivot asks
        pivot = (
            "currency_id:array_agg_distinct",
            "spend:sum_currency",
            "average_spend:sum_currency",
            "upgrade_count:sum",
        )
        counted, by_counts = self._read(["tier_id"], aggregates=pivot)
        self.assertTrue(by_counts)
        per_row, _by_counts = self._read(["tier_id"], aggregates=pivot, per_row=True)
        self.assertEqual(counted, per_row)
        # the pivot's own call (formatted, with the sample and the order)
        Report = self.env["housekeeping.report.membership"]
        groups = Report.formatted_read_group(
            list(MEMBERS),
            ["tier_id"],
            ["member_count:sum", "spend:sum"],
            order="member_count:sum desc",
        )
        silver = next(g for g in groups if g["tier_id"][0] == self.silver.id)
        self.assertGreaterEqual(silver["member_count:sum"], 2)

    def test_companies(self):
        self._members(2, self.silver, 100.0)
        self._members(3, self.silver, 100.0, company_id=self.other.id)
        manager_other = self._company_user(
            "hk_tier_count_other", self.other, "housekeeping_membership.group_membership_manager"
        )
        env = self.env(user=manager_other)
        counted, by_counts = self._read(["company_id"], env=env)
        self.assertTrue(by_counts)
        self.assertEqual(set(counted), {(self.other.id,)}, "only the user's company")
        self.assertEqual(counted[(self.other.id,)][1], 3)
        self._assert_same("other company", env=env)

    def test_query_count_does_not_grow(self):
        def queries():
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            self.env["housekeeping.report.membership"]._read_group(
                list(MEMBERS), ["tier_id"], ["member_count:sum", "spend:sum"]
            )
            return self.env.cr.sql_log_count - before

        self._members(2, self.silver, 100.0)
        few = queries()
        self._members(60, self.gold, 100.0)
        self._members(60, self.silver, 100.0, company_id=self.other.id)
        self.assertEqual(queries(), few)

    def test_uninstall_drops_the_trigger(self):
        def triggers():
            self.env.cr.execute(
                """SELECT count(*) FROM pg_trigger
                    WHERE tgname = 'housekeeping_tier_member_delta'"""
            )
            return self.env.cr.fetchone()[0]

        self.assertEqual(triggers(), 1)

        class Undo(Exception):
            pass

        with self.assertRaises(Undo), self.env.cr.savepoint(flush=False):
            uninstall_hook(self.env)
            self.assertEqual(triggers(), 0)
            # the table goes with the module: a customer is still written
            self.env.cr.execute("DROP TABLE housekeeping_tier_member_count")
            self.env.cr.execute(
                "UPDATE res_partner SET active = active, total_spent = total_spent + 1 "
                "WHERE id = %s",
                [self.customer.id],
            )
            raise Undo
        self.assertEqual(triggers(), 1)
