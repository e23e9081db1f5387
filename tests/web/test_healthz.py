"""/healthz: 200 when the database and Redis answer, 503 when either does not."""

from __future__ import annotations

import redis
from sqlalchemy.exc import OperationalError

from webapp.extensions import db


def test_healthz_is_ok_when_database_and_redis_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_healthz_needs_no_sign_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert "Location" not in response.headers


def test_healthz_is_503_when_redis_is_down(app, client, monkeypatch):
    dead = redis.Redis(port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    monkeypatch.setitem(app.extensions, "redis", dead)
    try:
        response = client.get("/healthz")
    finally:
        dead.close()
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"] == "ok"
    assert checks["redis"] != "ok"


def test_healthz_is_503_when_the_database_is_unreachable(app, client, monkeypatch):
    def unreachable(*args, **kwargs):
        """Fail the way a lost database connection does."""
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(db.session, "execute", unreachable)
    response = client.get("/healthz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"] != "ok"
    assert checks["redis"] == "ok"


def test_healthz_recovers_when_redis_comes_back(app, client, monkeypatch):
    dead = redis.Redis(port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    monkeypatch.setitem(app.extensions, "redis", dead)
    assert client.get("/healthz").status_code == 503
    monkeypatch.undo()
    dead.close()
    assert client.get("/healthz").status_code == 200
