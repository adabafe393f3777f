"""``recon-bot sandbox --speed 1200`` as a real process: the SLA ladder and the digest come
within seconds, as the people of the policy see them on the page.

At 1200 times the wall clock, an hour of the bot's time passes in 3 wall seconds. The
policy's short ladder (reminder after 1 h, escalation after 2 h, dead letter after 3 h)
and hourly digest then give a reminder, an escalation, a dead letter and a digest within
about ten seconds; at speed 1 none of them would come for an hour. The test reads what
each person sees through the page's JSON API (what the page polls), so it checks the
whole path: the scaled clock, the sweeps, the scaled digest trigger, the relay, the
stand-in and the page.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.builders import policy_text
from tests.sandbox_process import RECON_BOT, page_state, process_env, sandbox_process

pytestmark = pytest.mark.slow

SPEED = "1200"
#: Wall seconds to wait for the last of them (3 bot hours are 9 s at 1200).
PATIENCE_S = 60.0
ITEMS = """\
external_id,kind,entity,currency,amount,counterparty,counterparty_risk_tier,booked_on,\
aging_days,confidence,score,matched_value,variance,record_count,entity_risk_score,\
prepared_by,reference,description,bank_account
sp-1,unmatched,ACME-US,USD,25000.00,Globex Ltd,high,2026-11-30,,0.95,,,,,,U0PREP1,INV-1,\
material,ACCT-1
sp-2,unmatched,ACME-US,USD,120.00,Initech,low,2026-12-05,,0.95,,,,,,U0PREP1,INV-2,small,ACCT-2
"""


def _texts(url: str, person: str) -> list[str]:
    state = page_state(url, person)
    return [m["text"] for c in state["channels"] for m in c["messages"]]


def _until(found: Callable[[], bool], what: str, url: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not found():
        if time.monotonic() > deadline:
            seen = "\n".join(_texts(url, "U0ALICE") + _texts(url, "U0LEAD"))
            raise AssertionError(f"no {what} within {PATIENCE_S} s; the page shows:\n{seen}")
        time.sleep(0.3)


def test_the_ladder_and_the_digest_come_within_seconds_at_speed_1200(tmp_path: Path) -> None:
    def cli(*args: str) -> None:
        subprocess.run([*RECON_BOT, *args], cwd=tmp_path, env=process_env(), check=True,
                       capture_output=True)  # fmt: skip

    cli("init")
    (tmp_path / "policy.yml").write_text(
        policy_text(
            sla={"remind_after": "1h", "escalate_after": "2h", "dead_letter_after": "3h"},
            digest={"cron": "0 * * * *", "timezone": "UTC"},
        )
    )
    (tmp_path / "items.csv").write_text(ITEMS)
    cli("ingest", "items.csv")  # R-1 material, to review now; R-2 small, for the digest

    with sandbox_process(tmp_path, "--speed", SPEED) as url:

        def alice_sees(text: str) -> Callable[[], bool]:
            return lambda: any(text in t for t in _texts(url, "U0ALICE"))

        _until(alice_sees("Digest for treasury: 1 item(s)"), "digest in #treasury", url)
        _until(alice_sees("Reminder: R-1"), "reminder of R-1", url)
        _until(
            lambda: any("R-1 was escalated to you" in t for t in _texts(url, "U0LEAD")),
            "escalation of R-1 to the lead's DM",
            url,
        )
        _until(alice_sees("Dead letter: R-1"), "dead letter of R-1 in #compliance", url)
