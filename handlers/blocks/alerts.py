"""Alerts and direct messages the outbox sends: dead letters, failed deliveries, hand-offs.

Each template takes the outbox payload (data written by the domain) and, when the message
is about an item, the item as it is now. The item's live card follows the text, so the
person alerted can act on it where they read it; the relay keeps these copies current.
"""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from domain.items import Item
from domain.policy import Policy
from domain.states import SYSTEM
from domain.templates import (
    AlertTemplate,
    Assigned,
    AuditCheckpoint,
    DeadLetter,
    DeliveryFailed,
    DisputeOverdue,
    Escalated,
    LedgerBreaker,
    NoticeKind,
    PolicyInvalid,
    Reminder,
    ReminderUnclaimed,
    SlaEscalated,
    TierReached,
    Unassigned,
    UnknownNotice,
)
from handlers.blocks.items import item_card
from handlers.blocks.message import Message
from handlers.blocks.mrkdwn import fit, mention, user_text

_SECTION_CHARS = 3000

#: The outbox payloads rendered here (digests have their own renderer).
Alert = AlertTemplate | UnknownNotice


def _headline(payload: Alert, item: Item | None) -> tuple[str, str]:
    """(plain fallback, mrkdwn headline) for a template."""
    ref = item.human_id if item is not None else "an item"
    match payload:
        case DeadLetter():
            return (
                f"Dead letter: {ref} was not decided in time",
                f":rotating_light: *High severity: {ref} is dead-lettered.* It was not "
                "decided within the SLA; automatic posting is halted for it and only "
                "compliance (or team leads, per policy) can resolve it now.",
            )
        case PolicyInvalid():
            problems = [user_text(p, 300, one_line=True) for p in payload.problems]
            listed = "\n".join(f"• {p}" for p in problems[:10])
            kept = user_text(payload.kept, 40, one_line=True)
            return (
                "The edited policy file is invalid; the old policy stays in force",
                f":no_entry: *The edited policy file is invalid*; policy `{kept}` stays in "
                f"force until it is fixed.\n{listed}",
            )
        case AuditCheckpoint():
            size = payload.size
            root = user_text(payload.root, 80, one_line=True)
            key = user_text(payload.key_id, 40, one_line=True)
            signature = user_text(payload.signature, 140, one_line=True)
            when = user_text(payload.time.isoformat(), 40, one_line=True)
            return (
                f"Audit checkpoint: {size} records",
                f":lock: *Audit checkpoint* of log `{payload.log}`: {size} "
                f"records, Merkle root `{root}`, at {when}, key `{key}`.\nSignature: "
                f"`{signature}`\nKeep this message: `recon-bot audit verify` checks the log "
                "against checkpoints like it.",
            )
        case Reminder():
            shown = _shown_in(payload.digest, "It was shown in the digest of window")
            return (
                f"Reminder: {ref} is waiting for your decision",
                f":alarm_clock: *Reminder: {ref} is waiting for your decision.* It is past "
                f"its SLA reminder time; decide below, or release it so someone else can."
                f"{shown}",
            )
        case ReminderUnclaimed():
            shown = _shown_in(payload.digest, "It was listed in this thread's digest, window")
            return (
                f"Reminder: {ref} is still unclaimed",
                f":alarm_clock: *Reminder: {ref} is still unclaimed* and past its SLA "
                f"reminder time. Claim it or decide below.{shown}",
            )
        case SlaEscalated():
            return (
                f"{ref} was escalated to the team's leads",
                f":arrow_double_up: *{ref} was escalated to the team's leads:* it was not "
                "decided in time. Only leads (and compliance) can act on it now.",
            )
        case DisputeOverdue():
            dispute = user_text(payload.dispute, 40, one_line=True)
            expected = payload.expected_resolution.isoformat()
            return (
                f"Dispute {dispute} on {ref} is past its expected resolution date",
                f":hourglass: *Dispute {dispute} on {ref} is past its expected resolution "
                f"date* ({expected}). Chase the counterparty, add a note, or resolve it.",
            )
        case Escalated():
            return (
                f"{ref} was escalated to you",
                f":arrow_double_up: *{ref} was escalated to you* as a lead of its team.",
            )
        case Assigned():
            by = payload.by
            if by == SYSTEM:
                said = " automatically (your team assigns by capacity and certification)."
            else:
                said = f" by {mention(by)}." if by else "."
            return (f"{ref} was assigned to you", f":inbox_tray: *{ref} was assigned to you*{said}")
        case TierReached():
            tier = user_text(payload.tier, 80, one_line=True)
            return (
                f"{ref} reached escalation tier {tier}",
                f":arrow_double_up: *{ref} reached escalation tier {tier}*: it was not "
                "decided in time. This tier's members can act on it now.",
            )
        case Unassigned():
            reasons = user_text(payload.reasons, 1500, one_line=True)
            return (
                f"Nobody could be assigned {ref}",
                f":busy_in_progress: *Nobody in your team could be assigned {ref}*; it waits "
                f"in the queue unassigned. Why: {reasons}. Assign it with `/recon assign`, "
                "or it is assigned once someone is eligible.",
            )
        case DeliveryFailed() if payload.kind is NoticeKind.LEDGER:
            error = user_text(payload.error, 300, one_line=True)
            return (
                f"The ledger refused the journal entry of {ref} ({error})",
                f":warning: *The ledger refused the journal entry of {ref}*: `{error}`. "
                f"It was dead-lettered and the item stays approved, not posted. Replay it "
                f"with `recon-bot outbox --retry {payload.outbox_id}` once fixed.",
            )
        case DeliveryFailed():
            error = user_text(payload.error, 300, one_line=True)
            target = user_text(payload.target, 60, one_line=True)
            kind = user_text(payload.kind.value, 30, one_line=True)
            return (
                f"A Slack message could not be delivered ({error})",
                f":warning: *A Slack {kind} for {ref} to `{target}` could not be delivered* "
                f"and was dead-lettered: `{error}`. Replay it with "
                f"`recon-bot outbox --retry {payload.outbox_id}` once fixed.",
            )
        case LedgerBreaker():
            if payload.state == "open":
                error = user_text(payload.error or "unknown", 300, one_line=True)
                return (
                    "The ledger is not answering: journal entries are waiting",
                    ":no_entry: *The ledger is not answering* (last error: "
                    f"`{error}`). Its circuit breaker is open: decisions go on, approved "
                    "items wait approved-not-posted, and their entries are sent once the "
                    "ledger answers again (`recon-bot status` shows the breaker).",
                )
            return (
                "The ledger answers again: waiting journal entries are being sent",
                ":white_check_mark: *The ledger answers again.* Its circuit breaker is "
                "closed and the waiting journal entries are being sent.",
            )
        case UnknownNotice():
            text = user_text(str(payload.fields.get("text", _name(payload))), 500, one_line=True)
            return text, text
        case _:
            assert_never(payload)


def _name(payload: Alert) -> str:
    """The template's name (``text`` for a row that names none)."""
    if isinstance(payload, UnknownNotice):
        return str(payload.fields.get("template", "text"))
    return payload.template.value


def alert_message(payload: Alert, *, item: Item | None, policy: Policy, now: datetime) -> Message:
    """The message for an ALERT or DM outbox row (see module docstring)."""
    fallback, headline = _headline(payload, item)
    blocks: list[Block] = [
        SectionBlock(block_id="alert", text=MarkdownTextObject(text=fit(headline, _SECTION_CHARS)))
    ]
    if item is not None and not isinstance(payload, DeliveryFailed):
        # The live card, buttons included: the relay edits this copy whenever the item
        # changes, so once the item is decided its buttons disappear here too.
        card = item_card(item, policy=policy, now=now)
        room = 50 - len(blocks)
        blocks.extend(card.blocks[:room])
    else:
        label = _name(payload).replace("_", " ")
        blocks.append(
            ContextBlock(
                block_id="alert_ctx",
                elements=[MarkdownTextObject(text=f"recon-bot · {label}")],
            )
        )
    return Message(text=fallback, blocks=blocks)


def _shown_in(digest: str | None, lead: str) -> str:
    """The sentence naming the digest whose post started an item's clock ("" for none)."""
    if digest is None:
        return ""
    return f" {lead} `{user_text(digest, 60, one_line=True)}` (its SLA counts from that post)."
