"""The one place for configuration: every setting is an environment variable `CCHC_*`."""

from __future__ import annotations

import functools
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.deadlines import DueRules
from shared.federation import UNIT_PATH, Federation
from shared.workdays import WorkingCalendar

UNIT_PATH_PATTERN = f"^{UNIT_PATH.pattern}$"


@functools.cache
def _secret_file(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCHC_", extra="ignore")

    # One server, or the servers of a cluster separated by commas (`cchc up --cluster 3` passes all
    # of them): a client connects to any and fails over to the others.
    nats_url: str | None = None
    # Copies of every stream (and its consumers) a JetStream cluster keeps on separate servers: 3 on
    # a cluster of 3 or more (a write is acknowledged once a majority has it). Unset: a new stream
    # gets 1 and an existing one keeps its count, so a command run without it never lowers it.
    stream_replicas: int | None = Field(default=None, ge=1, le=5)
    # Sites on leaf nodes (shared/federation.py). A site: the unit path it serves (CCHC_SITE=52.21787),
    # its nats-server a leaf of the hub's. A hub: the unit paths its sites serve, as JSON
    # (CCHC_SITES='["52.21787", "52.21790"]'); their work is done there and sourced from there.
    site: Annotated[str, Field(pattern=UNIT_PATH_PATTERN)] | None = None
    sites: list[Annotated[str, Field(pattern=UNIT_PATH_PATTERN)]] = []
    hub_domain: str = Field(default="hub", pattern=r"^[A-Za-z0-9_-]+$")
    # Services: the URL of their own run-time role (shared/db_roles.py); `cchc migrate` and `cchc up`:
    # the admin URL they create the roles, migrate and grant with. The password may come apart
    # (CCHC_DATABASE_PASSWORD or a file, e.g. a compose secret).
    database_url: str | None = None
    database_password: SecretStr | None = None
    database_password_file: str | None = None
    # Prefix of the roles `cchc up` / `cchc migrate` make (<prefix>_tasks, <prefix>_tasks_owner …)
    # and the folder their passwords are kept in (default: <data dir>/secrets).
    database_role_prefix: str = "cchc"
    database_passwords_dir: str | None = None
    database_pool_size: int = 10  # connections each service keeps open (and as many more under load)
    # Subject and stream prefix: lets several deployments (or test runs) share one NATS.
    nats_prefix: str = "cchc"
    # This process's own NATS user (shared/nats_security.py); unset: anonymous, and each service
    # declares its streams and consumers itself. The password inline or in a file (compose secrets).
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_password_file: str | None = None
    service_host: str = "127.0.0.1"
    service_port: int = 0
    public_url: str = "http://127.0.0.1:8000"
    # HTTP edges (shared/http_limits.py). The largest request body of a route, refused with 413 as
    # soon as it is declared or streamed past (uploads: their file limit, CCHC_EVIDENCE_MAX_BYTES or
    # the plan document's 10 MB, plus the form around it). The host names the gateway answers to
    # besides CCHC_PUBLIC_URL's and loopback (DNS rebinding), as JSON:
    # CCHC_ALLOWED_HOSTS='["cchc.example.gov.vn", "*.example.gov.vn"]'; '["*"]' turns the check off.
    max_body_bytes: int = 2 * 1024 * 1024
    # The gateway reads such a body whole before it takes a connection to a service (within 4× this),
    # and streams an upload on as it comes, cut when nothing arrives for this long (408).
    body_idle_seconds: float = 30.0
    allowed_hosts: list[str] = []

    # JetStream consumer settings, reconciled at start-up (see shared.bus).
    max_deliver: int = 6
    # An event that needs one its owner has not published yet (shared.bus.Premature) is retried
    # until it is this old, not only max_deliver times: an outage holds the owner's events back.
    premature_wait_seconds: float = 3600.0
    ack_wait_seconds: float = 30.0
    fetch_batch: int = 32
    consumer_workers: int = 8  # messages handled concurrently per subscriber
    # Hot consumers (the reports read model) take a batch per transaction: up to this many
    # events, handed over when the batch is full or after the timeout (the latency added).
    consumer_batch: int = 200
    batch_timeout_seconds: float = 0.2

    # Event sizes and stream limits (shared/outbox.py EventLimits, shared/bus.py stream_configs).
    # The largest JSON envelope per family, checked when the event is written (an API write over it
    # is refused with 413, nothing stored) and set as its stream's max_msg_size; capped by the
    # nats-server's max_payload (the embedded server and compose's are started with 8 MB). Plans
    # carry their tasks, and audit entries the write's body, so they get more room.
    event_max_bytes: dict[str, int] = {"plan": 4 * 1024 * 1024, "audit": 4 * 1024 * 1024}
    event_default_max_bytes: int = 512 * 1024
    # Each family's stream keeps at most this much and this long; when full, new events are refused
    # (discard new: the outbox keeps them and the relay logs an error) rather than old ones dropped,
    # because `cchc rebuild-reports` replays the streams from their first message. JetStream
    # reserves the bytes at start-up: 8 families plus the dead letters must fit in its store.
    stream_max_bytes: int = 1024**3
    stream_max_age_days: float = 3650.0
    # The dead-letter stream drops its oldest messages past these (it is for inspection and re-drive).
    dead_letter_max_bytes: int = 256 * 1024**2
    dead_letter_max_age_days: float = 90.0

    outbox_poll_seconds: float = 0.5
    sweep_interval_seconds: float = 5.0
    delivery_poll_seconds: float = 1.0  # how often notify looks for messages to send (email, webhooks)

    # Compensatory days off and swapped working days announced after the calendar package knew
    # them, as JSON lists: CCHC_EXTRA_HOLIDAYS='["2026-01-02"]'.
    extra_holidays: list[date] = []
    extra_workdays: list[date] = []
    due_soon_days: list[int] = [7, 1]
    # Report deadlines when a plan sets none (Decree 09/2019 by default), staggered by level if
    # wanted: CCHC_DUE_RULES='{"earlier_by_level": {"commune": 5, "body": 7}}'.
    due_rules: DueRules = DueRules()

    # Evidence files attached to progress reports: at most this many bytes each, and only these
    # types (recognised from the content, not from the name).
    evidence_max_bytes: int = 20 * 1024 * 1024
    evidence_types: list[str] = [
        "application/pdf",
        "image/jpeg",
        "image/png",
        "image/webp",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/msword",
        "application/vnd.ms-excel",
        "video/mp4",
    ]
    # Evidence bytes one unit may keep in all (its assignments' files, each content once); an upload
    # past it is refused (413, nothing stored). Counted in tasks.evidence_usage (services/tasks/evidence.py).
    evidence_quota_bytes_per_unit: int = 2 * 1024**3

    # Hostile input. Zip containers uploaded (a plan's .docx; .docx/.xlsx/.pptx evidence) are checked
    # before anything opens them (shared/containers.py): members, bytes declared unpacked, and the
    # ratio unpacked/packed of members of 1 MB or more; past them 413, naming `file`.
    zip_max_members: int = 5_000
    zip_max_uncompressed_bytes: int = 100 * 1024 * 1024
    zip_max_ratio: float = 100.0
    # CPU-heavy work runs off the event loop and is refused (503, nothing stored) past these seconds
    # (shared/bounded.py: in a worker process, killed then): reading an uploaded plan, making a
    # report's DOCX/XLSX, reading the units of a load from the packages (its writes stay in the request).
    import_time_limit_seconds: float = 20.0
    # A scanned plan (a PDF page without text, an image) is read by OCR, seconds a page: its own limit
    # (503 past it, naming the setting), and bounds on what is read at all (413, naming the setting).
    import_ocr_time_limit_seconds: float = 180.0
    import_max_pages: int = 40
    import_max_image_pixels: int = 60_000_000  # one image or page: an A4 at 600 dpi is 35 million
    document_time_limit_seconds: float = 60.0
    units_load_time_limit_seconds: float = 120.0
    # How many such workers one service process runs at once (a request past them waits this long
    # for one, then is refused as busy, 503), and the address space each may use (past it 413).
    heavy_workers: int = 2
    heavy_wait_seconds: float = 10.0
    heavy_memory_bytes: int = 2 * 1024**3

    # Delivery of notifications by email (SMTP) and webhooks.
    smtp_host: str | None = None  # no host: email is not sent (in-app and webhooks still are)
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_ssl: bool = False  # implicit TLS (port 465) instead of STARTTLS
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "He thong CCHC <cchc@localhost>"
    smtp_timeout_seconds: float = 20.0
    # SMTP connections each notify process keeps open while it sends, each carrying mail after
    # mail: more hide a distant relay's round trips; a relay may cap connections per client.
    smtp_sessions: int = 8
    webhook_timeout_seconds: float = 10.0
    webhook_max_response_bytes: int = 64 * 1024
    # Where webhooks may go (services/notify/destinations.py): https to public addresses only,
    # checked when a contact is added and again, resolved and pinned, at every send. On-premise
    # bridges: host names or CIDRs that may be private and may use http, as JSON, e.g.
    # CCHC_WEBHOOK_ALLOW_HOSTS='["zalo-bridge.ubnd.local", "10.20.0.0/16"]'. The system's own
    # endpoints (its NATS, database, public URL …) stay refused even there.
    webhook_allow_hosts: list[str] = []
    delivery_max_attempts: int = 6
    delivery_backoff_seconds: float = 30.0  # first retry; doubles each time, with jitter
    delivery_batch: int = 200
    templates_dir: str | None = None  # operator's own Jinja2 templates, checked at start-up

    # Identity (shared/auth.py). The public keys every service checks the system's own tokens
    # with (a JWKS, inline or in a file); the private key only the plans service, which signs
    # them, holds (PEM, inline or in a file). `cchc up` makes both in the data folder.
    auth_jwks: str | None = None
    auth_jwks_file: str | None = None
    auth_signing_key: SecretStr | None = None
    auth_signing_key_file: str | None = None
    # What the gateway proves itself with when it exchanges a cookie or an API token for a
    # short-lived token at the plans service (inline or in a file).
    gateway_secret: SecretStr | None = None
    gateway_secret_file: str | None = None
    # The key secrets at rest (webhook signing secrets) are sealed with (shared/sealing.py).
    secrets_key: SecretStr | None = None
    secrets_key_file: str | None = None
    # The first national admin's password at `cchc up` on a new system (else one is made up).
    admin_password: SecretStr | None = None
    admin_password_file: str | None = None
    gateway_cache_seconds: float = 10.0  # how long the gateway reuses an exchanged token
    session_hours: float = 12.0
    login_max_failures: int = 5  # failed logins per account (and per address) within the window …
    login_window_minutes: float = 15.0  # … before logging in is refused for the rest of it
    # Optional OIDC provider (Keycloak or the province's own): bearer JWTs checked against its
    # JWKS; the unit path and the roles are read from these claims (dotted: realm_access.roles).
    oidc_issuer: str | None = None
    oidc_jwks_url: str | None = None  # default: <issuer>/protocol/openid-connect/certs (Keycloak)
    oidc_audience: str | None = None
    oidc_unit_claim: str = "cchc_unit"
    oidc_roles_claim: str = "cchc_roles"

    otel_exporter: Literal["none", "console", "otlp"] = "none"
    otlp_endpoint: str | None = None

    @property
    def federation(self) -> Federation:
        return Federation(self.nats_prefix, site=self.site, sites=tuple(self.sites), hub_domain=self.hub_domain)

    @property
    def nats_servers(self) -> list[str]:
        """The NATS URLs to connect to (CCHC_NATS_URL split at its commas)."""
        return [url.strip() for url in (self.nats_url or "nats://127.0.0.1:4222").split(",") if url.strip()]

    def require_urls(self) -> tuple[str, str]:
        if not self.nats_url:
            raise RuntimeError("CCHC_NATS_URL chưa được đặt (NATS URL is not set)")
        if not self.database_url:
            raise RuntimeError("CCHC_DATABASE_URL chưa được đặt (database URL is not set)")
        return self.nats_url, self.database_url

    def secret(self, name: str) -> str | None:
        """A secret setting's value, from `CCHC_<NAME>` or the file `CCHC_<NAME>_FILE` names
        (compose secrets); never logged. A file is read once per process (callers on hot paths —
        the token exchange, each webhook delivery — ask every time): a new secret needs a restart."""
        inline: SecretStr | str | None = getattr(self, name)
        if inline is not None:
            return inline.get_secret_value() if isinstance(inline, SecretStr) else inline
        path: str | None = getattr(self, f"{name}_file")
        return _secret_file(path) if path else None

    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar(extra_holidays=self.extra_holidays, extra_workdays=self.extra_workdays)
