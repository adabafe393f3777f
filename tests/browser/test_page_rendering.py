"""The page draws Block Kit and mrkdwn as Slack does, and never breaks on a block it does
not know: a stand-in and the page in this process (no bot), Chromium looking at it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sandbox.slack import Message, SlackStandIn
from sandbox.web import SandboxPage
from tests.browser.pages import SHOTS, Page

pytestmark = pytest.mark.browser

By = pytest.importorskip("selenium.webdriver.common.by").By


async def test_mrkdwn_mentions_links_dates_and_an_unknown_block(
    browser,
    request: pytest.FixtureRequest,
) -> None:
    async with SlackStandIn() as slack:
        slack.add_user("U0ALICE", "alice")
        slack.add_channel("C0TREASURY", "treasury", members=("U0ALICE",))
        text = (
            "*bold* _slanted_ `R-7` <@U0ALICE> <https://example.com/x|the doc> "
            "<!date^1796617226^{date_short}|Dec 6> 5 &lt; 6"
        )
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": "A header"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "video", "title": {"type": "plain_text", "text": "?"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "after the video"}]},
        ]
        slack.messages["C0TREASURY"] = [
            Message(
                channel="C0TREASURY",
                ts="1796617226.000100",
                text="fallback",
                blocks=blocks,
                user=slack.bot_user_id,
                bot_id=slack.bot_id,
                team_id=slack.team_id,
            )
        ]
        page_server = SandboxPage(slack=slack, people={"U0ALICE": "alice (reviewer)"}, port=0)
        await page_server.start()
        try:
            page = Page(browser, page_server.url, SHOTS / request.node.name)
            await asyncio.to_thread(page.open, "U0ALICE", "C0TREASURY")
            html = await asyncio.to_thread(
                lambda: browser.find_element(By.CSS_SELECTOR, ".message").get_attribute("innerHTML")
            )
            body = await asyncio.to_thread(page.text)
            await asyncio.to_thread(page.shot, "rendered")
        finally:
            await page_server.stop()
    assert "<b>bold</b>" in html and "<i>slanted</i>" in html and "<code>R-7</code>" in html
    assert '<span class="mention">@alice</span>' in html
    assert '<a href="https://example.com/x"' in html and ">the doc</a>" in html
    assert "Dec 6" in body and "5 < 6" in body
    assert "unsupported block: video" in body
    assert "after the video" in body  # the unknown block broke nothing after it
