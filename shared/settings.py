"""The one place for configuration: every setting is an environment variable `CCHC_*`."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.deadlines import DueRules
from shared.workdays import WorkingCalendar


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCHC_", extra="ignore")

    nats_url: str | None = None
    database_url: str | None = None
    # Subject and stream prefix: lets several deployments (or test runs) share one NATS.
    nats_prefix: str = "cchc"
    service_host: str = "127.0.0.1"
    service_port: int = 0
    public_url: str = "http://127.0.0.1:8000"

    # JetStream consumer settings, reconciled at start-up (see shared.bus).
    max_deliver: int = 6
    ack_wait_seconds: float = 30.0
    fetch_batch: int = 32
    consumer_workers: int = 8  # messages handled concurrently per subscriber
    # Hot consumers (the reports read model) take a batch per transaction: up to this many
    # events, handed over when the batch is full or after the timeout (the latency added).
    consumer_batch: int = 200
    batch_timeout_seconds: float = 0.2

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

    # Delivery of notifications by email (SMTP) and webhooks.
    smtp_host: str | None = None  # no host: email is not sent (in-app and webhooks still are)
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_ssl: bool = False  # implicit TLS (port 465) instead of STARTTLS
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "He thong CCHC <cchc@localhost>"
    smtp_timeout_seconds: float = 20.0
    webhook_timeout_seconds: float = 10.0
    webhook_max_response_bytes: int = 64 * 1024
    delivery_max_attempts: int = 6
    delivery_backoff_seconds: float = 30.0  # first retry; doubles each time, with jitter
    delivery_batch: int = 200
    templates_dir: str | None = None  # operator's own Jinja2 templates, checked at start-up

    otel_exporter: Literal["none", "console", "otlp"] = "none"
    otlp_endpoint: str | None = None

    def require_urls(self) -> tuple[str, str]:
        if not self.nats_url:
            raise RuntimeError("CCHC_NATS_URL chưa được đặt (NATS URL is not set)")
        if not self.database_url:
            raise RuntimeError("CCHC_DATABASE_URL chưa được đặt (database URL is not set)")
        return self.nats_url, self.database_url

    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar(extra_holidays=self.extra_holidays, extra_workdays=self.extra_workdays)
