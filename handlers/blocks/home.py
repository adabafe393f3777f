"""The App Home tab: the desk's counts and the reviewer's short lists, one page at a time.

Whatever the dashboard holds, the view renders at most :data:`HOME_MAX_PER_LIST` items
per list, so it stays under Slack's 100 blocks per view.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from domain.dashboard import Dashboard, PriorityBand
from domain.items import Item
from domain.policy import Policy
from handlers.blocks.buttons import ROW_ACTIONS, item_buttons, item_id_of, nav_button
from handlers.blocks.items import BAND_EMOJI, timezone_of
from handlers.blocks.ledger import ledger_block
from handlers.blocks.limits import CONTEXT_TEXT_CHARS, VIEW_MAX_BLOCKS
from handlers.blocks.mrkdwn import escape, fit, mention, slack_date
from handlers.blocks.rows import row_text
from handlers.ids import ItemAction, NavAction

#: Blocks the view spends outside its rows (header, counts, refresh, list headers, nav...).
_FIXED_BLOCKS = 16
#: Each row is a section plus its buttons; up to three lists share the view (the third,
#: what sits in the viewer's escalation tiers from other teams, only for its members).
MAX_PER_LIST = (VIEW_MAX_BLOCKS - _FIXED_BLOCKS) // (3 * 2)
#: The most items of each list one page shows (a larger ``Dashboard.page_size`` is capped).
HOME_MAX_PER_LIST = min(20, MAX_PER_LIST)
#: The page size the dashboard query should use.
HOME_PAGE_SIZE = 5


def _count(label: str, value: int) -> MarkdownTextObject:
    return MarkdownTextObject(text=f"*{label}*\n{value:,}")


#: What a read-only auditor's rows offer: a look, no decision.
_READ_ONLY_ACTIONS = (ItemAction.DETAILS,)


def _rows(
    surface: str,
    items: Sequence[Item],
    per_page: int,
    policy: Policy,
    now: datetime,
    actions: Sequence[ItemAction] = ROW_ACTIONS,
) -> list[Block]:
    blocks: list[Block] = []
    for item in items[:per_page]:
        prefix = f"home.{surface}.{item_id_of(item)}.v{item.version}"
        blocks.append(
            SectionBlock(
                block_id=f"{prefix}.row",
                text=MarkdownTextObject(text=row_text(item, policy, now)),
            )
        )
        buttons = item_buttons(item, actions)
        if buttons:
            blocks.append(ActionsBlock(block_id=f"{prefix}.actions", elements=buttons))
    return blocks


def _empty(block_id: str, text: str) -> ContextBlock:
    return ContextBlock(block_id=block_id, elements=[MarkdownTextObject(text=text)])


#: Most absences the Home names (the rest are counted).
HOME_MAX_AWAY = 8


def away_block(dashboard: Dashboard, *, tz: ZoneInfo) -> ContextBlock:
    """Who of the user's teams is away until when, and to whom their work goes."""
    shown = dashboard.away[:HOME_MAX_AWAY]
    lines = [
        f"{mention(d.user)} until {slack_date(d.until, tz)} → {mention(d.delegate)}" for d in shown
    ]
    more = len(dashboard.away) - len(shown)
    if more:
        lines.append(f"and {more:,} more")
    text = ":palm_tree: *Away:* " + " · ".join(lines)
    return ContextBlock(
        block_id="home.away",
        elements=[MarkdownTextObject(text=fit(text, CONTEXT_TEXT_CHARS))],
    )


def home_view(dashboard: Dashboard, *, policy: Policy, now: datetime) -> View:
    """The Home tab for ``dashboard.user``.

    ``dashboard.page`` is a page index (0 is the first page); ``my_items`` and
    ``unclaimed`` hold that page's items. Pagination buttons carry the page index to open
    as their value (``handlers.forms.parse_home_page``); Refresh carries the current one.

    Args:
        dashboard: Counts and the page of items to show.
        policy: The current policy.
        now: The time to compute overdue status against.
    """
    tz = timezone_of(policy)
    page = max(0, dashboard.page)
    per_page = max(1, min(dashboard.page_size, HOME_MAX_PER_LIST))
    bands = dashboard.pending_by_band

    blocks: list[Block] = [
        HeaderBlock(block_id="home.header", text=PlainTextObject(text="Reconciliation desk")),
        ContextBlock(
            block_id="home.refreshed",
            elements=[
                MarkdownTextObject(
                    text=fit(
                        f"Refreshed {slack_date(dashboard.refreshed_at, tz)} · teams: "
                        + (escape(", ".join(dashboard.teams)) or "none"),
                        CONTEXT_TEXT_CHARS,
                    )
                )
            ],
        ),
        SectionBlock(
            block_id="home.counts",
            fields=[
                _count(f"{BAND_EMOJI[band]} Pending, {band.value}", bands.get(band, 0))
                for band in (PriorityBand.HIGH, PriorityBand.MEDIUM, PriorityBand.LOW)
            ]
            + [
                _count(":alarm_clock: Overdue", dashboard.overdue),
                _count(
                    ":busts_in_silhouette: Awaiting second approval",
                    dashboard.awaiting_second_approval,
                ),
                _count(":warning: Open disputes", dashboard.open_disputes),
                _count(":rotating_light: Dead-lettered", dashboard.dead_lettered),
                _count(":bank: Bank statements awaiting review", dashboard.statements_awaiting),
                _count(":link: Matches awaiting review", dashboard.matches_awaiting),
            ],
        ),
    ]
    if dashboard.away:
        blocks.append(away_block(dashboard, tz=tz))
    if dashboard.ledger is not None:  # compliance officers only
        blocks.append(ledger_block(dashboard.ledger, tz=tz, now=now))
    blocks += [
        ActionsBlock(
            block_id="home.refresh",
            elements=[
                ButtonElement(
                    text=PlainTextObject(text="Refresh"),
                    action_id=NavAction.HOME_REFRESH.value,
                    value=str(page),
                )
            ],
        ),
        DividerBlock(block_id="home.divider.mine"),
        HeaderBlock(
            block_id="home.mine.header",
            text=PlainTextObject(text=f"My items · {dashboard.my_items_total:,}"),
        ),
    ]
    # An auditor decides nothing: their rows offer Details only (a decision button replayed
    # from someone else's Home is refused by the use cases all the same).
    actions = _READ_ONLY_ACTIONS if dashboard.read_only else ROW_ACTIONS
    mine = _rows("mine", dashboard.my_items, per_page, policy, now, actions)
    blocks.extend(mine or [_empty("home.mine.empty", "Nothing is assigned to you.")])

    # An item in both lists would repeat its action ids, which Slack refuses.
    mine_ids = {item_id_of(item) for item in dashboard.my_items[:per_page]}
    unclaimed = [
        item for item in dashboard.unclaimed[: per_page * 2] if item_id_of(item) not in mine_ids
    ]
    blocks.append(DividerBlock(block_id="home.divider.unclaimed"))
    blocks.append(
        HeaderBlock(
            block_id="home.unclaimed.header",
            text=PlainTextObject(text=f"Unclaimed in my teams · {dashboard.unclaimed_total:,}"),
        )
    )
    rows = _rows("unclaimed", unclaimed, per_page, policy, now, actions)
    blocks.extend(rows or [_empty("home.unclaimed.empty", "Nothing unclaimed in your teams.")])

    if dashboard.in_my_tiers_total:
        # Other teams' items in the viewer's escalation tier: theirs to act on there.
        shown = mine_ids | {item_id_of(item) for item in unclaimed[:per_page]}
        tiered = [item for item in dashboard.in_my_tiers if item_id_of(item) not in shown]
        blocks.append(DividerBlock(block_id="home.divider.tier"))
        blocks.append(
            HeaderBlock(
                block_id="home.tier.header",
                text=PlainTextObject(
                    text=f"In my escalation tiers · {dashboard.in_my_tiers_total:,}"
                ),
            )
        )
        rows = _rows("tier", tiered, per_page, policy, now, actions)
        blocks.extend(rows or [_empty("home.tier.empty", "Nothing on this page.")])

    pages = dashboard.pages
    blocks.append(DividerBlock(block_id="home.divider.nav"))
    blocks.append(_empty("home.page", f"Page {page + 1:,} of {pages:,}"))
    # Previous and Next share an action id, so each sits in its own block.
    if page > 0:
        target = str(min(page - 1, pages - 1))
        button = nav_button(NavAction.HOME_PAGE, label="Previous", value=target)
        blocks.append(ActionsBlock(block_id="home.previous", elements=[button]))
    if page + 1 < pages:
        button = nav_button(NavAction.HOME_PAGE, label="Next", value=str(page + 1))
        blocks.append(ActionsBlock(block_id="home.next", elements=[button]))
    assert len(blocks) <= VIEW_MAX_BLOCKS
    return View(type="home", blocks=blocks)
