"""A plan document says what the plan's own data says, and its examples are the engine's figures."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from webapp.auth.models import Role
from webapp.commissions import engine
from webapp.commissions.plans import PlanRules, create_plan, engine_plan
from webapp.commissions.targets import set_target
from webapp.money import to_cents
from webapp.plandocs.content import EXAMPLE_VOLUMES
from webapp.plandocs.services import issue_missing, sha256_of
from webapp.spiffs.services import SpiffRules, create_spiff

DAY = date(2026, 12, 5)


@pytest.fixture(autouse=True)
def _today(today):
    today(DAY)


def _document(factory, plan, agent=None):
    """Assign a (new) agent to the plan from the 1st and issue their document."""
    agent = agent or factory.user()
    factory.assign(agent, plan, effective_from=date(2026, 12, 1))
    [document] = [d for d in issue_missing() if d.agent_id == agent.id]
    return document


def _text(html: str) -> str:
    """The document's words, tags and runs of whitespace removed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _engine_examples(document, target=None) -> list[int]:
    """What the engine says a month of exactly each example volume earns on the document's version."""
    plan = engine_plan(document.version)
    return [to_cents(engine.month_total(engine.compute_month(
        [engine.SaleLine(id=1, date=DAY, amount=volume, plan=plan)], target=target)))
        for volume in EXAMPLE_VOLUMES]


def test_a_base_rate_plan_states_its_rate_and_examples(factory):
    document = _document(factory, factory.plan(base_rate="3", effective_from=date(2026, 1, 1), name="Field sales"))
    content, text = document.content, _text(document.body_html)
    assert content["earning"] == {"kind": "base_rate", "base_rate": "3"}
    earned = [row["commission_cents"] for row in content["examples"]["volumes"]]
    assert earned == [30_000, 150_000, 300_000] == _engine_examples(document)
    assert "every approved sale earns 3% of its amount" in text
    assert "$10,000.00 $300.00" in text and "$100,000.00 $3,000.00" in text
    assert "Commission plan: Field sales" in text and document.content["agent"]["name"] in text


def test_a_marginal_tier_table_lists_its_brackets_and_splits_the_examples(factory):
    plan = factory.plan(tiers=[("0", "2"), ("20000", "4"), ("60000", "6")], tier_mode="marginal",
                        effective_from=date(2026, 1, 1))
    document = _document(factory, plan)
    earning, text = document.content["earning"], _text(document.body_html)
    assert earning["tier_mode"] == "marginal" and earning["basis"] == "amount"
    assert earning["tiers"] == [{"from_cents": 0, "to_cents": 2_000_000, "rate": "2"},
                                {"from_cents": 2_000_000, "to_cents": 6_000_000, "rate": "4"},
                                {"from_cents": 6_000_000, "to_cents": None, "rate": "6"}]
    # 50,000: 20,000 x 2% + 30,000 x 4%; 100,000: 400 + 40,000 x 4% + 40,000 x 6%.
    earned = [row["commission_cents"] for row in document.content["examples"]["volumes"]]
    assert earned == [20_000, 160_000, 440_000] == _engine_examples(document)
    assert "From $20,000.00 up to (not including) $60,000.00 4%" in text
    assert "From $60,000.00 upwards 6%" in text and "Marginal brackets." in text


def test_an_attainment_plan_uses_the_agents_target(factory):
    rules = PlanRules(tiers=[(Decimal("0"), Decimal("2")), (Decimal("100"), Decimal("5"))],
                      tier_mode="retroactive", basis="target_percent")
    plan = create_plan(None, name="Quota plan", description=None, rules=rules, effective_from=date(2026, 1, 1))
    agent = factory.user()
    set_target(None, agent_id=agent.id, month=date(2026, 12, 1), amount_cents=5_000_000)
    document = _document(factory, plan, agent)
    examples, text = document.content["examples"], _text(document.body_html)
    assert document.content["earning"]["tiers"][1] == {"from_percent": "100", "to_percent": None, "rate": "5"}
    assert examples["target_cents"] == 5_000_000 and examples["target_assumed"] is False
    earned = [row["commission_cents"] for row in examples["volumes"]]
    assert earned == [20_000, 250_000, 500_000] == _engine_examples(document, Decimal("50000.00"))
    assert "with your target of $50,000.00" in text and "Retroactive brackets." in text
    assert "From 100% of your target upwards 5%" in text


def test_an_attainment_plan_without_a_target_says_what_it_assumes(factory):
    rules = PlanRules(tiers=[(Decimal("0"), Decimal("1")), (Decimal("50"), Decimal("3"))],
                      tier_mode="marginal", basis="target_percent")
    plan = create_plan(None, name="Quota plan 2", description=None, rules=rules, effective_from=date(2026, 1, 1))
    document = _document(factory, plan)
    examples = document.content["examples"]
    assert examples["target_assumed"] is True and examples["target_cents"] == 5_000_000
    earned = [row["commission_cents"] for row in examples["volumes"]]
    assert earned == _engine_examples(document, Decimal("50000.00"))
    assert "assuming a monthly target of $50,000.00" in _text(document.body_html)


def test_overrides_are_listed_with_their_own_examples(factory):
    category = factory.category(name="Services")
    product = factory.product(name="Flagship", sku="FLAG-1")
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1),
                        category_rates={category.id: "10"}, product_rates={product.id: "7.5"})
    document = _document(factory, plan)
    overrides, text = document.content["overrides"], _text(document.body_html)
    assert overrides["categories"] == [{"code": category.code, "name": "Services", "rate": "10"}]
    assert overrides["products"] == [{"sku": "FLAG-1", "name": "Flagship", "rate": "7.5"}]
    assert [(row["label"], row["commission_cents"]) for row in document.content["examples"]["overrides"]] == [
        ("Services", 100_000), ("Flagship", 75_000)]
    assert "Category: Services 10%" in text and "Product: Flagship (FLAG-1) 7.5%" in text


def test_the_spiffs_the_agent_can_earn_are_listed(factory):
    admin = factory.user(Role.ADMIN)
    product = factory.product(name="Router")
    agent = factory.user()
    other_team = factory.user(Role.MANAGER)
    create_spiff(admin, "Winter push", SpiffRules(first_day=date(2026, 12, 1), last_day=date(2026, 12, 31),
                                                  per_unit=Decimal("25.00"), cap=Decimal("500.00"),
                                                  product_ids=[product.id]))
    create_spiff(admin, "Other team only", SpiffRules(first_day=date(2026, 12, 1), last_day=date(2026, 12, 31),
                                                      percent=Decimal("1"), product_ids=[product.id],
                                                      team_ids=[other_team.id]))
    create_spiff(admin, "Long over", SpiffRules(first_day=date(2026, 10, 1), last_day=date(2026, 10, 31),
                                                percent=Decimal("1"), product_ids=[product.id]))
    document = _document(factory, factory.plan(base_rate="3", effective_from=date(2026, 1, 1)), agent)
    assert [s["name"] for s in document.content["spiffs"]] == ["Winter push"]
    spiff = document.content["spiffs"][0]
    assert (spiff["per_unit_cents"], spiff["cap_cents"], spiff["products"]) == (2_500, 50_000, ["Router"])
    assert "$25.00 per unit sold on Router, up to $500.00 a month" in _text(document.body_html)


def test_the_admins_terms_are_shown_as_text_never_as_markup(factory):
    plan = factory.plan(base_rate="3", effective_from=date(2026, 1, 1))
    plan.versions[0].terms = "Draws: <b>$1,000</b> a month, recoverable.\nClawback within 90 days."
    document = _document(factory, plan)
    assert "Draws: &lt;b&gt;$1,000&lt;/b&gt; a month" in document.body_html
    assert "<b>$1,000</b>" not in document.body_html
    assert document.sha256 == sha256_of(document.body_html)


def test_periods_follow_the_settings(factory):
    from webapp.commissions.periods import get_settings

    settings = get_settings()
    settings.period_cadence, settings.grace_hours = "monthly", 24
    document = _document(factory, factory.plan(base_rate="3", effective_from=date(2026, 1, 1)))
    text = _text(document.body_html)
    assert "one a month, from the 1st to the last day" in text and "24 hours after a period ends" in text
