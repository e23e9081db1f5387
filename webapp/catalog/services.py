"""Catalogue services: categories, products, who may sell them, customers."""

from __future__ import annotations

import re

from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from webapp.audit.services import record
from webapp.auth.models import Role, User
from webapp.auth.services import normalise_email
from webapp.catalog.models import Category, Customer, Product, ProductAssignment
from webapp.errors import NOT_SELLABLE, ServiceError, get_or_404
from webapp.extensions import db
from webapp.formtools import check_plain_text
from webapp.money import MAX_CENTS

_CODE = re.compile(r"^[a-z0-9_]{2,40}$")
_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


def list_categories(include_archived: bool = True) -> list[Category]:
    """Categories by name."""
    query = select(Category).order_by(Category.name)
    if not include_archived:
        query = query.where(Category.active.is_(True))
    return list(db.session.scalars(query))


def save_category(actor, category: Category | None, *, code: str, name: str, active: bool = True) -> Category:
    """Create or edit a category (its code is fixed once created: plans and files refer to it)."""
    name = check_plain_text((name or "").strip(), "name")
    if not name or len(name) > 80:
        raise ServiceError("Enter a name (at most 80 characters).", "name")
    before = None
    if category is None:
        code = (code or "").strip().lower()
        if not _CODE.match(code):
            raise ServiceError("Use 2-40 lower-case letters, digits or underscores.", "code")
        if db.session.scalar(select(Category.id).where(Category.code == code)):
            raise ServiceError("A category with this code exists already.", "code")
        category = Category(code=code)
        db.session.add(category)
    else:
        before = {"name": category.name, "active": category.active}
    category.name, category.active = name, bool(active)
    db.session.flush()
    record(actor, "category.save", category, before, {"code": category.code, "name": name, "active": bool(active)})
    return category


def list_products(include_archived: bool = True) -> list[Product]:
    """Products by name."""
    query = select(Product).order_by(Product.name)
    if not include_archived:
        query = query.where(Product.active.is_(True))
    return list(db.session.scalars(query))


def get_product(product_id: int, lock: bool = False) -> Product:
    """A product by id (`lock`: its row locked until the transaction ends), or NotFound."""
    return get_or_404(Product, product_id, with_for_update=lock)


def save_product(actor, product: Product | None, *, sku: str, name: str, category_id: int,
                 list_price_cents: int, active: bool = True, restricted: bool = False) -> Product:
    """Create or edit a product; archiving (active=False) keeps its history."""
    name = check_plain_text((name or "").strip(), "name")
    if not name or len(name) > 120:
        raise ServiceError("Enter a name (at most 120 characters).", "name")
    category = db.session.get(Category, category_id) if category_id else None
    if category is None:
        raise ServiceError("Choose a category.", "category_id")
    # An archived category keeps its products, but takes no new ones (the form offers only active ones).
    if not category.active and (product is None or product.category_id != category.id):
        raise ServiceError("This category is archived; choose an active one.", "category_id")
    if not isinstance(list_price_cents, int) or not 1 <= list_price_cents < MAX_CENTS:
        raise ServiceError("Enter a list price greater than zero.", "list_price")
    before = None
    if product is None:
        sku = (sku or "").strip()
        if not _SKU.match(sku):
            raise ServiceError("Use up to 40 letters, digits, dots, dashes or underscores.", "sku")
        if db.session.scalar(select(Product.id).where(func.lower(Product.sku) == sku.lower())):
            raise ServiceError("A product with this SKU exists already.", "sku")
        product = Product(sku=sku)
    else:
        before = {"name": product.name, "category_id": product.category_id,
                  "list_price_cents": product.list_price_cents, "active": product.active,
                  "restricted": product.restricted}
    product.name, product.category_id, product.list_price_cents = name, category.id, list_price_cents
    product.active, product.restricted = bool(active), bool(restricted)
    if product.id is None:
        db.session.flush()  # so only this insert can fail inside the savepoint below
        try:
            # The database's lower(sku) index settles two admins saving "abc-1" and "ABC-1" at once.
            with db.session.begin_nested():
                db.session.add(product)
        except IntegrityError:
            raise ServiceError("A product with this SKU exists already.", "sku") from None
    db.session.flush()
    record(actor, "product.save", product, before, {
        "sku": product.sku, "name": name, "category_id": category.id, "list_price_cents": list_price_cents,
        "active": bool(active), "restricted": bool(restricted)})
    return product


def set_product_agents(actor, product: Product, agent_ids: set[int]) -> None:
    """Replace the set of agents allowed to sell a restricted product."""
    agents = set(db.session.scalars(select(User.id).where(User.id.in_(agent_ids or {0}),
                                                          User.role == Role.AGENT)))
    if agents != set(agent_ids):
        raise ServiceError("Choose agents only.", "agent_ids")
    current = {a.agent_id: a for a in db.session.scalars(
        select(ProductAssignment).where(ProductAssignment.product_id == product.id))}
    for agent_id in set(current) - agents:
        db.session.delete(current[agent_id])
    for agent_id in agents - set(current):
        db.session.add(ProductAssignment(agent_id=agent_id, product_id=product.id))
    db.session.flush()
    record(actor, "product.agents", product, {"agent_ids": sorted(current)}, {"agent_ids": sorted(agents)})


def product_agent_ids(product: Product) -> list[int]:
    """The agents assigned a product (those who may sell it when it is restricted), by id."""
    return list(db.session.scalars(select(ProductAssignment.agent_id).where(
        ProductAssignment.product_id == product.id).order_by(ProductAssignment.agent_id)))


def get_category(category_id: int) -> Category:
    """A category by id, else NotFound."""
    return get_or_404(Category, category_id)


def _sellable_clause(agent_id: int):
    """SQL condition: the product is active and either open to all or assigned to the agent."""
    assigned = exists().where(ProductAssignment.product_id == Product.id, ProductAssignment.agent_id == agent_id)
    return (Product.active.is_(True)) & (or_(Product.restricted.is_(False), assigned))


def sellable_products(agent_id: int) -> list[Product]:
    """Products this agent may sell now, by name."""
    return list(db.session.scalars(select(Product).where(_sellable_clause(agent_id)).order_by(Product.name)))


def assigned_products(agent_id: int) -> list[Product]:
    """Restricted products assigned to this agent ("My products")."""
    return list(db.session.scalars(
        select(Product).join(ProductAssignment, ProductAssignment.product_id == Product.id)
        .where(ProductAssignment.agent_id == agent_id).order_by(Product.name)))


def sellable_product(agent_id: int, product_id) -> Product:
    """The product if this agent may sell it, else a field error (archived, restricted, unknown)."""
    product = None
    if isinstance(product_id, int) and not isinstance(product_id, bool):
        product = db.session.scalar(select(Product).where(Product.id == product_id, _sellable_clause(agent_id)))
    if product is None:
        raise ServiceError("Choose a product you can sell.", "product_id", code=NOT_SELLABLE)
    return product


def search_customers(text: str, limit: int = 10) -> list[Customer]:
    """Customers whose name or email contains `text` (case-insensitive), best first."""
    text = (text or "").strip()
    if not text:
        return []
    return list(db.session.scalars(select(Customer).where(_contains(text)).order_by(Customer.name).limit(limit)))


def _contains(text: str):
    """SQL condition: the customer's name or email contains `text`, any case (LIKE's wildcards
    taken literally: dropped, as the search box does)."""
    pattern = f"%{text.lower().replace('%', '').replace('_', '')}%"
    return or_(func.lower(Customer.name).like(pattern), func.lower(Customer.email).like(pattern))


def customers_page(text: str | None, *, after_id: int | None = None, limit: int = 50) -> list[Customer]:
    """Customers (whose name or email contains `text`, when given) by id, after `after_id`: a
    keyset page of the directory the sale form searches."""
    query = select(Customer)
    if (text or "").strip():
        query = query.where(_contains(text.strip()))
    if after_id is not None:
        query = query.where(Customer.id > after_id)
    return list(db.session.scalars(query.order_by(Customer.id).limit(limit)))


def add_customer(actor, *, name: str, email: str | None = None, phone: str | None = None,
                 region: str | None = None) -> Customer:
    """Add a customer on its own (not with a sale), audited."""
    customer = create_customer(actor, name=name, email=email, phone=phone, region=region)
    record(actor, "customer.create", customer, None, {"name": customer.name, "email": customer.email,
                                                       "phone": customer.phone, "region": customer.region})
    return customer


def get_customer(customer_id) -> Customer:
    """An existing customer, else a field error."""
    customer = None
    if isinstance(customer_id, int) and not isinstance(customer_id, bool):
        customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise ServiceError("Choose an existing customer or add a new one.", "customer_id")
    return customer


def create_customer(actor, *, name: str, email: str | None = None, phone: str | None = None,
                    region: str | None = None, flush: bool = True) -> Customer:
    """Add a customer record (flush=False leaves the insert to the caller's next flush: batches)."""
    name = check_plain_text((name or "").strip(), "customer_name")
    if not name or len(name) > 120:
        raise ServiceError("Enter the customer's name (at most 120 characters).", "customer_name")
    email = (email or "").strip() or None
    if email is not None:
        email = normalise_email(email, field="customer_email")
    phone = check_plain_text((phone or "").strip()[:40], "customer_phone") or None
    region = check_plain_text((region or "").strip()[:80], "customer_region") or None
    customer = Customer(name=name, email=email, phone=phone, region=region,
                        created_by_id=getattr(actor, "id", None))
    db.session.add(customer)
    if flush:
        db.session.flush()
    return customer
