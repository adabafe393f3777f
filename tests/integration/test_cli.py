"""The recon-bot command line as a user runs it: exit codes, one-sentence errors, JSON."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import _describe, main
from bot.container import SetupError
from bot.errors import BotError
from bot.ingest import batch_gc
from domain.errors import DomainError
from store.audit.signer import SigningKeyError
from store.errors import StoreError
from tests.conftest import ROOT

SAMPLE = ROOT / "samples" / "items.csv"
COMMANDS = [
    ["init"],
    ["policy", "check"],
    ["policy", "schema"],
    ["ingest"],
    ["ledger", "import"],
    ["fx", "import"],
    ["queue"],
    ["show"],
    ["audit", "verify"],
    ["audit", "export"],
    ["db", "upgrade"],
    ["serve"],
    ["outbox"],
]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def initialised() -> None:
    assert run("init").exit_code == 0


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output


def test_the_command_line_loads_database_and_domain_code_only_for_the_command_run() -> None:
    """`--help`, `policy check` and bundle checks stay quick: importing SQLAlchemy,
    pydantic-settings and the services took most of a second before any command ran."""
    heavy = ["sqlalchemy", "pydantic", "pydantic_settings", "yaml", "store", "domain.usecases"]
    probe = f"import sys, bot.cli; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert loaded.stdout.strip() == "[]"


def test_init_creates_policy_key_and_database_and_is_safe_to_repeat(desk_dir: Path) -> None:
    first = run("init")
    assert first.exit_code == 0
    assert (desk_dir / "policy.yml").exists() and (desk_dir / "recon.db").exists()
    assert (desk_dir / "audit_ed25519.pem").stat().st_mode & 0o777 == 0o600
    second = run("init")
    assert second.exit_code == 0 and "kept" in second.output


def test_ingest_reports_partial_success_with_exit_code_2_and_json(desk_dir: Path) -> None:
    initialised()
    result = run("ingest", str(SAMPLE), "--json")
    assert result.exit_code == 2  # some rows rejected, the rest committed
    summary = json.loads(result.output)
    assert set(summary) >= {
        "read",
        "inserted",
        "unchanged",
        "amended",
        "rejected",
        "routes",
        "rejected_rows",
    }
    assert set(summary["routes"]) == {"immediate", "digest", "auto_accepted"}
    assert summary["read"] == 400 and summary["rejected"] > 0
    assert summary["inserted"] + summary["rejected"] == summary["read"]
    bad = summary["rejected_rows"][0]
    assert set(bad) == {"line", "field", "error"} and bad["line"] > 1
    again = json.loads(run("ingest", str(SAMPLE), "--json").output)
    assert again["inserted"] == 0 and again["unchanged"] == summary["inserted"]


@pytest.mark.parametrize("parallel", ["--no-parallel", "--parallel"])
def test_a_json_lines_row_with_a_lone_surrogate_is_rejected_and_the_rest_land(
    desk_dir: Path, parallel: str
) -> None:
    # JSON may escape half of a UTF-16 pair ("\\ud800"), which is no Unicode text at
    # all: the store and the audit log cannot hold it. It failed the whole file (exit 1).
    initialised()
    rows = [
        {"external_id": "ok-1", "entity": "ACME-US", "currency": "USD", "amount": "12.00"},
        {"external_id": "half-\ud800", "entity": "ACME-US", "currency": "USD", "amount": "1"},
        {"external_id": "ok-2", "entity": "ACME-US", "currency": "USD", "amount": "3.00"},
        {"external_id": "x", "entity": "ACME-US", "currency": "USD", "amount": "1", "\udc00": "v"},
        {
            "external_id": "pair",
            "entity": "ACME-US",
            "currency": "USD",
            "amount": "2.00",
            "description": "\U0001f600 a whole pair is fine",
        },
    ]
    file = desk_dir / "items.jsonl"
    file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert "\\ud800" in file.read_text()  # written as the escape, as an exporter would

    result = run("ingest", str(file), "--json", parallel)

    assert result.exit_code == 2, result.output
    summary = json.loads(result.output)
    assert (summary["inserted"], summary["rejected"]) == (3, 2)
    assert [(r["line"], r["field"]) for r in summary["rejected_rows"]] == [
        (2, "external_id"),
        (4, "(line)"),
    ]
    assert all("lone surrogate" in r["error"] for r in summary["rejected_rows"])
    assert run("audit", "verify").exit_code == 0


def test_quarantined_rows_can_be_listed(desk_dir: Path) -> None:
    initialised()
    run("ingest", str(SAMPLE))
    listed = json.loads(run("ingest", "--rejected", "--json").output)
    assert listed["run"] == 1
    assert {row["field"] for row in listed["rejected_rows"]} >= {"amount", "currency"}
    assert all(row["raw"] for row in listed["rejected_rows"])


def test_queue_and_show_print_json(desk_dir: Path) -> None:
    initialised()
    run("ingest", str(SAMPLE))
    rows = json.loads(run("queue", "--json", "--limit", "5").output)
    assert len(rows) == 5
    needed = {
        "id",
        "external_id",
        "source",
        "kind",
        "state",
        "route",
        "priority",
        "amount",
        "currency",
        "entity",
        "team",
        "assignee",
        "sla_due_at",
    }
    assert needed <= set(rows[0])
    assert isinstance(rows[0]["amount"], str)
    assert [r["priority"] for r in rows] == sorted((r["priority"] for r in rows), reverse=True)
    shown = json.loads(run("show", rows[0]["id"], "--json").output)
    assert shown["id"] == rows[0]["id"] and shown["reasons"]
    assert shown["history"][0]["event"] == "item.ingested"


def test_errors_are_one_sentence_with_exit_code_1(desk_dir: Path) -> None:
    result = run("queue")  # nothing initialised yet
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "recon-bot init" in result.output
    # The parsing process is spawned before the store opens; it is stopped, not leaked.
    early = run("ingest", str(SAMPLE), "--parallel")
    assert early.exit_code == 1 and "recon-bot init" in early.output
    initialised()
    missing = run("show", "R-999999")
    assert missing.exit_code == 1 and "there is no item R-999999" in missing.output
    bad_id = run("show", "banana")
    assert bad_id.exit_code == 1 and "is not an item id" in bad_id.output
    no_file = run("ingest", "nope.csv")
    assert no_file.exit_code == 1 and "nope.csv does not exist" in no_file.output
    wrong_type = desk_dir / "items.xlsx"
    wrong_type.write_text("x")
    assert "expected a .csv or .jsonl file" in run("ingest", str(wrong_type)).output


def _one_sentence_error(result: Result) -> str:
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "unexpected" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0].removeprefix("error: ")


def test_a_store_error_is_one_sentence_with_exit_code_1(desk_dir: Path) -> None:
    initialised()
    (desk_dir / "audit_ed25519.pem").chmod(0o644)  # SigningKeyError, a StoreError

    message = _one_sentence_error(run("queue"))

    assert message.startswith("signing key audit_ed25519.pem is accessible by group or others")
    with pytest.raises(SigningKeyError):  # --debug: the exception, with its traceback
        run("--debug", "queue")


def test_a_bot_error_is_one_sentence_with_exit_code_1(desk_dir: Path) -> None:
    initialised()
    (desk_dir / "audit_ed25519.pem").unlink()  # SetupError, a BotError

    message = _one_sentence_error(run("queue"))

    assert message == "audit signing key audit_ed25519.pem does not exist; run `recon-bot init`"
    with pytest.raises(SetupError):
        run("--debug", "queue")


@pytest.mark.parametrize("root", [DomainError, StoreError, BotError])
def test_failures_are_described_by_the_root_of_their_layer(root: type[Exception]) -> None:
    novel = type("NovelError", (root,), {})  # an error the CLI has never heard of

    assert _describe(novel("the ledger is closed for the day")) == (
        "the ledger is closed for the day",
        [],
    )


def test_policy_check_names_the_field_and_the_reason(desk_dir: Path) -> None:
    bad = desk_dir / "bad.yml"
    text = (ROOT / "bot" / "policy.example.yml").read_text().replace('"10000.00"', '"-5"', 1)
    bad.write_text(text)
    result = run("policy", "check", str(bad))
    assert result.exit_code == 1
    assert "routing.materiality" in result.output and "Traceback" not in result.output
    schema = json.loads(run("policy", "schema").output)
    assert schema["title"] == "recon-bot policy"


def test_policy_check_warns_when_no_accounts_are_mapped(desk_dir: Path) -> None:
    example = (ROOT / "bot" / "policy.example.yml").read_text()
    bare = desk_dir / "bare.yml"
    bare.write_text(example)
    result = run("policy", "check", str(bare))
    assert result.exit_code == 0 and "no accounts section" in result.output
    mapped = desk_dir / "mapped.yml"
    # The example's commented accounts section, switched on.
    start = example.index("# accounts:")
    body = "\n".join(line.removeprefix("# ") for line in example[start:].splitlines())
    mapped.write_text(example[:start] + body + "\n")
    result = run("policy", "check", str(mapped))
    assert result.exit_code == 0 and "no accounts section" not in result.output, result.output


def test_audit_verify_export_and_offline_bundle(desk_dir: Path) -> None:
    initialised()
    run("ingest", str(SAMPLE))
    verified = json.loads(run("audit", "verify", "--json").output)
    assert verified["ok"] and verified["records"] > 400
    assert run("audit", "export", "--out", "bundle").exit_code == 0
    (desk_dir / "recon.db").unlink()  # offline: no database at all
    offline = json.loads(run("audit", "verify", "--bundle", "bundle", "--json").output)
    assert offline["ok"] and offline["records"] == verified["records"]


def test_audit_verify_accepts_only_pinned_keys_when_asked(desk_dir: Path) -> None:
    init = run("init")
    key_id = re.search(r"key id ([0-9a-f]{32})", init.output)
    assert key_id is not None, init.output
    run("ingest", str(SAMPLE))
    assert run("audit", "export", "--out", "bundle").exit_code == 0
    stranger = "0123456789abcdef0123456789abcdef"

    for where in ([], ["--bundle", "bundle"]):
        assert run("audit", "verify", *where, "--trust", key_id[1]).exit_code == 0
        refused = CliRunner().invoke(main, ["audit", "verify", *where, "--trust", stranger])
        assert refused.exit_code == 1
        assert f"signed by key {key_id[1]}, which is not one of the trusted keys" in (
            refused.output.replace("\n", " ")
        )
    malformed = CliRunner().invoke(main, ["audit", "verify", "--trust", "ED81"])
    assert malformed.exit_code == 2 and "is not a key id" in malformed.output


def test_audit_verify_fails_with_exit_code_1_on_tampering(desk_dir: Path) -> None:
    import sqlite3

    initialised()
    run("ingest", str(SAMPLE))
    conn = sqlite3.connect(desk_dir / "recon.db")
    conn.execute("UPDATE audit_records SET body = replace(body, 'system', 'sys7em') WHERE seq = 10")
    conn.commit()
    conn.close()
    result = run("audit", "verify")
    assert result.exit_code == 1
    assert "record 10" in result.output


# Issue 16: before these, a deleted anchors file verified ("0 anchors verified") and
# --deep passed a changed items table.


def test_verify_fails_without_the_anchors_file_unless_told_to_skip_it(desk_dir: Path) -> None:
    initialised()
    run("ingest", str(SAMPLE))
    assert run("audit", "verify").exit_code == 0
    (desk_dir / "audit_anchors.jsonl").unlink()

    refused = run("audit", "verify")
    skipped = run("audit", "verify", "--no-anchors")

    assert refused.exit_code == 1
    assert "the anchors file audit_anchors.jsonl is missing" in refused.output.replace("\n", " ")
    assert skipped.exit_code == 0, skipped.output
    assert "anchors NOT checked (--no-anchors)" in skipped.output
    report = json.loads(run("audit", "verify", "--no-anchors", "--json").output)
    assert (report["ok"], report["anchors_checked"]) == (True, False)


def test_verify_names_the_anchors_it_used_and_checks_each_file_given(
    desk_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = desk_dir / "shared" / "anchors.jsonl"
    monkeypatch.setenv("RECON_AUDIT_ANCHORS", str(shared))  # e.g. a path every replica mounts
    initialised()
    run("ingest", str(SAMPLE))
    assert shared.exists()
    copy = desk_dir / "copy.jsonl"
    copy.write_bytes(shared.read_bytes())
    stale = desk_dir / "stale.jsonl"
    stale.write_bytes(b"")

    default = run("audit", "verify")
    both = run("audit", "verify", "--anchors", str(shared), "--anchors", str(copy))
    one_stale = CliRunner().invoke(
        main, ["audit", "verify", "--anchors", str(shared), "--anchors", str(stale)]
    )

    text = default.output.replace("\n", " ")
    assert default.exit_code == 0, default.output
    assert f"anchors used: anchors file {shared} (" in text
    assert "not read: the checkpoint copies posted to the compliance channel" in text
    assert both.exit_code == 0 and str(copy) in both.output.replace("\n", "")
    assert one_stale.exit_code == 1
    assert "holds no anchor of this log" in one_stale.output.replace("\n", " ")


def test_export_warns_and_the_bundle_fails_without_anchors(desk_dir: Path) -> None:
    initialised()
    run("ingest", str(SAMPLE))
    (desk_dir / "audit_anchors.jsonl").unlink()

    exported = CliRunner().invoke(main, ["audit", "export", "--out", "bundle"])

    assert exported.exit_code == 0
    assert "warning: the anchors file audit_anchors.jsonl is missing" in exported.output
    assert run("audit", "verify", "--bundle", "bundle").exit_code == 1
    assert run("audit", "verify", "--bundle", "bundle", "--no-anchors").exit_code == 0


def test_deep_verify_catches_an_amount_changed_in_the_items_table(desk_dir: Path) -> None:
    initialised()
    run("ingest", str(SAMPLE))
    deep = json.loads(run("audit", "verify", "--deep", "--json").output)
    assert deep["ok"], deep["problem"]
    assert deep["items"] > 0
    import sqlite3

    conn = sqlite3.connect(desk_dir / "recon.db")
    (item_id,) = conn.execute(
        "SELECT id FROM items WHERE state = 'pending' ORDER BY id LIMIT 1"
    ).fetchone()
    conn.execute("UPDATE items SET amount_minor = amount_minor * 1000 WHERE id = ?", (item_id,))
    conn.commit()
    conn.close()

    assert run("audit", "verify").exit_code == 0  # the log itself is intact
    result = run("audit", "verify", "--deep")

    assert result.exit_code == 1
    said = result.output.replace("\n", " ")
    assert f"R-{item_id}: items.amount is " in said and "but the log says" in said


def test_serve_names_missing_and_malformed_tokens(
    desk_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    initialised()
    result = run("serve")
    assert result.exit_code == 1
    assert "SLACK_BOT_TOKEN is not set" in result.output
    assert "SLACK_APP_TOKEN is not set" in result.output
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xapp-wrong-kind")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    result = run("serve")
    assert "must start xoxb-" in result.output
    assert "xapp-wrong-kind" not in result.output  # secrets are never printed


def test_outbox_lists_and_refuses_to_retry_what_is_not_dead(desk_dir: Path) -> None:
    initialised()
    run("ingest", str(SAMPLE))  # immediate items enqueue their cards
    listed = json.loads(run("outbox", "--json").output)
    assert listed["counts"].get("pending", 0) > 0
    first = listed["messages"][-1]["id"]
    result = run("outbox", "--retry", str(first))
    assert result.exit_code == 1 and "is not dead-lettered" in result.output


def test_an_empty_outbox_says_so(desk_dir: Path) -> None:
    initialised()
    result = run("outbox")
    assert result.exit_code == 0
    assert "outbox: empty" in result.output


def test_batch_gc_relaxes_collection_during_ingest_and_restores_it() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), batch_gc():
        assert gc.get_threshold() == (10_000, 50, 1_000)
        raise RuntimeError("the ingest failed")
    assert gc.get_threshold() == before


def _queue_and_history() -> tuple[Any, list[Any]]:
    queue = json.loads(run("queue", "--json").output)
    shown = [json.loads(run("show", item["id"], "--json").output) for item in queue[:25]]
    return queue, shown


def _without_times(value: Any) -> Any:
    # Two runs differ only in when they happened (and so in the audit chain's hashes).
    if isinstance(value, dict):
        return {
            k: _without_times(v)
            for k, v in value.items()
            if not (k.endswith(("_at", "time")) or k in {"at", "run", "prev", "hash"})
        }
    if isinstance(value, list | tuple):
        return [_without_times(v) for v in value]
    return value


def test_parsing_in_a_worker_process_ingests_exactly_like_parsing_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sample file (good and bad rows, every kind) ingested both ways, twice each
    # (the second run is all unchanged): the summaries, the queue and the items'
    # histories must match.
    for key in list(os.environ):
        if key.startswith(("RECON_", "SLACK_")):
            monkeypatch.delenv(key)
    outcomes = []
    for mode in ("--parallel", "--no-parallel"):
        desk = tmp_path / mode.strip("-")
        desk.mkdir()
        monkeypatch.chdir(desk)
        initialised()
        runs = [json.loads(run("ingest", str(SAMPLE), mode, "--json").output) for _ in "12"]
        outcomes.append(_without_times((runs, *_queue_and_history())))
    parallel, here = outcomes
    assert parallel == here
    assert parallel[0][0]["inserted"] > 300 and parallel[0][1]["unchanged"] > 300


def _items_csv(rows: int, bad_line: int | None = None) -> bytes:
    """A CSV of ``rows`` good rows; the one on ``bad_line`` (if any) has a Latin-1 byte."""
    lines = [b"external_id,entity,currency,amount,counterparty"]
    for n in range(2, rows + 2):
        name = b"Caf\xe9 Noir" if n == bad_line else b"Cafe Noir"
        lines.append(b"X-%d,ACME-US,USD,%d.00,%s" % (n, n, name))
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("parallel", ["--no-parallel", "--parallel"])
def test_a_line_that_is_not_utf8_deep_in_a_file_is_rejected_and_the_rest_lands(
    desk_dir: Path, parallel: str
) -> None:
    # It stopped the run at that line with exit 1 ("nothing changed"), a message with no
    # line number, the batches before it committed and the run left unfinished.
    initialised()
    file = desk_dir / "items.csv"
    file.write_bytes(_items_csv(1500, bad_line=1201))

    result = run("ingest", str(file), "--json", "--batch-size", "100", parallel)

    assert result.exit_code == 2, result.output
    summary = json.loads(result.output)
    assert (summary["inserted"], summary["rejected"]) == (1499, 1)
    [row] = summary["rejected_rows"]
    assert (row["line"], row["field"]) == (1201, "(line)")
    assert "not UTF-8" in row["error"] and "0xE9" in row["error"]
    listed = json.loads(run("ingest", "--rejected", "--json").output)
    assert listed["finished"] is True
    assert listed["rejected_rows"][0]["raw"] == "X-1201,ACME-US,USD,1201.00,Caf\\xe9 Noir"


@pytest.mark.parametrize("parallel", ["--no-parallel", "--parallel"])
def test_a_json_line_nested_5000_deep_is_rejected_and_the_rest_lands(
    desk_dir: Path, parallel: str
) -> None:
    # RecursionError stopped the run half-way (exit 1, thousands of rows committed).
    initialised()
    good = [
        json.dumps({"external_id": f"J-{n}", "entity": "ACME-US", "currency": "USD", "amount": "1"})
        for n in range(400)
    ]
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    file = desk_dir / "items.jsonl"
    file.write_text("\n".join([*good[:300], deep, *good[300:]]) + "\n")

    result = run("ingest", str(file), "--json", "--batch-size", "50", parallel)

    assert result.exit_code == 2, result.output
    summary = json.loads(result.output)
    assert (summary["inserted"], summary["rejected"]) == (400, 1)
    [row] = summary["rejected_rows"]
    assert (row["line"], row["field"]) == (301, "(line)") and "nested" in row["error"]


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("utf16.csv", "external_id,entity\nA,Café\n".encode("utf-16"), "is UTF-16 text"),
        ("utf16.jsonl", '{"external_id":"A"}\n'.encode("utf-16"), "is UTF-16 text"),
        ("bare16.csv", "external_id,entity\nA,B\n".encode("utf-16-le"), "NUL bytes"),
        ("latin1.csv", "external_id,entité,currency,amount\nA,B,USD,1\n".encode("latin-1"), "0xE9"),
        ("folder.csv", None, "is not a file"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_before_anything_is_written(
    desk_dir: Path, name: str, content: bytes | None, says: str
) -> None:
    # A UTF-16 file failed on its first bytes with "'utf-16' codec..."-style noise after
    # opening a run that stayed unfinished; a directory was a usage error (exit 2).
    initialised()
    path = desk_dir / name
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)

    for parallel in ("--no-parallel", "--parallel"):
        result = run("ingest", str(path), parallel)

        assert result.exit_code == 1, result.output
        message = _one_sentence_error(result)
        assert says in message
        if content is not None:
            assert "save it as UTF-8" in message
    assert json.loads(run("ingest", "--rejected", "--json").output)["run"] is None  # no run


def _fail_batch(
    monkeypatch: pytest.MonkeyPatch,
    number: int,
    error: BaseException,
    *,
    after_commit: bool = False,
) -> None:
    """Makes the ``number``-th batch of an ingest raise ``error``: instead of storing it,
    or once it is committed (a signal landing just then)."""
    from domain.usecases.intake import Intake

    store_batch = Intake.ingest
    batches = 0

    async def failing(self: Intake, *args: Any, **kwargs: Any) -> Any:
        nonlocal batches
        batches += 1
        if batches != number:
            return await store_batch(self, *args, **kwargs)
        if after_commit:
            await store_batch(self, *args, **kwargs)
        raise error

    monkeypatch.setattr(Intake, "ingest", failing)


def test_a_run_that_fails_part_way_exits_2_and_says_what_is_stored(
    desk_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A failure after some batches were committed exited 1, "failure with nothing changed".
    initialised()
    file = desk_dir / "items.csv"
    file.write_bytes(_items_csv(500))
    with monkeypatch.context() as patch:
        _fail_batch(patch, 3, OSError(28, "No space left on device"))
        result = run("ingest", str(file), "--json", "--batch-size", "100", "--no-parallel")

    assert result.exit_code == 2, result.output
    summary = json.loads(result.stdout)
    assert summary["inserted"] == 200
    assert summary["stopped"] == {"after_line": 201, "error": "No space left on device"}
    assert "ingest run 1 stopped after line 201" in result.stderr

    # The quarantine of a run that never finished says so.
    listed = json.loads(run("ingest", "--rejected", "--json").output)
    assert listed["finished"] is False and "never finished" in listed["note"]
    text = run("ingest", "--rejected")
    assert "never finished" in text.output

    again = json.loads(run("ingest", str(file), "--json").output)
    assert (again["unchanged"], again["inserted"]) == (200, 300)


def test_an_interruption_in_the_first_batch_is_not_reported_as_nothing_changed(
    desk_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C may land after the first batch's commit, before ingest returns: whether it
    # is stored is unknown, so exit 1 ("nothing changed") would be a guess.
    initialised()
    file = desk_dir / "items.csv"
    file.write_bytes(_items_csv(50))
    _fail_batch(monkeypatch, 1, asyncio.CancelledError(), after_commit=True)

    result = run("ingest", str(file), "--json", "--no-parallel")

    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["stopped"] == {"after_line": 0, "error": "interrupted"}
    assert "was interrupted while storing its first batch" in result.stderr


def test_rejected_rows_of_a_run_that_does_not_exist_is_an_error(desk_dir: Path) -> None:
    # It said "run 99 rejected no rows" with exit 0.
    initialised()
    run("ingest", str(SAMPLE))

    for extra in ([], ["--json"]):
        result = run("ingest", "--rejected", "--run", "99", *extra)

        assert result.exit_code == 1
        assert "there is no ingest run 99" in _one_sentence_error(result)


def test_a_csv_row_past_the_field_limit_is_quarantined_with_its_raw_text(
    desk_dir: Path,
) -> None:
    # The quarantine kept "{}" for it.
    initialised()
    file = desk_dir / "items.csv"
    file.write_text(
        "external_id,entity,currency,amount\n"
        f"A,ACME-US,USD,1.00\nB,ACME-US,USD,{'9' * 200_000}\nC,ACME-US,USD,2.00\n"
    )

    assert run("ingest", str(file)).exit_code == 2
    [row] = json.loads(run("ingest", "--rejected", "--json").output)["rejected_rows"]
    assert row["line"] == 3 and row["raw"].startswith("B,ACME-US,USD,9999")
    assert "[cut: 200,014 characters in all, 16,384 kept]" in row["raw"]


def test_bidi_overrides_reach_no_card_and_the_raw_value_is_kept(desk_dir: Path) -> None:
    initialised()
    file = desk_dir / "items.jsonl"
    row = {
        "external_id": "BIDI-1",
        "entity": "ACME-US",
        "currency": "USD",
        "amount": "5000000.00",
        "counterparty": "Evil\u202eCorp",
    }
    file.write_text(json.dumps(row) + "\n")

    assert run("ingest", str(file)).exit_code == 0
    shown = json.loads(run("show", "R-1", "--json").output)
    facts = shown.get("facts", shown)
    assert facts["counterparty"] == "Evil\ufffdCorp"
    assert facts["extra"] == {"raw:counterparty": "Evil\u202eCorp"}


def test_ctrl_c_part_way_exits_2_and_says_the_run_stopped(desk_dir: Path) -> None:
    # Ctrl-C after batches were stored printed "Aborted!" with exit 1 ("nothing changed").
    initialised()
    file = desk_dir / "items.csv"
    file.write_bytes(_items_csv(30_000))  # 30 batches of the default 1,000 rows
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "ingest", str(file), "--json", "--no-parallel"],
        cwd=desk_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        # Past the second batch: the first one's ingest has returned, so its rows are
        # known to be stored (a signal landing just after a commit leaves it unknown).
        while _stored_items(desk_dir / "recon.db") <= 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()

    assert proc.returncode == 2, stderr
    summary = json.loads(stdout)
    assert 1000 <= summary["inserted"] < 30_000
    assert summary["stopped"]["error"] == "interrupted"
    assert f"stopped after line {summary['stopped']['after_line']}" in stderr


def _stored_items(db: Path) -> int:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return int(conn.execute("select count(*) from items").fetchone()[0])
    except sqlite3.OperationalError:  # locked for a moment by the writer
        return 0
