"""``recon-bot match``, ``matches`` and ``checks`` as the operator runs them: a real MT940
statement and a GL CSV export, every command, and the JSON contracts key by key."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.cli.root import run_coroutine, with_container
from bot.container import Container
from tests.builders import policy_text
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "matching"
ACCOUNT = {
    "account": "DE89370400440532013000",
    "entity": "ACME-DE",
    "currency": "EUR",
    "gl_account": "1200",
    "team": "treasury",
}
MATCH_KEYS = {
    "auto_accepted",
    "pending_review",
    "unmatched_bank",
    "unmatched_ledger",
    "checks_open",
    "seconds",
}
MATCHES_KEYS = {
    "id",
    "band",
    "score",
    "state",
    "components",
    "bank_lines",
    "ledger_entries",
    "statement",
}
CHECK_KEYS = {"id", "kind", "state", "statement", "detail"}


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def desk(desk_dir: Path) -> Path:
    """A desk whose policy maps the MT940 account to GL 1200 and approves by policy, with
    the statement and the ledger export imported."""
    assert run("init").exit_code == 0
    (desk_dir / "policy.yml").write_text(
        policy_text(statements={"auto_approve": True, "accounts": [ACCOUNT]})
    )
    imported = run("statements", "import", str(DATA / "statement.sta"), "--json")
    assert imported.exit_code == 0, imported.output
    assert run("ledger", "import", str(DATA / "gl.csv")).exit_code == 0
    (stmt,) = as_json(run("statements", "--json"))
    sid = int(stmt["id"].removeprefix("S-"))

    async def approve(c: Container) -> None:
        await c.usecases.statements.approve(statement_id=sid, actor="U0ALICE", now=c.clock.now())

    run_coroutine(with_container(approve))
    (stmt,) = as_json(run("statements", "--json"))
    assert stmt["stage1_status"] == "approved"
    return desk_dir


def journal_kinds(desk: Path) -> list[str]:
    with sqlite3.connect(desk / "recon.db") as db:
        return [k for (k,) in db.execute("SELECT kind FROM journal_entries ORDER BY id")]


def test_match_json_is_the_contract_and_sorts_into_the_bands(desk: Path) -> None:
    summary = as_json(run("match", "--json"))
    assert set(summary) == MATCH_KEYS
    assert isinstance(summary["seconds"], float)
    assert {k: summary[k] for k in MATCH_KEYS - {"seconds"}} == {
        "auto_accepted": 1,
        "pending_review": 1,
        "unmatched_bank": 3,
        "unmatched_ledger": 1,
        "checks_open": summary["checks_open"],
    }
    assert summary["checks_open"] >= 1
    assert journal_kinds(desk) == ["match"]
    # A second run of the one statement finds nothing new and posts nothing.
    again = as_json(run("match", "--statement", "S-1", "--json"))
    assert (again["auto_accepted"], again["pending_review"]) == (0, 1)
    assert again["checks_open"] == summary["checks_open"]
    assert journal_kinds(desk) == ["match"]
    text = run("match")
    assert text.exit_code == 0 and "auto-accepted 0, pending review 1" in text.stdout
    listed = run("checks")
    assert listed.exit_code == 0 and "duplicate_bank" in listed.stdout
    assert CliRunner().invoke(main, ["match", "--statement", "S-x"]).exit_code == 2


def test_matches_json_lists_every_contract_key(desk: Path) -> None:
    assert run("match").exit_code == 0
    listed = as_json(run("matches", "--json"))
    assert len(listed) == 2
    for m in listed:
        assert MATCHES_KEYS <= set(m)
        assert m["band"] in ("auto_accepted", "pending_review", "unmatched")
        assert isinstance(m["components"], dict) and "amount_points" in m["components"]
        assert isinstance(m["statement"], int)
        for b in m["bank_lines"]:
            assert set(b) == {"statement", "line", "reference"}
    by_band = {m["band"]: m for m in listed}
    auto = by_band["auto_accepted"]
    assert (auto["state"], auto["ledger_entries"]) == ("auto_accepted", ["GL-1"])
    assert auto["bank_lines"][0]["line"] == 1
    assert auto["bank_lines"][0]["reference"] == "INV-1"
    assert by_band["pending_review"]["ledger_entries"] == ["GL-2"]
    only = as_json(run("matches", "--band", "pending_review", "--json"))
    assert [m["id"] for m in only] == [by_band["pending_review"]["id"]]
    assert len(as_json(run("matches", "--limit", "1", "--json"))) == 1
    text = run("matches")
    assert text.exit_code == 0 and "GL-1" in text.stdout


def test_checks_gate_accept_all_until_resolved(desk: Path) -> None:
    assert run("match").exit_code == 0
    checks = as_json(run("checks", "--json"))
    assert checks and all(CHECK_KEYS <= set(c) for c in checks)
    kinds = {c["kind"] for c in checks}
    assert "duplicate_bank" in kinds
    assert kinds <= {"duplicate_bank", "duplicate_ledger", "internal_transfer", "statistics"}
    statement = checks[0]["statement"]
    refused = CliRunner().invoke(main, ["matches", "accept-all", f"S-{statement}"])
    assert refused.exit_code == 1
    assert "duplicate_bank" in refused.output
    assert journal_kinds(desk) == ["match"]
    for c in checks:
        how = "confirmed_duplicate" if c["kind"] == "duplicate_bank" else "explained"
        done = run("checks", "resolve", str(c["id"]), "--as", how, "--note", "bank sent it twice")
        assert done.exit_code == 0, done.output
    assert {c["state"] for c in as_json(run("checks", "--json"))} == {"resolved"}
    allowed = run("matches", "accept-all", f"S-{statement}")
    assert allowed.exit_code == 0, allowed.output
    assert journal_kinds(desk) == ["match", "match"]
    states = {m["state"] for m in as_json(run("matches", "--json"))}
    assert states == {"auto_accepted", "accepted"}
    verified = run("audit", "verify", "--deep")
    assert verified.exit_code == 0, verified.output


def test_accept_and_reject_one_match(desk: Path) -> None:
    assert run("match").exit_code == 0
    (pending,) = as_json(run("matches", "--band", "pending_review", "--json"))
    rejected = run("matches", "reject", str(pending["id"]))
    assert rejected.exit_code == 0, rejected.output
    (after,) = [m for m in as_json(run("matches", "--json")) if m["id"] == pending["id"]]
    assert after["state"] == "rejected"
    again = CliRunner().invoke(main, ["matches", "accept", str(pending["id"])])
    assert again.exit_code == 1 and "not pending_review" in again.output
    assert journal_kinds(desk) == ["match"]
    # The rejected sides are back in the pool: the next run pairs them again.
    rerun = as_json(run("match", "--json"))
    assert rerun["pending_review"] == 1
    listed = as_json(run("matches", "--band", "pending_review", "--json"))
    (fresh,) = [m for m in listed if m["state"] == "pending_review"]
    assert fresh["id"] != pending["id"]
    assert run("matches", "accept", str(fresh["id"])).exit_code == 0
    assert journal_kinds(desk) == ["match", "match"]


def test_bad_ids_and_resolutions_are_refused(desk: Path) -> None:
    assert CliRunner().invoke(main, ["matches", "accept", "x1"]).exit_code == 2
    assert CliRunner().invoke(main, ["matches", "accept", "999"]).exit_code == 1
    resolve = ["checks", "resolve", "1", "--as", "explained"]
    assert CliRunner().invoke(main, resolve).exit_code == 1
    assert CliRunner().invoke(main, ["checks", "resolve", "1", "--as", "nope"]).exit_code == 2
