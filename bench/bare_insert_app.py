"""Baseline for bench/log_sale_http.py: a bare Flask + Flask-SQLAlchemy app with one insert endpoint.

Served by gunicorn as `bench.bare_insert_app:app` with BARE_DATABASE_URL naming its own scratch
PostgreSQL database (the benchmark creates and drops it). POST /sales takes the same form fields as
the real log-a-sale form, turns them into integers (money in cents, never float) and a date, inserts
one row of the same shape as a sale, commits and answers 201. No login, CSRF, lock, audit or
template: it is the floor a Flask + SQLAlchemy + PostgreSQL insert costs on this machine.
"""

from __future__ import annotations

import datetime
import os

from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, Date, DateTime, Integer, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the baseline's one table."""


db = SQLAlchemy(model_class=Base)


class BareSale(Base):
    """A row shaped like a sale: ids, quantity, cents, date, status, key, note, timestamp."""

    __tablename__ = "bare_sales"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(Integer, index=True)
    product_id: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    sold_on: Mapped[datetime.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def _cents(text: str) -> int:
    """'125.00' as 12500 cents, with integer arithmetic only."""
    whole, _, frac = text.strip().partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def create_app(url: str | None = None) -> Flask:
    """The baseline app on `url` (default: BARE_DATABASE_URL), its table created if missing."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = url or os.environ["BARE_DATABASE_URL"]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}  # as the real app
    db.init_app(app)

    @app.post("/sales")
    def create():
        """Insert one sale-shaped row from the posted form and commit."""
        form = request.form
        quantity = int(form["quantity"])
        unit_price_cents = _cents(form["unit_price"])
        sale = BareSale(agent_id=request.args.get("agent_id", 0, type=int), product_id=int(form["product_id"]),
                        customer_id=int(form["customer_id"]), quantity=quantity,
                        unit_price_cents=unit_price_cents, amount_cents=quantity * unit_price_cents,
                        sold_on=datetime.date.fromisoformat(form["sold_on"]), status="pending",
                        idempotency_key=form["idempotency_key"], note=form.get("note") or None)
        db.session.add(sale)
        db.session.flush()
        sale_id = sale.id  # read before the commit expires it (no SELECT after the commit)
        db.session.commit()
        return {"id": sale_id}, 201

    return app


if os.environ.get("BARE_DATABASE_URL"):
    app = create_app()
