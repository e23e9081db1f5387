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


@contextmanager
def writes_for(agent_ids):
    """Writes to the panel's tables inside this block touch these agents' panels only."""
    named = db.session().info.setdefault(NAMED, [])
    named.append(frozenset(agent_ids))
    try:
        yield
    finally:
        named.pop()


def note_write(session: Session | None = None) -> None:
    """Record a write to the panel's tables by a statement: the agents named by `writes_for`, else
    every agent."""
    session = session if session is not None else db.session()
    named = session.info.get(NAMED)
    _record(session, named[-1] if named else {ALL})


def _record(session: Session, touched, *, now: bool = True) -> None:
    """Add agents (or ALL) to the transaction's writes, and bump their stamps now too (`now`;
    else after the flush, for all the flush's rows at once).

    The bump after the commit is the one that counts. The one now is for readers that see this
    transaction's rows before it commits: the test suite's requests share its connection, as the
    hot cache's flush-time bump allows for."""
    session.info.setdefault(WRITES, set()).update(touched)
    if now:
        if has_app_context():
            bump(touched)
    else:
        session.info.setdefault(FLUSHED, set()).update(touched)


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


@event.listens_for(Engine, "before_cursor_execute")
def _statement(conn, _cursor, statement, _parameters, _context, _executemany):
    """Record a statement that writes the panel's tables (an ORM flush's rows name their agents)."""
    tables = {name.lower() for name in _PANEL_WRITE.findall(statement)}
    if not tables or not has_app_context():
        return
    if db.session.registry.has():
        session = db.session.registry()
        if session.in_transaction():
            if not tables <= NAMED_TABLES:
                _record(session, {ALL})
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
    _record(session, {agent_id for agent_id in (target.agent_id, *history.deleted) if agent_id is not None},
            now=False)


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
    sale_ids = session.info.pop(SALES, None)
    if sale_ids:
        holders = session.execute(select(SaleCredit.agent_id).where(SaleCredit.sale_id.in_(sorted(sale_ids))))
        _record(session, set(holders.scalars()), now=False)
    flushed = session.info.pop(FLUSHED, None)
    if flushed and has_app_context():
        bump(flushed)


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
    if previous.nested:  # a SAVEPOINT: the outer transaction's end bumps
        return
    writes = _forget(session)
    if writes and has_app_context():
        bump(writes)


def _forget(session: Session):
    """The transaction's writes, forgotten with the rest of its bookkeeping."""
    for key in (SALES, FLUSHED):
        session.info.pop(key, None)
    return session.info.pop(WRITES, None)

