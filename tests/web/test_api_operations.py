"""API v1 background operations (issue 17): a change too large for a request answers with an
Operation-Location to follow; GET it for the progress; only its starter (or an admin) may."""

from __future__ import annotations

from datetime import date

from tests.web._api import API, error_of, headers_for
from webapp.operations.services import run_to_end

TODAY = date(2026, 11, 20)


def test_a_plan_change_for_many_agents_is_followed_to_its_end(app, api, build, factory, monkeypatch):
    monkeypatch.setitem(app.config, "OPERATION_INLINE_LIMIT", 2)
    build.on(TODAY)
    _, agents = build.team("Maria", "Alice", "Bob", "Cleo")
    admin = headers_for(factory.user("admin"))
    assert "Operation-Location" not in api.get(f"{API}/plans", headers=admin).headers
    response = api.post(f"{API}/plans/{build.plan.id}/versions", headers=admin,
                        json={"effective_from": "2026-11-01", "base_rate": "4"})
    assert response.status_code == 201
    location = response.headers["Operation-Location"]
    queued = api.get(location, headers=admin).json
    assert (queued["status"], queued["total"], queued["done"], queued["kind"]) == (
        "queued", len(agents), 0, "plan_recompute")
    run_to_end(queued["id"])
    done = api.get(location, headers=admin).json
    assert (done["status"], done["done"], done["errors"]) == ("done", len(agents), [])
    assert done["finished_at"] is not None and done["label"]


def test_only_its_starter_or_an_admin_follows_an_operation(app, api, build, factory, monkeypatch):
    from webapp.commissions.assignments import recompute_plan_agents
    from webapp.extensions import db
    from webapp.operations.services import started

    monkeypatch.setitem(app.config, "OPERATION_INLINE_LIMIT", 1)
    build.on(TODAY)
    maria, _ = build.team("Maria", "Alice", "Bob")
    olga, (carol,) = build.team("Olga", "Carol")
    recompute_plan_agents(build.plan.id, date(2026, 11, 1), actor=maria)
    operation_id = started().id
    db.session.commit()
    assert api.get(f"{API}/operations/{operation_id}", headers=headers_for(maria)).status_code == 200
    assert api.get(f"{API}/operations/{operation_id}", headers=headers_for(factory.user("admin"))).status_code == 200
    assert error_of(api.get(f"{API}/operations/{operation_id}", headers=headers_for(olga)), 404)
    assert error_of(api.get(f"{API}/operations/{operation_id}", headers=headers_for(carol)), 403)
    assert error_of(api.get(f"{API}/operations/999999", headers=headers_for(maria)), 404)
