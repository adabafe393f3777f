"""Settings from the environment or ``.env`` (pydantic-settings). Secrets never print."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from telemetry.addr import parse_addr


class Settings(BaseSettings):
    """Everything the process reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="RECON_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default="sqlite+aiosqlite:///recon.db",
        description="SQLAlchemy async URL; SQLite file in the working directory by default.",
    )
    policy: Path = Field(default=Path("policy.yml"), description="Policy YAML file.")
    policy_cache: Path | None = Field(
        default=None,
        description=(
            "The parsed policy, cached by content hash (safe to delete); "
            "default: .<policy file name>.cache.json beside the policy file."
        ),
    )
    audit_key: Path = Field(
        default=Path("audit_ed25519.pem"), description="Ed25519 private key (PEM, mode 0600)."
    )
    audit_anchors: Path = Field(
        default=Path("audit_anchors.jsonl"),
        description=(
            "Append-only file of signed checkpoints, kept outside the database. Replicas "
            "share one path (each line is appended under an exclusive flock, so the file "
            "system must honour flock across the hosts: local, or NFSv4)."
        ),
    )
    audit_merge_delay: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description=(
            "Seconds within which a signed checkpoint covers every audited commit of the "
            "serve process (checkpoints are batched under load); 0 signs every commit."
        ),
    )
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "RECON_SLACK_BOT_TOKEN")
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "RECON_SLACK_APP_TOKEN")
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/", description="Slack Web API base URL."
    )
    sweep_interval: float = Field(
        default=60.0, gt=0, description="Seconds between SLA sweeps (and claim sweeps)."
    )
    anchor_interval: float = Field(
        default=3600.0, gt=0, description="Seconds between audit checkpoints posted to compliance."
    )
    match_interval: float = Field(
        default=3600.0,
        gt=0,
        description=(
            "Seconds between full matching runs in `serve` (a Stage 1 approval also runs "
            "matching for its statement at once; this run retries one that failed)."
        ),
    )
    replica_timeout: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Seconds without a beat after which a `serve` process is taken for dead and "
            "another one runs again the interactions it had acked but not finished (it "
            "beats every quarter of this)."
        ),
    )
    policy_reload_interval: float = Field(
        default=15.0, gt=0, description="Seconds between checks of the policy file for changes."
    )
    metrics_addr: str = Field(
        default="127.0.0.1:9464",
        description=(
            "host:port of the listener serving /metrics, /healthz and /readyz for `serve`; "
            "empty turns it off."
        ),
    )
    gauge_interval: float = Field(
        default=15.0,
        gt=0,
        description=(
            "Seconds between readings of the store for the queue, outbox and breaker gauges "
            "(a scrape shows the last reading and never queries the database)."
        ),
    )
    audit_verify_interval: float = Field(
        default=3600.0,
        ge=0,
        description=(
            "Seconds between verifications of the whole audit log by `serve` (in a thread "
            "of its own; recon_audit_last_verified_timestamp_seconds); 0 turns them off."
        ),
    )
    log_level: str = Field(default="INFO")
    ledger_sink: Literal["file", "http"] = Field(
        default="file",
        description="Where journal entries go: a JSON Lines file per day, or an HTTP ledger.",
    )
    ledger_dir: Path | None = Field(
        default=None,
        description=(
            "Directory of the file sink; default: ledger/ beside the SQLite database "
            "(for PostgreSQL, in the working directory)."
        ),
    )
    ledger_url: str | None = Field(
        default=None, description="The HTTP ledger's URL (required with the http sink)."
    )
    ledger_timeout: float = Field(
        default=10.0, gt=0, description="Seconds an HTTP ledger request may take."
    )
    ledger_cooldown: float = Field(
        default=30.0,
        gt=0,
        description="Seconds an open ledger circuit breaker waits before one probe.",
    )

    def ledger_directory(self) -> Path:
        """The file sink's directory: ``RECON_LEDGER_DIR``, else ``ledger/`` beside the
        SQLite database file, else (PostgreSQL, in-memory SQLite) ``./ledger``."""
        if self.ledger_dir is not None:
            return self.ledger_dir
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(url.database).parent / "ledger"
        return Path("ledger")

    @field_validator("metrics_addr")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        if value.strip():
            parse_addr(value.strip())
        return value.strip()
