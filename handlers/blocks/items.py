"""How one item looks: its channel card and its ``/recon show`` details. How its facts,
progress, dispute and outcome read (and the labels other renderers share) is in
:mod:`handlers.blocks.item_facts`; every name stays importable from here.

Block ids are ``<surface>.<item id>.v<version>.<part>``: unique within a message, and new
whenever the item changes (Slack: "if a message is updated, use a new block_id").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from domain.dispute_timeline import dispute_timeline
from domain.items import Item, ReviewState
from domain.policy import Policy
from domain.sla import sla_due_at
from handlers.blocks.buttons import CARD_ACTIONS, item_buttons, item_id_of
from handlers.blocks.history import history_line, timeline_line
from handlers.blocks.item_facts import (
    BAND_EMOJI,
    CATEGORY_LABELS,
    KIND_LABELS,
    OUTCOME_LABELS,
    SHORT_TEXT_CHARS,
    STATE_LABELS,
    aging_text,
    assignee_text,
    bullets,
    dispute_text,
    dual_control_progress,
    due_text,
    outcome_text,
    priority_text,
    risk_text,
    signal,
    state_text,
    timezone_of,
    write_off_progress,
)
from handlers.blocks.limits import (
    FIELD_TEXT_CHARS,
    HEADER_TEXT_CHARS,
    MESSAGE_MAX_BLOCKS,
    MESSAGE_TEXT_CHARS,
)
from handlers.blocks.message import Message
from handlers.blocks.mrkdwn import (
    clip,
    escape,
    fit,
    mention,
    money,
    one_line,
    plain_date,
    slack_date,
    user_text,
)
from handlers.blocks.sections import context, section

__all__ = [
    "BAND_EMOJI",
    "CATEGORY_LABELS",
    "HISTORY_ENTRIES",
    "KIND_LABELS",
    "OUTCOME_LABELS",
    "SHORT_TEXT_CHARS",
    "STATE_LABELS",
    "TIMELINE_ENTRIES",
    "bullets",
    "dual_control_progress",
    "due_text",
    "item_card",
    "item_details",
    "outcome_text",
    "signal",
    "timezone_of",
    "write_off_progress",
]

#: How many history entries ``/recon show`` lists (the newest ones).
HISTORY_ENTRIES = 10
#: How many dispute timeline entries ``/recon show`` lists (the newest ones).
TIMELINE_ENTRIES = 12


def _bid(surface: str, item: Item, part: str) -> str:
    return f"{surface}.{item_id_of(item)}.v{item.version}.{part}"


def _field(label: str, value: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=fit(f"*{label}*\n{value}", FIELD_TEXT_CHARS))


def _fact_blocks(surface: str, item: Item, policy: Policy, now: datetime) -> list[Block]:
    """The item's facts and its place in the workflow, as two field sections."""
    f = item.facts
    tz = timezone_of(policy)
    facts = [
        _field("Entity", user_text(f.entity, SHORT_TEXT_CHARS, one_line=True)),
        _field("Counterparty", user_text(f.counterparty, SHORT_TEXT_CHARS, one_line=True)),
        _field("Kind", KIND_LABELS[f.kind]),
        _field("Aging", aging_text(item, now)),
    ]
    measured = signal(item)
    if measured is not None:
        facts.append(_field(*measured))
    facts.append(_field("Risk tier", risk_text(f.risk_tier)))
    workflow = [
        _field("Priority", priority_text(item)),
        _field("SLA due", due_text(item, policy, now)),
        _field("Assignee", assignee_text(item, tz)),
        _field("State", state_text(item)),
    ]
    return [
        SectionBlock(block_id=_bid(surface, item, "facts"), fields=facts),
        SectionBlock(block_id=_bid(surface, item, "workflow"), fields=workflow),
    ]


def _header(surface: str, item: Item) -> HeaderBlock:
    text = f"{item.human_id} · {money(item.facts.amount, item.facts.currency)}"
    text += f" · {KIND_LABELS[item.kind]}"
    return HeaderBlock(
        block_id=_bid(surface, item, "header"),
        text=PlainTextObject(text=clip(text, HEADER_TEXT_CHARS)),
    )


def _footer(surface: str, item: Item) -> ContextBlock:
    f = item.facts
    parts = [f"Team {escape(item.team or 'unassigned')}"]
    parts.append(f"{escape(one_line(f.source))} `{escape(one_line(f.external_id))}`")
    if f.reference:
        parts.append(f"ref {escape(one_line(f.reference))}")
    if f.prepared_by:
        parts.append(f"prepared by {mention(f.prepared_by)}")
    parts.append(f"policy {escape(item.policy_version)}")
    parts.append(f"v{item.version}")
    return context(_bid(surface, item, "footer"), " · ".join(parts))


def _common_blocks(
    surface: str, item: Item, policy: Policy, now: datetime, *, full: bool
) -> list[Block]:
    """Header, facts, description, reasons, dual control, dispute and outcome."""
    tz = timezone_of(policy)
    blocks: list[Block] = [_header(surface, item), *_fact_blocks(surface, item, policy, now)]
    if item.facts.description:
        limit = 2500 if full else 600
        text = f"*Description*\n{user_text(item.facts.description, limit)}"
        blocks.append(section(_bid(surface, item, "description"), text))
    if item.reasons:
        reasons = [escape(one_line(r)) for r in item.reasons]
        blocks.append(
            section(_bid(surface, item, "reasons"), bullets("*Why it needs review*", reasons))
        )
    progress = dual_control_progress(item)
    if progress:
        blocks.append(section(_bid(surface, item, "approvals"), progress))
    dispute = dispute_text(item, policy, now, full=full)
    if dispute:
        blocks.append(section(_bid(surface, item, "dispute"), dispute))
    outcome = outcome_text(item, tz)
    if outcome:
        blocks.append(section(_bid(surface, item, "outcome"), outcome))
    return blocks


def _fallback(item: Item, policy: Policy) -> str:
    """One plain sentence for notifications and screen readers."""
    f = item.facts
    parts = [
        item.human_id,
        money(f.amount, f.currency),
        KIND_LABELS[f.kind].lower(),
        one_line(f.entity),
    ]
    if f.counterparty:
        parts.append(clip(one_line(f.counterparty), 80))
    text = f"{' · '.join(parts)}: {STATE_LABELS[item.state].lower()}"
    if item.state is ReviewState.POSTED and item.ledger_ref:
        text += f" (ledger ref {item.ledger_ref})"
    due = sla_due_at(item, policy)
    if due is not None:
        text += f", due {plain_date(due, timezone_of(policy))}"
    return escape(clip(text, MESSAGE_TEXT_CHARS // 2))


def item_card(item: Item, *, policy: Policy, now: datetime) -> Message:
    """The card an item gets in its team channel, re-rendered on every change.

    While the item is open the card carries the buttons its state allows (Approve,
    Reject, Escalate, Dispute, Claim or Release); after a decision it shows the outcome,
    who, when and the ledger reference, and a settled card has no buttons at all.

    Args:
        item: A stored item (it has an id).
        policy: The current policy (SLA ladder, display timezone).
        now: The time to compute aging and overdue status against.
    """
    blocks = _common_blocks("card", item, policy, now, full=False)
    buttons = item_buttons(item, CARD_ACTIONS)
    if buttons:
        blocks.append(ActionsBlock(block_id=_bid("card", item, "actions"), elements=buttons))
    blocks.append(_footer("card", item))
    assert len(blocks) <= MESSAGE_MAX_BLOCKS
    return Message(text=_fallback(item, policy), blocks=blocks)


def _approvals_text(item: Item, tz: ZoneInfo) -> str | None:
    if not item.approvals:
        return None
    lines = []
    for approval in item.approvals:
        line = f"{mention(approval.user)} {slack_date(approval.at, tz)}"
        if approval.note:
            line += f": {user_text(approval.note, 300, one_line=True)}"
        lines.append(line)
    title = f"*Approvals* ({len(item.approvals)} of {item.required_approvals} required)"
    return bullets(title, lines)


def item_details(
    item: Item, *, policy: Policy, now: datetime, history: Sequence[Mapping[str, Any]]
) -> Message:
    """Everything about one item, for ``/recon show ID`` (an ephemeral reply).

    Args:
        item: A stored item.
        policy: The current policy.
        now: The time to compute aging and overdue status against.
        history: Audit records of the item, oldest first, as dicts with ``event``,
            ``actor``, ``time`` (ISO 8601 or datetime) and optionally ``from``/``to``;
            the last :data:`HISTORY_ENTRIES` are shown.
    """
    tz = timezone_of(policy)
    blocks = _common_blocks("show", item, policy, now, full=True)
    approvals = _approvals_text(item, tz)
    if approvals and item.state not in (ReviewState.APPROVED, ReviewState.POSTED):
        blocks.append(section(_bid("show", item, "approval-list"), approvals))
    timeline = dispute_timeline(history, item_id=item_id_of(item), currency=item.facts.currency)
    if timeline:
        shown = timeline[-TIMELINE_ENTRIES:]
        title = "*Dispute timeline*"
        if len(timeline) > len(shown):
            title += f" (last {len(shown)} of {len(timeline):,})"
        lines = [f"`{entry.dispute}` {timeline_line(entry, tz)}" for entry in shown]
        blocks.append(section(_bid("show", item, "timeline"), bullets(title, lines)))
    if history:
        recent = list(history)[-HISTORY_ENTRIES:]
        title = "*History*"
        if len(history) > len(recent):
            title += f" (last {len(recent)} of {len(history):,})"
        lines = [history_line(entry, tz) for entry in recent]
        blocks.append(section(_bid("show", item, "history"), bullets(title, lines)))
    buttons = item_buttons(item, CARD_ACTIONS)
    if buttons:
        blocks.append(ActionsBlock(block_id=_bid("show", item, "actions"), elements=buttons))
    blocks.append(_footer("show", item))
    assert len(blocks) <= MESSAGE_MAX_BLOCKS
    return Message(text=_fallback(item, policy), blocks=blocks)
