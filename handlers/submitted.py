"""A submitted view (``view_submission``), parsed at the edge: the values its inputs hold.

Every form's inputs use ``INPUT_ACTION_ID`` inside a block named for their field, so a
field's value is ``state.values[field][INPUT_ACTION_ID]``. The forms of Stage 1
(statements) and Stage 2 (matches) read their views through :class:`SubmittedView`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic import Field as Attr

from handlers.forms import PayloadError
from handlers.ids import INPUT_ACTION_ID


class _Edge(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SelectedOption(_Edge):
    value: str


class InputValue(_Edge):
    """One input's value: typed text, a selected option or a picked date."""

    value: str | None = None
    selected_option: SelectedOption | None = None
    selected_date: str | None = None


class ViewState(_Edge):
    values: dict[str, dict[str, InputValue]] = Attr(default_factory=dict)


class SubmittedView(_Edge):
    """The parts of a submitted view the forms read."""

    private_metadata: str = ""
    state: ViewState = Attr(default_factory=ViewState)

    @classmethod
    def read(cls, view: Mapping[str, Any]) -> Self:
        """Parses a ``view`` payload.

        Raises:
            PayloadError: it does not have a view's shape.
        """
        try:
            return cls.model_validate(view)
        except ValidationError:
            raise PayloadError("view_submission has an unexpected shape") from None

    def element(self, field: StrEnum) -> InputValue | None:
        return self.state.values.get(field.value, {}).get(INPUT_ACTION_ID)

    def text(self, field: StrEnum) -> str | None:
        """The field's text, stripped; None when empty."""
        element = self.element(field)
        text = (element.value or "").strip() if element else ""
        return text or None

    def choice(self, field: StrEnum) -> str | None:
        """The value of the option selected in the field, if any."""
        element = self.element(field)
        return element.selected_option.value if element and element.selected_option else None

    def day(self, field: StrEnum) -> str | None:
        """The date picked in the field (``YYYY-MM-DD``), if any."""
        element = self.element(field)
        return element.selected_date if element else None
