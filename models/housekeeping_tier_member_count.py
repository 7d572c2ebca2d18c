from odoo import api, fields, models
from odoo.tools import SQL

# what makes a customer a member, and what of them the members per tier count
MEMBER_COLUMNS = (
    "active",
    "membership_tier_id",
    "total_spent",
    "company_id",
    "hk_visit_company_id",
)

# (a row of res_partner, OLD or NEW, is a member: active with a tier)
_MEMBER = "{r}.active AND {r}.membership_tier_id IS NOT NULL"
_KEY = "({r}.membership_tier_id, {r}.company_id, {r}.hk_visit_company_id)"

# Each change of a member's tier, spend, company or activity, whoever makes it
# (an engine's UPDATE, an archive, a merge, a deletion, a data import), adds
# its difference in the same transaction: a row out of the old key and one
# into the new, or one row of the spend's difference when the key is the same.
# Rows are only ever added, never updated: no row that every visit of the day
# would lock. The nightly snapshot adds them up (``_fold``).
TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION housekeeping_tier_member_delta() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    was_member boolean := TG_OP <> 'INSERT' AND {_MEMBER.format(r="OLD")};
    is_member boolean := TG_OP <> 'DELETE' AND {_MEMBER.format(r="NEW")};
BEGIN
    IF was_member AND is_member
       AND {_KEY.format(r="OLD")} IS NOT DISTINCT FROM {_KEY.format(r="NEW")} THEN
        IF NEW.total_spent IS DISTINCT FROM OLD.total_spent THEN
            INSERT INTO housekeeping_tier_member_count
                   (tier_id, company_id, visit_company_id, member_count, spend)
            VALUES (NEW.membership_tier_id, NEW.company_id, NEW.hk_visit_company_id, 0,
                    COALESCE(NEW.total_spent, 0) - COALESCE(OLD.total_spent, 0));
        END IF;
        RETURN NULL;
    END IF;
    IF was_member THEN
        INSERT INTO housekeeping_tier_member_count
               (tier_id, company_id, visit_company_id, member_count, spend)
        VALUES (OLD.membership_tier_id, OLD.company_id, OLD.hk_visit_company_id, -1,
                -COALESCE(OLD.total_spent, 0));
    END IF;
    IF is_member THEN
        INSERT INTO housekeeping_tier_member_count
               (tier_id, company_id, visit_company_id, member_count, spend)
        VALUES (NEW.membership_tier_id, NEW.company_id, NEW.hk_visit_company_id, 1,
                COALESCE(NEW.total_spent, 0));
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGER = f"""
CREATE OR REPLACE TRIGGER housekeeping_tier_member_delta
AFTER INSERT OR DELETE OR UPDATE OF {", ".join(MEMBER_COLUMNS)} ON res_partner
FOR EACH ROW EXECUTE FUNCTION housekeeping_tier_member_delta()
"""


def drop_trigger(cr):
    """Remove the trigger and its function (the module's uninstallation: the
    table it writes goes)."""
    cr.execute("DROP TRIGGER IF EXISTS housekeeping_tier_member_delta ON res_partner")
    cr.execute("DROP FUNCTION IF EXISTS housekeeping_tier_member_delta()")


class HousekeepingTierMemberCount(models.Model):
    """The members per tier, the customer's company and the company of their
    latest visit, with their lifetime spend: what the *Members per Tier* report
    reads (``housekeeping.report.membership.tier``) instead of a million
    customers. The sum of the rows is the figure: a database trigger on
    ``res_partner`` adds the difference of every change of a member in the same
    transaction (``TRIGGER_FUNCTION``); the nightly snapshot engine adds them up
    into one row per key (``_fold``); an installation or upgrade counts the
    members again (``_recount``). Ids without foreign keys: a row is a sum, not
    a reference, and never prevents deleting a tier or a company.

    Raw SQL and a trigger because the ORM path misses the target: the members per
    tier read per member took 0.29 s at 1M quiet, 1.3–2.0 s under the replica
    benchmark's load, and held the portal's p95 at 286–371 ms; from these rows,
    0.003 s, and the portal's p95 113–173 ms (docs/benchmarks.md, runs f–i)."""

    _name = "housekeeping.tier.member.count"
    _description = "Members per Tier (Counts)"
    _log_access = False
    _rec_name = "tier_id"

    tier_id = fields.Integer(readonly=True)
    company_id = fields.Integer(readonly=True)
    visit_company_id = fields.Integer(string="Company of the Latest Visit", readonly=True)
    member_count = fields.Integer(string="Members", readonly=True)
    spend = fields.Float(string="Total Spent", digits=(16, 2), readonly=True)

    def init(self):
        self.env.cr.execute(TRIGGER_FUNCTION)
        self.env.cr.execute(TRIGGER)
        self._recount()

    @api.model
    def _lock(self):
        # one fold or count at a time (the snapshot engine, an upgrade): two
        # would each replace the same rows by their sum
        self.env.cr.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [self._table])

    @api.model
    def _recount(self):
        """Replace the rows by the members counted now, in one statement: the
        rows it removes and the customers it reads are those of the same
        snapshot, so a change committed meanwhile keeps its own rows."""
        self._lock()
        self.env["res.partner"].flush_model(list(MEMBER_COLUMNS))
        self.env.cr.execute(
            """
            WITH gone AS (DELETE FROM housekeeping_tier_member_count RETURNING 1)
            INSERT INTO housekeeping_tier_member_count
                   (tier_id, company_id, visit_company_id, member_count, spend)
            SELECT membership_tier_id, company_id, hk_visit_company_id, count(*),
                   COALESCE(sum(total_spent), 0)
              FROM res_partner
             WHERE active AND membership_tier_id IS NOT NULL
             GROUP BY 1, 2, 3
            """
        )
        self.invalidate_model()

    @api.model
    def _fold(self):
        """Add the rows up into one per key (the nightly snapshot engine), in one
        statement: a row added by a change committed meanwhile stays as it is.
        Returns the rows left."""
        self._lock()
        self.env["res.partner"].flush_model(list(MEMBER_COLUMNS))
        self.env.cr.execute(
            """
            WITH gone AS (DELETE FROM housekeeping_tier_member_count RETURNING *)
            INSERT INTO housekeeping_tier_member_count
                   (tier_id, company_id, visit_company_id, member_count, spend)
            SELECT tier_id, company_id, visit_company_id, sum(member_count), sum(spend)
              FROM gone
             GROUP BY 1, 2, 3
            HAVING sum(member_count) <> 0 OR sum(spend) <> 0
            """
        )
        self.invalidate_model()
        return self.env.cr.rowcount

    @api.model
    def _members_sql(self, main_company_id):
        """SQL: ``(tier_id, company_id, member_count, spend)`` per tier and
        company whose settings apply to the members (their own, else their
        latest visit's, else ``main_company_id``), members only."""
        return SQL(
            """SELECT tier_id, COALESCE(company_id, visit_company_id, %s) AS company_id,
                      sum(member_count) AS member_count, sum(spend) AS spend
                 FROM housekeeping_tier_member_count
                GROUP BY 1, 2
               HAVING sum(member_count) <> 0""",
            main_company_id,
        )
