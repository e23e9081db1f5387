"""The Sale record."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text,
                        UniqueConstraint, func)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import UTCDateTime, db, enum_check


class SaleStatus(StrEnum):
    """pending -> approved | rejected | cancelled; approved -> voided."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    VOIDED = "voided"


class Sale(db.Model):
    """One sale by one agent: quantity x unit price of a product to a customer on a date."""

    __tablename__ = "sales"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("unit_price_cents >= 1", name="unit_price_positive"),
        # The amount is derived, and the database refuses any row where it is not.
        CheckConstraint("amount_cents = quantity * unit_price_cents", name="amount_is_quantity_times_price"),
        enum_check("status", SaleStatus, name="status_known"),
        # A retried or double-clicked submission finds the sale it already made.
        UniqueConstraint("entered_by_id", "idempotency_key", name="uq_sales_entered_by_key"),
        Index("ix_sales_agent_sold_on", "agent_id", "sold_on"),
        Index("ix_sales_status_sold_on", "status", "sold_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    quantity: Mapped[int]
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    # A plain date in the installation's TIMEZONE; never a datetime.
    sold_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=SaleStatus.PENDING)
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )

    agent = relationship("User", foreign_keys=[agent_id])
    entered_by = relationship("User", foreign_keys=[entered_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
    product = relationship("Product")
    customer = relationship("Customer")
