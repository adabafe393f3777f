"""Section and context blocks of mrkdwn, fitted to Slack's text limits.

The statement and item renderers build most of their text blocks through these two, so
a long value is cut where Slack would refuse it, never by Slack.
"""

from __future__ import annotations

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

from handlers.blocks.limits import CONTEXT_TEXT_CHARS, SECTION_TEXT_CHARS
from handlers.blocks.mrkdwn import fit


def section(block_id: str, text: str) -> SectionBlock:
    """A section of ``text`` (mrkdwn), cut to Slack's section limit."""
    return SectionBlock(
        block_id=block_id, text=MarkdownTextObject(text=fit(text, SECTION_TEXT_CHARS))
    )


def context(block_id: str, text: str) -> ContextBlock:
    """A context line of ``text`` (mrkdwn), cut to Slack's context limit."""
    return ContextBlock(
        block_id=block_id, elements=[MarkdownTextObject(text=fit(text, CONTEXT_TEXT_CHARS))]
    )
