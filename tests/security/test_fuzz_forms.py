"""Hypothesis junk into every field of the main forms and API bodies: never a 5xx, and a refused
(4xx) request writes nothing. Each example runs inside a savepoint that is rolled back after it."""

from __future__ import annotations

import io
import json
import re
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.security._world import World, row_counts
from webapp.commissions.models import CommissionEntry
from webapp.extensions import db

ODD = [
    "", " ", "0", "-0", "-1", "-0.01", "0.001", "1e3", "1E-7", "1e308", "-1e308", "1e999", "NaN", "nan", "-NaN",
    "Infinity", "-inf", "sNaN", "1,000.00", "1.000,00", "$5", "€5", "5 USD", "0x10", "0b11", "1_000",
    "99999999999999999999999999999999", "-99999999999999999999", "2147483648", "9223372036854775808",
    "2026-02-30", "2026-13-01", "0000-00-00", "0001-01-01", "9999-12-31", "10000-01-01", "-2026-01-01",
    "30/11/2026", "11/30/2026", "20261120", "2026-11-20T25:00:00", "2026-11-20 00:00:00+99:00", "Nov 20",
    "null", "None", "true", "[]", "{}", "<script>alert(1)</script>", "'; DROP TABLE users;--", "%s%s%n",
    "\x00", "a\x00b", "\u202e\u202d", "\ufeff1", "١٢٣", "１２３", "🙂" * 50, "\n\r\t", "../../etc/passwd",
]
JUNK_TEXT = st.one_of(
    st.sampled_from(ODD),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.dates(min_value=date(1, 1, 1)).map(lambda d: d.strftime("%d.%m.%Y")),
    st.integers(min_value=1000, max_value=200_000).map(lambda n: "9" * n),
)
JUNK_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
              st.floats(allow_nan=False, allow_infinity=False), JUNK_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=5,
)
FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def world(app, factory, today):
    w = World(app, factory, today)
    from webapp.disputes.services import open_dispute

    w.pending_a = factory.sale(w.agent_a, "300.00", date(2026, 11, 19), product=w.product, approve=False)
    sale = factory.sale(w.agent_a, "400.00", date(2026, 11, 18), product=w.product)
    w.entry_a = db.session.scalar(select(CommissionEntry).where(CommissionEntry.sale_id == sale.id))
    other = factory.sale(w.agent_a, "450.00", date(2026, 11, 18), product=w.product)
    other_entry = db.session.scalar(select(CommissionEntry).where(CommissionEntry.sale_id == other.id))
    w.dispute_a = open_dispute(w.agent_a, other_entry.id, "Please check")
    db.session.flush()
    return w


def _savepointed(check):
    """Run one example inside a savepoint of the test's connection, rolled back after."""
    connection = db.session.connection()
    savepoint = connection.begin_nested()
    try:
        check()
    finally:
        savepoint.rollback()
        db.session.expire_all()


def _errors(response) -> str:
    """The field errors on a refused form page."""
    return " | ".join(re.findall(r"error[^>]*>([^<]{3,200})<", response.get_data(as_text=True)))


def _assert_clean(response, before, what):
    status = response.status_code
    assert status < 500, (what, status, response.get_data(as_text=True)[:500])
    if 400 <= status < 500:
        after = row_counts()
        assert after == before, (what, status, {k: (before[k], after[k]) for k in before if before[k] != after[k]})


def _form_key() -> str:
    """A signed idempotency key, as the sale form renders one."""
    from webapp.sales.forms import new_form_key

    return new_form_key()


# (name, role, url(world), fields with a valid value each; every field is fuzzed)
FORMS = [
    ("log a sale", "agent", lambda w: "/sales",
     lambda w: {"product_id": w.product.id, "customer": "Acme", "customer_id": w.customer.id, "quantity": "1",
                "unit_price": "10.00", "sold_on": "2026-11-20", "note": "n", "idempotency_key": _form_key()}),
    ("edit sale", "agent", lambda w: f"/sales/{w.pending_a.id}/edit",
     lambda w: {"product_id": w.product.id, "customer": "Acme", "customer_id": w.customer.id, "quantity": "2",
                "unit_price": "10.00", "sold_on": "2026-11-19", "note": "n"}),
    ("user create", "admin", lambda w: "/admin/users/new",
     lambda w: {"email": "fuzz@example.com", "name": "Fuzz", "role": "agent", "manager_id": w.manager_a.id,
                "password": "long-enough-pw"}),
    ("user edit", "admin", lambda w: f"/admin/users/{w.agent_b.id}",
     lambda w: {"name": "Fuzz", "role": "agent", "manager_id": w.manager_a.id, "active": "y"}),
    ("product", "admin", lambda w: "/admin/products/new",
     lambda w: {"sku": "FUZZ-1", "name": "Fuzz", "category_id": w.product.category_id, "list_price": "12.50",
                "restricted": ""}),
    ("plan", "admin", lambda w: "/admin/plans/new",
     lambda w: {"name": "Fuzz plan", "description": "d", "effective_from": "2026-12-01", "base_rate": "",
                "tier_mode": "marginal", "tiers-0-from_amount": "0", "tiers-0-rate": "5",
                "tiers-1-from_amount": "5000", "tiers-1-rate": "7",
                "category_rates-0-category_id": w.product.category_id, "category_rates-0-rate": "4",
                "product_rates-0-product_id": w.product.id, "product_rates-0-rate": "6"}),
    ("payout", "manager", lambda w: f"/manage/agents/{w.agent_a.id}/payouts",
     lambda w: {"payout-amount": "1.00", "payout-paid_on": "2026-11-20", "payout-reference": "r",
                "payout-advance": ""}),
    ("adjustment", "manager", lambda w: f"/manage/agents/{w.agent_a.id}/adjustments",
     lambda w: {"adjustment-amount": "-2.00", "adjustment-reason": "fix"}),
    ("target", "admin", lambda w: f"/admin/targets/{w.agent_a.id}?month=2026-11", lambda w: {"amount": "500"}),
    ("settings", "admin", lambda w: "/admin/settings",
     lambda w: {"company_name": "Fuzz Co", "approval_required": "y", "period_cadence": "semi_monthly",
                "grace_hours": "24", "reminder_days": "30"}),
    ("statement request", "agent", lambda w: "/statements/request",
     lambda w: {"start": "2026-11-01", "end": "2026-11-20"}),
    ("statement send", "manager", lambda w: "/statements/send",
     lambda w: {"start": "2026-11-01", "end": "2026-11-20", "agent_ids": w.agent_a.id, "all_agents": "",
                "message": "m"}),
    ("dispute comment", "agent", lambda w: f"/ledger/{w.entry_a.id}/dispute", lambda w: {"comment": "Wrong"}),
    ("dispute reply", "manager", lambda w: f"/manage/disputes/{w.dispute_a.id}/reply", lambda w: {"body": "ok"}),
    ("dispute accept", "manager", lambda w: f"/manage/disputes/{w.dispute_a.id}/accept",
     lambda w: {"amount": "5.00", "note": "ok"}),
    ("bulk review", "manager", lambda w: "/manage/review/bulk",
     lambda w: {"sale_ids": w.pending_a.id, "action": "approve", "reason": "r"}),
]


@pytest.mark.parametrize("name, role, url, valid", FORMS, ids=[f[0] for f in FORMS])
def test_form_fields_take_junk(app, world, name, role, url, valid):
    browser = world.browsers[role]
    token = world.csrf(role)
    target = url(world)
    fields = valid(world)

    def accepts_the_valid_form():  # the base values are meaningful: junk is what gets refused
        response = browser.client.post(target, data={**fields, "csrf_token": token})
        assert response.status_code < 400, (name, response.status_code, _errors(response))

    _savepointed(accepts_the_valid_form)

    @FUZZ
    @given(data=st.data())
    def run(data):
        junk = data.draw(st.fixed_dictionaries({}, optional={k: JUNK_TEXT for k in fields}), label="junk")
        form = {**{k: str(v) for k, v in fields.items()}, **junk, "csrf_token": token}

        def check():
            before = row_counts()
            response = browser.client.post(target, data=form)
            _assert_clean(response, before, (name, junk))

        _savepointed(check)

    run()


@FUZZ
@given(content=st.one_of(st.binary(max_size=2000), JUNK_TEXT.map(lambda s: s.encode("utf-8", "surrogatepass")),
                         st.lists(st.lists(JUNK_TEXT, max_size=8), max_size=6).map(
                             lambda rows: "\n".join(",".join(json.dumps(c) for c in r) for r in rows).encode())),
       header=st.booleans(), filename=st.sampled_from(["sales.csv", "x.txt", "../../x.csv", "", "a\x00.csv"]))
def test_csv_import_takes_junk_files(world, content, header, filename):
    browser = world.browsers["manager"]
    if header:
        content = b"agent_email,product_sku,customer,quantity,unit_price,sold_on,note\n" + content

    def check():
        before = row_counts()
        response = browser.client.post("/manage/imports", content_type="multipart/form-data",
                                       data={"csrf_token": world.csrf("manager"),
                                             "file": (io.BytesIO(content), filename)})
        _assert_clean(response, before, ("import", content[:200], filename))
        if response.status_code == 302 and "/manage/imports/" in response.headers["Location"]:
            preview = browser.client.get(response.headers["Location"])
            assert preview.status_code < 500

    _savepointed(check)


# (name, role, method, url(world), valid body(world))
API = [
    ("create sale", "agent", "POST", lambda w: "/api/v1/sales",
     lambda w: {"product_id": w.product.id, "customer_name": "Acme", "customer_email": "a@example.com",
                "quantity": 1, "unit_price": "10.00", "sold_on": "2026-11-20", "note": "n"}),
    ("estimate", "manager", "POST", lambda w: "/api/v1/commissions/estimate",
     lambda w: {"product_id": w.product.id, "quantity": 1, "unit_price": "10.00", "sold_on": "2026-11-20",
                "agent_id": w.agent_a.id}),
    ("create product", "admin", "POST", lambda w: "/api/v1/products",
     lambda w: {"sku": "API-FUZZ", "name": "Fuzz", "category": w.category_code, "list_price": "1.00",
                "restricted": False}),
    ("update product", "admin", "PATCH", lambda w: f"/api/v1/products/{w.product.id}",
     lambda w: {"name": "Fuzz", "category": w.category_code, "list_price": "2.00", "active": True,
                "restricted": False}),
    ("statement run", "manager", "POST", lambda w: "/api/v1/statements/runs",
     lambda w: {"start": "2026-11-01", "end": "2026-11-20", "agent_ids": [w.agent_a.id], "message": "m"}),
    ("reject sale", "manager", "POST", lambda w: f"/api/v1/sales/{w.pending_a.id}/reject",
     lambda w: {"reason": "no"}),
]


@pytest.mark.parametrize("name, role, method, url, valid", API, ids=[a[0] for a in API])
def test_api_bodies_take_junk(app, world, name, role, method, url, valid):
    client = world.browsers[role].client
    target, fields = url(world), valid(world)

    def accepts_the_valid_body():
        response = client.open(target, method=method, json=fields,
                               headers={**world.bearer[role], "Idempotency-Key": "fuzz-valid-1"})
        assert response.status_code < 400, (name, response.status_code, _errors(response))

    _savepointed(accepts_the_valid_body)

    @FUZZ
    @given(data=st.data())
    def run(data):
        junk = data.draw(st.fixed_dictionaries({}, optional={k: JUNK_JSON for k in fields}), label="junk")
        extra = data.draw(st.one_of(st.just({}), st.dictionaries(st.text(max_size=8), JUNK_JSON, max_size=2)))
        body = {**fields, **junk, **extra}
        printable = st.characters(min_codepoint=32, max_codepoint=126)  # what a header can carry
        key = data.draw(st.one_of(st.just("fuzz-key-0001"), st.text(alphabet=printable, max_size=70)))
        headers = {**world.bearer[role], "Idempotency-Key": key}

        def check():
            before = row_counts()
            try:
                payload = json.dumps(body)
            except (TypeError, ValueError):
                payload = "{"
            response = client.open(target, method=method, data=payload, headers=headers,
                                   content_type="application/json")
            _assert_clean(response, before, (name, body))
            if 400 <= response.status_code < 500:
                assert response.is_json and set(response.json) == {"error"}

        _savepointed(check)

    run()


@pytest.mark.parametrize("name, role, url, valid", FORMS, ids=[f[0] for f in FORMS])
def test_a_nul_character_in_any_field_is_refused_cleanly(app, world, name, role, url, valid):
    """PostgreSQL text cannot hold NUL: it must be a 4xx with nothing written, never a 500."""
    browser, token, target, fields = world.browsers[role], world.csrf(role), url(world), valid(world)
    for field in fields:
        def check():
            before = row_counts()
            response = browser.client.post(target, data={**fields, field: "bad\x00value", "csrf_token": token})
            assert 400 <= response.status_code < 500, (name, field, response.status_code)
            _assert_clean(response, before, (name, field))

        _savepointed(check)
