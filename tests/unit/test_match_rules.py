"""Issue 12's remaining rules through the use cases, on the in-memory store: the
counterparty's historical match rate in routing's priority, unmatched items closed when
a later run matches them, and a person's accept attributed to that person."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.intake import IntakeRow
from domain.items import Item
from domain.routing import prepare
from tests.builders import make_facts, make_policy
from tests.fakes import InMemoryUnitOfWorkFactory
from tests.statement_files import statement_policy_overrides
from tests.unit.test_matching_usecases import NOW, _setup

pytestmark = pytest.mark.asyncio


def _by_external(factory: InMemoryUnitOfWorkFactory, external_id: str) -> Item:
    return next(i for i in factory.store.items.values() if i.facts.external_id == external_id)


async def test_intake_routes_with_the_counterparty_match_rate_read_once_per_batch() -> None:
    uc, factory, _ = await _setup()
    await uc.matching.run(now=NOW)
    reads = factory.store.history_reads
    rows = [
        IntakeRow(line=n, facts=make_facts(external_id=f"X-{n}", counterparty=name))
        for n, name in enumerate(["Globex", "Initech", "Hooli", "Globex", None], start=2)
    ]
    later = NOW + timedelta(hours=2)
    await uc.intake.ingest(rows, now=later)
    assert factory.store.history_reads == reads + 1
    globex, initech, hooli = (_by_external(factory, f"X-{n}") for n in (2, 3, 4))
    # Globex's one line matched at 100; Initech's one only in the review band.
    assert globex.reasons[-1] == "match rate 100% over 90 days, 1 line"
    assert initech.reasons[-1] == "match rate 0% over 90 days, 1 line"
    assert hooli.reasons[-1] == "no match history over 90 days: match rate neutral 50%"
    assert _by_external(factory, "X-6").reasons[-1] == "no counterparty: match rate neutral 50%"
    assert initech.priority > hooli.priority > globex.priority
    # The audit record of the routing says it too.
    record = next(
        a for a in factory.store.audit if a.event == "item.ingested" and a.item_id == globex.id
    )
    assert isinstance(record.data, dict)
    assert "match rate 100% over 90 days, 1 line" in record.data["reasons"]


async def test_a_decision_made_ahead_is_routed_again_for_a_counterparty_with_history() -> None:
    uc, factory, _ = await _setup()
    await uc.matching.run(now=NOW)
    loaded = make_policy(**statement_policy_overrides())
    initech, hooli = (
        prepare(
            IntakeRow(line=n, facts=make_facts(external_id=f"P-{n}", counterparty=name)), loaded
        )
        for n, name in ((2, "Initech"), (3, "Hooli"))
    )
    assert initech.decision is not None and hooli.decision is not None
    assert initech.decision.reasons[-1].startswith("no match history")
    await uc.intake.ingest([initech, hooli], now=NOW + timedelta(hours=1))
    assert _by_external(factory, "P-2").reasons[-1] == "match rate 0% over 90 days, 1 line"
    assert _by_external(factory, "P-2").priority > initech.decision.priority
    # Without history the decision made ahead stands as it was.
    assert _by_external(factory, "P-3").priority == hooli.decision.priority
    assert _by_external(factory, "P-3").reasons == hooli.decision.reasons
