"""Plans, assignments, targets, settings, periods, the ledger and payouts."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text,
                        UniqueConstraint, func)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import UTCDateTime, db, enum_check

# Rates are stored as integer ten-thousandths of a percent (3% = 30000, 100% = 1_000_000).
RATE_RANGE = "BETWEEN 0 AND 1000000"


class Settings(db.Model):
    """Installation-wide settings, one row (id = 1)."""

    __tablename__ = "settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("period_cadence IN ('semi_monthly', 'monthly')", name="cadence_known"),
        CheckConstraint("grace_hours BETWEEN 0 AND 720", name="grace_range"),
        CheckConstraint("reminder_days BETWEEN 0 AND 365", name="reminder_range"),
        CheckConstraint("statement_requests_per_hour BETWEEN 1 AND 100", name="statement_requests_range"),
        CheckConstraint("plan_reminder_days BETWEEN 0 AND 365", name="plan_reminder_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    company_name: Mapped[str] = mapped_column(String(120), default="Sales Tracking")
    approval_required: Mapped[bool] = mapped_column(default=True)
    period_cadence: Mapped[str] = mapped_column(String(16), default="semi_monthly")
    # How long after a period ends its statement run starts (late sales still get recorded).
    grace_hours: Mapped[int] = mapped_column(default=48)
    # The last statement number issued; incremented under the row lock, so numbers have no gaps.
    last_statement_number: Mapped[int] = mapped_column(default=0, server_default="0")
    # Every how many days an agent with an unpaid stated balance is reminded of it (0: never).
    reminder_days: Mapped[int] = mapped_column(default=15, server_default="15")
    # Statements on request each person may ask for in any hour (a manager's send counts once):
    # each one is a render, an email and a statement number.
    statement_requests_per_hour: Mapped[int] = mapped_column(default=5, server_default="5")
    # The last plan document number issued (gap-free, like statement numbers).
    last_plan_document_number: Mapped[int] = mapped_column(default=0, server_default="0")
    # Every how many days an agent is reminded of a plan document they have not acknowledged (0: never).
    plan_reminder_days: Mapped[int] = mapped_column(default=7, server_default="7")


class CommissionPlan(db.Model):
    """A named plan; what it pays is in its versions, each effective from a date."""

    __tablename__ = "commission_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)

    versions: Mapped[list[PlanVersion]] = relationship(
        back_populates="plan", order_by="PlanVersion.effective_from"
    )


class PlanVersion(db.Model):
    """The rules of a plan from `effective_from` until the next version's date.

    A version that has earned commission is never edited: changes are a new version.
    """

    __tablename__ = "plan_versions"
    __table_args__ = (
        UniqueConstraint("plan_id", "version", name="uq_plan_versions_plan_version"),
        UniqueConstraint("plan_id", "effective_from", name="uq_plan_versions_plan_effective_from"),
        CheckConstraint(f"base_rate_units IS NULL OR base_rate_units {RATE_RANGE}", name="base_rate_range"),
        CheckConstraint("tier_mode IS NULL OR tier_mode IN ('marginal', 'retroactive')", name="tier_mode_known"),
        # Exactly one of: a base rate, or a tier table (which needs a mode).
        CheckConstraint(
            "(base_rate_units IS NOT NULL AND tier_mode IS NULL)"
            " OR (base_rate_units IS NULL AND tier_mode IS NOT NULL)",
            name="base_rate_xor_tiers",
        ),
        # A tier table has a basis; a base-rate plan has none.
        CheckConstraint(
            "(tier_mode IS NULL AND basis IS NULL) OR (tier_mode IS NOT NULL AND basis IS NOT NULL)",
            name="basis_with_tiers",
        ),
        CheckConstraint("basis IS NULL OR basis IN ('amount', 'target_percent')", name="basis_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("commission_plans.id"), index=True)
    version: Mapped[int]
    effective_from: Mapped[date] = mapped_column(Date)
    base_rate_units: Mapped[int | None]
    tier_mode: Mapped[str | None] = mapped_column(String(16))
    # A tier table's basis (engine TierBasis: amount or target_percent); None for a base rate.
    basis: Mapped[str | None] = mapped_column(String(16))
    # The admin's own section of the plan document (terms, draws, clawback policy): plain text.
    terms: Mapped[str | None] = mapped_column(Text)
    # Raised when an unearned version is edited: its agents get a new document revision to read.
    document_revision: Mapped[int] = mapped_column(default=1, server_default="1")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())

    plan: Mapped[CommissionPlan] = relationship(back_populates="versions")
    # One version's tiers all use one column (its basis), so ordering by both is by the one in use.
    tiers: Mapped[list[PlanTier]] = relationship(
        order_by=lambda: (PlanTier.from_cents, PlanTier.from_percent_units), cascade="all, delete-orphan"
    )
    overrides: Mapped[list[PlanOverride]] = relationship(cascade="all, delete-orphan")


class PlanTier(db.Model):
    """A bracket of a tier table: from this month-volume (amount basis) or this percent of the
    month's target (target_percent basis) on, this rate."""

    __tablename__ = "plan_tiers"
    __table_args__ = (
        UniqueConstraint("version_id", "from_cents", name="uq_plan_tiers_version_from"),
        UniqueConstraint("version_id", "from_percent_units", name="uq_plan_tiers_version_from_percent"),
        CheckConstraint("from_cents >= 0", name="from_not_negative"),
        CheckConstraint("from_percent_units >= 0", name="from_percent_not_negative"),
        CheckConstraint("(from_cents IS NULL) <> (from_percent_units IS NULL)",
                        name="from_cents_xor_percent"),
        CheckConstraint(f"rate_units {RATE_RANGE}", name="rate_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"), index=True)
    from_cents: Mapped[int | None] = mapped_column(BigInteger)
    # Percent of the target in ten-thousandths (150% = 1_500_000); no upper limit.
    from_percent_units: Mapped[int | None] = mapped_column(BigInteger)
    rate_units: Mapped[int]


class PlanOverride(db.Model):
    """A rate for one category or one product, beating the plan's rate (product beats category)."""

    __tablename__ = "plan_overrides"
    __table_args__ = (
        CheckConstraint(
            "(category_id IS NOT NULL AND product_id IS NULL) OR (category_id IS NULL AND product_id IS NOT NULL)",
            name="category_xor_product",
        ),
        UniqueConstraint("version_id", "category_id", "product_id", name="uq_plan_overrides_target"),
        CheckConstraint(f"rate_units {RATE_RANGE}", name="rate_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    rate_units: Mapped[int]

    category = relationship("Category")
    product = relationship("Product")


class PlanAssignment(db.Model):
    """An agent is on a plan from `effective_from` to `effective_to` (inclusive; open-ended if null).

    Assignments of one agent never overlap: the service checks under the agent lock, and on
    PostgreSQL an exclusion constraint (see the migration) refuses overlaps too.
    """

    __tablename__ = "plan_assignments"
    __table_args__ = (
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="dates_ordered"),
        Index("ix_plan_assignments_agent_from", "agent_id", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("commission_plans.id"), index=True)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)

    plan: Mapped[CommissionPlan] = relationship()
    agent = relationship("User")


class Target(db.Model):
    """An agent's sales-volume target for a calendar month."""

    __tablename__ = "targets"
    __table_args__ = (
        UniqueConstraint("agent_id", "month", name="uq_targets_agent_month"),
        CheckConstraint("amount_cents >= 1", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Always the first day of the month.
    month: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class PeriodStatus(StrEnum):
    """open -> closed (final: a closed period's entries never change)."""

    OPEN = "open"
    CLOSED = "closed"


class Period(db.Model):
    """A statement period. Open until its statement run closes it; closed periods are frozen."""

    __tablename__ = "periods"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        enum_check("status", PeriodStatus, name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    start_date: Mapped[date] = mapped_column(Date, unique=True)
    end_date: Mapped[date] = mapped_column(Date, unique=True)
    status: Mapped[str] = mapped_column(String(8), default=PeriodStatus.OPEN)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # True once each agent's total of this closed period is kept in agent_period_totals (written
    # by close_period); the balances then read those totals instead of the period's entries.
    totals_kept: Mapped[bool] = mapped_column(default=False, server_default="0")

    @property
    def is_open(self) -> bool:
        """True while entries of this period may still change."""
        return self.status == PeriodStatus.OPEN

    @property
    def label(self) -> str:
        """A readable name, e.g. 'Nov 1–15, 2026'."""
        if self.start_date.month == self.end_date.month:
            return f"{self.start_date:%b} {self.start_date.day}–{self.end_date.day}, {self.start_date.year}"
        return f"{self.start_date:%b %d, %Y} – {self.end_date:%b %d, %Y}"


class EntryKind(StrEnum):
    """Ledger entry kinds."""

    SALE = "sale"              # the commission line of an approved sale, in its own period
    ADJUSTMENT = "adjustment"  # system difference for a sale whose line is in a closed period
    MANUAL = "manual"          # a manager's correction or an accepted dispute; never recomputed
    SPIFF = "spiff"            # the reward of one SPIFF on one holder's credit of an approved sale


# How every page names a ledger entry's kind (the `entry_kind` template filter).
ENTRY_KIND_LABELS = {EntryKind.SALE: "Commission", EntryKind.ADJUSTMENT: "Adjustment",
                     EntryKind.MANUAL: "Manual correction", EntryKind.SPIFF: "SPIFF reward"}


class CommissionEntry(db.Model):
    """The ledger: one row per sale commission line or adjustment, in the period it belongs to."""

    __tablename__ = "commission_entries"
    __table_args__ = (
        enum_check("kind", EntryKind, name="kind_known"),
        CheckConstraint("kind = 'manual' OR sale_id IS NOT NULL", name="system_entries_have_sale"),
        # A spiff line names its SPIFF; a commission line never does (adjustments may: a SPIFF's).
        CheckConstraint("kind <> 'spiff' OR spiff_id IS NOT NULL", name="spiff_entries_have_spiff"),
        CheckConstraint("kind <> 'sale' OR spiff_id IS NULL", name="sale_entries_have_no_spiff"),
        # The amount rides along (PostgreSQL only): balances sum an agent's entries by period from
        # the index alone, without reading the rows and their derivations (migration 0021).
        Index("ix_commission_entries_agent_period", "agent_id", "period_id", postgresql_include=["amount_cents"]),
        Index("ix_commission_entries_sale", "sale_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"))
    # Signed cents: clawbacks and reversals are negative.
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    # The effective rate applied to the sale, in ten-thousandths of a percent.
    rate_units: Mapped[int | None]
    plan_version_id: Mapped[int | None] = mapped_column(ForeignKey("plan_versions.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    # A system adjustment carrying the whole commission of a sale approved after its period closed
    # (it has no line in a closed period); the statement marks it "Late approval".
    late_approval: Mapped[bool] = mapped_column(default=False, server_default="0")
    # The SPIFF a spiff line (or a SPIFF's system adjustment) is for; None for commission entries.
    spiff_id: Mapped[int | None] = mapped_column(ForeignKey("spiffs.id"), index=True)
    spiff_version_id: Mapped[int | None] = mapped_column(ForeignKey("spiff_versions.id"))
    # How the engine worked the figure out (its own result, as JSON), shown beside every line.
    derivation: Mapped[dict | None] = mapped_column(JSON)
    # derivation_digest of it: a recompute compares these instead of decoding every derivation.
    derivation_digest: Mapped[str | None] = mapped_column(String(32))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )

    period: Mapped[Period] = relationship()
    sale = relationship("Sale")
    agent = relationship("User", foreign_keys=[agent_id])
    spiff = relationship("Spiff")


class AgentPeriodTotal(db.Model):
    """An agent's entries of one closed period, summed once when it closed (a closed period's
    entries never change: periods.hold_open makes a close wait for writes into it). Balances over
    many agents and periods read these instead of every entry; see commissions/balances.py."""

    __tablename__ = "agent_period_totals"

    # No foreign key to users: its check takes a KEY SHARE lock on each agent's row while the close
    # holds the period, and a ledger write locks the agent and then waits for the period (under
    # FOR UPDATE that deadlocked; ledger.lock_agents now takes FOR NO KEY UPDATE, and this does
    # not depend on it). Users are never deleted, and the ids come from commission_entries.
    agent_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), primary_key=True, index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class Payout(db.Model):
    """Money paid to an agent. Never deleted: a reversal is a counter-entry pointing at it."""

    __tablename__ = "payouts"
    __table_args__ = (
        CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
        CheckConstraint(
            "(reverses_id IS NULL AND amount_cents > 0) OR (reverses_id IS NOT NULL AND amount_cents < 0)",
            name="sign_matches_kind",
        ),
        UniqueConstraint("reverses_id", name="uq_payouts_reverses_id"),
        Index("ix_payouts_agent_paid_on", "agent_id", "paid_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    paid_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(120))
    # An advance may exceed the unpaid balance; later commission repays it.
    advance: Mapped[bool] = mapped_column(default=False)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
