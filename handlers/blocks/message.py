"""A rendered message: the blocks plus the plain-text fallback Slack needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import Block


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """What ``chat.postMessage``, ``chat.update`` and ``respond`` send.

    ``text`` is the fallback Slack shows in notifications and reads to screen readers;
    ``blocks`` is the Block Kit layout.
    """

    text: str
    blocks: list[Block]

    def payload(self) -> dict[str, Any]:
        """``{"text": ..., "blocks": [...]}`` as JSON-ready dicts.

        Serialising runs slack_sdk's validation, so a renderer bug surfaces here as
        ``SlackObjectFormationError`` instead of as ``invalid_blocks`` from Slack.
        """
        return {"text": self.text, "blocks": [block.to_dict() for block in self.blocks]}
