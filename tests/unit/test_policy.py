"""Policy: validation with field paths, decimals and durations, JSON Schema, versions."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from domain.errors import PolicyError
from domain.items import RiskTier
from domain.policy import (
    Policy,
    format_duration,
    parse_duration,
    parse_policy,
    policy_json_schema,
)
from tests.builders import POLICY_YAML, make_policy, policy_data

EXAMPLE = Path(__file__).resolve().parents[2] / "bot" / "policy.example.yml"


def problems_of(data: Any) -> list[str]:
    """The ``field: reason`` lines for a policy document given as data."""
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    assert str(info.value)  # the one-line summary is never empty
    return info.value.problems


def with_value(path: str, value: Any) -> dict[str, Any]:
    """The test policy with the value at ``path`` (``a.b``, ``teams[0].x``) replaced."""
    data = copy.deepcopy(policy_data())
    target: Any = data
    parts = _split(path)
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value
    return data


def without(path: str) -> dict[str, Any]:
    data = copy.deepcopy(policy_data())
    target: Any = data
    parts = _split(path)
    for part in parts[:-1]:
        target = target[part]
    del target[parts[-1]]
    return data


def _split(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for chunk in path.split("."):
        name, _, rest = chunk.partition("[")
        if name:
            parts.append(name)
        if rest:
            parts.append(int(rest.rstrip("]")))
    return parts


def owner(policy: Policy, entity: str, currency: str) -> str | None:
    team = policy.team_for(entity=entity, currency=currency)
    return team.name if team else None


# --- the example validates -------------------------------------------------------------


def test_the_test_policy_validates_with_the_values_written() -> None:
    loaded = make_policy()
    policy = loaded.policy
    assert policy.reporting_currency == "USD"
    assert policy.fx_rates == {
        "EUR": Decimal("1.08"),
        "GBP": Decimal("1.27"),
        "JPY": Decimal("0.0067"),
    }
    assert policy.routing.materiality == Decimal("10000.00")
    assert policy.routing.immediate_risk_tiers == [RiskTier.HIGH, RiskTier.CRITICAL]
    assert policy.sla.claim_ttl == timedelta(hours=4)
    assert [t.name for t in policy.teams] == ["treasury", "ap"]
    treasury, ap = policy.teams
    assert treasury.entities == ["*"] and treasury.currencies == ["*"]
    assert ap.entities == ["ACME-DE"] and ap.currencies == ["EUR"]
    assert policy.compliance.officers == ["U0AUDIT"]


@pytest.mark.skipif(not EXAMPLE.exists(), reason="bot/policy.example.yml not present")
def test_the_shipped_example_policy_validates() -> None:
    loaded = parse_policy(EXAMPLE.read_text(encoding="utf-8"))
    assert loaded.version.startswith("pol-")
    assert loaded.policy.teams


def test_rates_and_team_lookup() -> None:
    policy = make_policy().policy
    assert policy.rate("USD") == Decimal(1)
    assert policy.rate("EUR") == Decimal("1.08")
    assert policy.rate("CHF") is None
    assert owner(policy, "ACME-DE", "EUR") == "ap"
    assert owner(policy, "ACME-DE", "USD") == "treasury"
    assert owner(policy, "ACME-US", "EUR") == "treasury"
    assert [t.name for t in policy.teams_of("U0LEAD2")] == ["ap"]
    assert policy.teams_of("U0AUDIT") == []
    assert policy.team("nope") is None


def test_most_specific_team_wins_and_file_order_breaks_ties() -> None:
    teams = [
        {"name": "first", "channel": "C1", "reviewers": ["U1"]},
        {"name": "second", "channel": "C2", "reviewers": ["U2"]},
        {"name": "de", "channel": "C3", "reviewers": ["U3"], "entities": ["ACME-DE"]},
    ]
    policy = make_policy(teams=teams).policy
    assert owner(policy, "ACME-US", "USD") == "first"
    assert owner(policy, "ACME-DE", "USD") == "de"


# --- errors name the field path and the reason -------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "where", "why"),
    [
        ("routing.materiality", 0.5, "routing.materiality", "quoted strings"),
        ("routing.materiality", "1e5", "routing.materiality", "plain decimal"),
        ("routing.materiality", "lots", "routing.materiality", "not a decimal"),
        ("routing.materiality", True, "routing.materiality", "not a decimal"),
        ("routing.aging_days", -1, "routing.aging_days", "greater than or equal to 0"),
        ("routing.match_auto_accept_score", 101, "routing.match_auto_accept_score", "100"),
        ("routing.immediate_risk_tiers", ["severe"], "routing.immediate_risk_tiers[0]", "'low'"),
        ("teams[0].reviewers", [], "teams[0].reviewers", "at least 1"),
        ("teams[1].name", "", "teams[1].name", "at least 1"),
        ("teams", [], "teams", "at least 1"),
        ("reporting_currency", "XYZ", "reporting_currency", "unknown currency"),
        ("fx_rates.EUR", 1.08, "fx_rates.EUR", "quoted strings"),
        ("fx_rates.EUR", "0", "fx_rates", "rate for EUR must be positive"),
        ("fx_rates.ZZZ", "1.5", "fx_rates", "unknown currency 'ZZZ'"),
        ("batch.min_records", -3, "batch.min_records", "greater than or equal to 0"),
        ("sla.remind_after", "24 hours", "sla.remind_after", "not a duration"),
        ("sla.claim_ttl", 1.5, "sla.claim_ttl", "not a duration"),
        ("digest.cron", "every hour", "digest.cron", "5-field crontab"),
        ("digest.timezone", "Mars/Olympus", "digest.timezone", "unknown timezone"),
        ("compliance.officers", [], "compliance.officers", "at least 1"),
        ("routing.materialty", "5", "routing.materialty", "Extra inputs are not permitted"),
        ("routing.match_review_score", 90, "routing", "match_review_score must not exceed"),
        ("sla.remind_after", "50h", "sla", "remind_after < escalate_after < dead_letter_after"),
        ("calendar", {"timezone": "UTC", "start": "18:00", "end": "09:00"}, "calendar", "start"),
    ],
)
def test_every_error_names_the_field_path_and_the_reason(
    path: str, value: Any, where: str, why: str
) -> None:
    problems = problems_of(with_value(path, value))
    assert len(problems) == 1, problems
    location, _, reason = problems[0].partition(": ")
    assert location == where
    assert why in reason


@pytest.mark.parametrize("path", ["compliance", "routing.materiality", "teams[0].channel"])
def test_missing_required_fields_are_named(path: str) -> None:
    assert problems_of(without(path)) == [f"{path}: Field required"]


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ("routing.materiality", "-5", "routing.materiality"),
        ("routing.materiality", "0", "routing.materiality"),
        ("routing.min_confidence", "1.5", "routing.min_confidence"),
        ("teams[1].name", "treasury", "teams"),
    ],
)
def test_single_field_rules_name_their_own_field(path: str, value: Any, where: str) -> None:
    problems = problems_of(with_value(path, value))
    assert [p.partition(": ")[0] for p in problems] == [where]


def test_all_independent_problems_are_reported_in_one_go() -> None:
    data = with_value("fx_rates.EUR", 1.08)
    data["teams"][0]["reviewers"] = []
    data["sla"]["claim_ttl"] = "4 hours"
    problems = problems_of(data)
    assert [p.partition(": ")[0] for p in problems] == [
        "fx_rates.EUR",
        "teams[0].reviewers",
        "sla.claim_ttl",
    ]


def test_a_document_that_is_not_yaml_or_not_a_mapping_is_refused() -> None:
    with pytest.raises(PolicyError, match="not valid YAML at line 2") as info:
        parse_policy("reporting_currency: USD\n\tmateriality: 5\n")
    assert info.value.problems
    for text in ("", "- a\n- b\n", "42\n"):
        with pytest.raises(PolicyError, match="must be a YAML mapping"):
            parse_policy(text)


# --- decimals ----------------------------------------------------------------------------

DECIMAL_FIELDS = [
    "routing.materiality",
    "routing.min_confidence",
    "batch.absolute_cap",
    "batch.relative_cap",
    "batch.risk_multiplier",
    "dual_control.amount",
    "dual_control.variance_pct",
    "fx_rates.EUR",
]


@pytest.mark.parametrize("path", DECIMAL_FIELDS)
def test_float_valued_decimals_are_rejected_everywhere(path: str) -> None:
    problems = problems_of(with_value(path, 0.5))
    assert problems == [f'{path}: write decimals as quoted strings (e.g. "0.85"), never floats']


def test_quoted_and_integer_decimals_are_exact() -> None:
    policy = make_policy(
        routing={"materiality": 25000, "min_confidence": "0.9"}, batch={"relative_cap": "0.0015"}
    ).policy
    assert policy.routing.materiality == Decimal(25000)
    assert policy.routing.min_confidence == Decimal("0.9")
    assert str(policy.batch.relative_cap) == "0.0015"


# --- durations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("3d", timedelta(days=3)),
        (" 4h ", timedelta(hours=4)),
        ("0s", timedelta(0)),
        (3600, timedelta(hours=1)),
        (timedelta(minutes=5), timedelta(minutes=5)),
    ],
)
def test_durations_parse(value: object, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    "value", ["24", "1.5h", "h", "-1h", "1w", "24 hours", "PT24H", 1.5, True, None, [], ""]
)
def test_bad_durations_are_refused_with_usage(value: object) -> None:
    with pytest.raises(ValueError, match="use a number with s, m, h or d"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=2), "2d"),
        (timedelta(hours=36), "36h"),
        (timedelta(minutes=90), "90m"),
        (timedelta(seconds=61), "61s"),
        (timedelta(0), "0s"),
    ],
)
def test_format_duration_is_the_shortest_exact_form(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text
    assert parse_duration(text) == delta


@pytest.mark.parametrize(
    ("sla", "ok"),
    [
        ({"remind_after": "1d", "escalate_after": "2d", "dead_letter_after": "3d"}, True),
        ({"remind_after": "90m", "escalate_after": "3h", "dead_letter_after": 86400}, True),
        ({"remind_after": "48h", "escalate_after": "24h", "dead_letter_after": "72h"}, False),
        ({"remind_after": "24h", "escalate_after": "24h", "dead_letter_after": "72h"}, False),
        ({"remind_after": "24h", "escalate_after": "72h", "dead_letter_after": "72h"}, False),
        ({"remind_after": "24h", "escalate_after": "80h", "dead_letter_after": "72h"}, False),
    ],
)
def test_sla_ladder_must_be_strictly_ordered(sla: dict[str, Any], ok: bool) -> None:
    if ok:
        loaded = make_policy(sla=sla)
        s = loaded.policy.sla
        assert s.remind_after < s.escalate_after < s.dead_letter_after
    else:
        assert problems_of(policy_data(sla=sla)) == [
            "sla: remind_after < escalate_after < dead_letter_after must hold"
        ]


def test_claim_ttl_must_be_positive() -> None:
    assert problems_of(with_value("sla.claim_ttl", "0s")) == ["sla: claim_ttl must be positive"]


def test_sla_defaults_are_the_design_ladder() -> None:
    sla = make_policy(sla=None).policy.sla
    assert (sla.remind_after, sla.escalate_after, sla.dead_letter_after) == (
        timedelta(hours=24),
        timedelta(hours=48),
        timedelta(hours=72),
    )


# --- JSON Schema -------------------------------------------------------------------------


def test_json_schema_is_exported_and_validates_the_test_policy() -> None:
    schema = policy_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    json.dumps(schema)  # plain JSON, nothing exotic inside
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(yaml.safe_load(POLICY_YAML))) == []


@pytest.mark.skipif(not EXAMPLE.exists(), reason="bot/policy.example.yml not present")
def test_json_schema_validates_the_shipped_example() -> None:
    validator = jsonschema.Draft202012Validator(policy_json_schema())
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(example)] == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("routing.materiality", 0.5),
        ("routing.materiality", "1e5"),
        ("sla.claim_ttl", "4 hours"),
        ("routing.bogus", 1),
        ("teams[0].reviewers", []),
    ],
)
def test_json_schema_rejects_what_the_loader_rejects(path: str, value: Any) -> None:
    validator = jsonschema.Draft202012Validator(policy_json_schema())
    assert list(validator.iter_errors(with_value(path, value)))


def _defaults(node: Any) -> list[tuple[dict[str, Any], Any]]:
    found: list[tuple[dict[str, Any], Any]] = []
    if isinstance(node, dict):
        if "default" in node and node.get("type") == "string":
            found.append((node, node["default"]))
        for value in node.values():
            found.extend(_defaults(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_defaults(value))
    return found


def test_json_schema_defaults_satisfy_their_own_schema() -> None:
    bad = []
    for node, default in _defaults(policy_json_schema()):
        sub = {k: v for k, v in node.items() if k != "default"}
        if list(jsonschema.Draft202012Validator(sub).iter_errors(default)):
            bad.append((node.get("title"), default))
    assert bad == []


# --- version -----------------------------------------------------------------------------


def test_version_is_a_stable_content_hash() -> None:
    first = make_policy().version
    assert first == make_policy().version
    assert first.startswith("pol-") and len(first) == len("pol-") + 16
    int(first.removeprefix("pol-"), 16)


def test_version_ignores_comments_layout_key_order_and_equivalent_spellings() -> None:
    base = make_policy().version
    data = policy_data()
    reordered = dict(reversed(list(data.items())))
    variants = [
        "\n".join(line for line in POLICY_YAML.splitlines() if not line.lstrip().startswith("#")),
        POLICY_YAML.replace("reporting_currency: USD", "reporting_currency: USD  # dollars"),
        yaml.safe_dump(data, default_flow_style=True),
        yaml.safe_dump(reordered, sort_keys=False),
        json.dumps(data),  # JSON is YAML too
        POLICY_YAML.replace("claim_ttl: 4h", "claim_ttl: 240m"),
        POLICY_YAML.replace("remind_after: 24h", "remind_after: 1d"),
        POLICY_YAML.replace("reporting_currency: USD", "reporting_currency: usd"),
        POLICY_YAML.replace("aging_days: 5", 'aging_days: "5"'),
    ]
    for text in variants:
        assert parse_policy(text).version == base, text[:80]


def test_version_ignores_defaults_spelled_out() -> None:
    explicit = policy_data()
    explicit["batch"]["min_records"] = 10
    explicit["routing"]["immediate_risk_tiers"] = ["high", "critical"]
    explicit["calendar"] = None
    assert parse_policy(yaml.safe_dump(explicit)).version == make_policy().version


@pytest.mark.parametrize(
    "overrides",
    [
        {"routing": {"materiality": "10000.01"}},
        {"routing": {"aging_days": 6}},
        {"fx_rates": {"EUR": "1.09"}},
        {"fx_rates": {"CHF": "1.12"}},
        {"sla": {"claim_ttl": "5h"}},
        {"digest": {"timezone": "UTC"}},
        {"compliance": {"officers": ["U0AUDIT", "U0AUDIT2"]}},
        {"dual_control": {"variance_pct": "0.01"}},
    ],
)
def test_version_changes_when_a_value_changes(overrides: dict[str, Any]) -> None:
    assert make_policy(**overrides).version != make_policy().version


def test_version_changes_when_a_team_member_changes() -> None:
    data = policy_data()
    data["teams"][0]["reviewers"].append("U0FRANK")
    assert parse_policy(yaml.safe_dump(data)).version != make_policy().version


def test_version_ignores_trailing_zeros_in_decimals() -> None:
    respelled = POLICY_YAML.replace('min_confidence: "0.85"', 'min_confidence: "0.850"')
    assert parse_policy(respelled).policy.routing.min_confidence == Decimal("0.85")
    assert parse_policy(respelled).version == make_policy().version


@pytest.mark.parametrize("code", ["eur", "EURO"])
def test_team_currencies_are_validated_or_normalised(code: str) -> None:
    data = policy_data()
    data["teams"][1]["currencies"] = [code]
    try:
        loaded = parse_policy(yaml.safe_dump(data))
    except PolicyError as exc:
        assert any(p.startswith("teams[1].currencies") for p in exc.problems)
        return
    team = loaded.policy.team_for(entity="ACME-DE", currency="EUR")
    assert team is not None and team.name == "ap"
