"""The samples `scripts/demo` imports give matching something to show: after Stage 1
approval, `recon-bot match` sorts the sample bank lines into all three bands and finds a
duplicate, on the policy sections the demo appends to the example policy."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from bot.cli import main
from bot.cli.root import run_coroutine, with_container
from bot.container import Container
from tests.conftest import ROOT

SAMPLES = ROOT / "samples"
DEMO = ROOT / "scripts" / "demo"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def demo_policy_sections() -> str:
    """The YAML `scripts/demo` appends to the example policy (read from the script)."""
    found = re.search(r"<<'YAML'\n(.*?)\nYAML\n", DEMO.read_text(encoding="utf-8"), re.S)
    assert found, "scripts/demo no longer appends its policy sections as a YAML heredoc"
    return found.group(1)


def test_the_samples_fill_every_band_and_a_duplicate_check(desk_dir: Path) -> None:
    assert run("init").exit_code == 0
    policy = desk_dir / "policy.yml"
    policy.write_text(policy.read_text(encoding="utf-8") + demo_policy_sections() + "\n")
    imported = as_json(run("statements", "import", str(SAMPLES / "statements.sta"), "--json"))
    assert imported["rejected"] == [], imported
    assert as_json(run("ledger", "import", str(SAMPLES / "ledger.csv"), "--json"))["rejected"] == 0
    statements = [int(s["id"].removeprefix("S-")) for s in as_json(run("statements", "--json"))]
    assert len(statements) == 5

    async def approve(c: Container) -> None:
        for sid in statements:
            await c.usecases.statements.approve(
                statement_id=sid, actor="U0ALICE", now=c.clock.now()
            )

    run_coroutine(with_container(approve))

    summary = as_json(run("match", "--json"))
    assert summary["auto_accepted"] > 0, summary  # >= 85, accepted on its own
    assert summary["pending_review"] > 0, summary  # 60-84 (or held by a check)
    assert summary["unmatched_bank"] > 0, summary  # nothing scored 60
    matches = as_json(run("matches", "--json"))
    bands = {m["band"] for m in matches}
    assert {"auto_accepted", "pending_review"} <= bands
    assert any(60 <= m["score"] < 85 for m in matches), "no match in the review band"
    kinds = [c["kind"] for c in as_json(run("checks", "--json"))]
    assert "duplicate_ledger" in kinds or "duplicate_bank" in kinds, kinds
