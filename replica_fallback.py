"""A read-only request whose replica connection is lost mid-request is served
again on the primary, instead of an error page.

Odoo 19 serves the read-only routes and ``@api.readonly`` calls from the replica
(``db_replica_host``) and falls back to the primary in two cases only: no replica
cursor can be opened (``Registry.cursor``: the replica is then left alone for a
few minutes), and the route tried to write (``ReadOnlySqlTransaction``, in
``Request._serve_db``). A replica that stops or restarts while requests are
running on it (a failover, a restart for maintenance) breaks those requests: the
query fails with a connection error, the rollback of ``retrying`` with
``connection already closed``, and the user gets an error page or an RPC error.

``serve_db`` wraps ``Request._serve_db`` (installed by the manifest's
``post_load`` hook, once per process): when a request served on a replica cursor
fails because the connection to the replica was lost, the replica is marked failed
the way ``Registry.cursor`` marks it, and the request is served once more, on the
primary. A read-only request committed nothing, so serving it again is safe;
any other error, and any error of the second run, is raised as before.
Measured with ``make bench-replica`` (docs/benchmarks.md).
"""

import functools
import logging
import threading
import time

import psycopg2
import psycopg2.errors

from odoo import http
from odoo.modules.registry import Registry

_logger = logging.getLogger(__name__)

# the errors of a lost connection, SQLSTATE class 08 (connection exception) and
# 57P01-57P03 (the server shuts down or restarts); a conflict with recovery
# (40001, serialization failure) is retried on the replica by Odoo's ``retrying``
LOST_CONNECTION_ERRORS = tuple(
    psycopg2.errors.lookup(code)
    for code in (
        "08000",
        "08001",
        "08003",
        "08004",
        "08006",
        "08007",
        "08P01",
        "57P01",
        "57P02",
        "57P03",
    )
)


def replica_lost(exc):
    """Whether ``exc`` (or an exception it was raised from or during) is the loss
    of the database connection: ``InterfaceError`` (the connection is closed), a
    bare ``OperationalError`` (libpq: the server closed the connection, no
    SQLSTATE), or a lost-connection SQLSTATE."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if (
            isinstance(exc, (psycopg2.InterfaceError, *LOST_CONNECTION_ERRORS))
            or type(exc) is psycopg2.OperationalError
        ):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def serve_db(original):
    """``Request._serve_db`` serving a read-only request again on the primary when
    its replica connection was lost."""

    @functools.wraps(original)
    def _serve_db(self):
        try:
            return original(self)
        except Exception as exc:
            # (not set yet when the signalling check failed)
            registry = self.registry or (Registry(self.db) if self.db else None)
            replica = getattr(registry, "_db_readonly", None) is not None
            # on the replica: the request ran on a replica cursor ('ro': Request.
            # _serve_db sets it only then; 'ro->rw' and 'rw' ran on the primary),
            # or it failed before that, on the cursor Registry.cursor(readonly=True)
            # gave, which is the replica's unless it fell back (it then says
            # 'ro->rw'): a pooled connection to a stopped replica failing as the
            # request checks the registry's signalling (RegistryError, which Odoo
            # turns into a 404 and a logout) or matches its route. (The libpq error
            # of a closed socket does not say which server it came from.)
            mode = getattr(threading.current_thread(), "cursor_mode", None)
            on_replica = mode == "ro" or (
                mode is None and getattr(registry, "_db_readonly_failed_time", None) is None
            )
            if not (replica and on_replica and replica_lost(exc)):
                raise
            _logger.warning(
                "The replica connection was lost during %s (%s): served again on the "
                "primary; the replica is left alone for a while",
                self.httprequest.path,
                exc,
            )
            # as Registry.cursor does when it cannot open a replica cursor: the
            # next requests go to the primary until the retry time has passed
            registry._db_readonly_failed_time = time.monotonic()
            threading.current_thread().cursor_mode = "ro->rw"
            return original(self)

    _serve_db.hk_replica_fallback = True
    return _serve_db


def install():
    """Wrap ``odoo.http.Request._serve_db`` (once per process)."""
    if not getattr(http.Request._serve_db, "hk_replica_fallback", False):
        http.Request._serve_db = serve_db(http.Request._serve_db)
