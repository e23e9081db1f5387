"""API v1 bulk decisions (managers and admins, as the review queue's "approve/reject selected" and
"all matching"): many pending sales of the caller's team decided at once, each on its own. More
than a request should hold goes to a background operation (Operation-Location). Every rule is the
review queue's and the sales services'."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from webapp.api.convert import cents_of
from webapp.api.framework import ApiError, Strict, operation
from webapp.api.schemas import DateIn, Id, Money, Reason
from webapp.api.text import exactly_one
from webapp.auth.models import Role
from webapp.errors import ServiceError
from webapp.manage import queue


class DecisionFilter(Strict):
    """The team's pending sales to decide, as the queue's filters choose them (all given must match)."""

    agent_id: Id | None = None
    product_id: Id | None = None
    start: DateIn | None = Field(None, description="Sold on or after this day")
    end: DateIn | None = Field(None, description="Sold on or before this day")
    min_amount: Money | None = None
    max_amount: Money | None = None


class DecisionsIn(Strict):
    """Approve or reject the listed sales, or every pending sale of the team matching a filter."""

    # The sales by id or by filter; a rejection with its reason.
    model_config = ConfigDict(json_schema_extra={
        **exactly_one(sale_ids={"type": "array"}, matching={"type": "object"}),
        "if": {"properties": {"action": {"const": "reject"}}},
        "then": {"required": ["reason"], "properties": {"reason": {"type": "string"}}}})
    action: Literal["approve", "reject"]
    reason: Reason | None = Field(None, description="Required to reject: the agent reads it")
    sale_ids: Annotated[list[Id], Field(min_length=1, max_length=queue.MAX_BULK)] | None = Field(
        None, description=f"At most {queue.MAX_BULK} sales, each decided on its own")
    matching: DecisionFilter | None = Field(None, description="Every pending sale of your team matching it")


class Refused(BaseModel):
    """A sale the decision did not go through for, and why."""

    sale_id: int
    status: int = Field(description="As deciding it alone would have answered (404, 409, 422)")
    message: str


class DecisionsOut(BaseModel):
    """What was decided; or, for many sales, the background operation deciding them."""

    action: Literal["approve", "reject"]
    decided: list[int] = Field(description="The sales approved or rejected")
    refused: list[Refused]
    operation_id: int | None = Field(description="Set when a background operation decides them: follow it at "
                                                 "GET /operations/{operation_id} (also in Operation-Location)")


@operation("POST", "/sales/decisions", summary="Approve or reject many pending sales of your team at once",
           tag="Sales", area="sales", body=DecisionsIn, responses={200: DecisionsOut},
           roles=(Role.MANAGER, Role.ADMIN), write=True)
def decide_sales(user, body: DecisionsIn):
    """Each sale is decided on its own (one already decided, entered by you, or another team's is
    refused and the rest go through); a filter matching more than a request holds is decided by a
    background operation."""
    if (body.sale_ids is None) == (body.matching is None):
        message = "Give sale_ids or matching (one of them)."
        raise ApiError(422, message, {"sale_ids": message})
    if body.sale_ids is not None:
        return _out(queue.bulk_decide(user, body.sale_ids, body.action, body.reason))
    found = body.matching
    filters = queue.QueueFilters(
        agent_id=found.agent_id, product_id=found.product_id, start=found.start, end=found.end,
        min_cents=None if found.min_amount is None else cents_of(found.min_amount, "matching.min_amount"),
        max_cents=None if found.max_amount is None else cents_of(found.max_amount, "matching.max_amount"))
    try:
        result = queue.decide_all_matching(user, filters, body.action, body.reason)
    except ServiceError as exc:
        if exc.field != "sale_ids":
            raise
        raise ApiError(422, exc.message, {"matching": exc.message}) from exc  # the body's name for the filter
    if isinstance(result, queue.BulkResult):
        return _out(result)
    return DecisionsOut(action=body.action, decided=[], refused=[], operation_id=result.id)


def _out(result: queue.BulkResult) -> DecisionsOut:
    """A bulk result for the API."""
    return DecisionsOut(action=result.action, decided=[row.sale_id for row in result.decided],
                        refused=[Refused(sale_id=row.sale_id, status=row.status, message=row.message)
                                 for row in result.failed], operation_id=None)
