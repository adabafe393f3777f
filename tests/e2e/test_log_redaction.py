"""DEBUG logs of a running bot hold no capability URL and no token.

At DEBUG, slack_sdk and Bolt logged each envelope's ``response_url`` (anyone holding one
can post to the channel for 30 minutes), the ``ticket=`` of the Socket Mode URL (a live
connection for whoever uses it first) and the payloads' verification token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import QUIET, TREASURY, Desk, wait_said


class _Lines(logging.Handler):
    """Every record, formatted with its traceback, as the operator's log file would be."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def debug_log() -> Iterator[_Lines]:
    """DEBUG capture of every logger, from before the bot connects (so the ticket too)."""
    lines, root = _Lines(), logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(lines)
    try:
        yield lines
    finally:
        root.removeHandler(lines)
        root.setLevel(level)


async def test_debug_logs_hold_no_response_url_ticket_or_token(
    debug_log: _Lines, desk: Desk
) -> None:
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.slash_command("U0BOB", f"show {item.human_id}", channel=TREASURY)
    await wait_said(desk, "U0BOB", item.human_id)
    await desk.slack.click("U0BOB", "Claim", channel=TREASURY)
    await wait_said(desk, "U0BOB", "You claimed")

    text = "\n".join(debug_log.lines)
    # The capture saw the interaction (else the test proves nothing) ...
    assert "apps.connections.open" in text and "/api/auth.test" in text
    assert "(redacted)" in text and f"show {item.human_id}" in text
    # ... and none of its secrets.
    minted = list(desk.slack.response_urls)
    assert len(minted) >= 2
    for url_id in minted:
        assert url_id not in text, "a response_url reached the log"
    assert not re.search(r"ticket=(?!\(redacted\))", text), "a Socket Mode ticket was logged"
    for secret in (desk.slack.verification_token, desk.slack.bot_token, desk.slack.app_token):
        assert secret not in text
