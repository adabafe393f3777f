"""``recon-bot match`` run by hand queues the Slack messages of the run (the summary and
a card per pending match) in the outbox, for a running ``serve`` to deliver; a second run
that changes nothing queues nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.integration.test_cli_matching import desk, run

__all__ = ["desk"]


def _queued(desk: Path) -> list[tuple[str, str, dict[str, object]]]:
    with sqlite3.connect(desk / "recon.db") as db:
        rows = db.execute(
            "SELECT dedupe_key, target, payload FROM outbox WHERE kind = 'alert' ORDER BY id"
        ).fetchall()
    return [(key, target, json.loads(payload)) for key, target, payload in rows]


def _matching(desk: Path) -> list[tuple[str, str, dict[str, object]]]:
    return [
        row for row in _queued(desk) if row[2].get("template") in ("match_summary", "match_card")
    ]


def test_match_queues_the_summary_and_a_card_per_pending_match(desk: Path) -> None:
    assert _matching(desk) == []
    assert run("match").exit_code == 0
    rows = _matching(desk)
    cards = [r for r in rows if r[2]["template"] == "match_card"]
    summaries = [r for r in rows if r[2]["template"] == "match_summary"]
    assert len(cards) == 1  # the one pending match; the auto-accepted one has none
    assert cards[0][0] == f"match:{cards[0][2]['match_id']}"
    # The post alone: no edit of it in the same run (it would repeat the same summary).
    assert [key for key, _, _ in summaries] == ["match_summary:1"]
    assert "update_of" not in summaries[0][2]
    assert {target for _, target, _ in rows} == {"C0TREASURY"}
    assert run("match").exit_code == 0
    assert _matching(desk) == rows


def _written(desk: Path) -> tuple[list[tuple[int, str]], int, int]:
    """The audit records (seq, event), the outbox rows and the run numbers taken."""
    with sqlite3.connect(desk / "recon.db") as db:
        audit = db.execute("SELECT seq, event FROM audit_records ORDER BY seq").fetchall()
        (outbox,) = db.execute("SELECT count(*) FROM outbox").fetchone()
        (runs,) = db.execute("SELECT count(*) FROM match_runs").fetchone()
    return audit, outbox, runs


def test_a_match_that_changes_nothing_writes_nothing_and_the_log_still_verifies(
    desk: Path,
) -> None:
    assert run("match").exit_code == 0
    first = _written(desk)
    assert [e for _, e in first[0]].count("matching.run") == 1 and first[2] == 1
    assert run("match").exit_code == 0
    assert _written(desk) == first
    assert run("audit", "verify", "--deep").exit_code == 0
