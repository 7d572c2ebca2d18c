"""The trust boundary: fields and transitions that only an engine or the action
that owns them may write.

A guard that a client could open is no guard: every context key, every argument
of a public method can be sent over JSON-RPC by any user. The permission to
write an engine-owned field is therefore held in a :mod:`contextvars` variable,
set only by Python code of this addon with :func:`engine_writes` around the
write; nothing that travels over HTTP reaches it, and it is undone when the
``with`` block ends (exceptions included). Context variables are per thread
(and per asyncio task), so one request never opens the guard of another.
"""

import contextlib
import contextvars

ALL = "*"

_OPEN = contextvars.ContextVar("housekeeping_membership_engine_writes", default=frozenset())


@contextlib.contextmanager
def engine_writes(*names):
    """Let the code inside the block write the engine-owned fields ``names``
    (or every one of them with no argument, or ``ALL``): the engines and the
    owning actions (manual tier, manual stage, anonymization) wrap their own
    ``write()``/``create()`` in it."""
    opened = frozenset(names or (ALL,))
    token = _OPEN.set(_OPEN.get() | opened)
    try:
        yield
    finally:
        _OPEN.reset(token)


def is_open(name):
    """True when the current code runs inside ``engine_writes`` for ``name``."""
    current = _OPEN.get()
    return ALL in current or name in current


def closed_fields(names):
    """The names among ``names`` that the current code may not write."""
    current = _OPEN.get()
    if ALL in current:
        return []
    return [name for name in names if name not in current]


_SCOPE = contextvars.ContextVar("housekeeping_membership_engine_scope", default=None)


@contextlib.contextmanager
def engine_scope(**values):
    """Pass values down an engine's call chain (e.g. the visits being completed)
    where a context key would do, without a client being able to send them."""
    token = _SCOPE.set({**(_SCOPE.get() or {}), **values})
    try:
        yield
    finally:
        _SCOPE.reset(token)


def scope_get(name, default=None):
    """A value set by an enclosing ``engine_scope``."""
    return (_SCOPE.get() or {}).get(name, default)
