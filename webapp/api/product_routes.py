"""API v1 products: list and read (agents: what they may sell), create and change (admins)."""

from __future__ import annotations

from sqlalchemy import select

from webapp.api.convert import cents_of
from webapp.api.framework import ApiError, decode_cursor, encode_cursor, operation
from webapp.api.schemas import ProductIn, ProductOut, ProductPage, ProductPatch, ProductQuery
from webapp.auth import access
from webapp.auth.models import Role
from webapp.catalog import services as catalog
from webapp.catalog.models import Category, Product
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.money import from_cents


def _product_out(product: Product) -> ProductOut:
    """A product for the API."""
    return ProductOut(id=product.id, sku=product.sku, name=product.name, category=product.category.code,
                      list_price=str(from_cents(product.list_price_cents)), active=product.active,
                      restricted=product.restricted)


@operation("GET", "/products", summary="Products (agents: those they may sell)", tag="Products", area="sales",
           query=ProductQuery, responses={200: ProductPage})
def list_products(user, query: ProductQuery):
    """Products, by id, paginated; agents see only what they may sell."""
    after = decode_cursor(query.cursor)
    if access.is_agent(user):
        candidates = catalog.sellable_products(user.id)
        candidates = [p for p in candidates if after is None or p.id > after]
        candidates.sort(key=lambda p: p.id)
    else:
        stmt = select(Product).order_by(Product.id)
        if after is not None:
            stmt = stmt.where(Product.id > after)
        if query.active is not None:
            stmt = stmt.where(Product.active.is_(query.active == "true"))
        candidates = list(db.session.scalars(stmt.limit(query.limit + 1)))
    page = candidates[: query.limit]
    more = len(candidates) > query.limit
    return ProductPage(items=[_product_out(p) for p in page],
                       next_cursor=encode_cursor(page[-1].id) if more and page else None)


def _category_id(code: str) -> int:
    """A category code to its id, or a field error."""
    category_id = db.session.scalar(select(Category.id).where(Category.code == code))
    if category_id is None:
        raise ApiError(422, "Unknown category.", {"category": "No category has this code."})
    return category_id


# The catalogue service's field names -> the product body's (errors must name what the client sent).
PRODUCT_FIELDS = {"category_id": "category", "list_price_cents": "list_price"}


def _save_product(user, product, **values):
    """catalog.save_product, its field errors named as the API body names them."""
    try:
        return catalog.save_product(user, product, **values)
    except ServiceError as exc:
        if exc.field in PRODUCT_FIELDS:
            raise ServiceError(exc.message, PRODUCT_FIELDS[exc.field], exc.status) from exc
        raise


@operation("POST", "/products", summary="Create a product", tag="Products", area="admin", body=ProductIn,
           responses={201: ProductOut}, roles=(Role.ADMIN,), write=True, errors=(409,))
def create_product(user, body: ProductIn):
    """Create a product (admins)."""
    product = _save_product(user, None, sku=body.sku, name=body.name, category_id=_category_id(body.category),
                                   list_price_cents=cents_of(body.list_price, "list_price"),
                                   restricted=body.restricted)
    return _product_out(product), 201


@operation("GET", "/products/{product_id}", summary="One product (agents: one they may sell)",
           tag="Products", area="sales",
           responses={200: ProductOut})
def get_product(user, product_id: int):
    """A product; for an agent only one they may sell now (others: 404, as the list leaves them out)."""
    if access.is_agent(user):
        try:
            return _product_out(catalog.sellable_product(user.id, product_id))
        except ServiceError as exc:
            raise NotFound() from exc
    return _product_out(catalog.get_product(product_id))


def _locked_product(user, product_id: int) -> ProductOut:
    """The product as GET answers it, locked for the change (for If-Match)."""
    return _product_out(catalog.get_product(product_id, lock=True))


@operation("PATCH", "/products/{product_id}", summary="Change a product", tag="Products", area="admin",
           body=ProductPatch,
           responses={200: ProductOut}, roles=(Role.ADMIN,), write=True, current=_locked_product)
def update_product(user, product_id: int, body: ProductPatch):
    """Change a product's name, category, price, active or restricted flag (admins)."""
    product = catalog.get_product(product_id)
    product = _save_product(
        user, product, sku=product.sku, name=body.name if body.name is not None else product.name,
        category_id=_category_id(body.category) if body.category is not None else product.category_id,
        list_price_cents=cents_of(body.list_price, "list_price") if body.list_price is not None else product.list_price_cents,
        active=body.active if body.active is not None else product.active,
        restricted=body.restricted if body.restricted is not None else product.restricted)
    return _product_out(product)
