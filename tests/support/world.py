"""The world builder: the teams, plan, sales and closed periods a test needs, made through the
factories and the services (so every record is one the app itself could have written).

A test file keeps a short local fixture that says what its world is and names the records the way
its tests use them; the builder does the making:

    @pytest.fixture
    def team(build):
        build.on(TODAY)
        maria, (alice, bob) = build.team("Maria", "Alice", "Bob")
        _, (carol,) = build.team(None, "Carol")
        return {"maria": maria, "alice": alice, "bob": bob, "carol": carol}

`build.two_teams()` is the standard world of the security suites: team A and team B, an admin,
one product and sales in each state that matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import pytest

from webapp.auth.models import Role, User
from webapp.catalog.models import Customer, Product
from webapp.commissions.models import CommissionPlan, Period
from webapp.commissions.periods import close_period, period_for
from webapp.sales.models import Sale

TODAY = date(2026, 11, 20)


class Team(NamedTuple):
    """A manager and their agents (unpacks as `manager, agents`)."""

    manager: User
    agents: list[User]


@dataclass
class TwoTeams:
    """Team A (the people a test signs in as) and team B (the others), on the flat 3% plan.

    Sales (one product, Nov 2026): A's approved 500.00 on Nov 17; B's approved 1000.00 on Nov 18
    and pending 200.00 on Nov 19."""

    manager_a: User
    agent_a: User
    manager_b: User
    agent_b: User
    admin: User
    plan: CommissionPlan
    product: Product
    customer: Customer
    sale_a: Sale
    sale_b: Sale
    pending_b: Sale


class Builder:
    """Makes the records of a test's world; see the module docstring."""

    def __init__(self, factory, today):
        self.factory = factory
        self._today = today
        self._plan = None

    def on(self, day: date) -> date:
        """Make `day` the installation's today (for what is built next, and for the test)."""
        return self._today(day)

    @property
    def plan(self) -> CommissionPlan:
        """The flat 3% plan that agents are put on, made on first use."""
        if self._plan is None:
            self._plan = self.factory.plan(base_rate="3")
        return self._plan

    def agent(self, name: str | None = None, manager: User | None = None, *, plan=True, **fields) -> User:
        """An agent on `manager`'s team (a fresh manager's when None), on `plan`.

        `name` is a name or "Name <email>" (None, and any part left out: the factory's default);
        plan=True is the flat 3% plan, a plan object that plan, None no plan at all; other
        keywords (active, ...) go to the user."""
        name, email = _name_and_email(name)
        fields.update({key: value for key, value in (("name", name), ("email", email)) if value is not None})
        agent = self.factory.user(Role.AGENT, manager=manager, **fields)
        if plan is True:
            plan = self.plan
        if plan is not None:
            self.factory.assign(agent, plan)
        return agent

    def team(self, manager: str | User | None = None, *agents: str | None, plan=True) -> Team:
        """A manager (a name, an existing user, or None for a fresh one) and agents, each on `plan`
        (as in agent()). An agent is a name, "Name <email>", or None for default ones."""
        if not isinstance(manager, User):
            manager = self.factory.user(Role.MANAGER, **({"name": manager} if manager else {}))
        return Team(manager, [self.agent(name, manager, plan=plan) for name in agents])

    def close(self, day: date, by: User | None = None) -> Period:
        """Close the period that holds `day`, as `by` (None: the system); returns the period."""
        period = period_for(day)
        close_period(by, period)
        return period

    def two_teams(self, product_name: str = "Monitor") -> TwoTeams:
        """The standard world on TODAY: team A and team B, an admin, a product, sales (see TwoTeams)."""
        self.on(TODAY)
        manager_a, (agent_a,) = self.team("Manager A", "Agent A")
        manager_b, (agent_b,) = self.team("Manager B", "Agent B")
        admin = self.factory.user(Role.ADMIN, name="Admin")
        product = self.factory.product(name=product_name)
        sale = self.factory.sale
        return TwoTeams(
            manager_a=manager_a, agent_a=agent_a, manager_b=manager_b, agent_b=agent_b, admin=admin,
            plan=self.plan, product=product, customer=self.factory.customer(),
            sale_a=sale(agent_a, "500.00", date(2026, 11, 17), product=product),
            sale_b=sale(agent_b, "1000.00", date(2026, 11, 18), product=product),
            pending_b=sale(agent_b, "200.00", date(2026, 11, 19), product=product, approve=False))


def _name_and_email(spec: str | None) -> tuple[str | None, str | None]:
    """("Ann Agent", "ann@example.com") from "Ann Agent <ann@example.com>"; a plain name has no email."""
    if spec is None or "<" not in spec:
        return spec, None
    name, email = spec.rstrip(">").split("<")
    return name.strip(), email.strip()


@pytest.fixture
def build(factory, today) -> Builder:
    """The world builder of this test."""
    return Builder(factory, today)
