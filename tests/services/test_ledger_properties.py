"""Random sequences of sales, decisions, plan changes, closes and payouts keep the ledger exact.

Each hypothesis example builds 2-3 agents on flat / marginal / retroactive / attainment plans (with
category and product overrides, mid-quarter plan changes and gaps without a plan), two SPIFFs (per
unit or percent, with or without a cap, one maybe for one team only), and replays a drawn list of
operations through the services, October to December 2026, with time only moving forward: sales
split between holders with random shares, targets set, changed and removed, SPIFFs ended early,
besides decisions, closes and payouts. After EVERY step it checks, against an oracle that resolves
plans, credits, targets and SPIFFs from its own model and runs the pure engine (never the ledger's
own loaders):

(a) the month invariant, per holder (COMMISSION_RULES.md sections 5, 8 and 10): each holder's system
    entries for a sale add up to the engine's figure for their credit in their month, and their
    entries for each (sale, SPIFF) to the engine's reward;
(b) every closed period's entries and payouts are unchanged since it closed;
(c) period_summary matches the raw rows and chains: closing = opening + total - payouts, and the
    closing of one period is the opening of the next;
(d) agent_balance: unpaid = all entries - all payouts (stated and running split by period status).

Each example runs inside a savepoint that is rolled back at its end (the per-test rollback of
conftest is function-scoped; hypothesis runs many examples per test function).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from webapp.commissions import engine, ledger
from webapp.commissions.models import CommissionEntry, CommissionPlan, EntryKind, Payout, Period
from webapp.commissions.payouts import record_payout, reverse_payout
from webapp.commissions.targets import remove_target, set_target
from webapp.commissions.periods import close_period, get_settings, period_for
from webapp.commissions.assignments import assign_plan
from webapp.commissions.plan_versions import add_version
from webapp.commissions.plans import PlanRules, create_plan
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.money import from_cents, rate_to_units, to_cents
from webapp.sales.checks import CoAgentInput
from webapp.sales.models import Sale
from webapp.sales.services import (SaleInput, approve_sale, cancel_sale, create_sale, reject_sale,
                                   update_sale, void_sale)
from webapp.spiffs.models import Spiff
from webapp.spiffs.services import SpiffRules, create_spiff, end_early

FIRST_DAY = date(2026, 10, 1)
LAST_SALE_DAY = date(2026, 12, 31)
# Time may run a few days into January so the last December period can close.
LAST_TODAY = date(2027, 1, 4)
ONE_DAY = timedelta(days=1)

# Plan rules as the oracle sees them. Awkward rates (four decimals) make rounding matter; the
# brackets sit where a few sales of an agent-month cross them.
SPECS = {
    "flat": {"base_rate": "3.125"},
    "flat2": {"base_rate": "4.3333"},
    "marginal": {"tiers": [("0", "2.5"), ("4000", "4.3333"), ("9000", "6.75")], "tier_mode": "marginal"},
    "marginal2": {"tiers": [("0", "1"), ("2500", "5.0625")], "tier_mode": "marginal"},
    "retroactive": {"tiers": [("0", "2"), ("5000", "3.5"), ("12000", "5.0625")], "tier_mode": "retroactive"},
    "retroactive2": {"tiers": [("0", "3"), ("3000", "7.1111")], "tier_mode": "retroactive"},
    # Attainment brackets start at percents of the month's target (none set: the first bracket).
    "attain": {"tiers": [("0", "2"), ("50", "4.125"), ("100", "6.5")], "tier_mode": "retroactive",
               "basis": "target_percent"},
    "attain2": {"tiers": [("0", "1.5"), ("80", "5.0625")], "tier_mode": "marginal", "basis": "target_percent"},
}
KINDS = ("flat", "marginal", "retroactive", "attain")
# Targets drawn for the attainment plans (cents), small enough for a few sales to cross brackets.
TARGETS = (100_000, 500_000, 1_234_567, 2_000_000)
# A co-agent's share of a split sale: awkward ones make the round-down allocation matter.
SHARES = ("40", "33.3334", "50", "0.0001", "99.9999", "12.5")
# Category B has its own rate; product 2 (in category B) has a product rate that beats it.
CATEGORY_B_RATE = "7.77"
PRODUCT_2_RATE = "1.1"
PRODUCTS = ((0, "a"), (1, "b"), (2, "b"))  # (index, category)

# The plan versions will be picked by index in the sequences.
SPEC_NAMES = tuple(SPECS)

# -------------------------------------------------------------------------------------------------
# Strategies


@st.composite
def agent_setups(draw):
    """Per agent: the plan kind, and optionally a change to another plan on a date (maybe with a gap)."""
    first = draw(st.sampled_from(KINDS))
    change = draw(st.one_of(st.none(), st.integers(1, 90)))  # days after Oct 1
    second = draw(st.sampled_from(KINDS))
    gap = draw(st.sampled_from([0, 0, 0, 3]))  # days with no plan at all between the two
    return first, change, second, gap


prices = st.one_of(st.integers(1, 999), st.integers(1_000, 600_000), st.sampled_from([100_000, 250_000, 400_000]))

PARAMETERS = {
    "create": st.tuples(st.just("create"), st.integers(0, 2), st.integers(0, 400), prices, st.integers(1, 3),
                        st.integers(0, 2), st.sampled_from([False, False, True])),
    "sale": st.tuples(st.just("sale"), st.integers(0, 2), st.integers(0, 400), prices, st.integers(1, 3),
                      st.integers(0, 2), st.booleans()),
    "approve": st.tuples(st.just("approve"), st.integers(0, 50), st.sampled_from([False, False, True])),
    "wait": st.tuples(st.just("wait"), st.integers(1, 12)),
    "close": st.tuples(st.just("close"), st.integers(0, 3)),
    "reject": st.tuples(st.just("reject"), st.integers(0, 50)),
    "cancel": st.tuples(st.just("cancel"), st.integers(0, 50)),
    "edit": st.tuples(st.just("edit"), st.integers(0, 50), prices, st.integers(1, 3), st.integers(0, 400)),
    "void": st.tuples(st.just("void"), st.integers(0, 50), st.booleans()),
    "payout": st.tuples(st.just("payout"), st.integers(0, 2), st.integers(1, 1500), st.booleans(),
                        st.integers(0, 400)),
    "version": st.tuples(st.just("version"), st.integers(0, len(KINDS) - 1), st.integers(0, 400),
                         st.integers(0, len(SPECS) - 1)),
    "reverse": st.tuples(st.just("reverse"), st.integers(0, 2), st.integers(0, 50)),
    "cadence": st.tuples(st.just("cadence")),
    "split": st.tuples(st.just("split"), st.integers(0, 50), st.integers(0, 5), st.sampled_from(SHARES),
                       st.sampled_from(SHARES), st.booleans()),
    "target": st.tuples(st.just("target"), st.integers(0, 2), st.integers(0, 2),
                        st.one_of(st.none(), st.sampled_from(TARGETS))),
    "end_spiff": st.tuples(st.just("end_spiff"), st.integers(0, 1), st.integers(0, 400)),
}
# Weights: sales and approvals are what the ledger is about; time must pass for periods to close.
WEIGHTED = (["create"] * 4 + ["sale"] * 4 + ["approve"] * 4 + ["wait"] * 3 + ["close"] * 3 + ["void"] * 3
            + ["payout"] * 2 + ["version"] * 2 + ["split"] * 3 + ["target"] * 2
            + ["reject", "cancel", "edit", "reverse", "cadence", "end_spiff"])
operations = st.sampled_from(WEIGHTED).flatmap(PARAMETERS.__getitem__)

# -------------------------------------------------------------------------------------------------
# The model the oracle works from


@dataclass
class ModelSale:
    """What the test believes about one sale."""

    id: int
    agent: int
    product: int
    amount_cents: int
    sold_on: date
    status: str
    entered_by_id: int
    quantity: int = 1
    unit_price_cents: int = 0
    co_agents: tuple = ()  # ((agent index, share text), ...) of a split sale

    @property
    def holders(self) -> list[tuple[int, Decimal]]:
        """(agent index, share) of every holder, the primary first (100% when not split)."""
        co = [(agent, Decimal(share)) for agent, share in self.co_agents]
        return [(self.agent, Decimal(100) - sum((share for _, share in co), Decimal(0)))] + co

    def credits_cents(self) -> list[int]:
        """Each holder's credited cents, allocated as the engine does (co-agents rounded down)."""
        if not self.co_agents:
            return [self.amount_cents]
        return [to_cents(c) for c in engine.split_credit(from_cents(self.amount_cents),
                                                          [share for _, share in self.holders])]


@dataclass
class World:
    """Everything one example created, and the test's own view of it."""

    agents: list
    admin: object
    customer_id: int
    products: list
    category_codes: dict
    plans: list                                   # CommissionPlan per kind index
    overrides: list                               # bool per plan: does it carry the overrides
    versions: dict = field(default_factory=dict)  # plan index -> [(effective_from, engine.Plan)]
    assignments: dict = field(default_factory=dict)  # agent index -> [(from, to, plan index)]
    sales: dict = field(default_factory=dict)     # sale id -> ModelSale
    closed_end: date | None = None                # end of the closed prefix
    snapshots: dict = field(default_factory=dict)  # period id -> frozen rows at close
    today: date = FIRST_DAY
    targets: dict = field(default_factory=dict)   # (agent index, month) -> cents
    spiffs: list = field(default_factory=list)    # [stored Spiff id, engine.Spiff] per SPIFF


def engine_plan_of(spec_name: str, with_overrides: bool, world: World) -> engine.Plan:
    """The oracle's engine plan for a spec (overrides keyed by category code and sku)."""
    spec = SPECS[spec_name]
    overrides = {}
    if with_overrides:
        overrides = {"category_rates": {world.category_codes["b"]: Decimal(CATEGORY_B_RATE)},
                     "product_rates": {world.products[2].sku: Decimal(PRODUCT_2_RATE)}}
    return engine.Plan(
        base_rate=Decimal(spec["base_rate"]) if "base_rate" in spec else None,
        tiers=tuple((Decimal(f), Decimal(r)) for f, r in spec.get("tiers", ())),
        tier_mode=spec.get("tier_mode"), basis=spec.get("basis", "amount") if "tiers" in spec else None,
        **overrides)


def rules_of(spec_name: str, with_overrides: bool, world: World) -> PlanRules:
    """The same spec as PlanRules for the plan service (overrides keyed by ids)."""
    spec = SPECS[spec_name]
    category_rates, product_rates = {}, {}
    if with_overrides:
        category_rates = {world.products[1].category_id: Decimal(CATEGORY_B_RATE)}
        product_rates = {world.products[2].id: Decimal(PRODUCT_2_RATE)}
    return PlanRules(
        base_rate=Decimal(spec["base_rate"]) if "base_rate" in spec else None,
        tiers=[(Decimal(f), Decimal(r)) for f, r in spec.get("tiers", ())],
        tier_mode=spec.get("tier_mode"), category_rates=category_rates, product_rates=product_rates,
        basis=spec.get("basis", "amount"))


def oracle_plan(world: World, agent: int, day: date) -> engine.Plan | None:
    """The plan in force for an agent on a date, from the test's own model."""
    for start, end, plan_index in world.assignments[agent]:
        if start <= day and (end is None or day <= end):
            in_force = [p for since, p in world.versions[plan_index] if since <= day]
            return in_force[-1] if in_force else None
    return None


def oracle(world: World) -> dict[tuple[int, int], engine.LineResult]:
    """A fresh engine computation of every holder-month of approved sales, by (sale id, holder index)."""
    months: dict[tuple[int, date], list[engine.SaleLine]] = defaultdict(list)
    for sale in world.sales.values():
        if sale.status != "approved":
            continue
        product = world.products[sale.product]
        holders = sale.holders
        shares = tuple(share for _, share in holders) if sale.co_agents else ()
        for position, (holder, _) in enumerate(holders):
            months[(holder, sale.sold_on.replace(day=1))].append(engine.SaleLine(
                id=sale.id, date=sale.sold_on, amount=from_cents(sale.amount_cents), sku=product.sku,
                category=world.category_codes[PRODUCTS[sale.product][1]],
                plan=oracle_plan(world, holder, sale.sold_on), quantity=sale.quantity, shares=shares,
                holder=position, team=str(world.agents[holder].manager_id)))
    results = {}
    for (holder, month), lines in months.items():
        target = world.targets.get((holder, month))
        computed = engine.compute_month(lines, target=from_cents(target) if target else None,
                                        spiffs=[rule for _, rule in world.spiffs])
        results.update(((sale_id, holder), result) for sale_id, result in computed.items())
    return results

# -------------------------------------------------------------------------------------------------
# Checks after every step


def _rows():
    """Every ledger entry and payout, read as plain rows (never from the identity map)."""
    db.session.flush()
    entries = db.session.execute(select(CommissionEntry.__table__)).mappings().all()
    payouts = db.session.execute(select(Payout.__table__)).mappings().all()
    periods = db.session.scalars(select(Period).order_by(Period.start_date)).all()
    return entries, payouts, periods


def _frozen(period: Period, entries, payouts) -> frozenset:
    """A closed period's rows, every column, for byte-for-byte comparison later."""
    # The stored derivation is a JSON dict: compare it by its canonical text.
    mine = [tuple(sorted((k, json.dumps(v, sort_keys=True) if isinstance(v, dict) else v) for k, v in e.items()))
            for e in entries if e["period_id"] == period.id]
    paid = [tuple(sorted(p.items())) for p in payouts if period.start_date <= p["paid_on"] <= period.end_date]
    return frozenset(mine), frozenset(paid)


def check(world: World, closed_now: Period | None = None) -> None:
    """The four properties (a)-(d), plus the model's statuses matching the database."""
    entries, payouts, periods = _rows()
    agent_ids = {a.id for a in world.agents}
    period_by_id = {p.id: p for p in periods}

    statuses = dict(db.session.execute(select(Sale.id, Sale.status).where(Sale.agent_id.in_(agent_ids))).all())
    assert statuses == {s.id: s.status for s in world.sales.values()}

    # (a) month invariant per holder, and the shape of each (sale, holder, SPIFF)'s entries.
    expected = oracle(world)
    index_of = {a.id: i for i, a in enumerate(world.agents)}
    spiff_names = {spiff_id: rule.name for spiff_id, rule in world.spiffs}
    by_key = defaultdict(list)
    for entry in entries:
        assert entry["kind"] != EntryKind.MANUAL
        by_key[(entry["sale_id"], index_of[entry["agent_id"]], entry["spiff_id"])].append(entry)
    keys = {(sale.id, holder, spiff_id) for sale in world.sales.values() for holder, _ in sale.holders
            for spiff_id in (None, *spiff_names)}
    assert set(by_key) <= keys, "entries only for a sale's holders and the SPIFFs"
    for key in sorted(keys, key=lambda k: (k[0], k[1], k[2] or 0)):
        sale_id, holder, spiff_id = key
        sale, result = world.sales[sale_id], expected.get((sale_id, holder))
        if spiff_id is None:
            line_kind, figure = EntryKind.SALE, to_cents(result.commission) if result else None
        else:
            rewards = [r.reward for r in (result.spiffs if result else ()) if r.spiff.name == spiff_names[spiff_id]]
            line_kind, figure = EntryKind.SPIFF, to_cents(sum(rewards)) if rewards else None
        mine = by_key.get(key, [])
        got = sum(e["amount_cents"] for e in mine)
        assert got == (figure or 0), (f"sale {sale.id} ({sale.status}, {sale.sold_on}, {sale.amount_cents}), "
                                      f"holder {holder}, SPIFF {spiff_id}: entries {got} != engine {figure or 0}")
        lines = [e for e in mine if e["kind"] == line_kind]
        assert len(lines) <= 1
        home_open = world.closed_end is None or sale.sold_on > world.closed_end
        for line in lines:
            home = period_by_id[line["period_id"]]
            assert home.start_date <= sale.sold_on <= home.end_date, "a sale line sits in its own period"
        if home_open:
            # Nothing frozen: the line alone carries the figure (commission lines with the engine's rate).
            assert all(e["kind"] == line_kind for e in mine)
            assert len(lines) == (1 if figure is not None else 0)
            if lines and spiff_id is None:
                assert lines[0]["rate_units"] == rate_to_units(result.rate)
        else:
            in_open = [e for e in mine if period_by_id[e["period_id"]].status == "open"]
            assert len(in_open) <= 1, "at most one open adjustment per frozen figure"
            assert all(e["kind"] == EntryKind.ADJUSTMENT for e in in_open)
            assert all(e["amount_cents"] != 0 for e in in_open)

    # (b) closed periods never change; a period found closed for the first time is the one just
    # closed (or a gap of the frozen prefix, which must be empty).
    for period in periods:
        if period.status != "closed":
            assert world.closed_end is None or period.start_date > world.closed_end
            continue
        assert world.closed_end is not None and period.end_date <= world.closed_end
        frozen = _frozen(period, entries, payouts)
        if period.id in world.snapshots:
            assert frozen == world.snapshots[period.id], f"closed period {period.label} changed"
        else:
            if closed_now is None or period.id != closed_now.id:
                assert frozen == (frozenset(), frozenset()), f"{period.label} was created closed with rows"
            world.snapshots[period.id] = frozen

    # (c) summaries match the raw rows and chain from one period to the next.
    credited = {(s.id, world.agents[holder].id): cents for s in world.sales.values()
                for (holder, _), cents in zip(s.holders, s.credits_cents())}
    for agent in world.agents:
        previous = None
        for period in periods:
            summary = ledger.period_summary(agent.id, period)
            mine = [e for e in entries if e["agent_id"] == agent.id]
            inside = [e for e in mine if e["period_id"] == period.id]
            before = [e for e in mine if period_by_id[e["period_id"]].end_date < period.start_date]
            paid = [p for p in payouts if p["agent_id"] == agent.id]
            assert summary.earned == sum(e["amount_cents"] for e in inside if e["kind"] == EntryKind.SALE)
            assert summary.adjustments == sum(e["amount_cents"] for e in inside if e["kind"] != EntryKind.SALE)
            assert summary.volume == sum(credited[(e["sale_id"], agent.id)] for e in inside
                                         if e["kind"] == EntryKind.SALE)
            assert summary.total == summary.earned + summary.adjustments
            assert summary.payouts == sum(p["amount_cents"] for p in paid
                                          if period.start_date <= p["paid_on"] <= period.end_date)
            assert summary.opening == (sum(e["amount_cents"] for e in before)
                                       - sum(p["amount_cents"] for p in paid if p["paid_on"] < period.start_date))
            assert summary.closing == summary.opening + summary.total - summary.payouts
            if previous is not None:
                assert summary.opening == previous.closing, f"{period.label} does not open where the last closed"
            previous = summary

    # Every payout lies in a period row (else the chain above has a hole where it sits).
    for payout in payouts:
        assert any(p.start_date <= payout["paid_on"] <= p.end_date for p in periods), (
            f"payout {payout['id']} of {payout['paid_on']} lies in no period")

    # (d) balances.
    for agent in world.agents:
        mine = [e for e in entries if e["agent_id"] == agent.id]
        paid = sum(p["amount_cents"] for p in payouts if p["agent_id"] == agent.id)
        stated = sum(e["amount_cents"] for e in mine if period_by_id[e["period_id"]].status == "closed")
        earned = sum(e["amount_cents"] for e in mine)
        balance = ledger.agent_balance(agent.id)
        assert (balance.earned, balance.stated, balance.open_running, balance.paid, balance.unpaid) == (
            earned, stated, earned - stated, paid, earned - paid)


def unpaid_of(agent) -> int:
    """The unpaid balance from the raw rows."""
    entries, payouts, _ = _rows()
    return (sum(e["amount_cents"] for e in entries if e["agent_id"] == agent.id)
            - sum(p["amount_cents"] for p in payouts if p["agent_id"] == agent.id))

# -------------------------------------------------------------------------------------------------
# Running one example


def _co_agent_inputs(world: World, co_agents: tuple) -> tuple[CoAgentInput, ...]:
    """The model's co-agents as the sale form posts them."""
    return tuple(CoAgentInput(agent_id=world.agents[index].id, share=share) for index, share in co_agents)


def _split(world: World, pending: list, op: tuple, run) -> None:
    """Give a pending sale one or two co-agents (drawn shares), through the edit service."""
    _, index, co_index, share, second_share, two = op
    sale = _pick(pending, index)
    if sale is None:
        return None
    others = [i for i in range(len(world.agents)) if i != sale.agent]
    co_agents = ((others[co_index % len(others)], share),)
    if two and len(others) > 1:
        co_agents += ((others[(co_index + 1) % len(others)], second_share),)
    data = SaleInput(product_id=world.products[sale.product].id, quantity=sale.quantity,
                     unit_price=from_cents(sale.unit_price_cents), sold_on=sale.sold_on,
                     customer_id=world.customer_id, co_agents=_co_agent_inputs(world, co_agents))
    _, error = run(lambda: update_sale(world.agents[sale.agent], db.session.get(Sale, sale.id), data))
    if sum(Decimal(s) for _, s in co_agents) >= 100:
        _expect(error, "share")  # the agent must keep a share above 0 (checked before the period)
        return None
    if _is_closed(world, sale.sold_on):
        _expect(error, expected_status=409)
        return None
    assert error is None, error.message
    sale.co_agents = co_agents
    return None


def build_world(factory, setups, overrides_flags, spiff_setup=(True, None, False, None)) -> World:
    """Users, catalogue, a plan per kind, the agents' assignments and two SPIFFs.

    `spiff_setup`: (SPIFF A pays per unit (else a percent), A's cap, SPIFF B only for agent 0's
    team, B's cap); A is for product 0, B for category b, both all quarter."""
    admin = factory.user("admin")
    agents = [factory.user("agent") for _ in setups]
    cat_a, cat_b = factory.category(), factory.category()
    products = [factory.product(category=cat_a if cat == "a" else cat_b) for _, cat in PRODUCTS]
    world = World(agents=agents, admin=admin, customer_id=factory.customer().id, products=products,
                  category_codes={"a": cat_a.code, "b": cat_b.code}, plans=[],
                  overrides=list(overrides_flags) + [False] * (len(KINDS) - len(overrides_flags)))
    for index, kind in enumerate(KINDS):
        plan = create_plan(None, name=f"{kind} {uuid.uuid4().hex[:8]}", description=None,
                           rules=rules_of(kind, world.overrides[index], world), effective_from=date(2000, 1, 1))
        world.plans.append(plan)
        world.versions[index] = [(date(2000, 1, 1), engine_plan_of(kind, world.overrides[index], world))]
    for number, (first, change, second, gap) in enumerate(setups):
        agent = agents[number]
        first_index, second_index = KINDS.index(first), KINDS.index(second)
        if change is None:
            spans = [(date(2000, 1, 1), None, first_index)]
        else:
            switch = FIRST_DAY + timedelta(days=change)
            spans = [(date(2000, 1, 1), switch - ONE_DAY, first_index),
                     (switch + timedelta(days=gap), None, second_index)]
        for start, end, plan_index in spans:
            assign_plan(None, agent_id=agent.id, plan_id=world.plans[plan_index].id,
                        effective_from=start, effective_to=end)
        world.assignments[number] = spans
    per_unit, cap_a, one_team, cap_b = spiff_setup
    for name, rules, team in (
            ("A", SpiffRules(per_unit=Decimal("7.77") if per_unit else None, percent=None if per_unit else Decimal("2.5"),
                             cap=Decimal(cap_a) if cap_a else None, product_ids=[products[0].id]), None),
            ("B", SpiffRules(percent=Decimal("1.2345"), cap=Decimal(cap_b) if cap_b else None,
                             category_ids=[cat_b.id], team_ids=[agents[0].manager_id] if one_team else []),
             agents[0].manager_id if one_team else None)):
        rules.first_day, rules.last_day = FIRST_DAY, LAST_SALE_DAY
        change = create_spiff(admin, f"{name} {uuid.uuid4().hex[:8]}", rules)
        world.spiffs.append([change.spiff.id, engine.Spiff(
            name=change.spiff.name, first_day=FIRST_DAY, last_day=LAST_SALE_DAY,
            products=[products[0].sku] if name == "A" else [], categories=[cat_b.code] if name == "B" else [],
            teams=None if team is None else [str(team)], per_unit=rules.per_unit, percent=rules.percent,
            cap=rules.cap)])
    return world


def _note(text: str) -> None:
    """A hypothesis event (shown with --hypothesis-show-statistics), when inside a hypothesis test."""
    if currently_in_test_context():
        event(text)


def _pick(items: list, index: int):
    """An item chosen by a drawn index, or None if there is none."""
    return items[index % len(items)] if items else None


def _in_open_or_any(world: World, offset: int, last: date) -> date:
    """A day up to `last` chosen by a drawn offset: mostly in the open periods, one in four from Oct 1
    (so closed days come up too, on purpose)."""
    first = FIRST_DAY
    if offset % 4 and world.closed_end is not None and world.closed_end < last:
        first = world.closed_end + ONE_DAY
    span = (last - first).days + 1
    return first + timedelta(days=(offset // 4) % span)


def _is_closed(world: World, day: date) -> bool:
    """Does the test's model say `day` is frozen."""
    return world.closed_end is not None and day <= world.closed_end


def _expect(error: ServiceError | None, expected_field=None, expected_status=None) -> None:
    """Assert that an expected refusal happened with the right field or status."""
    assert error is not None, f"expected a refusal ({expected_field or expected_status})"
    if expected_field is not None:
        assert error.field == expected_field, (error.field, error.message)
    if expected_status is not None:
        assert error.status == expected_status, (error.status, error.message)


def apply(world: World, op: tuple, set_today) -> Period | None:
    """Apply one operation through the services, updating the model; returns a period it closed."""
    name = op[0]
    pending = sorted((s for s in world.sales.values() if s.status == "pending"), key=lambda s: s.id)
    approved = sorted((s for s in world.sales.values() if s.status == "approved"), key=lambda s: s.id)
    last_sale_day = min(world.today, LAST_SALE_DAY)

    def run(call):
        """Run a service call in a savepoint, rolled back on refusal as a route would."""
        savepoint = db.session.begin_nested()
        try:
            value = call()
        except ServiceError as exc:
            savepoint.rollback()
            _note(f"{name}: refused")
            return None, exc
        savepoint.commit()
        _note(f"{name}: done")
        return value, None

    if name == "sale":
        # A sale entered by its agent and approved at once by the manager (or an admin).
        _, agent_index, offset, price, quantity, product_index, by_admin = op
        known = set(world.sales)
        apply(world, ("create", agent_index, offset, price, quantity, product_index, False), set_today)
        new = [world.sales[i] for i in set(world.sales) - known if world.sales[i].status == "pending"]
        if new:
            # The new sale has the highest id, so it is the last of the pending list.
            return apply(world, ("approve", len(pending), by_admin), set_today)
        return None
    if name == "create":
        _, agent_index, offset, price, quantity, product_index, by_manager = op
        agent_index %= len(world.agents)
        agent = world.agents[agent_index]
        day = _in_open_or_any(world, offset, last_sale_day)
        actor = agent.manager if by_manager else agent
        data = SaleInput(product_id=world.products[product_index].id, quantity=quantity,
                         unit_price=from_cents(price), sold_on=day, customer_id=world.customer_id)
        result, error = run(lambda: create_sale(actor, data, idempotency_key=uuid.uuid4().hex, agent_id=agent.id))
        if _is_closed(world, day):
            _expect(error, "sold_on")
            return None
        assert error is None, error.message
        sale, created = result
        assert created
        world.sales[sale.id] = ModelSale(sale.id, agent_index, product_index, price * quantity, day,
                                         "approved" if not get_settings().approval_required else "pending",
                                         actor.id, quantity, price)
    elif name == "approve":
        sale = _pick(pending, op[1])
        if sale is None:
            return None
        agent = world.agents[sale.agent]
        actor = world.admin if op[2] else agent.manager
        _, error = run(lambda: approve_sale(actor, db.session.get(Sale, sale.id)))
        if actor.id == sale.entered_by_id:
            _expect(error, expected_status=403)
            return None
        assert error is None, error.message
        sale.status = "approved"
    elif name == "reject":
        sale = _pick(pending, op[1])
        if sale is None:
            return None
        actor = world.agents[sale.agent].manager
        _, error = run(lambda: reject_sale(actor, db.session.get(Sale, sale.id), "not a real order"))
        if actor.id == sale.entered_by_id:
            _expect(error, expected_status=403)
            return None
        assert error is None, error.message
        sale.status = "rejected"
    elif name == "cancel":
        sale = _pick(pending, op[1])
        if sale is None:
            return None
        _, error = run(lambda: cancel_sale(world.agents[sale.agent], db.session.get(Sale, sale.id)))
        if _is_closed(world, sale.sold_on):
            _expect(error, expected_status=409)
            return None
        assert error is None, error.message
        sale.status = "cancelled"
    elif name == "edit":
        _, index, price, quantity, offset = op
        sale = _pick(pending, index)
        if sale is None:
            return None
        day = _in_open_or_any(world, offset, last_sale_day)
        agent = world.agents[sale.agent]
        # The form posts the split's co-agents again: an edit keeps them.
        data = SaleInput(product_id=world.products[sale.product].id, quantity=quantity,
                         unit_price=from_cents(price), sold_on=day, customer_id=world.customer_id,
                         co_agents=_co_agent_inputs(world, sale.co_agents))
        _, error = run(lambda: update_sale(agent, db.session.get(Sale, sale.id), data))
        if _is_closed(world, sale.sold_on):
            _expect(error, expected_status=409)
            return None
        if _is_closed(world, day):
            _expect(error, "sold_on")
            return None
        assert error is None, error.message
        sale.amount_cents, sale.sold_on, sale.quantity, sale.unit_price_cents = price * quantity, day, quantity, price
    elif name == "split":
        return _split(world, pending, op, run)
    elif name == "target":
        _, agent_index, month_index, cents = op
        agent_index %= len(world.agents)
        month = (date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1))[month_index]
        if cents is None:
            _, error = run(lambda: remove_target(world.admin, agent_id=world.agents[agent_index].id, month=month))
            assert error is None, error.message
            world.targets.pop((agent_index, month), None)
        else:
            _, error = run(lambda: set_target(world.admin, agent_id=world.agents[agent_index].id, month=month,
                                              amount_cents=cents))
            assert error is None, error.message
            world.targets[(agent_index, month)] = cents
    elif name == "end_spiff":
        _, index, offset = op
        spiff_id, rule = world.spiffs[index]
        day = _in_open_or_any(world, offset, LAST_SALE_DAY)
        _, error = run(lambda: end_early(world.admin, db.session.get(Spiff, spiff_id), day))
        # Ended already (its last version starts after any earlier day), not earlier than its end, or
        # a day whose next day is frozen: refused beside the last day.
        if rule.last_day < LAST_SALE_DAY or day >= rule.last_day or _is_closed(world, day + ONE_DAY):
            _expect(error, "last_day")
            return None
        assert error is None, error.message
        world.spiffs[index][1] = dataclasses.replace(rule, last_day=day)
    elif name == "void":
        sale = _pick(approved, op[1])
        if sale is None:
            return None
        actor = world.admin if op[2] else world.agents[sale.agent].manager
        _, error = run(lambda: void_sale(actor, db.session.get(Sale, sale.id), "refunded"))
        if actor.id == sale.entered_by_id:
            _expect(error, expected_status=403)
            return None
        assert error is None, error.message
        sale.status = "voided"
    elif name == "close":
        first_open = world.closed_end + ONE_DAY if world.closed_end else FIRST_DAY
        if first_open > LAST_SALE_DAY:
            return None
        period = period_for(first_open)
        assert period.start_date == first_open and period.is_open
        world.today = max(world.today, min(period.end_date + timedelta(days=1 + op[1]), LAST_TODAY))
        set_today(world.today)
        _, error = run(lambda: close_period(world.admin, period))
        assert error is None, error.message
        world.closed_end = period.end_date
        return period
    elif name == "wait":
        world.today = min(world.today + timedelta(days=op[1]), LAST_TODAY)
        set_today(world.today)
    elif name == "payout":
        _, agent_index, permille, advance, offset = op
        agent = world.agents[agent_index % len(world.agents)]
        unpaid = unpaid_of(agent)
        amount = max(1, unpaid * permille // 1000) if unpaid > 0 else permille
        day = _in_open_or_any(world, offset, world.today)
        _, error = run(lambda: record_payout(world.admin, agent_id=agent.id, amount_cents=amount, paid_on=day,
                                             advance=advance))
        if _is_closed(world, day):
            _expect(error, "paid_on")
        elif amount > unpaid and not advance:
            _expect(error, "amount")
        else:
            assert error is None, error.message
    elif name == "version":
        _, plan_index, offset, spec_index = op
        spec_name = SPEC_NAMES[spec_index]
        day = _in_open_or_any(world, offset, LAST_SALE_DAY)
        plan = db.session.get(CommissionPlan, world.plans[plan_index].id)
        rules = rules_of(spec_name, world.overrides[plan_index], world)
        _, error = run(lambda: add_version(world.admin, plan, rules, day))
        if _is_closed(world, day):
            _expect(error, "effective_from")
            return None
        if any(since == day for since, _ in world.versions[plan_index]):
            _expect(error, "effective_from")
            return None
        assert error is None, error.message
        world.versions[plan_index] = sorted(
            world.versions[plan_index] + [(day, engine_plan_of(spec_name, world.overrides[plan_index], world))],
            key=lambda pair: pair[0])
    elif name == "reverse":
        _, agent_index, index = op
        agent = world.agents[agent_index % len(world.agents)]
        reversed_ids = set(db.session.scalars(select(Payout.reverses_id).where(Payout.reverses_id.is_not(None))))
        originals = db.session.scalars(
            select(Payout).where(Payout.agent_id == agent.id, Payout.reverses_id.is_(None)).order_by(Payout.id)).all()
        payout = _pick([p for p in originals if p.id not in reversed_ids], index)
        if payout is None:
            return None
        _, error = run(lambda: reverse_payout(world.admin, payout, reason="bank returned it"))
        assert error is None, error.message
    elif name == "cadence":
        settings_row = get_settings()
        settings_row.period_cadence = "monthly" if settings_row.period_cadence == "semi_monthly" else "semi_monthly"
        db.session.flush()
    return None


@settings(max_examples=min(settings.default.max_examples, 40), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(setups=st.lists(agent_setups(), min_size=2, max_size=3),
       overrides=st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()),
       spiff_setup=st.tuples(st.booleans(), st.sampled_from([None, "25.00", "100.00"]), st.booleans(),
                             st.sampled_from([None, "15.00"])),
       approval_required=st.sampled_from([True, True, True, False]),
       cadence=st.sampled_from(["semi_monthly", "semi_monthly", "monthly"]),
       start=st.integers(0, 25),
       ops=st.lists(operations, min_size=12, max_size=45))
def test_every_step_keeps_the_ledger_exact(factory, today, setups, overrides, spiff_setup, approval_required, cadence,
                                           start, ops):
    """After every operation of a random sequence, properties (a)-(d) of the module docstring hold."""
    example = db.session.begin_nested()
    try:
        settings_row = get_settings()
        settings_row.approval_required, settings_row.period_cadence = approval_required, cadence
        db.session.flush()
        first_today = today(FIRST_DAY + timedelta(days=start))
        world = build_world(factory, setups, overrides, spiff_setup)
        world.today = first_today
        check(world)
        for op in ops:
            closed = apply(world, op, today)
            check(world, closed)
        _note(f"periods closed: {len(world.snapshots)}")
        _note(f"sales ever approved: {min(sum(s.status in ('approved', 'voided') for s in world.sales.values()), 10)}+")
    finally:
        example.rollback()
        db.session.expunge_all()


def test_the_checks_catch_a_ledger_that_drifts(factory, today):
    """The invariant checks are not vacuous: a hand-edited entry or a changed closed period fails them."""
    example = db.session.begin_nested()
    try:
        today(FIRST_DAY)
        world = build_world(factory, [("marginal", None, "flat", 0), ("flat", None, "flat", 0)], (True, True, True))
        apply(world, ("create", 0, 4, 500_000, 1, 0, False), today)
        apply(world, ("approve", 0, False), today)
        check(world)
        closed = apply(world, ("close", 0), today)
        check(world, closed)
        entry = db.session.scalars(select(CommissionEntry).where(CommissionEntry.kind == EntryKind.SALE)).one()
        entry.amount_cents += 1
        db.session.flush()
        try:
            check(world)
        except AssertionError as exc:
            assert "entries" in str(exc) or "changed" in str(exc)
        else:
            raise AssertionError("a drifted entry passed the checks")
    finally:
        example.rollback()
        db.session.expunge_all()


# ---- Regressions found by the property test above, kept as plain examples ----------------------


def test_payouts_and_reversals_lie_in_period_rows_so_summaries_chain(factory, today):
    """A payout (or its reversal) dated where no period row exists yet gets one.

    Found by the sequence test: a reversal dated today, in a half-month with no other activity, lay
    in no period row, so no period summary showed it and the next period opened 'from nowhere'.
    """
    example = db.session.begin_nested()
    try:
        today(FIRST_DAY)
        world = build_world(factory, [("flat", None, "flat", 0), ("flat", None, "flat", 0)], (False, False, False))
        for op in [("payout", 0, 1, True, 0),  # an advance of 0.01, dated Oct 1
                   ("wait", 21),
                   ("reverse", 0, 0),  # dated Oct 22, alone in Oct 16-31
                   ("close", 0), ("close", 0),
                   ("payout", 1, 1, True, 2)]:  # dated in the first open half-month, alone there
            check(world, apply(world, op, today))
        assert period_for(date(2026, 10, 22)).start_date == date(2026, 10, 16)
        assert len(world.snapshots) == 2
    finally:
        example.rollback()
        db.session.expunge_all()
