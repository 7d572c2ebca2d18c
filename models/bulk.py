"""Set-based inserts for engine-written rows (logs, messages, ledger entries).

``Model.create()`` inserts by 100 rows; the engines write thousands of rows per
batch and must keep their query count independent of the population, so they
insert with one statement through ``jsonb_to_recordset``.
"""

import json

from odoo import fields
from odoo.tools import SQL


def bulk_insert(model, vals_list, on_conflict_do_nothing=False):
    """Insert ``vals_list`` (plain column values, many2one as ids) into the table of
    ``model`` in one statement; return the new records. No compute, no constraint
    method, no default: callers give every value they need (access columns are set
    here). With ``on_conflict_do_nothing``, rows violating a unique constraint are
    skipped (and not returned). The cache of the model is invalidated."""
    if not vals_list:
        return model.browse()
    env = model.env
    now = fields.Datetime.now()
    names = sorted({name for vals in vals_list for name in vals})
    if model._log_access:
        names += [
            n for n in ("create_uid", "create_date", "write_uid", "write_date") if n not in names
        ]
    columns = [(name, model._fields[name].column_type[1]) for name in names]
    rows = []
    for vals in vals_list:
        row = dict.fromkeys(names)
        row.update(vals)
        if model._log_access:
            row.update(create_uid=env.uid, write_uid=env.uid, create_date=now, write_date=now)
        rows.append(row)
    env.cr.execute(
        SQL(
            "INSERT INTO %s (%s) SELECT %s FROM jsonb_to_recordset(%s::jsonb) AS x(%s) %s RETURNING id",
            SQL.identifier(model._table),
            SQL(", ").join(SQL.identifier(name) for name, _type in columns),
            SQL(", ").join(SQL.identifier("x", name) for name, _type in columns),
            json.dumps(rows, default=str),
            SQL(", ").join(
                SQL("%s %s", SQL.identifier(name), SQL(ctype)) for name, ctype in columns
            ),
            SQL("ON CONFLICT DO NOTHING") if on_conflict_do_nothing else SQL(),
        )
    )
    ids = [row[0] for row in env.cr.fetchall()]
    model.invalidate_model()
    return model.browse(ids)
