"""One item as a compact entry of a list (queue pages, App Home, digest groups)."""

from __future__ import annotations

from datetime import datetime

from domain.dashboard import priority_band
from domain.items import Item
from domain.policy import Policy
from domain.sla import SETTLED
from handlers.blocks.items import BAND_EMOJI, KIND_LABELS, STATE_LABELS, due_text
from handlers.blocks.limits import SECTION_TEXT_CHARS
from handlers.blocks.mrkdwn import fit, mention, money, user_text


def row_text(item: Item, policy: Policy, now: datetime) -> str:
    """A compact two-line summary of an item for lists (queue pages, App Home)."""
    f = item.facts
    first = [
        f"*{item.human_id}*",
        money(f.amount, f.currency),
        KIND_LABELS[f.kind],
        user_text(f.entity, 80, one_line=True),
    ]
    if f.counterparty:
        first.append(user_text(f.counterparty, 80, one_line=True))
    band = priority_band(item.priority)
    second = [
        f"{BAND_EMOJI[band]} {band.value} {item.priority}",
        f"due {due_text(item, policy, now)}",
        mention(item.assignee) if item.assignee else "unclaimed",
        STATE_LABELS[item.state],
    ]
    if item.required_approvals > 1 and item.state not in SETTLED:
        second.append(f"{len(item.approvals)}/{item.required_approvals} approvals")
    return fit(" · ".join(first) + "\n" + " · ".join(second), SECTION_TEXT_CHARS)
