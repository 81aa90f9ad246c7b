"""Settings, read from the environment (prefix ``CAURI_``) and an optional ``.env`` file.

Every setting is documented in ``.env.example``. The embedded default (SQLite, in-process jobs, local files,
console e-mail and SMS, sandbox provider) needs no setting at all; scaling out is configuration only.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Development defaults. In production the service refuses to start while any of these is still in use.
DEV_SECRET_KEY = "dev-only-secret-key-change-me-0123456789abcdef"  # noqa: S105
DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktY2hhbmdlLW0="  # urlsafe base64 of 32 bytes


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class OutboundTargets(StrEnum):
    """Where outbound webhooks and callbacks may be posted (organisations choose the URLs: SSRF)."""

    ANY = "any"  # development and tests: a receiver on 127.0.0.1 is the usual target
    PUBLIC = "public"  # production: never a private, loopback, link-local or reserved address
    NONE = "none"  # nothing leaves the process (fuzzing, demos without network)


# Accepted database URL schemes, and the async driver the plain ones stand for.
_DATABASE_SCHEMES = {
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "sqlite": "sqlite+aiosqlite",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CAURI_", env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    env: Environment = Environment.DEVELOPMENT
    debug: bool = False

    # Storage
    database_url: str = "sqlite+aiosqlite:///./var/cauri.db"
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_echo: bool = False
    files_dir: Path = Path("./var/files")
    # Files users upload (proofs, images, documents): local disk under files_dir by default, or an S3-compatible
    # bucket shared by every process and machine (core/storage.py).
    storage_backend: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None  # unset: AWS; e.g. http://minio:9000 for MinIO
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_prefix: str = ""

    # Jobs: unset means "run jobs in this process"; redis://… or amqp://… to scale out to `cauri worker`.
    broker_url: str | None = None
    job_lease_seconds: int = Field(default=60, ge=5)
    job_sweep_seconds: int = Field(default=15, ge=1)
    job_max_attempts: int = Field(default=8, ge=1)
    # Retry backoff: base·2^(attempt-1) seconds, capped, with jitter.
    job_retry_base_seconds: float = Field(default=5.0, gt=0)
    job_retry_max_seconds: float = Field(default=3600.0, gt=0)
    job_retention_days: int = Field(default=14, ge=1)
    # Redis stream, or RabbitMQ exchange and queue, of this deployment's doorbells.
    broker_queue: str = Field(default="cauri", pattern=r"^[A-Za-z0-9._:-]{1,100}$")
    # More modules with @job handlers for `cauri worker` and the API to import (comma-separated).
    extra_job_modules: Annotated[list[str], NoDecode] = []

    # Shared state across API processes (core.cache, core.pubsub): unset means in this process only, unless
    # the rate-limit storage is a Redis, which is then reused. Keys and channels start with the namespace.
    redis_url: str | None = None
    redis_namespace: str = Field(default="cauri", pattern=r"^[A-Za-z0-9._-]{1,60}$")
    # How long a resolved caller is reused without a query (seconds, 0: never). Only with Redis pub/sub: a
    # logout, role change or key revocation anywhere must reach every process at once.
    principal_cache_seconds: float = Field(default=60.0, ge=0, le=3600)

    # Rate limits (login throttling). Unset: in memory; set to redis://… to share across API processes.
    rate_limit_storage_url: str | None = None
    login_attempts_per_minute: int = Field(default=10, ge=1)
    login_failures_before_lockout: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    # Failed logins from one client address per minute (all identifiers together): slows password spraying.
    login_ip_failures_per_minute: int = Field(default=30, ge=1)

    # Security
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    encryption_keys: SecretStr = SecretStr(DEV_ENCRYPTION_KEY)
    access_token_minutes: int = Field(default=30, ge=1)
    refresh_token_days: int = Field(default=7, ge=1)
    verification_code_minutes: int = Field(default=10, ge=1)
    verification_code_attempts: int = Field(default=5, ge=1)
    allowed_hosts: list[str] = ["*"]
    cors_origins: list[str] = []

    # People and places
    default_region: str = Field(default="CM", min_length=2, max_length=2)
    default_language: str = Field(default="fr", pattern="^(fr|en)$")
    # Where `cauri serve` listens (its --host/--port options override these).
    # (Not CAURI_HOST/CAURI_PORT: Kubernetes sets CAURI_PORT=tcp://… for a service named "cauri".)
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=8000, ge=1, le=65535)
    # The address providers, e-mails and the embedded sandbox use to reach this service. Unset: it follows
    # listen_host and listen_port, so `make run PORT=8100` pays out through http://127.0.0.1:8100/sandbox, not :8000.
    public_base_url: str = ""
    # Unset: "public" in production, "any" elsewhere.
    outbound_targets: OutboundTargets | None = None

    # Notifications: "console" prints; "smtp" sends through smtp_host.
    email_backend: str = Field(default="console", pattern="^(console|smtp)$")
    # SMS: "console" prints; the others send through that provider (docs/notifications.md).
    sms_backend: str = Field(default="console", pattern="^(console|africastalking|twilio|orange_sms)$")
    # Secret carried as ?token=… by the callback URLs of providers that do not sign (Africa's Talking, Orange).
    sms_callback_token: SecretStr | None = None
    africastalking_base_url: str = "https://api.africastalking.com"
    africastalking_username: str = "sandbox"
    africastalking_api_key: SecretStr | None = None
    africastalking_sender_id: str = ""
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr | None = None
    twilio_from: str = ""
    orange_sms_base_url: str = "https://api.orange.com"
    orange_sms_client_id: str = ""
    orange_sms_client_secret: SecretStr | None = None
    orange_sms_sender_address: str = "tel:+2250000"
    orange_sms_sender_name: str = ""
    # Push: "none" sends nothing (push messages fail as "push_disabled"); "fcm" sends through FCM HTTP v1
    # with a Google service account (its client e-mail and PEM private key).
    push_backend: str = Field(default="none", pattern="^(none|fcm)$")
    fcm_project_id: str = ""
    fcm_client_email: str = ""
    fcm_private_key: SecretStr | None = None
    fcm_token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
    fcm_base_url: str = "https://fcm.googleapis.com"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_use_tls: bool = False
    smtp_starttls: bool = False  # true: never send in clear (STARTTLS required); false: STARTTLS when offered
    smtp_ca_file: str = ""  # a CA bundle (PEM) to verify the server's certificate with, else the system's
    mail_from: str = "Cauri <no-reply@cauri.local>"

    # Payments
    default_provider: str = "sandbox"
    # The built-in sandbox provider. Its credentials serve organisations that stored none, outside production only.
    # Unset: the sandbox simulator runs inside this process at <public_base_url>/sandbox (the embedded default; with
    # `cauri serve --workers N`, one sandbox process for all workers); set it to use a separate
    # `cauri simulate sandbox --port 8090`.
    sandbox_url: str | None = None
    # Set by `cauri serve --workers N` (not by hand): the one sandbox simulator process it started for its workers.
    # Each worker's connector calls it directly and its /sandbox forwards there, so every process sees the same books.
    sandbox_shared_url: str | None = None
    sandbox_api_key: SecretStr = SecretStr("sk_sandbox_dev")
    sandbox_webhook_secret: SecretStr = SecretStr("whsec_sandbox_dev")
    # A collection or payout still unsettled this long after its creation is ended (`expired`) by the expiry job.
    payments_expiry_seconds: int = Field(default=3600, ge=10)
    # Status polls of a pending payment: first after this delay, then doubling, capped (seconds).
    payments_poll_initial_seconds: float = Field(default=5.0, gt=0)
    payments_poll_max_seconds: float = Field(default=1800.0, gt=0)
    # A worker claiming payments to poll (or expire) holds them this long: another worker skips them meanwhile, and
    # takes them over when the first one died mid-round. Longer than a round of provider calls can take.
    payments_poll_lease_seconds: float = Field(default=60.0, ge=1)
    # Outbound webhooks to organisations: how long one delivery attempt may take (seconds).
    payments_webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # When set, provider calls wait at most this long for an answer (seconds), instead of each connector's default.
    payments_provider_read_timeout_seconds: float | None = Field(default=None, gt=0)

    # Bulk disbursements (docs/bulk.md)
    # Provider calls at once per provider and credential, in each process running jobs.
    bulk_provider_concurrency: int = Field(default=32, ge=1, le=2000)
    # Provider name -> request rate for bulk payouts ("50/second", or "none"), replacing the connector's own.
    bulk_provider_rate_limits: dict[str, str] = {}
    # A provider with a bulk API of its own (Mojaloop's bulkTransactions, the sandbox's bulk payouts) is sent a
    # thousand lines a call; the providers named here are paid one call per line all the same.
    bulk_line_by_line_providers: frozenset[str] = frozenset()
    # Worker jobs per running batch (each claims lines; several processes can share a batch).
    bulk_workers_per_batch: int = Field(default=2, ge=1, le=64)
    # Lines a worker claims at once, and how long a claimed line stays its own without a heartbeat (seconds).
    bulk_claim_size: int = Field(default=200, ge=1, le=5000)
    bulk_line_lease_seconds: int = Field(default=120, ge=2)
    # Status queries of a line the provider has not settled yet: first after this delay, then doubling (seconds).
    bulk_poll_initial_seconds: float = Field(default=0.5, gt=0)
    bulk_poll_max_seconds: float = Field(default=60.0, gt=0)
    # A line still unsettled this long after the provider acknowledged it fails as expired (seconds).
    bulk_line_expiry_seconds: int = Field(default=3600, ge=10)
    # Account-holder lookups of the optional payee check, per second and per batch.
    bulk_payee_checks_per_second: float = Field(default=10.0, gt=0)
    # Interval of the progress events of GET /bulk-transfers/{id}/stream (seconds).
    bulk_stream_interval_seconds: float = Field(default=0.5, gt=0, le=1.0)
    # An in-app notification stream re-reads the database this often when no pub/sub signal came (a lost signal,
    # or a worker process without pub/sub wrote it): the latest a notification reaches an open page.
    notification_stream_poll_seconds: float = Field(default=5.0, gt=0, le=60.0)
    # A stream then ends (the browser's EventSource reconnects by itself): no connection is held for ever.
    notification_stream_max_seconds: float = Field(default=300.0, gt=0)
    # Notification rate limits (docs/notifications.md), on messages of non-urgent kinds sent through notify(): at
    # most so many per recipient address, and per organisation, in a moving window (seconds); 0 turns one off.
    # Shared by every process through Redis when CAURI_REDIS_URL is set (core.limits).
    notification_limit_per_recipient: int = Field(default=30, ge=0)
    notification_limit_recipient_seconds: float = Field(default=3600.0, gt=0)
    notification_limit_per_organization: int = Field(default=6000, ge=0)
    notification_limit_organization_seconds: float = Field(default=60.0, gt=0)
    # What one SMS segment costs, per country (ISO 3166 alpha-2), in minor units of sms_price_currency, for the
    # estimate before a bulk send; a country not listed costs sms_default_price.
    sms_prices: dict[str, int] = {"SN": 25, "CI": 25, "ML": 25, "BF": 25, "NE": 25, "BJ": 20, "TG": 20, "CM": 25}
    sms_default_price: int = Field(default=30, ge=0)
    sms_price_currency: str = Field(default="XOF", pattern="^[A-Z]{3}$")
    # How long one delivery of a batch's callback may take (seconds).
    bulk_callback_timeout_seconds: float = Field(default=10.0, gt=0)

    # The seeds' own APIs (docs/compatibility.md): each answers for one operator organisation (slug or id);
    # unset, that surface answers 503. One surface may also be served at the root, for a one-product deployment.
    gateway_organization: str | None = None
    kobiri_organization: str | None = None
    lokahome_organization: str | None = None
    root_surface: Literal["gateway", "kobiri", "lokahome"] | None = None

    # Logging
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Self:
        if self.env is not Environment.PRODUCTION:
            return self
        defaults = {
            "CAURI_SECRET_KEY": (self.secret_key, DEV_SECRET_KEY),
            "CAURI_ENCRYPTION_KEYS": (self.encryption_keys, DEV_ENCRYPTION_KEY),
        }
        weak = [name for name, (value, default) in defaults.items() if value.get_secret_value() in ("", default)]
        if len(self.secret_key.get_secret_value()) < 32 and "CAURI_SECRET_KEY" not in weak:
            weak.append("CAURI_SECRET_KEY (at least 32 characters)")
        if weak:
            raise ValueError(f"production refuses default or missing secrets: {', '.join(weak)}")
        return self

    @model_validator(mode="before")
    @classmethod
    def _public_base_url_follows_host_and_port(cls, data: object) -> object:
        if not isinstance(data, dict) or data.get("public_base_url"):
            return data
        host = str(data.get("listen_host") or "127.0.0.1")
        # Listening on every interface: this machine's own loopback address reaches it.
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 (compared, not bound)
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return {**data, "public_base_url": f"http://{host}:{data.get('listen_port') or 8000}"}

    @field_validator("database_url", mode="before")
    @classmethod
    def _async_driver_for_database_url(cls, value: object) -> object:
        """``postgresql://`` and ``postgres://`` (as hosting providers give them) mean asyncpg; sqlite, aiosqlite."""
        if not isinstance(value, str):
            return value
        scheme, separator, rest = value.partition("://")
        driver = _DATABASE_SCHEMES.get(scheme.lower()) if separator else None
        if driver is None:
            accepted = ", ".join(f"{name}://" for name in _DATABASE_SCHEMES)
            given = f"{scheme}://…" if separator else "no scheme"
            raise ValueError(f"CAURI_DATABASE_URL must start with one of {accepted} (got {given})")
        return f"{driver}://{rest}"

    @field_validator("broker_url", mode="before")
    @classmethod
    def _check_broker_url(cls, value: object) -> object:
        """Empty means in-process jobs (as unset); anything else must be Redis or RabbitMQ."""
        if value == "":
            return None
        if isinstance(value, str) and not value.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
            raise ValueError("CAURI_BROKER_URL must start with redis://, rediss://, amqp:// or amqps://")
        return value

    @field_validator(
        "gateway_organization", "kobiri_organization", "lokahome_organization", "root_surface", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    # Restaurant hub (docs/restaurant.md). The platform's Square application (OAuth with PKCE); the URL is Square's
    # production host unless set (the simulator's, `cauri simulate square`, or Square's sandbox host).
    restaurant_square_url: str = "https://connect.squareup.com"
    restaurant_square_client_id: str = ""
    restaurant_square_client_secret: SecretStr | None = None
    restaurant_square_signature_key: SecretStr | None = None
    # The platform's Lightspeed Retail (R-Series) application: API host, OAuth host (cloud.lightspeedapp.com), and the
    # secret of Cauri's notification relay (R-Series has no sales webhook; docs/providers/lightspeed.md).
    restaurant_lightspeed_url: str = "https://api.lightspeedapp.com"
    restaurant_lightspeed_oauth_url: str = "https://cloud.lightspeedapp.com"
    restaurant_lightspeed_client_id: str = ""
    restaurant_lightspeed_client_secret: SecretStr | None = None
    restaurant_lightspeed_signature_secret: SecretStr | None = None
    # Square: refresh tokens older than 7 days (its advice), i.e. once less than 23 of their 30 days remain.
    restaurant_token_refresh_margin_seconds: int = Field(default=23 * 86_400, ge=0)
    restaurant_catalog_ttl_seconds: int = Field(default=86_400, ge=1)  # the seed's 24 h catalogue cache

    @field_validator("extra_job_modules", mode="before")
    @classmethod
    def _split_module_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def shared_redis_url(self) -> str | None:
        """The Redis shared by the API processes (cache, pub/sub), if any."""
        if self.redis_url:
            return self.redis_url
        limits_url = self.rate_limit_storage_url or ""
        return limits_url if limits_url.startswith(("redis://", "rediss://")) else None

    @property
    def embeds_sandbox(self) -> bool:
        return self.sandbox_url is None and self.env is not Environment.PRODUCTION

    @property
    def effective_outbound_targets(self) -> OutboundTargets:
        if self.outbound_targets is not None:
            return self.outbound_targets
        return OutboundTargets.PUBLIC if self.env is Environment.PRODUCTION else OutboundTargets.ANY

    @property
    def sandbox_base_url(self) -> str:
        return self.sandbox_url or self.sandbox_shared_url or self.public_sandbox_url

    @property
    def public_sandbox_url(self) -> str:
        """The embedded sandbox at this service's public address (it forwards to the shared one if any)."""
        return f"{self.public_base_url.rstrip('/')}/sandbox"

    @cached_property
    def encryption_key_list(self) -> list[str]:
        """Fernet keys, newest first: the first encrypts, all decrypt (rotation)."""
        return [k.strip() for k in self.encryption_keys.get_secret_value().split(",") if k.strip()]


def get_settings() -> Settings:
    """Settings from the environment; the app keeps its own instance on ``app.state.settings``."""
    return Settings()
