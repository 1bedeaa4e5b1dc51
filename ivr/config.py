"""Configuration: `config.yaml`, an optional untracked `config.local.yaml`, then the environment."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal
from zoneinfo import available_timezones

import yaml
from cryptography.fernet import Fernet
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config.yaml"
DEV_SECRETS = "var"
"""Development secrets live here, beside the config file (not wherever a command runs)."""

ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "IVR_DATABASE_URL": ("database_url",),
    "IVR_PUBLIC_URL": ("public_url",),
    "IVR_TRUST_PROXY": ("trust_proxy",),
    "IVR_ENVIRONMENT": ("environment",),
    "IVR_HOST": ("server", "host"),
    "IVR_PORT": ("server", "port"),
    "IVR_TWILIO_AUTH_TOKEN": ("twilio", "auth_token"),
    "IVR_SESSION_KEY": ("web", "session_key"),
    "IVR_TWILIO_ACCOUNT_SID": ("twilio", "account_sid"),
    "IVR_SERVICE_NUMBER": ("twilio", "service_number"),
    "IVR_LANGUAGE": ("ivr", "language"),
    "IVR_WEB_LANGUAGE": ("web", "language"),
    "IVR_WEB_TIMEZONE": ("web", "timezone"),
    "IVR_LOG_FORMAT": ("log", "format"),
    "IVR_LOG_LEVEL": ("log", "level"),
    "IVR_TWILIO_API_BASE_URL": ("twilio", "api_base_url"),
    "IVR_SMTP_HOST": ("email", "smtp", "host"),
    "IVR_SMTP_PORT": ("email", "smtp", "port"),
    "IVR_SMTP_USER": ("email", "smtp", "user"),
    "IVR_SMTP_PASSWORD": ("email", "smtp", "password"),
    "IVR_EMAIL_FROM": ("email", "from"),
    "IVR_EMAIL_BACKEND": ("email", "backend"),
    "IVR_SMS_PROVIDER": ("sms", "provider"),
    "IVR_DADATA_BASE_URL": ("dadata", "base_url"),
    "IVR_DADATA_API_KEY": ("dadata", "api_key"),
    "IVR_SMS_FROM": ("sms", "from"),
    "IVR_SMS_MESSAGING_SERVICE_SID": ("sms", "messaging_service_sid"),
}


TWILIO_API = "https://api.twilio.com"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
EMAIL = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+$")


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


class ConfigError(Exception):
    """The configuration is invalid; the message names the offending key."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerConfig(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)


class TwilioConfig(_Frozen):
    account_sid: str = "AC00000000000000000000000000000000"
    auth_token: str = ""
    service_number: str = "+15005550006"
    api_base_url: str = TWILIO_API
    """Where the REST client sends its requests: Twilio's, or a local fake in tests."""

    @field_validator("service_number")
    @classmethod
    def _e164(cls, value: str) -> str:
        if not (value.startswith("+") and value[1:].isdigit() and 8 <= len(value) <= 16):
            raise ValueError("must be an E.164 number such as +15005550006")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _http_url(value)


class LockoutConfig(_Frozen):
    """Number guessing across calls: wrong request numbers per caller number and per manager."""

    max_wrong: int = Field(10, ge=1, le=1000)
    """Wrong numbers allowed in the window; the next one locks the caller."""
    window_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    lock_minutes: int = Field(60, ge=1, le=30 * 24 * 60)


class IvrConfig(_Frozen):
    language: Literal["en", "ru"] = "en"
    voice: str = "alice"
    gather_timeout: int = Field(6, ge=1, le=60)
    max_attempts: int = Field(3, ge=1, le=10)
    """Wrong request numbers (and keys) in one call before a polite goodbye."""
    max_dials: int = Field(3, ge=1, le=10)
    """Dials of the client in one call; an unreachable client does not use up `max_attempts`."""
    dial_timeout: int = Field(25, ge=5, le=600)
    dial_time_limit: int = Field(3600, ge=60, le=14400)
    whisper_timeout: int = Field(8, ge=2, le=60)
    answer_budget_ms: int = Field(5000, ge=200, le=14000)
    """Every webhook answers within this, the spoken apology if need be (Twilio waits 15 s)."""
    lost_after_minutes: int = Field(120, ge=5, le=7 * 24 * 60)
    """A call with no final status this long after its last step is finalized as `lost`."""
    lockout: LockoutConfig = LockoutConfig()
    callback_days: int = Field(14, ge=1, le=365)
    """A client who calls back is put through when a manager called them this recently."""

    @field_validator("lost_after_minutes")
    @classmethod
    def _lost_after_the_longest_dial(cls, value: int, info: ValidationInfo) -> int:
        longest = info.data.get("dial_timeout", 0) + info.data.get("dial_time_limit", 0)
        if value * 60 <= longest:
            raise ValueError(f"must be longer than dial_timeout + dial_time_limit ({longest} s)")
        return value


class LogConfig(_Frozen):
    format: Literal["console", "json"] | None = None
    """None: readable lines in development, JSON in production."""
    level: Literal["debug", "info", "warning", "error"] = "info"


class WebConfig(_Frozen):
    session_key: str = ""
    """A Fernet key (32 url-safe base64 bytes) that encrypts the session cookie."""
    session_max_age: int = Field(8 * 3600, ge=300, le=30 * 24 * 3600)
    language: Literal["ru", "en"] = "ru"
    """Pages, emails and API messages of people who chose none (before login: their
    browser's Accept-Language first)."""
    timezone: str = "Europe/Moscow"
    """The IANA zone dates are shown in for people who chose none; "today" is counted in it."""
    password_reset_minutes: int = Field(60, ge=5, le=7 * 24 * 60)
    """How long an emailed link to set a new password works (it works once)."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError("must be an IANA time zone such as Europe/Moscow")
        return value


class SmtpConfig(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    tls: Literal["none", "starttls", "tls"] = "none"
    user: str = ""
    password: str = ""
    timeout_seconds: float = Field(20, gt=0, le=120)


class EmailConfig(_Frozen):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    backend: Literal["smtp", "log"] = "log"
    """`log`: every message is written to the log instead of being sent."""
    from_: str = Field("IVR <ivr@localhost>", alias="from")
    admin_to: tuple[str, ...] = ()
    """Who gets the alerts meant for admins."""
    smtp: SmtpConfig = SmtpConfig()
    max_attempts: int = Field(8, ge=1, le=100)
    retry_seconds: int = Field(30, ge=1, le=3600)
    """The wait after the first failure; it doubles after each next one."""
    retry_max_seconds: int = Field(3600, ge=1, le=24 * 3600)

    @field_validator("admin_to", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("admin_to")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if not EMAIL.match(address):
                raise ValueError(f"not an email address: {address!r}")
        return value

    @model_validator(mode="after")
    def _smtp_host_when_sending(self) -> EmailConfig:
        if self.backend == "smtp" and not self.smtp.host:
            raise ValueError("smtp.host is required when backend is smtp")
        return self


class SmsConfig(_Frozen):
    """Text messages (sign-up codes): `console` writes them to the log, `twilio` sends them."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    provider: Literal["twilio", "console"] = "console"
    from_: str | None = Field(None, alias="from")
    """The number messages come from, E.164; or leave it empty and name a messaging service."""
    messaging_service_sid: str | None = Field(None, validate_default=True)

    @field_validator("from_")
    @classmethod
    def _e164_or_empty(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not E164.match(value):
            raise ValueError("must be an E.164 number such as +15005550006")
        return value

    @field_validator("messaging_service_sid")
    @classmethod
    def _twilio_needs_a_sender(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = value or None
        if info.data.get("provider") == "twilio" and not (value or info.data.get("from_")):
            raise ValueError("provider twilio sends from `sms.from` or this messaging service")
        return value


class SignupConfig(_Frozen):
    """What agent sign-up by SMS allows: every limit is counted in the database."""

    code_ttl_seconds: int = Field(600, ge=60, le=3600)
    """How long a code may be typed in."""
    max_code_attempts: int = Field(5, ge=1, le=20)
    """Wrong tries after which a code is dead."""
    token_ttl_seconds: int = Field(1800, ge=60, le=24 * 3600)
    """How long a verified phone may take to finish the sign-up."""
    cooldown_seconds: int = Field(600, ge=0, le=24 * 3600)
    """One code per phone this often."""
    per_phone_daily: int = Field(5, ge=1, le=1000)
    """Codes per phone in 24 hours."""
    per_ip_daily: int = Field(20, ge=1, le=100_000)
    """Codes per client address in 24 hours."""
    window_seconds: int = Field(3600, ge=60, le=7 * 24 * 3600)
    suspicious_per_window: int = Field(50, ge=1, le=1_000_000)
    """Codes the whole service sends within the window before the admins are emailed."""
    max_per_window: int = Field(200, ge=1, le=1_000_000)
    """Codes the whole service sends within the window before sign-up stops."""
    allowed_regions: tuple[str, ...] = ("RU",)
    """Countries whose mobile numbers may sign up (ISO 3166 codes): SMS abroad cost more and
    are what SMS-pumping fraud asks for."""
    keep_days: int = Field(30, ge=2, le=3650)
    """Codes (with the phones they went to) are deleted this long after they were sent."""

    @field_validator("allowed_regions", mode="before")
    @classmethod
    def _regions(cls, value: Any) -> Any:
        regions = (value,) if isinstance(value, str) else tuple(value)
        for region in regions:
            if not (isinstance(region, str) and len(region) == 2 and region.isalpha()):
                raise ValueError(f"not a two-letter country code: {region!r}")
        return tuple(region.upper() for region in regions)

    @field_validator("keep_days")
    @classmethod
    def _kept_past_every_count(cls, value: int, info: ValidationInfo) -> int:
        if value * 24 * 3600 <= info.data.get("window_seconds", 0):
            raise ValueError("must be longer than window_seconds")
        return value

    @field_validator("max_per_window")
    @classmethod
    def _stop_after_the_alert(cls, value: int, info: ValidationInfo) -> int:
        if value < info.data.get("suspicious_per_window", 0):
            raise ValueError("must be at least suspicious_per_window")
        return value


DADATA_API = "https://suggestions.dadata.ru/suggestions/api/4_1/rs"


class DadataConfig(_Frozen):
    """DaData's API: organizations by INN/OGRN and banks by BIK (`crm/dadata.py`)."""

    base_url: str = DADATA_API
    """IVR_DADATA_BASE_URL; a local fake in tests."""
    api_key: str = ""
    """IVR_DADATA_API_KEY; without one the people fill the fields by hand."""
    timeout_seconds: float = Field(5, gt=0, le=60)
    cache_seconds: int = Field(3600, ge=0, le=86400)
    """How long an answer is reused for the same INN or BIK; 0: never."""

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class LoyaltyTier(_Frozen):
    """A tier an organization reaches at `points` (`crm/organizations/loyalty.py`)."""

    name: str = Field(min_length=1, max_length=50)
    points: int = Field(ge=0, le=1_000_000_000)


class LoyaltyConfig(_Frozen):
    """Points a head office earns for each of its agents' requests that reached the client."""

    points_per_request: int = Field(10, ge=1, le=1_000_000)
    tiers: tuple[LoyaltyTier, ...] = (
        LoyaltyTier(name="bronze", points=0),
        LoyaltyTier(name="silver", points=100),
        LoyaltyTier(name="gold", points=500),
        LoyaltyTier(name="platinum", points=2000),
    )
    """From the lowest: the first starts at 0, each next one needs more points."""
    batch_size: int = Field(500, ge=1, le=100_000)
    """Requests credited per background pass at most; the rest wait for the next one."""

    @field_validator("tiers")
    @classmethod
    def _ordered_tiers(cls, value: tuple[LoyaltyTier, ...]) -> tuple[LoyaltyTier, ...]:
        if not value:
            raise ValueError("name at least one tier")
        if value[0].points != 0:
            raise ValueError("the first tier must start at 0 points")
        names = [tier.name.strip().casefold() for tier in value]
        if len(set(names)) != len(names):
            raise ValueError("tier names must differ")
        for lower, higher in pairwise(value):
            if higher.points <= lower.points:
                raise ValueError(f"tier {higher.name!r} must need more points than {lower.name!r}")
        return value


class HttpConfig(_Frozen):
    """Timeouts of the one client session for outside HTTP APIs."""

    timeout_seconds: float = Field(10, gt=0, le=120)
    connect_timeout_seconds: float = Field(3, gt=0, le=60)


class BackgroundConfig(_Frozen):
    """The task every server process runs: the outbox, calls Twilio never finalized."""

    enabled: bool = True
    interval_seconds: float = Field(5, gt=0, le=3600)


class DatabaseConfig(_Frozen):
    """How long the service waits for the database before it gives up on a request."""

    connect_timeout_seconds: float = Field(3, gt=0, le=60)
    pool_timeout_seconds: float = Field(4, gt=0, le=60)
    """Waiting for a free connection of the pool."""
    statement_timeout_ms: int = Field(4000, ge=100, le=600_000)
    """One statement (PostgreSQL) or one wait for SQLite's write lock."""


class Config(_Frozen):
    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///var/ivr.sqlite3"
    public_url: str | None = None
    trust_proxy: bool = False
    server: ServerConfig = ServerConfig()
    twilio: TwilioConfig = TwilioConfig()
    ivr: IvrConfig = IvrConfig()
    log: LogConfig = LogConfig()
    web: WebConfig = WebConfig()
    email: EmailConfig = EmailConfig()
    sms: SmsConfig = SmsConfig()
    signup: SignupConfig = SignupConfig()
    http: HttpConfig = HttpConfig()
    dadata: DadataConfig = DadataConfig()
    loyalty: LoyaltyConfig = LoyaltyConfig()
    background: BackgroundConfig = BackgroundConfig()
    database: DatabaseConfig = DatabaseConfig()

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value in (None, ""):
            return None
        if info.data.get("environment") == "production" and value.startswith("http://"):
            raise ValueError("must start with https:// in production (Twilio signs that URL)")
        return _http_url(value)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must use sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read, merge and validate the configuration; raise ConfigError naming the bad key."""
    environ = os.environ if environ is None else environ
    path = Path(environ.get("IVR_CONFIG") or path or DEFAULT_CONFIG)
    data = _read_yaml(path)
    local = path.with_name("config.local.yaml")
    if local.exists():
        _merge(data, _read_yaml(local))
    for variable, path_of_key in ENV_OVERRIDES.items():
        if variable in environ:
            _set(data, path_of_key, environ[variable])
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"config key '{name}': {first['msg']}") from None
    home = path.resolve().parent
    config = _sqlite_beside(config, home)
    if not config.twilio.auth_token:
        token = _development_secret(
            config,
            home,
            "twilio.auth_token",
            "IVR_TWILIO_AUTH_TOKEN",
            "dev-twilio-auth-token",
            lambda: secrets.token_hex(16),
        )
        config = config.model_copy(
            update={"twilio": config.twilio.model_copy(update={"auth_token": token})}
        )
    if not config.web.session_key:
        key = _development_secret(
            config,
            home,
            "web.session_key",
            "IVR_SESSION_KEY",
            "dev-session-key",
            Fernet.generate_key().decode,
        )
        config = config.model_copy(
            update={"web": config.web.model_copy(update={"session_key": key})}
        )
    if config.environment == "production" and config.email.backend != "smtp":
        # Alerts to admins would only reach the log; say so at start, not after a lockout.
        raise ConfigError(
            "config key 'email.backend': must be smtp in production "
            "(set IVR_EMAIL_BACKEND=smtp and IVR_SMTP_HOST)"
        )
    if config.environment == "production" and config.public_url is None:
        # Links in emails (a password reset) would take the host a request claims to be.
        raise ConfigError(
            "config key 'public_url': must be set in production, e.g. https://ivr.example.com "
            "(IVR_PUBLIC_URL): links in emails are built on it"
        )
    if config.environment == "production" and config.sms.provider != "twilio":
        # Sign-up codes would only reach the log: nobody could sign up.
        raise ConfigError(
            "config key 'sms.provider': must be twilio in production "
            "(set IVR_SMS_PROVIDER=twilio and IVR_SMS_FROM or IVR_SMS_MESSAGING_SERVICE_SID)"
        )
    try:
        Fernet(config.web.session_key)
    except ValueError:
        raise ConfigError(
            "config key 'web.session_key': must be a Fernet key (32 url-safe base64-encoded bytes)"
        ) from None
    return config


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys")
    return loaded


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _set(data: dict[str, Any], key: tuple[str, ...], value: str) -> None:
    for part in key[:-1]:
        data = data.setdefault(part, {})
    data[key[-1]] = value


def _sqlite_beside(config: Config, home: Path) -> Config:
    """A relative SQLite path is taken from the config file's folder, like its secrets."""
    url = make_url(config.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return config
    if Path(url.database).is_absolute():
        return config
    absolute = url.set(database=str(home / url.database))
    return config.model_copy(
        update={"database_url": absolute.render_as_string(hide_password=False)}
    )


def _development_secret(
    config: Config, home: Path, key: str, variable: str, filename: str, make: Callable[[], str]
) -> str:
    """A per-checkout secret under var/ in development; in production a missing one fails."""
    if config.environment == "production":
        raise ConfigError(f"config key '{key}': required in production (set {variable})")
    path = home / DEV_SECRETS / filename
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value
