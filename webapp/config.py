"""Configuration, read from the environment when the app is created (never at import time)."""

from __future__ import annotations

import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import list_currencies

from webapp.private_files import private_dir, write_private


class ConfigError(RuntimeError):
    """The environment does not describe a runnable installation."""


PRODUCTION_NAMES = {"production", "prod"}


def _instance_secret_key(instance_path: Path) -> str:
    """Return the development secret key, generating it once under instance/."""
    path = instance_path / "secret_key"
    if not path.exists():
        # Owner-only (0600 in a 0700 folder) so other local users cannot forge sessions.
        write_private(private_dir(instance_path) / "secret_key", secrets.token_hex(32), exclusive=True)
    return path.read_text().strip()


def _int(environ: dict[str, str], name: str, default: int) -> int:
    """A non-negative integer setting, with a clear error for anything else."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number, got {raw!r}.")
    return int(raw)


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for postgres URLs, whatever spelling the platform gives."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _secret_key(environ: dict[str, str], production: bool, instance_path: Path) -> str:
    """SECRET_KEY: required in production; in development generated once under instance/."""
    secret_key = environ.get("SECRET_KEY", "")
    if not secret_key:
        if production:
            raise ConfigError("SECRET_KEY must be set when APP_ENV/FLASK_ENV is production.")
        secret_key = _instance_secret_key(instance_path)
    return secret_key


def _timezone(environ: dict[str, str]) -> str:
    """TIMEZONE: an IANA zone name (default UTC)."""
    tz_name = environ.get("TIMEZONE", "UTC")
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"TIMEZONE {tz_name!r} is not a known IANA time zone.") from exc
    return tz_name


def _currency(environ: dict[str, str]) -> str:
    """CURRENCY: an ISO 4217 code (default USD)."""
    currency = environ.get("CURRENCY", "USD").upper()
    if currency not in list_currencies():
        raise ConfigError(f"CURRENCY {currency!r} is not an ISO 4217 currency code.")
    return currency


def _mail_backend(environ: dict[str, str]) -> str:
    """MAIL_BACKEND: 'outbox' (default) or 'mailchimp', which needs its API key."""
    mail_backend = environ.get("MAIL_BACKEND", "outbox")
    if mail_backend not in ("outbox", "mailchimp"):
        raise ConfigError("MAIL_BACKEND must be 'outbox' or 'mailchimp'.")
    if mail_backend == "mailchimp" and not environ.get("MAILCHIMP_API_KEY"):
        raise ConfigError("MAILCHIMP_API_KEY must be set when MAIL_BACKEND is mailchimp.")
    return mail_backend


def _base_url(environ: dict[str, str], production: bool) -> str:
    """BASE_URL without its trailing slash; required in production."""
    base_url = environ.get("BASE_URL", "").strip().rstrip("/")
    if production and not base_url.startswith(("https://", "http://")):
        # Emailed links (password reset, statements) must not be built from a client's Host header.
        raise ConfigError("BASE_URL (e.g. https://sales.example.com) must be set in production.")
    return base_url


def _mail_settings(environ: dict[str, str], mail_backend: str, instance_path: Path) -> dict:
    """The mail backend's settings."""
    return {
        "MAIL_BACKEND": mail_backend,
        "MAILCHIMP_API_KEY": environ.get("MAILCHIMP_API_KEY", ""),
        "MAILCHIMP_API_HOST": environ.get("MAILCHIMP_API_HOST", ""),
        # Signs Mailchimp's webhook calls; without it every webhook call is refused (403).
        "MAILCHIMP_WEBHOOK_KEY": environ.get("MAILCHIMP_WEBHOOK_KEY", ""),
        "MAIL_FROM": environ.get("MAIL_FROM", "statements@sales-tracking.local"),
        "MAIL_FROM_NAME": environ.get("MAIL_FROM_NAME", "Sales Tracking"),
        "OUTBOX_DIR": environ.get("OUTBOX_DIR") or str(instance_path / "outbox"),
    }


def _cookie_settings(production: bool) -> dict:
    """Cookies: HttpOnly always, Secure whenever the installation is served in production."""
    return {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead, so long-open forms still post
    }


def _limit_settings(environ: dict[str, str]) -> dict:
    """Rate limits, request sizes and proxy trust."""
    return {
        "RATELIMIT_STORAGE_URI": environ.get("RATELIMIT_STORAGE_URI")
        or environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "LOGIN_LIMIT_ACCOUNT": environ.get("LOGIN_LIMIT_ACCOUNT", "5 per minute;20 per hour"),
        "LOGIN_LIMIT_IP": environ.get("LOGIN_LIMIT_IP", "20 per minute;100 per hour"),
        "PASSWORD_RESET_MAX_AGE": _int(environ, "PASSWORD_RESET_MAX_AGE", 3600),
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        # Behind a reverse proxy, how many hops of X-Forwarded-For/-Proto to trust (0: none).
        # Without it every client shares the proxy's address and the per-IP login throttle.
        "TRUST_PROXY_HOPS": _int(environ, "TRUST_PROXY_HOPS", 0),
        # Heavy operations (a plan change's recompute, a period's statements, a bulk decision)
        # over more agents or sales than this run as a background job with a progress page.
        "OPERATION_INLINE_LIMIT": _int(environ, "OPERATION_INLINE_LIMIT", 25),
    }


def _webhook_settings(environ: dict[str, str], production: bool) -> dict:
    """Whether webhooks may be sent to private, loopback and link-local addresses: not in production
    unless allowed (an admin could otherwise make the workers call, and read, services inside the
    network), yes elsewhere (a receiver on the same machine while developing)."""
    value = environ.get("WEBHOOK_PRIVATE_TARGETS", "").strip().lower()
    return {"WEBHOOK_PRIVATE_TARGETS": value in ("1", "true", "yes") if value else not production}


def load_config(environ: dict[str, str], instance_path: Path) -> dict:
    """Build the Flask config dict from environment variables, validating them."""
    env_name = (environ.get("APP_ENV") or environ.get("FLASK_ENV") or "development").lower()
    production = env_name in PRODUCTION_NAMES
    # Validated in this order, so the first thing wrong is the one reported.
    secret_key = _secret_key(environ, production, instance_path)
    tz_name = _timezone(environ)
    currency = _currency(environ)
    mail_backend = _mail_backend(environ)
    base_url = _base_url(environ, production)
    database_url = environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'sales.db'}"
    return {
        "ENV_NAME": env_name,
        "PRODUCTION": production,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "TIMEZONE": tz_name,
        "CURRENCY": currency,
        **_mail_settings(environ, mail_backend, instance_path),
        "BASE_URL": base_url,
        **_cookie_settings(production),
        **_limit_settings(environ),
        **_webhook_settings(environ, production),
    }
