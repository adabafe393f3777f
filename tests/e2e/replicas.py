"""Several real ``recon-bot serve`` processes on one PostgreSQL database, against the
Slack stand-in and the HTTP ledger stand-in (issue 13). Shared by the replica test and
``tests/benchmarks/bench_replicas.py``."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.container import Container
from bot.settings import Settings
from bot.setup import initialize
from tests.conftest import EXAMPLE_POLICY, POSTGRES_ENV, fresh_postgres_database, postgres_url
from tests.e2e.conftest import CHANNELS, PEOPLE
from tests.ledger_standin import LedgerStandIn
from tests.ledger_support import ACCOUNTS_YAML
from tests.slack_standin import SlackStandIn

#: The example policy with accounts (entries go to the ledger), a reminder rung that
#: falls due within a test, and a digest every minute.
SLA = "sla: {remind_after: 40s, escalate_after: 2h, dead_letter_after: 3h, claim_ttl: 4h}"
DIGEST = 'digest: {cron: "* * * * *", timezone: UTC}'


def replica_policy(*, remind_after: str = "40s") -> str:
    """The policy text the replicas run under."""
    text = EXAMPLE_POLICY.read_text()
    sla = next(line for line in text.splitlines() if line.startswith("sla:"))
    digest = next(line for line in text.splitlines() if line.startswith("digest:"))
    text = text.replace(sla, SLA.replace("40s", remind_after)).replace(digest, DIGEST)
    return text + ACCOUNTS_YAML


def add_people(slack: SlackStandIn) -> None:
    """The example policy's people and channels, in the stand-in."""
    for user, name in PEOPLE.items():
        slack.add_user(user, name)
    for channel, name in CHANNELS.items():
        slack.add_channel(channel, name, members=tuple(PEOPLE))


def replica_settings(
    tmp_path: Path, slack: SlackStandIn, database_url: str, *, remind_after: str = "40s"
) -> Settings:
    """Settings for replicas sharing ``tmp_path`` (policy, key, anchors: shared paths)."""
    policy = tmp_path / "policy.yml"
    policy.write_text(replica_policy(remind_after=remind_after))
    policy.chmod(0o600)
    return Settings(
        database_url=database_url,
        policy=policy,
        audit_key=tmp_path / "audit.pem",
        audit_anchors=tmp_path / "shared" / "anchors.jsonl",
        slack_bot_token=SecretStr(slack.bot_token),
        slack_app_token=SecretStr(slack.app_token),
        slack_api_url=slack.api_url,
    )


@dataclass
class Replica:
    """One ``recon-bot serve`` process (and its Socket Mode connection, once known)."""

    proc: asyncio.subprocess.Process
    log: Path
    connection_id: int | None = None

    def logs(self) -> str:
        """What it logged so far."""
        return self.log.read_text(errors="replace")


@dataclass
class Replicas:
    """The running replicas (started in order, each connected before the next)."""

    settings: Settings
    slack: SlackStandIn
    ledger_url: str
    cwd: Path
    running: list[Replica] = field(default_factory=list)
    #: More settings for every replica (e.g. a short ``RECON_REPLICA_TIMEOUT``).
    extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        settings = self.settings
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("RECON_", "SLACK_"))}
        return (
            keep
            | {
                "RECON_DATABASE_URL": settings.database_url,
                "RECON_POLICY": str(settings.policy),
                "RECON_AUDIT_KEY": str(settings.audit_key),
                "RECON_AUDIT_ANCHORS": str(settings.audit_anchors),
                "RECON_SLACK_API_URL": self.slack.api_url,
                "SLACK_BOT_TOKEN": self.slack.bot_token,
                "SLACK_APP_TOKEN": self.slack.app_token,
                "RECON_LOG_LEVEL": "INFO",
                "RECON_METRICS_ADDR": "",  # replicas on one host would share the port
                "RECON_AUDIT_VERIFY_INTERVAL": "0",
                "RECON_SWEEP_INTERVAL": "1",
                "RECON_LEDGER_SINK": "http",
                "RECON_LEDGER_URL": self.ledger_url,
            }
            | self.extra
        )

    async def start(self, n: int) -> None:
        """Starts ``n`` more replicas at once; returns when each has connected."""
        before = self.slack.live_connections
        for _ in range(n):
            log = self.cwd / f"replica-{len(self.running) + 1}.log"
            with log.open("wb") as out:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "serve",
                    cwd=self.cwd,
                    env=self.env(),
                    stdout=out,
                    stderr=out,
                )
            self.running.append(Replica(proc=proc, log=log))

        def connected() -> bool:
            return self.slack.live_connections >= before + n

        await self.slack.wait_for(connected, timeout=60, message=f"{n} replicas connected")

    async def stop(self) -> list[int | None]:
        """SIGTERM to every live replica (bounded wait, then SIGKILL); their exit codes."""
        for replica in self.running:
            if replica.proc.returncode is None:
                replica.proc.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for replica in self.running:
            try:
                async with asyncio.timeout(30):
                    codes.append(await replica.proc.wait())
            except TimeoutError:
                replica.proc.kill()
                await replica.proc.wait()
                codes.append(None)
        return codes

    async def audit_verify(self) -> tuple[int, str]:
        """``recon-bot audit verify`` against the shared database and anchors."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "audit",
            "verify",
            cwd=self.cwd,
            env=self.env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode(errors="replace")


@dataclass(frozen=True, slots=True)
class Cluster:
    """What a replica test runs against: the stand-ins, the desk's container (the test's
    own view of the database) and the replicas (not started yet)."""

    slack: SlackStandIn
    ledger: LedgerStandIn
    container: Container
    replicas: Replicas


@asynccontextmanager
async def cluster(
    tmp_path: Path, *, remind_after: str = "40s", replica_timeout: str = "5"
) -> AsyncIterator[Cluster]:
    """A fresh PostgreSQL database with an initialized desk, the Slack and ledger
    stand-ins with the policy's people, and replicas taken for dead after
    ``replica_timeout`` seconds without a beat (the test starts and stops them). Skips,
    saying why, without ``RECON_TEST_POSTGRES_URL``."""
    url = postgres_url()
    if url is None:
        pytest.skip(f"{POSTGRES_ENV} not set: the replicas need one PostgreSQL database")
    async with (
        fresh_postgres_database(url) as database_url,
        SlackStandIn() as slack,
        LedgerStandIn() as ledger,
    ):
        add_people(slack)
        settings = replica_settings(tmp_path, slack, database_url, remind_after=remind_after)
        await initialize(settings)
        container = await Container.open(settings)
        try:
            yield Cluster(
                slack=slack,
                ledger=ledger,
                container=container,
                replicas=Replicas(
                    settings=settings,
                    slack=slack,
                    ledger_url=ledger.url,
                    cwd=tmp_path,
                    extra={"RECON_REPLICA_TIMEOUT": replica_timeout},
                ),
            )
        finally:
            await container.close()
