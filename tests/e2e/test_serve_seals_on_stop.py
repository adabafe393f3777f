"""``recon-bot serve`` as a real process batches audit checkpoints and seals on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.container import Container
from bot.settings import Settings
from bot.setup import initialize
from domain.intake import IntakeRow
from store.audit.log import unsealed_tail
from store.audit.verification import verify_database
from tests.builders import make_facts
from tests.e2e.conftest import MATERIAL, e2e_settings, ingest_rows
from tests.slack_standin import SlackStandIn

#: Long enough that only the stop path can seal the second click during the test.
MERGE_DELAY_S = "60"


async def _serve(settings: Settings, slack: SlackStandIn, cwd: Path) -> asyncio.subprocess.Process:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RECON_", "SLACK_"))},
        "RECON_DATABASE_URL": settings.database_url,
        "RECON_POLICY": str(settings.policy),
        "RECON_AUDIT_KEY": str(settings.audit_key),
        "RECON_AUDIT_ANCHORS": str(settings.audit_anchors),
        "RECON_AUDIT_MERGE_DELAY": MERGE_DELAY_S,
        "RECON_SLACK_API_URL": slack.api_url,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "RECON_LOG_LEVEL": "INFO",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_serve_leaves_a_click_to_the_sealer_and_seals_it_on_sigterm(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = e2e_settings(tmp_path, slack)
    await initialize(settings)
    container = await Container.open(settings)  # one checkpoint per commit: the ingest
    proc = await _serve(settings, slack, tmp_path)
    try:
        await slack.wait_connected(timeout=30)
        rows = [
            IntakeRow(line=n, facts=make_facts(**(MATERIAL | {"external_id": f"seal-{n}"})))
            for n in (1, 2)
        ]
        await ingest_rows(container, rows)

        async def tail() -> tuple[int, int] | None:
            async with container.database.reader.connect() as conn:
                return await unsealed_tail(conn)

        # The first claim seals itself (nothing sealed for a delay); the second, a moment
        # later, waits for the sealer, which would take a minute.
        for user in ("U0ALICE", "U0BOB"):
            result = await slack.slash_command(user, "claim")
            assert not result.timed_out
        pending = await slack.wait_for(tail, timeout=30, message="a claim left unsealed")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await proc.wait()
        assert proc.stderr is not None
        logs = (await proc.stderr.read()).decode()
    try:
        assert proc.returncode == 0, logs
        assert "audit log sealed at shutdown" in logs
        assert await tail() is None
        report = await verify_database(container.database, anchors=container.anchors)
        assert report.ok, report.problem
        assert report.records >= pending[1]
    finally:
        await container.close()
