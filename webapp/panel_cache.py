"""Each agent's totals panel, kept by each web process until a write changes it.

Every signed-in agent's browser refreshes the panel every 30 seconds, and almost every refresh
finds nothing changed: at ten thousand agents that is a few hundred identical computations a
second. So each process keeps the figures it computed, tagged with version stamps read from Redis
before the database was read: the hot cache's version (plans, targets, SPIFFs, periods, settings),
a global panel version, the agent's own panel version, and today's date. A copy is used only while
all four are unchanged (one MGET a request, which also serves the hot cache's own lookup) and for
at most MAX_AGE_SECONDS.

A copy must never outlive a committed write that changes its figures. Every statement that writes
`sales`, `sale_credits`, `commission_entries`, `payouts` or `periods` is seen (an engine event on
each cursor execution; COPY, which bypasses it, is reported by entry_writes), and after the commit
the stamps of the agents it touched get fresh values:

- rows an ORM flush writes name their agent (and an updated sale its every holder);
- statements run inside `writes_for(agent_ids)` touch those agents only (the ledger's bulk writes,
  the quick sale path);
- any other write (and any write to `periods`) bumps the global stamp: every panel is recomputed.
  Safe by default; naming the agents only makes it cheaper.

The request that writes reads its own uncommitted rows, so it never uses or stores a copy. On
SQLite nothing is kept: a SQLite read transaction sees the database as of its first read, which may
come before the stamps are read; nor on a PostgreSQL whose default isolation is not READ COMMITTED,
for the same reason. Writes made outside the app (psql, scripts without an app context) are not
seen: copies may show the figures from before them for MAX_AGE_SECONDS.
"""

from __future__ import annotations

import threading
import time
import uuid

from flask import current_app, g

from webapp import clock, hot_cache
from webapp.extensions import db, redis_client
from webapp.panel_writes import AGENT_KEY, GLOBAL_KEY, WRITES

MAX_AGE_SECONDS = 300  # a bound on any failure to bump (Redis unreachable at the wrong moment)
MAX_ENTRIES = 20_000  # per process; past it the copies are dropped and built again
_MISSING = object()


class PanelCache:
    """One process's copies for one app: agent id -> (stamps, when kept, figures)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict = {}

    def get(self, agent_id: int, stamps: tuple):
        """The copy kept under exactly these stamps and not too old, else _MISSING."""
        with self._lock:
            found = self._entries.get(agent_id)
        if found is None or found[0] != stamps or time.monotonic() - found[1] > MAX_AGE_SECONDS:
            return _MISSING
        return found[2]

    def put(self, agent_id: int, stamps: tuple, value) -> None:
        """Keep a copy (dropping every copy once there are too many)."""
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries = {}
            self._entries[agent_id] = (stamps, time.monotonic(), value)


def init_app(app) -> None:
    """Give the app its own copies (two apps in one process behave as two processes)."""
    app.extensions["panel_cache"] = PanelCache()


def totals(agent_id: int, compute):
    """The agent's panel figures: the copy kept since the last write that changed them, else
    `compute()` (then kept). `compute` must return an immutable value."""
    if not _may_use_copies():
        return compute()
    stamps = _stamps(agent_id)
    if stamps is None:
        return compute()
    cache = current_app.extensions["panel_cache"]
    value = cache.get(agent_id, stamps)
    if value is _MISSING:
        value = compute()
        if _may_use_copies():
            cache.put(agent_id, stamps, value)
    return value


def _may_use_copies() -> bool:
    """False on SQLite, on a PostgreSQL whose transactions are not READ COMMITTED, and while this
    session has uncommitted writes a copy would not show."""
    session = db.session()
    dialect = session.get_bind().dialect
    # A copy is sound because each statement reads what was committed before it began, after the
    # stamps were read; a REPEATABLE READ snapshot may predate them, as SQLite's does.
    if dialect.name != "postgresql" or getattr(dialect, "default_isolation_level", None) != "READ COMMITTED":
        return False
    return not (session.info.get(WRITES) or session.info.get("hot_cache_dirty") or session.new
                or session.dirty or session.deleted)


def _stamps(agent_id: int) -> tuple | None:
    """(hot cache version, global stamp, agent stamp, today), read in one round trip; None when
    Redis cannot be reached. Seeds the hot cache's per-request version so it is not read twice."""
    keys = [hot_cache.VERSION_KEY, GLOBAL_KEY, f"{AGENT_KEY}{agent_id}"]
    try:
        client = redis_client()
        values = client.mget(keys)
        if None in values:
            # A stamp never set, or lost with Redis's data: give it a random value and keep nothing
            # this time. Taken as a fixed "none", it would match copies made before Redis lost it.
            for key, value in zip(keys, values):
                if value is None:
                    client.set(key, uuid.uuid4().hex, nx=True)
            return None
    except Exception:  # noqa: BLE001 - any Redis failure only turns the copies off
        return None
    if "hot_cache_version" not in g:
        g.hot_cache_version = values[0]
    if g.hot_cache_version is None:  # the hot cache could not read its version in this request
        return None
    return g.hot_cache_version, values[1], values[2], clock.today()
