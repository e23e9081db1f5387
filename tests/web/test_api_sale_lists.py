"""API v1 sale list (issue 17): sort orders paged by keyset, the customer and updated_since filters,
and a total on request; each within what the caller may see."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from sqlalchemy import update

from tests.web._api import API, error_of, every_item, headers_for
from webapp.extensions import db
from webapp.sales.models import Sale

TODAY = date(2026, 11, 20)
SORTS = ("-id", "id", "-sold_on", "sold_on", "-amount", "amount")


@pytest.fixture
def team(build, factory):
    """Maria manages Alice and Bob; Carol is on another team."""
    build.on(TODAY)
    maria, (alice, bob) = build.team("Maria", "Alice", "Bob")
    _, (carol,) = build.team(None, "Carol")
    return {"maria": maria, "alice": alice, "bob": bob, "carol": carol, "admin": factory.user("admin")}


@pytest.fixture
def made(team, factory):
    """Nine sales of Alice and Bob with repeated dates and amounts (so ties need the id), and one of Carol's."""
    north, south = factory.customer("Clinic North"), factory.customer("South Dental")
    south.email = "desk@SOUTH.example"
    rows = [("alice", "100.00", 3, north), ("bob", "50.00", 1, south), ("alice", "100.00", 1, south),
            ("alice", "20.00", 3, north), ("bob", "100.00", 2, north), ("alice", "50.00", 3, south),
            ("bob", "20.00", 1, north), ("alice", "50.00", 2, north), ("bob", "100.00", 3, south)]
    sales = [factory.sale(team[who], amount, date(2026, 11, day), customer=customer, approve=False)
             for who, amount, day, customer in rows]
    factory.sale(team["carol"], "75.00", date(2026, 11, 2), customer=north, approve=False)
    return {"sales": sales, "north": north, "south": south}


def _expected(sales: list[Sale], sort: str) -> list[int]:
    """The ids in `sort` order, ties broken by id the same way, worked out here from the rows."""
    key = {"id": lambda s: (s.id,), "sold_on": lambda s: (s.sold_on, s.id),
           "amount": lambda s: (s.amount_cents, s.id)}[sort.lstrip("-")]
    return [s.id for s in sorted(sales, key=key, reverse=sort.startswith("-"))]


def _all_pages(api, query: str, headers, limit: int = 2) -> list[int]:
    """Every id the sale list gives, following next_cursor page by page."""
    return [item["id"] for item in every_item(api, "/sales", headers, query, limit)]


@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_pages_in_order_with_ties_broken_by_id(api, team, made, sort):
    expected = _expected(made["sales"], sort)
    maria = headers_for(team["maria"])
    assert _all_pages(api, f"sort={sort}", maria) == expected
    assert _all_pages(api, f"sort={sort}", maria, limit=4) == expected
    # Alice's own list, in the same order, holds only her sales.
    alice_sales = [s for s in made["sales"] if s.agent_id == team["alice"].id]
    assert _all_pages(api, f"sort={sort}", headers_for(team["alice"])) == _expected(alice_sales, sort)


def test_a_sale_recorded_between_pages_neither_repeats_nor_shifts_the_rest(api, team, made, factory):
    maria = headers_for(team["maria"])
    first = api.get(f"{API}/sales?sort=sold_on&limit=4", headers=maria).json
    factory.sale(team["alice"], "10.00", date(2026, 11, 1), approve=False)  # sorts before the cursor
    rest = _all_pages(api, f"sort=sold_on&cursor={first['next_cursor']}", maria, limit=100)
    assert [i["id"] for i in first["items"]] + rest == _expected(made["sales"], "sold_on")


def test_a_cursor_of_another_order_or_a_forged_one_is_422(api, team, made):
    maria = headers_for(team["maria"])
    by_amount = api.get(f"{API}/sales?sort=amount&limit=2", headers=maria).json["next_cursor"]
    by_id = api.get(f"{API}/sales?limit=2", headers=maria).json["next_cursor"]
    assert error_of(api.get(f"{API}/sales?sort=sold_on&cursor={by_amount}", headers=maria), 422)["fields"] == {
        "cursor": "Not valid."}
    assert error_of(api.get(f"{API}/sales?sort=amount&cursor={by_id}", headers=maria), 422)["fields"] == {
        "cursor": "Not valid."}
    for forged in ("YW1vdW50fHh8MQ", "YW1vdW50fDF8OTk5OTk5OTk5OTk5OTk5OTk5", "!!!"):  # amount|x|1, a huge id
        assert "cursor" in error_of(api.get(f"{API}/sales?sort=amount&cursor={forged}", headers=maria),
                                    422)["fields"]


def test_customer_filters_by_part_of_the_name_or_email_and_by_id(api, team, made):
    sales, maria = made["sales"], headers_for(team["maria"])
    south = [s.id for s in reversed(sales) if s.customer_id == made["south"].id]
    north = [s.id for s in reversed(sales) if s.customer_id == made["north"].id]
    assert _all_pages(api, "customer=dental", maria) == south
    assert _all_pages(api, "customer=south.EXAMPLE", maria) == south
    assert _all_pages(api, f"customer_id={made['north'].id}", maria) == north  # not Carol's: another team
    assert _all_pages(api, f"customer_id={made['north'].id}&customer=south", maria) == []
    alice_south = [s.id for s in reversed(sales) if s.customer_id == made["south"].id
                   and s.agent_id == team["alice"].id]
    assert _all_pages(api, "customer=south", headers_for(team["alice"])) == alice_south


def _stamp(sale: Sale, moment: datetime) -> None:
    """Set when the sale last changed, as an UPDATE of another moment would have."""
    db.session.execute(update(Sale).where(Sale.id == sale.id).values(updated_at=moment))
    db.session.commit()


def test_updated_since_gives_the_sales_changed_at_or_after_the_instant(api, team, made):
    sales, maria = made["sales"], headers_for(team["maria"])
    before = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
    for sale in sales:
        _stamp(sale, before)
    _stamp(sales[4], datetime(2026, 11, 5, 10, 0, tzinfo=timezone.utc))
    assert _all_pages(api, "updated_since=2026-11-05T10:00:00Z", maria) == [sales[4].id]
    # The same instant in another zone (its "+" encoded, as a query string needs).
    assert _all_pages(api, "updated_since=" + quote("2026-11-05T11:00:00+01:00"), maria) == [sales[4].id]
    assert _all_pages(api, "updated_since=2026-11-05T10:00:01Z", maria) == []
    # A decision stamps the sale with the database's clock; asking from the stamp the API showed
    # gives it back (SQLite stores that stamp to the second, PostgreSQL to the microsecond).
    shown = api.post(f"{API}/sales/{sales[7].id}/approve", headers=maria).json["updated_at"]
    assert shown.endswith("Z") and datetime.fromisoformat(shown) > before
    found = _all_pages(api, "updated_since=" + quote(shown), maria)
    assert sales[7].id in found and set(found) <= {sales[4].id, sales[7].id}


def test_the_total_counts_every_page_of_what_the_caller_may_see_when_asked(api, team, made):
    maria, alice = headers_for(team["maria"]), headers_for(team["alice"])
    assert api.get(f"{API}/sales?limit=2", headers=maria).json["total"] is None
    page = api.get(f"{API}/sales?limit=2&include_total=true", headers=maria).json
    assert (len(page["items"]), page["total"]) == (2, 9)
    assert api.get(f"{API}/sales?include_total=true&customer=north", headers=maria).json["total"] == 5
    assert api.get(f"{API}/sales?include_total=true", headers=alice).json["total"] == 5
    assert api.get(f"{API}/sales?include_total=true&sort=amount&start=2026-11-03",
                   headers=headers_for(team["admin"])).json["total"] == 4


@pytest.mark.parametrize("query, field", [
    ("sort=colour", "sort"), ("sort=-customer", "sort"), ("updated_since=2026-11-05T10:00:00", "updated_since"),
    ("updated_since=yesterday", "updated_since"), ("include_total=maybe", "include_total"),
    ("customer=", "customer"), ("customer=" + "x" * 101, "customer"), ("customer_id=0", "customer_id"),
    ("cursor=" + "a" * 121, "cursor"),
])
def test_bad_sort_filter_or_total_is_422_with_the_parameter(api, team, query, field):
    error = error_of(api.get(f"{API}/sales?{query}", headers=headers_for(team["maria"])), 422)
    assert field in error["fields"], error


def test_the_document_lists_the_sorts_and_filters(app):
    spec = app.test_client().get(f"{API}/openapi.json").json
    params = {p["name"]: p for p in spec["paths"]["/sales"]["get"]["parameters"]}
    assert {"customer", "customer_id", "updated_since", "sort", "include_total"} <= set(params)
    assert params["sort"]["schema"]["enum"] == list(SORTS)
    assert "total" in spec["components"]["schemas"]["SalePage"]["properties"]
    assert {"created_at", "updated_at"} <= set(spec["components"]["schemas"]["SaleOut"]["required"])
    docs = app.test_client().get(f"{API}/docs").get_data(as_text=True)
    assert all(f"<code>{name}</code>" in docs for name in ("sort", "updated_since", "include_total", "-id"))


def test_old_default_cursors_still_work_and_the_stamps_are_shown(api, team, made):
    sales, maria = made["sales"], headers_for(team["maria"])
    first = api.get(f"{API}/sales?limit=3", headers=maria).json
    assert [i["id"] for i in first["items"]] == [s.id for s in sales[::-1][:3]]
    assert first["next_cursor"] == "aWQ6" + first["next_cursor"][4:]  # still "id:<n>" underneath
    item = first["items"][0]
    assert datetime.fromisoformat(item["created_at"]) <= datetime.fromisoformat(item["updated_at"]) + timedelta(
        seconds=1)
