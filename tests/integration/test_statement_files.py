"""``recon-bot statements import`` on real bank files of every format, through the real
parsers (no injected parser): detection, several statements per file, a broken chain,
a refused camt.054, an unrecognised file, and a second import that changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from bot.cli import main
from tests.builders import policy_text

DATA = Path(__file__).parent.parent / "data" / "statements"

ACCOUNTS: list[dict[str, Any]] = [
    {"account": account, "entity": "ACME-DE", "currency": currency, "gl_account": "1100",
     "team": "treasury"}
    for account, currency in [
        ("DE89370400440532013000", "EUR"),  # MT940 (bank-code prefixed) and camt v02
        ("1234567890", "USD"),  # BAI2
        ("KW81CBKU0000000000001234560101", "KWD"),  # camt v05, broken chain
        ("FR7630004000031234567890143", "EUR"),  # OFX 2
    ]
]  # fmt: skip


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def desk(desk_dir: Path) -> list[str]:
    assert run("init").exit_code == 0
    (desk_dir / "policy.yml").write_text(policy_text(statements={"accounts": ACCOUNTS}))
    names = [
        "mt940_month.sta",
        "bai2_two_days.bai",
        "camt053_v05_kwd_broken_chain.xml",
        "ofx2_xml_eur.ofx",
        "camt054_notification.xml",
    ]
    for name in names:
        shutil.copy(DATA / name, desk_dir / name)
    (desk_dir / "notes.txt").write_text("this is not a bank statement\n")
    return [*names, "notes.txt"]


def test_every_format_imports_through_the_real_parsers(desk_dir: Path) -> None:
    files = desk(desk_dir)
    result = run("statements", "import", *files, "--json")
    assert result.exit_code == 2, result.output  # some statements were refused
    report = json.loads(result.stdout)
    assert report["files"] == len(files)
    assert report["imported"] >= 6 and report["unchanged"] == 0
    errors = {r["file"]: r["error"] for r in report["rejected"]}
    assert "camt.054" in errors["camt054_notification.xml"]
    assert errors["notes.txt"].startswith("not a bank statement")

    listing = json.loads(run("statements", "--json").stdout)
    formats = {s["format"] for s in listing}
    assert formats == {"mt940", "bai2", "camt053", "ofx"}
    kwd = [s for s in listing if s["currency"] == "KWD"]
    assert kwd and any(s["chain_ok"] is False for s in kwd)  # the file's broken chain
    ofx = [s for s in listing if s["format"] == "ofx"]
    assert ofx and all(s["chain_ok"] is None for s in ofx)  # derived opening: not checkable
    mt940 = [s for s in listing if s["format"] == "mt940"]
    assert len(mt940) >= 3 and all(s["chain_ok"] is True for s in mt940)

    again = json.loads(run("statements", "import", *files, "--json").stdout)
    assert again["imported"] == 0 and again["revised"] == 0
    assert again["unchanged"] == report["imported"]
