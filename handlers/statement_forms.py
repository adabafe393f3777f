"""The statement forms and buttons, parsed at the edge (like ``handlers.forms`` for items).

A user's mistake in the edit or reject form comes back as :class:`FormErrors` (input
block id -> one sentence) for ``ack(response_action="errors")``; what we wrote ourselves
(button values, ``private_metadata``) coming back unreadable is a :class:`PayloadError`.
The edit form is checked against the statement it edits (the entry exists and still
counts, the amount suits the statement's currency, dates are dates); the use case checks
it all again inside its transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic import Field as Attr

from domain.errors import MoneyError
from domain.items import parse_ascii_number
from domain.money import parse_amount
from domain.statements.records import EDITABLE_FIELDS, Statement, StatementLine
from domain.statements.stage1 import AddLine, Correct, Edit, RemoveLine
from handlers.blocks.statements import MAX_EDIT_VALUE_CHARS, MAX_STATEMENT_REASON_CHARS
from handlers.forms import FormErrors, PayloadError
from handlers.ids import StatementField
from handlers.submitted import SubmittedView

__all__ = [
    "EditForm",
    "FormErrors",
    "StatementFormMetadata",
    "StatementRejectForm",
    "parse_edit",
    "parse_entries_page",
    "parse_form_metadata",
    "parse_list_offset",
    "parse_statement_reject",
    "parse_statement_value",
    "requested_line",
]

_MAX_ID = 10**15


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class StatementFormMetadata(_Frozen):
    """What the edit and reject forms remember: the statement and the version seen."""

    statement_id: int = Attr(gt=0)
    version: int = Attr(ge=1)
    #: The channel of the card the form was opened from: the outcome is told there
    #: (ephemeral); None (a form opened elsewhere): by direct message.
    channel: str | None = Attr(default=None, pattern=r"^[A-Z][A-Z0-9]{1,40}$")


def parse_form_metadata(private_metadata: str) -> StatementFormMetadata:
    """Reads a statement form's ``private_metadata`` back.

    Raises:
        PayloadError: not metadata written by ``handlers.blocks.statements.form_metadata``.
    """
    try:
        return StatementFormMetadata.model_validate_json(private_metadata)
    except ValidationError:
        raise PayloadError("private_metadata is not recon-bot statement metadata") from None


def _pair(value: str) -> tuple[int, int] | None:
    left, sep, right = value.partition(":")
    first = parse_ascii_number(left, maximum=_MAX_ID)
    second = parse_ascii_number(right, maximum=_MAX_ID)
    if not sep or first is None or second is None:
        return None
    return first, second


def parse_statement_value(value: str) -> tuple[int, int] | None:
    """``12:3`` -> (statement 12, version 3); anything else -> None."""
    parsed = _pair(value)
    if parsed is None or parsed[0] < 1 or parsed[1] < 1:
        return None
    return parsed


def parse_entries_page(value: str) -> tuple[int, int]:
    """``12:3`` -> (statement 12, page 3) of an entries modal's Previous/Next.

    Raises:
        PayloadError: not a value the entries modal wrote.
    """
    parsed = _pair(value)
    if parsed is None or parsed[0] < 1:
        raise PayloadError(f"{value[:80]!r} is not an entries page")
    return parsed


def parse_list_offset(value: str) -> int:
    """The offset a ``/recon statements`` Previous/Next button carries.

    Raises:
        PayloadError: not a small non-negative integer.
    """
    offset = parse_ascii_number(value.strip(), maximum=_MAX_ID)
    if offset is None:
        raise PayloadError(f"{value[:80]!r} is not a list offset")
    return offset


def _read(view: Mapping[str, Any]) -> tuple[SubmittedView, StatementFormMetadata]:
    submitted = SubmittedView.read(view)
    return submitted, parse_form_metadata(submitted.private_metadata)


class StatementRejectForm(_Frozen):
    """A valid reject form."""

    metadata: StatementFormMetadata
    reason: str


def parse_statement_reject(view: Mapping[str, Any]) -> StatementRejectForm | FormErrors:
    """The reject form: a reason (required, at most ``MAX_STATEMENT_REASON_CHARS``)."""
    submitted, metadata = _read(view)
    reason = submitted.text(StatementField.REASON)
    if reason is None:
        return FormErrors({StatementField.REASON.value: "Give a reason."})
    if len(reason) > MAX_STATEMENT_REASON_CHARS:
        return FormErrors(
            {
                StatementField.REASON.value: (
                    f"Keep it under {MAX_STATEMENT_REASON_CHARS} characters "
                    f"(this has {len(reason)})."
                )
            }
        )
    return StatementRejectForm(metadata=metadata, reason=reason)


class EditForm(BaseModel):
    """A valid edit form: the metadata and the one edit it asks for."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    metadata: StatementFormMetadata
    change: Correct | AddLine | RemoveLine


def _amount_error(text: str, currency: str) -> str | None:
    try:
        parse_amount(text, currency)
    except MoneyError as exc:
        return f"Not an amount in {currency}: {exc}"
    return None


def _date_error(text: str) -> str | None:
    try:
        date.fromisoformat(text)
    except ValueError:
        return f"{text[:40]!r} is not a date (YYYY-MM-DD)."
    if len(text) != 10:
        return f"{text[:40]!r} is not a date (YYYY-MM-DD)."
    return None


def requested_line(view: Mapping[str, Any]) -> int | None:
    """The entry number typed in an edit form, if it is one (the handler reads that one
    line from the store to check the form against it, never the whole statement)."""
    try:
        submitted = SubmittedView.model_validate(view)
    except ValidationError:
        return None
    raw = submitted.text(StatementField.LINE)
    return None if raw is None else parse_ascii_number(raw.lstrip("#"), maximum=_MAX_ID)


def _line_number(
    submitted: SubmittedView,
    statement: Statement,
    line: StatementLine | None,
    errors: FormErrors,
    what: str,
) -> int | None:
    raw = submitted.text(StatementField.LINE)
    if raw is None:
        errors[StatementField.LINE.value] = f"Give the number of the entry to {what}."
        return None
    number = parse_ascii_number(raw.lstrip("#"), maximum=_MAX_ID)
    if line is None or line.number != number:
        errors[StatementField.LINE.value] = (
            f"{statement.human_id} has no entry {raw[:20]} (the numbers are the # in View entries)."
        )
        return None
    if line.removed:
        errors[StatementField.LINE.value] = f"Entry {line.number} was removed already."
        return None
    return line.number


def parse_edit(
    view: Mapping[str, Any], *, statement: Statement, line: StatementLine | None
) -> EditForm | FormErrors:
    """The edit form, checked against ``statement`` and ``line`` (the stored entry of the
    number typed, None when there is none): correct, add or remove one entry."""
    submitted, metadata = _read(view)
    errors = FormErrors()
    operation = submitted.choice(StatementField.OPERATION) or "correct"
    change: Edit | None = None
    currency = statement.currency
    if operation == "correct":
        number = _line_number(submitted, statement, line, errors, "correct")
        field = submitted.choice(StatementField.FIELD)
        value = submitted.text(StatementField.VALUE) or ""
        if field not in EDITABLE_FIELDS:
            errors[StatementField.FIELD.value] = "Pick the field to correct."
        elif len(value) > MAX_EDIT_VALUE_CHARS:
            errors[StatementField.VALUE.value] = f"Keep it under {MAX_EDIT_VALUE_CHARS} characters."
        elif field == "amount":
            problem = _amount_error(value, currency) if value else "Give the new amount."
            if problem:
                errors[StatementField.VALUE.value] = problem
        elif field in ("booking_date", "value_date") and value:
            problem = _date_error(value)
            if problem:
                errors[StatementField.VALUE.value] = problem
        if not errors and number is not None and field is not None:
            change = Correct(line=number, field=field, value=value)
    elif operation == "remove":
        number = _line_number(submitted, statement, line, errors, "remove")
        if number is not None:
            change = RemoveLine(line=number)
    elif operation == "add":
        amount = submitted.text(StatementField.AMOUNT)
        problem = (
            _amount_error(amount, currency) if amount else "Give the amount of the missing entry."
        )
        if problem:
            errors[StatementField.AMOUNT.value] = problem
        raw_day = submitted.day(StatementField.DATE)
        day = None
        if raw_day:
            day_problem = _date_error(raw_day)
            if day_problem:
                errors[StatementField.DATE.value] = day_problem
            else:
                day = date.fromisoformat(raw_day)
                if not statement.period_start <= day <= statement.period_end:
                    errors[StatementField.DATE.value] = (
                        f"{raw_day} is outside the statement's period "
                        f"({statement.period_start.isoformat()} to "
                        f"{statement.period_end.isoformat()})."
                    )
        if not errors and amount is not None:
            change = AddLine(
                amount=amount,
                booking_date=day,
                reference=submitted.text(StatementField.REFERENCE),
                counterparty=submitted.text(StatementField.COUNTERPARTY),
            )
    else:
        errors[StatementField.OPERATION.value] = "Pick what to do."
    if errors or change is None:
        return errors or FormErrors({StatementField.OPERATION.value: "Pick what to do."})
    return EditForm(metadata=metadata, change=change)
