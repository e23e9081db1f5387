"""API v1 customers (search, read, add) and agents (the caller's team: list, read), as the pages
have them: the sale form searches one customer directory; managers see their team, admins all."""

from __future__ import annotations

from webapp.api.directory_schemas import (AgentOut, AgentPage, AgentQuery, CustomerIn, CustomerOut, CustomerPage,
                                          CustomerQuery)
from webapp.api.framework import decode_cursor, keyset_page, operation
from webapp.auth import access
from webapp.auth.models import Role, User
from webapp.catalog import services as catalog
from webapp.catalog.models import Customer
from webapp.errors import NotFound, ServiceError

MANAGERS = (Role.MANAGER, Role.ADMIN)
# The catalogue service names a customer's fields as the sale form does; the body names them plainly.
CUSTOMER_FIELDS = {"customer_name": "name", "customer_email": "email", "customer_phone": "phone",
                   "customer_region": "region"}


def _customer_out(customer: Customer) -> CustomerOut:
    """A customer for the API."""
    return CustomerOut(id=customer.id, name=customer.name, email=customer.email, phone=customer.phone,
                       region=customer.region, created_at=customer.created_at)


def _agent_out(agent: User) -> AgentOut:
    """An agent for the API."""
    return AgentOut(id=agent.id, name=agent.name, email=agent.email, manager_id=agent.manager_id,
                    active=agent.active)


@operation("GET", "/customers", summary="Customers, searched by part of the name or email", tag="Customers",
           area="sales", query=CustomerQuery, responses={200: CustomerPage})
def list_customers(user, query: CustomerQuery):
    """The customer directory by id, narrowed by `q`, paginated."""
    page, after = keyset_page(catalog.customers_page(query.q, after_id=decode_cursor(query.cursor),
                                                     limit=query.limit + 1), query.limit)
    return CustomerPage(items=[_customer_out(c) for c in page], next_cursor=after)


@operation("GET", "/customers/{customer_id}", summary="One customer", tag="Customers", area="sales",
           responses={200: CustomerOut})
def get_customer(user, customer_id: int):
    """A customer of the directory (unknown: 404)."""
    try:
        return _customer_out(catalog.get_customer(customer_id))
    except ServiceError as exc:
        raise NotFound() from exc


@operation("POST", "/customers", summary="Add a customer", tag="Customers", area="sales", body=CustomerIn,
           responses={201: CustomerOut}, write=True)
def create_customer(user, body: CustomerIn):
    """Add a customer to the directory (then record sales with its customer_id)."""
    try:
        customer = catalog.add_customer(user, name=body.name, email=body.email, phone=body.phone,
                                        region=body.region)
    except ServiceError as exc:
        raise ServiceError(exc.message, CUSTOMER_FIELDS.get(exc.field, exc.field), exc.status, exc.code) from exc
    return _customer_out(customer), 201


@operation("GET", "/agents", summary="Agents (managers: their team; admins: all)", tag="Agents", area="sales",
           query=AgentQuery, responses={200: AgentPage}, roles=MANAGERS)
def list_agents(user, query: AgentQuery):
    """The agents the user manages by id, paginated."""
    page, after = keyset_page(access.agents_page(user, active=query.active, after_id=decode_cursor(query.cursor),
                                                 limit=query.limit + 1), query.limit)
    return AgentPage(items=[_agent_out(a) for a in page], next_cursor=after)


@operation("GET", "/agents/{agent_id}", summary="One agent of the team", tag="Agents", area="sales",
           responses={200: AgentOut}, roles=MANAGERS)
def get_agent(user, agent_id: int):
    """An agent the user manages (another team's: 404)."""
    return _agent_out(access.visible_agent(user, agent_id))
