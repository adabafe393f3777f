"""Replaying the audit log: the items and journal entries its records describe (pure).

``audit verify --deep`` feeds every record to a :class:`LogReplay`, in seq order, after
(or beside) the :class:`~domain.audit.verifier.AuditVerifier`. The replay does two
things the hash chain cannot:

- it checks each ``audit_records`` row's own columns (``item_id``, ``event``) against
  its signed body: those columns are what ``recon-bot show`` and the indexes read, and
  they are outside the hash;
- it rebuilds, record by record, what the log says each item and journal entry is now,
  so the store can compare the tables people read with it (:meth:`LogReplay.check_item`,
  :meth:`LogReplay.check_entry`, then :meth:`LogReplay.missing`).

Memory is one small :class:`_Replayed` per item and one :class:`_Posted` per journal
entry, never per record.

What a record tells, by event (``to`` always gives the state):

- ``item.ingested`` and ``item.amended``: amount, currency, kind, route, team, approvals
  needed and content hash (the routing data); approvals, decision and ledger reference
  are cleared;
- ``item.reversed``: a reversing journal entry (``reversal_ledger_ref``, its key, lines
  and currency); ``dispute.resolved`` with an ``entry``: the adjustment entry it made;
- ``item.approval_recorded``: one more approver (the actor); the decision is the
  actor's when this approval completed it, else none;
- ``item.approved`` (its ``approvers``), ``item.rejected`` and ``item.matched`` (an
  unmatched item closed by a later match; no approvals),
  ``item.escalated``, ``item.auto_accepted``: who decided;
- ``journal.created``: a journal entry (accounts, debits, credits, currency,
  idempotency key), made by a decision and delivered later; ``journal.released``: a
  held entry's new accounts;
- ``item.posted``: the ledger reference the item shows (in logs written before posting
  waited for the ledger, also the journal entry); ``item.approved_in_bulk`` both an
  approval and the decision (and, in such older logs, the posting);
- ``dispute.opened`` voids approvals; ``dispute.write_off_approval`` adds a write-off
  approver, and the last one decides and makes those the item's approvals.

Every other event of an item (claims, releases, the SLA ladder, dispute updates) only
moves its state. The item's ``policy_version`` is the one of its latest record.

Bank statements (Stage 1) are not items: their records name no item and carry
``data.statement_id``. ``statement.imported`` and ``statement.revised`` give the revision,
the original file's SHA-256 and the content hash and clear the approvals;
``statement.approved`` adds the actor as an approver; ``statement.rejected`` clears them;
``to`` gives the Stage 1 status. The ``statements`` table is compared with that
(:meth:`LogReplay.check_statement`).

The rows compared are :mod:`domain.audit.stored_rows`'s, the problems found
:mod:`domain.audit.replay_problems`'s; both are re-exported here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from domain.audit.replay_problems import ReplayProblem as ReplayProblem
from domain.audit.replay_problems import _amount, _people, _Plain, _row_problem, _shown, _table
from domain.audit.stored_rows import StoredEntry as StoredEntry
from domain.audit.stored_rows import StoredItem as StoredItem
from domain.audit.stored_rows import StoredLine as StoredLine
from domain.audit.stored_rows import StoredStatement as StoredStatement

UNSAID: Final = object()
"""A routing value the log never gave (the column is then not compared)."""


@dataclass(slots=True)
class _StatementReplayed:
    """What the log says of one statement so far (mutable, one per statement)."""

    state: str | None = None
    revision: object = UNSAID
    sha256: object = UNSAID
    content_hash: object = UNSAID
    approvers: list[str] | None = None
    last_seq: int = 0


#: The statement events that (re)state a statement's content.
_STATEMENT_CONTENT = frozenset({"statement.imported", "statement.revised"})


class _Replayed:
    """What the log says of one item so far.

    Mutable on purpose, unlike the domain's values: one per item, updated in place
    record by record, so a replay of millions of records allocates per item only.
    """

    __slots__ = (
        "amount",
        "approvers",
        "content_hash",
        "currency",
        "decided_by",
        "kind",
        "last_seq",
        "ledger_ref",
        "policy_version",
        "required_approvals",
        "route",
        "state",
        "team",
        "write_offs",
    )

    def __init__(self) -> None:
        self.state: str | None = None
        # None: the log never said (e.g. no routing record for the item).
        self.amount: Decimal | None = None
        self.currency: str | None = None
        # The rest of the routing: what the record's data holds, UNSAID when it lacks it.
        self.kind: object = UNSAID
        self.route: object = UNSAID
        self.team: object = UNSAID
        self.required_approvals: object = UNSAID
        self.content_hash: object = UNSAID
        self.policy_version: str | None = None
        self.approvers: list[str] = []
        self.write_offs: list[str] = []
        self.decided_by: str | None = None
        self.ledger_ref: str | None = None
        self.last_seq = 0


@dataclass(slots=True, kw_only=True)
class _Posted:
    """A journal entry as its ``item.posted`` record lists it."""

    item_id: int
    seq: int
    idempotency_key: str | None
    currency: str | None
    lines: list[tuple[str, Decimal | None, Decimal | None]]


_RESET_ROUTING = frozenset({"item.ingested", "item.amended"})


class LogReplay:
    """Rebuilds items and journal entries from the log, one record at a time (pure).

    Feed records in seq order with :meth:`add_records`; stop at the first problem
    (:attr:`problem`). Then compare each stored row with :meth:`check_item` and
    :meth:`check_entry` (each row once), and finally ask :meth:`missing` for what the
    log has and the tables lack.
    """

    def __init__(self) -> None:
        self._items: dict[int, _Replayed] = {}
        self._entries: dict[str, _Posted] = {}
        self._statements: dict[int, _StatementReplayed] = {}
        self.problem: ReplayProblem | None = None
        self.items_checked = 0
        self.entries_checked = 0
        self.statements_checked = 0

    # -- records --

    def add_records(self, rows: Iterable[Sequence[Any]]) -> int | None:
        """Replays ``(seq, body, hash, item_id, event)`` rows, in seq order.

        Returns:
            None when every row was replayed; else the index (in ``rows``) of the first
            row with a problem, now in :attr:`problem`.
        """
        if self.problem is not None:
            return 0
        for index, row in enumerate(rows):
            seq, body, _hash, item_id, event = row[0], row[1], row[2], row[3], row[4]
            try:
                record = json.loads(bytes(body) if not isinstance(body, bytes) else body)
            except (ValueError, TypeError):
                record = None
            if not isinstance(record, dict):
                self.problem = ReplayProblem(
                    reason="format",
                    problem=f"record {seq}: its body is not a version-1 audit record",
                    first_bad_seq=seq,
                )
                return index
            problem = _row_problem(seq, record, item_id, event)
            if problem is not None:
                self.problem = problem
                return index
            self._apply(seq, record)
        return None

    def _apply(self, seq: int, record: dict[str, Any]) -> None:
        item_id = record.get("item_id")
        if not isinstance(item_id, int) or isinstance(item_id, bool):
            self._apply_statement(seq, record)
            return  # else a record of the desk itself (ingest run, policy, digest)
        event = record.get("event")
        actor = record.get("actor")
        data = record.get("data")
        if not isinstance(data, dict):
            data = {}
        item = self._items.get(item_id)
        if item is None:
            item = self._items[item_id] = _Replayed()
        to_state = record.get("to")
        if isinstance(to_state, str):
            item.state = to_state
        policy_version = record.get("policy_version")
        if isinstance(policy_version, str):
            item.policy_version = policy_version
        item.last_seq = seq
        if event in _RESET_ROUTING:
            _take_routing(item, data)
            item.approvers = []
            item.write_offs = []
            item.decided_by = None
            item.ledger_ref = None
        elif event == "item.reversed":
            self._entry(item_id, seq, data.get("reversal_ledger_ref"), data)
        elif event == "dispute.resolved" and isinstance(data.get("entry"), dict):
            entry = data["entry"]
            self._entry(item_id, seq, entry.get("ledger_ref"), entry)
        elif event == "item.approval_recorded":
            item.approvers.append(str(actor))
            item.decided_by = str(actor) if to_state == "approved" else None
        elif event == "item.approved":
            approvers = data.get("approvers")
            if isinstance(approvers, list):
                item.approvers = [str(a) for a in approvers]
            item.decided_by = str(actor)
        elif event in ("item.rejected", "item.matched"):
            item.approvers = []
            item.decided_by = str(actor)
        elif event in ("item.escalated", "item.auto_accepted"):
            item.decided_by = str(actor)
        elif event == "item.approved_in_bulk":
            item.approvers.append(str(actor))
            item.decided_by = str(actor)
            self._post(item, item_id, seq, data)
        elif event == "item.posted":
            self._post(item, item_id, seq, data)
        elif event == "journal.created":
            self._post(None, item_id, seq, data)
        elif event == "journal.released":
            self._release(data)
        elif event == "dispute.opened":
            item.approvers = []
            item.write_offs = []
        elif event == "dispute.write_off_approval":
            item.write_offs.append(str(actor))
            if to_state == "approved":
                item.approvers = list(item.write_offs)
                item.decided_by = str(actor)
            else:
                item.decided_by = None

    def _apply_statement(self, seq: int, record: dict[str, Any]) -> None:
        """A bank statement's record (see the module docstring); anything else is skipped."""
        event = record.get("event")
        data = record.get("data")
        if not isinstance(event, str) or not event.startswith("statement."):
            return
        if event == "statement.refused":
            return  # nothing moved
        if not isinstance(data, dict):
            return
        statement_id = data.get("statement_id")
        if not isinstance(statement_id, int) or isinstance(statement_id, bool):
            return
        replayed = self._statements.get(statement_id)
        if replayed is None:
            replayed = self._statements[statement_id] = _StatementReplayed()
        replayed.last_seq = seq
        to_state = record.get("to")
        if isinstance(to_state, str):
            replayed.state = to_state
        if "revision" in data:
            replayed.revision = data["revision"]
        if event in _STATEMENT_CONTENT:
            replayed.sha256 = data.get("sha256", UNSAID)
            replayed.content_hash = data.get("content_hash", UNSAID)
            replayed.approvers = []
        elif event == "statement.approved":
            replayed.approvers = [*(replayed.approvers or []), str(record.get("actor"))]
        elif event == "statement.rejected":
            replayed.approvers = []

    def _post(self, item: _Replayed | None, item_id: int, seq: int, data: dict[str, Any]) -> None:
        ledger_ref = data.get("ledger_ref")
        if not isinstance(ledger_ref, str):
            return
        if item is not None:  # (an entry's creation does not post its item)
            item.ledger_ref = ledger_ref
        if item is not None and "lines" not in data:
            return  # posted on the ledger's answer: the entry was listed when created
        self._entry(item_id, seq, ledger_ref, data)

    def _entry(self, item_id: int, seq: int, ledger_ref: object, data: dict[str, Any]) -> None:
        """Remembers the journal entry a record lists (under ``ledger_ref``)."""
        if not isinstance(ledger_ref, str):
            return
        currency = data.get("currency")
        lines = data.get("lines")
        key = data.get("idempotency_key")
        self._entries[ledger_ref] = _Posted(
            item_id=item_id,
            seq=seq,
            idempotency_key=key if isinstance(key, str) else None,
            currency=currency if isinstance(currency, str) else None,
            lines=[
                (
                    str(line.get("account")),
                    _decimal(line.get("debit")),
                    _decimal(line.get("credit")),
                )
                for line in (lines if isinstance(lines, list) else [])
                if isinstance(line, dict)
            ],
        )

    def _release(self, data: dict[str, Any]) -> None:
        """A held entry rebuilt on real accounts: its lines' accounts, in order."""
        ref, accounts = data.get("entry"), data.get("new_accounts")
        posted = self._entries.get(ref) if isinstance(ref, str) else None
        if posted is None or not isinstance(accounts, list):
            return
        if len(accounts) != len(posted.lines):
            return  # the table check then names the difference
        posted.lines = [
            (str(account), debit, credit)
            for account, (_, debit, credit) in zip(accounts, posted.lines, strict=True)
        ]

    # -- tables --

    def check_item(self, stored: StoredItem) -> ReplayProblem | None:
        """The first difference between one ``items`` row and the log, or None.

        Call once per row; the item is then settled (:meth:`missing` skips it).
        """
        self.items_checked += 1
        human = f"R-{stored.item_id}"
        item = self._items.pop(stored.item_id, None)
        if item is None:
            return _table(f"{human} is in the items table but no audit record mentions it")
        at = f" (record {item.last_seq})"

        def differs(column: str, stored_value: object, logged: object) -> ReplayProblem:
            return _table(
                f"{human}: items.{column} is {_shown(stored_value)} but the log says "
                f"{_shown(logged)}{at}",
                item.last_seq,
            )

        if item.state is not None and stored.state != item.state:
            return differs("state", stored.state, item.state)
        if item.currency is not None and stored.currency != item.currency:
            return differs("currency", stored.currency, item.currency)
        if item.amount is not None and stored.amount != item.amount:
            shown = stored.amount if stored.amount is not None else stored.amount_minor
            return differs("amount", _Plain(str(shown)), _Plain(str(item.amount)))
        routing: tuple[tuple[str, object, object], ...] = (
            ("kind", stored.kind, item.kind),
            ("route", stored.route, item.route),
            ("team", stored.team, item.team),
            ("required_approvals", stored.required_approvals, item.required_approvals),
            ("content_hash", stored.content_hash, item.content_hash),
        )
        for column, stored_value, logged in routing:
            if logged is not UNSAID and stored_value != logged:
                return differs(column, stored_value, logged)
        if item.policy_version is not None and stored.policy_version != item.policy_version:
            return differs("policy_version", stored.policy_version, item.policy_version)
        if tuple(item.approvers) != stored.approvers:
            return _table(
                f"{human}: items.approvals are by {_people(stored.approvers)} but the log says "
                f"{_people(item.approvers)}{at}",
                item.last_seq,
            )
        if stored.decided_by != item.decided_by:
            return differs("decided_by", stored.decided_by, item.decided_by)
        if stored.ledger_ref != item.ledger_ref:
            return differs("ledger_ref", stored.ledger_ref, item.ledger_ref)
        return None

    def check_entry(self, stored: StoredEntry) -> ReplayProblem | None:
        """The first difference between one ``journal_entries`` row and the log, or None."""
        self.entries_checked += 1
        posted = self._entries.pop(stored.ledger_ref, None)
        name = f"journal entry {stored.ledger_ref}"
        if posted is None:
            return _table(
                f"{name} (R-{stored.item_id}) is in the table but the log never posted it"
            )
        at = f" (record {posted.seq})"

        def differs(what: str, stored_value: object, logged: object) -> ReplayProblem:
            return _table(
                f"{name}: {what} is {_shown(stored_value)} but the log says {_shown(logged)}{at}",
                posted.seq,
            )

        if stored.item_id != posted.item_id:
            return differs("the item", _Plain(f"R-{stored.item_id}"), _Plain(f"R-{posted.item_id}"))
        if posted.idempotency_key is not None and stored.idempotency_key != posted.idempotency_key:
            return differs("the idempotency key", stored.idempotency_key, posted.idempotency_key)
        if posted.currency is not None and stored.currency != posted.currency:
            return differs("the currency", stored.currency, posted.currency)
        if len(stored.lines) != len(posted.lines):
            return differs("the number of lines", len(stored.lines), len(posted.lines))
        for number, (line, (account, debit, credit)) in enumerate(
            zip(stored.lines, posted.lines, strict=True), 1
        ):
            if line.account != account:
                return differs(f"line {number}'s account", line.account, account)
            if line.debit != debit:
                return differs(f"line {number}'s debit", _amount(line.debit), _amount(debit))
            if line.credit != credit:
                return differs(f"line {number}'s credit", _amount(line.credit), _amount(credit))
        return None

    def check_statement(self, stored: StoredStatement) -> ReplayProblem | None:
        """The first difference between one ``statements`` row and the log, or None."""
        self.statements_checked += 1
        name = f"S-{stored.statement_id}"
        replayed = self._statements.pop(stored.statement_id, None)
        if replayed is None:
            return _table(f"{name} is in the statements table but no audit record mentions it")
        at = f" (record {replayed.last_seq})"
        compared: tuple[tuple[str, object, object], ...] = (
            ("stage1_status", stored.stage1_status, replayed.state),
            ("revision", stored.revision, replayed.revision),
            ("sha256", stored.sha256, replayed.sha256),
            ("content_hash", stored.content_hash, replayed.content_hash),
        )
        for column, stored_value, logged in compared:
            if logged is not UNSAID and logged is not None and stored_value != logged:
                return _table(
                    f"{name}: statements.{column} is {_shown(stored_value)} but the log says "
                    f"{_shown(logged)}{at}",
                    replayed.last_seq,
                )
        if replayed.approvers is not None and tuple(replayed.approvers) != stored.approvers:
            return _table(
                f"{name}: statements.approvals are by {_people(stored.approvers)} but the log "
                f"says {_people(replayed.approvers)}{at}",
                replayed.last_seq,
            )
        return None

    def missing(self) -> ReplayProblem | None:
        """What the log describes but no row checked so far matched: call last."""
        if self._items:
            item_id = min(self._items)
            seq = self._items[item_id].last_seq
            return _table(
                f"R-{item_id} is in the log (record {seq}) but not in the items table", seq
            )
        if self._entries:
            ledger_ref, posted = min(self._entries.items(), key=lambda pair: pair[1].seq)
            return _table(
                f"journal entry {ledger_ref} (R-{posted.item_id}) was posted in the log "
                f"(record {posted.seq}) but is not in the journal_entries table",
                posted.seq,
            )
        if self._statements:
            statement_id = min(self._statements)
            seq = self._statements[statement_id].last_seq
            return _table(
                f"S-{statement_id} is in the log (record {seq}) but not in the statements table",
                seq,
            )
        return None


def _decimal(value: object) -> Decimal | None:
    if not isinstance(value, str):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def _take_routing(item: _Replayed, data: dict[str, Any]) -> None:
    """The routing data of an ingest or amendment record (``domain.routing.routing_data``).

    A key the record lacks (an older or foreign record) leaves that column unchecked.
    """
    item.amount = _decimal(data.get("amount"))
    currency = data.get("currency")
    item.currency = currency if isinstance(currency, str) else None
    item.kind = data.get("kind", UNSAID)
    item.route = data.get("route", UNSAID)
    item.team = data.get("team", UNSAID)
    item.required_approvals = data.get("required_approvals", UNSAID)
    item.content_hash = data.get("content_hash", UNSAID)
