"""How one item looks: its channel card, its ``/recon show`` details, and its list row.

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

from domain.dashboard import PriorityBand, priority_band
from domain.dispute_timeline import dispute_timeline
from domain.items import (
    DisputeCategory,
    DisputeOutcome,
    DisputeState,
    Item,
    ItemKind,
    ReviewState,
    RiskTier,
    dispute_id,
)
from domain.policy import LoadedPolicy, Policy
from domain.routing import write_off_approvers
from domain.sla import SETTLED, is_paused, sla_due_at
from handlers.blocks.buttons import CARD_ACTIONS, item_buttons, item_id_of
from handlers.blocks.history import history_line, timeline_line
from handlers.blocks.limits import (
    CONTEXT_TEXT_CHARS,
    FIELD_TEXT_CHARS,
    HEADER_TEXT_CHARS,
    MESSAGE_MAX_BLOCKS,
    MESSAGE_TEXT_CHARS,
    SECTION_TEXT_CHARS,
)
from handlers.blocks.message import Message
from handlers.blocks.mrkdwn import (
    ELLIPSIS,
    clip,
    duration,
    escape,
    fit,
    mention,
    money,
    one_line,
    percent,
    plain_date,
    plural,
    slack_date,
    user_text,
)

STATE_LABELS: dict[ReviewState, str] = {
    ReviewState.PENDING: "Pending review",
    ReviewState.ASSIGNED: "Claimed",
    ReviewState.AWAITING_SECOND_APPROVAL: "Awaiting second approval",
    ReviewState.APPROVED: "Approved",
    ReviewState.REJECTED: "Rejected",
    ReviewState.ESCALATED: "Escalated",
    ReviewState.DISPUTED: "Disputed",
    ReviewState.DEAD_LETTER: "Dead-lettered",
    ReviewState.POSTED: "Posted",
    ReviewState.MATCHED: "Matched",
}

KIND_LABELS: dict[ItemKind, str] = {
    ItemKind.UNMATCHED: "Unmatched line",
    ItemKind.MATCH: "Proposed match",
    ItemKind.BATCH: "Batch sign-off",
    ItemKind.STATEMENT: "Statement review",
}

CATEGORY_LABELS: dict[DisputeCategory, str] = {
    DisputeCategory.AMOUNT_MISMATCH: "Amount mismatch",
    DisputeCategory.MISSING_COUNTERPARTY_RECORD: "Missing counterparty record",
    DisputeCategory.DUPLICATE: "Duplicate",
    DisputeCategory.FX_DIFFERENCE: "FX difference",
    DisputeCategory.TIMING: "Timing",
    DisputeCategory.SUSPECTED_FRAUD: "Suspected fraud",
    DisputeCategory.OTHER: "Other",
}

OUTCOME_LABELS: dict[DisputeOutcome, str] = {
    DisputeOutcome.MATCHED: "Matched",
    DisputeOutcome.ADJUSTED: "Adjusted",
    DisputeOutcome.WRITTEN_OFF: "Written off",
    DisputeOutcome.WITHDRAWN: "Withdrawn",
}

BAND_EMOJI: dict[PriorityBand, str] = {
    PriorityBand.HIGH: ":red_circle:",
    PriorityBand.MEDIUM: ":large_orange_circle:",
    PriorityBand.LOW: ":white_circle:",
}

#: How many history entries ``/recon show`` lists (the newest ones).
HISTORY_ENTRIES = 10
#: How many dispute timeline entries ``/recon show`` lists (the newest ones).
TIMELINE_ENTRIES = 12
#: Short user-supplied values (counterparty, entity, contact) in fields and rows.
SHORT_TEXT_CHARS = 200
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


def timezone_of(policy: Policy) -> ZoneInfo:
    """The timezone fallbacks are shown in: the policy's digest timezone."""
    return ZoneInfo(policy.digest.timezone)


def _ordinal(n: int) -> str:
    return _ORDINALS.get(n, f"{n}th")


def _bid(surface: str, item: Item, part: str) -> str:
    return f"{surface}.{item_id_of(item)}.v{item.version}.{part}"


def _field(label: str, value: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=fit(f"*{label}*\n{value}", FIELD_TEXT_CHARS))


def _section(block_id: str, text: str) -> SectionBlock:
    return SectionBlock(
        block_id=block_id, text=MarkdownTextObject(text=fit(text, SECTION_TEXT_CHARS))
    )


def _context(block_id: str, text: str) -> ContextBlock:
    return ContextBlock(
        block_id=block_id, elements=[MarkdownTextObject(text=fit(text, CONTEXT_TEXT_CHARS))]
    )


def bullets(title: str, lines: Sequence[str], *, limit: int = SECTION_TEXT_CHARS) -> str:
    """``title`` then one ``• line`` per entry, as many as fit; ``…and N more`` for the rest.

    Lines are mrkdwn already (escaped); each is clipped so one long line cannot crowd the
    others out.
    """
    out = title
    for index, line in enumerate(lines):
        rest = len(lines) - index
        more = f"\n{ELLIPSIS}and {rest - 1:,} more" if rest > 1 else ""
        candidate = f"\n• {fit(line, 1000)}"
        if len(out) + len(candidate) + len(more) > limit:
            return out + f"\n{ELLIPSIS}and {rest:,} more"
        out += candidate
    return out


# --- facts ---------------------------------------------------------------------------------


def signal(item: Item) -> tuple[str, str] | None:
    """The number that made the engine unsure: (label, value) for score, confidence or variance."""
    f = item.facts
    if f.variance is not None:
        text = f"{money(f.variance, f.currency)}"
        if f.matched_value:
            text += f" on {money(f.matched_value, f.currency)} matched"
            text += f" ({percent(abs(f.variance / f.matched_value))})"
        if f.record_count is not None:
            text += f" · {plural(f.record_count, 'record')}"
        return "Variance", text
    if f.score is not None and f.confidence is not None:
        return "Score", f"{f.score}/100 · confidence {percent(f.confidence)}"
    if f.score is not None:
        return "Score", f"{f.score}/100"
    if f.confidence is not None:
        return "Confidence", percent(f.confidence)
    return None


def _risk(tier: RiskTier | None) -> str:
    if tier is None:
        return "—"
    flag = " :warning:" if tier in (RiskTier.HIGH, RiskTier.CRITICAL) else ""
    return f"{tier.value.capitalize()}{flag}"


def _aging(item: Item, now: datetime) -> str:
    parts = []
    if item.facts.aging_days is not None:
        parts.append(plural(item.facts.aging_days, "day"))
    if item.sla_waits:
        parts.append("SLA starts when its digest is posted")
    elif item.state not in SETTLED:
        parts.append(f"in review {duration(now - item.sla_started_at)}")
    return " · ".join(parts) or "—"


def _priority(item: Item) -> str:
    band = priority_band(item.priority)
    return f"{BAND_EMOJI[band]} {item.priority} ({band.value})"


def due_text(item: Item, policy: Policy, now: datetime) -> str:
    """When a decision is due, flagged when overdue; why there is none otherwise."""
    tz = timezone_of(policy)
    due = sla_due_at(item, policy)
    if due is None:
        if item.state in SETTLED:
            return "—"
        return "Paused (awaiting counterparty)"
    if now >= due:
        return f":alarm_clock: *Overdue* (due {slack_date(due, tz)})"
    return f"{slack_date(due, tz)} (in {duration(due - now)})"


def _assignee(item: Item, tz: ZoneInfo) -> str:
    if item.assignee is None:
        return "Unclaimed"
    text = mention(item.assignee)
    if item.state is ReviewState.ASSIGNED and item.claim_expires_at is not None:
        text += f" (claim until {slack_date(item.claim_expires_at, tz)})"
    return text


def _state(item: Item) -> str:
    text = STATE_LABELS[item.state]
    if item.state in (ReviewState.ESCALATED, ReviewState.DEAD_LETTER) and item.ladder_level:
        text += f" (level {item.ladder_level})"
    return text


def _fact_blocks(surface: str, item: Item, policy: Policy, now: datetime) -> list[Block]:
    """The item's facts and its place in the workflow, as two field sections."""
    f = item.facts
    tz = timezone_of(policy)
    facts = [
        _field("Entity", user_text(f.entity, SHORT_TEXT_CHARS, one_line=True)),
        _field("Counterparty", user_text(f.counterparty, SHORT_TEXT_CHARS, one_line=True)),
        _field("Kind", KIND_LABELS[f.kind]),
        _field("Aging", _aging(item, now)),
    ]
    measured = signal(item)
    if measured is not None:
        facts.append(_field(*measured))
    facts.append(_field("Risk tier", _risk(f.risk_tier)))
    workflow = [
        _field("Priority", _priority(item)),
        _field("SLA due", due_text(item, policy, now)),
        _field("Assignee", _assignee(item, tz)),
        _field("State", _state(item)),
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


def dual_control_progress(item: Item) -> str | None:
    """Dual-control progress, e.g. ``1 of 2 approvals: <@U0ALICE> — waiting for a second
    approver``; None when the item needs one approval or is no longer waiting for any."""
    required = item.required_approvals
    if required < 2 or item.state in SETTLED or item.state is ReviewState.DISPUTED:
        return None
    given = len(item.approvals)
    if given == 0:
        return (
            f":busts_in_silhouette: 0 of {required} approvals — dual control: "
            f"{required} different approvers, none of them the preparer"
        )
    who = ", ".join(mention(a.user) for a in item.approvals)
    return (
        f":busts_in_silhouette: {given} of {required} approvals: {who} — "
        f"waiting for a {_ordinal(given + 1)} approver"
    )


def write_off_progress(item: Item, policy: Policy) -> str | None:
    """A pending write-off's sign-offs, e.g. ``1 of 2 sign-offs: <@U0ALICE>, waiting for a
    second``; None when the dispute has no write-off awaiting sign-off."""
    d = item.dispute
    if d is None or d.state is DisputeState.RESOLVED or not d.write_off_approvals:
        return None
    # The number the last sign-off's decision worked out (at the dated FX rate); for a
    # dispute stored before it was kept, the rule on the policy's static rates.
    required = d.write_off_required
    if required is None:
        loaded = LoadedPolicy(policy=policy, version=item.policy_version)
        required = write_off_approvers(item, loaded)
    given = len(d.write_off_approvals)
    who = ", ".join(mention(a.user) for a in d.write_off_approvals)
    amount = money(d.resolution_amount, item.facts.currency) if d.resolution_amount else ""
    what = f"Write-off{' of ' + amount if amount else ''}"
    return (
        f":busts_in_silhouette: {what}: {given} of {required} sign-offs: {who}, "
        f"waiting for a {_ordinal(given + 1)} (never the preparer)"
    )


def _dispute_text(item: Item, policy: Policy, now: datetime, *, full: bool) -> str | None:
    d = item.dispute
    if d is None:
        return None
    tz = timezone_of(policy)
    state = d.state.label
    if d.state is DisputeState.RESOLVED and d.outcome is not None:
        state += f" ({d.outcome.label})"
    ident = dispute_id(item_id_of(item), d.number)
    lines = [
        f"*Dispute {ident}* · {CATEGORY_LABELS[d.category]} · {state}",
        f"_Description:_ {user_text(d.description, 1500 if full else 500)}",
    ]
    opened = f"Opened by {mention(d.opened_by)} {slack_date(d.opened_at, tz)}"
    if d.state is not DisputeState.RESOLVED:
        days = max(0, (now - d.opened_at).days)
        opened += f" · {plural(days, 'day')} open"
        if is_paused(item):
            opened += " · :double_vertical_bar: SLA clock paused (awaiting counterparty)"
        else:
            opened += " · SLA clock running"
    lines.append(opened)
    extras = []
    if d.counterparty_contact:
        contact = user_text(d.counterparty_contact, SHORT_TEXT_CHARS, one_line=True)
        extras.append(f"Contact: {contact}")
    if d.expected_resolution is not None:
        late = (
            " :alarm_clock: passed"
            if d.state is not DisputeState.RESOLVED
            and d.expected_resolution < now.astimezone(tz).date()
            else ""
        )
        extras.append(f"Expected resolution: {d.expected_resolution.isoformat()}{late}")
    if d.proposed_adjustment is not None:
        extras.append(f"Proposed adjustment: {money(d.proposed_adjustment, item.facts.currency)}")
    if extras:
        lines.append(" · ".join(extras))
    if d.resolved_by is not None and d.resolved_at is not None:
        resolved = f"Resolved by {mention(d.resolved_by)} {slack_date(d.resolved_at, tz)}"
        if d.resolution_amount is not None:
            resolved += f" · {money(d.resolution_amount, item.facts.currency)}"
        lines.append(resolved)
    progress = write_off_progress(item, policy)
    if progress:
        lines.append(progress)
    text = "\n".join(lines)
    if d.evidence_links:
        shown = d.evidence_links if full else d.evidence_links[:3]
        text = bullets(text + "\n_Evidence:_", [escape(url) for url in shown], limit=2800)
        if len(shown) < len(d.evidence_links):
            text += f"\n{ELLIPSIS}and {len(d.evidence_links) - len(shown)} more link(s)"
    return text


def outcome_text(item: Item, tz: ZoneInfo) -> str | None:
    """What happened to the item, by whom and when; None while it simply waits."""
    when = slack_date(item.decided_at, tz) if item.decided_at else ""
    who = mention(item.decided_by)
    note = f"\n_Note:_ {user_text(item.decision_note, 1500)}" if item.decision_note else ""
    approvers = ", ".join(mention(a.user) for a in item.approvals)
    state = item.state
    if state is ReviewState.POSTED:
        ref = escape(item.ledger_ref or "—")
        return (
            f":white_check_mark: *Approved and posted* · ledger ref `{ref}`\n"
            f"Approved by {approvers or who} {when}{note}"
        )
    if state is ReviewState.APPROVED:
        return (
            f":white_check_mark: *Approved* by {approvers or who} {when}\n"
            f"Waiting for its journal entry to post{note}"
        )
    if state is ReviewState.REJECTED:
        reason = f"\n_Reason:_ {user_text(item.decision_note, 1500)}" if item.decision_note else ""
        return f":no_entry: *Rejected* by {who} {when}{reason}"
    if state is ReviewState.MATCHED:
        how = user_text(item.decision_note or "matched by a later run", 300)
        return f":link: *Closed* · {how} {when}; nothing to post for this line"
    if state is ReviewState.ESCALATED:
        by = "automatically (SLA)" if item.decided_by in (None, "system") else f"by {who}"
        at = item.decided_at or item.updated_at
        reason = f"\n_Reason:_ {user_text(item.decision_note, 1500)}" if item.decision_note else ""
        return f":arrow_double_up: *Escalated* {by} to the team leads {slack_date(at, tz)}{reason}"
    if state is ReviewState.DEAD_LETTER:
        return (
            ":rotating_light: *Dead-lettered* to the compliance queue "
            f"{slack_date(item.updated_at, tz)}; automatic posting is halted for this item"
        )
    if state is ReviewState.DISPUTED and item.dispute is not None:
        d = item.dispute
        return (
            f":warning: *Disputed* by {mention(d.opened_by)} {slack_date(d.opened_at, tz)}"
            f" · {CATEGORY_LABELS[d.category]}"
        )
    return None


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
    return _context(_bid(surface, item, "footer"), " · ".join(parts))


def _common_blocks(
    surface: str, item: Item, policy: Policy, now: datetime, *, full: bool
) -> list[Block]:
    """Header, facts, description, reasons, dual control, dispute and outcome."""
    tz = timezone_of(policy)
    blocks: list[Block] = [_header(surface, item), *_fact_blocks(surface, item, policy, now)]
    if item.facts.description:
        limit = 2500 if full else 600
        text = f"*Description*\n{user_text(item.facts.description, limit)}"
        blocks.append(_section(_bid(surface, item, "description"), text))
    if item.reasons:
        reasons = [escape(one_line(r)) for r in item.reasons]
        blocks.append(
            _section(_bid(surface, item, "reasons"), bullets("*Why it needs review*", reasons))
        )
    progress = dual_control_progress(item)
    if progress:
        blocks.append(_section(_bid(surface, item, "approvals"), progress))
    dispute = _dispute_text(item, policy, now, full=full)
    if dispute:
        blocks.append(_section(_bid(surface, item, "dispute"), dispute))
    outcome = outcome_text(item, tz)
    if outcome:
        blocks.append(_section(_bid(surface, item, "outcome"), outcome))
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
        blocks.append(_section(_bid("show", item, "approval-list"), approvals))
    timeline = dispute_timeline(history, item_id=item_id_of(item), currency=item.facts.currency)
    if timeline:
        shown = timeline[-TIMELINE_ENTRIES:]
        title = "*Dispute timeline*"
        if len(timeline) > len(shown):
            title += f" (last {len(shown)} of {len(timeline):,})"
        lines = [f"`{entry.dispute}` {timeline_line(entry, tz)}" for entry in shown]
        blocks.append(_section(_bid("show", item, "timeline"), bullets(title, lines)))
    if history:
        recent = list(history)[-HISTORY_ENTRIES:]
        title = "*History*"
        if len(history) > len(recent):
            title += f" (last {len(recent)} of {len(history):,})"
        lines = [history_line(entry, tz) for entry in recent]
        blocks.append(_section(_bid("show", item, "history"), bullets(title, lines)))
    buttons = item_buttons(item, CARD_ACTIONS)
    if buttons:
        blocks.append(ActionsBlock(block_id=_bid("show", item, "actions"), elements=buttons))
    blocks.append(_footer("show", item))
    assert len(blocks) <= MESSAGE_MAX_BLOCKS
    return Message(text=_fallback(item, policy), blocks=blocks)
