"""Installation and uninstallation of housekeeping_membership.

Installation on an existing customer base: Odoo adds a field's column, then gives
every existing row the field's default with one ``UPDATE`` per column, which
rewrites the whole table (25–30 s per column on 1,000,000 partners, 96 s of the
109 s the installation took). PostgreSQL adds a column with a constant default
without touching the rows (the value is kept in the catalogue): the pre-init hook
adds the partner columns with a non-null default that way; Odoo then finds them
and has nothing to fill.

Uninstallation:
Odoo removes a module's records (newest first), then its columns and tables. The
module's many2one columns (on its own tables and on ``res_partner``) forbid the
deletion of what they point to (``ondelete='restrict'``), so records of the module
would fail to delete while those columns still exist (logged errors, external ids
left behind). The columns go away with the module: their foreign keys are dropped
first. Records of the module that the business still uses (the service products
on sale orders, a demo customer with a portal user) stay, without the module's
external id.

Loading (``post_load``, once per process, before any database is served): a
read-only request whose replica connection is lost mid-request is served again on
the primary (``replica_fallback``).
"""

import psycopg2

from odoo.tools import SQL
from odoo.tools.sql import column_exists

from . import replica_fallback
from .models.housekeeping_tier_member_count import drop_trigger

MODULE = "housekeeping_membership"
# models whose records the module creates but that outlive it when in use
KEPT_WHEN_USED = ("product.template", "product.product", "res.partner", "res.users")


# res.partner columns whose default Odoo would write into every existing row
FAST_DEFAULT_COLUMNS = (
    ("visit_count", "int4", "Done Visits"),
    ("total_spent", "numeric", "Total Spent"),
    ("average_ticket", "numeric", "Average Ticket"),
    ("points_balance", "int4", "Points"),
)


def pre_init_hook(env):
    """Add the partner columns with a default in constant time (see above). The
    column default is dropped right away: rows that existed read the value kept in
    the catalogue, new rows get Odoo's, as for any other column."""
    for column, column_type, label in FAST_DEFAULT_COLUMNS:
        if column_exists(env.cr, "res_partner", column):
            continue
        env.cr.execute(
            SQL(
                "ALTER TABLE res_partner ADD COLUMN %s %s DEFAULT 0",
                SQL.identifier(column),
                SQL(column_type),
            )
        )
        env.cr.execute(
            SQL("ALTER TABLE res_partner ALTER COLUMN %s DROP DEFAULT", SQL.identifier(column))
        )
        env.cr.execute(SQL("COMMENT ON COLUMN res_partner.%s IS %s", SQL.identifier(column), label))


def _drop_module_foreign_keys(env):
    """Drop the foreign keys of the module's stored many2one fields."""
    env.cr.execute(
        SQL(
            """
        SELECT f.model, f.name
          FROM ir_model_fields f
          JOIN ir_model_data d ON d.model = 'ir.model.fields' AND d.res_id = f.id
         WHERE d.module = %s AND f.ttype = 'many2one' AND f.store
            """,
            MODULE,
        )
    )
    columns = {}
    for model, name in env.cr.fetchall():
        if model in env and env[model]._auto and not env[model]._abstract:
            columns.setdefault(env[model]._table, []).append(name)
    for table, names in columns.items():
        env.cr.execute(
            SQL(
                """
            SELECT c.conname
              FROM pg_constraint c
              JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
             WHERE c.contype = 'f' AND c.conrelid = %s::regclass AND a.attname = ANY(%s)
                """,
                table,
                names,
            )
        )
        for (constraint,) in env.cr.fetchall():
            env.cr.execute(
                SQL(
                    "ALTER TABLE %s DROP CONSTRAINT %s",
                    SQL.identifier(table),
                    SQL.identifier(constraint),
                )
            )


def _in_use(env, model, res_id):
    """Whether deleting the record would break a reference (probe in a savepoint
    that is always rolled back)."""
    table = env[model]._table
    try:
        with env.cr.savepoint(flush=False) as savepoint:
            env.cr.execute(
                SQL("DELETE FROM %s WHERE id = %s", SQL.identifier(table), res_id),
                log_exceptions=False,
            )
            savepoint.rollback()
    except psycopg2.errors.IntegrityError:
        return True
    return False


def _release_records_in_use(env):
    """Records of the module that the business uses keep living without the
    module's external id (e.g. service products on sale orders)."""
    env.cr.execute(
        SQL(
            "SELECT id, model, res_id FROM ir_model_data WHERE module = %s AND model IN %s",
            MODULE,
            KEPT_WHEN_USED,
        )
    )
    rows = env.cr.fetchall()
    # a product variant is used when its template is
    release = [xid for xid, model, res_id in rows if _in_use(env, model, res_id)]
    used_templates = {
        res_id for xid, model, res_id in rows if xid in release and model == "product.product"
    }
    if used_templates:
        env.cr.execute(
            SQL(
                "SELECT product_tmpl_id FROM product_product WHERE id IN %s",
                tuple(used_templates),
            )
        )
        templates = {r[0] for r in env.cr.fetchall()}
        release += [
            xid
            for xid, model, res_id in rows
            if model == "product.template" and res_id in templates and xid not in release
        ]
    if release:
        env.cr.execute(SQL("DELETE FROM ir_model_data WHERE id IN %s", tuple(release)))


def uninstall_hook(env):
    # (first: a trigger on res_partner that writes a table about to go would
    # make every change of a customer fail)
    drop_trigger(env.cr)
    _drop_module_foreign_keys(env)
    _release_records_in_use(env)


def post_load():
    """Server-wide: read-only requests fall back to the primary when their replica
    connection is lost (``replica_fallback``)."""
    replica_fallback.install()
