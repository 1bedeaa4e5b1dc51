"""Configuration: validated once at start, the bad key named, the environment wins."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pydantic
import pytest

from ivr.config import DEFAULT_CONFIG, ConfigError, load_config

TOKEN = {
    "IVR_TWILIO_AUTH_TOKEN": "env-token",
    "IVR_SESSION_KEY": "yVtZ0ZqK3mH1Qe2cJm8Zr4o0b9sT6uW1xA2dF5gH7jE=",
}
PUBLIC = "https://ivr.example.com"


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Nothing a test loads may depend on, or write to, the folder it runs in."""
    monkeypatch.chdir(tmp_path)


def write(folder: Path, text: str, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_is_valid(tmp_path):
    config = load_config(DEFAULT_CONFIG, environ=TOKEN)
    assert config.environment == "development"
    assert (config.ivr.max_attempts, config.twilio.auth_token) == (3, "env-token")


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("ivr:\n  max_attempts: 0\n", "ivr.max_attempts"),
        ("ivr:\n  max_attempts: many\n", "ivr.max_attempts"),
        ("ivr:\n  language: de\n", "ivr.language"),
        ("ivr:\n  colour: red\n", "ivr.colour"),
        ("twilio:\n  service_number: '123'\n", "twilio.service_number"),
        ("databse_url: sqlite+aiosqlite:///x.db\n", "databse_url"),
        ("database_url: postgresql://localhost/ivr\n", "database_url"),
        ("public_url: ivr.example.com\n", "public_url"),
        ("server:\n  port: 70000\n", "server.port"),
        ("log:\n  level: verbose\n", "log.level"),
        ("environment: production\npublic_url: http://ivr.example.com\n", "public_url"),
        ("ivr:\n  answer_budget_ms: 20000\n", "ivr.answer_budget_ms"),
        ("ivr:\n  lost_after_minutes: 30\n", "ivr.lost_after_minutes"),
        ("email:\n  admin_to: [ops@example.com, nobody]\n", "email.admin_to"),
        ("email:\n  backend: pigeon\n", "email.backend"),
        ("email:\n  smtp:\n    tls: maybe\n", "email.smtp.tls"),
        ("database:\n  statement_timeout_ms: 0\n", "database.statement_timeout_ms"),
        ("twilio:\n  api_base_url: api.twilio.com\n", "twilio.api_base_url"),
    ],
)
def test_invalid_value_is_refused_naming_its_key(tmp_path, yaml_text, key):
    with pytest.raises(ConfigError, match=re.escape(f"'{key}'")):
        load_config(write(tmp_path, yaml_text), environ=TOKEN)


def test_production_refuses_to_send_its_email_only_to_the_log(tmp_path):
    production = {**TOKEN, "IVR_ENVIRONMENT": "production", "IVR_PUBLIC_URL": PUBLIC}
    with pytest.raises(ConfigError, match=re.escape("'email.backend'")):
        load_config(write(tmp_path, ""), environ=production)
    sms = {"IVR_SMS_PROVIDER": "twilio", "IVR_SMS_FROM": "+15005550006"}
    config = load_config(
        write(tmp_path, ""),
        environ={
            **production,
            **sms,
            "IVR_EMAIL_BACKEND": "smtp",
            "IVR_SMTP_HOST": "mail.example.com",
        },
    )
    assert (config.email.backend, config.email.smtp.host) == ("smtp", "mail.example.com")


def test_production_refuses_sign_up_codes_only_in_the_log(tmp_path):
    production = {
        **TOKEN,
        "IVR_ENVIRONMENT": "production",
        "IVR_PUBLIC_URL": PUBLIC,
        "IVR_EMAIL_BACKEND": "smtp",
        "IVR_SMTP_HOST": "mail.example.com",
    }
    with pytest.raises(ConfigError, match=re.escape("'sms.provider': must be twilio")):
        load_config(write(tmp_path, ""), environ=production)
    sms = {"IVR_SMS_PROVIDER": "twilio", "IVR_SMS_MESSAGING_SERVICE_SID": "MG" + "0" * 32}
    assert load_config(write(tmp_path, ""), environ={**production, **sms}).sms.provider == "twilio"


def test_production_refuses_to_build_email_links_on_whatever_host_a_request_names(tmp_path):
    production = {
        **TOKEN,
        "IVR_ENVIRONMENT": "production",
        "IVR_EMAIL_BACKEND": "smtp",
        "IVR_SMTP_HOST": "mail.example.com",
        "IVR_SMS_PROVIDER": "twilio",
        "IVR_SMS_FROM": "+15005550006",
    }
    with pytest.raises(ConfigError, match=re.escape("'public_url': must be set in production")):
        load_config(write(tmp_path, ""), environ=production)
    config = load_config(write(tmp_path, ""), environ={**production, "IVR_PUBLIC_URL": PUBLIC})
    assert config.public_url == PUBLIC


def test_sign_up_regions_are_country_codes(tmp_path):
    config = load_config(write(tmp_path, "signup:\n  allowed_regions: [ru, KZ]\n"), TOKEN)
    assert config.signup.allowed_regions == ("RU", "KZ")
    with pytest.raises(ConfigError, match=re.escape("'signup.allowed_regions'")):
        load_config(write(tmp_path, "signup:\n  allowed_regions: [Russia]\n"), TOKEN)


def test_smtp_settings_come_from_the_environment(tmp_path):
    environ = {
        **TOKEN,
        "IVR_SMTP_HOST": "mail.example.com",
        "IVR_SMTP_PORT": "2525",
        "IVR_SMTP_USER": "ivr",
        "IVR_SMTP_PASSWORD": "secret",
        "IVR_EMAIL_FROM": "IVR <ivr@example.com>",
    }
    config = load_config(write(tmp_path, "email:\n  admin_to: ops@example.com\n"), environ)
    smtp = config.email.smtp
    assert (smtp.host, smtp.port, smtp.user, smtp.password) == (
        "mail.example.com",
        2525,
        "ivr",
        "secret",
    )
    assert (config.email.from_, config.email.admin_to) == (
        "IVR <ivr@example.com>",
        ("ops@example.com",),
    )


def test_invalid_environment_value_names_the_key_it_overrides(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("'ivr.language'")):
        load_config(write(tmp_path, ""), environ={**TOKEN, "IVR_LANGUAGE": "de"})


def test_environment_overrides_the_file(tmp_path):
    path = write(
        tmp_path,
        "database_url: sqlite+aiosqlite:///file.db\n"
        "public_url: http://file.example.com\n"
        "twilio:\n  auth_token: file-token\n",
    )
    config = load_config(
        path,
        environ={
            "IVR_DATABASE_URL": "postgresql+asyncpg://ivr@db/ivr",
            "IVR_TWILIO_AUTH_TOKEN": "env-token",
            "IVR_PUBLIC_URL": "https://ivr.example.com/",
        },
    )
    assert config.database_url == "postgresql+asyncpg://ivr@db/ivr"
    assert config.twilio.auth_token == "env-token"
    assert config.public_url == "https://ivr.example.com"


def test_file_values_are_used_without_environment(tmp_path):
    path = write(
        tmp_path,
        "trust_proxy: true\ntwilio:\n  auth_token: file-token\n"
        "ivr:\n  max_attempts: 5\n  language: ru\n",
    )
    config = load_config(path, environ={})
    assert (config.trust_proxy, config.twilio.auth_token) == (True, "file-token")
    assert (config.ivr.max_attempts, config.ivr.language) == (5, "ru")
    assert config.ivr.gather_timeout == 6


def test_local_file_beside_the_config_is_merged_over_it(tmp_path):
    path = write(tmp_path, "ivr:\n  max_attempts: 5\n  language: ru\n")
    write(tmp_path, "ivr:\n  max_attempts: 2\n", name="config.local.yaml")
    config = load_config(path, environ=TOKEN)
    assert (config.ivr.max_attempts, config.ivr.language) == (2, "ru")


def test_ivr_config_variable_selects_the_file(tmp_path):
    chosen = write(tmp_path, "ivr:\n  max_attempts: 7\n", name="chosen.yaml")
    other = write(tmp_path, "ivr:\n  max_attempts: 4\n", name="other.yaml")
    config = load_config(other, environ={**TOKEN, "IVR_CONFIG": str(chosen)})
    assert config.ivr.max_attempts == 7


def test_production_without_a_token_fails_naming_it(tmp_path):
    path = write(tmp_path, "environment: production\n")
    with pytest.raises(ConfigError, match=re.escape("'twilio.auth_token'")):
        load_config(path, environ={})
    with pytest.raises(ConfigError, match=re.escape("'twilio.auth_token'")):
        load_config(write(tmp_path, ""), environ={"IVR_ENVIRONMENT": "production"})
    assert not (tmp_path / "var" / "dev-twilio-auth-token").exists()


def test_development_without_a_token_generates_one_and_keeps_it(tmp_path):
    path = write(tmp_path, "")
    first = load_config(path, environ={})
    token_file = tmp_path / "var" / "dev-twilio-auth-token"
    assert len(first.twilio.auth_token) >= 32
    assert token_file.read_text().strip() == first.twilio.auth_token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert load_config(path, environ={}).twilio.auth_token == first.twilio.auth_token


def test_loaded_config_is_frozen(tmp_path):
    config = load_config(write(tmp_path, ""), environ=TOKEN)
    with pytest.raises(pydantic.ValidationError):
        config.ivr.max_attempts = 9  # type: ignore[misc]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("- just\n- a list\n", "mapping"),
        ("ivr: [unclosed\n", "YAML"),
    ],
)
def test_unreadable_file_is_a_config_error(tmp_path, content, message):
    path = tmp_path / "config.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ=TOKEN)


def test_secrets_and_sqlite_file_are_found_beside_the_config_wherever_it_runs(
    tmp_path, monkeypatch
):
    home = tmp_path / "checkout"
    home.mkdir()
    path = write(home, "database_url: sqlite+aiosqlite:///var/ivr.sqlite3\n")
    first = load_config(path, environ={})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    second = load_config(path, environ={})
    assert second.twilio.auth_token == first.twilio.auth_token
    assert second.database_url == f"sqlite+aiosqlite:///{home}/var/ivr.sqlite3"
    assert (home / "var" / "dev-session-key").exists()
    assert not (elsewhere / "var").exists()
