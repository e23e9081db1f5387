"""API v1 audit log (issue 17, parity with the audit page): admins read every state change, newest
first, filtered by actor (or the system), action, object and days; nobody else may."""

from __future__ import annotations

from datetime import date

from tests.web._api import API, error_of, every_item, headers_for


def test_admins_page_through_the_log_filtered_as_on_the_page(api, build, factory):
    build.on(date(2026, 11, 20))
    maria, (alice,) = build.team("Maria", "Alice")
    sale = factory.sale(alice, "100.00", date(2026, 11, 3), approve=False)
    admin = factory.user("admin")
    headers = headers_for(admin)
    api.post(f"{API}/sales/{sale.id}/approve", headers=headers_for(maria))
    approvals = api.get(f"{API}/audit-events?action=sale.approve", headers=headers).json["items"]
    assert [(e["actor_id"], e["object_type"], e["object_id"]) for e in approvals] == [(maria.id, "Sale", sale.id)]
    assert approvals[0]["before"]["status"] == "pending" and approvals[0]["after"]["status"] == "approved"
    every = every_item(api, "/audit-events", headers)
    assert [e["id"] for e in every] == sorted((e["id"] for e in every), reverse=True), "newest first"
    mine = every_item(api, "/audit-events", headers, f"actor_id={maria.id}")
    assert {e["actor_id"] for e in mine} == {maria.id} and len(mine) < len(every)
    assert all(e["actor_id"] is None for e in every_item(api, "/audit-events", headers, "system=true"))
    assert every_item(api, "/audit-events", headers, f"object_type=Sale&object_id={sale.id}")
    assert api.get(f"{API}/audit-events?start=2030-01-01", headers=headers).json["items"] == []
    assert "action" in error_of(api.get(f"{API}/audit-events?action=DROP%20TABLE", headers=headers), 422)["fields"]
    for who in (maria, alice):
        assert error_of(api.get(f"{API}/audit-events", headers=headers_for(who)), 403)
