"""What comes back from Slack, parsed at the edge into typed values (pydantic).

Three kinds of input arrive here:

* ``view_submission`` payloads of the reject, escalate and dispute modals. Their
  ``state.values[block_id][action_id]`` entries are parsed and checked; a user's
  mistake comes back as :class:`FormErrors` (block id -> message), ready for
  ``ack(response_action="errors", errors=...)`` so the modal stays open with the
  message under the field.
* ``private_metadata``, which our modals carry (item id, the version the user saw, and
  the message to update). It is ours, so garbage there is not a user mistake but a bug
  or a forged payload: :class:`PayloadError`.
* Pagination values of the queue and App Home buttons (same rule).

Nothing past ``handlers/`` digs through these raw dicts. What every modal submission is
read with (the metadata, the view's state, :class:`FormErrors`, the shared text checks) is
:mod:`handlers.modal_input`, re-exported here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from pydantic import ConfigDict, ValidationError
from pydantic import Field as Attr

from domain.errors import MoneyError
from domain.items import DisputeCategory, DisputeOutcome, parse_ascii_number
from domain.money import Money
from handlers.ids import Field
from handlers.modal_input import MAX_PRIVATE_METADATA_CHARS as MAX_PRIVATE_METADATA_CHARS
from handlers.modal_input import FormErrors as FormErrors
from handlers.modal_input import Frozen, SubmittedView, read_view, too_long, words_error
from handlers.modal_input import ModalMetadata as ModalMetadata
from handlers.modal_input import PayloadError as PayloadError
from handlers.modal_input import parse_metadata as parse_metadata

#: Longest texts accepted (the modal inputs carry the same ``max_length``).
MAX_REASON_CHARS = 2000
MAX_DESCRIPTION_CHARS = 3000
MAX_CONTACT_CHARS = 200
MAX_EVIDENCE_CHARS = 3000
MAX_ADJUSTMENT_CHARS = 40
MAX_NOTE_CHARS = 3000
MAX_EVIDENCE_LINKS = 20
MAX_URL_CHARS = 2000
MAX_SCOPE_CHARS = 200


class QueueCursor(Frozen):
    """Where a queue page's Previous/Next button leads: the same scope at another offset.

    ``scope`` is opaque here: whatever the command handler passed to
    ``handlers.blocks.queue_page`` (e.g. ``mine``, ``team:treasury``, ``all``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    scope: str = Attr(min_length=1, max_length=MAX_SCOPE_CHARS)
    offset: int = Attr(ge=0)

    def encode(self) -> str:
        """Compact JSON for a button value, e.g. ``{"scope":"mine","offset":10}``."""
        return json.dumps(self.model_dump(), separators=(",", ":"))


def parse_queue_cursor(value: str) -> QueueCursor:
    """Reads a queue navigation button's value back.

    Raises:
        PayloadError: it is not a value written by :meth:`QueueCursor.encode`.
    """
    try:
        return QueueCursor.model_validate_json(value)
    except ValidationError:
        raise PayloadError(f"{value[:80]!r} is not a queue page reference") from None


def parse_home_page(value: str) -> int:
    """Reads an App Home pagination or refresh button's value: a page index (0 is first).

    Raises:
        PayloadError: not a small non-negative integer.
    """
    page = parse_ascii_number(value.strip(), maximum=999_999)
    if page is None:
        raise PayloadError(f"{value[:80]!r} is not a page number")
    return page


class RejectForm(Frozen):
    """A valid reject modal submission."""

    metadata: ModalMetadata
    reason: str


class EscalateForm(Frozen):
    """A valid escalate modal submission (the reason is optional)."""

    metadata: ModalMetadata
    reason: str | None


class DisputeForm(Frozen):
    """A valid dispute modal submission; ``proposed_adjustment`` is at the currency's scale."""

    metadata: ModalMetadata
    category: DisputeCategory
    description: str
    counterparty_contact: str | None
    expected_resolution: date | None
    evidence_links: tuple[str, ...]
    proposed_adjustment: Decimal | None


def parse_reject(view: Mapping[str, Any]) -> RejectForm | FormErrors:
    """Parses the reject modal: a reason of at least ``MIN_REASON_WORDS`` words.

    Args:
        view: The ``view`` of the ``view_submission`` payload.

    Raises:
        PayloadError: the metadata or the payload's shape is not ours.
    """
    submitted, metadata = read_view(view)
    reason = submitted.text(Field.REASON)
    problem = words_error(reason, what="a reason", limit=MAX_REASON_CHARS)
    if problem or reason is None:
        return FormErrors({Field.REASON.value: problem or "Give a reason."})
    return RejectForm(metadata=metadata, reason=reason)


def parse_escalate(view: Mapping[str, Any]) -> EscalateForm | FormErrors:
    """Parses the escalate modal: an optional reason.

    Raises:
        PayloadError: the metadata or the payload's shape is not ours.
    """
    submitted, metadata = read_view(view)
    reason = submitted.text(Field.REASON)
    problem = too_long(reason, MAX_REASON_CHARS)
    if problem:
        return FormErrors({Field.REASON.value: problem})
    return EscalateForm(metadata=metadata, reason=reason)


def _url_ok(url: str) -> bool:
    if len(url) > MAX_URL_CHARS or any(ch.isspace() for ch in url):
        return False
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _parse_links(text: str | None) -> tuple[tuple[str, ...], str | None]:
    """One http(s) URL per line, blank lines ignored; the first bad line is reported."""
    if text is None:
        return (), None
    if len(text) > MAX_EVIDENCE_CHARS:
        return (), f"Keep the links under {MAX_EVIDENCE_CHARS} characters in all."
    links: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        url = line.strip()
        if not url:
            continue
        if not _url_ok(url):
            shown = url if len(url) <= 60 else url[:59] + "…"
            return (), f"Line {number} is not an http(s) URL: {shown}"
        links.append(url)
    if len(links) > MAX_EVIDENCE_LINKS:
        return (), f"Give at most {MAX_EVIDENCE_LINKS} links (this has {len(links)})."
    return tuple(links), None


def parse_dispute(
    view: Mapping[str, Any], *, currency: str, today: date
) -> DisputeForm | FormErrors:
    """Parses the dispute modal; every problem found is reported, each under its own field.

    Args:
        view: The ``view`` of the ``view_submission`` payload.
        currency: The item's currency (the proposed adjustment is in it).
        today: Today's date where the user is (the expected date may not be before it).

    Raises:
        PayloadError: the metadata or the payload's shape is not ours.
    """
    submitted, metadata = read_view(view)
    errors = FormErrors()

    category: DisputeCategory | None = None
    selected = submitted.element(Field.CATEGORY)
    if selected is None or selected.selected_option is None:
        errors[Field.CATEGORY.value] = "Choose a category."
    else:
        try:
            category = DisputeCategory(selected.selected_option.value)
        except ValueError:
            errors[Field.CATEGORY.value] = "Choose one of the listed categories."

    description = submitted.text(Field.DESCRIPTION)
    problem = words_error(description, what="a description", limit=MAX_DESCRIPTION_CHARS)
    if problem:
        errors[Field.DESCRIPTION.value] = problem

    contact = submitted.text(Field.CONTACT)
    problem = too_long(contact, MAX_CONTACT_CHARS)
    if problem:
        errors[Field.CONTACT.value] = problem

    expected: date | None = None
    picked = submitted.element(Field.EXPECTED_DATE)
    if picked is not None and picked.selected_date:
        try:
            expected = date.fromisoformat(picked.selected_date)
        except ValueError:
            errors[Field.EXPECTED_DATE.value] = "Pick a date from the calendar."
        else:
            if expected < today:
                errors[Field.EXPECTED_DATE.value] = (
                    f"{expected.isoformat()} is in the past; pick today or a later date."
                )

    links, problem = _parse_links(submitted.text(Field.EVIDENCE))
    if problem:
        errors[Field.EVIDENCE.value] = problem

    adjustment: Decimal | None = None
    raw_amount = submitted.text(Field.ADJUSTMENT)
    if raw_amount is not None:
        if len(raw_amount) > MAX_ADJUSTMENT_CHARS:
            errors[Field.ADJUSTMENT.value] = f"Give a plain amount in {currency}, e.g. 125.50."
        else:
            try:
                adjustment = Money.parse(raw_amount, currency).amount
            except MoneyError as exc:
                errors[Field.ADJUSTMENT.value] = str(exc)

    if errors or category is None or description is None:
        return errors
    return DisputeForm(
        metadata=metadata,
        category=category,
        description=description,
        counterparty_contact=contact,
        expected_resolution=expected,
        evidence_links=links,
        proposed_adjustment=adjustment,
    )


class NoteForm(Frozen):
    """A valid "Add note" submission."""

    metadata: ModalMetadata
    text: str


def parse_note(view: Mapping[str, Any]) -> NoteForm | FormErrors:
    """Parses the dispute note modal: one required text.

    Raises:
        PayloadError: the metadata or the payload's shape is not ours.
    """
    submitted, metadata = read_view(view)
    text = submitted.text(Field.NOTE)
    if text is None:
        return FormErrors({Field.NOTE.value: "Write the note."})
    problem = too_long(text, MAX_NOTE_CHARS)
    if problem:
        return FormErrors({Field.NOTE.value: problem})
    return NoteForm(metadata=metadata, text=text)


#: Outcomes whose resolution names an amount (required for adjusted; for a write-off the
#: first sign-off fixes it, defaulting to the proposed adjustment or the item's amount).
AMOUNT_OUTCOMES = frozenset({DisputeOutcome.ADJUSTED, DisputeOutcome.WRITTEN_OFF})


class ResolveForm(Frozen):
    """A valid resolve submission; ``amount`` is at the item currency's scale;
    ``step_up`` is the written-off amount retyped, as typed (whether a write-off needs
    it, and whether it matches, is the domain's call)."""

    metadata: ModalMetadata
    outcome: DisputeOutcome
    amount: Decimal | None
    note: str
    step_up: str | None = None


def _resolution_amount(
    raw: str | None, outcome: DisputeOutcome | None, currency: str
) -> tuple[Decimal | None, str | None]:
    """The amount of a resolution and the problem with it, if any (see AMOUNT_OUTCOMES)."""
    if raw is None:
        if outcome is DisputeOutcome.ADJUSTED:
            return None, f"Give the adjusted amount in {currency}."
        return None, None
    if outcome is not None and outcome not in AMOUNT_OUTCOMES:
        return None, f"A {outcome.label} resolution takes no amount; leave it empty."
    if len(raw) > MAX_ADJUSTMENT_CHARS:
        return None, f"Give a plain amount in {currency}, e.g. 125.50."
    try:
        amount = Money.parse(raw, currency).amount
    except MoneyError as exc:
        return None, str(exc)
    if amount == 0:
        return None, "The amount cannot be zero."
    if outcome is DisputeOutcome.WRITTEN_OFF and amount < 0:
        return None, "Give the amount written off as a positive number."
    return amount, None


def parse_resolve(view: Mapping[str, Any], *, currency: str) -> ResolveForm | FormErrors:
    """Parses the resolve modal; every problem found is reported under its own field.

    Args:
        view: The ``view`` of the ``view_submission`` payload.
        currency: The item's currency (the amount is in it).

    Raises:
        PayloadError: the metadata or the payload's shape is not ours.
    """
    submitted, metadata = read_view(view)
    errors = FormErrors()
    outcome: DisputeOutcome | None = None
    selected = submitted.element(Field.OUTCOME)
    if selected is None or selected.selected_option is None:
        errors[Field.OUTCOME.value] = "Choose an outcome."
    else:
        try:
            outcome = DisputeOutcome(selected.selected_option.value)
        except ValueError:
            errors[Field.OUTCOME.value] = "Choose one of the listed outcomes."
    amount, problem = _resolution_amount(submitted.text(Field.AMOUNT), outcome, currency)
    if problem:
        errors[Field.AMOUNT.value] = problem
    note = submitted.text(Field.NOTE)
    problem = words_error(note, what="a resolution note", limit=MAX_NOTE_CHARS)
    if problem:
        errors[Field.NOTE.value] = problem
    step_up = submitted.text(Field.STEP_UP)
    if step_up is not None and len(step_up) > MAX_ADJUSTMENT_CHARS:
        errors[Field.STEP_UP.value] = f"Give a plain amount in {currency}, e.g. 125.50."
    if errors or outcome is None or note is None:
        return errors
    return ResolveForm(
        metadata=metadata, outcome=outcome, amount=amount, note=note, step_up=step_up
    )


class DigestRejectForm(Frozen):
    """A valid "Reject all" submission for a digest group."""

    cluster_id: int
    reason: str


class _ClusterMetadata(Frozen):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    cluster_id: int = Attr(gt=0)


def parse_digest_reject(view: Mapping[str, Any]) -> DigestRejectForm | FormErrors:
    """Parses the group reject modal: a reason of at least ``MIN_REASON_WORDS`` words.

    Raises:
        PayloadError: the metadata or the payload's shape is not ours.
    """
    try:
        submitted = SubmittedView.model_validate(view)
        metadata = _ClusterMetadata.model_validate_json(submitted.private_metadata)
    except ValidationError:
        raise PayloadError("this form is not a recon-bot digest form") from None
    reason = submitted.text(Field.REASON)
    problem = words_error(reason, what="a reason", limit=MAX_REASON_CHARS)
    if problem or reason is None:
        return FormErrors({Field.REASON.value: problem or "Give a reason."})
    return DigestRejectForm(cluster_id=metadata.cluster_id, reason=reason)


class StepUpForm(Frozen):
    """A step-up submission: the amount as typed (checked against the item by the
    domain, in the ack) and an optional note."""

    metadata: ModalMetadata
    typed: str
    note: str | None


def parse_step_up(view: Mapping[str, Any], *, currency: str) -> StepUpForm | FormErrors:
    """Parses the step-up form: an amount is required (whether it is the item's is the
    domain's call), the note is optional.

    Raises:
        PayloadError: the metadata or the payload's shape is not ours.
    """
    submitted, metadata = read_view(view)
    errors = FormErrors()
    typed = submitted.text(Field.AMOUNT)
    if typed is None:
        errors[Field.AMOUNT.value] = f"Type the item's amount in {currency} to approve it."
    elif len(typed) > MAX_ADJUSTMENT_CHARS:
        errors[Field.AMOUNT.value] = f"Give a plain amount in {currency}, e.g. 125.50."
    note = submitted.text(Field.NOTE)
    problem = too_long(note, MAX_NOTE_CHARS)
    if problem:
        errors[Field.NOTE.value] = problem
    if errors or typed is None:
        return errors
    return StepUpForm(metadata=metadata, typed=typed, note=note)
