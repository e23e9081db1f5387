"""Configuration from the environment: validation, secrets, database URLs and cookie flags."""

from __future__ import annotations

import stat

import pytest

from webapp.config import ConfigError, load_config, normalise_database_url

PROD_KEY = "k" * 48


@pytest.mark.parametrize("environ", [
    {"APP_ENV": "production"},
    {"APP_ENV": "Production"},
    {"APP_ENV": "prod"},
    {"FLASK_ENV": "production"},
    {"APP_ENV": "production", "SECRET_KEY": ""},
])
def test_production_without_secret_key_is_refused(tmp_path, environ):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(environ, tmp_path)
    # Nothing was generated to paper over the missing secret.
    assert not (tmp_path / "secret_key").exists()


def test_production_with_secret_key_uses_it_and_secure_cookies(tmp_path):
    config = load_config({"APP_ENV": "production", "SECRET_KEY": PROD_KEY,
                          "BASE_URL": "https://sales.example.com/"}, tmp_path)
    assert config["PRODUCTION"] is True
    assert config["BASE_URL"] == "https://sales.example.com"
    assert config["SECRET_KEY"] == PROD_KEY
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["REMEMBER_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True and config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"


@pytest.mark.parametrize("base_url", ["", "sales.example.com"])
def test_production_needs_an_absolute_base_url_for_emailed_links(tmp_path, base_url):
    with pytest.raises(ConfigError, match="BASE_URL"):
        load_config({"APP_ENV": "production", "SECRET_KEY": PROD_KEY, "BASE_URL": base_url}, tmp_path)


def test_development_generates_a_secret_key_once_and_reuses_it(tmp_path):
    instance = tmp_path / "instance"
    first = load_config({}, instance)
    second = load_config({}, instance)
    assert first["PRODUCTION"] is False
    assert len(first["SECRET_KEY"]) >= 32
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    key_file = instance / "secret_key"
    assert key_file.read_text().strip() == first["SECRET_KEY"]
    # Only the owner may read it: anyone who can read it can forge sessions.
    assert stat.S_IMODE(key_file.stat().st_mode) & 0o077 == 0
    assert first["SESSION_COOKIE_SECURE"] is False


def test_development_keys_differ_between_installations(tmp_path):
    assert load_config({}, tmp_path / "a")["SECRET_KEY"] != load_config({}, tmp_path / "b")["SECRET_KEY"]


def test_an_explicit_secret_key_wins_in_development(tmp_path):
    assert load_config({"SECRET_KEY": "given"}, tmp_path)["SECRET_KEY"] == "given"
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "", "../../etc/passwd", "UTC+2"])
def test_unknown_timezone_is_refused(tmp_path, timezone):
    with pytest.raises(ConfigError, match="TIMEZONE"):
        load_config({"TIMEZONE": timezone, "SECRET_KEY": "x"}, tmp_path)


def test_known_timezone_is_kept(tmp_path):
    assert load_config({"TIMEZONE": "Europe/Paris", "SECRET_KEY": "x"}, tmp_path)["TIMEZONE"] == "Europe/Paris"


@pytest.mark.parametrize("currency", ["EURO", "XYZ", "", "$"])
def test_unknown_currency_is_refused(tmp_path, currency):
    with pytest.raises(ConfigError, match="CURRENCY"):
        load_config({"CURRENCY": currency, "SECRET_KEY": "x"}, tmp_path)


def test_currency_defaults_to_usd_and_is_upper_cased(tmp_path):
    assert load_config({"SECRET_KEY": "x"}, tmp_path)["CURRENCY"] == "USD"
    assert load_config({"SECRET_KEY": "x", "CURRENCY": "eur"}, tmp_path)["CURRENCY"] == "EUR"


def test_mailchimp_without_api_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="MAILCHIMP_API_KEY"):
        load_config({"MAIL_BACKEND": "mailchimp", "SECRET_KEY": "x"}, tmp_path)


def test_mailchimp_with_api_key_is_accepted(tmp_path):
    config = load_config({"MAIL_BACKEND": "mailchimp", "MAILCHIMP_API_KEY": "md-1", "SECRET_KEY": "x"}, tmp_path)
    assert (config["MAIL_BACKEND"], config["MAILCHIMP_API_KEY"]) == ("mailchimp", "md-1")


def test_unknown_mail_backend_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="MAIL_BACKEND"):
        load_config({"MAIL_BACKEND": "smtp", "SECRET_KEY": "x"}, tmp_path)


@pytest.mark.parametrize("value", ["an hour", "3600s", "-5"])
def test_unreadable_password_reset_max_age_is_a_config_error(tmp_path, value):
    with pytest.raises(ConfigError, match="PASSWORD_RESET_MAX_AGE"):
        load_config({"PASSWORD_RESET_MAX_AGE": value, "SECRET_KEY": "x"}, tmp_path)


def test_password_reset_max_age_defaults_to_an_hour(tmp_path):
    assert load_config({"SECRET_KEY": "x"}, tmp_path)["PASSWORD_RESET_MAX_AGE"] == 3600
    assert load_config({"SECRET_KEY": "x", "PASSWORD_RESET_MAX_AGE": ""}, tmp_path)["PASSWORD_RESET_MAX_AGE"] == 3600
    assert load_config({"SECRET_KEY": "x", "PASSWORD_RESET_MAX_AGE": "900"}, tmp_path)["PASSWORD_RESET_MAX_AGE"] == 900


@pytest.mark.parametrize("url, expected", [
    ("postgres://u:p@db:5432/sales", "postgresql+psycopg://u:p@db:5432/sales"),
    ("postgresql://u:p@db/sales", "postgresql+psycopg://u:p@db/sales"),
    ("postgresql+psycopg://u:p@db/sales", "postgresql+psycopg://u:p@db/sales"),
    ("sqlite:////tmp/sales.db", "sqlite:////tmp/sales.db"),
])
def test_database_url_uses_psycopg3(url, expected):
    assert normalise_database_url(url) == expected


def test_database_url_from_the_environment_is_normalised(tmp_path):
    config = load_config({"DATABASE_URL": "postgres://u:p@db/sales", "SECRET_KEY": "x"}, tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db/sales"


def test_database_defaults_to_sqlite_under_the_instance_folder(tmp_path):
    config = load_config({"SECRET_KEY": "x"}, tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'sales.db'}"


def test_create_app_refuses_to_start_in_production_without_secret_key(monkeypatch):
    from webapp import create_app

    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        create_app()
