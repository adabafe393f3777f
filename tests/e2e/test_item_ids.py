"""``/recon`` with an id written in other digits than ASCII: usage, never an error or
another item (``R-²`` answered "Something went wrong" with an ERROR traceback, and R-
followed by an Arabic-Indic one opened R-1)."""

from __future__ import annotations

import logging

import pytest

from domain.items import ReviewState
from tests.e2e.conftest import QUIET, Desk, private_lines

pytestmark = pytest.mark.usefixtures("every_envelope_acked")


async def test_an_id_in_other_digits_gets_usage_and_touches_nothing(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    (item,) = await desk.ingest(**QUIET)
    assert item.human_id == "R-1"
    one, fullwidth_one = "\u0661", "\uff11"
    commands = ["show R-²", f"show R-{one}", f"approve R-{one}", f"escalate {one}"]
    commands.append(f"dispute R-{fullwidth_one}")

    for n, text in enumerate(commands, start=1):
        result = await desk.slack.slash_command("U0ALICE", text)
        assert not result.timed_out
        replies = [e for e in desk.slack.ephemerals_for("U0ALICE") if e.source == "ack"]
        assert len(replies) == n, f"/recon {text} was not answered in its ack"
        reply = replies[-1].text or ""
        assert "is not an item id" in reply and "/recon help" in reply, (text, reply)

    said = "\n".join(private_lines(desk, "U0ALICE"))
    assert "went wrong" not in said and "Globex" not in said
    assert len(private_lines(desk, "U0ALICE")) == len(commands)  # nothing else said
    assert (await desk.item(item.id or 0)).state is ReviewState.PENDING
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
