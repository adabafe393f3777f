"""Issue 12's remaining rules as the operator sees them: an unmatched bank line that a
later run matches is closed when the match is accepted, and the audit log still replays
(``audit verify --deep``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.integration.test_cli_matching import as_json, desk, journal_kinds, run

__all__ = ["desk"]

LATE_GL = """entry_id,account,date,amount,currency,reference,counterparty,description
GL-4,1200,2025-03-03,-50.00,EUR,FEE,,bank fee
"""


def _item(desk: Path, external_id: str) -> tuple[int, str, str | None]:
    with sqlite3.connect(desk / "recon.db") as db:
        row = db.execute(
            "SELECT id, state, decision_note FROM items WHERE source = 'matching' "
            "AND external_id = ?",
            (external_id,),
        ).fetchone()
    assert row is not None, external_id
    return int(row[0]), str(row[1]), row[2]


def test_a_line_matched_by_a_later_run_is_closed_and_the_log_replays(desk: Path) -> None:
    first = as_json(run("match", "--json"))
    assert first["unmatched_bank"] == 3
    fee_id, state, _ = _item(desk, "bank:1#3")
    assert state == "pending"
    late = desk / "late.csv"
    late.write_text(LATE_GL)
    assert run("ledger", "import", str(late)).exit_code == 0
    second = as_json(run("match", "--json"))
    assert second["pending_review"] == 2
    (pending,) = [m for m in as_json(run("matches", "--json")) if m["ledger_entries"] == ["GL-4"]]
    assert (pending["state"], pending["run"], pending["approvals"]) == ("pending_review", 2, [])
    assert _item(desk, "bank:1#3")[1] == "pending"  # open until the match is accepted
    accepted = run("matches", "accept", str(pending["id"]))
    assert accepted.exit_code == 0 and "accepted" in accepted.output
    assert _item(desk, "bank:1#3") == (
        fee_id,
        "matched",
        f"matched by run 2 / match {pending['id']}",
    )
    assert journal_kinds(desk) == ["match", "match"]
    shown = as_json(run("show", f"R-{fee_id}", "--json"))
    assert shown["state"] == "matched"
    verified = run("audit", "verify", "--deep")
    assert verified.exit_code == 0, verified.output
