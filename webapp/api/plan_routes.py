"""API v1 commission plans (admins, as the plan pages): plans and their versions' rules, a new
version, and who is on which plan when. Every rule (the engine's contract, open periods, one plan
at a time) is the plan services'; a change recomputes the agents it touches, as the pages do
(in a background operation for many agents)."""

from __future__ import annotations

from decimal import Decimal

from webapp.api.convert import cents_of, money
from webapp.api.framework import ApiError, decode_cursor, keyset_page, operation
from webapp.api.plan_schemas import (AssignmentEnd, AssignmentIn, AssignmentOut, AssignmentPage, AssignmentQuery,
                                     CategoryRate, PlanIn, PlanList, PlanOut, ProductRate, Rules, SimulatedLineOut,
                                     SimulatedMonthOut, SimulationIn, SimulationOut, TierRule, VersionEdit,
                                     VersionIn, VersionOut)
from webapp.auth.models import Role
from webapp.commissions import plans, simulator
from webapp.commissions.assignments import assign_plan, end_assignment
from webapp.commissions.plan_versions import add_version, edit_version
from webapp.errors import NotFound
from webapp.money import from_cents, to_cents

ADMINS = (Role.ADMIN,)


def _version_out(version) -> VersionOut:
    """A stored version with its rules as exact decimal strings."""
    rules = plans.rules_of(version)
    return VersionOut(
        id=version.id, version=version.version, effective_from=version.effective_from, terms=version.terms,
        created_at=version.created_at, base_rate=None if rules.base_rate is None else str(rules.base_rate),
        tiers=[TierRule(start=str(start), rate=str(rate)) for start, rate in rules.tiers],
        tier_mode=rules.tier_mode, basis=str(rules.basis),
        category_rates=[CategoryRate(category_id=cid, rate=str(rate)) for cid, rate in rules.category_rates.items()],
        product_rates=[ProductRate(product_id=pid, rate=str(rate)) for pid, rate in rules.product_rates.items()])


def _plan_out(plan) -> PlanOut:
    """A plan with its versions."""
    return PlanOut(id=plan.id, name=plan.name, description=plan.description, active=plan.active,
                   versions=[_version_out(v) for v in sorted(plan.versions, key=lambda v: v.effective_from)])


def _assignment_out(assignment) -> AssignmentOut:
    """A plan assignment for the API."""
    return AssignmentOut(id=assignment.id, agent_id=assignment.agent_id, plan_id=assignment.plan_id,
                         effective_from=assignment.effective_from, effective_to=assignment.effective_to)


def _rules(body: Rules) -> plans.PlanRules:
    """The plan services' rules from a version body (decimal strings, checked by the body's pattern)."""
    return plans.PlanRules(
        base_rate=None if body.base_rate is None else Decimal(body.base_rate),
        tiers=[(Decimal(t.start), Decimal(t.rate)) for t in body.tiers], tier_mode=body.tier_mode,
        basis=body.basis, category_rates={c.category_id: Decimal(c.rate) for c in body.category_rates},
        product_rates={p.product_id: Decimal(p.rate) for p in body.product_rates})


@operation("GET", "/plans", summary="Commission plans with their versions", tag="Plans", area="admin",
           responses={200: PlanList}, roles=ADMINS)
def list_plans(user):
    """Every plan by name, each version's rules included."""
    return PlanList(items=[_plan_out(p) for p in plans.list_plans()])


@operation("GET", "/plans/{plan_id}", summary="One commission plan with its versions", tag="Plans",
           area="admin", responses={200: PlanOut}, roles=ADMINS)
def get_plan(user, plan_id: int):
    """A plan and every version of it, oldest first."""
    return _plan_out(plans.get_plan(plan_id))


@operation("POST", "/plans", summary="Create a plan with its first version", tag="Plans", area="admin",
           body=PlanIn, responses={201: PlanOut}, roles=ADMINS, write=True)
def create_plan(user, body: PlanIn):
    """A new plan (a name no other plan has) whose first version pays `body`'s rules from its day;
    no agent is on it until assigned."""
    return _plan_out(plans.create_plan(user, name=body.name, description=body.description, rules=_rules(body),
                                       effective_from=body.effective_from, terms=body.terms)), 201


@operation("GET", "/plans/{plan_id}/versions/{version_id}", summary="One version of a plan", tag="Plans",
           area="admin", responses={200: VersionOut}, roles=ADMINS)
def get_version(user, plan_id: int, version_id: int):
    """A version with its rules; its ETag is what If-Match names to correct it."""
    return _version_out(plans.get_version(plans.get_plan(plan_id), version_id))


def _locked_version(user, plan_id: int, version_id: int) -> VersionOut:
    """The version as GET answers it, locked for the change (for If-Match)."""
    return _version_out(plans.get_version(plans.get_plan(plan_id), version_id, lock=True))


@operation("PUT", "/plans/{plan_id}/versions/{version_id}",
           summary="Correct a version that has earned nothing yet (its rules and terms; its day stays)",
           tag="Plans", area="admin", body=VersionEdit, responses={200: VersionOut}, roles=ADMINS, write=True,
           errors=(409,), current=_locked_version)
def update_version(user, plan_id: int, version_id: int, body: VersionEdit):
    """Replace a version's rules and terms in place while no ledger line was computed with it (once
    one was: 409, add a version instead); its agents are recomputed and get a new document revision."""
    version = plans.get_version(plans.get_plan(plan_id), version_id)
    return _version_out(edit_version(user, version, _rules(body), terms=body.terms))


@operation("POST", "/plans/{plan_id}/versions", summary="Add a version of a plan from a day", tag="Plans",
           area="admin", body=VersionIn, responses={201: VersionOut}, roles=ADMINS, write=True)
def create_version(user, plan_id: int, body: VersionIn):
    """A new version from a day in an open period; the agents on the plan from then on are
    recomputed (many agents: in a background operation)."""
    return _version_out(add_version(user, plans.get_plan(plan_id), _rules(body), body.effective_from,
                                    terms=body.terms)), 201


@operation("GET", "/plan-assignments", summary="Who is on which plan when", tag="Plans", area="admin",
           query=AssignmentQuery, responses={200: AssignmentPage}, roles=ADMINS)
def list_assignments(user, query: AssignmentQuery):
    """Plan assignments by id, filtered, paginated."""
    page, after = keyset_page(plans.assignments_page(
        agent_id=query.agent_id, plan_id=query.plan_id, on=query.on, after_id=decode_cursor(query.cursor),
        limit=query.limit + 1), query.limit)
    return AssignmentPage(items=[_assignment_out(a) for a in page], next_cursor=after)


@operation("POST", "/plan-assignments", summary="Put an agent on a plan", tag="Plans", area="admin",
           body=AssignmentIn, responses={201: AssignmentOut}, roles=ADMINS, write=True)
def create_assignment(user, body: AssignmentIn):
    """An agent on a plan from a day in an open period (overlapping another assignment: 422); their
    commission from then on is recomputed."""
    return _assignment_out(assign_plan(user, agent_id=body.agent_id, plan_id=body.plan_id,
                                       effective_from=body.effective_from, effective_to=body.effective_to)), 201


@operation("POST", "/plan-assignments/{assignment_id}/end", summary="End a plan assignment on a day",
           tag="Plans", area="admin", body=AssignmentEnd, responses={200: AssignmentOut}, roles=ADMINS, write=True)
def end_plan_assignment(user, assignment_id: int, body: AssignmentEnd):
    """The last day the agent is on the plan (a change to a closed period: 422 closed_period)."""
    return _assignment_out(end_assignment(user, plans.get_assignment(assignment_id), body.effective_to))


def _amount(value: Decimal) -> str:
    """A simulated amount (two places, as the engine gives them) as the API's decimal string."""
    return money(to_cents(value))


@operation("POST", "/plans/simulate", summary="What a plan would pay on sales (nothing is written)", tag="Plans",
           area="admin", body=SimulationIn, responses={200: SimulationOut}, roles=ADMINS)
def simulate_plan(user, body: SimulationIn):
    """The simulator page's preview: a stored version or typed rules, on one agent's sales in CSV,
    month by month, with the words of each line; refused lines are named in `sales_csv`."""
    # Any rule typed counts (an override alone too), as on the page: with a version, which one?
    typed = any(getattr(body, name) not in (None, [], Rules.model_fields[name].default)
                for name in Rules.model_fields)
    rules = _rules(body) if typed else None
    if rules is not None and body.version_id is not None:
        message = "Give a plan version or rules, not both."
        raise ApiError(422, message, {"version_id": message})
    try:
        plan = simulator.plan_for_simulation(body.version_id, rules)
    except NotFound as exc:  # a body names what it uses: an unknown one is refused beside it
        raise ApiError(422, "No plan version has this id.", {"version_id": "No plan version has this id."}) from exc
    target = None if body.target is None else from_cents(cents_of(body.target, "target"))
    result = simulator.simulate_sales(plan, simulator.parse_sales_csv(body.sales_csv), target=target,
                                      include_spiffs=body.include_spiffs)
    return SimulationOut(
        volume=_amount(result.volume), commission=_amount(result.commission), spiffs=_amount(result.spiffs),
        months=[SimulatedMonthOut(
            month=month.month, volume=_amount(month.volume), commission=_amount(month.commission),
            spiffs=_amount(month.spiffs), attainment=None if month.attainment is None else f"{month.attainment:f}",
            lines=[SimulatedLineOut(line=line.sale.line, sold_on=line.sale.date, amount=_amount(line.sale.amount),
                                    credited=_amount(line.credited), commission=_amount(line.commission),
                                    rate=f"{line.rate:f}", source=line.source, spiffs=_amount(line.spiffs),
                                    words=list(line.words)) for line in month.lines])
            for month in result.months])
