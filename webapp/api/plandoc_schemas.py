"""Plan document bodies of the API: documents as issued (number, hash, state) and their
acknowledgements (money as decimal strings, dates as ISO dates)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from webapp.api.framework import Page, PageQuery, Strict
from webapp.api.schemas import Id
from webapp.api.text import text

DocumentStateName = Literal["pending", "questioned", "acknowledged", "superseded"]
SHA256_HELP = "SHA-256 (hex) of the document's HTML as UTF-8 bytes: recompute it from `html`"


class NamedRef(BaseModel):
    """An object's id and its name as the document was issued."""

    id: int
    name: str


class PlanDocumentOut(BaseModel):
    """An issued plan document: whose, which plan version, the days it governs, and where it stands."""

    id: int
    number: int = Field(description="The document number (gap-free, never reused)")
    agent: NamedRef
    plan: NamedRef
    version: int = Field(description="The plan's version number")
    revision: int = Field(description="The version's document revision (an edit of the version raises it)")
    effective_from: date
    effective_to: date | None = Field(description="The last day it governs (null: until replaced)")
    issued_at: datetime
    state: DocumentStateName = Field(
        description="pending: waiting for the agent; questioned: the agent asked a question not answered "
                    "yet; acknowledged; superseded: replaced by a newer revision before acknowledgement")
    sha256: str = Field(description=SHA256_HELP)
    pdf_ready: bool = Field(description="The issued PDF is rendered (GET .../pdf answers it)")
    acknowledged_at: datetime | None


class AcknowledgementOut(BaseModel):
    """The agent's acknowledgement: what they saw (number and SHA-256), the name typed, when, from where."""

    typed_name: str
    acknowledged_at: datetime
    document_number: int
    document_sha256: str
    ip_address: str | None
    user_agent: str | None
    pdf_ready: bool = Field(
        description="The acknowledged PDF is rendered (GET .../acknowledgement.pdf answers it)")


class PlanDocumentDetail(PlanDocumentOut):
    """A document with what it says, as data and as the exact HTML issued, and its acknowledgement."""

    content: dict[str, Any] = Field(
        description="What the document says, as data: money as decimal strings (the stored `*_cents` "
                    "fields without the suffix), rates as percent strings, dates as ISO dates")
    html: str = Field(description="The document exactly as issued; sha256 is the SHA-256 of its UTF-8 bytes")
    acknowledgement: AcknowledgementOut | None


class PlanDocumentPage(Page[PlanDocumentOut]):
    """A page of plan documents, newest (highest number) first."""


class PlanDocumentQuery(PageQuery):
    """Filters of the plan document list."""

    agent_id: Id | None = Field(None, description="Managers and admins: one agent's documents")
    state: DocumentStateName | None = None


class AcknowledgementIn(Strict):
    """The agent acknowledges their document, as on its page: their full name as on their account,
    and that they read it."""

    typed_name: text(200) = Field(
        description="The agent's full name as on their account (case and repeated spaces ignored)")
    confirm: Literal[True] = Field(description="true: the agent has read this document")
