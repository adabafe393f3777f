"""``recon-bot serve`` when Slack cannot be reached: one sentence naming the URL (never a
token), exit 1, nothing left open. It printed ``Connect call failed ('127.0.0.1', 9)``
and an asyncio ERROR "Unclosed client session"."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

BOT_TOKEN = "xoxb-1111-2222-unreachable-secret"
APP_TOKEN = "xapp-1-A0-3333-unreachable-secret"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe closes


def _recon_bot(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_with_slack_unreachable_says_so_in_one_sentence(tmp_path: Path) -> None:
    api_url = f"http://127.0.0.1:{_closed_port()}/api/"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECON_", "SLACK_"))}
    env |= {"RECON_SLACK_API_URL": api_url, "PYTHONDEVMODE": "1"}
    env |= {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}
    assert _recon_bot("init", cwd=tmp_path, env=env).returncode == 0
    (tmp_path / "policy.yml").chmod(0o644)  # serve also names desk files others can read

    result = _recon_bot("serve", cwd=tmp_path, env=env)

    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == [
        f"error: could not reach Slack at {api_url} (connection refused); "
        "check the network, a proxy, or RECON_SLACK_API_URL"
    ], result.stderr
    assert not [line for line in lines if " ERROR " in line or "Traceback" in line]
    assert "Unclosed" not in result.stderr and "Connect call failed" not in result.stderr
    assert BOT_TOKEN not in result.stderr and APP_TOKEN not in result.stderr
    assert "policy.yml is accessible by group or others (mode 0644)" in result.stderr
