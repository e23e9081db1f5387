"""New and edited plan versions; each recomputes the agents on the plan from its date on, and
after the commit the agents it affects are issued a plan document to read and acknowledge."""

from __future__ import annotations

from datetime import date

from webapp.audit.services import record
from webapp.commissions.assignments import PLAN_DOCUMENTS_JOB, recompute_plan_agents
from webapp.commissions.models import CommissionPlan, PlanVersion
from webapp.commissions.plans import (PlanRules, check_effective_date, check_terms, rules_of, rules_snapshot,
                                      validate_rules, version_has_earned, write_rules)
from webapp.errors import ServiceError
from webapp.extensions import db
from webapp.tasks import enqueue_after_commit


def edit_version(actor, version: PlanVersion, rules: PlanRules, terms: str | None = None) -> PlanVersion:
    """Change a version in place, allowed only while it has earned nothing; its documents get a new revision."""
    if version_has_earned(version):
        raise ServiceError("This plan version has earned commission; create a new version instead.",
                           status=409)
    validate_rules(rules)
    terms = check_terms(terms)
    before = {**rules_snapshot(rules_of(version)), "terms": version.terms}
    write_rules(version, rules)
    version.terms = terms
    # Its agents read the changed text: the documents of the old revision are superseded.
    version.document_revision += 1
    db.session.flush()
    record(actor, "plan.version.edit", version, before, {**rules_snapshot(rules), "terms": terms})
    recompute_plan_agents(version.plan_id, version.effective_from, actor)
    # By name: plan documents build on this package, so it cannot import them back.
    enqueue_after_commit("periodic", PLAN_DOCUMENTS_JOB)
    return version


def add_version(actor, plan: CommissionPlan, rules: PlanRules, effective_from: date,
                terms: str | None = None) -> PlanVersion:
    """Add a new version of a plan, effective from a date in an open period."""
    check_effective_date(effective_from)
    validate_rules(rules)
    terms = check_terms(terms)
    if any(v.effective_from == effective_from for v in plan.versions):
        raise ServiceError("A version already starts on that date.", "effective_from")
    version = PlanVersion(plan=plan, version=max(v.version for v in plan.versions) + 1,
                          effective_from=effective_from, terms=terms, created_by_id=getattr(actor, "id", None))
    write_rules(version, rules)
    db.session.add(version)
    db.session.flush()
    record(actor, "plan.version.create", version, None,
           {"effective_from": effective_from.isoformat(), **rules_snapshot(rules), "terms": terms})
    recompute_plan_agents(plan.id, effective_from, actor)
    # By name: plan documents build on this package, so it cannot import them back.
    enqueue_after_commit("periodic", PLAN_DOCUMENTS_JOB)
    return version
