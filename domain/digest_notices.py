"""A team's digest in Slack: the summary of its window and each group's thread reply."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from domain.notice import Notification
from domain.templates import (
    DigestCluster,
    DigestClusterDecided,
    DigestGroup,
    DigestSummary,
    NoticeKind,
    Verdict,
)

#: How many groups a digest summary lists by name (the rest are counted).
SUMMARY_GROUPS = 5


def digest_key(team: str, window: str) -> str:
    """Dedupe key of a team's digest summary for a window (its groups reply in its thread)."""
    return f"digest:{team}:{window}"


def digest_group_key(team: str, window: str, cluster_id: int) -> str:
    """Dedupe key of one group's reply in a digest thread (edited once it is decided)."""
    return f"{digest_key(team, window)}:c{cluster_id}"


def digest_summary(
    *,
    channel: str,
    team: str,
    window: str,
    count: int,
    totals: Mapping[str, Decimal],
    oldest_at: datetime | None,
    groups: Sequence[DigestGroup],
) -> Notification:
    """The parent message of a team's digest window.

    Args:
        channel: the team's channel.
        team: the team's name.
        window: the window's key (see ``scheduler.jobs.window_key``).
        count: items in the digest.
        totals: total amount per currency (listed in currency order, exact).
        oldest_at: when the oldest item arrived.
        groups: every group of the window (the first :data:`SUMMARY_GROUPS` are named).
    """
    return Notification(
        kind=NoticeKind.ALERT,
        target=channel,
        dedupe_key=digest_key(team, window),
        payload=DigestSummary(
            team=team,
            window=window,
            count=count,
            totals=tuple((currency, str(total)) for currency, total in sorted(totals.items())),
            oldest_at=oldest_at,
            groups=tuple(groups[:SUMMARY_GROUPS]),
            group_count=len(groups),
        ),
    )


def digest_cluster(
    *,
    channel: str,
    team: str,
    window: str,
    cluster_id: int,
    key: str,
    apart: bool,
    item_ids: Sequence[int],
    size: int,
) -> Notification:
    """One group's reply, in the thread of its window's summary.

    Args:
        channel: the team's channel.
        team: the team's name.
        window: the window's key.
        cluster_id: the stored group's id (its buttons carry it).
        key: the group's cluster key.
        apart: the group of items that need individual review.
        item_ids: the items the reply lists (the caller caps them).
        size: how many items the group has.
    """
    return Notification(
        kind=NoticeKind.ALERT,
        target=channel,
        dedupe_key=digest_group_key(team, window, cluster_id),
        payload=DigestCluster(
            cluster_id=cluster_id, key=key, apart=apart, item_ids=tuple(item_ids), size=size
        ),
        thread_of=digest_key(team, window),
    )


def digest_cluster_decided(
    *,
    channel: str,
    team: str,
    window: str,
    cluster_id: int,
    key: str,
    verdict: Verdict,
    by: str,
    size: int,
) -> Notification:
    """The edit of a group's reply once ``by`` decided the whole group.

    The dedupe key names the verdict, and the message edits the group's reply in place.
    """
    group = digest_group_key(team, window, cluster_id)
    return Notification(
        kind=NoticeKind.ALERT,
        target=channel,
        dedupe_key=f"{group}:{verdict.value}",
        payload=DigestClusterDecided(
            cluster_id=cluster_id, key=key, verdict=verdict, by=by, size=size
        ),
        update_of=group,
    )
