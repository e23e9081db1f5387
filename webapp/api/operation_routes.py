"""API v1 background operations: follow the progress of work too large for a request (a plan
change's recompute, a period's statements, a bulk decision). An answer that started one names it
in an Operation-Location header."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from webapp.api.framework import ApiError, operation, require_scope
from webapp.auth.models import Role
from webapp.operations import services as operations
from webapp.tasks import UNAVAILABLE, background_service_available


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
    return _operation_out(operations.visible_operation(user, operation_id))


@operation("POST", "/operations/{operation_id}/retry",
           summary="Queue a failed operation again (the token needs write access to the area of its change: admin "
                   "for a plan recompute or target import, sales for a bulk decision, ledger for a period's "
                   "statements)", tag="Operations", area=None, responses={200: OperationOut},
           roles=(Role.MANAGER, Role.ADMIN), write=True, errors=(409, 503))
def retry_operation(user, operation_id: int):
    """It resumes after the last batch that went through (not failed: 409; the job queue down: 503,
    nothing changed)."""
    found = operations.visible_operation(user, operation_id)
    # A retry carries on the change the operation makes: the token needs write access to its area.
    require_scope(operations.area_of(found), write=True)
    if not background_service_available():
        raise ApiError(503, UNAVAILABLE)
    return _operation_out(operations.retry(found))


def _operation_out(found) -> OperationOut:
    """An operation as the API shows it."""
    return OperationOut(id=found.id, kind=found.kind, label=operations.label(found), status=found.status,
                        total=found.total, done=found.done, errors=list(found.errors or []), error=found.error,
                        created_at=found.created_at, started_at=found.started_at, finished_at=found.finished_at)
