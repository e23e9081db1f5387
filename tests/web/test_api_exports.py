"""API v1 CSV exports (issue 17, parity with the exports page): the very files the page downloads,
for managers (their team) and admins (all), with the range checked and the token's area needed."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from tests.web._api import API, error_of, headers_for
from tests.web._streaming import StreamingClient, streaming_browser
from webapp.auth.tokens import create_token

TODAY = date(2026, 11, 20)
NOVEMBER = "start=2026-11-01&end=2026-11-20"


@pytest.fixture
def api(app):
    """A plain client (the API never uses cookies) whose streamed answers can be read."""
    return StreamingClient(app, app.response_class)


@pytest.fixture
def team(build, factory):
    """Maria manages Alice, Olga manages Carol (3%); sales of each in November, one pending."""
    build.on(TODAY)
    maria, (alice,) = build.team("Maria", "Alice")
    olga, (carol,) = build.team("Olga", "Carol")
    sales = [factory.sale(alice, "1000.00", date(2026, 11, 3)), factory.sale(alice, "250.00", date(2026, 11, 4),
                                                                          approve=False),
             factory.sale(carol, "400.00", date(2026, 11, 5))]
    return {"maria": maria, "alice": alice, "olga": olga, "carol": carol, "admin": factory.user("admin"),
            "sales": sales}


def _rows(response) -> list[dict]:
    """The CSV answer's rows, after checking it is one."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize("kind", ["sales", "ledger"])
def test_the_api_gives_the_same_file_as_the_exports_page(app, api, team, kind):
    for who in ("maria", "admin"):
        page = streaming_browser(app, team[who]).get(f"/manage/exports/{kind}.csv?{NOVEMBER}")
        answer = api.get(f"{API}/exports/{kind}.csv?{NOVEMBER}", headers=headers_for(team[who]))
        assert answer.status_code == 200 and answer.get_data() == page.get_data()
        assert answer.headers["Content-Disposition"] == page.headers["Content-Disposition"]


def test_a_manager_gets_their_teams_rows_only(api, team):
    sales = _rows(api.get(f"{API}/exports/sales.csv?{NOVEMBER}", headers=headers_for(team["maria"])))
    alice = {str(s.id) for s in team["sales"][:2]}
    assert {row["sale_id"] for row in sales} == alice
    pending = _rows(api.get(f"{API}/exports/sales.csv?{NOVEMBER}&status=pending", headers=headers_for(team["maria"])))
    assert {row["sale_id"] for row in pending} == {str(team["sales"][1].id)}
    olga = _rows(api.get(f"{API}/exports/ledger.csv?{NOVEMBER}", headers=headers_for(team["olga"])))
    assert olga and all("Carol" in row.values() for row in olga)


@pytest.mark.parametrize("query, field", [
    ("start=2026-11-10&end=2026-11-01", "end"), ("start=2026-11-01", "end"), ("end=2026-11-01", "start"),
    ("start=01/11/2026&end=2026-11-20", "start"), (f"{NOVEMBER}&status=won", "status"), (f"{NOVEMBER}&x=1", "x"),
])
def test_a_bad_range_is_422_naming_the_parameter(api, team, query, field):
    assert field in error_of(api.get(f"{API}/exports/sales.csv?{query}", headers=headers_for(team["maria"])),
                             422)["fields"]


def test_agents_and_tokens_without_the_area_get_no_file(api, team):
    assert error_of(api.get(f"{API}/exports/sales.csv?{NOVEMBER}", headers=headers_for(team["alice"])), 403)
    ledger_only = {"Authorization": "Bearer " + create_token(team["maria"], name="books",
                                                             access={"ledger": "read"})[1]}
    assert error_of(api.get(f"{API}/exports/sales.csv?{NOVEMBER}", headers=ledger_only), 403)
    assert _rows(api.get(f"{API}/exports/ledger.csv?{NOVEMBER}", headers=ledger_only))
