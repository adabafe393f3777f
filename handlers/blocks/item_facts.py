"""How an item reads wherever it is shown (its card, its details, its list row, its
forms): the labels of states, kinds and dispute categories, the number that made the
engine unsure, its risk, aging, priority and due time, who holds it, the progress of
its approvals and write-off sign-offs, its dispute and its outcome."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.dashboard import PriorityBand, priority_band
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
from handlers.blocks.buttons import item_id_of
from handlers.blocks.limits import SECTION_TEXT_CHARS
from handlers.blocks.mrkdwn import (
    ELLIPSIS,
    duration,
    escape,
    fit,
    mention,
    money,
    percent,
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

#: Short user-supplied values (counterparty, entity, contact) in fields and rows.
SHORT_TEXT_CHARS = 200
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


def timezone_of(policy: Policy) -> ZoneInfo:
    """The timezone fallbacks are shown in: the policy's digest timezone."""
    return ZoneInfo(policy.digest.timezone)


def _ordinal(n: int) -> str:
    return _ORDINALS.get(n, f"{n}th")


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


def risk_text(tier: RiskTier | None) -> str:
    if tier is None:
        return "—"
    flag = " :warning:" if tier in (RiskTier.HIGH, RiskTier.CRITICAL) else ""
    return f"{tier.value.capitalize()}{flag}"


def aging_text(item: Item, now: datetime) -> str:
    parts = []
    if item.facts.aging_days is not None:
        parts.append(plural(item.facts.aging_days, "day"))
    if item.sla_waits:
        parts.append("SLA starts when its digest is posted")
    elif item.state not in SETTLED:
        parts.append(f"in review {duration(now - item.sla_started_at)}")
    return " · ".join(parts) or "—"


def priority_text(item: Item) -> str:
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


def assignee_text(item: Item, tz: ZoneInfo) -> str:
    if item.assignee is None:
        return "Unclaimed"
    text = mention(item.assignee)
    if item.state is ReviewState.ASSIGNED and item.claim_expires_at is not None:
        text += f" (claim until {slack_date(item.claim_expires_at, tz)})"
    return text


def state_text(item: Item) -> str:
    text = STATE_LABELS[item.state]
    if item.state in (ReviewState.ESCALATED, ReviewState.DEAD_LETTER) and item.ladder_level:
        text += f" (level {item.ladder_level})"
    return text


# --- progress, dispute and outcome ---------------------------------------------------------


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


def dispute_text(item: Item, policy: Policy, now: datetime, *, full: bool) -> str | None:
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
