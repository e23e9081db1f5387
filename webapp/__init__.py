"""Sales Tracking: application factory."""

from __future__ import annotations

import os
from pathlib import Path

import redis
from flask import Flask, abort, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp import models as _models  # noqa: F401  (registers every table on the metadata)
from webapp import hot_cache, money, panel_cache, request_ids, tasks, transactions
from webapp.api.framework import error_response
from webapp.auth import access
from webapp.blueprints import BLUEPRINTS
from webapp.commands import commissions_cli, demo_cli, users_cli
from webapp.commissions.models import ENTRY_KIND_LABELS
from webapp.config import load_config
from webapp.disputes import template_helpers as dispute_template_helpers
from webapp.plandocs import template_helpers as plandoc_template_helpers
from webapp.error_headers import kept_headers
from webapp.errors import NotFound
from webapp.extensions import csrf, db, limiter, login_manager, migrate
from webapp.formtools import MAX_DB_ID
from webapp.main.navigation import navigation_for
from webapp.private_files import create_private_file, private_dir
from webapp.statements import mail_hooks as statement_mail_hooks
from webapp.webhooks import sources as webhook_sources

ROOT = Path(__file__).resolve().parent.parent

# One origin, no inline code: htmx is configured through a <meta> tag, so no eval is needed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def create_app(config: dict | None = None) -> Flask:
    """Create the Flask app; `config` overrides what the environment gives."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    overrides = dict(config or {})
    redis_override = overrides.pop("REDIS_CLIENT", None)
    app.config.update(load_config(dict(os.environ), Path(app.instance_path)))
    app.config.update(overrides)

    if app.config["TRUST_PROXY_HOPS"]:
        hops = app.config["TRUST_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    register_extensions(app, redis_override)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_security_headers(app)
    request_ids.init_app(app)
    register_input_guards(app)
    register_template_helpers(app)
    register_mail_attachments(app)
    return app


def register_input_guards(app: Flask) -> None:
    """Refuse input no row could hold before it reaches the database (where it was a 500): an id
    in a page's URL beyond a PostgreSQL INTEGER is 404 (the JSON API checks its own ids, with its
    own error body), a NUL character in any form or query value is 400."""

    @app.url_value_preprocessor
    def _refuse_ids_beyond_the_database(endpoint, values):
        if not values or (endpoint or "").startswith("api."):
            return
        if any(type(value) is int and abs(value) > MAX_DB_ID for value in values.values()):
            abort(404)

    @app.before_request
    def _refuse_nul_characters():
        """No one types a NUL; PostgreSQL text cannot hold one (psycopg DataError: a 500 after the
        form validated). Refuse it in any form field or query value before a view sees it."""
        if any("\x00" in value for _, value in request.values.items(multi=True)):
            abort(400)


def register_extensions(app: Flask, redis_override=None) -> None:
    """Bind the unbound extensions to this app."""
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    limiter.init_app(app)
    tasks.init_app(app)
    app.extensions["redis"] = redis_override or redis.Redis.from_url(
        app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5
    )
    hot_cache.init_app(app)
    panel_cache.init_app(app)
    transactions.init_app(app)  # after db.init_app: see webapp/transactions.py
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _create_private_sqlite_file(db.engine.url.database, Path(app.instance_path))
            _configure_sqlite(db.engine)
        elif db.engine.dialect.name == "postgresql":
            _configure_postgresql(db.engine)


def _create_private_sqlite_file(database: str | None, instance_path: Path) -> None:
    """Create a missing SQLite database file owner-only (0600) before SQLite opens it (SQLite
    would create it, and its -wal and -shm files after it, with the umask's mode). The instance
    folder is made for the default database; any other folder must exist."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent == instance_path:
        private_dir(instance_path)
    if path.parent.is_dir():
        create_private_file(path)


def _configure_sqlite(engine) -> None:
    """Make SQLite behave: foreign keys on, real transactions and savepoints, no lock upgrades."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # pysqlite's own transaction handling breaks SAVEPOINT; we issue BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # IMMEDIATE takes the write lock up front: the web process and the worker then queue
        # instead of failing with "database is locked" when a reader tries to become a writer.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _configure_postgresql(engine) -> None:
    """No JIT compilation on the app's connections (web and jobs alike)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # PostgreSQL compiles a statement whose estimated cost passes jit_above_cost, and its
        # estimates run high on tiny tables (periods): the team dashboard's unpaid balances spent
        # 127 ms compiling a 14 ms query. Short statements are all the app runs.
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        dbapi_connection.commit()  # a session setting; the pool's rollback would undo it


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint, from the one explicit list (webapp/blueprints.py)."""
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)


def register_errorhandlers(app: Flask) -> None:
    """Render friendly pages for HTTP errors, CSRF failures and a lost database."""

    def render_error(error):
        """Render the error page for an HTTP error code (JSON in the API's shape under /api/), with
        the error's own headers (Allow of a 405, Retry-After of a 429...)."""
        code = getattr(error, "code", 500) or 500
        if request.path.startswith("/api/"):
            message = getattr(error, "description", None) or "The request could not be handled."
            return error_response(code, message if code != 500 else "Something went wrong on our side.",
                                  headers=kept_headers(error))
        return render_template("errors/error.html", code=code, error=error), code, kept_headers(error)

    for code in (400, 401, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, render_error)

    @app.errorhandler(NotFound)
    def not_found(error):
        """A service's NotFound is the same 404 page as a missing URL."""
        return render_template("errors/error.html", code=404, error=error), 404

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        """Explain a missing or stale CSRF token instead of a bare 400."""
        return render_template("errors/error.html", code=400, error=error, csrf=True), 400

    @app.errorhandler(OperationalError)
    def database_unavailable(error):
        """A database outage answers 503 and rolls back, so nothing is half-written."""
        db.session.rollback()
        app.logger.error("database unavailable: %s", error.orig.__class__.__name__)
        message = "The service cannot reach its database right now. Nothing was saved; try again in a moment."
        if request.path.startswith("/api/"):
            return error_response(503, message)
        # The page must not need the database: the signed-in user could not be loaded (or, loaded
        # earlier, was expired by the rollback), so the layout would query again and turn the 503
        # into a 500. Render it as for a visitor.
        g._login_user = login_manager.anonymous_user()
        return render_template("errors/error.html", code=503, error=error), 503


def register_commands(app: Flask) -> None:
    """Register the `flask users`, `flask demo` and `flask commissions` command groups."""
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(commissions_cli)


def register_security_headers(app: Flask) -> None:
    """Send the security headers on every response."""

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if app.config["PRODUCTION"]:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        # Pages answer a full page or an htmx fragment from the same URL; caches must know.
        response.vary.add("HX-Request")
        # Pages, API answers (errors too) and statement PDFs show someone's pay: no browser,
        # proxy or back button may keep a copy after sign-out. Only static assets are cacheable.
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response


def register_template_helpers(app: Flask) -> None:
    """Expose the navigation, formatting, access-policy and dispute helpers to every template."""
    money.init_app(app)
    access.init_app(app)
    app.jinja_env.globals["navigation_for"] = navigation_for
    app.jinja_env.filters["entry_kind"] = lambda kind: ENTRY_KIND_LABELS.get(kind, kind)
    dispute_template_helpers.init_app(app)
    plandoc_template_helpers.init_app(app)


def register_mail_attachments(app: Flask) -> None:
    """Attach each statement email's PDF (here, so the web app and the worker both do)."""
    statement_mail_hooks.init_app(app)
    webhook_sources.init_app(app)  # statement deliveries become audit (and so webhook) events
