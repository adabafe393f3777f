"""Slack's limits in one table, and the validators that enforce them.

Every number the stand-in enforces lives in :class:`SlackLimits`; the validators
below return error strings worded the way Slack words them (``"must be less than
3001 characters [json-pointer:/blocks/0/text/text]"``) so that the Web API layer
can answer ``{"ok": false, "error": "invalid_blocks", "errors": [...]}`` exactly
like Slack does.

Nothing here performs I/O; the functions are pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LIMITS",
    "SlackLimits",
    "ViewCheck",
    "validate_blocks",
    "validate_message",
    "validate_view",
]


@dataclass(frozen=True)
class SlackLimits:
    """The one table of Slack limits the stand-in enforces.

    Character limits are maxima (inclusive). Times are seconds.
    """

    # Surfaces
    message_blocks: int = 50
    view_blocks: int = 100  # modal and home tab alike
    message_text: int = 40_000
    # Blocks
    section_text: int = 3000
    section_fields: int = 10
    section_field_text: int = 2000
    header_text: int = 150
    context_elements: int = 10
    actions_elements: int = 25
    input_label: int = 2000
    input_hint: int = 2000
    block_id: int = 255
    # Elements
    action_id: int = 255
    button_text: int = 75
    button_value: int = 2000
    button_url: int = 3000
    placeholder_text: int = 150
    select_options: int = 100
    option_text: int = 75
    option_value: int = 150
    plain_text_input_max_length: int = 3000
    # Views
    modal_title: int = 24
    modal_submit: int = 24
    modal_close: int = 24
    private_metadata: int = 3000
    callback_id: int = 255
    external_id: int = 255
    modal_stack_depth: int = 3
    # Interactivity timing
    trigger_ttl_s: float = 3.0
    ack_timeout_s: float = 3.0
    response_url_uses: int = 5
    response_url_ttl_s: float = 30 * 60
    events_max_retries: int = 3
    # Socket Mode: simultaneous connections of one app (envelopes are spread over them)
    socket_connections: int = 10
    # Reading history (conversations.history: ``limit`` above this is cut to it)
    history_max_limit: int = 999


LIMITS = SlackLimits()
"""The default (Slack's real) limits."""

_KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
_TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
_SELECT_TYPES = frozenset({"static_select", "multi_static_select", "radio_buttons", "checkboxes"})


class _Checker:
    """Accumulates Slack-worded errors while walking a payload."""

    def __init__(self, limits: SlackLimits) -> None:
        self.limits = limits
        self.errors: list[str] = []
        self.block_ids: set[str] = set()
        self.action_ids: set[str] = set()

    def add(self, message: str, pointer: str) -> None:
        self.errors.append(f"{message} [json-pointer:{pointer}]")

    def string(self, value: Any, pointer: str, limit: int, *, min_len: int = 0) -> None:
        if not isinstance(value, str):
            self.add("must be a string", pointer)
            return
        if len(value) > limit:
            self.add(f"must be less than {limit + 1} characters", pointer)
        elif len(value) < min_len:
            self.add(f"must be more than {min_len - 1} characters", pointer)

    def text_obj(
        self,
        value: Any,
        pointer: str,
        limit: int,
        *,
        plain_only: bool = False,
        required: bool = True,
    ) -> None:
        if value is None:
            if required:
                parent, _, field = pointer.rpartition("/")
                self.add(f"missing required field: {field}", parent or "/")
            return
        if not isinstance(value, Mapping):
            self.add("must provide an object", pointer)
            return
        kind = value.get("type")
        if kind not in _TEXT_TYPES:
            self.add("must be one of plain_text, mrkdwn", f"{pointer}/type")
        elif plain_only and kind != "plain_text":
            self.add("must be plain_text", f"{pointer}/type")
        self.string(value.get("text"), f"{pointer}/text", limit, min_len=1)

    def block_id(self, block: Mapping[str, Any], pointer: str) -> None:
        block_id = block.get("block_id")
        if block_id is None:
            return
        self.string(block_id, f"{pointer}/block_id", self.limits.block_id, min_len=1)
        if isinstance(block_id, str):
            if block_id in self.block_ids:
                self.add(f'`block_id` "{block_id}" already exists', f"{pointer}/block_id")
            self.block_ids.add(block_id)

    def action_id(self, element: Mapping[str, Any], pointer: str) -> None:
        action_id = element.get("action_id")
        if action_id is None:
            return
        self.string(action_id, f"{pointer}/action_id", self.limits.action_id, min_len=1)
        if isinstance(action_id, str):
            if action_id in self.action_ids:
                self.add(f'`action_id` "{action_id}" already exists', f"{pointer}/action_id")
            self.action_ids.add(action_id)

    def options(self, options: Any, pointer: str) -> None:
        if not isinstance(options, list):
            self.add("must provide an array", pointer)
            return
        if len(options) > self.limits.select_options:
            self.add(f"no more than {self.limits.select_options} items allowed", pointer)
        for i, option in enumerate(options):
            p = f"{pointer}/{i}"
            if not isinstance(option, Mapping):
                self.add("must provide an object", p)
                continue
            self.text_obj(option.get("text"), f"{p}/text", self.limits.option_text)
            self.string(option.get("value"), f"{p}/value", self.limits.option_value, min_len=1)

    def element(self, element: Any, pointer: str) -> None:
        if not isinstance(element, Mapping):
            self.add("must provide an object", pointer)
            return
        kind = element.get("type")
        if not isinstance(kind, str):
            self.add("missing required field: type", pointer)
            return
        self.action_id(element, pointer)
        lim = self.limits
        if "placeholder" in element:
            self.text_obj(
                element["placeholder"],
                f"{pointer}/placeholder",
                lim.placeholder_text,
                plain_only=True,
            )
        if kind == "button":
            self.text_obj(element.get("text"), f"{pointer}/text", lim.button_text, plain_only=True)
            if "value" in element:
                self.string(element["value"], f"{pointer}/value", lim.button_value)
            if "url" in element:
                self.string(element["url"], f"{pointer}/url", lim.button_url)
        elif kind in _SELECT_TYPES:
            if "options" in element:
                self.options(element["options"], f"{pointer}/options")
            elif "option_groups" in element:
                groups = element["option_groups"]
                if isinstance(groups, list):
                    for g, group in enumerate(groups):
                        if isinstance(group, Mapping):
                            self.options(
                                group.get("options"), f"{pointer}/option_groups/{g}/options"
                            )
            else:
                self.add("missing required field: options", pointer)
        elif kind == "plain_text_input" and "max_length" in element:
            max_length = element["max_length"]
            if not isinstance(max_length, int) or max_length > lim.plain_text_input_max_length:
                self.add(
                    f"must be less than {lim.plain_text_input_max_length + 1}",
                    f"{pointer}/max_length",
                )

    def block(self, block: Any, pointer: str, *, surface: str) -> None:
        if not isinstance(block, Mapping):
            self.add("must provide an object", pointer)
            return
        kind = block.get("type")
        if not isinstance(kind, str):
            self.add("missing required field: type", pointer)
            return
        if kind not in _KNOWN_BLOCK_TYPES:
            self.add(f"unsupported type: {kind}", f"{pointer}/type")
            return
        self.block_id(block, pointer)
        # Slack: action_id "should be unique among all other action_ids in the containing
        # block" -- so the same action_id may recur in different blocks (per-row buttons).
        self.action_ids = set()
        lim = self.limits
        if kind == "section":
            has_fields = "fields" in block
            self.text_obj(
                block.get("text"), f"{pointer}/text", lim.section_text, required=not has_fields
            )
            if has_fields:
                fields = block["fields"]
                if not isinstance(fields, list):
                    self.add("must provide an array", f"{pointer}/fields")
                else:
                    if len(fields) > lim.section_fields:
                        self.add(
                            f"no more than {lim.section_fields} items allowed", f"{pointer}/fields"
                        )
                    for i, field in enumerate(fields):
                        self.text_obj(field, f"{pointer}/fields/{i}", lim.section_field_text)
            if "accessory" in block:
                self.element(block["accessory"], f"{pointer}/accessory")
        elif kind == "header":
            self.text_obj(block.get("text"), f"{pointer}/text", lim.header_text, plain_only=True)
        elif kind == "actions":
            self._element_list(block.get("elements"), f"{pointer}/elements", lim.actions_elements)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.add("must provide at least 1 items", f"{pointer}/elements")
            elif len(elements) > lim.context_elements:
                self.add(
                    f"no more than {lim.context_elements} items allowed", f"{pointer}/elements"
                )
        elif kind == "input":
            self.text_obj(block.get("label"), f"{pointer}/label", lim.input_label, plain_only=True)
            if "hint" in block:
                self.text_obj(block["hint"], f"{pointer}/hint", lim.input_hint, plain_only=True)
            if "element" not in block:
                self.add("missing required field: element", pointer)
            else:
                self.element(block["element"], f"{pointer}/element")

    def _element_list(self, elements: Any, pointer: str, limit: int) -> None:
        if not isinstance(elements, list) or not elements:
            self.add("must provide at least 1 items", pointer)
            return
        if len(elements) > limit:
            self.add(f"no more than {limit} items allowed", pointer)
        for i, element in enumerate(elements):
            self.element(element, f"{pointer}/{i}")

    def blocks(self, blocks: Any, pointer: str, limit: int, *, surface: str) -> None:
        if not isinstance(blocks, list):
            self.add("must provide an array", pointer)
            return
        if len(blocks) > limit:
            self.add(f"no more than {limit} items allowed", pointer)
        for i, block in enumerate(blocks):
            self.block(block, f"{pointer}/{i}", surface=surface)


def validate_blocks(
    blocks: Any, *, pointer: str = "/blocks", surface: str = "message", limits: SlackLimits = LIMITS
) -> list[str]:
    """Validates a ``blocks`` array for one surface.

    Args:
        blocks: The decoded ``blocks`` value (should be a list of block objects).
        pointer: JSON pointer of the array, used in error strings.
        surface: ``"message"`` (50 blocks) or ``"modal"``/``"home"`` (100 blocks).
        limits: The limit table to apply.

    Returns:
        Slack-worded error strings; empty when the blocks are acceptable. ``block_id``
        must be unique across the surface's blocks; ``action_id`` must be unique within
        its containing block (Slack's rule; the same action_id may recur across blocks).
    """
    checker = _Checker(limits)
    limit = limits.message_blocks if surface == "message" else limits.view_blocks
    checker.blocks(blocks, pointer, limit, surface=surface)
    return checker.errors


def validate_message(
    text: Any, blocks: Any, attachments: Any = None, *, limits: SlackLimits = LIMITS
) -> tuple[str | None, list[str]]:
    """Validates the content of a message (``chat.*``, ``response_url``, ack payloads).

    Args:
        text: The ``text`` argument, or None when absent.
        blocks: The decoded ``blocks`` argument, or None when absent.
        attachments: The decoded ``attachments`` argument, or None when absent.
        limits: The limit table to apply.

    Returns:
        ``(error_code, errors)``: ``(None, [])`` when acceptable; ``("no_text", [])``
        when there is neither text, blocks nor attachments; ``("msg_too_long", [])``
        when ``text`` exceeds the limit; ``("invalid_blocks", [...])`` for block problems.
    """
    has_text = isinstance(text, str) and text != ""
    if not has_text and not blocks and not attachments:
        return "no_text", []
    if isinstance(text, str) and len(text) > limits.message_text:
        return "msg_too_long", []
    if blocks is not None:
        errors = validate_blocks(blocks, surface="message", limits=limits)
        if errors:
            return "invalid_blocks", errors
    return None, []


@dataclass(frozen=True)
class ViewCheck:
    """Outcome of :func:`validate_view`: Slack's error code and messages."""

    error: str | None
    messages: tuple[str, ...] = ()


def validate_view(
    view: Any, *, expected_type: str | None, limits: SlackLimits = LIMITS
) -> ViewCheck:
    """Validates a view payload the way ``views.*`` does.

    Args:
        view: The decoded ``view`` argument.
        expected_type: ``"modal"`` (views.open/push/update, response_action push/update),
            ``"home"`` (views.publish), or None to accept either.
        limits: The limit table to apply.

    Returns:
        ``ViewCheck(None)`` when acceptable, else ``ViewCheck("invalid_arguments", msgs)``
        where each message is prefixed ``[ERROR]`` as in Slack's ``response_metadata``.
    """
    checker = _Checker(limits)
    if not isinstance(view, Mapping):
        return ViewCheck(
            "invalid_arguments", ("[ERROR] must provide an object [json-pointer:/view]",)
        )
    kind = view.get("type")
    if kind not in ("modal", "home"):
        checker.add("must be one of modal, home", "/view/type")
    elif expected_type is not None and kind != expected_type:
        checker.add(f"must be `{expected_type}`", "/view/type")
    blocks = view.get("blocks")
    if blocks is None:
        checker.add("missing required field: blocks", "/view")
    else:
        checker.blocks(blocks, "/view/blocks", limits.view_blocks, surface=str(kind))
    if kind == "modal":
        checker.text_obj(view.get("title"), "/view/title", limits.modal_title, plain_only=True)
        for field, limit in (("submit", limits.modal_submit), ("close", limits.modal_close)):
            if field in view:
                checker.text_obj(view[field], f"/view/{field}", limit, plain_only=True)
        if isinstance(blocks, list) and "submit" not in view:
            for i, block in enumerate(blocks):
                if isinstance(block, Mapping) and block.get("type") == "input":
                    checker.add(
                        "must define `submit` to use an `input` block in modals",
                        f"/view/blocks/{i}/input",
                    )
                    break
    for field, limit in (
        ("private_metadata", limits.private_metadata),
        ("callback_id", limits.callback_id),
        ("external_id", limits.external_id),
    ):
        if field in view and view[field] is not None:
            checker.string(view[field], f"/view/{field}", limit)
    if checker.errors:
        return ViewCheck("invalid_arguments", tuple(f"[ERROR] {e}" for e in checker.errors))
    return ViewCheck(None)
