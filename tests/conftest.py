"""Shared fixtures: one app per run, a database per run with per-test rollback, role clients."""

from __future__ import annotations

import contextvars
import os
import re
from pathlib import Path

import pytest
from flask.globals import _cv_app
from flask.testing import FlaskClient
from hypothesis import settings
from flask_sqlalchemy.session import Session as FlaskSQLAlchemySession
from sqlalchemy import create_engine, text
from werkzeug.security import generate_password_hash

from webapp import create_app
from webapp.auth.models import Role, User
from webapp.extensions import db, limiter

# The Mailchimp stub and the backend pointed at it; a real committing session for race tests;
# queue helpers (empty_queues, redis_down); the world builder (build).
pytest_plugins = ["tests.support.fixtures", "tests.support.committed", "tests.support.queues",
                  "tests.support.world"]

# CI runs fewer examples, and the same ones every run (derandomize), so .ci/run stays inside its time
# budget and a landing never depends on a lucky draw; the dev profile keeps exploring new inputs.
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

TEST_PASSWORD = "correct-horse-battery"
# Hashed once: scrypt is deliberately slow and the factories make many users.
_TEST_PASSWORD_HASH = generate_password_hash(TEST_PASSWORD, method="scrypt")
_CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


class _ConnectionBoundSession(FlaskSQLAlchemySession):
    """Flask-SQLAlchemy's session ignores `bind=`; tests need it to stay on their connection."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        return bind or self.bind


class IsolatedClient(FlaskClient):
    """A test client whose requests each get their own app context, as in production.

    The per-test fixture keeps an app context pushed; Flask reuses a pushed app context for a
    request, so without this every request of a test would share one `g` (Flask-Login caches the
    signed-in user there: a second client would be served as the first client's user) and one
    database session.
    """

    def open(self, *args, **kwargs):
        """Run the request in a copy of the context without the test's app context."""

        def run():
            _cv_app.set(None)
            return super(IsolatedClient, self).open(*args, **kwargs)

        return contextvars.copy_context().run(run)


def _reset_postgres_schema(url: str) -> None:
    """Start the run from an empty schema, so the migrations build everything."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _test_redis():
    """A real Redis when TEST_REDIS_URL is set, otherwise fakeredis (in-process tests only)."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        import redis

        client = redis.Redis.from_url(url)
        client.flushdb()
        return client, url
    import fakeredis

    return fakeredis.FakeRedis(), "memory://"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """PostgreSQL from TEST_DATABASE_URL, or a fresh SQLite file for this run."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        from webapp.config import normalise_database_url

        url = normalise_database_url(url)
        _reset_postgres_schema(url)
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """The application, with its schema built by the migrations."""
    from flask_migrate import upgrade

    redis_client, limiter_storage = _test_redis()
    application = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_CLIENT": redis_client,
        "RATELIMIT_STORAGE_URI": limiter_storage,
        "OUTBOX_DIR": str(tmp_path_factory.mktemp("outbox")),
        "SERVER_NAME": "sales.test",
    })
    application.test_client_class = IsolatedClient
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _rollback(app):
    """Run each test inside a transaction that is rolled back; route commits become savepoints."""
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {"bind": connection, "join_transaction_mode": "create_savepoint",
             "class_": _ConnectionBoundSession}
        )
        limiter.reset()
        try:
            yield
        finally:
            db.session.remove()
            db.session = original
            transaction.rollback()
            connection.close()
            # The rolled-back rows may be cached (SQLite reuses their ids in the next test).
            app.extensions["hot_cache"].clear()


@pytest.fixture
def client(app):
    """An anonymous test client."""
    return app.test_client()


@pytest.fixture
def outbox(app):
    """The outbox backend; messages from earlier tests are cleared."""
    import shutil

    from webapp.mail.backends import get_backend

    with app.app_context():
        backend = get_backend()
    shutil.rmtree(backend.directory, ignore_errors=True)
    return backend


class Factory:
    """Makes records with sensible defaults; each call gets a unique email."""

    def __init__(self):
        self.counter = 0

    def user(self, role: Role | str = Role.AGENT, manager: User | None = None, **fields) -> User:
        """A user, flushed; agents get a fresh manager unless one is given."""
        self.counter += 1
        role = Role(role).value
        if role == Role.AGENT.value and manager is None and "manager_id" not in fields:
            manager = self.user(Role.MANAGER)
        user = User(
            email=fields.pop("email", f"{role}{self.counter}@example.com"),
            name=fields.pop("name", f"{role.title()} {self.counter}"),
            role=role,
            manager_id=manager.id if manager else fields.pop("manager_id", None),
            password_hash=_TEST_PASSWORD_HASH,
            active=fields.pop("active", True),
            **fields,
        )
        db.session.add(user)
        db.session.flush()
        return user

    def category(self, code: str | None = None, name: str | None = None):
        """A category."""
        from webapp.catalog.models import Category

        self.counter += 1
        category = Category(code=code or f"cat_{self.counter}", name=name or f"Category {self.counter}")
        db.session.add(category)
        db.session.flush()
        return category

    def product(self, sku: str | None = None, category=None, list_price_cents: int = 100_000, **fields):
        """A product (open to every agent unless restricted=True)."""
        from webapp.catalog.models import Product

        self.counter += 1
        product = Product(sku=sku or f"SKU-{self.counter}", name=fields.pop("name", f"Product {self.counter}"),
                          category_id=(category or self.category()).id, list_price_cents=list_price_cents,
                          **fields)
        db.session.add(product)
        db.session.flush()
        return product

    def customer(self, name: str | None = None):
        """A customer."""
        from webapp.catalog.models import Customer

        self.counter += 1
        customer = Customer(name=name or f"Customer {self.counter}")
        db.session.add(customer)
        db.session.flush()
        return customer

    def plan(self, base_rate=None, tiers=(), tier_mode=None, effective_from=None, name=None, **overrides):
        """A plan through the plan service (rates and amounts as strings or Decimals; `basis`
        "target_percent" for an attainment plan)."""
        from datetime import date
        from decimal import Decimal

        from webapp.commissions.plans import PlanRules, create_plan

        self.counter += 1
        rules = PlanRules(
            base_rate=Decimal(str(base_rate)) if base_rate is not None else None,
            tiers=[(Decimal(str(f)), Decimal(str(r))) for f, r in tiers], tier_mode=tier_mode,
            category_rates={k: Decimal(str(v)) for k, v in overrides.get("category_rates", {}).items()},
            product_rates={k: Decimal(str(v)) for k, v in overrides.get("product_rates", {}).items()},
            basis=overrides.get("basis"),
        )
        return create_plan(None, name=name or f"Plan {self.counter}", description=None, rules=rules,
                           effective_from=effective_from or date(2000, 1, 1))

    def assign(self, agent, plan, effective_from=None, effective_to=None):
        """Put an agent on a plan."""
        from datetime import date

        from webapp.commissions.assignments import assign_plan

        return assign_plan(None, agent_id=agent.id, plan_id=plan.id,
                           effective_from=effective_from or date(2000, 1, 1), effective_to=effective_to)

    def sale(self, agent, amount: str, sold_on, *, approve: bool = True, status: str | None = None,
             product=None, customer=None, quantity: int = 1, note: str | None = None,
             entered_by: User | None = None):
        """A sale through the sales service, entered by the agent (or by `entered_by` for them), then
        decided by their manager: approved, or pending with approve=False, or as `status` says
        ("pending", "approved", "rejected" or "voided"). `customer`: a Customer, a new one's name,
        or None for a fresh one."""
        import uuid
        from decimal import Decimal

        from webapp.sales.services import SaleInput, approve_sale, create_sale, reject_sale, void_sale

        status = status or ("approved" if approve else "pending")
        product = product or self.product()
        if customer is None or isinstance(customer, str):
            customer = self.customer(customer)
        actor = entered_by or agent
        sale, _ = create_sale(actor, SaleInput(product_id=product.id, quantity=quantity,
                                               unit_price=Decimal(amount) / quantity, sold_on=sold_on,
                                               customer_id=customer.id, note=note),
                              idempotency_key=uuid.uuid4().hex, agent_id=None if actor is agent else agent.id)
        if status == "rejected":
            reject_sale(agent.manager, sale, "No signature")
        elif status in ("approved", "voided"):
            approve_sale(agent.manager, sale)
        if status == "voided":
            void_sale(agent.manager, sale, "Returned")
        return sale


@pytest.fixture
def today(monkeypatch):
    """Freeze the installation's "today": call today(date(2026, 11, 20)) to move it."""
    from webapp import clock

    def set_today(day):
        monkeypatch.setattr(clock, "today", lambda: day)
        return day

    return set_today


@pytest.fixture
def at(monkeypatch):
    """Freeze the clock: at(instant) makes it that instant (and that day in the installation's zone)."""
    from datetime import timezone

    from webapp import clock

    def move(moment):
        """Set the clock to `moment` (an aware datetime)."""
        moment = moment.astimezone(timezone.utc)
        monkeypatch.setattr(clock, "now_utc", lambda: moment)
        monkeypatch.setattr(clock, "today", lambda: moment.astimezone(clock.installation_zone()).date())
        return moment

    return move


@pytest.fixture
def factory(app) -> Factory:
    """Record factories."""
    return Factory()


def csrf_token_from(html: str) -> str:
    """The CSRF token rendered into a page (hidden input or the hx-headers attribute)."""
    match = _CSRF_PATTERN.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


class Browser:
    """A test client that posts forms the way a browser does: with the page's CSRF token."""

    def __init__(self, client):
        self.client = client

    def get(self, url, **kwargs):
        """GET a page."""
        return self.client.get(url, **kwargs)

    def token(self, url: str = "/login") -> str:
        """Fetch a page and read its CSRF token."""
        return csrf_token_from(self.client.get(url, follow_redirects=True).get_data(as_text=True))

    def post(self, url, data=None, token_from: str | None = None, **kwargs):
        """POST a form with a valid CSRF token taken from `token_from` (default: the same URL)."""
        data = dict(data or {})
        data.setdefault("csrf_token", self.token(token_from or url))
        return self.client.post(url, data=data, **kwargs)


def sign_in(client, user: User) -> None:
    """Put `user` in the client's session, as Flask-Login does after a successful login."""
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


@pytest.fixture
def browser(client) -> Browser:
    """An anonymous browser."""
    return Browser(client)


def browser_as(app, user: User) -> Browser:
    """A browser signed in as `user` (who is `browser.user`)."""
    client = app.test_client()
    sign_in(client, user)
    browser = Browser(client)
    browser.user = user
    return browser


@pytest.fixture
def as_agent(app, factory):
    """A browser signed in as a fresh agent (the agent is `as_agent.user`)."""
    return browser_as(app, factory.user(Role.AGENT))


@pytest.fixture
def as_manager(app, factory):
    """A browser signed in as a fresh manager."""
    return browser_as(app, factory.user(Role.MANAGER))


@pytest.fixture
def as_admin(app, factory):
    """A browser signed in as a fresh admin."""
    return browser_as(app, factory.user(Role.ADMIN))


@pytest.fixture
def project_root() -> Path:
    """The repository root."""
    return Path(__file__).resolve().parent.parent
