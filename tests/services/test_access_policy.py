"""The access policy (webapp/auth/access.py), role by object: who sees which agent, sale, payout,
statement and dispute, as a single lookup and as the SQL scope of a list; who may edit and who may
decide a sale (four eyes). The web and API suites check the same answers through the pages
(tests/security/test_authorization_matrix.py); here each answer is asked of the policy itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select

from webapp.auth import access
from webapp.auth.models import Role, User
from webapp.commissions.models import CommissionEntry, Payout
from webapp.commissions.payouts import record_payout
from webapp.disputes import services as disputes
from webapp.disputes.models import Dispute
from webapp.errors import NotFound, ServiceError
from webapp.extensions import db
from webapp.sales.models import Sale
from webapp.statements import services as statements
from webapp.statements.models import Statement

# Who may see what belongs to agent A (team A) and to agent B (team B).
SEES = {
    "agent_a": {"a"},
    "agent_b": {"b"},
    "manager_a": {"a"},
    "manager_b": {"b"},
    "admin": {"a", "b"},
}


@dataclass
class Objects:
    """One of each object for agent A and for agent B."""

    people: dict[str, User]
    sale: dict[str, Sale]
    payout: dict[str, Payout]
    statement: dict[str, Statement]
    dispute: dict[str, Dispute]


@pytest.fixture
def world(build) -> Objects:
    """Two teams (build.two_teams) with a payout, a statement and a dispute for each agent."""
    w = build.two_teams()
    people = {"agent_a": w.agent_a, "agent_b": w.agent_b, "manager_a": w.manager_a,
              "manager_b": w.manager_b, "admin": w.admin}
    agents = {"a": w.agent_a, "b": w.agent_b}
    payout = {k: record_payout(w.admin, agent_id=a.id, amount_cents=100, paid_on=date(2026, 11, 20))
              for k, a in agents.items()}
    run = statements.start_adhoc_run(w.admin, agent_ids=[a.id for a in agents.values()],
                                     start=date(2026, 11, 1), end=date(2026, 11, 20))
    statement = {k: next(s for s in run.statements if s.agent_id == a.id) for k, a in agents.items()}
    dispute = {}
    for key, sale in (("a", w.sale_a), ("b", w.sale_b)):
        entry = db.session.scalar(select(CommissionEntry).where(CommissionEntry.sale_id == sale.id))
        dispute[key] = disputes.open_dispute(agents[key], entry.id, "Please check this line.")
    return Objects(people, {"a": w.sale_a, "b": w.sale_b}, payout, statement, dispute)


LOOKUPS = {
    "sale": access.visible_sale,
    "statement": access.visible_statement,
    "dispute": access.visible_dispute,
}


@pytest.mark.parametrize("kind", sorted(LOOKUPS))
@pytest.mark.parametrize("who", sorted(SEES))
def test_each_role_sees_exactly_its_own_or_its_teams_objects(world, who, kind):
    user, objects = world.people[who], getattr(world, kind)
    for owner, obj in objects.items():
        if owner in SEES[who]:
            assert LOOKUPS[kind](user, obj.id) is obj
        else:
            with pytest.raises(NotFound):
                LOOKUPS[kind](user, obj.id)


@pytest.mark.parametrize("model,kind", [(Sale, "sale"), (Statement, "statement"), (Dispute, "dispute"),
                                        (Payout, "payout")])
@pytest.mark.parametrize("who", sorted(SEES))
def test_the_sql_scope_lists_the_same_objects_as_the_lookups(world, who, model, kind):
    user, objects = world.people[who], getattr(world, kind)
    listed = set(db.session.scalars(select(model.id).where(access.agent_scope(user, model.agent_id))))
    mine = {obj.id for owner, obj in objects.items() if owner in SEES[who]}
    others = {obj.id for owner, obj in objects.items() if owner not in SEES[who]}
    assert mine <= listed and not (others & listed)


@pytest.mark.parametrize("who", sorted(SEES))
def test_agents_payouts_and_team_lists_follow_management(world, who):
    user = world.people[who]
    managed = {k for k in SEES[who]} if access.is_manager_side(user) else set()
    for owner, payout in world.payout.items():
        agent = world.people[f"agent_{owner}"]
        assert access.can_manage_agent(user, agent) is (owner in managed)
        if owner in managed:
            assert access.visible_payout(user, payout.id) is payout
            assert access.visible_agent(user, agent.id) is agent
        else:
            with pytest.raises(NotFound):
                access.visible_payout(user, payout.id)
            with pytest.raises(NotFound):
                access.visible_agent(user, agent.id)
    assert {a.id for a in access.team_agents(user)} == (
        {world.people[f"agent_{k}"].id for k in managed} if managed else
        ({user.id} if access.is_agent(user) else set()))


@pytest.mark.parametrize("who", sorted(SEES))
def test_an_agent_sees_only_themselves_and_staff_see_whom_they_manage(world, who):
    user = world.people[who]
    for owner in ("a", "b"):
        agent = world.people[f"agent_{owner}"]
        if owner in SEES[who]:
            assert access.own_or_managed_agent(user, agent.id) is agent
        else:
            with pytest.raises(NotFound):
                access.own_or_managed_agent(user, agent.id)


def test_deciding_needs_a_manager_of_the_agent_and_four_eyes(world, factory):
    sale_a = world.sale["a"]
    for who in ("agent_a", "agent_b", "manager_b"):
        with pytest.raises(NotFound):
            access.check_may_decide_sale(world.people[who], sale_a)
    access.check_may_decide_sale(world.people["manager_a"], sale_a)
    access.check_may_decide_sale(world.people["admin"], sale_a)
    entered_by_manager = factory.sale(world.people["agent_a"], "10.00", date(2026, 11, 19), approve=False,
                                      entered_by=world.people["manager_a"])
    with pytest.raises(ServiceError) as refused:
        access.check_may_decide_sale(world.people["manager_a"], entered_by_manager)
    assert refused.value.status == 403 and refused.value.message == access.OWN_SALE_REFUSED
    access.check_may_decide_sale(world.people["admin"], entered_by_manager)


def test_only_the_agent_or_whoever_entered_a_sale_may_edit_it(world, factory):
    sale = factory.sale(world.people["agent_a"], "10.00", date(2026, 11, 19), approve=False,
                        entered_by=world.people["manager_a"])
    access.check_may_edit_sale(world.people["agent_a"], sale)
    access.check_may_edit_sale(world.people["manager_a"], sale)
    for who in ("agent_b", "manager_b", "admin"):
        with pytest.raises(NotFound):
            access.check_may_edit_sale(world.people[who], sale)


def test_recording_for_an_agent(world, factory):
    agent_a, agent_b = world.people["agent_a"], world.people["agent_b"]
    assert access.recording_agent(agent_a, None) is agent_a
    with pytest.raises(ServiceError, match="Agents record their own sales"):
        access.recording_agent(agent_a, agent_b.id)
    assert access.recording_agent(world.people["manager_a"], agent_a.id) is agent_a
    assert access.recording_agent(world.people["admin"], agent_b.id) is agent_b
    inactive = factory.user(Role.AGENT, manager=world.people["manager_a"], active=False)
    for actor, agent_id in ((world.people["manager_a"], agent_b.id), (world.people["manager_a"], inactive.id),
                            (world.people["manager_a"], world.people["manager_b"].id),
                            (world.people["admin"], None)):
        with pytest.raises(ServiceError, match="Choose an active agent of your team"):
            access.recording_agent(actor, agent_id)


def test_statement_requests_name_agents_the_requester_may_see(world):
    manager_a, agent_a, agent_b = world.people["manager_a"], world.people["agent_a"], world.people["agent_b"]
    assert access.statement_agents(agent_a, [agent_b.id]) == [agent_a]
    assert access.statement_agents(manager_a, [agent_a.id]) == [agent_a]
    with pytest.raises(ServiceError, match="Choose agents of your team"):
        access.statement_agents(manager_a, [agent_a.id, agent_b.id])
    with pytest.raises(ServiceError, match="Choose at least one agent"):
        access.statement_agents(manager_a, [])
    assert {a.id for a in access.statement_agents(world.people["admin"], [agent_a.id, agent_b.id])} == {
        agent_a.id, agent_b.id}


@pytest.mark.parametrize("who,agent,manager_side,admin", [
    ("agent_a", True, False, False), ("manager_a", False, True, False), ("admin", False, True, True)])
def test_role_questions(world, who, agent, manager_side, admin):
    user = world.people[who]
    assert (access.is_agent(user), access.is_manager_side(user), access.is_admin(user)) == (
        agent, manager_side, admin)
    assert access.is_manager(user) is (manager_side and not admin)
    assert access.has_any_role(user)
    assert access.has_role(user, user.role) and not access.has_role(user)
