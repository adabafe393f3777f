"""The Slack messages matching causes, queued in the change's own transaction.

The ``enqueue_*`` functions queue the summary and the cards (``domain.notifications``)
inside the transaction of the run or decision that causes them, so a message goes out
exactly once with its change and never without it; the relay delivers them after
commit (a ``serve`` process delivers what the CLI's ``recon-bot match`` queued).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from domain.matching.stored import CheckRecord, MatchRecord
from domain.notifications import (
    for_match_decision,
    for_match_run,
    match_summary,
    match_summary_key,
)
from domain.policy import Policy
from domain.ports import UnitOfWork
from domain.statements.records import Statement


async def enqueue_run_notices(
    uow: UnitOfWork, policy: Policy, statement_ids: Iterable[int], now: datetime
) -> None:
    """Queues what a run did to ``statement_ids`` (the statements it read, and those of
    the pending matches it may have dissolved): the matches it wrote at ``now`` and the
    checks it opened at ``now`` (see :func:`domain.notifications.for_match_run`); a
    statement's summary is edited only once its post is queued (a first run posts it)."""
    statements: list[Statement] = []
    changed: list[MatchRecord] = []
    opened: list[int] = []
    summarized: set[int] = set()
    for statement_id in sorted(set(statement_ids)):
        statement = await uow.statements.get(statement_id, with_lines=False)
        if statement is None:
            continue
        statements.append(statement)
        changed.extend(await uow.matches.changed_since(statement_id=statement_id, since=now))
        checks = await uow.matches.checks(statement_id=statement_id)
        if any(c.created_at >= now for c in checks):
            opened.append(statement_id)
        if await uow.outbox.queued(match_summary_key(statement_id)):
            summarized.add(statement_id)
    notices = for_match_run(
        statements,
        changed,
        checks_opened=opened,
        summarized=summarized,
        policy=policy,
        now=now,
    )
    await uow.outbox.enqueue(notices, now=now)


async def enqueue_decision_notices(
    uow: UnitOfWork, policy: Policy, decided: Sequence[MatchRecord], now: datetime
) -> None:
    """Queues the rewritten cards of ``decided`` and their statements' summaries."""
    by_statement: dict[int, list[MatchRecord]] = {}
    for record in decided:
        by_statement.setdefault(record.statement_id, []).append(record)
    for statement_id, records in sorted(by_statement.items()):
        statement = await uow.statements.get(statement_id, with_lines=False)
        if statement is not None:
            notices = for_match_decision(records, statement, policy, now)
            await uow.outbox.enqueue(notices, now=now)


async def enqueue_check_notice(
    uow: UnitOfWork, policy: Policy, check: CheckRecord, now: datetime
) -> None:
    """Queues the edit of the summary of the check's statement (one Resolve button less;
    the run that opened the check posted it)."""
    if check.statement_id is None:
        return
    statement = await uow.statements.get(check.statement_id, with_lines=False)
    if statement is not None:
        notices = match_summary(statement, policy, now, cause="check", posted=True)
        await uow.outbox.enqueue(notices, now=now)
