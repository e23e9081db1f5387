"""API v1 background operations: follow the progress of work too large for a request (a plan
change's recompute, a period's statements, a bulk decision). An answer that started one names it
in an Operation-Location header."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from webapp.api.framework import operation
from webapp.auth.models import Role
from webapp.operations import services as operations


class OperationOut(BaseModel):
    """A background operation: what it works through, how far it got, what it refused."""

    id: int
    kind: str
    label: str
    status: Literal["queued", "running", "done", "failed"]
    total: int = Field(description="Items to work through (agents, sales, statements)")
    done: int = Field(description="Items whose batch is committed")
    errors: list = Field(description="Items refused on the way (the operation went on)")
    error: str | None = Field(description="Why a failed operation stopped (an admin or its manager retries it on "
                                          "its page)")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@operation("GET", "/operations/{operation_id}", summary="A background operation's progress", tag="Operations",
           area=None, responses={200: OperationOut}, roles=(Role.MANAGER, Role.ADMIN))
def get_operation(user, operation_id: int):
    """An operation the user may follow (admins: any; managers: those they started; else 404)."""
    found = operations.visible_operation(user, operation_id)
    return OperationOut(id=found.id, kind=found.kind, label=operations.label(found), status=found.status,
                        total=found.total, done=found.done, errors=list(found.errors or []), error=found.error,
                        created_at=found.created_at, started_at=found.started_at, finished_at=found.finished_at)
