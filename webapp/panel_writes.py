"""Which agents' totals panels a transaction's writes changed, and the bump of their stamps in
Redis after the commit: the invalidation half of webapp/panel_cache.py (whose docstring says how
the two work together).

Kept apart from the copies so that the ledger and the sales services, which name the agents they
write for, import nothing of the cache (which reads the hot cache, which reads the ledger's plans).
"""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager

from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, object_session
from sqlalchemy.pool import Pool

from webapp.commissions.models import CommissionEntry, Payout
from webapp.extensions import db, redis_client
from webapp.sales.models import Sale, SaleCredit

GLOBAL_KEY = "panel-cache:all"
AGENT_KEY = "panel-cache:agent:"
BULK_AGENTS = 1_000  # more agents touched at once: one global bump instead of a stamp each
ALL = "all"  # in a transaction's writes: a write no one named the agents of
WRITES, NAMED, SALES, FLUSHED = "panel_cache_writes", "panel_cache_named", "panel_cache_sales", "panel_cache_flushed"
# Rows of these tables name their agents when an ORM flush writes them (the mapper events below).
NAMED_TABLES = frozenset({"sales", "sale_credits", "commission_entries", "payouts"})
# periods: a close moves money from "open periods" to the stated balance on every panel. The hot
# cache's version changes then too; this does not depend on that bump alone.
_PANEL_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO|TRUNCATE(?:\s+TABLE)?|COPY)"
                          r"\s+(?:\"?\w+\"?\.)?\"?(sales|sale_credits|commission_entries|payouts|periods)\b",
                          re.IGNORECASE)
_SEEN: dict[str, frozenset] = {}


@contextmanager
def writes_for(agent_ids):
    """Writes to the panel's tables inside this block touch these agents' panels only (bumped once,
    when the block ends, if it wrote)."""
    session = db.session()
    frame = {"agents": frozenset(agent_ids), "wrote": False}
    session.info.setdefault(NAMED, []).append(frame)
    try:
        yield
    finally:
        session.info[NAMED].pop()
        if frame["wrote"]:
            _bump_now(frame["agents"])


def note_write(session: Session | None = None) -> None:
    """Record a write to the panel's tables by a statement: the agents named by `writes_for` (bumped
    at the block's end), else every agent (bumped now)."""
    session = session if session is not None else db.session()
    named = session.info.get(NAMED)
    if named:
        named[-1]["wrote"] = True
        _record(session, named[-1]["agents"])
    else:
        _record(session, {ALL})
        _bump_now({ALL})


def _record(session: Session, touched) -> None:
    """Add agents (or ALL) to the transaction's writes, bumped after its commit."""
    session.info.setdefault(WRITES, set()).update(touched)


def _bump_now(touched) -> None:
    """Bump before the commit as well: for readers that see the transaction's rows before it commits
    (the test suite's requests share its connection), as the hot cache's flush-time bump allows for.
    The bump after the commit is the one that counts."""
    if touched and has_app_context():
        bump(touched)


def bump(writes) -> None:
    """Give the touched agents' stamps (or the global one) fresh values."""
    try:
        client = redis_client()
        if ALL in writes or len(writes) > BULK_AGENTS:
            client.set(GLOBAL_KEY, uuid.uuid4().hex)
            return
        stamp = uuid.uuid4().hex  # random, not INCR: a Redis restart must not bring old stamps back
        client.mset({f"{AGENT_KEY}{agent_id}": stamp for agent_id in writes})
    except Exception:  # noqa: BLE001 - copies then live until MAX_AGE_SECONDS
        current_app.logger.warning("panel cache: the bump failed; panels may show old figures until their "
                                   "copies expire (webapp/panel_cache.py: MAX_AGE_SECONDS)")


def _tables_written(statement: str) -> frozenset:
    """The panel's tables a statement writes (remembered: the same texts come back from
    SQLAlchemy's compiled cache, and scanning a 3 KB statement costs about 140 us)."""
    found = _SEEN.get(statement)
    if found is None:
        found = frozenset(name.lower() for name in _PANEL_WRITE.findall(statement))
        if len(_SEEN) >= 4096:
            _SEEN.clear()
        _SEEN[statement] = found
    return found


@event.listens_for(Engine, "before_cursor_execute")
def _statement(conn, _cursor, statement, _parameters, _context, _executemany):
    """Record a statement that writes the panel's tables (an ORM flush's rows name their agents)."""
    tables = _tables_written(statement)
    if not tables or not has_app_context():
        return  # outside the app (no Redis to bump): the bench's and migrations' own statements
    if db.session.registry.has():
        session = db.session.registry()
        if session.in_transaction():
            if not tables <= NAMED_TABLES:
                _record(session, {ALL})
                _bump_now({ALL})
            elif not getattr(session, "_flushing", False):  # SQLAlchemy's flag for the whole flush
                note_write(session)
            return
    # Outside the app's session (no code of the app does this): every panel, once the connection
    # is given back to the pool, which is after its commit or rollback.
    conn.info["panel_cache_unowned"] = True


@event.listens_for(Pool, "checkin")
def _checked_in(_dbapi_connection, record):
    """Bump for a write made outside the session once its connection is back in the pool."""
    if record is not None and record.info.pop("panel_cache_unowned", False) and has_app_context():
        bump({ALL})


def _row_written(_mapper, _connection, target) -> None:
    """An ORM flush wrote this row: its agent (before and after a change of agent) is touched."""
    session = object_session(target)
    if session is None:
        return
    history = sa_inspect(target).attrs.agent_id.history
    touched = {agent_id for agent_id in (target.agent_id, *history.deleted) if agent_id is not None}
    _record(session, touched)
    session.info.setdefault(FLUSHED, set()).update(touched)  # bumped once, after the flush


def _sale_changed(mapper, connection, target) -> None:
    """An ORM flush changed a sale: its seller, and every holder of a share (looked up after the flush)."""
    _row_written(mapper, connection, target)
    session = object_session(target)
    if session is not None:
        session.info.setdefault(SALES, set()).add(target.id)


for _model in (Sale, SaleCredit, CommissionEntry, Payout):
    for _name in ("after_insert", "after_update", "after_delete"):
        # A new sale's holders are new credit rows of the same flush, which name themselves.
        event.listen(_model, _name, _sale_changed if _model is Sale and _name != "after_insert" else _row_written)


@event.listens_for(Session, "after_flush_postexec")
def _after_flush(session, _context):
    """Name the holders of the sales just changed (a sale shows on every holder's panel); bump."""
    sale_ids = sorted(session.info.pop(SALES, ()))
    flushed = session.info.pop(FLUSHED, set())
    for start in range(0, len(sale_ids), 10_000):  # bounded IN lists
        flushed.update(session.scalars(select(SaleCredit.agent_id).distinct()
                                       .where(SaleCredit.sale_id.in_(sale_ids[start:start + 10_000]))))
    _record(session, flushed)
    _bump_now(flushed)


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    """Bump once the writes are visible to every process."""
    if session.in_nested_transaction():  # a released SAVEPOINT: the outer COMMIT bumps
        return
    writes = _forget(session)
    if writes and has_app_context():
        bump(writes)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session, previous):
    """Bump again: a reader that shared the transaction's connection may have kept its rows."""
    # Only the outermost transaction's end: a SAVEPOINT's, or the inner transaction of a flush that
    # failed inside one (SQLAlchemy reports that one with nested False), leave the writes made
    # before it to the outer COMMIT.
    if previous.parent is not None:
        return
    writes = _forget(session)
    if writes and has_app_context():
        bump(writes)


def _forget(session: Session):
    """The transaction's writes, forgotten with the rest of its bookkeeping."""
    for key in (SALES, FLUSHED):
        session.info.pop(key, None)
    return session.info.pop(WRITES, None)

