"""Ports: what the use cases need from the outside world, as Protocols.

Adapters live in ``store/`` (and in tests as in-memory fakes); only ``bot/`` wires them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from types import TracebackType
from typing import IO, Any, Protocol, Self

from domain.assignment import Accuracy, DecisionMark, Overturn
from domain.audit.keys import Signer as Signer  # the port lives beside the keys it names
from domain.audit.records import AuditEntry
from domain.breaker import Breaker
from domain.delegation import Delegation
from domain.delivery import MessageLocation, OutboxMessage
from domain.delivery import Outcome as DeliveryOutcome
from domain.digest import ClusterMember, ClusterRecord, ClusterState
from domain.fx import FxRate
from domain.gl import LedgerEntry, StoredLedgerEntry
from domain.intake import RowError
from domain.items import Item, JournalEntry, ReviewState, RiskTier
from domain.ledger import Outcome as LedgerOutcome
from domain.ledger_status import BreakerStatus, DeliveryCounts
from domain.matching.history import MatchTally
from domain.matching.records import Band
from domain.matching.stored import CheckRecord, CheckState, MatchRecord, MatchState
from domain.notifications import Notification
from domain.statements.parsed import ParseResult, ParseStream, StatementFormat
from domain.statements.records import (
    LineTotals,
    MatchStatus,
    Original,
    Stage1Status,
    Statement,
    StatementKey,
    StatementLine,
)


class Clock(Protocol):
    """Reads the time; only the shell calls it, once per request or tick."""

    def now(self) -> datetime:
        """Aware UTC now."""
        ...


class ItemRepository(Protocol):
    """Items, with optimistic version checks on every update."""

    async def add(self, item: Item) -> Item:
        """Inserts and returns the item with its id."""
        ...

    async def reserve_ids(self, count: int) -> list[int]:
        """Ids for ``count`` new items, ascending, for :meth:`add_many` in this transaction."""
        ...

    async def add_many(self, items: Sequence[Item]) -> None:
        """Inserts new items that carry ids from :meth:`reserve_ids`, in one statement."""
        ...

    async def get(self, item_id: int) -> Item | None:
        """The item, or None."""
        ...

    async def get_by_external(self, source: str, external_id: str) -> Item | None:
        """The item ingested under ``(source, external_id)``, or None."""
        ...

    async def get_many_by_external(
        self, source: str, external_ids: Sequence[str]
    ) -> dict[str, Item]:
        """Items of one source by external id (one round trip for a whole batch)."""
        ...

    async def update(self, item: Item, *, expected_version: int) -> bool:
        """Writes ``item`` if the stored version is still ``expected_version``.

        Returns False (and writes nothing) when someone else changed it first.
        """
        ...

    async def update_many(self, changes: Sequence[tuple[Item, int]]) -> list[int]:
        """:meth:`update` for many ``(item, expected_version)`` pairs, in few round trips.

        Returns the ids of the items someone else changed first (empty when all were
        written); the caller fails its transaction on any, as the others may be written.
        """
        ...

    async def claimable(
        self,
        *,
        teams: Sequence[str],
        limit: int,
        offset: int = 0,
        exclude_prepared_by: str | None = None,
        skip_locked: bool = False,
    ) -> list[Item]:
        """Unassigned pending items of these teams, highest priority first.

        ``exclude_prepared_by`` leaves out the items that user prepared (they may never
        approve those, so they should not claim them either). ``skip_locked`` locks the
        rows returned until the unit of work ends and passes over rows another unit of
        work holds (PostgreSQL's ``FOR UPDATE SKIP LOCKED``), so concurrent claimers are
        handed distinct items; a store whose writer is exclusive (SQLite) needs no lock.
        """
        ...

    async def count(
        self,
        *,
        states: Sequence[ReviewState] | None = None,
        teams: Sequence[str] | None = None,
        assignee: str | None = None,
    ) -> int:
        """How many items match every given filter."""
        ...

    async def summary(
        self, *, teams: Sequence[str] | None, overdue_before: datetime
    ) -> dict[str, int]:
        """Dashboard counts: ``pending_high|medium|low``, ``overdue``,
        ``awaiting_second_approval``, ``open_disputes``, ``dead_lettered``, and one count per
        state (``state:<name>``). ``teams=None`` counts every team."""
        ...

    async def due_for_ladder(self, *, now: datetime, limit: int) -> list[Item]:
        """Items whose next SLA rung is due (``sla_next_at <= now``), earliest first."""
        ...

    async def open_after(self, *, after_id: int, limit: int) -> list[Item]:
        """Open items with ids above ``after_id``, in id order (for recomputing deadlines)."""
        ...

    async def expired_claims(self, *, now: datetime, limit: int) -> list[Item]:
        """Assigned items whose claim lease ended before ``now``."""
        ...

    async def query(
        self,
        *,
        states: Sequence[ReviewState] | None = None,
        team: str | None = None,
        teams: Sequence[str] | None = None,
        assignee: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Item]:
        """Items matching every given filter, highest priority first."""
        ...

    async def open_outside(self, *, teams: Sequence[str], min_ladder_level: int = 0) -> list[Item]:
        """Every open (unsettled) item of no team or of a team not in ``teams``, at
        ``min_ladder_level`` or above, highest priority first: the candidates for what
        sits in an escalation tier of someone outside its team (the caller keeps those
        in their tier)."""
        ...


class JournalRepository(Protocol):
    """Journal entries; the idempotency key is unique."""

    async def add(self, entry: JournalEntry) -> None:
        """Inserts the entry."""
        ...

    async def add_many(self, entries: Sequence[JournalEntry]) -> None:
        """Inserts several entries in one statement."""
        ...

    async def get_by_key(self, idempotency_key: str) -> JournalEntry | None:
        """The entry with that key, or None."""
        ...

    async def for_item(self, item_id: int) -> list[JournalEntry]:
        """Entries of one item, oldest first."""
        ...

    async def for_items(self, item_ids: Sequence[int]) -> dict[int, list[JournalEntry]]:
        """Entries of several items, each item's oldest first (items with none are absent)."""
        ...

    async def mark_delivered(self, idempotency_key: str, *, reference: str, now: datetime) -> bool:
        """Stores the ledger's reference on an undelivered entry; False when it already
        had one (or there is no such entry)."""
        ...

    async def held(self, *, limit: int) -> list[JournalEntry]:
        """Entries that may not leave yet (``hold`` set), oldest first."""
        ...

    async def release(self, entry: JournalEntry) -> bool:
        """Rewrites a held entry (same key) with ``entry``'s lines and hold; False when the
        stored entry is no longer held (someone released it first)."""
        ...


class IntakeRepository(Protocol):
    """Ingest runs and the quarantine of rejected rows."""

    async def start_run(
        self, *, source: str, file_name: str, policy_version: str, now: datetime
    ) -> int:
        """Records a new run and returns its id."""
        ...

    async def quarantine(
        self, *, run_id: int, rows: Sequence[tuple[RowError, str]], now: datetime
    ) -> None:
        """Keeps rejected rows (error and raw text) for the user to list and fix."""
        ...

    async def finish_run(self, *, run_id: int, summary: dict[str, Any], now: datetime) -> None:
        """Stores the run's summary."""
        ...

    async def remember_policy(self, *, version: str, body: str, now: datetime) -> None:
        """Keeps the policy text of a version the first time it is used."""
        ...


class LedgerRepository(Protocol):
    """General-ledger entries by (entry id, account), at their latest version."""

    async def get_many(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredLedgerEntry]:
        """The stored entries among ``keys`` (one round trip per few hundred keys)."""
        ...

    async def add_many(
        self, entries: Sequence[LedgerEntry], *, run_id: int | None, now: datetime
    ) -> None:
        """Inserts new entries at version 1, ``unmatched``.

        Raises:
            an integrity error of the backend: one of the keys is stored already.
        """
        ...

    async def revise(
        self, entry: LedgerEntry, *, expected_version: int, run_id: int | None, now: datetime
    ) -> bool:
        """Replaces an unmatched entry's content as its next version; False when the
        stored entry is not at ``expected_version`` or is matched (nothing written)."""
        ...

    async def set_match_status(
        self, key: tuple[str, str], status: MatchStatus, *, now: datetime
    ) -> bool:
        """Sets Stage 2's status of an entry; False when there is no such entry."""
        ...

    async def set_match_statuses(
        self, keys: Sequence[tuple[str, str]], status: MatchStatus, *, now: datetime
    ) -> int:
        """:meth:`set_match_status` for many (entry id, account) keys at once; returns how
        many entries exist among them."""
        ...

    async def open_entries(self, *, account: str, currency: str) -> list[StoredLedgerEntry]:
        """The unmatched entries of a GL account in a currency, by entry id."""
        ...


class MatchRepository(Protocol):
    """Stage 2's matches, their sides, and the consistency checks of matching runs."""

    async def add(self, record: MatchRecord) -> MatchRecord:
        """Inserts a match and its sides; returns it with its id."""
        ...

    async def update(self, record: MatchRecord, *, expected_version: int) -> bool:
        """Writes the match (state, score, components, sides) at ``expected_version`` + 1;
        False (nothing written) when the stored one is no longer at ``expected_version``."""
        ...

    async def get(self, match_id: int) -> MatchRecord | None:
        """The match, or None."""
        ...

    async def live(self) -> list[MatchRecord]:
        """Every match not rejected (pending or accepted), by id."""
        ...

    async def query(
        self,
        *,
        band: Band | None = None,
        state: MatchState | None = None,
        statement_id: int | None = None,
        limit: int = 100,
    ) -> list[MatchRecord]:
        """Matches by id, filtered."""
        ...

    async def changed_since(self, *, statement_id: int, since: datetime) -> list[MatchRecord]:
        """The matches of a statement written at or after ``since`` (what a run just
        did), by id."""
        ...

    async def count_pending(self, *, teams: Sequence[str] | None = None) -> int:
        """How many matches wait in ``pending_review`` whose statement is of ``teams``
        (None: of any team), for App Home."""
        ...

    async def counterparty_risk(self, names: Sequence[str]) -> dict[str, RiskTier]:
        """The highest risk tier any item of each named counterparty carries (exact
        name), for the routing guard; names with no tiered item are left out."""
        ...

    async def start_run(self, *, statement_id: int | None, now: datetime) -> int:
        """Numbers a new matching run (of one statement, or of all): its id."""
        ...

    async def match_history(
        self, names: Sequence[str], *, since: date, until: date, min_score: int
    ) -> dict[str, MatchTally]:
        """Per named counterparty (exact name): its bank lines (not removed, of approved
        statements) booked from ``since`` to ``until`` (the booking date, else the value
        date, else the statement's end), and how many of them a match not rejected
        scoring ``min_score`` or more covers. One query; names without lines are left out.
        """
        ...

    async def add_checks(self, checks: Sequence[CheckRecord]) -> int:
        """Inserts the checks whose key is not stored yet (a re-run finds the same ones
        again); returns how many were new."""
        ...

    async def get_check(self, check_id: int) -> CheckRecord | None:
        """The check, or None."""
        ...

    async def resolve_check(self, record: CheckRecord) -> bool:
        """Stores the resolution of a check that is still open; False when it is not."""
        ...

    async def checks(
        self, *, state: CheckState | None = None, statement_id: int | None = None
    ) -> list[CheckRecord]:
        """Checks by id, filtered."""
        ...


class FxRateRepository(Protocol):
    """Dated FX rates, one per (date, base, currency, source)."""

    async def get_many(
        self, keys: Sequence[tuple[date, str, str, str]]
    ) -> dict[tuple[date, str, str, str], FxRate]:
        """The stored rates among ``keys``."""
        ...

    async def add_many(self, rates: Sequence[FxRate], *, now: datetime) -> None:
        """Inserts rates whose keys are not stored yet.

        Raises:
            an integrity error of the backend: one of the keys is stored already.
        """
        ...

    async def replace(self, rate: FxRate, *, now: datetime) -> bool:
        """Replaces the stored rate of ``rate``'s key; False when there is none."""
        ...

    async def for_book(
        self, *, currencies: Collection[str], since: date, until: date
    ) -> list[FxRate]:
        """The rates a :class:`~domain.fx.RateBook` needs for the days ``since..until``.

        The rates between two of ``currencies`` dated in that range, and for each (base,
        currency, source) the latest one before ``since``: the book picks the latest on
        or before each day it is asked about.
        """
        ...


class DigestRepository(Protocol):
    """Digest windows and their clusters."""

    async def candidate_teams(self) -> list[str]:
        """Teams with digest items not yet in any digest."""
        ...

    async def candidates(self, *, team: str, limit: int) -> list[Item]:
        """A team's pending digest items not yet in any digest, oldest first."""
        ...

    async def mark(self, *, item_ids: Sequence[int], window: str) -> int:
        """Claims items for a window (only those still unclaimed); returns how many."""
        ...

    async def awaiting_post(self, *, limit: int) -> list[tuple[str, Item]]:
        """Items a digest took whose clock still waits for that digest's post, each with
        its window (oldest first)."""
        ...

    async def add_cluster(
        self,
        *,
        window: str,
        team: str,
        key: str,
        items: Sequence[ClusterMember],
        apart: bool,
        now: datetime,
    ) -> int:
        """Stores a cluster (item id, version, content hash each) and returns its id."""
        ...

    async def window_posted(self, *, team: str, window: str) -> bool:
        """Whether this team's digest for this window already exists."""
        ...

    async def get_cluster(self, cluster_id: int) -> ClusterRecord | None:
        """The cluster, or None."""
        ...

    async def close_cluster(
        self, cluster_id: int, *, state: ClusterState, actor: str, now: datetime
    ) -> bool:
        """Moves an open cluster to ``state``; False when it was no longer open."""
        ...


class StatementParser(Protocol):
    """Reads a bank file: the format adapters' registry (``statements.parse``)."""

    def __call__(self, data: bytes, *, format: StatementFormat | None = None) -> ParseResult:
        """Every statement of the file, and a problem for each one it could not read;
        ``format`` None detects it from the content."""
        ...

    def stream(
        self, data: bytes | IO[bytes], *, format: StatementFormat | None = None
    ) -> ParseStream:
        """The same statements and problems in file order, each read when it is taken
        (what an import uses: one statement of a big file in memory at a time).
        ``data`` may be the file itself (binary, seekable), read from its start and,
        for the big formats, never whole."""
        ...


class StatementRepository(Protocol):
    """Bank statements (Stage 1), their lines and the original files, version-checked."""

    async def add(self, statement: Statement) -> Statement:
        """Inserts the statement and all its lines; returns it with its id.

        Raises:
            StaleItem: a statement with the same identity is stored (another import got
                there first); the unit of work must be rolled back.
        """
        ...

    async def get(self, statement_id: int, *, with_lines: bool = True) -> Statement | None:
        """The statement (lines in number order, unless ``with_lines`` is False), or None."""
        ...

    async def get_by_key(self, key: StatementKey) -> Statement | None:
        """The statement with that identity, with its lines, or None."""
        ...

    async def update(
        self, statement: Statement, *, expected_version: int, lines: Sequence[int] | None = None
    ) -> bool:
        """Writes ``statement`` if the stored version is still ``expected_version``.

        ``lines`` None rewrites every line (a new revision); else only the lines with
        those numbers changed (an edit). Returns False (writing nothing) when someone
        changed it first.
        """
        ...

    async def previous(
        self, *, account: str, currency: str, before: date, exclude_id: int | None
    ) -> Statement | None:
        """The same account's statement in that currency that started before ``before``
        and ended last (without lines), skipping ``exclude_id``; None when there is none."""
        ...

    async def following(
        self, *, account: str, currency: str, after: date, exclude_id: int | None
    ) -> Statement | None:
        """The same account's statement in that currency that starts first after
        ``after`` (without lines), skipping ``exclude_id``; None when there is none."""
        ...

    async def query(
        self,
        *,
        status: Stage1Status | None = None,
        account: str | None = None,
        teams: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Statement]:
        """Statements (without lines) by account, period start, id; filtered (``teams``:
        only those of these teams)."""
        ...

    async def count(
        self, *, status: Stage1Status | None = None, teams: Sequence[str] | None = None
    ) -> int:
        """How many statements are in ``status`` (any) of ``teams`` (any)."""
        ...

    async def line_totals(self, statement_id: int, currency: str) -> LineTotals:
        """The statement's :class:`LineTotals`, summed in the store (``currency`` is the
        statement's, for its minor units)."""
        ...

    async def lines_page(
        self, statement_id: int, currency: str, *, offset: int, limit: int
    ) -> tuple[StatementLine, ...]:
        """``limit`` lines of the statement from ``offset`` (0-based), in number order."""
        ...

    async def line(self, statement_id: int, currency: str, number: int) -> StatementLine | None:
        """The statement's line of that number, or None."""
        ...

    async def line_counts(self, statement_ids: Sequence[int]) -> dict[int, int]:
        """How many lines count (are not removed) in each statement."""
        ...

    async def approved_lines(
        self,
        *,
        match_status: MatchStatus | None = MatchStatus.UNMATCHED,
        after: tuple[int, int] | None = None,
        limit: int = 1000,
    ) -> list[tuple[Statement, StatementLine]]:
        """Lines (not removed) of approved statements with that match status (any when
        None), in (statement id, line number) order after ``after``, each with its
        statement (without lines): the input of Stage 2."""
        ...

    async def set_line_match_statuses(
        self, keys: Sequence[tuple[int, int]], status: MatchStatus
    ) -> int:
        """Sets Stage 2's status of many (statement id, line number) lines at once;
        returns how many exist among them."""
        ...

    async def set_line_match_status(
        self, statement_id: int, number: int, status: MatchStatus
    ) -> bool:
        """Sets Stage 2's status of a line; False when there is no such line."""
        ...

    async def keep_original(self, *, file_name: str, original: Original, now: datetime) -> None:
        """Keeps a bank file once per SHA-256 (as :class:`Original` packs it)."""
        ...

    async def original(self, sha256: str) -> tuple[str, bytes] | None:
        """The file name and bytes kept under ``sha256``, or None."""
        ...


class OutboxSink(Protocol):
    """Slack messages to send after commit, enqueued in the same transaction."""

    async def enqueue(self, notifications: Sequence[Notification], *, now: datetime) -> None:
        """Adds the notifications; a dedupe key seen before is skipped."""
        ...

    async def queued(self, dedupe_key: str) -> bool:
        """Whether a message was ever enqueued under ``dedupe_key`` (in any state:
        pending, sending, sent or dead), this transaction's own included."""
        ...

    async def sent_at(self, dedupe_key: str) -> datetime | None:
        """When Slack accepted the message enqueued under ``dedupe_key``; None while it
        is not (yet) sent: pending, retrying, dead, or never enqueued."""
        ...

    async def settle(self, row_id: int, *, attempts: int, now: datetime) -> bool:
        """Marks a claimed row sent, if it is still that claim's (same attempt, still
        sending); False when another relay took it over."""
        ...


class BreakerReader(Protocol):
    """The circuit breakers' stored state, read inside a transaction."""

    async def get(self, name: str) -> Breaker:
        """The breaker (closed when it was never stored)."""
        ...


class LedgerSink(Protocol):
    """Hands one journal entry to the ledger (one attempt, no retries)."""

    async def send(self, entry: JournalEntry) -> LedgerOutcome:
        """Delivers ``entry`` under its idempotency key; never raises for the ledger's
        answers or its absence (those are outcomes)."""
        ...


class Notifier(Protocol):
    """Turns one outbox message into Slack Web API calls (one attempt, no retries)."""

    async def deliver(
        self, message: OutboxMessage, *, card: MessageLocation | None, now: datetime
    ) -> DeliveryOutcome:
        """Sends the message; ``card`` is where the message to edit already is."""
        ...


class AuditSink(Protocol):
    """The audit log as the use cases see it: append inside the current transaction."""

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        """Chains and stores the entries; they commit or vanish with the transaction."""
        ...


class ViewStateRepository(Protocol):
    """Where each user's Slack views stand, kept in the store (restarts lose nothing)."""

    async def home_page(self, user: str) -> int:
        """The App Home page (0 first) the user last chose; 0 when they never did."""
        ...

    async def set_home_page(self, user: str, page: int, *, now: datetime) -> None:
        """Remembers the App Home page the user chose."""
        ...


class LedgerStatusRepository(Protocol):
    """Where delivery to the ledger stands: its breaker and the entries' delivery states."""

    async def breaker(self, name: str) -> BreakerStatus:
        """The named breaker; a closed one with no history when none is stored."""
        ...

    async def delivery_counts(self) -> DeliveryCounts:
        """Journal entries per delivery state (pending, sent, dead, held)."""
        ...


class ThreadRepository(Protocol):
    """Which item a Slack thread belongs to, from where the desk posted its messages."""

    async def item_of_thread(self, *, channel: str, thread_ts: str) -> int | None:
        """The item whose card, or a sent copy of one of its messages (reminder,
        escalation alert, DM), is the message at ``thread_ts`` in ``channel``; None
        when the desk posted no such message."""
        ...


class OnceKeys(Protocol):
    """Keys of effects that must happen once, whatever the retries or restarts."""

    async def first_time(self, key: str, *, item_id: int | None, now: datetime) -> bool:
        """Records ``key`` in this transaction; False when it was recorded before.

        The key commits (or vanishes) with the effect it guards, so two deliveries at
        once record the effect once.
        """
        ...


class PeopleRepository(Protocol):
    """Who is away, how much each reviewer holds, and how their decisions stood up."""

    async def active_delegations(self, *, now: datetime) -> list[Delegation]:
        """Delegations running at ``now`` (started, not ended, ``until`` not passed)."""
        ...

    async def start_delegation(self, delegation: Delegation) -> None:
        """Records a delegation, ending any the same user still has running."""
        ...

    async def end_delegation(self, *, user: str, now: datetime) -> Delegation | None:
        """Ends the user's running delegation; returns it as ended (None if none ran)."""
        ...

    async def open_counts(self, users: Sequence[str]) -> dict[str, int]:
        """How many unsettled items each user holds (users holding none are left out)."""
        ...

    async def accuracy(self, users: Sequence[str], *, since: datetime) -> dict[str, Accuracy]:
        """Each user's verdicts since ``since`` and how many were overturned."""
        ...

    async def note_decisions(
        self, overturns: Sequence[Overturn], marks: Sequence[DecisionMark]
    ) -> None:
        """Marks standing verdicts overturned, then records the new ones."""
        ...


class UnitOfWork(Protocol):
    """One database transaction: everything in it commits together or not at all."""

    items: ItemRepository
    journal: JournalRepository
    intake: IntakeRepository
    gl: LedgerRepository
    fx: FxRateRepository
    digests: DigestRepository
    views: ViewStateRepository
    ledger_status: LedgerStatusRepository

    threads: ThreadRepository
    once: OnceKeys
    statements: StatementRepository
    people: PeopleRepository
    matches: MatchRepository
    outbox: OutboxSink
    audit: AuditSink
    breakers: BreakerReader

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Commits; without it, leaving the block rolls back."""
        ...


class UnitOfWorkFactory(Protocol):
    """Makes a fresh unit of work per use case."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work; ``read_only`` ones never write and may run beside writers."""
        ...


#: What a span attribute may hold: names, counts and flags, never free text or tokens.
SpanValue = str | int | bool


class DecisionTrace(Protocol):
    """The span of one decision, open while it runs."""

    def record(self, attributes: Mapping[str, SpanValue]) -> None:
        """Adds attributes (``ledger.reconciliation.signoff.*``, ``compliance.dual_control.*``)."""
        ...


class Telemetry(Protocol):
    """Traces and measures the desk's decisions (adapter: the top-level ``telemetry``)."""

    def decision(self, action: str) -> AbstractContextManager[DecisionTrace]:
        """A span named for ``action`` around one decision."""
        ...

    def signed_off(self, *, kind: str, seconds: float) -> None:
        """An item reached its final sign-off ``seconds`` after it was routed."""
        ...

    def imported(self, *, source: str, outcome: str, rows: int) -> None:
        """``rows`` rows of an import from ``source`` (``statement``) ended in ``outcome``
        (``imported``, ``unchanged``, ``revised`` or ``rejected``)."""
        ...


class _NoTrace:
    def record(self, attributes: Mapping[str, SpanValue]) -> None:
        pass


class NoTelemetry:
    """The default :class:`Telemetry`: records nothing (tests, CLI commands)."""

    @contextmanager
    def decision(self, action: str) -> Iterator[DecisionTrace]:
        yield _NoTrace()

    def signed_off(self, *, kind: str, seconds: float) -> None:
        pass

    def imported(self, *, source: str, outcome: str, rows: int) -> None:
        pass
