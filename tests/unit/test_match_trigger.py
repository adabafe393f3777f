"""The serve process's matching trigger: a run after an approval happens in the
background, and a run that fails is logged and done by the next run, never lost."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime
from decimal import Decimal

import pytest

from domain.matching.stored import MatchState
from domain.policy import LoadedPolicy
from domain.statements.records import Stage1Status
from domain.usecases import UseCases
from domain.usecases.matching import RunSummary
from scheduler.matching import MatchTrigger
from tests.fakes import T0, FixedClock, InMemoryUnitOfWorkFactory
from tests.statement_files import make_statement, statement
from tests.unit.test_match_slack import ENTRIES, LINES, POLICY

pytestmark = pytest.mark.asyncio


class FlakyPolicy:
    """A policy source that fails ``failures`` times first (a store or reload hiccup)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def __call__(self) -> LoadedPolicy:
        if self.failures:
            self.failures -= 1
            raise OSError("policy file unreadable for a moment")
        return POLICY


async def _approved(factory: InMemoryUnitOfWorkFactory) -> int:
    total = sum((Decimal(ln["amount"]) for ln in LINES), Decimal(0))
    raw = statement(lines=LINES, closing=str(Decimal("1000.00") + total))
    async with factory() as uow:
        stored = await uow.statements.add(
            dataclasses.replace(make_statement(raw), stage1_status=Stage1Status.APPROVED)
        )
        await uow.gl.add_many(ENTRIES, run_id=None, now=T0)
        await uow.commit()
    assert stored.id is not None
    return stored.id


async def test_an_approval_runs_matching_in_the_background() -> None:
    factory = InMemoryUnitOfWorkFactory()
    sid = await _approved(factory)
    uc = UseCases.over(uow=factory, policy=lambda: POLICY)
    trigger = MatchTrigger(usecases=uc, clock=FixedClock(T0))
    trigger.approved(sid)
    assert factory.store.matches == {}  # not yet: it returned at once
    await trigger.drain()
    assert len(await uc.matching.matches(state=MatchState.PENDING_REVIEW)) == 2


async def test_a_failed_run_is_logged_and_the_next_run_does_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    factory = InMemoryUnitOfWorkFactory()
    sid = await _approved(factory)
    uc = UseCases.over(uow=factory, policy=FlakyPolicy(failures=1))
    trigger = MatchTrigger(usecases=uc, clock=FixedClock(T0))
    with caplog.at_level(logging.ERROR, logger="scheduler.matching"):
        trigger.approved(sid)
        await trigger.drain()
    assert factory.store.matches == {}
    assert [r.__dict__.get("event") for r in caplog.records] == ["matching_failed"]
    summary = await trigger.run(None)  # the periodic full run
    assert summary is not None and summary.pending_review == 2
    assert len(await uc.matching.matches(state=MatchState.PENDING_REVIEW)) == 2


async def test_a_stop_cancels_a_run_that_outlasts_its_grace_and_nothing_is_written() -> None:
    factory = InMemoryUnitOfWorkFactory()
    sid = await _approved(factory)
    uc = UseCases.over(uow=factory, policy=lambda: POLICY)
    trigger = MatchTrigger(usecases=uc, clock=FixedClock(T0))
    started = asyncio.Event()
    never = asyncio.Event()

    async def slow_run(*, now: datetime, statement: int | None = None) -> RunSummary:
        started.set()
        await never.wait()  # a run longer than any stop may wait
        raise AssertionError("cancelled before this")

    uc.matching.run = slow_run  # type: ignore[method-assign]
    trigger.approved(sid)
    await started.wait()
    loop = asyncio.get_running_loop()
    began = loop.time()
    await trigger.drain(0.2)
    assert loop.time() - began < 2  # bounded by the grace, not by the run
    assert factory.store.matches == {}
    # The trigger still works after the cancelled run: the next run matches the statement.
    del uc.matching.run  # back to the class's own run
    trigger.approved(sid)
    await trigger.drain()
    assert len(await uc.matching.matches(state=MatchState.PENDING_REVIEW)) == 2
