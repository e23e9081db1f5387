"""API v1 sales: record (idempotent), list, read, approve, reject, void.

Every rule (who may record for whom, prices, dates, closed periods, who may decide what) is the
sales services'; this module only translates JSON to their inputs and their results to JSON.
"""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from datetime import date

from webapp.api import idempotency
from webapp.api.convert import entry_fields, money, unit_price
from webapp.api.framework import ApiError, decode_keyset, encode_keyset, operation
from webapp.api.schemas import (CreditOut, EntryOut, ReasonIn, SaleEdit, SaleEntries, SaleIn, SaleOut, SalePage,
                                SaleQuery)
from webapp.auth import access
from webapp.auth.models import Role
from webapp.errors import FieldErrors, NotFound, ServiceError
from webapp.extensions import db
from webapp.sales import decisions, portal
from webapp.sales import services as sales
from webapp.money import units_to_rate
from webapp.sales.models import Sale

MANAGERS = (Role.MANAGER, Role.ADMIN)


def _holder(user) -> int | None:
    """Whose part of a sale's commission the user reads: an agent their own, managers every holder's."""
    return user.id if access.is_agent(user) else None


def _credits(sale: Sale) -> list[CreditOut]:
    """The sale's credits with exact decimal strings (share to four places)."""
    return [CreditOut(agent_id=c.agent_id, share=f"{units_to_rate(c.share_units):.4f}",
                      credit=money(c.credit_cents)) for c in sale.credits]


def _sale_out(sale: Sale, commission: dict[int, int], estimates: dict[int, int]) -> SaleOut:
    """A sale for the API, with its commission and estimate looked up in bulk by the caller."""
    return SaleOut(
        id=sale.id, agent_id=sale.agent_id, entered_by_id=sale.entered_by_id, product_id=sale.product_id,
        product_name=sale.product.name, customer_id=sale.customer_id, customer_name=sale.customer.name,
        quantity=sale.quantity, unit_price=money(sale.unit_price_cents), amount=money(sale.amount_cents),
        sold_on=sale.sold_on, status=sale.status, reason=sale.reason, note=sale.note,
        decided_by_id=sale.decided_by_id, decided_at=sale.decided_at, created_at=sale.created_at,
        updated_at=sale.updated_at,
        commission=money(commission.get(sale.id)), estimate=money(estimates.get(sale.id)),
        credits=_credits(sale))


def _one(user, sale: Sale) -> SaleOut:
    """One sale for the API, read fresh (its commission changes with the ledger)."""
    db.session.flush()
    db.session.refresh(sale, ["credits"])
    holder = _holder(user)
    return _sale_out(sale, portal.sale_commissions([sale.id], holder), portal.sale_estimates([sale], holder))


# The services name a split's fields as the sale form does; the API names them by their place in the body.
_SPLIT_FIELD = re.compile(r"^co_(agent|share)_([1-9])$")


def _body_field(field: str | None) -> str | None:
    """co_agent_2 -> co_agents.1.agent_id, co_share_2 -> co_agents.1.share; others unchanged."""
    match = _SPLIT_FIELD.match(field or "")
    if match is None:
        return field
    return f"co_agents.{int(match[2]) - 1}.{'agent_id' if match[1] == 'agent' else 'share'}"


def _idempotency_key() -> str:
    """The client's Idempotency-Key header, or a fresh key (a request without one is never replayed)."""
    return idempotency.key_header() or uuid.uuid4().hex


@operation("POST", "/sales", summary="Record a sale (send an Idempotency-Key header to retry safely)",
           tag="Sales", area="sales", body=SaleIn, responses={201: SaleOut, 200: SaleOut}, write=True, errors=(409,),
           own_key=True,
           headers={idempotency.HEADER: {
               "description": "Your key for this sale: the same key and body again returns the sale already "
                              "made (200); the same key with a different body is refused (409).",
               "schema": idempotency.SCHEMA}})
def create_sale(user, body: SaleIn):
    """Record a sale: agents their own, managers and admins for an agent of their team (agent_id).

    The same Idempotency-Key with the same body answers the sale already made (200); with a
    different body, 409."""
    key = _idempotency_key()
    data = _sale_input(body)
    with _named_as_the_body():
        sale, created = sales.create_sale(user, data, idempotency_key=key, agent_id=body.agent_id)
    if not created:
        agent_id = user.id if access.is_agent(user) and body.agent_id is None else body.agent_id
        if not sales.same_request(sale, agent_id, data):
            raise idempotency.reused_error("sale")
        return _one(user, sale), 200, idempotency.REPLAYED
    return _one(user, sale), 201


def _sale_input(body: SaleEdit) -> sales.SaleInput:
    """The sales services' input from a sale body (one customer: by id or a new one by name)."""
    if body.customer_id is not None and body.customer_name is not None:
        message = "Give customer_id or customer_name, not both."
        raise ApiError(422, message, {"customer_name": message})
    return sales.SaleInput(
        product_id=body.product_id, quantity=body.quantity,
        unit_price=unit_price(body.unit_price, body.product_id), sold_on=body.sold_on,
        customer_id=body.customer_id, new_customer_name=body.customer_name,
        new_customer_email=body.customer_email, note=body.note, share=body.share,
        co_agents=tuple(sales.CoAgentInput(co.agent_id, co.share) for co in body.co_agents))


@contextmanager
def _named_as_the_body():
    """The services' field errors, every one of them, named as the body names them (FieldErrors:
    several fields at once)."""
    try:
        yield
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            raise
        raise FieldErrors([ServiceError(error.message, _body_field(error.field), error.status, error.code)
                           for error in getattr(exc, "errors", [exc])]) from exc


@operation("GET", "/sales", summary="Sales (agents: their own; managers: their team's; admins: all)",
           tag="Sales", area="sales", query=SaleQuery, responses={200: SalePage}, errors=(404,))
def list_sales(user, query: SaleQuery):
    """Sales the token's user may see, filtered, in the order asked for, paginated by keyset."""
    if query.agent_id is not None:
        access.own_or_managed_agent(user, query.agent_id)
    if query.start and query.end and query.end < query.start:
        raise ApiError(422, "The last day is before the first day.", {"end": "Before start."})
    filters = portal.SaleFilters(start=query.start, end=query.end, status=query.status,
                                 product_id=query.product_id, customer=query.customer,
                                 customer_id=query.customer_id, updated_since=query.updated_since)
    key = query.sort.lstrip("-")
    found = portal.visible_sales(user, filters, agent_id=query.agent_id, sort=query.sort,
                                 after=decode_keyset(query.cursor, query.sort, _CURSOR_VALUES[key]),
                                 limit=query.limit + 1)
    page = found[: query.limit]
    holder = _holder(user)
    commission = portal.sale_commissions([s.id for s in page], holder)
    estimates = portal.sale_estimates(page, holder)
    last = page[-1] if page else None  # sorted by this sale's value of the sort column, then its id
    return SalePage(
        items=[_sale_out(s, commission, estimates) for s in page],
        next_cursor=(encode_keyset(query.sort, getattr(last, portal.SALE_SORTS[key].key), last.id)
                     if len(found) > query.limit else None),
        total=portal.count_visible_sales(user, filters, agent_id=query.agent_id) if query.include_total else None)


# How a cursor's value is read back for each sort key.
_CURSOR_VALUES = {"id": int, "sold_on": date.fromisoformat, "amount": int}


@operation("GET", "/sales/{sale_id}", summary="One sale", tag="Sales", area="sales", responses={200: SaleOut})
def get_sale(user, sale_id: int):
    """A sale the user may see (another agent's or another team's sale: 404)."""
    return _one(user, access.visible_sale(user, sale_id))


@operation("GET", "/sales/{sale_id}/entries", summary="A sale's ledger lines, each with how it was worked out",
           tag="Sales", area="sales", responses={200: SaleEntries})
def sale_entries(user, sale_id: int):
    """The sale's ledger lines the user may see (an agent their own credit's, a manager their team's
    holders'), each with the derivation stored from the engine's own result."""
    sale = access.visible_sale(user, sale_id)
    return SaleEntries(sale_id=sale.id, entries=[EntryOut(**entry_fields(e)) for e in portal.sale_entries(user, sale.id)])


def _decidable(user, sale_id: int) -> SaleOut:
    """The sale as GET answers it, read under the locks a decision takes (for If-Match)."""
    return _one(user, decisions.lock_for_decision(user, access.visible_sale(user, sale_id)))


def _changeable(user, sale_id: int) -> SaleOut:
    """The sale as GET answers it, read under the locks an edit takes (for If-Match)."""
    return _one(user, sales.lock_for_change(user, access.visible_sale(user, sale_id)))


@operation("PUT", "/sales/{sale_id}", summary="Change a pending sale: every field, as the edit page",
           tag="Sales", area="sales", body=SaleEdit, responses={200: SaleOut}, write=True, errors=(409,),
           current=_changeable)
def update_sale(user, sale_id: int, body: SaleEdit):
    """Change a pending sale of one's own (its agent, or whoever entered it): a decided sale or one in
    a closed period is 409; a co-agent's, 403; anyone else's, 404."""
    sale = access.visible_sale(user, sale_id)
    data = _sale_input(body)
    with _named_as_the_body():
        sales.update_sale(user, sale, data)
    return _one(user, sale)


@operation("POST", "/sales/{sale_id}/cancel", summary="Withdraw a pending sale of one's own", tag="Sales",
           area="sales", responses={200: SaleOut}, write=True, errors=(409,), current=_changeable)
def cancel_sale(user, sale_id: int):
    """Cancel a pending sale of one's own (decided already: 409)."""
    return _one(user, sales.cancel_sale(user, access.visible_sale(user, sale_id)))


@operation("POST", "/sales/{sale_id}/approve", summary="Approve a pending sale", tag="Sales", area="sales",
           responses={200: SaleOut}, roles=MANAGERS, write=True, errors=(409,), current=_decidable)
def approve_sale(user, sale_id: int):
    """Approve a pending sale of the team (never one you entered yourself: 403; decided: 409)."""
    return _one(user, sales.approve_sale(user, access.visible_sale(user, sale_id)))


@operation("POST", "/sales/{sale_id}/reject", summary="Reject a pending sale, with a reason", tag="Sales",
           area="sales",
           body=ReasonIn, responses={200: SaleOut}, roles=MANAGERS, write=True, errors=(409,), current=_decidable)
def reject_sale(user, sale_id: int, body: ReasonIn):
    """Reject a pending sale of the team (decided already: 409)."""
    return _one(user, sales.reject_sale(user, access.visible_sale(user, sale_id), body.reason))


@operation("POST", "/sales/{sale_id}/void", summary="Void an approved sale, with a reason", tag="Sales",
           area="sales",
           body=ReasonIn, responses={200: SaleOut}, roles=MANAGERS, write=True, errors=(409,), current=_decidable)
def void_sale(user, sale_id: int, body: ReasonIn):
    """Void an approved sale of the team (a stated one gets a clawback; not approved: 409)."""
    return _one(user, sales.void_sale(user, access.visible_sale(user, sale_id), body.reason))
