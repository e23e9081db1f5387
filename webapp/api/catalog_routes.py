"""API v1 catalogue administration (as the admin's catalogue pages): product categories, and which
agents are assigned a product (who may sell it when it is restricted). Reading categories is open
to every token of the sales area: products name their category by its code."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from webapp.api.framework import Strict, operation
from webapp.api.schemas import Id
from webapp.api.text import text
from webapp.auth.models import Role
from webapp.catalog import services as catalog
from webapp.catalog.models import Category

ADMINS = (Role.ADMIN,)
Name = text(80, trim=True)


class CategoryOut(BaseModel):
    """A product category; `code` is fixed once made (plans and files refer to it)."""

    id: int
    code: str
    name: str
    active: bool


class CategoryList(BaseModel):
    """Every category, by name."""

    items: list[CategoryOut]


class CategoryIn(Strict):
    """A new category."""

    code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,40}$")] = Field(
        description="2-40 lower-case letters, digits or underscores")
    name: Name
    active: bool = True


class CategoryPatch(Strict):
    """A category's new name or state (fields left out stay as they are)."""

    name: Name | None = None
    active: bool | None = None


class ProductAgents(Strict):
    """The agents assigned a product."""

    agent_ids: list[Id] = Field(max_length=10_000, description="Every agent assigned the product (replaces the list)")


def _category_out(category: Category) -> CategoryOut:
    """A category for the API."""
    return CategoryOut(id=category.id, code=category.code, name=category.name, active=category.active)


@operation("GET", "/categories", summary="Product categories", tag="Products", area="sales",
           responses={200: CategoryList})
def list_categories(user):
    """Every category by name (archived ones too: old products name them)."""
    return CategoryList(items=[_category_out(c) for c in catalog.list_categories()])


@operation("POST", "/categories", summary="Create a category", tag="Products", area="admin", body=CategoryIn,
           responses={201: CategoryOut}, roles=ADMINS, write=True)
def create_category(user, body: CategoryIn):
    """A new category (a code in use already: 422 on code)."""
    return _category_out(catalog.save_category(user, None, code=body.code, name=body.name, active=body.active)), 201


@operation("PATCH", "/categories/{category_id}", summary="Rename, archive or restore a category", tag="Products",
           area="admin", body=CategoryPatch, responses={200: CategoryOut}, roles=ADMINS, write=True)
def update_category(user, category_id: int, body: CategoryPatch):
    """Change a category's name or active flag (its code never changes)."""
    category = catalog.get_category(category_id)
    return _category_out(catalog.save_category(
        user, category, code=category.code, name=body.name if body.name is not None else category.name,
        active=body.active if body.active is not None else category.active))


@operation("GET", "/products/{product_id}/agents", summary="The agents assigned a product", tag="Products",
           area="admin", responses={200: ProductAgents}, roles=ADMINS)
def product_agents(user, product_id: int):
    """Who is assigned the product, by id."""
    return ProductAgents(agent_ids=catalog.product_agent_ids(catalog.get_product(product_id)))


@operation("PUT", "/products/{product_id}/agents", summary="Assign a product to exactly these agents",
           tag="Products", area="admin", body=ProductAgents, responses={200: ProductAgents}, roles=ADMINS,
           write=True)
def set_product_agents(user, product_id: int, body: ProductAgents):
    """Replace the product's assigned agents (anyone who is not an agent: 422 on agent_ids)."""
    product = catalog.get_product(product_id)
    catalog.set_product_agents(user, product, set(body.agent_ids))
    return ProductAgents(agent_ids=catalog.product_agent_ids(product))
