"""A statement's figures, straight from the ledger: sale lines, SPIFF rewards, adjustments, payouts.

A line is the agent's credit of a sale (COMMISSION_RULES.md section 8): a split sale shows the
sale's amount, the agent's share and credited amount, and volume adds up credited amounts, so a
team's statements add up to its sales. Every line and adjustment carries the derivation the
ledger stored from the engine's own result. The snapshot refuses to exist unless it reconciles.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from webapp import clock
from webapp.auth.models import User
from webapp.commissions.ledger import period_summary
from webapp.commissions.models import CommissionEntry, EntryKind, Payout, Period
from webapp.commissions.periods import get_settings
from webapp.extensions import db
from webapp.money import units_to_rate
from webapp.plandocs.models import PlanDocument
from webapp.sales.models import FULL_SHARE, Sale, SaleCredit
from webapp.spiffs.models import Spiff
from webapp.statements.models import Statement, StatementKind
from webapp.statements.ordering import in_statement_order

# Lines that belong to their sale's date (the rest are adjustments, dated the day they were made).
LINE_KINDS = (EntryKind.SALE, EntryKind.SPIFF)


def _local_date(moment: datetime) -> date:
    """The installation-local date of a stored timestamp."""
    return moment.astimezone(clock.installation_zone()).date()


def _credits(agent_id: int, entries: list[CommissionEntry]) -> dict[int, tuple[int, int, int]]:
    """(credited cents, share units, position) of the agent's credit of each entry's sale, in one query."""
    sale_ids = sorted({e.sale_id for e in entries if e.sale_id is not None})
    credits = {}
    for start in range(0, len(sale_ids), 500):  # bounded IN lists (SQLite's variable limit)
        credits.update((row.sale_id, (row.credit_cents, row.share_units, row.position)) for row in db.session.execute(
            select(SaleCredit.sale_id, SaleCredit.credit_cents, SaleCredit.share_units, SaleCredit.position)
            .where(SaleCredit.agent_id == agent_id, SaleCredit.sale_id.in_(sale_ids[start:start + 500]))))
    return credits


def _spiff_names(entries: list[CommissionEntry]) -> dict[int, str]:
    """SPIFF names by id for the entries that name one."""
    ids = {e.spiff_id for e in entries if e.spiff_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Spiff.id, Spiff.name).where(Spiff.id.in_(ids))).all())


def _plan_documents(agent_id: int, entries: list[CommissionEntry]) -> dict[int, int | None]:
    """The number of the plan document each sale entry was earned under, by entry id (None: no document).

    That is the agent's document of the entry's plan version whose days contain the sale date; of
    several (an edited version's revisions), the newest revision. The agent's documents of these
    versions are read in one query (a handful per version) and matched here."""
    sales = [e for e in entries if e.kind == EntryKind.SALE and e.plan_version_id is not None]
    documents: dict[int, list] = {}
    if sales:
        for row in db.session.execute(
                select(PlanDocument.version_id, PlanDocument.effective_from, PlanDocument.effective_to,
                       PlanDocument.revision, PlanDocument.number)
                .where(PlanDocument.agent_id == agent_id,
                       PlanDocument.version_id.in_({e.plan_version_id for e in sales}))):
            documents.setdefault(row.version_id, []).append(row)
    found = {}
    for entry in sales:
        sold_on = entry.sale.sold_on
        governing = [d for d in documents.get(entry.plan_version_id, ())
                     if d.effective_from <= sold_on and (d.effective_to is None or sold_on <= d.effective_to)]
        found[entry.id] = max(governing, key=lambda d: (d.revision, d.number)).number if governing else None
    return found


def _line(entry: CommissionEntry, credit: tuple[int, int, int] | None, plan_document: int | None) -> dict:
    """A sale line: the sale, the agent's share, role and credited amount, the commission and its derivation,
    and the number of the plan document it was earned under."""
    sale = entry.sale
    credited, share_units, position = credit if credit is not None else (sale.amount_cents, FULL_SHARE, 0)
    return {"entry_id": entry.id, "sale_id": sale.id, "date": sale.sold_on.isoformat(),
            "product": sale.product.name, "sku": sale.product.sku, "customer": sale.customer.name,
            "quantity": sale.quantity, "amount_cents": sale.amount_cents, "credited_cents": credited,
            "share": f"{units_to_rate(share_units):f}", "split": share_units != FULL_SHARE,
            "role": "primary" if position == 0 else "co-agent",
            "rate_units": entry.rate_units, "commission_cents": entry.amount_cents, "derivation": entry.derivation,
            "plan_document": plan_document}


def _spiff_line(entry: CommissionEntry, names: dict[int, str], credit: tuple[int, int, int] | None) -> dict:
    """A SPIFF reward on one of the agent's sale credits (its share of a split sale; 0.00 when the cap
    was reached)."""
    sale = entry.sale
    share_units = credit[1] if credit is not None else FULL_SHARE
    return {"entry_id": entry.id, "sale_id": sale.id, "date": sale.sold_on.isoformat(), "product": sale.product.name,
            "quantity": sale.quantity, "spiff": names.get(entry.spiff_id, ""), "amount_cents": entry.amount_cents,
            "share": f"{units_to_rate(share_units):f}", "split": share_units != FULL_SHARE,
            "capped": bool((entry.derivation or {}).get("capped")), "derivation": entry.derivation}


def _adjustment(entry: CommissionEntry, names: dict[int, str]) -> dict:
    """An adjustment of a statement (system adjustment for a sale, or a manual correction)."""
    sale = entry.sale
    return {"entry_id": entry.id, "kind": entry.kind, "date": _local_date(entry.created_at).isoformat(),
            "sale_id": sale.id if sale else None, "sale_date": sale.sold_on.isoformat() if sale else None,
            "product": sale.product.name if sale else None, "reason": entry.reason or "",
            "late_approval": entry.late_approval, "spiff": names.get(entry.spiff_id),
            "amount_cents": entry.amount_cents, "derivation": entry.derivation}


def _payout(payout: Payout) -> dict:
    """A payout of a statement."""
    return {"id": payout.id, "date": payout.paid_on.isoformat(), "reference": payout.reference or "",
            "advance": payout.advance, "amount_cents": payout.amount_cents}


def _entries(query) -> list[CommissionEntry]:
    """Entries with their sale, product and customer loaded (the snapshot puts them in statement order)."""
    return list(db.session.scalars(
        query.options(joinedload(CommissionEntry.sale).joinedload(Sale.product),
                      joinedload(CommissionEntry.sale).joinedload(Sale.customer))
        .order_by(CommissionEntry.id)))


def _snapshot(agent: User, kind: str, start: date, end: date, entries: list[CommissionEntry], adjustments: list,
              payouts: list[Payout], opening: int, message: str | None, period_label: str | None) -> dict:
    """Assemble a statement's figures from its entries, lines in statement order (ordering.py)."""
    credits, names = _credits(agent.id, entries), _spiff_names(entries + adjustments)
    documents = _plan_documents(agent.id, entries)
    lines = [_line(e, credits.get(e.sale_id), documents.get(e.id)) for e in entries if e.kind == EntryKind.SALE]
    spiffs = [_spiff_line(e, names, credits.get(e.sale_id)) for e in entries if e.kind == EntryKind.SPIFF]
    adjusted_items = [_adjustment(e, names) for e in adjustments]
    earned = sum(line["commission_cents"] for line in lines)
    rewards = sum(item["amount_cents"] for item in spiffs)
    adjusted = sum(item["amount_cents"] for item in adjusted_items)
    paid = sum(p.amount_cents for p in payouts)
    total = earned + rewards + adjusted
    totals = {"volume": sum(line["credited_cents"] for line in lines), "earned": earned, "spiffs": rewards,
              "adjustments": adjusted, "total": total, "opening": opening, "payouts": paid,
              "closing": opening + total - paid}
    settings = get_settings()
    return in_statement_order({
        "company": settings.company_name, "currency": current_app.config["CURRENCY"],
        "agent": {"id": agent.id, "name": agent.name, "email": agent.email},
        "kind": kind, "start": start.isoformat(), "end": end.isoformat(), "period_label": period_label,
        "lines": lines, "spiffs": spiffs, "adjustments": adjusted_items, "payouts": [_payout(p) for p in payouts],
        "totals": totals, "message": message or None})


def _payouts(agent_id: int, start: date, end: date) -> list[Payout]:
    """The agent's payouts paid between start and end, in payment order."""
    return list(db.session.scalars(select(Payout).where(
        Payout.agent_id == agent_id, Payout.paid_on >= start, Payout.paid_on <= end)
        .order_by(Payout.paid_on, Payout.id)))


def period_snapshot(agent: User, period: Period, message: str | None = None) -> dict:
    """The figures of an agent's statement for a (closed) period, straight from its entries."""
    entries = _entries(select(CommissionEntry).where(CommissionEntry.agent_id == agent.id,
                                                     CommissionEntry.period_id == period.id))
    previous = db.session.scalar(
        select(Statement).where(Statement.agent_id == agent.id, Statement.kind == StatementKind.PERIOD,
                                Statement.end_date < period.start_date)
        .order_by(Statement.end_date.desc()).limit(1))
    # Opening = the previous statement's closing (0 for the first); the ledger must agree.
    ledger = period_summary(agent.id, period)
    opening = previous.snapshot["totals"]["closing"] if previous else ledger.opening
    snapshot = _snapshot(
        agent, StatementKind.PERIOD, period.start_date, period.end_date,
        [e for e in entries if e.kind in LINE_KINDS], [e for e in entries if e.kind not in LINE_KINDS],
        _payouts(agent.id, period.start_date, period.end_date), opening, message, period.label)
    if snapshot["totals"]["closing"] != ledger.closing:
        raise RuntimeError(f"statement for agent {agent.id}, {period.label} does not reconcile with the ledger")
    return snapshot


def adhoc_snapshot(agent: User, start: date, end: date, message: str | None = None) -> dict:
    """The figures for any date range: sale and SPIFF lines by sale date (every credit the agent
    holds, split sales too), adjustments by the day they were made, payouts by payment date;
    opening is everything before `start`."""
    zone_start = datetime.combine(start, time.min, clock.installation_zone())
    zone_end = datetime.combine(end + timedelta(days=1), time.min, clock.installation_zone())
    lines = _entries(select(CommissionEntry).join(Sale, CommissionEntry.sale_id == Sale.id).where(
        CommissionEntry.agent_id == agent.id, CommissionEntry.kind.in_(LINE_KINDS),
        Sale.sold_on >= start, Sale.sold_on <= end))
    adjustments = _entries(select(CommissionEntry).where(
        CommissionEntry.agent_id == agent.id, CommissionEntry.kind.not_in(LINE_KINDS),
        CommissionEntry.created_at >= zone_start, CommissionEntry.created_at < zone_end))
    earlier_lines = db.session.scalar(
        select(func.coalesce(func.sum(CommissionEntry.amount_cents), 0))
        .join(Sale, CommissionEntry.sale_id == Sale.id)
        .where(CommissionEntry.agent_id == agent.id, CommissionEntry.kind.in_(LINE_KINDS), Sale.sold_on < start))
    earlier_adjustments = db.session.scalar(
        select(func.coalesce(func.sum(CommissionEntry.amount_cents), 0))
        .where(CommissionEntry.agent_id == agent.id, CommissionEntry.kind.not_in(LINE_KINDS),
               CommissionEntry.created_at < zone_start))
    earlier_payouts = db.session.scalar(
        select(func.coalesce(func.sum(Payout.amount_cents), 0))
        .where(Payout.agent_id == agent.id, Payout.paid_on < start))
    opening = int(earlier_lines) + int(earlier_adjustments) - int(earlier_payouts)
    return _snapshot(agent, StatementKind.ADHOC, start, end, lines, adjustments, _payouts(agent.id, start, end),
                     opening, message, None)
