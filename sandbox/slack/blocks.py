"""Block Kit as a person reads it: buttons, visible texts, and what an input submits.

Pure functions over the JSON the bot sends; the records, the state and the driver use
them to find what is on screen and to build ``state.values`` as Slack would.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["button_labels", "element_state", "iter_buttons", "iter_texts"]


def iter_buttons(blocks: Any) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """Yields ``(block, button_element)`` for every button in a block list.

    Buttons are found in ``actions`` blocks and as ``section`` accessories.
    """
    if not isinstance(blocks, list):
        return
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        candidates: list[Any] = []
        if block.get("type") in ("actions", "context_actions"):
            candidates = list(block.get("elements") or [])
        elif "accessory" in block:
            candidates = [block["accessory"]]
        for element in candidates:
            if isinstance(element, Mapping) and element.get("type") == "button":
                yield block, element


def button_labels(blocks: Any) -> list[str]:
    """The visible labels of every button in a block list, in order."""
    return [str((element.get("text") or {}).get("text", "")) for _, element in iter_buttons(blocks)]


def iter_texts(value: Any) -> Iterator[str]:
    """Yields every human-visible string (``text`` fields of text objects) in a payload."""
    if isinstance(value, Mapping):
        if value.get("type") in ("plain_text", "mrkdwn") and isinstance(value.get("text"), str):
            yield value["text"]
        for key, item in value.items():
            if key in ("text", "type") and isinstance(item, str):
                continue
            yield from iter_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_texts(item)


def element_state(element: Mapping[str, Any], value: Any) -> dict[str, Any]:
    """The ``state.values[block][action]`` entry Slack sends for an input element.

    Args:
        element: The input element (its ``type`` selects the shape).
        value: The user's entry already resolved to Slack's shape (string, option
            object, list of option objects, ...), or None to use the element's
            initial value (Slack submits initial values the user left untouched).

    Returns:
        E.g. ``{"type": "plain_text_input", "value": "x"}`` or
        ``{"type": "static_select", "selected_option": None}``.
    """
    kind = str(element.get("type"))
    out: dict[str, Any] = {"type": kind}
    if kind in ("plain_text_input", "url_text_input", "email_text_input", "number_input"):
        initial = element.get("initial_value")
        out["value"] = value if value is not None else initial
    elif kind in ("static_select", "external_select", "radio_buttons"):
        out["selected_option"] = value if value is not None else element.get("initial_option")
    elif kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        out["selected_options"] = (
            value if value is not None else list(element.get("initial_options") or [])
        )
    elif kind == "datepicker":
        out["selected_date"] = value if value is not None else element.get("initial_date")
    elif kind == "timepicker":
        out["selected_time"] = value if value is not None else element.get("initial_time")
    elif kind == "users_select":
        out["selected_user"] = value if value is not None else element.get("initial_user")
    elif kind == "multi_users_select":
        out["selected_users"] = (
            value if value is not None else list(element.get("initial_users") or [])
        )
    elif kind == "conversations_select":
        out["selected_conversation"] = (
            value if value is not None else element.get("initial_conversation")
        )
    elif kind == "channels_select":
        out["selected_channel"] = value if value is not None else element.get("initial_channel")
    else:
        out["value"] = value
    return out
