"""The recon-bot command line as a user runs it: exit codes, one-sentence errors, JSON."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
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


def test_a_worker_that_cannot_decode_the_file_fails_with_one_sentence(desk_dir: Path) -> None:
    initialised()
    broken = desk_dir / "broken.csv"
    broken.write_bytes(b"external_id,entity,currency,amount\nA,ACME-US,USD,\xff1.00\n")

    result = CliRunner().invoke(main, ["ingest", str(broken), "--parallel"])

    assert result.exit_code == 1
    assert "broken.csv" in result.output and "utf-8" in result.output
    assert "Traceback" not in result.output
