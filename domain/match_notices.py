"""Which Slack messages matching causes (Stage 2): match cards and the statement's
matching summary."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from domain.home_notices import team_home_refreshes
from domain.matching.stored import MatchRecord, MatchState
from domain.notice import Notification
from domain.policy import Policy
from domain.statements.records import Statement
from domain.templates import (
    MatchCard,
    MatchSummary,
    NoticeKind,
)


def match_summary_key(statement_id: int) -> str:
    """Dedupe key of the post of a statement's matching summary (its edits name it)."""
    return f"match_summary:{statement_id}"


def match_card_key(match_id: int) -> str:
    """Dedupe key of the post of a match's card (its edits name it)."""
    return f"match:{match_id}"


def match_summary(
    statement: Statement, policy: Policy, now: datetime, *, cause: str, posted: bool
) -> list[Notification]:
    """The statement's matching summary: one message per statement, posted once and then
    edited in place (so its Resolve and Accept all buttons are never left behind in an
    older copy; new pending matches still reach the channel as new cards).

    ``posted``: whether the post is queued already (a row in any state). If not, the post
    alone (its key names only the statement): the notifier renders the summary as stored
    when it sends it, so an edit queued with it would only send the same summary again.
    If so, the post (which the outbox skips, as it exists) and an edit of it whose key
    names ``now`` and the cause (changes at one moment coalesce into one edit).
    """
    assert statement.id is not None
    key = match_summary_key(statement.id)
    channel = policy.channel_for(statement.team)
    payload = MatchSummary(statement_id=statement.id, cause=cause)
    post = Notification(kind=NoticeKind.ALERT, target=channel, dedupe_key=key, payload=payload)
    if not posted:
        return [post]
    return [
        post,
        Notification(
            kind=NoticeKind.ALERT,
            target=channel,
            dedupe_key=f"{key}:{cause}:{now.isoformat()}",
            payload=payload,
            update_of=key,
        ),
    ]


def match_card(record: MatchRecord, statement: Statement, policy: Policy) -> Notification:
    """The card of a match for its current version: the first post of a match that waits
    for a person, else the in-place edit of that post (re-scored, decided, dissolved).

    Raises:
        ValueError: the match is auto-accepted (nobody needs to see it; it has no card).
    """
    assert record.id is not None
    if record.state is MatchState.AUTO_ACCEPTED:
        raise ValueError(f"match {record.id} is auto-accepted: it has no card")
    posted = match_card_key(record.id)
    first = record.version == 1 and record.state is MatchState.PENDING_REVIEW
    return Notification(
        kind=NoticeKind.ALERT,
        target=policy.channel_for(statement.team),
        dedupe_key=posted if first else f"{posted}:v{record.version}",
        payload=MatchCard(match_id=record.id, version=record.version),
        update_of=None if first else posted,
    )


def for_match_run(
    statements: Sequence[Statement],
    changed: Sequence[MatchRecord],
    *,
    checks_opened: Sequence[int],
    summarized: Collection[int],
    policy: Policy,
    now: datetime,
) -> list[Notification]:
    """Every message one committed matching run causes.

    ``changed``: the matches the run wrote (found, re-scored, dissolved). A card for
    each one a person must look at (pending review) and an edit of the card of each
    pending one the run dissolved; a summary (first post, or an edit of the post of
    each statement in ``summarized``) for each statement the run changed: a match
    written, or a check opened (``checks_opened``: statement ids), with App Home
    refreshes of the team (its dashboard counts the matches waiting). A run that changed
    nothing sends nothing.
    """
    by_id = {s.id: s for s in statements}
    out: list[Notification] = []
    touched: set[int] = set(checks_opened)
    for record in changed:
        statement = by_id.get(record.statement_id)
        if statement is None:
            continue
        touched.add(record.statement_id)
        if record.state is MatchState.PENDING_REVIEW:
            out.append(match_card(record, statement, policy))
        elif record.state is MatchState.REJECTED and record.version > 1:
            out.append(match_card(record, statement, policy))  # a dissolved card says so
    for statement_id in sorted(touched):
        statement = by_id.get(statement_id)
        if statement is not None:
            posted = statement_id in summarized
            out.extend(match_summary(statement, policy, now, cause="run", posted=posted))
            out.extend(team_home_refreshes(statement.team, policy, now))
    return out


def for_match_decision(
    decided: Sequence[MatchRecord], statement: Statement, policy: Policy, now: datetime
) -> list[Notification]:
    """A person accepted or rejected matches of ``statement``: each card is rewritten
    with the outcome (no buttons), the statement's summary is edited (the run that found
    the matches posted it), and the team's App Homes refresh."""
    out = [match_card(record, statement, policy) for record in decided]
    out.extend(match_summary(statement, policy, now, cause="decision", posted=True))
    out.extend(team_home_refreshes(statement.team, policy, now))
    return out
