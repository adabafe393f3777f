"""Reading a modal submission at the edge: the metadata our item modals carry in
``private_metadata`` (ours, so garbage there is a :class:`PayloadError`), the submitted
view's state, the :class:`FormErrors` shown under a modal's fields, and the checks every
free-text answer shares. The forms themselves are in :mod:`handlers.forms`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic import Field as Attr

from domain.states import MIN_REASON_WORDS
from handlers.errors import HandlerError
from handlers.ids import INPUT_ACTION_ID, Field

#: Slack's limit on ``private_metadata``.
MAX_PRIVATE_METADATA_CHARS = 3000


class PayloadError(HandlerError, ValueError):
    """A value we wrote into Slack came back unreadable: a bug or a forged payload."""


class FormErrors(dict[str, str]):
    """Problems with a submitted modal: input block id -> one sentence for the user.

    A plain ``dict`` subclass, so it goes straight into
    ``ack(response_action="errors", errors=form_errors)``.
    """


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModalMetadata(Frozen):
    """What a modal remembers in ``private_metadata``.

    ``version`` is the item version the user saw when they opened the modal (the usecases
    refuses a stale one); ``channel`` and ``ts`` name the message to update afterwards
    (absent when the modal was opened from a command or the App Home).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    item_id: int = Attr(gt=0)
    version: int = Attr(ge=1)
    channel: str | None = Attr(default=None, pattern=r"^[A-Z][A-Z0-9]{1,40}$")
    ts: str | None = Attr(default=None, pattern=r"^[0-9]{1,12}\.[0-9]{1,9}$")

    def encode(self) -> str:
        """Compact JSON for ``private_metadata``, e.g. ``{"item_id":1042,"version":7}``."""
        return json.dumps(self.model_dump(exclude_none=True), separators=(",", ":"))


def parse_metadata(private_metadata: str) -> ModalMetadata:
    """Reads a modal's ``private_metadata`` back.

    Raises:
        PayloadError: it is not metadata written by :meth:`ModalMetadata.encode`.
    """
    if not private_metadata or len(private_metadata) > MAX_PRIVATE_METADATA_CHARS:
        raise PayloadError("private_metadata is empty or too long to be recon-bot metadata")
    try:
        return ModalMetadata.model_validate_json(private_metadata)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(document)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PayloadError(
            f"private_metadata is not recon-bot modal metadata ({problems})"
        ) from None


# --- view_submission state ---------------------------------------------------------------


class _Edge(BaseModel):
    """Slack adds fields over time: ignore what we don't read."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _SelectedOption(_Edge):
    value: str


class _ElementState(_Edge):
    """One input's state; which attribute is set depends on the element type."""

    type: str | None = None
    value: str | None = None
    selected_option: _SelectedOption | None = None
    selected_date: str | None = None


class _ViewState(_Edge):
    values: dict[str, dict[str, _ElementState]] = Attr(default_factory=dict)


class SubmittedView(_Edge):
    callback_id: str | None = None
    private_metadata: str = ""
    state: _ViewState = Attr(default_factory=_ViewState)

    def element(self, field: Field) -> _ElementState | None:
        return self.state.values.get(field.value, {}).get(INPUT_ACTION_ID)

    def text(self, field: Field) -> str | None:
        """The stripped text of a plain_text_input; None when empty or absent."""
        element = self.element(field)
        text = (element.value or "").strip() if element else ""
        return text or None


def read_view(view: Mapping[str, Any]) -> tuple[SubmittedView, ModalMetadata]:
    try:
        submitted = SubmittedView.model_validate(view)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise PayloadError(f"view_submission has an unexpected shape: {problem}") from None
    return submitted, parse_metadata(submitted.private_metadata)


def words_error(text: str | None, *, what: str, limit: int) -> str | None:
    """Why a required free-text answer is not acceptable, or None."""
    if text is None:
        return f"Give {what} of at least {MIN_REASON_WORDS} words."
    words = len(text.split())
    if words < MIN_REASON_WORDS:
        return f"Give {what} of at least {MIN_REASON_WORDS} words (this has {words})."
    if len(text) > limit:
        return f"Keep it under {limit} characters (this has {len(text)})."
    return None


def too_long(text: str | None, limit: int) -> str | None:
    if text is not None and len(text) > limit:
        return f"Keep it under {limit} characters (this has {len(text)})."
    return None
