"""``recon-bot statements``: import, list, show and re-parse as the operator runs them
(exit codes, JSON contracts key by key), with the JSON test format's parser injected."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from domain.policy import parse_policy
from tests.builders import policy_text
from tests.statement_files import (
    EUR_ACCOUNT,
    JsonStatementParser,
    line,
    statement,
    statement_file,
    statement_policy_overrides,
)

IMPORT_KEYS = ["files", "statements", "imported", "unchanged", "revised", "rejected"]
LIST_KEYS = {
    "id", "account", "currency", "period_start", "period_end", "opening", "closing",
    "entries", "delta", "chain_ok", "continuity", "stage1_status", "format", "sha256",
    "revision",
}  # fmt: skip
DAY2 = statement(
    statement_id="STMT-2",
    start="2025-03-04",
    end="2025-03-04",
    opening="1150.00",
    closing="1100.05",
    lines=[line("-50.00", "2025-03-04")],
)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def desk(desk_dir: Path, monkeypatch: pytest.MonkeyPatch) -> JsonStatementParser:
    """An initialised desk whose policy knows the test accounts, and the parser it uses."""
    parser = JsonStatementParser()
    monkeypatch.setattr("bot.container.statement_parser", lambda: parser)
    assert run("init").exit_code == 0
    (desk_dir / "policy.yml").write_text(policy_text(**statement_policy_overrides()))
    return parser


def write(path: Path, *statements: dict[str, Any], **kw: Any) -> str:
    path.write_bytes(statement_file(*statements, **kw))
    return str(path)


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def test_every_statements_command_has_help_with_an_example() -> None:
    for command in (["statements"], ["statements", "import"], ["statements", "show"],
                    ["statements", "reparse"]):  # fmt: skip
        result = run(*command, "--help")
        assert result.exit_code == 0 and "Example" in result.output


def test_import_json_is_the_contract_and_a_second_run_is_unchanged(
    desk: JsonStatementParser, desk_dir: Path
) -> None:
    first = write(desk_dir / "march.json", statement(), DAY2)
    result = run("statements", "import", first, "--json")
    assert result.exit_code == 0, result.output
    body = as_json(result)
    assert list(body) == IMPORT_KEYS
    assert body == {"files": 1, "statements": 2, "imported": 2, "unchanged": 0, "revised": 0,
                    "rejected": []}  # fmt: skip
    again = run("statements", "import", first, "--json")
    assert again.exit_code == 0
    assert as_json(again)["unchanged"] == 2 and as_json(again)["imported"] == 0
    assert desk.calls == [None, None]  # auto: the parser detects the format


def test_a_changed_re_import_is_revised(desk: JsonStatementParser, desk_dir: Path) -> None:
    run("statements", "import", write(desk_dir / "a.json", statement()))
    fixed = statement(closing="1150.00", lines=[line("150.00"), line("0.00")])
    result = run("statements", "import", write(desk_dir / "b.json", fixed), "--json")
    assert result.exit_code == 0
    assert as_json(result)["revised"] == 1
    (row,) = as_json(run("statements", "--json"))
    assert (row["revision"], row["stage1_status"]) == (2, "pending_review")


def test_a_rejected_statement_among_good_ones_exits_2_with_where_and_why(
    desk: JsonStatementParser, desk_dir: Path
) -> None:
    stranger = statement(account="DE89370400440532013000", statement_id="X-1")
    problem = {"where": "statement 3, line 2", "error": "truncated", "statement": "S-3"}
    path = write(desk_dir / "mixed.json", statement(), stranger, problems=[problem])
    result = run("statements", "import", path, "--json")
    assert result.exit_code == 2
    body = as_json(result)
    assert (body["statements"], body["imported"]) == (3, 1)
    assert body["rejected"] == [
        {"file": "mixed.json", "statement": "S-3", "where": "statement 3, line 2",
         "error": "truncated"},
        {"file": "mixed.json", "statement": "X-1", "where": "statement 2",
         "error": "account DE89…3000 is not one the policy knows "
                  "(statements.accounts)"},
    ]  # fmt: skip
    text = run("statements", "import", path)
    assert text.exit_code == 2
    assert "mixed.json: statement X-1, statement 2: account DE89…3000" in text.stderr


def test_nothing_imported_exits_1(desk: JsonStatementParser, desk_dir: Path) -> None:
    junk = desk_dir / "notes.txt"
    junk.write_text("hello")
    result = run("statements", "import", str(junk), str(desk_dir / "missing.xml"), "--json")
    assert result.exit_code == 1
    body = as_json(result)
    assert (body["files"], body["statements"], body["imported"]) == (2, 0, 0)
    assert [(r["file"], r["statement"], r["where"]) for r in body["rejected"]] == [
        ("notes.txt", None, ""), ("missing.xml", None, ""),
    ]  # fmt: skip
    assert body["rejected"][0]["error"] == "not a bank statement file (no known format matched)"
    assert body["rejected"][1]["error"].startswith("cannot read the file")
    empty = run("statements", "import", write(desk_dir / "empty.json"))
    assert empty.exit_code == 1 and "no statement was found" in empty.stderr


def test_the_format_option_reaches_the_parser(desk: JsonStatementParser, desk_dir: Path) -> None:
    result = run("statements", "import", write(desk_dir / "a.sta", statement()),
                 "--format", "mt940", "--json")  # fmt: skip
    assert result.exit_code == 0
    assert [str(c) for c in desk.calls] == ["mt940"]
    assert as_json(run("statements", "--json"))[0]["format"] == "mt940"
    bad = run("statements", "import", "x", "--format", "csv")
    assert bad.exit_code == 2 and "csv" in bad.output


def test_the_list_json_has_every_contract_key_with_decimal_strings(
    desk: JsonStatementParser, desk_dir: Path
) -> None:
    run("statements", "import", write(desk_dir / "m.json", statement(), DAY2))
    rows = as_json(run("statements", "--json"))
    assert [r["id"] for r in rows] == ["S-1", "S-2"]
    first, second = rows
    assert LIST_KEYS <= set(first)
    assert {k: first[k] for k in LIST_KEYS - {"sha256"}} == {
        "id": "S-1", "account": EUR_ACCOUNT, "currency": "EUR", "period_start": "2025-03-03",
        "period_end": "2025-03-03", "opening": "1000.00", "closing": "1150.00", "entries": 2,
        "delta": "0.00", "chain_ok": True, "continuity": "unknown",
        "stage1_status": "pending_review", "format": "camt053", "revision": 1,
    }  # fmt: skip
    assert len(first["sha256"]) == 64 and first["sha256"] == second["sha256"]
    assert (second["delta"], second["chain_ok"], second["continuity"]) == ("-0.05", False, "ok")


def test_the_list_filters_by_state_and_account(desk: JsonStatementParser, desk_dir: Path) -> None:
    usd = statement(account="123456789", currency="USD")
    run("statements", "import", write(desk_dir / "m.json", statement(), usd))
    spaced = "nl81 asnb 9999 9999 99"
    assert [r["id"] for r in as_json(run("statements", "--account", spaced, "--json"))] == ["S-1"]
    assert as_json(run("statements", "--state", "approved", "--json")) == []
    pending = as_json(run("statements", "--state", "pending_review", "--json"))
    assert len(pending) == 2
    assert [r["id"] for r in as_json(run("statements", "--limit", "1", "--json"))] == ["S-2"]
    text = run("statements")
    assert text.exit_code == 0 and "S-1" in text.output and "S-2" in text.output
    assert "no statements" in run("statements", "--state", "rejected").output


def test_show_gives_checks_lines_and_history(desk: JsonStatementParser, desk_dir: Path) -> None:
    many = [line("1.00") for _ in range(30)]
    run("statements", "import",
        write(desk_dir / "m.json", statement(lines=many, closing="1030.00")))  # fmt: skip
    body = as_json(run("statements", "show", "S-1", "--lines", "5", "--json"))
    assert (body["id"], body["entries"], body["lines_total"]) == ("S-1", 30, 30)
    assert [ln["number"] for ln in body["lines"]] == [1, 2, 3, 4, 5]
    assert body["lines"][0] == {
        "number": 1, "amount": "1.00", "booking_date": "2025-03-03", "value_date": None,
        "reference": None, "counterparty": None, "description": None,
        "match_status": "unmatched", "edited": False, "added": False, "removed": False,
    }  # fmt: skip
    assert (body["credits"], body["debits"], body["delta"]) == ("30.00", "0.00", "0.00")
    assert [(h["event"], h["actor"], h["to"]) for h in body["history"]] == [
        ("statement.imported", "system", "pending_review")
    ]
    text = run("statements", "show", "1")
    assert text.exit_code == 0
    assert "chain: holds, delta 0.00 EUR" in text.output
    assert "lines (first 20 of 30)" in text.output
    assert "statement.imported by system" in text.output
    assert as_json(run("statements", "show", "S-1", "--lines", "0", "--json"))["lines"] == []
    missing = run("statements", "show", "S-9")
    assert missing.exit_code == 1 and "there is no statement S-9" in missing.stderr
    assert run("statements", "show", "S-x").exit_code == 2


def test_reparse_makes_a_new_revision_with_the_format_asked(
    desk: JsonStatementParser, desk_dir: Path
) -> None:
    run("statements", "import", write(desk_dir / "m.json", statement()))
    result = run("statements", "reparse", "S-1", "--format", "bai2", "--json")
    assert result.exit_code == 0, result.output
    body = as_json(result)
    assert (body["revision"], body["format"], body["stage1_status"]) == (
        2,
        "bai2",
        "pending_review",
    )
    text = run("statements", "reparse", "S-1")
    assert text.exit_code == 0 and "S-1 is now revision 3, pending_review" in text.output
    assert str(desk.calls[-1]) == "bai2"  # auto keeps the statement's own format
    history = as_json(run("statements", "show", "S-1", "--json"))["history"]
    assert [(h["event"], h["data"]["cause"]) for h in history[1:]] == [
        ("statement.revised", "reparse"), ("statement.revised", "reparse"),
    ]  # fmt: skip
    assert run("statements", "reparse", "S-7").exit_code == 1


def test_audit_verify_deep_holds_after_statement_records(
    desk: JsonStatementParser, desk_dir: Path
) -> None:
    run("statements", "import", write(desk_dir / "m.json", statement(), DAY2))
    run("statements", "reparse", "S-2")
    result = run("audit", "verify", "--deep")
    assert result.exit_code == 0, result.output + result.stderr
    assert "0 items, 0 journal entries and 2 statements match the replayed log" in result.output


def test_policy_check_reports_the_statements_section(desk: JsonStatementParser) -> None:
    result = run("policy", "check")
    assert result.exit_code == 0
    assert ("statements: 4 bank account(s), balance tolerance 0.001 USD, auto-approve off, "
            "an editor may not be the only approver") in result.output  # fmt: skip


def test_the_example_policy_statements_section_validates_when_uncommented() -> None:
    from tests.conftest import ROOT

    text = (ROOT / "bot" / "policy.example.yml").read_text()
    lines = text.splitlines()
    start = lines.index("# statements:")
    end = lines.index("", start)
    uncommented = "\n".join(lines[:start] + [ln[2:] for ln in lines[start:end]] + lines[end:])
    (account,) = parse_policy(uncommented).policy.statements.accounts
    assert (account.account, account.currency, account.team) == (
        "NL81ASNB9999999999", "EUR", "treasury",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("tamper", "said"),
    [
        ("UPDATE statements SET stage1_status = 'approved' WHERE id = 1",
         "S-1: statements.stage1_status is 'approved' but the log says 'pending_review'"),
        ("UPDATE statements SET revision = 7 WHERE id = 2",
         "S-2: statements.revision is 7 but the log says 1"),
        ("UPDATE statements SET sha256 = 'ff' WHERE id = 1", "S-1: statements.sha256 is 'ff'"),
        ("UPDATE statements SET approvals = '[{\"actor\": \"U0X\"}]' WHERE id = 1",
         "S-1: statements.approvals are by U0X but the log says nobody"),
    ],
)  # fmt: skip
def test_audit_verify_deep_finds_a_statement_row_the_log_does_not_back(
    desk: JsonStatementParser, desk_dir: Path, tamper: str, said: str
) -> None:
    run("statements", "import", write(desk_dir / "m.json", statement(), DAY2))
    with sqlite3.connect(desk_dir / "recon.db") as db:
        db.execute(tamper)
    result = run("audit", "verify", "--deep")
    assert result.exit_code == 1
    assert said in result.output + result.stderr


def test_without_the_format_parsers_import_and_reparse_say_so(
    desk: JsonStatementParser, desk_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(desk_dir / "m.json", statement())
    assert run("statements", "import", path).exit_code == 0

    class Missing:
        def __call__(self, data: bytes, *, format: object = None) -> Any:
            raise ImportError("No module named 'statements'")

        stream = __call__

    monkeypatch.setattr("bot.container.statement_parser", Missing)
    result = run("statements", "import", path, "--json")
    assert result.exit_code == 1
    assert as_json(result)["rejected"][0]["error"] == "the bank-file parsers are not installed"
    again = run("statements", "reparse", "S-1")
    assert again.exit_code == 1 and "the bank-file parsers are not installed" in again.stderr


def test_each_import_leaves_a_run_with_its_statements_by_outcome(
    desk: JsonStatementParser, desk_dir: Path
) -> None:
    """What serve's metrics read of imports made by this command (recon_import_rows)."""
    first = write(desk_dir / "march.json", statement(), DAY2)
    assert run("statements", "import", first).exit_code == 0
    assert run("statements", "import", first).exit_code == 0
    with sqlite3.connect(desk_dir / "recon.db") as db:
        rows = db.execute(
            "SELECT source, file_name, summary FROM ingest_runs ORDER BY id"
        ).fetchall()
    assert [(source, name) for source, name, _ in rows] == [
        ("statements", "march.json"),
        ("statements", "march.json"),
    ]
    assert [json.loads(summary) for _, _, summary in rows] == [
        {"imported": 2, "unchanged": 0, "revised": 0, "rejected": 0},
        {"imported": 0, "unchanged": 2, "revised": 0, "rejected": 0},
    ]


def test_ingest_rejected_still_lists_the_last_ingest_after_a_statement_import(
    desk: JsonStatementParser, desk_dir: Path
) -> None:
    """A statement import's run quarantines nothing: ``ingest --rejected`` skips it."""
    items = Path(__file__).parents[2] / "samples" / "items.csv"
    assert run("ingest", str(items)).exit_code == 2  # the samples have bad rows on purpose
    assert run("statements", "import", write(desk_dir / "march.json", statement())).exit_code == 0
    listed = json.loads(run("ingest", "--rejected", "--json").output)
    assert listed["run"] == 1 and listed["rejected_rows"]
