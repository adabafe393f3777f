"""What a log replay reports when the log and the tables disagree (pure).

:class:`ReplayProblem` (a reason code, one sentence, the first bad record), the way its
sentences show values, and the check of a row's own columns against its signed body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayProblem:
    """The first difference found: a stable reason code, a sentence, the record."""

    reason: str
    """``row`` (a column disagrees with its body), ``format`` (a body that is not a
    record), ``table`` (a table disagrees with the log)."""
    problem: str
    first_bad_seq: int | None = None


class _Plain(str):
    """A value shown as it is, without quotes (amounts, ids)."""

    __slots__ = ()


def _shown(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, _Plain | int):
        return str(value)
    return repr(value)


def _amount(value: Decimal | None) -> _Plain | None:
    return None if value is None else _Plain(str(value))


def _people(users: Sequence[str]) -> str:
    return ", ".join(users) if users else "nobody"


def _table(problem: str, seq: int | None = None) -> ReplayProblem:
    return ReplayProblem(reason="table", problem=problem, first_bad_seq=seq)


def _row_problem(
    seq: int, record: dict[str, Any], item_id: object, event: object
) -> ReplayProblem | None:
    """A row column that disagrees with the record's signed body."""
    signed_item = record.get("item_id")
    if item_id != signed_item or isinstance(item_id, bool):
        return ReplayProblem(
            reason="row",
            problem=f"record {seq}: audit_records.item_id is {_shown(item_id)} but its signed "
            f"body says {_shown(signed_item)}",
            first_bad_seq=seq,
        )
    signed_event = record.get("event")
    if event != signed_event:
        return ReplayProblem(
            reason="row",
            problem=f"record {seq}: audit_records.event is {_shown(event)} but its signed "
            f"body says {_shown(signed_event)}",
            first_bad_seq=seq,
        )
    return None
