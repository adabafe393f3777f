"""Alerts and direct messages the outbox sends: dead letters, failed deliveries, hand-offs.

Each template takes the outbox payload (data written by the domain) and, when the message
is about an item, the item as it is now. The item's live card follows the text, so the
person alerted can act on it where they read it; the relay keeps these copies current.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from domain.items import Item
from domain.policy import Policy
from handlers.blocks.items import item_card
from handlers.blocks.message import Message
from handlers.blocks.mrkdwn import fit, mention, user_text

_SECTION_CHARS = 3000


def _headline(template: str, payload: dict[str, Any], item: Item | None) -> tuple[str, str]:
    """(plain fallback, mrkdwn headline) for a template."""
    ref = item.human_id if item is not None else "an item"
    if template == "dead_letter":
        return (
            f"Dead letter: {ref} was not decided in time",
            f":rotating_light: *High severity: {ref} is dead-lettered.* It was not decided "
            "within the SLA; automatic posting is halted for it and only compliance "
            "(or team leads, per policy) can resolve it now.",
        )
    if template == "policy_invalid":
        problems = [user_text(str(p), 300, one_line=True) for p in payload.get("problems", [])]
        listed = "\n".join(f"• {p}" for p in problems[:10])
        kept = user_text(str(payload.get("kept", "?")), 40, one_line=True)
        return (
            "The edited policy file is invalid; the old policy stays in force",
            f":no_entry: *The edited policy file is invalid*; policy `{kept}` stays in "
            f"force until it is fixed.\n{listed}",
        )
    if template == "audit_checkpoint":
        size = payload.get("size", "?")
        root = user_text(str(payload.get("root", "?")), 80, one_line=True)
        key = user_text(str(payload.get("key_id", "?")), 40, one_line=True)
        signature = user_text(str(payload.get("signature", "?")), 140, one_line=True)
        when = user_text(str(payload.get("time", "?")), 40, one_line=True)
        return (
            f"Audit checkpoint: {size} records",
            f":lock: *Audit checkpoint* of log `{payload.get('log', 'recon')}`: {size} "
            f"records, Merkle root `{root}`, at {when}, key `{key}`.\nSignature: "
            f"`{signature}`\nKeep this message: `recon-bot audit verify` checks the log "
            "against checkpoints like it.",
        )
    if template == "reminder":
        return (
            f"Reminder: {ref} is waiting for your decision",
            f":alarm_clock: *Reminder: {ref} is waiting for your decision.* It is past its "
            "SLA reminder time; decide below, or release it so someone else can.",
        )
    if template == "reminder_unclaimed":
        return (
            f"Reminder: {ref} is still unclaimed",
            f":alarm_clock: *Reminder: {ref} is still unclaimed* and past its SLA reminder "
            "time. Claim it or decide below.",
        )
    if template == "sla_escalated":
        return (
            f"{ref} was escalated to the team's leads",
            f":arrow_double_up: *{ref} was escalated to the team's leads:* it was not "
            "decided in time. Only leads (and compliance) can act on it now.",
        )
    if template == "escalated":
        return (
            f"{ref} was escalated to you",
            f":arrow_double_up: *{ref} was escalated to you* as a lead of its team.",
        )
    if template == "assigned":
        by = payload.get("by")
        return (
            f"{ref} was assigned to you",
            f":inbox_tray: *{ref} was assigned to you*" + (f" by {mention(by)}." if by else "."),
        )
    if template == "delivery_failed":
        error = user_text(str(payload.get("error", "unknown error")), 300, one_line=True)
        target = user_text(str(payload.get("target", "?")), 60, one_line=True)
        kind = user_text(str(payload.get("kind", "message")), 30, one_line=True)
        return (
            f"A Slack message could not be delivered ({error})",
            f":warning: *A Slack {kind} for {ref} to `{target}` could not be delivered* "
            f"and was dead-lettered: `{error}`. Replay it with "
            f"`recon-bot outbox --retry {payload.get('outbox_id', '?')}` once fixed.",
        )
    text = user_text(str(payload.get("text", template)), 500, one_line=True)
    return text, text


def alert_message(
    payload: dict[str, Any], *, item: Item | None, policy: Policy, now: datetime
) -> Message:
    """The message for an ALERT or DM outbox row (see module docstring)."""
    template = str(payload.get("template", "text"))
    fallback, headline = _headline(template, payload, item)
    blocks: list[Block] = [
        SectionBlock(block_id="alert", text=MarkdownTextObject(text=fit(headline, _SECTION_CHARS)))
    ]
    if item is not None and template != "delivery_failed":
        # The live card, buttons included: the relay edits this copy whenever the item
        # changes, so once the item is decided its buttons disappear here too.
        card = item_card(item, policy=policy, now=now)
        room = 50 - len(blocks)
        blocks.extend(card.blocks[:room])
    else:
        blocks.append(
            ContextBlock(
                block_id="alert_ctx",
                elements=[MarkdownTextObject(text=f"recon-bot · {template.replace('_', ' ')}")],
            )
        )
    return Message(text=fallback, blocks=blocks)
