"""App Home's count of matches waiting for a person, and the matches a run just wrote
(for its Slack messages), on the fake, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.matching.records import Band
from domain.matching.stored import MatchState
from tests.fakes import T0
from tests.integration.test_match_repository_contract import _match, _statement
from tests.integration.test_repository_contract import Store, store

__all__ = ["store"]

pytestmark = pytest.mark.asyncio


async def test_pending_matches_are_counted_by_the_team_of_their_statement(store: Store) -> None:
    sid = await _statement(store)
    async with store.uows() as uow:
        team = (await uow.statements.get(sid, with_lines=False)).team  # type: ignore[union-attr]
        await uow.matches.add(_match(sid))
        await uow.matches.add(_match(sid, key="m:2"))
        await uow.matches.add(
            _match(sid, key="m:3", band=Band.AUTO_ACCEPTED, state=MatchState.AUTO_ACCEPTED)
        )
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        assert await uow.matches.count_pending() == 2
        assert await uow.matches.count_pending(teams=[team]) == 2
        assert await uow.matches.count_pending(teams=["nobody"]) == 0
        assert await uow.matches.count_pending(teams=[]) == 0


async def test_the_matches_a_run_wrote_are_found_by_their_time(store: Store) -> None:
    sid = await _statement(store)
    later = T0 + timedelta(minutes=5)
    async with store.uows() as uow:
        old = await uow.matches.add(_match(sid))
        new = await uow.matches.add(_match(sid, key="m:2", created_at=later, updated_at=later))
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        assert await uow.matches.changed_since(statement_id=sid, since=later) == [new]
        found = await uow.matches.changed_since(statement_id=sid, since=T0)
        assert [m.id for m in found] == [old.id, new.id]
        assert await uow.matches.changed_since(statement_id=sid + 1, since=T0) == []
