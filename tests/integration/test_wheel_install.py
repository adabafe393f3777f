"""A built wheel, not the source tree, runs the sandbox: the Slack stand-in finds the app's
manifest (its subscribed events) inside the package, with the repository nowhere in reach.

The wheel is built from a copy of the repository (``pip wheel --no-build-isolation``, so
offline, with the setuptools the dev extra installs) and unpacked into a folder that is
the only place the packages come from: the child Python runs with ``-S`` (no site hooks,
so not the editable install's finder), the dependencies' site-packages on PYTHONPATH after
the unpacked wheel, and its working directory outside the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from importlib import metadata
from pathlib import Path
from typing import IO

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

IGNORED = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "demo", "__pycache__", ".*_cache",
    "screenshots", "*.db*",
)  # fmt: skip
PACKAGES = ("bot", "handlers", "domain", "store", "scheduler", "sandbox")


def _setuptools_version() -> tuple[int, ...]:
    return tuple(int(p) for p in metadata.version("setuptools").split(".")[:2] if p.isdigit())


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the repository, unpacked into a folder of its own."""
    if _setuptools_version() < (77,):
        pytest.skip("setuptools>=77 builds the wheel offline: run scripts/setup (dev extra)")
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=IGNORED)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), str(src)],
        capture_output=True,
        text=True,
        cwd=work,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (work / "dist").glob("recon_bot-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "sandbox/slack/manifest.yml" in names, "the wheel has no manifest for the stand-in"
        packaged = zf.read("sandbox/slack/manifest.yml")
        zf.extractall(work / "site")
    assert packaged == (ROOT / "manifest.yml").read_bytes()  # the one manifest, copied
    return work / "site"


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECON_", "SLACK_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(site), sysconfig.get_paths()["purelib"]])
    env["RECON_LOG_LEVEL"] = "WARNING"
    return env


def _python(
    site: Path, cwd: Path, *args: str, stdout: int | IO[str], stderr: int | IO[str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-S", *args],
        cwd=cwd,
        env=_env(site),
        text=True,
        stdout=stdout,
        stderr=stderr,
    )


CHECK = """
import asyncio, json, sys
from pathlib import Path
import sandbox.slack.state as state
from sandbox.slack import SlackStandIn

async def main():
    async with SlackStandIn() as slack:
        events = sorted(slack.bot_events)
    origins = {name: __import__(name).__file__ for name in sys.argv[1:]}
    print(json.dumps({"events": events, "manifest": str(state.MANIFEST),
                      "origins": origins, "path": sys.path}))

asyncio.run(main())
"""


def test_the_wheel_carries_the_manifest_and_the_stand_in_loads_its_events(
    unpacked: Path, tmp_path: Path
) -> None:
    with _python(unpacked, tmp_path, "-c", CHECK, *PACKAGES, stdout=subprocess.PIPE) as child:
        out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    seen = json.loads(out)
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert seen["events"] == sorted(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert seen["events"]  # the manifest subscribes to events; none would prove nothing
    assert Path(seen["manifest"]) == unpacked / "sandbox" / "slack" / "manifest.yml"
    for name, origin in seen["origins"].items():
        assert Path(origin).is_relative_to(unpacked), f"{name} came from {origin}"
    assert not any(p and Path(p).resolve() == ROOT for p in seen["path"])


def test_recon_bot_sandbox_starts_from_the_wheel_outside_the_repository(
    unpacked: Path, tmp_path: Path
) -> None:
    with _python(unpacked, tmp_path, "-m", "bot", "init", stdout=subprocess.DEVNULL) as init:
        assert init.wait(timeout=60) == 0
    log = (tmp_path / "sandbox.log").open("w")
    with (
        log,
        _python(
            unpacked,
            tmp_path,
            "-m",
            "bot",
            "sandbox",
            "--port",
            "0",
            stdout=subprocess.PIPE,
            stderr=log,
        ) as proc,
    ):
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("open http://127.0.0.1:"), (tmp_path / "sandbox.log").read_text()
            url = line.split()[1]
            with urllib.request.urlopen(f"{url}/static/app.js", timeout=10) as page:
                assert b"recon-bot local sandbox" in page.read()
            with urllib.request.urlopen(f"{url}/api/state?as=U0ALICE", timeout=10) as state:
                assert "C0TREASURY" in {c["id"] for c in json.load(state)["channels"]}
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            finally:
                if proc.returncode is None:
                    proc.kill()
    assert proc.returncode == 0, (tmp_path / "sandbox.log").read_text()
