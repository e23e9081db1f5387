"""100 concurrent submissions of the same sale with the same idempotency key make exactly one sale.

Real PostgreSQL, committed data, one thread per submission, each with its own app context (so its
own session and connection from the private engine of the `committed` fixture). Each submission
names a NEW customer, so a loser that got as far as inserting would also leave a second customer
record behind: the test counts customers too. Three doors: the service (create_sale), the agent's
form (POST /sales with the same signed key, a separate test client per submission) and the API
(POST /api/v1/sales with the same Idempotency-Key header).
"""

from __future__ import annotations

import threading
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_from, sign_in
from tests.support.committed import own_session
from webapp.auth.tokens import create_token
from webapp.auth.models import User
from webapp.catalog.models import Customer
from webapp.extensions import db
from webapp.sales.forms import new_form_key
from webapp.sales.models import Sale
from webapp.sales.services import SaleInput, create_sale

N = 100
WAIT = 60  # seconds: a barrier or a join that takes longer than this means the test is stuck
TODAY = date(2032, 5, 14)  # far from the dates other tests use
SOLD_ON = date(2032, 5, 10)


def _setup(factory) -> dict:
    """An agent on a plan with one product; committed. Returns ids (threads load their own rows)."""
    agent = factory.user("agent")
    factory.assign(agent, factory.plan(base_rate="5", name=f"Dup {uuid.uuid4().hex[:8]}"))
    product = factory.product()
    db.session.commit()
    return {"agent": agent.id, "product": product.id, "customer": f"Duplicate Buyer {uuid.uuid4().hex[:8]}"}


def _in_threads(work) -> list:
    """Run work(index) in N threads released together; returns each outcome (a value or the exception)."""
    start = threading.Barrier(N)
    outcomes: list = [None] * N

    def run(index: int) -> None:
        try:
            outcomes[index] = work(index, start)
        except BaseException as exc:  # noqa: BLE001  (reported by the assertions below)
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(N)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 2)
    assert not any(thread.is_alive() for thread in threads), "a submission is stuck"
    return outcomes


def _rows(engine, ids: dict) -> tuple[list[int], int]:
    """Committed sales of the agent and customers of the test's name, read on a fresh connection."""
    with engine.connect() as connection:
        sales = list(connection.scalars(select(Sale.id).where(Sale.agent_id == ids["agent"])))
        customers = connection.scalar(select(func.count()).select_from(Customer)
                                      .where(Customer.name == ids["customer"]))
    return sales, customers


@pytest.fixture
def ids(app, factory, committed, today):
    """The committed agent, product and the new customer's name."""
    today(TODAY)
    return _setup(factory)


def test_service_makes_one_sale(app, committed, ids):
    """create_sale in 100 threads, same actor and key: one creates, 99 get the same sale back."""
    key = uuid.uuid4().hex

    def submit(index, start):
        start.wait(WAIT)  # before any query: a thread waiting here must not hold a pooled connection
        with own_session(app):
            agent = db.session.get(User, ids["agent"])
            sale, created = create_sale(agent, SaleInput(
                product_id=ids["product"], quantity=2, unit_price=Decimal("12.50"), sold_on=SOLD_ON,
                new_customer_name=ids["customer"]), idempotency_key=key)
            db.session.commit()
            return sale.id, created

    outcomes = _in_threads(submit)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert not errors, errors[:3]
    sales, customers = _rows(committed, ids)
    assert len(sales) == 1
    assert sorted(created for _, created in outcomes) == [False] * (N - 1) + [True]
    assert {sale_id for sale_id, _ in outcomes} == set(sales)
    assert customers == 1, "a duplicate submission left a second customer record"


def test_agent_form_makes_one_sale(app, committed, ids):
    """POST /sales 100 times at once with one signed form key, each from its own signed-in client."""
    with app.app_context():
        agent = db.session.get(User, ids["agent"])
        form_key = new_form_key()
    clients = []
    for _ in range(N):
        client = app.test_client()
        sign_in(client, agent)
        clients.append(client)

    def submit(index, start):
        client = clients[index]
        page = client.get("/dashboard")
        assert page.status_code == 200
        data = {"csrf_token": csrf_token_from(page.get_data(as_text=True)), "idempotency_key": form_key,
                "product_id": str(ids["product"]), "quantity": "2", "unit_price": "12.50",
                "sold_on": SOLD_ON.isoformat(), "customer": ids["customer"]}
        start.wait(WAIT)
        return client.post("/sales", data=data, headers={"HX-Request": "true"}).status_code

    statuses = _in_threads(submit)
    errors = [o for o in statuses if isinstance(o, BaseException)]
    assert not errors, errors[:3]
    assert sorted(statuses) == [200] * (N - 1) + [201]
    sales, customers = _rows(committed, ids)
    assert len(sales) == 1
    assert customers == 1, "a duplicate submission left a second customer record"


def test_api_makes_one_sale(app, committed, ids):
    """POST /api/v1/sales 100 times at once with one Idempotency-Key: one 201, 99 times 200, one sale."""
    with app.app_context():
        _, token = create_token(db.session.get(User, ids["agent"]), name="duplicates", scope="write")
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    body = {"product_id": ids["product"], "quantity": 2, "unit_price": "12.50", "sold_on": SOLD_ON.isoformat(),
            "customer_name": ids["customer"]}
    clients = [app.test_client() for _ in range(N)]

    def submit(index, start):
        start.wait(WAIT)
        response = clients[index].post("/api/v1/sales", json=body, headers=headers)
        return response.status_code, (response.get_json() or {}).get("id")

    outcomes = _in_threads(submit)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert not errors, errors[:3]
    assert sorted(status for status, _ in outcomes) == [200] * (N - 1) + [201], outcomes
    sales, customers = _rows(committed, ids)
    assert len(sales) == 1
    assert {sale_id for _, sale_id in outcomes} == set(sales)
    assert customers == 1, "a duplicate submission left a second customer record"


def test_api_key_on_another_post_makes_one_product(app, committed, ids, factory):
    """POST /api/v1/products 100 times at once with one Idempotency-Key (the generic store, not a
    sale's own key): one product, and every answer is the first one (99 of them replayed)."""
    from webapp.catalog.models import Product

    _, token = create_token(factory.user("admin"), name="duplicates", scope="write")
    category = db.session.get(Product, ids["product"]).category.code
    db.session.commit()
    sku = f"DUP-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    body = {"sku": sku, "name": "Duplicate desk", "category": category, "list_price": "12.50"}
    clients = [app.test_client() for _ in range(N)]

    def submit(index, start):
        start.wait(WAIT)
        response = clients[index].post("/api/v1/products", json=body, headers=headers)
        return response.status_code, response.get_json(), response.headers.get("Idempotent-Replayed")

    outcomes = _in_threads(submit)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert not errors, errors[:3]
    assert [status for status, _, _ in outcomes] == [201] * N, outcomes[:3]
    assert sorted(str(replayed) for _, _, replayed in outcomes) == ["None"] + ["true"] * (N - 1)
    with committed.connect() as connection:
        made = list(connection.scalars(select(Product.id).where(Product.sku == sku)))
    assert len(made) == 1 and {answer["id"] for _, answer, _ in outcomes} == set(made)
