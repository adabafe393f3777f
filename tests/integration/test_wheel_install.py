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
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.sandbox_process import page_state, process_env, sandbox_process

pytestmark = pytest.mark.slow

IGNORED = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "demo", "__pycache__", ".*_cache",
    "screenshots", "*.db*",
)  # fmt: skip
#: Python without site hooks (so not the editable install's finder): packages come only
#: from PYTHONPATH, the unpacked wheel first.
PYTHON = (sys.executable, "-S")
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
    return process_env(PYTHONPATH=os.pathsep.join([str(site), sysconfig.get_paths()["purelib"]]))


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
    out = subprocess.run(
        [*PYTHON, "-c", CHECK, *PACKAGES],
        cwd=tmp_path,  # outside the repository
        env=_env(unpacked),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
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
    bot = [*PYTHON, "-m", "bot"]
    init = subprocess.run([*bot, "init"], cwd=tmp_path, env=_env(unpacked), capture_output=True)
    assert init.returncode == 0, init.stderr
    with sandbox_process(tmp_path, command=bot, env=_env(unpacked)) as url:
        with urllib.request.urlopen(f"{url}/static/app.js", timeout=10) as script:
            assert b"recon-bot local sandbox" in script.read()
        channels = {c["id"] for c in page_state(url, "U0ALICE")["channels"]}
    assert "C0TREASURY" in channels  # the example policy's, in the stand-in's workspace
