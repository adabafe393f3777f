"""The routing policy: a YAML document validated by pydantic, versioned by content hash.

Policy is data. Thresholds, teams, the SLA ladder and the digest schedule live here;
every routing decision stores the version it was made under, so a later policy change
never rewrites history.

One module per concept, each importing only those listed before it:

- :mod:`~domain.policy.fields`: the document's value types (durations, decimals, team
  currencies) and the strict base of every section;
- :mod:`~domain.policy.schedule`: the SLA ladder's times, the digest schedule, the
  working-time calendar;
- :mod:`~domain.policy.thresholds`: routing thresholds and priority weights, batch
  tolerances, dual control, step-up;
- :mod:`~domain.policy.people`: teams, people, assignment and the compliance queue;
- :mod:`~domain.policy.escalation`: the escalation tiers and edges (a DAG) and the
  default ladder as a graph;
- :mod:`~domain.policy.statements`, :mod:`~domain.policy.ledger` and
  :mod:`~domain.policy.matching`: the bank statements, ERP export and matcher sections;
- :mod:`~domain.policy.document`: :class:`Policy`, the whole document and its
  cross-section rules;
- :mod:`~domain.policy.loading`: :func:`parse_policy`, :class:`LoadedPolicy`, the
  version hash and the JSON Schema.

The package re-exports every public name, so ``from domain.policy import Policy`` keeps
working.
"""

from domain.policy.document import Policy
from domain.policy.escalation import (
    Edge,
    EdgeCondition,
    Escalation,
    Tier,
    TierRole,
    check_graph,
    default_escalation,
)
from domain.policy.fields import Dec, Duration, TeamCurrency, format_duration, parse_duration
from domain.policy.ledger import LEDGER_FIELDS, Ledger, LedgerColumns
from domain.policy.loading import _FAST_LOADER as _FAST_LOADER
from domain.policy.loading import (
    LoadedPolicy,
    describe_validation_error,
    parse_policy,
    policy_json_schema,
    policy_version,
)
from domain.policy.loading import _load_yaml as _load_yaml
from domain.policy.matching import Matching, MatchingWeights
from domain.policy.people import (
    DEFAULT_CAPACITY,
    DEFAULT_CERTIFICATION,
    Assignment,
    AssignmentMode,
    CertificationRule,
    Compliance,
    PersonEntry,
    PersonRole,
    Team,
    merge_people,
)
from domain.policy.schedule import BusinessCalendar, Digest, Sla, Weekday
from domain.policy.statements import StatementAccount, Statements, normalize_account
from domain.policy.thresholds import BatchRules, DualControl, PriorityWeights, Routing, StepUp

# ``_FAST_LOADER`` and ``_load_yaml`` are re-exported too (imported ``as`` themselves): the
# test that libyaml reads the same values reaches them through the package
# (tests/unit/test_policy_loader.py).
__all__ = [
    "DEFAULT_CAPACITY",
    "DEFAULT_CERTIFICATION",
    "LEDGER_FIELDS",
    "Assignment",
    "AssignmentMode",
    "BatchRules",
    "BusinessCalendar",
    "CertificationRule",
    "Compliance",
    "Dec",
    "Digest",
    "DualControl",
    "Duration",
    "Edge",
    "EdgeCondition",
    "Escalation",
    "Ledger",
    "LedgerColumns",
    "LoadedPolicy",
    "Matching",
    "MatchingWeights",
    "PersonEntry",
    "PersonRole",
    "Policy",
    "PriorityWeights",
    "Routing",
    "Sla",
    "StatementAccount",
    "Statements",
    "StepUp",
    "Team",
    "TeamCurrency",
    "Tier",
    "TierRole",
    "Weekday",
    "check_graph",
    "default_escalation",
    "describe_validation_error",
    "format_duration",
    "merge_people",
    "normalize_account",
    "parse_duration",
    "parse_policy",
    "policy_json_schema",
    "policy_version",
]
