"""The ledger's health on a compliance officer's App Home: the delivery breaker and the
entries the ledger does not have yet.

Only the kind of the last error is shown (``TimeoutError``, ``HTTP 503``): its detail may
hold the ledger's answer or its address; ``recon-bot status`` shows the rest to the
operator.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

from domain.ledger_status import BreakerState, LedgerHealth
from handlers.blocks.limits import FIELD_TEXT_CHARS
from handlers.blocks.mrkdwn import duration, escape, fit, slack_date

#: How each breaker state reads, with the badge in front of it.
_STATE_TEXT = {
    BreakerState.CLOSED: ":large_green_circle: closed (delivering)",
    BreakerState.OPEN: ":red_circle: OPEN (nothing is sent; decisions go on)",
    BreakerState.HALF_OPEN: ":large_yellow_circle: half-open (probing the ledger)",
}


def _field(label: str, value: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=fit(f"*{label}*\n{value}", FIELD_TEXT_CHARS))


def ledger_block(health: LedgerHealth, *, tz: ZoneInfo, now: datetime) -> SectionBlock:
    """One section: breaker state, since when it is open, its last error's kind, the
    next probe, and the unposted entries (with those held or dead among them)."""
    breaker = health.breaker
    counts = health.counts
    fields = [_field("Ledger delivery", _STATE_TEXT[breaker.state])]
    unposted = f"{counts.unposted:,}"
    if counts.held or counts.dead:
        unposted += f" ({counts.held:,} held, {counts.dead:,} dead)"
    fields.append(_field("Unposted entries", unposted))
    if breaker.state is not BreakerState.CLOSED and breaker.opened_at is not None:
        since = slack_date(breaker.opened_at, tz)
        fields.append(_field("Open since", f"{since} ({duration(now - breaker.opened_at)})"))
    if breaker.state is BreakerState.OPEN and breaker.probe_at is not None:
        fields.append(_field("Next probe", slack_date(breaker.probe_at, tz)))
    if breaker.last_error_class is not None:
        fields.append(_field("Last error", f"`{escape(breaker.last_error_class)}`"))
    return SectionBlock(block_id="home.ledger", fields=fields)
