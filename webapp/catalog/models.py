"""Categories, products, product assignments and customers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, func,
                        literal_column)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import UTCDateTime, db


class Category(db.Model):
    """A product category; plans can give a category its own rate."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A short stable code (e.g. "office_supplies"): plans and CSV files refer to it.
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(default=True)


class Product(db.Model):
    """Something agents sell. Archived (inactive) products keep their history but cannot be sold."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("list_price_cents >= 1", name="list_price_positive"),
        # SKUs are unique whatever their case ("abc-1" and "ABC-1" are one product), in the database
        # too, so two admins saving them at the same moment cannot both succeed.
        Index("uq_products_sku_lower", func.lower(literal_column("sku")), unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    # Integer cents, 1 .. 10^13 (see webapp.money).
    list_price_cents: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(default=True)
    # When set, only agents assigned to the product may sell it (the seed's "assign products").
    restricted: Mapped[bool] = mapped_column(default=False)

    category: Mapped[Category] = relationship()


class ProductAssignment(db.Model):
    """An agent allowed to sell a restricted product."""

    __tablename__ = "product_assignments"
    __table_args__ = (UniqueConstraint("agent_id", "product_id", name="uq_product_assignments_agent_product"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)


class Customer(db.Model):
    """Someone a sale was made to (a record, not a login)."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    region: Mapped[str | None] = mapped_column(String(80))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
