"""Benchmark: reading a policy with many teams, parsed and from the cache.

Generates the example policy with N teams (20,000 by default, each with a channel, two
reviewers, a lead, an entity and two currencies), then prints medians over a few
interleaved rounds of:

- in this process: ``yaml`` loading alone, the whole ``parse_policy`` (YAML, validation,
  version hash), and a cache hit (:class:`store.policy_cache.PolicyCache.get`);
- a CLI call as an operator makes it, ``recon-bot queue --limit 1`` in a fresh process,
  with no usable cache (``RECON_POLICY_CACHE`` in a directory that does not exist) and
  with the cache the first call wrote.

Each row shows wall-clock seconds and CPU seconds (user + system, of this process or
of the child): on a shared machine the CPU time is the steadier number. Run it on older
code to compare (the cache rows are skipped where there is no cache).

Usage::

    python -m tests.benchmarks.bench_policy --teams 20000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from domain.policy import parse_policy

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_POLICY = ROOT / "bot" / "policy.example.yml"


def policy_with_teams(count: int) -> str:
    """The example policy with ``count`` teams in all."""
    data = yaml.safe_load(EXAMPLE_POLICY.read_text(encoding="utf-8"))
    teams = data["teams"]
    for n in range(count - len(teams)):
        teams.append(
            {
                "name": f"team-{n:05d}",
                "channel": f"C{n:08d}",
                "reviewers": [f"U{n:07d}A", f"U{n:07d}B"],
                "leads": [f"U{n:07d}L"],
                "entities": [f"ENT-{n}"],
                "currencies": ["EUR", "USD"],
            }
        )
    return str(yaml.safe_dump(data, sort_keys=False))


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(run: Callable[[], Any]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run."""
    wall, cpu = time.perf_counter(), _cpu()
    run()
    return time.perf_counter() - wall, _cpu() - cpu


def _cli(desk: Path, env: dict[str, str]) -> Callable[[], None]:
    def call() -> None:
        subprocess.run(
            [sys.executable, "-m", "bot", "queue", "--limit", "1"],
            cwd=desk,
            env=env,
            check=True,
            capture_output=True,
        )

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teams", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        desk = Path(tmp)
        text = policy_with_teams(args.teams)
        (desk / "policy.yml").write_text(text, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RECON_", "SLACK_"))}
        env["PYTHONPATH"] = str(ROOT)
        init = [sys.executable, "-m", "bot", "init"]
        subprocess.run(init, cwd=desk, env=env, check=True, capture_output=True)
        uncached = {**env, "RECON_POLICY_CACHE": str(desk / "no-such-dir" / "cache.json")}
        content = text.encode()

        cases: dict[str, Callable[[], Any]] = {
            "yaml.safe_load": lambda: yaml.safe_load(text),
            "parse_policy (YAML, validation, version)": lambda: parse_policy(text),
        }
        if (ROOT / "store" / "policy_cache.py").exists():  # older code has no cache
            from store.policy_cache import PolicyCache, default_cache_path

            cache = PolicyCache(default_cache_path(desk / "policy.yml"))
            cache.put(content, parse_policy(text))
            cases["cache hit (PolicyCache.get)"] = lambda: cache.get(content)
        cases["CLI `queue --limit 1`, no cache"] = _cli(desk, uncached)
        if "cache hit (PolicyCache.get)" in cases:
            cases["CLI `queue --limit 1`, cache warm"] = _cli(desk, env)

        times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, run in cases.items():
                times[name].append(_timed(run))

    print(f"policy with {args.teams:,} teams ({len(content) / 1e6:.1f} MB), ", end="")
    print(f"median of {args.rounds} interleaved rounds:")
    width = max(len(name) for name in times)
    print(f"  {'':<{width}}     wall       CPU")
    for name, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"  {name:<{width}}  {wall:7.2f} s  {cpu:7.2f} s")


if __name__ == "__main__":
    main()
