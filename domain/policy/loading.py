"""Reading a policy: YAML in, a validated :class:`~domain.policy.document.Policy` and its
version (the content hash of its canonical form) out, or one ``field: reason`` line per
problem; and the document's JSON Schema."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from domain.errors import PolicyError
from domain.policy.document import Policy
from domain.policy.ledger import Ledger
from domain.policy.matching import Matching
from domain.policy.thresholds import PriorityWeights


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedPolicy:
    """A validated policy and its version (content hash of its canonical form)."""

    policy: Policy
    version: str


def policy_version(policy: Policy) -> str:
    """Content hash of the policy's canonical JSON: formatting and comments don't count.

    Values are hashed, not spellings: durations in their shortest unit (``240m`` is
    ``4h``) and decimals without trailing zeros (``0.850`` is ``0.85``).
    """
    dumped = policy.model_dump(mode="json", context={"canonical": True})
    if policy.ledger == Ledger():
        # Sections added later count only when set, so a policy written before them
        # keeps its version (and the decisions made under it stay current).
        del dumped["ledger"]
    if policy.matching == Matching():
        del dumped["matching"]
    elif policy.matching.history_days == Matching().history_days:
        del dumped["matching"]["history_days"]
    if policy.routing.priority_weights == PriorityWeights():
        del dumped["routing"]["priority_weights"]
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "pol-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + part)
    return "".join(parts) or "(document)"


def describe_validation_error(exc: ValidationError) -> list[str]:
    """One ``field: reason`` line per problem, in document order."""
    lines = []
    for err in exc.errors():
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{_location(tuple(err['loc']))}: {message}")
    return lines


#: libyaml's parser when PyYAML was built with it: several times faster than the pure-
#: Python one on a big policy. Same safe constructor and resolver, so the same values;
#: a document it refuses is parsed again in pure Python for the same error message.
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def _load_yaml(text: str) -> Any:
    if _FAST_LOADER is not None:
        try:
            return yaml.load(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def parse_policy(text: str) -> LoadedPolicy:
    """Validates a policy document.

    Raises:
        PolicyError: with one ``field: reason`` line per problem.
    """
    try:
        data: Any = _load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyError(f"policy is not valid YAML{where}", [str(exc)]) from None
    if not isinstance(data, dict):
        raise PolicyError("policy must be a YAML mapping", ["(document): expected a mapping"])
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems = describe_validation_error(exc)
        raise PolicyError(f"policy has {len(problems)} problem(s)", problems) from None
    return LoadedPolicy(policy=policy, version=policy_version(policy))


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of the policy document (for editors and CI checks)."""
    schema = Policy.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "recon-bot policy"
    return schema
