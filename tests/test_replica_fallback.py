"""A read-only request that loses its replica connection mid-request is served
again on the primary (``replica_fallback``, installed by the ``post_load`` hook).

The real thing (a hot standby stopped under load) is measured by ``make
bench-replica``; here the wrapper runs around a stand-in for ``Request._serve_db``
that fails the way a request on a stopped replica fails: its query gets an
``OperationalError`` (the server closed the connection) and the rollback of
Odoo's ``retrying`` an ``InterfaceError`` (connection already closed).
"""

import contextlib
import sys
import threading
from types import SimpleNamespace

import psycopg2
import psycopg2.errors

from odoo import http, sql_db
from odoo.addons.housekeeping_membership import replica_fallback
from odoo.modules.module import Manifest
from odoo.tests import TransactionCase, tagged


def lost_connection():
    """The exception ``Request._serve_db`` raises for a request whose replica
    stopped: the rollback's InterfaceError, raised while handling the query's
    OperationalError."""
    try:
        try:
            raise psycopg2.errors.AdminShutdown(
                "terminating connection due to administrator command"
            )
        except psycopg2.OperationalError as exc:
            raise psycopg2.InterfaceError("connection already closed") from exc
    except psycopg2.InterfaceError as exc:
        return exc


@tagged("post_install", "-at_install")
class TestReplicaFallback(TransactionCase):
    def setUp(self):
        super().setUp()
        thread = threading.current_thread()
        self.addCleanup(setattr, thread, "cursor_mode", getattr(thread, "cursor_mode", None))
        self.registry_ = SimpleNamespace(_db_readonly=object(), _db_readonly_failed_time=None)
        self.request = SimpleNamespace(
            db=self.env.cr.dbname,
            registry=self.registry_,
            httprequest=SimpleNamespace(path="/my/points"),
        )
        self.calls = []

    def _serve(self, *outcomes):
        """A stand-in for ``Request._serve_db``: each call takes the next outcome,
        ``(cursor mode, exception or response)``, sets the thread's cursor mode
        as Odoo does and raises or returns."""
        outcomes = list(outcomes)

        def original(request):
            mode, result = outcomes.pop(0)
            self.calls.append(
                (threading.current_thread().cursor_mode, request.registry._db_readonly_failed_time)
            )
            threading.current_thread().cursor_mode = mode
            if isinstance(result, Exception):
                raise result
            return result

        threading.current_thread().cursor_mode = None
        return replica_fallback.serve_db(original)(self.request)

    def test_lost_replica_connection_is_served_again_on_the_primary(self):
        with self.assertLogs("odoo.addons.housekeeping_membership.replica_fallback", "WARNING"):
            response = self._serve(("ro", lost_connection()), ("rw", "the page"))
        self.assertEqual(response, "the page", "the user gets the page, not an error")
        self.assertEqual(len(self.calls), 2)
        # the second run starts with the replica marked failed: Registry.cursor
        # gives the primary's cursor (and keeps doing so for a while)
        self.assertIsNone(self.calls[0][1])
        self.assertIsNotNone(self.registry_._db_readonly_failed_time)
        self.assertEqual(self.calls[1], ("ro->rw", self.registry_._db_readonly_failed_time))

    def test_server_closed_connection_without_sqlstate(self):
        response = self._serve(
            ("ro", psycopg2.OperationalError("server closed the connection unexpectedly")),
            ("rw", "the page"),
        )
        self.assertEqual(response, "the page")

    def _terminated(self):
        """A real connection of this database, read-only as Odoo opens a
        replica's, terminated by the server as a stopping server terminates it
        while the connection waits in the pool; its next query's error, raised as
        ``Request._serve_db`` raises it when the registry's signalling check (the
        request's first query) fails: ``RegistryError``."""
        _dsn, info = sql_db.connection_info_for(self.env.cr.dbname)
        connection = psycopg2.connect(**info)
        self.addCleanup(connection.close)
        connection.set_session(readonly=True)
        with connection.cursor() as cr:
            cr.execute("SELECT pg_backend_pid()")
            pid = cr.fetchone()[0]
        connection.rollback()
        with contextlib.closing(psycopg2.connect(**info)) as other, other.cursor() as cr:
            cr.execute("SELECT pg_terminate_backend(%s)", [pid])
        try:
            try:
                with connection.cursor() as cr:
                    cr.execute("SELECT 1")
            except psycopg2.OperationalError as exc:
                raise http.RegistryError("Cannot get registry") from exc
        except http.RegistryError as exc:
            return exc

    def test_pooled_connection_to_a_stopped_replica(self):
        # the request borrowed a connection to the replica that the replica closed
        # as it stopped: its first query, the registry check, fails (the cursor
        # Registry.cursor(readonly=True) gave without falling back: the replica's)
        with self.assertLogs("odoo.addons.housekeeping_membership.replica_fallback", "WARNING"):
            response = self._serve((None, self._terminated()), ("rw", "the page"))
        self.assertEqual(response, "the page")
        self.assertIsNotNone(self.registry_._db_readonly_failed_time)
        # the same failing as the route is matched (the read-only cursor's next
        # query): the bare OperationalError
        self.registry_._db_readonly_failed_time = None
        with self.assertLogs("odoo.addons.housekeeping_membership.replica_fallback", "WARNING"):
            response = self._serve((None, self._terminated().__cause__), ("rw", "the page"))
        self.assertEqual(response, "the page")
        self.assertIsNotNone(self.registry_._db_readonly_failed_time)
        # the cursor was the primary's (Registry.cursor had fallen back: 'ro->rw'):
        # the primary is down, raised
        self.registry_._db_readonly_failed_time = None
        self.calls.clear()
        with self.assertRaises(http.RegistryError):
            self._serve(("ro->rw", self._terminated()), ("rw", "the page"))
        self.assertEqual(len(self.calls), 1)
        self.assertIsNone(self.registry_._db_readonly_failed_time)

    def test_other_errors_are_raised_as_before(self):
        for mode, error in (
            # a request on the primary (or already fallen back): not a replica's loss
            ("rw", lost_connection()),
            ("ro->rw", lost_connection()),
            # a conflict with recovery on a live replica: Odoo's retrying handles it
            ("ro", psycopg2.errors.SerializationFailure("conflict with recovery")),
            ("ro", psycopg2.errors.UndefinedTable("no such table")),
            ("ro", ValueError("a bug")),
        ):
            with self.subTest(mode=mode, error=type(error).__name__):
                self.calls.clear()
                with self.assertRaises(type(error)):
                    self._serve((mode, error), ("rw", "the page"))
                self.assertEqual(len(self.calls), 1, "served once")
                self.assertIsNone(self.registry_._db_readonly_failed_time)

    def test_no_replica_configured(self):
        self.registry_._db_readonly = None
        with self.assertRaises(psycopg2.InterfaceError):
            self._serve(("ro", lost_connection()), ("rw", "the page"))
        self.assertEqual(len(self.calls), 1)

    def test_second_failure_is_raised(self):
        with (
            self.assertLogs("odoo.addons.housekeeping_membership.replica_fallback", "WARNING"),
            self.assertRaises(psycopg2.InterfaceError),
        ):
            self._serve(("ro", lost_connection()), ("rw", lost_connection()))
        self.assertEqual(len(self.calls), 2, "served again once, not in a loop")

    def test_installed_once_by_the_post_load_hook(self):
        # (Odoo calls the manifest's post_load as it loads the addon; the test
        # runner may import the addon otherwise: the hook is called here)
        manifest = Manifest.for_addon("housekeeping_membership")
        hook = getattr(sys.modules["odoo.addons.housekeeping_membership"], manifest["post_load"])
        self.addCleanup(setattr, http.Request, "_serve_db", http.Request._serve_db)
        hook()
        serve = http.Request._serve_db
        self.assertTrue(getattr(serve, "hk_replica_fallback", False))
        hook()
        self.assertIs(http.Request._serve_db, serve, "not wrapped twice")
