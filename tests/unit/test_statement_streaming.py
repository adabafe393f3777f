"""Statement imports over a stream: each batch is stored before the next is read, a
parser failing half-way keeps what came before, and outcomes are counted as metrics."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from prometheus_client.parser import text_string_to_metric_families

from domain.statements.parsed import (
    ParsedStatement,
    ParseItem,
    ParseProblem,
    ParseStream,
    StatementFormat,
)
from domain.statements.records import content_hash
from domain.usecases import statements as statement_cases
from domain.usecases.statements import ImportReport, Statements
from telemetry.metrics import Metrics
from telemetry.tracing import OtelTelemetry
from tests.fakes import T0
from tests.statement_files import JsonStatementParser, line, statement, statement_file
from tests.unit.test_statement_usecases import DAY2, Desk


def _parsed(*raws: dict[str, object]) -> Sequence[ParsedStatement]:
    return JsonStatementParser()(statement_file(*raws)).statements


def _stored(desk: Desk) -> list[str | None]:
    return [s.statement_id for s in desk.uows.store.statements.values()]


async def _import(desk: Desk, items: Iterator[ParseItem]) -> ImportReport:
    stream = ParseStream(format=StatementFormat.CAMT053, items=items)
    return await desk.cases.import_file(
        file_name="bank.xml", data=b"<bank/>", result=stream, now=T0
    )


async def test_each_statement_is_committed_before_the_parser_reads_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Batches of one statement (the small ones share a transaction otherwise).
    monkeypatch.setattr(statement_cases, "BATCH_STATEMENTS", 1)
    desk = Desk()
    first, second = _parsed(statement(), DAY2)
    seen_when_asked: list[list[str | None]] = []

    def items() -> Iterator[ParseItem]:
        yield first
        seen_when_asked.append(_stored(desk))
        yield second
        seen_when_asked.append(_stored(desk))

    await _import(desk, items())
    # An importer that read the whole stream first would have stored nothing by then.
    assert seen_when_asked == [["STMT-1"], ["STMT-1", "STMT-2"]]


async def test_a_parser_failing_half_way_keeps_the_statements_before_it() -> None:
    desk = Desk()
    (first,) = _parsed(statement())

    def items() -> Iterator[ParseItem]:
        yield first
        raise ValueError("the file ends inside statement 2")

    report = await _import(desk, items())
    assert _stored(desk) == ["STMT-1"]
    assert report.to_json() == {
        "files": 1, "statements": 1, "imported": 1, "unchanged": 0, "revised": 0,
        "rejected": [{"file": "bank.xml", "statement": None, "where": "",
                      "error": "the file ends inside statement 2"}],
    }  # fmt: skip


async def test_the_original_is_kept_once_even_when_the_first_statement_is_refused() -> None:
    desk = Desk()
    stranger, good = _parsed(statement(account="DE89370400440532013000", statement_id="X-1"),
                             statement())  # fmt: skip
    report = await _import(desk, iter([stranger, good]))
    assert report.imported == 1
    (stored,) = desk.uows.store.statements.values()
    assert desk.uows.store.originals == {stored.sha256: ("bank.xml", b"<bank/>")}


def _import_rows(metrics: Metrics) -> dict[tuple[str, str], float]:
    rows: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(metrics.scrape().decode()):
        for sample in family.samples:
            if sample.name == "recon_import_rows_total":
                rows[(sample.labels["source"], sample.labels["outcome"])] = sample.value
    return rows


async def test_statement_import_outcomes_are_counted_in_the_registry() -> None:
    metrics = Metrics()
    try:
        desk = Desk()
        desk.cases = Statements(
            uow=desk.uows,
            policy=lambda: desk.loaded,
            parser=desk.parser,
            telemetry=OtelTelemetry(metrics=metrics, environ={}),
        )
        stranger = statement(account="DE89370400440532013000", statement_id="X-1")
        problem = {"where": "statement 4, line 2", "error": "truncated", "statement": "S9"}
        await desk.load(statement_file(statement(), stranger, DAY2, problems=[problem]))
        changed = statement(closing="1150.01", lines=[line("200.01"), line("-50.00")])
        await desk.load(statement_file(changed, DAY2))
        assert _import_rows(metrics) == {
            ("statement", "imported"): 2,
            ("statement", "rejected"): 2,
            ("statement", "revised"): 1,
            ("statement", "unchanged"): 1,
        }
    finally:
        metrics.shutdown()


async def test_a_problem_in_the_stream_is_a_rejection_in_file_order() -> None:
    desk = Desk()
    first, second = _parsed(statement(), DAY2)
    problem = ParseProblem(where="Stmt[2] (line 40)", error="bad amount", statement="B")
    report = await _import(desk, iter([first, problem, second]))
    assert (report.statements, report.imported) == (3, 2)
    assert [r.statement for r in report.rejected] == ["B"]


@pytest.mark.parametrize(
    ("raw", "golden"),
    [
        (statement(), "44e1c6e0b1f30b687da0a6fe559845888f4e6eb0a1f062e43deb431b446383a0"),
        (
            statement(lines=[], opening="1.00", closing="1.00"),
            "6caba71a8ef7971d52cd8173f7bb09a77baad1612033ee873f9e3550523c031a",
        ),
        (
            statement(
                lines=[
                    line(
                        f"{i}.0{i % 10}",
                        "2025-03-03",
                        reference=f"R-{i}",
                        counterparty='Müller & Söhne "q"',
                    )
                    for i in range(4500)
                ],
                closing="0",
            ),
            "4b639ff640514a10c107bb3550911c790c75051860c00096bd33552762b5cdc5",
        ),
    ],
)
def test_the_content_hash_fed_in_slices_is_the_whole_documents_hash(
    raw: dict[str, object], golden: str
) -> None:
    # The hex digests are those of the whole-document hash stored before slices: a
    # statement imported then is "unchanged" when imported again now.
    (parsed,) = _parsed(raw)
    assert content_hash(parsed) == golden
