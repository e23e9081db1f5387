"""Dispute bodies of the API: an agent's objection to a ledger line (or question about a plan
document), its thread, and how a manager resolved it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from webapp.api.framework import Page, PageQuery, Strict
from webapp.api.schemas import Id, MoneyOut, SignedMoney
from webapp.api.text import text

Text = text(2000, multiline=True)
DisputeStatusName = Literal["open", "accepted", "rejected", "answered"]


class MessageOut(BaseModel):
    """A message of a dispute's thread."""

    id: int
    author_id: int
    body: str
    created_at: datetime


class DisputeOut(BaseModel):
    """A dispute of a ledger line, or a question about a plan document (plan_document_id set)."""

    id: int
    agent_id: int
    status: DisputeStatusName
    entry_id: int | None = Field(description="The disputed ledger line (null for a plan question)")
    entry_kind: str | None
    entry_amount: MoneyOut | None = Field(description="The line's amount when the dispute was opened")
    sale_id: int | None
    plan_document_id: int | None
    opened_at: datetime
    resolved_at: datetime | None
    resolved_by_id: int | None
    resolution_note: str | None = Field(description="The reason of a rejection, the note of an acceptance, "
                                                    "or the answer to a plan question")
    adjustment_entry_id: int | None = Field(description="The correction an accepted dispute posted")
    messages: int = Field(description="How many messages its thread holds")


class DisputeDetail(DisputeOut):
    """A dispute with its thread, oldest message first."""

    thread: list[MessageOut]


class DisputePage(Page[DisputeOut]):
    """A page of disputes, newest first."""


class DisputeQuery(PageQuery):
    """Filters of the dispute list (agents: their own; managers: their team's; admins: all)."""

    status: DisputeStatusName | None = None


class DisputeIn(Strict):
    """An objection to one of the caller's own ledger lines."""

    entry_id: Id
    comment: Text = Field(description="What is wrong with the line")


class MessageIn(Strict):
    """A message to add to an open dispute's thread."""

    body: Text


class AcceptIn(Strict):
    """Accept a dispute: the correction to post (signed), and a note for the agent."""

    amount: SignedMoney
    note: text(1900, multiline=True, required=False) | None = None


class RejectIn(Strict):
    """Reject a dispute, with the reason the agent reads."""

    reason: Text


class QuestionIn(Strict):
    """A question to the agent's manager about one of the agent's own plan documents."""

    comment: Text = Field(description="The question")


class AnswerIn(Strict):
    """The answer to a plan question; it joins the thread and closes the question (status answered)."""

    answer: Text
