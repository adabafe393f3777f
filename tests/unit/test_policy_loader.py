"""The policy is read with libyaml's parser when PyYAML has it (a policy with 20,000
teams took about 13 s to read, most of it YAML and a quadratic duplicate-name check):
the same values as the pure-Python parser, its error messages, and duplicate team names
still refused."""

from __future__ import annotations

import pytest
import yaml

import domain.policy
from domain.errors import PolicyError
from domain.policy import parse_policy
from tests.conftest import EXAMPLE_POLICY

EXAMPLE = EXAMPLE_POLICY.read_text(encoding="utf-8")

DOCUMENTS = [
    EXAMPLE,
    "a: 2026-12-25\nb: 09:00\nc: '09:00'\nd: yes\ne: ~\nf: 0o17\ng: 1_000\nh: .5\ni: !!str 3\n",
    "anchors: &x {k: [1, 2]}\nuse: *x\nmerge: {<<: *x, j: 3}\n",
    "text: |\n  line one\n  ünïcödé ✓\nfolded: >\n  a\n  b\n",
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_the_fast_loader_reads_the_same_values(text: str) -> None:
    assert domain.policy._load_yaml(text) == yaml.safe_load(text)


def test_libyaml_is_used_when_pyyaml_has_it() -> None:
    assert domain.policy._FAST_LOADER is getattr(yaml, "CSafeLoader", None)


def test_an_invalid_document_gets_the_pure_python_message() -> None:
    text = "reporting_currency: USD\n\tmateriality: 5\n"
    with pytest.raises(yaml.YAMLError) as pure:
        yaml.safe_load(text)
    with pytest.raises(PolicyError, match="not valid YAML at line 2") as ours:
        parse_policy(text)
    assert ours.value.problems == [str(pure.value)]


def test_duplicate_team_names_are_still_named() -> None:
    data = yaml.safe_load(EXAMPLE)
    data["teams"] += [dict(data["teams"][1]), dict(data["teams"][0]), dict(data["teams"][1])]
    with pytest.raises(PolicyError) as info:
        parse_policy(yaml.safe_dump(data))
    assert info.value.problems == [
        "teams: team names must be unique; repeated: ap-europe, treasury"
    ]
