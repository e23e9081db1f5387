"""The event types integrations can subscribe to, what each means, and the audit actions they come from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    """One kind of event: its name, what it means, and where a client reads the object's current state."""

    name: str
    description: str
    actions: tuple[str, ...]  # the audit actions that make it
    path: str | None = None   # the API path of the object (format with its id), if there is one


EVENT_TYPES: tuple[EventType, ...] = (
    EventType("sale.created", "A sale was recorded (on a page, through the API or by an import).",
              ("sale.create",), "/api/v1/sales/{id}"),
    EventType("sale.approved", "A pending sale was approved: it now earns commission.",
              ("sale.approve",), "/api/v1/sales/{id}"),
    EventType("sale.rejected", "A pending sale was rejected, with a reason.", ("sale.reject",), "/api/v1/sales/{id}"),
    EventType("sale.voided", "An approved sale was voided: its commission is taken back.",
              ("sale.void",), "/api/v1/sales/{id}"),
    EventType("ledger.entry_created", "A manager or admin entered a manual adjustment in an agent's ledger "
              "(a sale's own commission lines follow that sale's events).", ("ledger.adjust",)),
    EventType("payout.recorded", "A payout was recorded, or reversed (the reversal is a payout with a "
              "negative amount).", ("payout.create", "payout.reverse"), "/api/v1/payouts/{id}"),
    EventType("statement.issued", "A commission statement was issued and its PDF is ready.",
              ("statement.issue",), "/api/v1/statements/{id}"),
    EventType("statement.delivered", "A statement's email was accepted by the mail provider.",
              ("statement.deliver",), "/api/v1/statements/{id}"),
    EventType("statement.delivery_failed", "A statement's email could not be delivered (out of retries, or "
              "rejected or bounced by the provider).", ("statement.delivery_fail",), "/api/v1/statements/{id}"),
    EventType("period.closed", "A pay period was closed: its figures are final.", ("period.close",)),
    EventType("dispute.opened", "An agent disputed a line of their commission.", ("dispute.open",),
              "/api/v1/disputes/{id}"),
    EventType("dispute.resolved", "A manager accepted or rejected a dispute (`data.outcome`).",
              ("dispute.accept", "dispute.reject"), "/api/v1/disputes/{id}"),
)

BY_NAME: dict[str, EventType] = {event.name: event for event in EVENT_TYPES}
BY_ACTION: dict[str, EventType] = {action: event for event in EVENT_TYPES for action in event.actions}
NAMES: tuple[str, ...] = tuple(BY_NAME)
