"""Following plan documents up: where every document of a team (or of the company) stands.

Everything is read set-based, for any number of agents: one paged query for the rows (the state is
the SQL CASE of services.state_expression, the acknowledgement an outer join, an open question a
correlated MIN), one GROUP BY for the counts per state and one for the counts per plan. The CSV
export streams the same rows in keyset batches, so memory stays flat however many documents.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from webapp import clock
from webapp.audit.services import record
from webapp.auth import access
from webapp.auth.models import User
from webapp.commissions.models import CommissionPlan, PlanVersion
from webapp.disputes.models import Dispute, DisputeStatus
from webapp.extensions import db
from webapp.paging import Paged, Window, paginate
from webapp.plandocs.models import DocumentState, PlanAcknowledgement, PlanDocument
from webapp.plandocs.services import state_expression
from webapp.sales.csv_format import text_cell

# The document's agent. An alias, so the access policy's subquery over User (a manager's team) is
# not correlated to this join.
Agent = aliased(User, name="agent")
# The document's acknowledgement, outer-joined; an alias for the same reason (state_expression's
# EXISTS over plan_acknowledgements must keep its own FROM).
Ack = aliased(PlanAcknowledgement, name="ack")
PAGE_SIZE = 25
EXPORT_BATCH = 500
# "open" (the default): the documents still waiting for the agent, pending or questioned.
OPEN = "open"
ALL = "all"
STATE_FILTERS = (OPEN, *DocumentState, ALL)
OPEN_STATES = (DocumentState.PENDING.value, DocumentState.QUESTIONED.value)
# Excel reads a UTF-8 file as such only when it starts with a byte-order mark.
BOM = "\ufeff"
# The export's columns; new ones go last (spreadsheets read by position).
CSV_COLUMNS = (
    "document_number", "agent_id", "agent_name", "agent_email", "manager_name", "plan", "version", "revision",
    "effective_from", "effective_to", "issued_at", "state", "acknowledged_at", "typed_name", "document_sha256",
    "ip_address", "reminders_sent", "last_reminded_at")


@dataclass(frozen=True)
class Filters:
    """The list's filters: a state (STATE_FILTERS) and text the agent's name contains."""

    state: str = OPEN
    agent: str = ""

    @classmethod
    def parse(cls, state: str | None, agent: str | None, default: str = OPEN) -> Filters:
        """Filters from the URL: no or an unknown state is `default`; the name is trimmed and bounded."""
        state = state if state in STATE_FILTERS else default
        return cls(state=state, agent=(agent or "").strip()[:120])


@dataclass(frozen=True)
class DocumentRow:
    """One document as the follow-up lists show it."""

    id: int
    number: int
    agent_id: int
    agent_name: str
    plan_name: str
    version: int
    revision: int
    issued_at: datetime
    state: str
    acknowledged_at: datetime | None
    question_since: datetime | None
    reminders_sent: int
    last_reminded_at: datetime | None

    @property
    def issued_on(self) -> date:
        """The day it was issued, in the installation's time zone."""
        return local_date(self.issued_at)

    @property
    def acknowledged_on(self) -> date | None:
        """The day the agent acknowledged it (installation's time zone)."""
        return local_date(self.acknowledged_at) if self.acknowledged_at else None

    @property
    def question_on(self) -> date | None:
        """The day the open question was raised (installation's time zone)."""
        return local_date(self.question_since) if self.question_since else None

    def days_waiting(self, today: date) -> int:
        """Whole days since it was issued."""
        return (today - self.issued_on).days


def local_date(moment: datetime) -> date:
    """The installation's calendar day of a UTC instant."""
    return moment.astimezone(clock.installation_zone()).date()


@dataclass(frozen=True)
class DocumentPage(Paged):
    """One page of documents and the counts per state (over the same scope and name search)."""

    rows: list[DocumentRow]
    counts: dict[str, int]
    window: Window


def _question_since():
    """Correlated subquery: when the document's oldest open question was raised (NULL: none)."""
    return (select(func.min(Dispute.opened_at))
            .where(Dispute.plan_document_id == PlanDocument.id, Dispute.status == DisputeStatus.OPEN)
            .scalar_subquery())


def _filtered(query, user: User, filters: Filters, state):
    """`query` (over PlanDocument joined to its Agent) kept to the documents `user` may
    see, in the filter's state, whose agent's name contains the search text."""
    query = query.where(access.agent_scope(user, PlanDocument.agent_id))
    if filters.agent:
        query = query.where(func.lower(Agent.name).contains(filters.agent.lower(), autoescape=True))
    if filters.state == OPEN:
        query = query.where(state.in_(OPEN_STATES))
    elif filters.state != ALL:
        query = query.where(state == filters.state)
    return query


def state_counts(user: User, agent: str = "") -> dict[str, int]:
    """How many documents the user may see are in each state, plus "open" and "all" (one GROUP BY)."""
    state = state_expression().label("state")
    scoped = _filtered(select(state).select_from(PlanDocument).join(Agent, Agent.id == PlanDocument.agent_id),
                       user, Filters(state=ALL, agent=agent), state).subquery()
    counts = {str(s): 0 for s in DocumentState}
    counts.update({name: int(n) for name, n in
                   db.session.execute(select(scoped.c.state, func.count()).group_by(scoped.c.state))})
    counts[OPEN] = sum(counts[s] for s in OPEN_STATES)
    counts[ALL] = sum(counts[str(s)] for s in DocumentState)
    return counts


def plan_counts(user: User) -> list[dict]:
    """Per plan, how many documents are in each state (one GROUP BY), by plan name."""
    state = state_expression().label("state")
    scoped = (select(PlanDocument.plan_id, state).where(access.agent_scope(user, PlanDocument.agent_id))
              .subquery())
    rows = db.session.execute(
        select(CommissionPlan.id, CommissionPlan.name, scoped.c.state, func.count())
        .join(scoped, scoped.c.plan_id == CommissionPlan.id)
        .group_by(CommissionPlan.id, CommissionPlan.name, scoped.c.state)
        .order_by(CommissionPlan.name))
    plans: dict[int, dict] = {}
    for plan_id, name, plan_state, count in rows:
        entry = plans.setdefault(plan_id, {"name": name, "total": 0, **{str(s): 0 for s in DocumentState}})
        entry[plan_state] = int(count)
        entry["total"] += int(count)
    return list(plans.values())


def list_documents(user: User, filters: Filters, page: int = 1) -> DocumentPage:
    """The documents the user may see, filtered, page `page` of them (waiting ones oldest first)."""
    state = state_expression()
    query = (select(PlanDocument.id, PlanDocument.number, PlanDocument.agent_id, Agent.name, CommissionPlan.name,
                    PlanVersion.version, PlanDocument.revision, PlanDocument.created_at, state,
                    Ack.acknowledged_at, _question_since(), PlanDocument.reminders_sent,
                    PlanDocument.last_reminded_at)
             .join(Agent, Agent.id == PlanDocument.agent_id)
             .join(CommissionPlan, CommissionPlan.id == PlanDocument.plan_id)
             .join(PlanVersion, PlanVersion.id == PlanDocument.version_id)
             .outerjoin(Ack, Ack.document_id == PlanDocument.id))
    window, query = paginate(_filtered(query, user, filters, state), page, PAGE_SIZE)
    # Waiting documents: the longest waiting first; otherwise the newest first.
    if filters.state in (OPEN, DocumentState.PENDING, DocumentState.QUESTIONED):
        query = query.order_by(PlanDocument.created_at, PlanDocument.id)
    else:
        query = query.order_by(PlanDocument.created_at.desc(), PlanDocument.id.desc())
    rows = [DocumentRow(*row) for row in db.session.execute(query)]
    return DocumentPage(rows=rows, counts=state_counts(user, filters.agent), window=window)


# ---- The CSV export -------------------------------------------------------------------------------


def _iso(value) -> str:
    """A date or time as ISO 8601; empty for none."""
    return value.isoformat() if value is not None else ""



def _csv_row(row) -> tuple:
    """One export line; text people typed (names, plan, typed name) is neutralised against formulas."""
    return (str(row.number), str(row.agent_id), text_cell(row.agent_name), text_cell(row.agent_email),
            text_cell(row.manager_name), text_cell(row.plan_name), str(row.version), str(row.revision),
            _iso(row.effective_from), _iso(row.effective_to), _iso(row.created_at), row.state,
            _iso(row.acknowledged_at), text_cell(row.typed_name), row.sha256, text_cell(row.ip_address),
            str(row.reminders_sent), _iso(row.last_reminded_at))


def _write(rows) -> str:
    """Rows as CSV text (RFC 4180 line endings)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def export_query(user: User, filters: Filters):
    """The export's columns for the documents the user may see, filtered (no order: see export_csv)."""
    manager = aliased(User)
    state = state_expression().label("state")
    query = (select(PlanDocument.id, PlanDocument.number, PlanDocument.agent_id, Agent.name.label("agent_name"),
                    Agent.email.label("agent_email"), manager.name.label("manager_name"),
                    CommissionPlan.name.label("plan_name"), PlanVersion.version, PlanDocument.revision,
                    PlanDocument.effective_from, PlanDocument.effective_to, PlanDocument.created_at, state,
                    Ack.acknowledged_at, Ack.typed_name, PlanDocument.sha256,
                    Ack.ip_address, PlanDocument.reminders_sent, PlanDocument.last_reminded_at)
             .join(Agent, Agent.id == PlanDocument.agent_id)
             .outerjoin(manager, manager.id == Agent.manager_id)
             .join(CommissionPlan, CommissionPlan.id == PlanDocument.plan_id)
             .join(PlanVersion, PlanVersion.id == PlanDocument.version_id)
             .outerjoin(Ack, Ack.document_id == PlanDocument.id))
    return _filtered(query, user, filters, state)


def start_export(user: User, filters: Filters) -> Iterator[str]:
    """Audit the export (who, which filter, how many documents) and return its CSV chunks.

    The audit's object is the person exporting (an export is about a set, not one record). The
    query is built here, before the caller commits the audit, so the stream reads no expired user."""
    query = export_query(user, filters)
    count = db.session.scalar(select(func.count()).select_from(query.subquery()))
    record(user, "plan_document.export", user, None,
           {"state": filters.state, "agent": filters.agent or None, "documents": count})
    return _chunks(query)


def _chunks(query) -> Iterator[str]:
    """The header, then the documents by number, one CSV chunk per keyset batch of EXPORT_BATCH."""
    yield BOM + _write([CSV_COLUMNS])
    last = 0
    while True:
        batch = db.session.execute(query.where(PlanDocument.number > last)
                                   .order_by(PlanDocument.number).limit(EXPORT_BATCH)).all()
        if not batch:
            return
        yield _write(_csv_row(row) for row in batch)
        last = batch[-1].number
