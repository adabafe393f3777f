"""``recon-bot audit verify`` as an operator runs it: anchors required once written,
``--no-anchors`` as the explicit way around, and ``--deep`` against the tables."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from tests.conftest import ROOT

SAMPLE = ROOT / "samples" / "items.csv"


@pytest.fixture
def desk_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A desk with the sample file ingested, and no RECON_/SLACK_ settings leaking in."""
    for key in list(os.environ):
        if key.startswith(("RECON_", "SLACK_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    assert run("init").exit_code == 0
    assert run("ingest", str(SAMPLE)).exit_code in (0, 2)
    yield tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_verify_fails_without_the_anchors_file_unless_told_to_skip_it(desk_dir: Path) -> None:
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


def test_export_warns_and_the_bundle_fails_without_anchors(desk_dir: Path) -> None:
    (desk_dir / "audit_anchors.jsonl").unlink()

    exported = CliRunner().invoke(main, ["audit", "export", "--out", "bundle"])

    assert exported.exit_code == 0
    assert "warning: the anchors file audit_anchors.jsonl is missing" in exported.output
    assert run("audit", "verify", "--bundle", "bundle").exit_code == 1
    assert run("audit", "verify", "--bundle", "bundle", "--no-anchors").exit_code == 0


def test_deep_verify_catches_an_amount_changed_in_the_items_table(desk_dir: Path) -> None:
    deep = json.loads(run("audit", "verify", "--deep", "--json").output)
    assert deep["ok"], deep["problem"]
    assert deep["items"] > 0
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
