"""``recon-bot sandbox`` as a real process, started as ``scripts/demo`` starts it, for the
tests that drive it (browser, ``--speed``, a wheel outside the repository)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The CLI of the environment running the tests.
RECON_BOT = (str(Path(sys.executable).parent / "recon-bot"),)


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_env(**extra: str) -> dict[str, str]:
    """The environment without the runner's RECON_/SLACK_ settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECON_", "SLACK_"))}
    env["RECON_LOG_LEVEL"] = "WARNING"
    env.update(extra)
    return env


@contextmanager
def sandbox_process(
    desk: Path,
    *args: str,
    command: Sequence[str] = RECON_BOT,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Runs ``<command> sandbox --port P <args>`` in ``desk`` and yields the address it
    prints when ready; on leaving, stops it with SIGINT (what Ctrl-C sends) and checks that
    it stopped cleanly. Its stderr goes to ``desk/sandbox.log`` (a pipe nobody reads would
    fill up and stall it)."""
    port = free_port()
    log_path = desk / "sandbox.log"
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            [*command, "sandbox", "--port", str(port), *args],
            cwd=desk,
            env=process_env() if env is None else env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        ) as proc,
    ):
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # blocks until ready (or the process ends)
            assert line == f"open http://127.0.0.1:{port}\n", (
                f"the sandbox did not start:\n{log_path.read_text()}"
            )
            yield line.split()[1]
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    proc.wait()
    assert proc.returncode == 0, (
        f"the sandbox did not stop cleanly on SIGINT:\n{log_path.read_text()}"
    )


def page_state(url: str, person: str) -> dict[str, Any]:
    """What ``person`` sees on the page now (its JSON API, as the page polls it)."""
    with urllib.request.urlopen(f"{url}/api/state?as={person}", timeout=10) as answer:
        state: dict[str, Any] = json.load(answer)
    return state
