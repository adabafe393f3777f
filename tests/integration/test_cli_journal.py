"""``recon-bot journal``, ``journal export`` and ``status`` as an operator runs them: the
JSON contracts other systems read (exact keys and types), the exports parsed back,
``--since`` continuation, and clear errors with a non-zero exit."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.views import JOURNAL_CSV_COLUMNS, JOURNAL_CSV_ENTRY_COLUMNS
from domain.ledger_status import LEDGER_BREAKER, BreakerState, BreakerStatus
from store.engine import Database, create_database
from store.migrate import HEAD
from tests.conftest import ROOT
from tests.fakes import T0
from tests.ledger_rows import STATES, add_slack_row, seed_journal, set_breaker

#: ``journal --json``'s promised fields and their types (None: null allowed).
ENTRY_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (int,),
    "idempotency_key": (str,),
    "ledger_ref": (str,),
    "item": (str,),
    "kind": (str,),
    "delivery": (str,),
    "reference": (str, type(None)),
    "entity": (str,),
    "currency": (str,),
    "memo": (str,),
    "created_at": (str,),
    "dispute_id": (str, type(None)),
    "reverses": (str, type(None)),
    "hold": (str, type(None)),
    "delivered_at": (str, type(None)),
    "lines": (list,),
}
#: The csv export's header, as an ERP import is set up against it.
CSV_HEADER = (
    "id",
    "idempotency_key",
    "ledger_ref",
    "item",
    "kind",
    "entity",
    "currency",
    "memo",
    "created_at",
    "dispute_id",
    "reverses",
    "hold",
    "delivery",
    "reference",
    "delivered_at",
    "line",
    "account",
    "debit",
    "credit",
)
DECIMAL = re.compile(r"^\d+(\.\d+)?$")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def on_store(desk_dir: Path, work: Callable[[Database], Awaitable[Any]]) -> Any:
    """Runs ``work`` on the desk's database (as the relay would have written it)."""

    async def _run() -> Any:
        db = create_database(f"sqlite+aiosqlite:///{desk_dir / 'recon.db'}")
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(_run())


@pytest.fixture
def journal_ids(desk_dir: Path) -> list[int]:
    """An initialised desk with one entry per delivery situation (``STATES``)."""
    assert run("init").exit_code == 0
    ids: list[int] = on_store(desk_dir, seed_journal)
    return ids


def listed(*options: str) -> list[dict[str, Any]]:
    result = run("journal", *options, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return data


@pytest.mark.parametrize("command", [["journal"], ["journal", "export"], ["status"]], ids=" ".join)
def test_the_commands_have_help_with_examples(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output


def test_recon_bot_help_lists_journal_and_status() -> None:
    # Click pads the names to the longest command's width (``statements`` today).
    listing = " ".join(run("--help").output.split())
    assert "journal Journal entries and their delivery to the ledger." in listing
    assert "status Breakers, outbox, ledger delivery, open items, schema." in listing


def test_journal_json_keeps_its_contract(journal_ids: list[int]) -> None:
    entries = listed()
    assert [e["id"] for e in entries] == journal_ids  # oldest first
    for entry, (state, hold, delivery) in zip(entries, STATES, strict=True):
        assert set(entry) == set(ENTRY_FIELDS)
        for key, types in ENTRY_FIELDS.items():
            assert isinstance(entry[key], types), (key, entry[key])
        assert entry["delivery"] == delivery.value
        assert entry["hold"] == hold
        assert entry["kind"] == "approval"
        assert re.fullmatch(r"R-\d+", entry["item"])
        assert entry["ledger_ref"] == f"JE-{int(entry['item'][2:]):08d}-A"
        assert entry["idempotency_key"] == f"item-{entry['item'][2:]}-approval"
        assert entry["reference"] == (
            f"ERP-{entries.index(entry) + 1}" if state == "sent" else None
        )
        for line in entry["lines"]:
            assert set(line) == {"account", "debit", "credit"}
            assert all(isinstance(line[k], str) for k in line)
            assert DECIMAL.match(line["debit"]) and DECIMAL.match(line["credit"])
    third = entries[2]
    assert third["lines"] == [
        {"account": "1190", "debit": "3.00", "credit": "0.00"},
        {"account": "1999", "debit": "0.00", "credit": "3.00"},
    ]
    assert third["delivered_at"] == (T0 + timedelta(hours=1)).isoformat()


def test_a_journal_longer_than_a_page_prints_the_same_json_and_table(
    journal_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    whole_json = run("journal", "--json").stdout
    whole_table = run("journal").stdout
    monkeypatch.setattr("bot.cli.journal.PAGE", 4)  # two pages, the last one short
    assert run("journal", "--json").stdout == whole_json
    assert whole_json == json.dumps(json.loads(whole_json), indent=2, ensure_ascii=False) + "\n"
    # The same rows; a column may widen on a later page, so compare cell by cell.
    paged_table = run("journal").stdout
    assert [ln.split() for ln in paged_table.splitlines()] == [
        ln.split() for ln in whole_table.splitlines()
    ]
    paged = run("journal", "export", "--since", "0", "--format", "jsonl")
    assert [json.loads(x) for x in paged.stdout.splitlines()] == json.loads(whole_json)


def test_unposted_lists_every_entry_the_ledger_does_not_have(journal_ids: list[int]) -> None:
    unposted = listed("--unposted")
    assert [e["id"] for e in unposted] == [
        i for i, (state, _, _) in zip(journal_ids, STATES, strict=True) if state != "sent"
    ]
    assert {e["delivery"] for e in unposted} == {"pending", "dead"}


def test_journal_prints_a_readable_table(journal_ids: list[int]) -> None:
    result = run("journal")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "id",
        "ledger_ref",
        "item",
        "kind",
        "delivery",
        "reference",
        "/",
        "hold",
        "amount",
        "currency",
    ]
    rows = [line.split() for line in lines[1:-1]]
    assert [int(r[0]) for r in rows] == journal_ids
    assert rows[2][4:7] == ["sent", "ERP-3", "3.00"]
    assert rows[3][4] == "dead"
    assert "held: no account mapping" in lines[5]
    assert lines[-1] == "6 entries, 1 sent, 5 not sent"
    unposted = run("journal", "--unposted").stdout
    assert "ERP-3" not in unposted and "5 entries, 0 sent, 5 not sent" in unposted


def test_an_empty_journal_says_so(desk_dir: Path) -> None:
    assert run("init").exit_code == 0
    assert "the journal is empty" in run("journal").stdout
    assert "no unposted journal entries" in run("journal", "--unposted").stdout
    assert listed() == []


def test_journal_before_init_fails_with_the_command_that_fixes_it(desk_dir: Path) -> None:
    result = run("journal", "--json")
    assert result.exit_code == 1
    assert "recon-bot init" in result.output and result.stdout == ""


def test_csv_export_writes_one_row_per_line_and_says_where_to_continue(
    journal_ids: list[int],
) -> None:
    result = run("journal", "export", "--since", "0", "--format", "csv")
    assert result.exit_code == 0, result.output
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert tuple(reader.fieldnames or ()) == JOURNAL_CSV_COLUMNS == CSV_HEADER
    rows = list(reader)
    assert len(rows) == 2 * len(journal_ids)
    entries = {e["id"]: e for e in listed()}
    for row in rows:
        entry = entries[int(row["id"])]
        line = entry["lines"][int(row["line"]) - 1]
        assert (row["account"], row["debit"], row["credit"]) == (
            line["account"],
            line["debit"],
            line["credit"],
        )
        for key in JOURNAL_CSV_ENTRY_COLUMNS:
            assert row[key] == ("" if entry[key] is None else str(entry[key])), key
    assert [int(r["id"]) for r in rows[::2]] == journal_ids
    last = journal_ids[-1]
    assert f"wrote 6 entries (12 rows); last id {last}; continue with --since {last}" in (
        result.stderr
    )


def test_jsonl_export_to_a_file_holds_the_journal_json_objects(
    journal_ids: list[int], desk_dir: Path
) -> None:
    target = desk_dir / "erp" / "entries.jsonl"
    target.parent.mkdir()
    result = run("journal", "export", "--since", "0", "--format", "jsonl", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    exported = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert exported == listed()
    assert f"to {target}" in result.stderr and "(6 lines)" in result.stderr
    assert [p.name for p in target.parent.iterdir()] == ["entries.jsonl"]  # no partial file


def test_since_continues_where_the_last_export_stopped(
    journal_ids: list[int], desk_dir: Path
) -> None:
    middle = journal_ids[2]
    first = run("journal", "export", "--since", str(middle), "--format", "jsonl")
    assert [json.loads(x)["id"] for x in first.stdout.splitlines()] == journal_ids[3:]
    last = re.search(r"continue with --since (\d+)", first.stderr)
    assert last is not None and int(last.group(1)) == journal_ids[-1]

    more = on_store(desk_dir, lambda db: seed_journal(db, first=100))
    second = run("journal", "export", "--since", last.group(1), "--format", "csv")
    assert second.exit_code == 0, second.output
    assert sorted({int(r["id"]) for r in csv.DictReader(io.StringIO(second.stdout))}) == more
    assert f"continue with --since {more[-1]}" in second.stderr

    nothing = run("journal", "export", "--since", str(more[-1]), "--format", "csv")
    assert nothing.exit_code == 0
    assert nothing.stdout.splitlines() == [",".join(JOURNAL_CSV_COLUMNS)]  # header only
    assert f"wrote 0 entries (0 rows); last id {more[-1]}" in nothing.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "0", "--format", "xml"], "'xml' is not one of 'csv', 'jsonl'"),
        (["--since", "abc", "--format", "csv"], "'abc' is not an id"),
        (["--since", "-1", "--format", "csv"], "'-1' is not an id"),
        (["--since", "\u0661", "--format", "csv"], "is not an id"),
        (["--format", "csv"], "Missing option '--since'"),
        (["--since", "0"], "Missing option '--format'"),
    ],
)
def test_bad_export_options_are_refused_clearly(
    journal_ids: list[int], args: list[str], message: str
) -> None:
    result = run("journal", "export", *args)
    assert result.exit_code == 2  # click's usage error, as for any bad option
    assert message in result.stderr and result.stdout == ""


def test_listing_options_before_a_subcommand_are_refused(journal_ids: list[int]) -> None:
    result = run("journal", "--json", "export", "--since", "0", "--format", "csv")
    assert result.exit_code == 2
    assert "--unposted and --json belong to the listing" in result.stderr


def test_an_export_that_fails_leaves_the_previous_file_whole(desk_dir: Path) -> None:
    target = desk_dir / "entries.csv"
    target.write_text("the previous export\n", encoding="utf-8")
    result = run("journal", "export", "--since", "0", "--format", "csv", "--output", str(target))
    assert result.exit_code == 1  # no database yet
    assert "recon-bot init" in result.stderr
    assert target.read_text(encoding="utf-8") == "the previous export\n"
    assert sorted(p.name for p in desk_dir.iterdir()) == ["entries.csv"]


def test_an_export_into_a_missing_folder_fails_with_the_path(journal_ids: list[int]) -> None:
    result = run(
        "journal", "export", "--since", "0", "--format", "csv", "--output", "nope/entries.csv"
    )
    assert result.exit_code == 1
    assert "No such file or directory" in result.stderr and "nope" in result.stderr


STATUS_FIELDS = {
    "schema",
    "checked_at",
    "breakers",
    "breaker_details",
    "outbox",
    "ledger",
    "items",
    "serve",
    "policy",
}


def status() -> dict[str, Any]:
    result = run("status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_status_json_keeps_its_contract(desk_dir: Path) -> None:
    assert run("init").exit_code == 0
    data = status()
    assert set(data) == STATUS_FIELDS
    assert data["schema"] == HEAD
    assert data["breakers"] == {"ledger": "closed"}  # no row yet: closed
    assert data["outbox"] == {"pending": 0, "dead": 0, "sent": 0, "oldest_pending_at": None}
    assert data["ledger"] == {"pending": 0, "sent": 0, "dead": 0, "held": 0}
    # no serve process yet, nothing stored
    assert data["serve"] == {"live": [], "inbox_waiting": 0, "oldest_waiting_at": None}
    assert set(data["items"]) == {
        "open",
        "overdue",
        "awaiting_second_approval",
        "open_disputes",
        "dead_lettered",
    }
    assert all(isinstance(n, int) for n in data["items"].values())
    assert set(data["breaker_details"]["ledger"]) == {
        "state",
        "failures",
        "opened_at",
        "probe_at",
        "last_error",
        "last_error_class",
        "updated_at",
    }
    assert isinstance(data["policy"]["version"], str) and data["policy"]["version"]


def test_status_counts_the_outbox_the_entries_and_shows_an_open_breaker(
    journal_ids: list[int], desk_dir: Path
) -> None:
    async def trouble(db: Database) -> None:
        async with db.writer.begin() as conn:
            await set_breaker(
                conn,
                BreakerStatus(
                    name=LEDGER_BREAKER,
                    state=BreakerState.OPEN,
                    failures=5,
                    opened_at=T0,
                    probe_at=T0 + timedelta(seconds=30),
                    last_error="TimeoutError: no answer within 10 s",
                ),
            )
            await add_slack_row(conn, 1, "pending", at=T0 - timedelta(minutes=1))

    on_store(desk_dir, trouble)
    data = status()
    assert data["breakers"] == {"ledger": "open"}
    detail = data["breaker_details"]["ledger"]
    assert detail["failures"] == 5 and detail["opened_at"] == T0.isoformat()
    assert detail["last_error_class"] == "TimeoutError"
    # ledger rows: pending, sending, sent, dead; plus one Slack message pending
    assert {k: data["outbox"][k] for k in ("pending", "dead", "sent")} == {
        "pending": 3,
        "dead": 1,
        "sent": 1,
    }
    assert data["outbox"]["oldest_pending_at"] == (T0 - timedelta(minutes=1)).isoformat()
    assert data["ledger"] == {"pending": 3, "sent": 1, "dead": 1, "held": 1}

    text = run("status")
    assert text.exit_code == 0, text.output
    assert f"schema    {HEAD}" in text.stdout
    assert "breaker   ledger: open since" in text.stdout and "5 failures" in text.stdout
    assert "last error: TimeoutError: no answer within 10 s" in text.stdout
    assert "ledger    3 pending, 1 sent, 1 dead, 1 held" in text.stdout
    assert "outbox    3 pending (oldest" in text.stdout
    assert "dead letters: see `recon-bot journal --unposted`" in text.stdout


def test_status_before_init_fails_with_the_command_that_fixes_it(desk_dir: Path) -> None:
    result = run("status", "--json")
    assert result.exit_code == 1 and "recon-bot init" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["journal", "--json"],
        ["journal"],
        ["journal", "export", "--since", "0", "--format", "jsonl"],
    ],
    ids=" ".join,
)
def test_a_reader_that_stops_early_ends_the_command_quietly(
    desk_dir: Path, command: list[str]
) -> None:
    """`recon-bot journal | head`: it said "error: Broken pipe" when head hung up."""
    assert run("init").exit_code == 0

    async def many(db: Database) -> None:
        for k in range(60):  # 360 entries: far more than a pipe holds
            await seed_journal(db, first=10 * k + 1)

    on_store(desk_dir, many)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECON_", "SLACK_"))}
    env["PYTHONPATH"] = str(ROOT)
    with subprocess.Popen(
        [sys.executable, "-m", "bot", *command],
        cwd=desk_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline()
        process.stdout.close()  # what head does after its lines
        stderr = process.stderr.read().decode()
        code = process.wait(timeout=60)
    assert stderr == ""
    assert code == 1
