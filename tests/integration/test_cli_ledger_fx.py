"""``recon-bot ledger import`` and ``recon-bot fx import`` as a user runs them: exit codes,
JSON summaries, the column mapping from the policy, hostile files, and the provenance
of the rate an ingest used, with ``audit verify --deep`` still passing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from bot.cli import main
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data"
GERMAN_COLUMNS = """
ledger:
  columns: {entry_id: Buchung, account: Konto, date: Datum, amount: Betrag,
            currency: Waehrung, reference: Beleg, counterparty: Partner, description: Text}
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def json_of(result: Result) -> Any:
    return json.loads(result.stdout)


def init(desk: Path, *, policy_extra: str = "") -> None:
    assert run("init").exit_code == 0
    if policy_extra:
        policy = desk / "policy.yml"
        policy.write_text(policy.read_text(encoding="utf-8") + policy_extra, encoding="utf-8")


def audit_data(desk: Path, event: str) -> list[dict[str, Any]]:
    with sqlite3.connect(desk / "recon.db") as db:
        rows = db.execute(
            "SELECT body FROM audit_records WHERE event = ? ORDER BY seq", (event,)
        ).fetchall()
    return [json.loads(body)["data"] for (body,) in rows]


def test_ledger_import_maps_columns_from_the_policy_and_reports_like_ingest(
    desk_dir: Path,
) -> None:
    init(desk_dir, policy_extra=GERMAN_COLUMNS)
    export = DATA / "ledger" / "gl-export.csv"
    first = run("ledger", "import", str(export), "--json")
    assert first.exit_code == 2  # some rows rejected, the rest stored
    summary = json_of(first)
    assert set(summary) == {
        "read",
        "inserted",
        "unchanged",
        "amended",
        "rejected",
        "reversed",
        "routes",
        "rejected_rows",
        "run",
    }
    assert (summary["read"], summary["inserted"], summary["rejected"]) == (8, 3, 5)
    assert [(r["line"], r["field"]) for r in summary["rejected_rows"]] == [
        (5, "amount"),
        (6, "date"),
        (7, "account"),
        (8, "currency"),
        (9, "amount"),
    ]
    # The same keys as `ingest --json`.
    items = desk_dir / "items.csv"
    items.write_text("external_id,entity,currency,amount\nX-1,ACME-US,USD,1.00\n")
    assert set(json_of(run("ingest", str(items), "--json"))) == set(summary)

    again = run("ledger", "import", str(export), "--json")
    assert again.exit_code == 2
    assert (json_of(again)["inserted"], json_of(again)["unchanged"]) == (0, 3)

    changed = desk_dir / "gl-changed.csv"
    lines = export.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("-310.45", "-310.40")
    changed.write_text("\n".join(lines[:4]) + "\n", encoding="utf-8")
    revised = run("ledger", "import", str(changed), "--json")
    assert revised.exit_code == 0
    assert (json_of(revised)["amended"], json_of(revised)["unchanged"]) == (1, 2)
    [revision] = audit_data(desk_dir, "ledger.entry_revised")
    assert (revision["previous"]["amount"], revision["content"]["amount"]) == ("-310.45", "-310.40")

    quarantined = run("ingest", "--rejected", "--run", str(summary["run"]), "--json")
    assert len(json_of(quarantined)["rejected_rows"]) == 5
    verified = run("audit", "verify", "--deep")
    assert verified.exit_code == 0, verified.output


def test_ledger_import_reads_json_lines_and_refuses_a_file_without_the_mapped_columns(
    desk_dir: Path,
) -> None:
    init(desk_dir, policy_extra=GERMAN_COLUMNS)
    lines = run("ledger", "import", str(DATA / "ledger" / "gl-export.jsonl"), "--json")
    assert lines.exit_code == 2
    summary = json_of(lines)
    assert (summary["inserted"], summary["rejected"]) == (2, 1)
    assert summary["rejected_rows"] == [
        {"line": 3, "field": "amount", "error": "is required (column 'Betrag')"}
    ]
    plain = desk_dir / "plain.csv"
    plain.write_text("entry_id,account,date,amount,currency\nGL-1,1100,2026-12-01,1.00,EUR\n")
    refused = run("ledger", "import", str(plain))
    assert refused.exit_code == 1
    assert "no column for entry_id (column 'Buchung')" in refused.output
    assert "ledger.columns" in refused.output


def test_fx_import_of_ecb_files_and_a_csv_with_bad_rows(desk_dir: Path) -> None:
    init(desk_dir)
    hist = run("fx", "import", str(DATA / "fx" / "eurofxref-hist.xml"), "--json")
    assert hist.exit_code == 2  # two bad elements
    summary = json_of(hist)
    assert (summary["read"], summary["inserted"], summary["rejected"]) == (14, 12, 2)
    assert [r["where"] for r in summary["rejected_rows"]] == [
        "Cube time=2026-12-02 currency=XYZ",
        "Cube time=2026-12-02 currency=SEK",
    ]
    daily = run("fx", "import", str(DATA / "fx" / "eurofxref-daily.xml"), "--json")
    assert daily.exit_code == 0 and json_of(daily)["inserted"] == 4
    again = run("fx", "import", str(DATA / "fx" / "eurofxref-daily.xml"), "--json")
    assert (json_of(again)["inserted"], json_of(again)["unchanged"]) == (0, 4)

    rates = run("fx", "import", str(DATA / "fx" / "rates.csv"), "--json")
    assert rates.exit_code == 2
    csv_summary = json_of(rates)
    assert (csv_summary["inserted"], csv_summary["rejected"]) == (3, 5)
    assert [(r["line"], r["field"]) for r in csv_summary["rejected_rows"]] == [
        (4, "date"),
        (5, "currency"),
        (6, "rate"),
        (7, "rate"),
        (8, "rate"),
    ]
    with sqlite3.connect(desk_dir / "recon.db") as db:
        stored = db.execute(
            "SELECT base, currency, rate, source FROM fx_rates WHERE currency = 'CAD'"
        ).fetchall()
    # No base and no source: the policy's reporting currency and the file name.
    assert stored == [("USD", "CAD", "1.3981", "rates.csv")]
    assert run("audit", "verify", "--deep").exit_code == 0


def test_hostile_xml_is_refused_and_nothing_is_stored(desk_dir: Path) -> None:
    init(desk_dir)
    hostile = desk_dir / "rates.xml"
    hostile.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">'
        '<Cube><Cube time="2026-12-04"><Cube currency="USD" rate="&x;"/></Cube></Cube>'
        "</gesmes:Envelope>\n"
    )
    refused = run("fx", "import", str(hostile), "--json")
    assert refused.exit_code == 1
    assert "declares a DTD" in refused.output
    with sqlite3.connect(desk_dir / "recon.db") as db:
        assert db.execute("SELECT count(*) FROM fx_rates").fetchone() == (0,)


def test_ingest_after_fx_import_routes_at_the_dated_rate_and_records_its_provenance(
    desk_dir: Path,
) -> None:
    init(desk_dir)
    assert run("fx", "import", str(DATA / "fx" / "eurofxref-hist.xml")).exit_code == 2
    items = desk_dir / "items.csv"
    items.write_text(
        "external_id,entity,currency,amount,booked_on\n"
        "E-1,ACME-DE,EUR,100.00,2026-12-05\n"  # a Saturday: Friday's rate
        "G-1,ACME-UK,GBP,100.00,2026-12-03\n"  # cross rate through EUR
        "S-1,ACME-SE,SEK,100.00,2026-12-03\n"  # no rate anywhere
    )
    assert run("ingest", str(items), "--json").exit_code == 0
    routed = {d["currency"]: d for d in audit_data(desk_dir, "item.ingested")}
    assert routed["EUR"]["fx"]["date"] == "2026-12-04"
    assert routed["EUR"]["fx"]["source"] == "ECB"
    assert routed["EUR"]["reporting_amount"] == "108.50"
    # GBP -> USD on Thursday = 1.0795 / 0.85500 = 1.26257309942 (12 significant digits).
    assert routed["GBP"]["fx"]["rate"] == "1.26257309942"
    assert routed["GBP"]["reporting_amount"] == "126.26"
    assert "fx" not in routed["SEK"] and routed["SEK"]["route"] == "immediate"
    assert any("no FX rate for SEK" in r for r in routed["SEK"]["reasons"])
    verified = run("audit", "verify", "--deep")
    assert verified.exit_code == 0, verified.output


def test_a_missing_file_is_one_sentence_before_the_store_is_opened(desk_dir: Path) -> None:
    # No `recon-bot init`: the missing file is reported, not the missing desk.
    for family in ("ledger", "fx"):
        for extra in ((), ("--json",)):
            missing = run(family, "import", "nope.csv", *extra)
            assert (missing.exit_code, missing.stdout) == (1, "")
            assert missing.stderr == "error: nope.csv does not exist\n"


def test_both_import_commands_take_a_file_and_json_then_their_own_options() -> None:
    def options(family: str) -> list[str]:
        shown = run(family, "import", "--help").stdout
        assert f"Usage: main {family} import [OPTIONS] FILE\n" in shown
        return [line.split()[0] for line in shown.splitlines() if line.startswith("  --")]

    assert options("ledger") == ["--json", "--batch-size"]
    assert options("fx") == ["--json"]
