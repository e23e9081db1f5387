"""API v1 sales import (issue 17, parity with the import page): a dry run answers what would be
made and writes nothing; the import makes every row or none, and a second import of the same rows
skips them; another team's agent is refused beside the row's cell."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support.queues import jobs
from tests.support.rows import counts
from tests.web._api import API, error_of, headers_for
from webapp.audit.models import AuditEvent
from webapp.catalog.models import Customer
from webapp.commissions.models import CommissionEntry
from webapp.sales.models import Sale

HEADER = "key,agent_email,sku,customer,quantity,unit_price,date,note"
GOOD = ("row-0001,ann@example.com,WID-1,Acme Corp,2,100.00,2026-11-03,first",
        "row-0002,ann@example.com,WID-1,New Customer Ltd,1,49.99,2026-11-18,")

pytestmark = pytest.mark.usefixtures("empty_queues")


@pytest.fixture
def world(build, factory):
    """Maria's Ann, another team's Bob, a Widget."""
    build.on(date(2026, 11, 20))
    maria, (ann,) = build.team("Maria", "Ann Agent <ann@example.com>")
    _, (bob,) = build.team(None, "Bob Agent <bob@example.com>")
    factory.product(sku="WID-1", name="Widget", list_price_cents=10_000)
    factory.customer("Acme Corp")
    return {"maria": maria, "ann": ann, "bob": bob}


def _csv(*rows: str) -> str:
    """A CSV text from lines."""
    return "\n".join((HEADER,) + rows) + "\n"


def _written() -> dict:
    """What an import may write."""
    return counts(Sale, Customer, CommissionEntry, AuditEvent)


def test_a_dry_run_answers_what_would_be_made_and_writes_nothing(api, world):
    headers = headers_for(world["maria"])
    before = _written()
    response = api.post(f"{API}/imports/sales", headers=headers, json={"csv": _csv(*GOOD), "dry_run": True})
    assert response.status_code == 200, response.json
    assert (response.json["created"], response.json["skipped"], response.json["volume"]) == (2, 0, "249.99")
    assert [(r["line"], r["key"], r["created"]) for r in response.json["rows"]] == [(2, "row-0001", True),
                                                                                   (3, "row-0002", True)]
    assert _written() == before and jobs("default") == []


def test_an_import_makes_every_row_and_a_second_skips_them(api, world):
    headers = headers_for(world["maria"])
    made = api.post(f"{API}/imports/sales", headers=headers, json={"csv": _csv(*GOOD)})
    assert made.status_code == 201, made.json
    assert made.json["created"] == 2 and made.json["dry_run"] is False
    assert counts(Sale)["Sale"] == 2
    again = api.post(f"{API}/imports/sales", headers=headers, json={"csv": _csv(*GOOD)})
    assert (again.status_code, again.json["created"], again.json["skipped"]) == (201, 0, 2)
    assert counts(Sale)["Sale"] == 2 and all(r["sale_id"] for r in again.json["rows"])


def test_a_refused_row_refuses_the_whole_import_beside_its_cell(api, world):
    headers = headers_for(world["maria"])
    before = _written()
    error = error_of(api.post(f"{API}/imports/sales", headers=headers, json={"csv": _csv(
        *GOOD, "row-0003,bob@example.com,WID-1,Acme Corp,1,10.00,2026-11-03,", "row-0004,ann@example.com,NOPE,Acme Corp,1,"
        "10.00,2026-11-03,")}), 422)
    assert set(error["fields"]) == {"lines.4.agent_email", "lines.5.sku"}, error
    assert "nothing was imported" in error["message"]
    assert "csv" in error_of(api.post(f"{API}/imports/sales", headers=headers,
                                      json={"csv": "date,amount\n2026-11-03,1\n"}), 422)["fields"]
    assert _written() == before and jobs("default") == []


def test_agents_and_read_tokens_cannot_import(api, world):
    body = {"csv": _csv(*GOOD)}
    assert error_of(api.post(f"{API}/imports/sales", headers=headers_for(world["ann"]), json=body), 403)
    assert error_of(api.post(f"{API}/imports/sales", headers=headers_for(world["maria"], "read"), json=body), 403)
    assert counts(Sale)["Sale"] == 0


# --- POST /imports/targets ----------------------------------------------------------------------


def test_an_admin_imports_targets_all_or_none(api, world, factory):
    from webapp.commissions.models import Target

    admin = headers_for(factory.user("admin"))
    good = "email,month,amount\nann@example.com,2026-11,5000.00\nbob@example.com,2026-12,7000.00\n"
    made = api.post(f"{API}/imports/targets", headers=admin, json={"csv": good})
    assert made.status_code == 200, made.json
    assert (made.json["set"], made.json["operation_id"]) == (2, None)
    assert counts(Target)["Target"] == 2
    bad = "email,month,amount\nann@example.com,2026-11,6000.00\nnobody@example.com,2026-13,0\n"
    error = error_of(api.post(f"{API}/imports/targets", headers=admin, json={"csv": bad}), 422)
    assert list(error["fields"]) == ["lines.3"] and "no agent has the email" in error["fields"]["lines.3"]
    assert "csv" in error_of(api.post(f"{API}/imports/targets", headers=admin, json={"csv": "who,when\n"}),
                             422)["fields"]
    assert api.get(f"{API}/targets?month=2026-11", headers=admin).json["items"][0]["amount"] == "5000.00"
    assert error_of(api.post(f"{API}/imports/targets", headers=headers_for(world["maria"]), json={"csv": good}), 403)


def test_many_targets_are_set_by_a_background_operation(app, api, world, factory, monkeypatch):
    from webapp.operations.services import run_to_end

    monkeypatch.setitem(app.config, "OPERATION_INLINE_LIMIT", 1)
    admin = headers_for(factory.user("admin"))
    many = "email,month,amount\nann@example.com,2026-11,5000.00\nbob@example.com,2026-11,7000.00\n"
    started = api.post(f"{API}/imports/targets", headers=admin, json={"csv": many})
    assert started.status_code == 200 and started.json["set"] == 0 and started.headers["Operation-Location"]
    run_to_end(started.json["operation_id"])
    assert len(api.get(f"{API}/targets?month=2026-11", headers=admin).json["items"]) >= 2
