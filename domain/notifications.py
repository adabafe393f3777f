"""Which Slack messages a state change causes: pure rules, written to the outbox.

A notification is data, not Block Kit: ``kind``, ``target`` and a typed ``payload`` (one
record per template, see ``domain.templates``) say what to tell whom; the notifier in
``handlers/`` renders it when the relay delivers it. Every notification has a dedupe
key, so the same change can never enqueue the same message twice.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain import escalation, ledger
from domain.items import Item, JournalEntry, ReviewState, Route, dispute_id
from domain.matching.stored import MatchRecord, MatchState
from domain.policy import Policy
from domain.statements.records import Stage1Status, Statement
from domain.states import Event
from domain.templates import (
    Assigned,
    CardUpdate,
    DeadLetter,
    DigestCluster,
    DigestClusterDecided,
    DigestGroup,
    DigestSummary,
    DisputeOverdue,
    Escalated,
    HomeRefresh,
    LedgerBreaker,
    LedgerPost,
    Links,
    MatchCard,
    MatchSummary,
    NoticeBody,
    PolicyInvalid,
    Reminder,
    ReminderUnclaimed,
    SlaEscalated,
    StatementCard,
    Verdict,
    decode,
    fits,
)
from domain.templates import NoticeKind as NoticeKind


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One message to send after commit: its kind, target, typed body and links.

    Raises:
        ValueError: ``payload`` is a body that a ``kind`` row cannot carry.
    """

    kind: NoticeKind
    target: str  # channel id, or user id for DM and HOME
    dedupe_key: str
    item_id: int | None = None
    payload: NoticeBody
    #: Post in the thread of the message with this dedupe key.
    thread_of: str | None = None
    #: Edit the message with this dedupe key in place instead of posting.
    update_of: str | None = None

    def __post_init__(self) -> None:
        if not fits(self.kind, self.payload):
            raise ValueError(
                f"a {self.kind.value} notification cannot carry {type(self.payload).__name__}"
            )

    @classmethod
    def stored(
        cls,
        *,
        kind: NoticeKind,
        target: str,
        dedupe_key: str,
        data: Mapping[str, Any],
        item_id: int | None = None,
    ) -> Notification:
        """The notification a stored row's JSON (``domain.templates.encode``) describes,
        its ``thread_of``/``update_of`` keys included."""
        payload, links = decode(kind, data)
        return cls(
            kind=kind,
            target=target,
            dedupe_key=dedupe_key,
            item_id=item_id,
            payload=payload,
            thread_of=links.thread_of,
            update_of=links.update_of,
        )

    @property
    def links(self) -> Links:
        """The messages this one refers to."""
        return Links(thread_of=self.thread_of, update_of=self.update_of)


#: States in which a digest item earns a card of its own (someone must look at it now).
_CARD_WORTHY = frozenset(
    {ReviewState.ASSIGNED, ReviewState.ESCALATED, ReviewState.DEAD_LETTER, ReviewState.DISPUTED}
)


def card(item: Item, policy: Policy, *, force_post: bool = False) -> Notification | None:
    """The card post/update for the item's current version, if it has a channel.

    ``force_post`` posts a card even for a digest item (someone asked to review it).
    """
    assert item.id is not None
    post_if_missing = force_post or item.route is Route.IMMEDIATE or item.state in _CARD_WORTHY
    return Notification(
        kind=NoticeKind.CARD,
        target=policy.channel_for(item.team),
        dedupe_key=f"card:{item.id}:v{item.version}" + (":review" if force_post else ""),
        item_id=item.id,
        payload=CardUpdate(version=item.version, post_if_missing=post_if_missing),
    )


#: App Home refreshes are debounced: one per user per window, sent when the window ends.
HOME_DEBOUNCE = timedelta(seconds=2)
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def home_window_end(now: datetime) -> datetime:
    """The end of the debounce window ``now`` falls in."""
    windows = (now - _EPOCH) // HOME_DEBOUNCE
    return _EPOCH + (windows + 1) * HOME_DEBOUNCE


def home_refreshes(users: Sequence[str | None], now: datetime) -> list[Notification]:
    """App Home refreshes for the users whose lists a change affects.

    The dedupe key names the debounce window, so a burst of changes (a whole ingest
    batch) costs one refresh per user, sent after the window's last change.
    """
    window = home_window_end(now)
    return [
        Notification(
            kind=NoticeKind.HOME,
            target=user,
            dedupe_key=f"home:{user}:{window.isoformat()}",
            payload=HomeRefresh(not_before=window),
        )
        for user in dict.fromkeys(u for u in users if u and u != "system")
    ]


def lead_dms(item: Item, policy: Policy, *, key: str) -> list[Notification]:
    """A DM to each lead of the item's team that it was escalated to them.

    ``key`` is the dedupe key with a ``{lead}`` placeholder.
    """
    assert item.id is not None
    team = policy.team(item.team) if item.team else None
    return [
        Notification(
            kind=NoticeKind.DM,
            target=lead,
            dedupe_key=key.format(lead=lead),
            item_id=item.id,
            payload=Escalated(),
        )
        for lead in (team.leads if team else [])
    ]


def for_change(
    before: Item | None, after: Item, events: Sequence[Event], policy: Policy, now: datetime
) -> list[Notification]:
    """Every message one committed change of ``after`` causes."""
    out = messages_for_change(before, after, events, policy)
    if after.route is Route.AUTO_ACCEPTED and before is None:
        return out
    out.extend(home_refreshes(home_users(before, after, events, policy), now))
    return out


def _posts_if_missing(notice: Notification) -> bool:
    return isinstance(notice.payload, CardUpdate) and notice.payload.post_if_missing


def messages_for_change(
    before: Item | None, after: Item, events: Sequence[Event], policy: Policy
) -> list[Notification]:
    """The cards, alerts and DMs of one change: :func:`for_change` without App Home.

    A bulk change (an ingest batch) collects :func:`home_users` over all its items and
    refreshes each user's Home once, instead of building the same refresh per item.
    """
    assert after.id is not None
    out: list[Notification] = []
    if after.route is Route.AUTO_ACCEPTED and before is None:
        return out  # accepted by policy at intake: nothing for a human to see
    notice = card(after, policy)
    # A new item has no card to update: one that would not be posted (a digest item)
    # is not enqueued at all, rather than rendered and skipped by the relay.
    if notice is not None and (before is not None or _posts_if_missing(notice)):
        out.append(notice)
    names = {e.name for e in events}
    if "item.dead_lettered" in names:
        out.append(
            Notification(
                kind=NoticeKind.ALERT,
                target=policy.compliance.channel,
                dedupe_key=f"alert:dead_letter:{after.id}:v{after.version}",
                item_id=after.id,
                payload=DeadLetter(),
            )
        )
    if "item.escalated" in names:
        key = f"dm:escalated:{after.id}:{{lead}}:v{after.version}"
        out.extend(lead_dms(after, policy, key=key))
    if "item.assigned" in names and after.assignee:
        actor = next(e.actor for e in events if e.name == "item.assigned")
        if actor != after.assignee:
            out.append(
                Notification(
                    kind=NoticeKind.DM,
                    target=after.assignee,
                    dedupe_key=f"dm:assigned:{after.id}:v{after.version}",
                    item_id=after.id,
                    payload=Assigned(by=actor),
                )
            )
    return out


def home_users(
    before: Item | None, after: Item, events: Sequence[Event], policy: Policy
) -> list[str | None]:
    """The users whose App Home one change of ``after`` affects (with repeats)."""
    users: list[str | None] = [e.actor for e in events]
    users += [before.assignee if before else None, after.assignee]
    users += [a.user for a in after.approvals]
    team = policy.team(after.team) if after.team else None
    if team is not None and (before is None or before.state != after.state):
        # Unclaimed lists of the whole team change when an item enters or leaves them,
        # and compliance officers' and auditors' dashboards count every team.
        compliance = policy.compliance
        users += [*team.reviewers, *team.leads, *compliance.officers, *compliance.auditors]
    if policy.escalation is not None:
        # Members of an escalation tier list what sits in it, from other teams too: the
        # tier it left and the one it reached, or the one it sits in when its state moved.
        reached = escalation.tier_of(policy, after)
        if before is None:
            users += escalation.members(policy, reached, after.team)
        else:
            left = escalation.tier_of(policy, before)
            if left.name != reached.name or before.state != after.state:
                users += escalation.members(policy, left, before.team)
                users += escalation.members(policy, reached, after.team)
    return users


def ladder_notices(
    item: Item, level: int, policy: Policy, now: datetime, *, state_changed: bool = True
) -> list[Notification]:
    """The reminder (level 1) or the team-channel escalation post (level 2) of the SLA ladder.

    When the rung's state change did not apply (a disputed item is already with a
    person), the people the state change would have told are told anyway: the leads at
    level 2, compliance at level 3. Otherwise ``for_change`` already does that.
    The dedupe key names the clock's start, so a ladder restarted by an amendment or a
    resolved dispute reminds again, while a repeated sweep never does.
    """
    assert item.id is not None
    clock = item.sla_started_at.isoformat()
    channel = policy.channel_for(item.team)
    out: list[Notification] = []
    if level == 3:
        if state_changed:
            return out
        return [
            Notification(
                kind=NoticeKind.ALERT,
                target=policy.compliance.channel,
                dedupe_key=f"sla:dead_letter:{item.id}:{clock}",
                item_id=item.id,
                payload=DeadLetter(),
            )
        ]
    if level == 1:
        # A digest item's clock started with its digest's post: its reminder names that
        # digest, and the channel's goes in its thread, beside the group that listed it.
        digest = item.shown_in_digest
        if item.assignee:
            return [
                Notification(
                    kind=NoticeKind.DM,
                    target=item.assignee,
                    dedupe_key=f"sla:remind:{item.id}:{clock}",
                    item_id=item.id,
                    payload=Reminder(digest=digest),
                )
            ]
        return [
            Notification(
                kind=NoticeKind.ALERT,
                target=channel,
                dedupe_key=f"sla:remind:{item.id}:{clock}",
                item_id=item.id,
                payload=ReminderUnclaimed(digest=digest),
                thread_of=(
                    digest_key(item.team, digest) if digest and item.team is not None else None
                ),
            )
        ]
    if level == 2:
        out.append(
            Notification(
                kind=NoticeKind.ALERT,
                target=channel,
                dedupe_key=f"sla:escalate:{item.id}:{clock}",
                item_id=item.id,
                payload=SlaEscalated(),
            )
        )
        if not state_changed:
            out.extend(lead_dms(item, policy, key=f"sla:escalate:{item.id}:{{lead}}:{clock}"))
    return out


def dispute_overdue(item: Item, owner: str) -> Notification:
    """The DM telling a dispute's owner that its expected resolution date has passed.

    Keyed by the dispute's id, so each dispute is reminded once, whatever the sweeps.
    """
    assert item.id is not None and item.dispute is not None
    assert item.dispute.expected_resolution is not None
    dispute = dispute_id(item.id, item.dispute.number)
    return Notification(
        kind=NoticeKind.DM,
        target=owner,
        dedupe_key=f"dispute:overdue:{dispute}",
        item_id=item.id,
        payload=DisputeOverdue(
            dispute=dispute, expected_resolution=item.dispute.expected_resolution
        ),
    )


# --- digests and policy events -------------------------------------------------------------

#: How many groups a digest summary lists by name (the rest are counted).
SUMMARY_GROUPS = 5
#: How many validation problems a policy alert carries.
POLICY_PROBLEMS = 20


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


def policy_invalid(
    policy: Policy, *, file: str, problems: Sequence[str], kept: str, content_sha256: str
) -> Notification:
    """Compliance's alert that an edited policy file is invalid and ``kept`` stays in force.

    Once per distinct broken content: the dedupe key names the content's hash.
    """
    return Notification(
        kind=NoticeKind.ALERT,
        target=policy.compliance.channel,
        dedupe_key=f"policy_invalid:{content_sha256[:16]}",
        payload=PolicyInvalid(file=file, problems=tuple(problems[:POLICY_PROBLEMS]), kept=kept),
    )


# --- the ledger ------------------------------------------------------------------------------


def ledger_delivery(entry: JournalEntry) -> Notification:
    """The outbox row that delivers ``entry`` to the ledger (exactly one per entry: the
    dedupe key is ``ledger:{idempotency_key}``).

    Raises:
        ValueError: the entry is held (it may not leave until its hold is lifted).
    """
    if entry.hold is not None:
        raise ValueError(f"journal entry {entry.ledger_ref} is held: {entry.hold}")
    return Notification(
        kind=NoticeKind.LEDGER,
        target=ledger.TARGET,
        dedupe_key=ledger.dedupe_key(entry.idempotency_key),
        item_id=entry.item_id,
        payload=LedgerPost(idempotency_key=entry.idempotency_key),
    )


def ledger_breaker(channel: str, *, state: str, error: str, since: datetime) -> Notification:
    """Compliance's alert that the ledger's breaker opened (or closed), once per opening:
    the dedupe key names the state and when the breaker opened."""
    return Notification(
        kind=NoticeKind.ALERT,
        target=channel,
        dedupe_key=f"ledger_breaker:{state}:{since.isoformat()}",
        payload=LedgerBreaker(state=state, error=error),
    )


# --- bank statements (Stage 1) ---------------------------------------------------------------


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


def team_home_refreshes(team_name: str, policy: Policy, now: datetime) -> list[Notification]:
    """App Home refreshes of a team's reviewers and leads and of compliance officers
    (whose dashboards count what waits for the team)."""
    team = policy.team(team_name)
    users: list[str | None] = [*(team.reviewers if team else []), *(team.leads if team else [])]
    users += list(policy.compliance.officers)
    return home_refreshes(users, now)


# --- matching (Stage 2) ----------------------------------------------------------------------


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
