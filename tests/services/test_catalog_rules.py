"""Catalogue rules the service and the database keep, whatever the caller (form, API, import)."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateIndex

from webapp.catalog import services as catalog
from webapp.catalog.models import Product
from webapp.errors import ServiceError
from webapp.extensions import db

WAIT = 10  # seconds: a barrier or a join taking longer means the test is stuck


def _new(category_id: int, sku: str) -> Product:
    """Create a product through the service."""
    return catalog.save_product(None, None, sku=sku, name="Desk", category_id=category_id, list_price_cents=5000)


def test_a_new_product_cannot_go_into_an_archived_category(app, factory):
    category = factory.category()
    category.active = False
    db.session.flush()
    with pytest.raises(ServiceError) as refused:
        _new(category.id, "NEW-1")
    assert refused.value.field == "category_id"
    assert db.session.scalar(select(func.count()).select_from(Product).where(Product.sku == "NEW-1")) == 0


def test_a_product_keeps_its_archived_category_when_edited(app, factory):
    product = factory.product(list_price_cents=5000)
    product.category.active = False
    db.session.flush()
    saved = catalog.save_product(None, product, sku=product.sku, name="Renamed", category_id=product.category_id,
                                 list_price_cents=6000)
    assert (saved.name, saved.list_price_cents, saved.category_id) == ("Renamed", 6000, product.category_id)


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["postgresql", "sqlite"])
def test_the_models_index_is_on_the_lower_cased_column(dialect):
    # A literal instead of the column would make lower('sku') unique: one product in all.
    index = next(i for i in Product.__table__.indexes if i.name == "uq_products_sku_lower")
    assert str(CreateIndex(index).compile(dialect=dialect)).endswith("ON products (lower(sku))")


def test_the_database_refuses_a_sku_differing_only_in_case(app, factory):
    category = factory.category()
    db.session.add(Product(sku="case-7", name="A", category_id=category.id, list_price_cents=100))
    db.session.flush()
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.add(Product(sku="CASE-7", name="B", category_id=category.id, list_price_cents=100))


def test_two_admins_saving_one_sku_in_two_cases_at_once_make_one_product(app, factory, committed):
    category = factory.category()
    db.session.commit()
    sku = f"race-{uuid.uuid4().hex[:8]}"
    barrier = threading.Barrier(2, timeout=WAIT)
    outcomes: list[str] = []

    def save(typed: str) -> None:
        """One admin's save, in its own request-like context."""
        with app.app_context():
            try:
                barrier.wait()
                _new(category.id, typed)
                db.session.commit()
                outcomes.append("created")
            except ServiceError as exc:
                db.session.rollback()
                outcomes.append(f"refused:{exc.field}")

    threads = [threading.Thread(target=save, args=(typed,)) for typed in (sku, sku.upper())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert sorted(outcomes) == ["created", "refused:sku"]
    assert db.session.scalar(select(func.count()).select_from(Product)
                             .where(func.lower(Product.sku) == sku)) == 1
