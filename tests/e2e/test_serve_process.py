"""``recon-bot serve`` as a real process: connects, logs once, answers, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.setup import initialize
from tests.e2e.conftest import e2e_settings
from tests.slack_standin import SlackStandIn


async def test_serve_connects_answers_and_stops_cleanly_on_sigterm(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = e2e_settings(tmp_path, slack)
    await initialize(settings)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RECON_", "SLACK_"))},
        "RECON_DATABASE_URL": settings.database_url,
        "RECON_POLICY": str(settings.policy),
        "RECON_AUDIT_KEY": str(settings.audit_key),
        "RECON_AUDIT_ANCHORS": str(settings.audit_anchors),
        "RECON_SLACK_API_URL": slack.api_url,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "RECON_LOG_LEVEL": "INFO",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await slack.wait_connected(timeout=30)
        result = await slack.slash_command("U0ALICE", "help")
        assert not result.timed_out
        assert result.ack_payload and "/recon" in str(result.ack_payload)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.stderr is not None
    logs = (await proc.stderr.read()).decode()
    assert code == 0, logs
    assert logs.count("connected to Slack over Socket Mode") == 1
    assert "stopped" in logs
    for secret in (slack.bot_token, slack.app_token):
        assert secret not in logs
