"""Decision spans (issue 13): every decision through ``Transactions.decide`` is a span
named for its action, with ``ledger.reconciliation.signoff.*`` attributes, and under
dual control ``compliance.dual_control.*`` ones (approvals so far and required). No
attribute carries the actor's words; the final sign-off lands in the histogram.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client.parser import text_string_to_metric_families

from domain.errors import NotAuthorized
from domain.intake import IntakeRow
from domain.policy import LoadedPolicy
from domain.usecases import UseCases
from telemetry.metrics import Metrics
from telemetry.tracing import OtelTelemetry
from tests.builders import make_facts
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory
from tests.unit.test_services import BIG, add_item

NOTE = "secret-ish note: wire ref 4471 to acct 99-1234"
REASON = "counterparty disputes the amount of 4471"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    made = Metrics()
    yield made
    made.shutdown()


@pytest.fixture
def traced(
    uow_factory: InMemoryUnitOfWorkFactory,
    loaded_policy: LoadedPolicy,
    exporter: InMemorySpanExporter,
    metrics: Metrics,
) -> UseCases:
    telemetry = OtelTelemetry(metrics=metrics, exporter=exporter, environ={})
    return UseCases.over(uow=uow_factory, policy=lambda: loaded_policy, telemetry=telemetry)


def _signoff_count(metrics: Metrics) -> dict[str, float]:
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics.scrape().decode()):
        for sample in family.samples:
            if sample.name == "recon_signoff_seconds_count":
                counts[sample.labels["kind"]] = sample.value
    return counts


def _no_free_text(exporter: InMemorySpanExporter) -> None:
    for span in exporter.get_finished_spans():
        for value in (span.attributes or {}).values():
            assert NOTE not in str(value) and REASON not in str(value)
            assert "4471" not in str(value)


async def test_single_approval_is_a_signoff_span_without_dual_control(
    traced: UseCases,
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    exporter: InMemorySpanExporter,
    metrics: Metrics,
) -> None:
    item = await add_item(traced, uow_factory, clock)
    assert item.required_approvals == 1
    clock.advance(timedelta(minutes=30))
    await traced.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now(), note=NOTE)

    (span,) = exporter.get_finished_spans()
    assert span.name == "recon.approve"
    attributes = dict(span.attributes or {})
    assert attributes["ledger.reconciliation.signoff.action"] == "approve"
    assert attributes["ledger.reconciliation.signoff.item"] == "R-1"
    assert attributes["ledger.reconciliation.signoff.outcome"] == "approved"
    assert attributes["ledger.reconciliation.signoff.team"] == item.team
    assert not [k for k in attributes if k.startswith("compliance.dual_control")]
    _no_free_text(exporter)
    # Routed at ingest, signed off 30 minutes later: one observation of 1800 s.
    assert _signoff_count(metrics) == {item.kind.value: 1.0}
    assert "recon_signoff_seconds_sum" in metrics.scrape().decode()
    assert 'recon_signoff_seconds_sum{kind="' + item.kind.value + '"} 1800.0' in (
        metrics.scrape().decode()
    )


async def test_dual_control_spans_count_approvals_so_far_and_required(
    traced: UseCases,
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    exporter: InMemorySpanExporter,
    metrics: Metrics,
) -> None:
    item = await add_item(traced, uow_factory, clock, amount=BIG)
    assert item.required_approvals == 2
    await traced.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now(), note=NOTE)
    assert _signoff_count(metrics) == {}  # not signed off yet: one approval of two
    await traced.decisions.approve(item_id=1, actor="U0BOB", now=clock.now())
    # A repeat by the same approver is a no-op, and says so.
    await traced.decisions.approve(item_id=1, actor="U0BOB", now=clock.now())

    first, second, repeat = exporter.get_finished_spans()
    assert [s.name for s in (first, second, repeat)] == ["recon.approve"] * 3
    one = dict(first.attributes or {})
    assert one["compliance.dual_control.item"] == "R-1"
    assert one["compliance.dual_control.approvals"] == 1
    assert one["compliance.dual_control.required"] == 2
    assert one["compliance.dual_control.outcome"] == "awaiting_second_approval"
    two = dict(second.attributes or {})
    assert two["compliance.dual_control.approvals"] == 2
    assert two["compliance.dual_control.outcome"] == "approved"
    assert two["ledger.reconciliation.signoff.outcome"] == "approved"
    assert dict(repeat.attributes or {})["ledger.reconciliation.signoff.outcome"] == "repeat"
    _no_free_text(exporter)
    assert _signoff_count(metrics) == {item.kind.value: 1.0}  # the repeat adds nothing


async def test_a_refusal_is_an_error_span_naming_the_class_not_the_sentence(
    traced: UseCases,
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    exporter: InMemorySpanExporter,
    metrics: Metrics,
) -> None:
    await add_item(traced, uow_factory, clock, prepared_by="U0ALICE")
    with pytest.raises(NotAuthorized):
        await traced.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now())
    await traced.decisions.reject(item_id=1, actor="U0BOB", reason=REASON, now=clock.now())

    refused, rejected = exporter.get_finished_spans()
    assert refused.status.status_code is StatusCode.ERROR
    assert refused.status.description == "NotAuthorized"
    assert not refused.events  # no exception event: its message is a sentence
    assert dict(refused.attributes or {})["ledger.reconciliation.signoff.outcome"] == "refused"
    assert rejected.name == "recon.reject"
    assert dict(rejected.attributes or {})["ledger.reconciliation.signoff.outcome"] == "rejected"
    _no_free_text(exporter)
    assert sum(_signoff_count(metrics).values()) == 1.0  # a rejection is a final sign-off


async def test_without_telemetry_nothing_is_recorded_and_decisions_work(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    done = await usecases.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now())
    assert done.item.state.value == "approved"


def test_otlp_export_only_when_the_standard_variables_name_an_endpoint() -> None:
    from telemetry.tracing import otlp_configured

    assert not otlp_configured({})
    assert not otlp_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": ""})
    assert otlp_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert otlp_configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1"})


async def test_statement_decisions_are_spans_too(exporter: InMemorySpanExporter) -> None:
    from domain.usecases.statements import Statements
    from tests.statement_files import statement, statement_file
    from tests.unit.test_statement_usecases import T0, Desk

    desk = Desk()
    desk.cases = Statements(
        uow=desk.uows,
        policy=lambda: desk.loaded,
        parser=desk.parser,
        telemetry=OtelTelemetry(exporter=exporter, environ={}),
    )
    await desk.load(statement_file(statement()))
    with pytest.raises(NotAuthorized):
        await desk.cases.approve(statement_id=1, actor="U0STRANGER", now=T0)
    await desk.cases.reject(statement_id=1, actor="U0ALICE", reason=REASON, now=T0)

    refused, rejected = exporter.get_finished_spans()
    assert refused.name == rejected.name.replace("reject", "approve") == "recon.statement_approve"
    assert refused.status.status_code is StatusCode.ERROR
    attributes = dict(rejected.attributes or {})
    assert attributes["ledger.reconciliation.signoff.kind"] == "statement"
    assert attributes["ledger.reconciliation.signoff.outcome"] == "rejected"
    assert (
        attributes["ledger.reconciliation.signoff.item"] == desk.uows.store.statements[1].human_id
    )
    _no_free_text(exporter)


async def test_a_bulk_digest_approval_is_one_span_and_signs_off_each_item(
    traced: UseCases,
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    exporter: InMemorySpanExporter,
    metrics: Metrics,
) -> None:
    facts = [make_facts(external_id=f"D{n}", amount=Decimal("40.00")) for n in range(3)]
    await traced.intake.ingest(
        [IntakeRow(line=n + 2, facts=f) for n, f in enumerate(facts)], now=clock.now()
    )
    assert await traced.digests.digest_window(window="w1", now=clock.now())
    (cluster_id,) = uow_factory.store.clusters
    done = await traced.digests.decide_cluster(
        cluster_id=cluster_id, actor="U0BOB", now=clock.now(), approve=True
    )
    assert len(done.items) == 3

    (span,) = exporter.get_finished_spans()
    assert span.name == "recon.bulk_approve"
    attributes = dict(span.attributes or {})
    assert attributes["ledger.reconciliation.signoff.items"] == 3
    assert attributes["ledger.reconciliation.signoff.outcome"] == done.cluster.state.value
    assert attributes["ledger.reconciliation.signoff.team"] == done.cluster.team
    assert _signoff_count(metrics) == {"unmatched": 3.0}
