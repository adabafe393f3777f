"""manifest.yml against Slack's manifest schema, and every Slack id against handlers/ids.py."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in the dev extras
import pytest
import yaml

from domain.items import DisputeState, ReviewState
from domain.policy import StepUp
from domain.statements.records import EntriesPage, StatementLine
from handlers import blocks, ids
from handlers.blocks import statements as statement_blocks
from handlers.blocks.statements import ENTRIES_PAGE_SIZE
from tests.statement_files import make_statement
from tests.unit.test_blocks import (
    NOW,
    POLICY,
    item_in,
    make_dashboard,
    make_item,
    sample_items,
    walk,
)
from tests.unit.test_match_slack import match_payloads

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "manifest.yml"
# Slack's published schema lives beside the repository (../shared/slack/), as in CI.
SCHEMA = Path(__file__).resolve().parents[3] / "shared/slack/manifest.schema.1.0.0.json"

LEAST_PRIVILEGE_BOT_SCOPES = {
    "commands",
    "chat:write",
    "im:write",
    "users:read",
    # conversations.history, to find a post (channel or DM) whose outcome a crash left unknown
    "channels:history",
    "groups:history",
    "im:history",
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_manifest_matches_slack_schema(manifest: dict[str, Any]) -> None:
    if not SCHEMA.is_file():
        pytest.skip(f"Slack manifest schema not found at {SCHEMA} (expected beside the repo)")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(manifest, schema)


def test_manifest_metadata_and_display(manifest: dict[str, Any]) -> None:
    assert manifest["_metadata"] == {"major_version": 1, "minor_version": 1}
    assert manifest["display_information"]["name"] == "recon-bot"
    assert manifest["display_information"]["description"]
    assert manifest["features"]["bot_user"]["display_name"]


def test_slash_command_is_the_one_the_handlers_listen_for(manifest: dict[str, Any]) -> None:
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == [ids.COMMAND]
    command = commands[0]
    assert command["description"] and command["usage_hint"]
    assert command["should_escape"] is False
    assert "url" not in command  # Socket Mode: no request URLs


def test_socket_mode_interactivity_and_events(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert "request_url" not in settings["interactivity"]
    # The App Home, and thread replies in public and private channels (a dispute's log):
    # nothing else, and no DMs (message.im) nor group DMs.
    assert settings["event_subscriptions"]["bot_events"] == [
        "app_home_opened",
        "message.channels",
        "message.groups",
    ]
    assert "request_url" not in settings["event_subscriptions"]


def test_home_tab_enabled(manifest: dict[str, Any]) -> None:
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True


def test_bot_scopes_are_least_privilege(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]
    assert set(scopes["bot"]) == LEAST_PRIVILEGE_BOT_SCOPES
    assert len(scopes["bot"]) == len(LEAST_PRIVILEGE_BOT_SCOPES)
    assert not scopes.get("user")


# --- every id the renderers emit comes from handlers/ids.py ------------------------------------


def _rendered_payloads() -> Iterator[dict[str, Any]]:
    disputed = item_in(ReviewState.DISPUTED)
    assert disputed.dispute is not None
    waiting = item_in(
        ReviewState.DISPUTED,
        dispute=dataclasses.replace(disputed.dispute, state=DisputeState.AWAITING_COUNTERPARTY),
    )
    items = [*sample_items(), waiting]
    for item in items:
        yield blocks.item_card(item, policy=POLICY, now=NOW).payload()
        yield blocks.item_details(item, policy=POLICY, now=NOW, history=[]).payload()
    yield blocks.queue_page(
        [item_in(s, 900 + i) for i, s in enumerate(ReviewState)],
        title="All",
        scope="all",
        offset=10,
        page_size=10,
        total=100,
        policy=POLICY,
        now=NOW,
    ).payload()
    yield blocks.home_view(make_dashboard(30, 30, page=1), policy=POLICY, now=NOW).to_dict()
    for render in (
        blocks.reject_modal,
        blocks.escalate_modal,
        blocks.dispute_modal,
        blocks.step_up_modal,
    ):
        yield render(make_item(), policy=POLICY, channel="C0TREASURY", ts="1.2").to_dict()
    for dispute_form in (blocks.note_modal, blocks.resolve_modal):
        yield dispute_form(disputed, policy=POLICY, channel="C0TREASURY", ts="1.2").to_dict()
    # With a step-up in the policy, the resolve form asks for the write-off retyped.
    step_up = POLICY.model_copy(update={"step_up": StepUp(amount=Decimal("5000.00"))})
    yield blocks.resolve_modal(disputed, policy=step_up, channel="C0TREASURY", ts="1.2").to_dict()
    yield blocks.help_message().payload()
    yield blocks.stats_message({"overdue": 1}, now=NOW).payload()
    # Bank statements (Stage 1): the card, two pages of entries, the forms and the list.
    lines = tuple(
        StatementLine(number=i, amount=Decimal(i)) for i in range(1, 3 * ENTRIES_PAGE_SIZE)
    )
    statement = make_statement(None, id=1, lines=lines)
    yield statement_blocks.statement_card(statement, policy=POLICY, now=NOW).payload()
    yield statement_blocks.entries_modal(
        EntriesPage.of(statement, page=1, page_size=ENTRIES_PAGE_SIZE)
    ).to_dict()
    yield statement_blocks.edit_modal(statement).to_dict()
    yield statement_blocks.statement_reject_modal(statement).to_dict()
    yield statement_blocks.statement_list([(statement, 2)], offset=10, total=30).payload()
    # Matching (Stage 2): a card, a summary with checks and Accept all, the forms, the list.
    yield from match_payloads()


def _known_action_id(action_id: str) -> bool:
    patterns: list[re.Pattern[str]] = [ids.item_action_pattern(a) for a in ids.ItemAction]
    patterns += [ids.statement_action_pattern(a) for a in ids.StatementButton]
    patterns += [ids.ENTRIES_PAGE_PATTERN, ids.LIST_PAGE_PATTERN]
    patterns += [ids.match_action_pattern(a) for a in ids.MatchButton]
    exact = {a.value for a in ids.NavAction} | {ids.INPUT_ACTION_ID}
    return action_id in exact or any(p.match(action_id) for p in patterns)


def test_every_rendered_action_and_callback_id_comes_from_ids() -> None:
    seen_actions: set[str] = set()
    seen_callbacks: set[str] = set()
    input_blocks: set[str] = set()
    for payload in _rendered_payloads():
        if "callback_id" in payload:
            seen_callbacks.add(payload["callback_id"])
        for node in walk(payload.get("blocks", [])):
            if "action_id" in node:
                seen_actions.add(node["action_id"])
            if node.get("type") == "input":
                input_blocks.add(node["block_id"])
    unknown = sorted(a for a in seen_actions if not _known_action_id(a))
    assert unknown == []
    assert seen_callbacks <= (
        {m.value for m in ids.Modal}
        | {m.value for m in ids.StatementModal}
        | {m.value for m in ids.MatchModal}
    )
    assert seen_callbacks == {
        ids.Modal.REJECT,
        ids.Modal.ESCALATE,
        ids.Modal.DISPUTE,
        ids.Modal.NOTE,
        ids.Modal.RESOLVE,
        ids.Modal.STEP_UP,
        *ids.StatementModal,
        *ids.MatchModal,
    }
    assert input_blocks == (
        {f.value for f in ids.Field}
        | {f.value for f in ids.StatementField}
        | {f.value for f in ids.MatchField}
    )
    # Every item button and every navigation kind is exercised by the samples above.
    prefixes = {a.split(":")[0] for a in seen_actions}
    assert {a.value for a in ids.ItemAction} <= prefixes
    assert {a.value for a in ids.NavAction} <= prefixes
    assert {a.value for a in ids.StatementButton} | {a.value for a in ids.StatementNav} <= prefixes
    assert {a.value for a in ids.MatchButton} <= prefixes
