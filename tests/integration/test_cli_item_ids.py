"""``recon-bot show`` with an id in other digits than ASCII: one sentence, exit 1 (it
printed ``invalid literal for int()`` for ``R-²`` and showed R-1 for R- and an
Arabic-Indic one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from tests.conftest import ROOT


@pytest.mark.parametrize("item_id", ["R-²", "R-\u0661", "\u0661", "R-\uff11", "R-" + "9" * 5000])
def test_show_refuses_an_id_in_other_digits_with_one_sentence(desk_dir: Path, item_id: str) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    sample = ROOT / "samples" / "items.csv"
    assert runner.invoke(main, ["ingest", str(sample)]).exit_code in (0, 2)  # R-1 exists

    result = runner.invoke(main, ["show", item_id], catch_exceptions=False)

    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "is not an item id" in lines[0] and "like R-1042" in lines[0]
    assert "invalid literal" not in result.output and "R-1 " not in result.output


@pytest.mark.parametrize("row_id", ["\u0661", "²", "4\uff12", "-1", "1e3"])
@pytest.mark.parametrize(
    "command", [["outbox", "--retry"], ["ingest", "--rejected", "--run"]], ids=["retry", "run"]
)
def test_row_id_options_take_ascii_digits_only(
    desk_dir: Path, row_id: str, command: list[str]
) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0

    result = runner.invoke(main, [*command, row_id], catch_exceptions=False)

    assert result.exit_code == 2, result.output  # click's usage error, as for any bad option
    assert "is not an id (ASCII digits, like 42)" in result.output
