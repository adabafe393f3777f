"""Digest messages: the window's summary, and one thread reply per cluster.

Cluster replies carry **Approve all**, **Reject all** and **Review individually**; the
group of items that need individual review (dual control, material) lists each item with
its own buttons instead. Once a group is decided its reply is edited to say so, with no
buttons left.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from domain.items import Item
from domain.policy import Policy
from domain.templates import DigestCluster, DigestClusterDecided, DigestSummary
from handlers.blocks.buttons import item_buttons
from handlers.blocks.items import timezone_of
from handlers.blocks.message import Message
from handlers.blocks.mrkdwn import fit, mention, plain_date, user_text
from handlers.blocks.rows import row_text
from handlers.ids import DigestAction, ItemAction

_SECTION = 3000
_ROW_ACTIONS = (ItemAction.APPROVE, ItemAction.REJECT, ItemAction.CLAIM, ItemAction.DETAILS)
_MAX_BLOCKS = 50


def _cluster_title(key: str) -> str:
    if key.startswith("("):
        return "Needs individual review (dual control or material)"
    counterparty, currency, bucket, kind = [*key.split("|"), "", "", ""][:4]
    parts = [user_text(counterparty, 80, one_line=True), currency, kind]
    if bucket and bucket != "-":
        parts.append(f"variance {bucket}")
    return " · ".join(p for p in parts if p)


def digest_summary(payload: DigestSummary, *, policy: Policy, now: datetime) -> Message:
    """The parent message of a team's digest window."""
    team = user_text(payload.team, 80, one_line=True)
    count = payload.count
    total_text = ", ".join(f"{amount} {cur}" for cur, amount in payload.totals) or "-"
    tz = timezone_of(policy)
    oldest = payload.oldest_at
    oldest_text = plain_date(oldest, tz) if oldest else "-"
    top = "\n".join(
        f"• {_cluster_title(group.key)}: {group.size} item(s)" for group in payload.groups
    )
    more = payload.group_count - len(payload.groups)
    if more > 0:
        top += f"\n• …and {more} more group(s)"
    blocks: list[Block] = [
        HeaderBlock(
            block_id="digest.header", text=PlainTextObject(text=fit(f"Digest for {team}", 150))
        ),
        SectionBlock(
            block_id="digest.summary",
            text=MarkdownTextObject(
                text=fit(
                    f"*{count} item(s)* below every immediate-review threshold.\n"
                    f"*Totals:* {total_text}\n*Oldest:* {oldest_text}",
                    _SECTION,
                )
            ),
        ),
    ]
    if top:
        blocks.append(
            SectionBlock(
                block_id="digest.top",
                text=MarkdownTextObject(text=fit(f"*Top groups*\n{top}", _SECTION)),
            )
        )
    blocks.append(
        ContextBlock(
            block_id="digest.ctx",
            elements=[MarkdownTextObject(text="Each group is in the thread, with its buttons.")],
        )
    )
    return Message(text=f"Digest for {team}: {count} item(s) ({total_text})", blocks=blocks)


def digest_cluster(
    payload: DigestCluster | DigestClusterDecided,
    *,
    items: Sequence[Item],
    policy: Policy,
    now: datetime,
) -> Message:
    """One cluster reply in the digest thread (or its decided state)."""
    cluster_id = payload.cluster_id
    size = payload.size
    title = _cluster_title(payload.key)
    blocks: list[Block] = [
        SectionBlock(
            block_id=f"cluster.{cluster_id}.title",
            text=MarkdownTextObject(text=fit(f"*{title}* — {size} item(s)", _SECTION)),
        )
    ]
    if isinstance(payload, DigestClusterDecided):
        verdict = payload.verdict.value
        by = mention(payload.by) if payload.by else "someone"
        blocks.append(
            SectionBlock(
                block_id=f"cluster.{cluster_id}.verdict",
                text=MarkdownTextObject(text=f":white_check_mark: All {size} {verdict} by {by}."),
            )
        )
        return Message(text=f"{title}: all {size} {verdict}", blocks=blocks)
    apart = payload.apart
    room = _MAX_BLOCKS - len(blocks) - 2
    for item in items:
        if room < 2:
            break
        blocks.append(
            SectionBlock(
                block_id=f"cluster.{cluster_id}.{item.id}.v{item.version}",
                text=MarkdownTextObject(text=fit(row_text(item, policy, now), _SECTION)),
            )
        )
        room -= 1
        if apart:
            buttons = item_buttons(item, _ROW_ACTIONS)
            if buttons:
                blocks.append(
                    ActionsBlock(
                        block_id=f"cluster.{cluster_id}.{item.id}.v{item.version}.act",
                        elements=buttons,
                    )
                )
                room -= 1
    if size > len(items):
        blocks.append(
            ContextBlock(
                block_id=f"cluster.{cluster_id}.more",
                elements=[MarkdownTextObject(text=f"…and {size - len(items)} more in this group")],
            )
        )
    if not apart:
        value = str(cluster_id)
        blocks.append(
            ActionsBlock(
                block_id=f"cluster.{cluster_id}.bulk",
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text="Approve all"),
                        action_id=DigestAction.APPROVE_ALL.value,
                        value=value,
                        style="primary",
                        confirm=ConfirmObject(
                            title="Approve the group?",
                            text=f"Approve and post all {size} item(s) of this group?",
                            confirm="Approve all",
                            deny="Cancel",
                        ),
                    ),
                    ButtonElement(
                        text=PlainTextObject(text="Reject all"),
                        action_id=DigestAction.REJECT_ALL.value,
                        value=value,
                        style="danger",
                    ),
                    ButtonElement(
                        text=PlainTextObject(text="Review individually"),
                        action_id=DigestAction.REVIEW.value,
                        value=value,
                    ),
                ],
            )
        )
    return Message(text=f"{title}: {size} item(s)", blocks=blocks)
