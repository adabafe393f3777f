"""Ledger import and FX import through the use cases, and the rate provenance that
intake and write-off decisions record, against the in-memory unit of work."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.audit.records import AuditEntry
from domain.errors import PolicyError
from domain.fx import FxRate
from domain.gl import LedgerEntry, LedgerRow, MatchStatus, parse_ledger_row
from domain.intake import IntakeRow, RowError
from domain.items import DisputeCategory, DisputeOutcome, ReviewState, Route
from domain.policy import LedgerColumns, parse_policy, policy_version
from domain.usecases import UseCases
from domain.usecases.fx import RateProblem
from handlers.blocks.items import write_off_progress
from tests.builders import make_facts, make_policy, policy_text
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory

FRI, SAT, MON = date(2026, 12, 4), date(2026, 12, 5), date(2026, 12, 7)
DEFAULT_COLUMNS = LedgerColumns().mapping()


def records(factory: InMemoryUnitOfWorkFactory, event: str) -> list[AuditEntry]:
    return [e for e in factory.audit_entries if e.event == event]


def data_of(entry: AuditEntry) -> dict[str, Any]:
    assert isinstance(entry.data, dict)
    return entry.data


# --- the policy's ledger.columns -------------------------------------------------------


def test_the_ledger_section_is_optional_and_leaves_the_policy_version_alone() -> None:
    plain = make_policy()
    assert plain.policy.ledger.columns.mapping() == {f: f for f in DEFAULT_COLUMNS}
    spelled_out = make_policy(ledger={"columns": {"amount": "amount"}})
    assert spelled_out.version == plain.version == policy_version(plain.policy)
    mapped = make_policy(ledger={"columns": {"amount": "Betrag"}})
    assert mapped.version != plain.version
    assert mapped.policy.ledger.columns.mapping()["amount"] == "Betrag"


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        ({"amount": ""}, "ledger.columns.amount: must name a column"),
        ({"amout": "x"}, "ledger.columns.amout: Extra inputs are not permitted"),
        ({"date": "amount"}, "each field needs its own column; shared: 'amount' (date, amount)"),
    ],
)
def test_a_bad_column_mapping_is_named_by_its_field(columns: dict[str, str], problem: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(policy_text(ledger={"columns": columns}))
    assert any(problem in line for line in caught.value.problems), caught.value.problems


# --- ledger rows -----------------------------------------------------------------------


def ledger_row(**values: str) -> dict[str, str]:
    return {
        "entry_id": "GL-1",
        "account": "1100",
        "date": "2026-12-04",
        "amount": "-310.45",
        "currency": "eur",
        **values,
    }


def test_a_ledger_row_is_read_through_the_column_mapping() -> None:
    columns = {**DEFAULT_COLUMNS, "amount": "Betrag", "entry_id": "Buchung"}
    got = parse_ledger_row(
        {
            "Buchung": "GL-9",
            "account": "1100",
            "date": "2026-12-04",
            "Betrag": "12.5",
            "currency": "EUR",
            "description": "fee\u202e",
        },
        line=2,
        columns=columns,
    )
    assert got == LedgerEntry(
        entry_id="GL-9",
        account="1100",
        booked_on=FRI,
        amount=Decimal("12.50"),
        currency="EUR",
        description="fee\ufffd",  # a bidi override in text people read is made visible
    )
    missing = parse_ledger_row(ledger_row(), line=3, columns=columns)
    assert missing == RowError(line=3, field="entry_id", error="is required (column 'Buchung')")


@pytest.mark.parametrize(
    ("values", "field", "says"),
    [
        (ledger_row(date="2026-12-32"), "date", "is not a date"),
        (ledger_row(amount="99.999"), "amount", "more decimals than EUR allows"),
        (ledger_row(amount="ten"), "amount", "not a decimal"),
        (ledger_row(currency="EUQ"), "currency", "unknown currency"),
        (ledger_row(account=""), "account", "is required"),
        (ledger_row(entry_id="GL\u202e1"), "entry_id", "U+202E"),
    ],
)
def test_a_bad_ledger_row_names_its_field(values: dict[str, str], field: str, says: str) -> None:
    got = parse_ledger_row(values, line=5, columns=DEFAULT_COLUMNS)
    assert isinstance(got, RowError) and (got.line, got.field) == (5, field)
    assert says in got.error


# --- ledger import ---------------------------------------------------------------------


def entry(entry_id: str, amount: str = "100.00", **overrides: Any) -> LedgerEntry:
    values: dict[str, Any] = {
        "entry_id": entry_id,
        "account": "1100",
        "booked_on": FRI,
        "amount": Decimal(amount),
        "currency": "EUR",
        "reference": f"REF-{entry_id}",
    }
    values.update(overrides)
    return LedgerEntry(**values)


def lrows(*entries: LedgerEntry) -> list[LedgerRow]:
    return [LedgerRow(line=i + 2, entry=e, raw=e.entry_id) for i, e in enumerate(entries)]


async def test_good_rows_land_bad_rows_are_quarantined_and_each_entry_is_audited(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    run = await usecases.gl.start(file_name="gl.csv", policy_text="p", now=clock.now())
    bad = RowError(line=4, field="date", error="'2026-12-32' is not a date (YYYY-MM-DD)")
    result = await usecases.gl.import_rows(
        lrows(entry("GL-1"), entry("GL-2")),
        rejected=[(bad, "GL-3,1100,2026-12-32")],
        run_id=run,
        now=clock.now(),
    )
    assert (result.read, result.inserted, result.unchanged, result.amended, result.rejected) == (
        3,
        2,
        0,
        0,
        1,
    )
    assert result.rejected_rows == [bad]
    stored = uow_factory.store.gl
    assert {k: (s.version, s.match_status) for k, s in stored.items()} == {
        ("GL-1", "1100"): (1, MatchStatus.UNMATCHED),
        ("GL-2", "1100"): (1, MatchStatus.UNMATCHED),
    }
    [quarantined] = uow_factory.store.quarantine
    assert (quarantined.run_id, quarantined.error, quarantined.raw) == (
        run,
        bad,
        "GL-3,1100,2026-12-32",
    )
    imported = records(uow_factory, "ledger.entry_imported")
    assert [data_of(r)["entry_id"] for r in imported] == ["GL-1", "GL-2"]
    assert data_of(imported[0])["content"]["amount"] == "100.00"
    await usecases.gl.finish(
        run_id=run, result=result, file_sha256="ab" * 32, file_name="gl.csv", now=clock.now()
    )
    [done] = records(uow_factory, "ledger.import_completed")
    assert data_of(done)["inserted"] == 2 and data_of(done)["sha256"] == "ab" * 32
    assert uow_factory.store.runs[run].source == "ledger"


async def test_the_same_entry_again_changes_nothing_and_changed_content_is_a_new_version(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await usecases.gl.import_rows(lrows(entry("GL-1"), entry("GL-2")), now=clock.now())
    audited = len(uow_factory.audit_entries)
    again = await usecases.gl.import_rows(lrows(entry("GL-1"), entry("GL-2")), now=clock.now())
    assert (again.inserted, again.unchanged, again.amended) == (0, 2, 0)
    assert len(uow_factory.audit_entries) == audited

    changed = entry("GL-2", "99.50")
    revised = await usecases.gl.import_rows(lrows(entry("GL-1"), changed), now=clock.now())
    assert (revised.inserted, revised.unchanged, revised.amended) == (0, 1, 1)
    stored = uow_factory.store.gl[("GL-2", "1100")]
    assert (stored.entry, stored.version) == (changed, 2)
    [record] = records(uow_factory, "ledger.entry_revised")
    data = data_of(record)
    assert (data["version"], data["content"]["amount"], data["previous"]["amount"]) == (
        2,
        "99.50",
        "100.00",
    )
    assert data["previous_hash"] == entry("GL-2").content_hash()


async def test_a_repeated_key_in_one_batch_is_stored_then_compared(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    result = await usecases.gl.import_rows(
        lrows(entry("GL-1"), entry("GL-1"), entry("GL-1", "5.00")), now=clock.now()
    )
    assert (result.inserted, result.unchanged, result.amended) == (1, 1, 1)
    assert uow_factory.store.gl[("GL-1", "1100")].version == 2


async def test_a_matched_entry_is_never_rewritten_its_changed_row_is_refused(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await usecases.gl.import_rows(lrows(entry("GL-1")), now=clock.now())
    async with uow_factory() as uow:
        await uow.gl.set_match_status(("GL-1", "1100"), MatchStatus.MATCHED, now=clock.now())
        await uow.commit()
    run = await usecases.gl.start(file_name="gl.csv", policy_text="p", now=clock.now())
    same = await usecases.gl.import_rows(lrows(entry("GL-1")), run_id=run, now=clock.now())
    assert (same.unchanged, same.rejected) == (1, 0)  # unchanged content is fine
    result = await usecases.gl.import_rows(
        lrows(entry("GL-1", "1.00"), entry("GL-9")), run_id=run, now=clock.now()
    )
    assert (result.inserted, result.amended, result.rejected) == (1, 0, 1)
    [refusal] = result.rejected_rows
    assert (refusal.line, refusal.field) == (2, "entry_id")
    assert "is matched (version 1)" in refusal.error and "reverse the match" in refusal.error
    stored = uow_factory.store.gl[("GL-1", "1100")]
    assert stored.entry == entry("GL-1") and stored.version == 1
    assert [q.error for q in uow_factory.store.quarantine] == [refusal]
    assert records(uow_factory, "ledger.entry_revised") == []


# --- fx import -------------------------------------------------------------------------


def rate(on: date, currency: str, value: str, source: str = "ECB") -> FxRate:
    return FxRate(on=on, base="EUR", currency=currency, rate=Decimal(value), source=source)


async def test_a_reimport_is_a_no_op_and_a_new_rate_for_a_key_replaces_it_audited(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    first = [rate(FRI, "USD", "1.0850"), rate(FRI, "GBP", "0.8569")]
    problem = RateProblem(where="line 4", field="rate", error="0 must be positive", line=4)
    result = await usecases.fx.import_rates(
        first,
        file_name="a.xml",
        file_format="ecb",
        sha256="0" * 64,
        now=clock.now(),
        rejected=[problem],
    )
    assert result.summary() == {
        "read": 3,
        "inserted": 2,
        "unchanged": 0,
        "replaced": 0,
        "rejected": 1,
        "rejected_rows": [
            {"line": 4, "where": "line 4", "field": "rate", "error": "0 must be positive"}
        ],
    }
    again = await usecases.fx.import_rates(
        [rate(FRI, "USD", "1.08500"), *first[1:]],
        file_name="a.xml",
        file_format="ecb",
        sha256="0" * 64,
        now=clock.now(),
    )
    assert (again.inserted, again.unchanged, again.replaced) == (0, 2, 0)
    corrected = await usecases.fx.import_rates(
        [rate(FRI, "USD", "1.0851")],
        file_name="b.xml",
        file_format="ecb",
        sha256="1" * 64,
        now=clock.now(),
    )
    assert (corrected.inserted, corrected.unchanged, corrected.replaced) == (0, 0, 1)
    assert uow_factory.store.fx_rates[(FRI, "EUR", "USD", "ECB")].rate == Decimal("1.0851")
    [replaced] = records(uow_factory, "fx.rate_replaced")
    assert {k: data_of(replaced)[k] for k in ("previous", "rate", "currency", "file")} == {
        "previous": "1.085",
        "rate": "1.0851",
        "currency": "USD",
        "file": "b.xml",
    }
    completed = records(uow_factory, "fx.import_completed")
    assert [data_of(c)["inserted"] for c in completed] == [2, 0, 0]
    assert data_of(completed[0])["first_date"] == "2026-12-04"


# --- provenance in decisions -----------------------------------------------------------


async def store_rates(usecases: UseCases, clock: FixedClock, *rates: FxRate) -> None:
    await usecases.fx.import_rates(
        list(rates), file_name="r.xml", file_format="ecb", sha256="0" * 64, now=clock.now()
    )


async def test_intake_routes_at_the_dated_rate_and_its_record_names_rate_date_and_source(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    # Reporting USD. EUR->USD from the ECB on Friday; a GBP item converts through EUR.
    await store_rates(
        usecases,
        clock,
        rate(FRI, "USD", "1.0850"),
        rate(FRI, "GBP", "0.8680"),
        rate(MON, "USD", "1.2000"),
    )
    eur = make_facts(external_id="E-1", currency="EUR", amount=Decimal("9200.00"), booked_on=SAT)
    gbp = make_facts(external_id="G-1", currency="GBP", amount=Decimal("100.00"), booked_on=SAT)
    usd = make_facts(external_id="U-1", currency="USD", amount=Decimal("100.00"), booked_on=SAT)
    result = await usecases.intake.ingest(
        [IntakeRow(line=i + 2, facts=f) for i, f in enumerate((eur, gbp, usd))], now=clock.now()
    )
    assert result.inserted == 3
    by_item = {data_of(r)["currency"]: data_of(r) for r in records(uow_factory, "item.ingested")}
    # 9,200 EUR x 1.0850 = 9,982 USD: below materiality, so the digest (the static 1.08
    # rate would have given 9,936 too; Monday's 1.20 would have made it material).
    assert by_item["EUR"]["reporting_amount"] == "9982.00"
    assert by_item["EUR"]["fx"] == {
        "currency": "EUR",
        "to": "USD",
        "rate": "1.085",
        "date": "2026-12-04",
        "source": "ECB",
        "basis": "1 EUR = 1.085 USD",
    }
    assert by_item["GBP"]["reporting_amount"] == "125.00"  # 1.0850 / 0.8680 = 1.25
    assert by_item["GBP"]["fx"]["rate"] == "1.25"
    assert "fx" not in by_item["USD"]
    assert uow_factory.store.items[1].route is Route.DIGEST

    # The item keeps the rate, and its approval's record repeats it: the approvals it
    # needs came from the amount that rate gave.
    eur_item = uow_factory.store.items[1]
    assert eur_item.fx is not None and eur_item.fx.audit_data() == by_item["EUR"]["fx"]
    await usecases.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now())
    [approval] = records(uow_factory, "item.approval_recorded")
    assert data_of(approval)["fx"] == by_item["EUR"]["fx"]
    assert data_of(approval)["required"] == 1


async def test_without_stored_rates_intake_records_the_policy_rate_it_used(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    eur = make_facts(external_id="E-1", currency="EUR", amount=Decimal("100.00"), booked_on=SAT)
    await usecases.intake.ingest([IntakeRow(line=2, facts=eur)], now=clock.now())
    [ingested] = records(uow_factory, "item.ingested")
    fx = data_of(ingested)["fx"]
    assert (fx["rate"], fx["date"], fx["source"]) == ("1.08", None, "policy fx_rates")


async def test_a_write_off_is_sized_at_the_dated_rate_and_its_records_say_so(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    loaded = make_policy()  # dual control from 10,000 USD; static EUR 1.08
    usecases = UseCases.over(uow=uow_factory, policy=lambda: loaded)
    await store_rates(usecases, clock, rate(FRI, "USD", "1.1000"))
    facts = make_facts(external_id="E-1", currency="EUR", amount=Decimal("9200.00"), booked_on=FRI)
    await usecases.intake.ingest([IntakeRow(line=2, facts=facts)], now=clock.now())
    await usecases.disputes.open_dispute(
        item_id=1,
        actor="U0BOB",
        now=clock.now(),
        category=DisputeCategory.AMOUNT_MISMATCH,
        description="the counterparty short paid",
    )
    clock.advance(timedelta(hours=1))
    # 9,200 EUR x 1.10 = 10,120 USD >= 10,000: two sign-offs (at the static 1.08: 9,936, one).
    first = await usecases.disputes.resolve_dispute(
        item_id=1,
        actor="U0LEAD",
        now=clock.now(),
        outcome=DisputeOutcome.WRITTEN_OFF,
        note="not worth chasing",
        amount=Decimal("9200.00"),
    )
    assert first.item.state is ReviewState.DISPUTED  # waiting for the second sign-off
    [approval] = records(uow_factory, "dispute.write_off_approval")
    assert data_of(approval)["required"] == 2
    assert data_of(approval)["fx"]["rate"] == "1.1"
    assert data_of(approval)["fx"]["date"] == "2026-12-04"
    assert data_of(approval)["fx"]["source"] == "ECB"
    # The card counts the sign-offs that decision asked for, not the static-rate rule's one.
    stored = uow_factory.store.items[1]
    assert stored.dispute is not None and stored.dispute.write_off_required == 2
    progress = write_off_progress(stored, loaded.policy)
    assert progress is not None and "1 of 2 sign-offs" in progress


def test_entries_compare_by_content() -> None:
    # The content hash ignores nothing the entry holds, and equal content hashes equal.
    base = entry("GL-1")
    assert base.content_hash() == dataclasses.replace(base).content_hash()
    for change in ({"description": "x"}, {"booked_on": MON}, {"counterparty": "y"}):
        assert dataclasses.replace(base, **change).content_hash() != base.content_hash()


async def test_an_amended_item_without_booked_on_keeps_the_rate_of_its_first_ingest_day(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    first_day = clock.now().date()
    later = first_day + timedelta(days=30)
    middle = first_day + timedelta(days=10)
    await store_rates(
        usecases,
        clock,
        rate(first_day, "USD", "1.2000"),
        rate(middle, "USD", "1.3000"),
        rate(later, "USD", "1.5000"),
    )
    facts = make_facts(external_id="E-1", currency="EUR", amount=Decimal("100.00"))
    await usecases.intake.ingest([IntakeRow(line=2, facts=facts)], now=clock.now())
    clock.advance(timedelta(days=30))
    changed = dataclasses.replace(facts, amount=Decimal("200.00"))
    result = await usecases.intake.ingest([IntakeRow(line=2, facts=changed)], now=clock.now())
    assert result.amended == 1
    [ingested] = records(uow_factory, "item.ingested")
    [amended] = records(uow_factory, "item.amended")
    assert data_of(ingested)["fx"]["date"] == first_day.isoformat()
    routing = data_of(amended)  # the amended record holds the new routing's data
    assert routing["fx"]["date"] == first_day.isoformat()
    assert routing["reporting_amount"] == "240.00"  # at 1.20, not the later 1.30 or 1.50
