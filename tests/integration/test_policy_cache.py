"""The parsed policy is cached by the SHA-256 of the file's bytes and the code's identity:
the same bytes are not parsed twice (a policy with 20,000 teams took every command about
13 s), anything else is a miss, and a cache that is damaged or cannot be written only
costs time. ``tests/benchmarks/bench_policy.py`` prints the timings."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import store.policy_cache
import store.policy_file
from domain.policy import LoadedPolicy, parse_policy
from store.policy_cache import PolicyCache, default_cache_path
from store.policy_file import PolicyFile, read_policy
from tests.conftest import EXAMPLE_POLICY

#: Every kind of value the policy holds: decimals with trailing zeros, durations,
#: timezones, a calendar with times and dates, enums, wildcards.
CALENDAR = """
calendar:
  timezone: Europe/Paris
  weekdays: [mon, tue, wed, thu]
  start: "08:30"
  end: "18:00"
  holidays: [2026-12-25, 2027-01-01]
"""


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(EXAMPLE_POLICY.read_text(encoding="utf-8") + CALENDAR, encoding="utf-8")
    return path


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the policy file module parsed (cache misses)."""
    seen: list[str] = []

    def counting(text: str) -> LoadedPolicy:
        seen.append(text)
        return parse_policy(text)

    monkeypatch.setattr(store.policy_file, "parse_policy", counting)
    return seen


def test_the_same_bytes_are_parsed_once_and_give_the_same_policy(
    policy_path: Path, parses: list[str]
) -> None:
    cache = PolicyCache(default_cache_path(policy_path))

    fresh, _ = read_policy(policy_path, cache=cache)
    cached, text = read_policy(policy_path, cache=cache)

    assert len(parses) == 1
    assert cached == fresh  # the model, field by field, and the version
    assert cached.policy.calendar is not None and cached.policy.calendar.holidays
    assert text == policy_path.read_text(encoding="utf-8")
    assert cache.path == policy_path.with_name(".policy.yml.cache.json")
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600


def test_any_change_to_the_bytes_is_a_miss(policy_path: Path, parses: list[str]) -> None:
    cache = PolicyCache(default_cache_path(policy_path))
    read_policy(policy_path, cache=cache)

    policy_path.write_text(policy_path.read_text(encoding="utf-8") + "# a comment\n")
    read_policy(policy_path, cache=cache)
    edited = policy_path.read_text(encoding="utf-8").replace('"10000.00"', '"20000.00"', 1)
    policy_path.write_text(edited, encoding="utf-8")
    loaded, _ = read_policy(policy_path, cache=cache)

    assert len(parses) == 3
    assert str(loaded.policy.routing.materiality) == "20000.00"


def test_an_entry_made_by_other_code_is_a_miss(
    policy_path: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = PolicyCache(default_cache_path(policy_path))
    read_policy(policy_path, cache=cache)

    store.policy_cache._code_identity.cache_clear()
    monkeypatch.setattr(store.policy_cache, "CACHE_FORMAT", store.policy_cache.CACHE_FORMAT + 1)
    try:
        read_policy(policy_path, cache=cache)
    finally:
        store.policy_cache._code_identity.cache_clear()

    assert len(parses) == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: "not json {",
        lambda entry: entry.replace('"version":"pol-', '"version":0,"x":"'),
        lambda entry: entry.replace('"materiality":"10000.00"', '"materiality":"-1"'),
        lambda entry: entry.replace('"teams":[', '"teams":7,"old":['),
        lambda entry: entry[: len(entry) // 2],
    ],
    ids=["garbage", "bad-version", "invalid-policy", "wrong-type", "truncated"],
)
def test_a_damaged_entry_is_a_miss_never_an_invalid_policy(
    policy_path: Path, parses: list[str], damage: Callable[[str], str]
) -> None:
    cache = PolicyCache(default_cache_path(policy_path))
    fresh, _ = read_policy(policy_path, cache=cache)
    cache.path.write_text(damage(cache.path.read_text(encoding="utf-8")), encoding="utf-8")

    again, _ = read_policy(policy_path, cache=cache)

    assert again == fresh and len(parses) == 2
    assert read_policy(policy_path, cache=cache)[0] == fresh and len(parses) == 2  # rewritten


def test_a_cache_that_cannot_be_written_only_costs_time(
    policy_path: Path, parses: list[str], tmp_path: Path
) -> None:
    cache = PolicyCache(tmp_path / "no-such-dir" / "cache.json")

    first, _ = read_policy(policy_path, cache=cache)
    second, _ = read_policy(policy_path, cache=cache)

    assert first == second and len(parses) == 2
    assert not cache.path.parent.exists()


def test_reload_does_not_parse_bytes_it_has_seen(policy_path: Path, parses: list[str]) -> None:
    policy = PolicyFile(policy_path, cache=PolicyCache(default_cache_path(policy_path)))
    assert len(parses) == 1

    for _ in range(3):
        assert policy.reload() is None
    assert len(parses) == 1

    policy_path.write_text("teams: [\n", encoding="utf-8")
    with pytest.raises(Exception, match="not valid YAML"):
        policy.reload()
    assert policy.reload() is None  # the same broken bytes: neither parsed nor reported
    assert len(parses) == 2

    data = yaml.safe_load(EXAMPLE_POLICY.read_text(encoding="utf-8"))
    data["routing"]["aging_days"] = 9
    policy_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    change = policy.reload()
    assert change is not None and change.new.policy.routing.aging_days == 9
    assert policy.reload() is None and len(parses) == 3
