"""The Sale record, and the uploaded files waiting for their import."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, LargeBinary, String, Text,
                        UniqueConstraint, func, text)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

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
        # The API's sale list: each sort it offers, and updated_since, walk an index by keyset.
        Index("ix_sales_sold_on_id", "sold_on", "id"),
        Index("ix_sales_amount_id", "amount_cents", "id"),
        Index("ix_sales_updated_at_id", "updated_at", "id"),
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
    # Every sale has its credits: one primary (the agent above, 100% when unsplit) and up to four
    # co-agents (COMMISSION_RULES.md section 8).
    credits: Mapped[list[SaleCredit]] = relationship(
        back_populates="sale", order_by="SaleCredit.position", cascade="all, delete-orphan")
    decided_by = relationship("User", foreign_keys=[decided_by_id])
    product = relationship("Product")
    customer = relationship("Customer")


# Shares are stored like rates: integer ten-thousandths of a percent (100% = 1_000_000).
FULL_SHARE = 1_000_000
MAX_CO_AGENTS = 4


class SaleCredit(db.Model):
    """One holder's share of a sale: position 0 is the primary (the sale's agent), 1-4 co-agents.

    `credit_cents` is the holder's credited amount, allocated from the sale's amount by the engine
    (co-agents rounded down, the primary takes the rest) whenever the amount or the shares change.
    `team_id` is the holder's manager when the credit was recorded (SPIFFs restricted to teams).
    """

    __tablename__ = "sale_credits"
    __table_args__ = (
        UniqueConstraint("sale_id", "agent_id", name="uq_sale_credits_sale_agent"),
        UniqueConstraint("sale_id", "position", name="uq_sale_credits_sale_position"),
        CheckConstraint(f"position BETWEEN 0 AND {MAX_CO_AGENTS}", name="position_range"),
        CheckConstraint(f"share_units BETWEEN 1 AND {FULL_SHARE}", name="share_range"),
        CheckConstraint("credit_cents >= 0", name="credit_not_negative"),
        Index("ix_sale_credits_agent_sale", "agent_id", "sale_id"),
        # Co-agent credits only (see webapp/commissions/held.py): an agent's sales of a month are found
        # from the sales' own index plus this small one.
        Index("ix_sale_credits_co_held", "agent_id", "sale_id", postgresql_where=text("position > 0"),
              sqlite_where=text("position > 0")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    position: Mapped[int]
    share_units: Mapped[int]
    credit_cents: Mapped[int] = mapped_column(BigInteger)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    sale: Mapped[Sale] = relationship(back_populates="credits")
    agent = relationship("User", foreign_keys=[agent_id])

    @property
    def is_primary(self) -> bool:
        """The primary holds position 0: the agent the sale is recorded for."""
        return self.position == 0


class ImportUpload(db.Model):
    """A file uploaded for import, kept between its preview and its confirmation.

    In the database, not on a web host's disk: behind a load balancer the confirmation may reach
    another host than the upload did. The client only holds `token`; every lookup is scoped to
    `owner_id`, so another user's token is not found. The row is deleted in the import's own
    transaction, and an hourly job deletes those left unconfirmed for a day.
    """

    __tablename__ = "import_uploads"
    __table_args__ = (Index("ix_import_uploads_owner_created", "owner_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # what the file imports ("sales")
    filename: Mapped[str] = mapped_column(String(120))
    meta: Mapped[dict] = mapped_column(JSON)  # size and sha256 of the content
    # Deferred: the cap and the sweep look at rows without loading files of up to 5 MB.
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
