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


async def test_a_stacked_modal_shows_its_top_and_back_returns_to_the_view_below_as_left(
    browser,
    request: pytest.FixtureRequest,
) -> None:
    """Slack shows the top view of a modal's stack; Back (the close button of the pushed
    view) returns to the view below with what the person typed there still in it."""
    from slack_sdk.web.async_client import AsyncWebClient

    async with SlackStandIn() as slack:
        slack.add_user("U0ALICE", "alice")
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        root = {
            "type": "modal",
            "title": {"type": "plain_text", "text": "Dispute R-7"},
            "submit": {"type": "plain_text", "text": "Open"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "desc",
                    "label": {"type": "plain_text", "text": "Description"},
                    "element": {"type": "plain_text_input", "action_id": "v"},
                }
            ],
        }
        pushed = {
            "type": "modal",
            "title": {"type": "plain_text", "text": "Evidence"},
            "close": {"type": "plain_text", "text": "Back"},
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Pushed on top"}}],
        }
        await client.views_open(trigger_id=slack.mint_trigger("U0ALICE"), view=root)
        page_server = SandboxPage(slack=slack, people={"U0ALICE": "alice (reviewer)"}, port=0)
        await page_server.start()
        try:
            page = Page(browser, page_server.url, SHOTS / request.node.name)
            await asyncio.to_thread(page.open, "U0ALICE", "C0NONE")

            def top() -> Any:
                return page.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#modals .modal"))

            def typed() -> str:
                control = top().find_element(By.CSS_SELECTOR, "[data-label='Description']")
                return str(control.get_attribute("value"))

            await asyncio.to_thread(
                lambda: top().find_element(By.TAG_NAME, "input").send_keys("half typed")
            )
            await client.views_push(trigger_id=slack.mint_trigger("U0ALICE"), view=pushed)
            await asyncio.to_thread(page.wait, lambda d: "Evidence" in top().text)
            shown = await asyncio.to_thread(lambda: top().text)
            below = await asyncio.to_thread(
                lambda: [
                    (n.get_attribute("data-view-id"), n.is_displayed())
                    for n in browser.find_elements(By.CSS_SELECTOR, "#modals .modal-below")
                ]
            )
            stack_ids = [v.id for v in slack.modal_stack("U0ALICE")]
            await asyncio.to_thread(page.shot, "pushed-view-on-top")
            await asyncio.to_thread(
                lambda: top().find_element(By.CSS_SELECTOR, ".modal-back").click()
            )
            # (the pushed view names the root in its crumbs: wait for the root's own field)
            await asyncio.to_thread(page.wait, lambda d: "Evidence" not in top().text)
            kept = await asyncio.to_thread(page.wait, lambda d: typed())
            await asyncio.to_thread(page.shot, "back-to-the-view-below")
            stack_after_back = [v.spec["title"]["text"] for v in slack.modal_stack("U0ALICE")]
            await asyncio.to_thread(
                lambda: top().find_element(By.CSS_SELECTOR, ".modal-close").click()
            )
            await asyncio.to_thread(
                page.wait, lambda d: not d.find_elements(By.CSS_SELECTOR, "#modals [data-view-id]")
            )
        finally:
            await page_server.stop()
    assert "Pushed on top" in shown and "2 stacked" in shown
    assert "Dispute R-7 \u203a Evidence" in shown  # the stack, root first
    root_id = stack_ids[0]
    assert below == [(root_id, False)]  # the root waits in the page, hidden
    assert kept == "half typed"  # Slack keeps the view below as the person left it
    assert stack_after_back == ["Dispute R-7"]
    assert slack.modal_stack("U0ALICE") == []
