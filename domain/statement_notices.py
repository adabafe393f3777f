"""Which Slack messages a change of a bank statement causes (Stage 1): its cards."""

from __future__ import annotations

from datetime import datetime

from domain.home_notices import team_home_refreshes
from domain.notice import Notification
from domain.policy import Policy
from domain.statements.records import Stage1Status, Statement
from domain.templates import (
    NoticeKind,
    StatementCard,
)


def statement_card_key(statement_id: int, revision: int) -> str:
    """Dedupe key of the post of a statement revision's card (its updates name it)."""
    return f"statement:{statement_id}:r{revision}"


def _statement_card_update(statement: Statement, channel: str, revision: int) -> Notification:
    """The in-place edit of the card of ``revision``, for the statement's new version."""
    assert statement.id is not None
    posted = statement_card_key(statement.id, revision)
    return Notification(
        kind=NoticeKind.ALERT,
        target=channel,
        dedupe_key=f"{posted}:v{statement.version}",
        payload=StatementCard(
            statement_id=statement.id, revision=revision, version=statement.version
        ),
        update_of=posted,
    )


def for_statement(
    before: Statement | None, after: Statement, policy: Policy, now: datetime
) -> list[Notification]:
    """Every message one committed change of a statement causes.

    A new statement, or a new revision, posts a card in its team's channel (a revision
    also edits the old revision's card, which then says it was replaced); any other
    change edits the revision's card in place. The App Homes of the team's reviewers and
    leads refresh when a statement enters or leaves review.
    """
    assert after.id is not None
    channel = policy.channel_for(after.team)
    out: list[Notification] = []
    if before is None or before.revision != after.revision:
        posted = statement_card_key(after.id, after.revision)
        out.append(
            Notification(
                kind=NoticeKind.ALERT,
                target=channel,
                dedupe_key=posted,
                payload=StatementCard(
                    statement_id=after.id, revision=after.revision, version=after.version
                ),
            )
        )
        if before is not None:
            out.append(_statement_card_update(after, channel, before.revision))
    else:
        out.append(_statement_card_update(after, channel, after.revision))
    entered_or_left = (
        before is None
        or before.stage1_status != after.stage1_status
        or (
            after.stage1_status is Stage1Status.PENDING_REVIEW and before.revision != after.revision
        )
    )
    if entered_or_left:
        out.extend(team_home_refreshes(after.team, policy, now))
    return out
