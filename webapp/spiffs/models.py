"""SPIFFs and their versions (COMMISSION_RULES.md section 10).

A SPIFF is a name; what it pays lives in its versions. A SPIFF that has paid anything is never
edited in place: a change is a new version, effective from a date, and a sale takes the version in
force on its `sold_on`. Versions of one SPIFF share one cap count per holder and month.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, BigInteger, CheckConstraint, Column, Date, ForeignKey, Index, String, Table,
                        UniqueConstraint, func, literal_column)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import UTCDateTime, db

# Eligibility of a version: products, categories (a sale matches either) and, optionally, teams
# (a team is one manager's agents; a holder's team is the one recorded on their credit).
spiff_version_products = Table(
    "spiff_version_products", db.metadata,
    Column("version_id", ForeignKey("spiff_versions.id"), primary_key=True),
    Column("product_id", ForeignKey("products.id"), primary_key=True),
)
spiff_version_categories = Table(
    "spiff_version_categories", db.metadata,
    Column("version_id", ForeignKey("spiff_versions.id"), primary_key=True),
    Column("category_id", ForeignKey("categories.id"), primary_key=True),
)
spiff_version_teams = Table(
    "spiff_version_teams", db.metadata,
    Column("version_id", ForeignKey("spiff_versions.id"), primary_key=True),
    Column("manager_id", ForeignKey("users.id"), primary_key=True),
)


class Spiff(db.Model):
    """A SPIFF: a unique name; the rules are in its versions."""

    __tablename__ = "spiffs"
    # Names are unique whatever their case, as the service checks, in the database too: two admins
    # creating "Push" and "push" at the same moment cannot both succeed.
    __table_args__ = (Index("uq_spiffs_name_lower", func.lower(literal_column("name")), unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())

    versions: Mapped[list[SpiffVersion]] = relationship(
        back_populates="spiff", order_by="SpiffVersion.effective_from", cascade="all, delete-orphan")


class SpiffVersion(db.Model):
    """What a SPIFF pays for sales dated from `effective_from` until the next version's date."""

    __tablename__ = "spiff_versions"
    __table_args__ = (
        UniqueConstraint("spiff_id", "effective_from", name="uq_spiff_versions_spiff_effective_from"),
        CheckConstraint("last_day >= first_day", name="days_in_order"),
        # Exactly one reward: a fixed amount per unit (>= 0.01) or a percent of the amount (0..100).
        CheckConstraint("(per_unit_cents IS NULL) <> (percent_units IS NULL)", name="one_reward_kind"),
        CheckConstraint("per_unit_cents >= 1", name="per_unit_positive"),
        CheckConstraint("percent_units BETWEEN 0 AND 1000000", name="percent_range"),
        CheckConstraint("cap_cents >= 1", name="cap_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    spiff_id: Mapped[int] = mapped_column(ForeignKey("spiffs.id"), index=True)
    version: Mapped[int]
    effective_from: Mapped[date] = mapped_column(Date)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    per_unit_cents: Mapped[int | None] = mapped_column(BigInteger)
    # Ten-thousandths of a percent, like plan rates (2% = 20000).
    percent_units: Mapped[int | None]
    # Per holder and calendar month of sold_on; None: no cap.
    cap_cents: Mapped[int | None] = mapped_column(BigInteger)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())

    spiff: Mapped[Spiff] = relationship(back_populates="versions")
    products = relationship("Product", secondary=spiff_version_products, order_by="Product.name")
    categories = relationship("Category", secondary=spiff_version_categories, order_by="Category.name")
    teams = relationship("User", secondary=spiff_version_teams, order_by="User.name")


class RecomputeStatus:
    """Where a background recompute stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class SpiffRecompute(db.Model):
    """The holder-months a SPIFF change touched, when too many to recompute inside the request.

    The pairs are stored, not re-derived, so the job (and a retry of it) recomputes exactly what the
    change touched; `done` counts the pairs already recomputed and committed, so a retry resumes.
    Recomputing a holder-month is idempotent, so doing one twice is harmless.
    """

    __tablename__ = "spiff_recomputes"
    __table_args__ = (CheckConstraint("done >= 0 AND done <= total", name="done_within_total"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    spiff_id: Mapped[int] = mapped_column(ForeignKey("spiffs.id"), index=True)
    # [[holder id, "YYYY-MM-01"], ...] in holder id order (the order the job locks them in).
    pairs: Mapped[list] = mapped_column(JSON)
    total: Mapped[int]
    done: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default=RecomputeStatus.QUEUED)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    # When the run was last queued or made progress (set by the job at each committed batch): a
    # queued or running run unchanged for long lost its job or its worker, and the sweep requeues it.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    spiff: Mapped[Spiff] = relationship()

    @property
    def finished(self) -> bool:
        """True once every pair is recomputed (or the run failed for good)."""
        return self.status in (RecomputeStatus.DONE, RecomputeStatus.FAILED)

    @property
    def percent(self) -> int:
        """Whole percent of the pairs done (100 for an empty run)."""
        return 100 if not self.total else self.done * 100 // self.total
