"""Block Kit renderers: assertions on the rendered JSON that Slack would receive."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import HeaderBlock, MarkdownTextObject, PlainTextObject, SectionBlock
from slack_sdk.models.views import View

from domain.dashboard import Dashboard, PriorityBand
from domain.items import (
    Approval,
    Dispute,
    DisputeCategory,
    DisputeState,
    Item,
    ItemFacts,
    ItemKind,
    ReviewState,
    RiskTier,
    Route,
)
from domain.notifications import NoticeKind
from domain.policy import Policy
from domain.states import MIN_REASON_WORDS
from domain.templates import DeliveryFailed, LedgerBreaker
from handlers import blocks
from handlers.blocks import Message
from handlers.blocks.alerts import alert_message
from handlers.blocks.mrkdwn import fit
from handlers.forms import parse_home_page, parse_metadata, parse_queue_cursor
from handlers.ids import (
    COMMAND,
    INPUT_ACTION_ID,
    Field,
    ItemAction,
    Modal,
    NavAction,
    item_action_id,
    item_value,
)
from tests.builders import make_facts
from tests.builders import make_item as build_item
from tests.slack_standin.limits import validate_message, validate_view

NOW = datetime(2024, 5, 2, 14, 30, tzinfo=UTC)
S = ReviewState


# --- builders (also used by test_forms and test_manifest) ---------------------------------


def make_policy(timezone: str = "America/New_York") -> Policy:
    """A realistic policy: treasury and AP Europe teams, default SLA ladder."""
    return Policy.model_validate(
        {
            "reporting_currency": "USD",
            "fx_rates": {"EUR": "1.08", "JPY": "0.0067"},
            "routing": {"materiality": "10000.00", "aging_days": 5, "min_confidence": "0.85"},
            "batch": {"absolute_cap": "500.00", "relative_cap": "0.0015"},
            "dual_control": {"amount": "10000.00", "variance_pct": "0.005"},
            "teams": [
                {
                    "name": "treasury",
                    "channel": "C0TREASURY",
                    "reviewers": ["U0ALICE", "U0BOB"],
                    "leads": ["U0LEAD"],
                },
                {
                    "name": "ap-europe",
                    "channel": "C0APEU",
                    "reviewers": ["U0DAN"],
                    "entities": ["ACME-DE"],
                    "currencies": ["EUR"],
                },
            ],
            "compliance": {"channel": "C0COMPLIANCE", "officers": ["U0AUDIT"]},
            "digest": {"timezone": timezone},
        }
    )


POLICY = make_policy()


def make_item(item_id: int = 1042, **changes: Any) -> Item:
    """A proposed match of 12,500.00 USD waiting for review; ``changes`` override fields.

    Fact fields may be given directly too (``counterparty=...``).
    """
    fact_names = {f.name for f in dataclasses.fields(ItemFacts)}
    fact_changes = {k: changes.pop(k) for k in list(changes) if k in fact_names}
    facts = {
        "source": "bank:chase",
        "external_id": f"TX-{88000 + item_id}",
        "kind": ItemKind.MATCH,
        "amount": "12500.00",
        "counterparty": "Globex Trading Ltd",
        "risk_tier": RiskTier.HIGH,
        "aging_days": 6,
        "booked_on": date(2024, 4, 26),
        "confidence": "0.72",
        "score": 72,
        "prepared_by": "U0PREP",
        "reference": "INV-4411",
        "description": "Wire for invoice INV-4411, partial payment",
    }
    base: dict[str, Any] = {
        "id": item_id,
        "facts": make_facts(**(facts | fact_changes)),
        "content_hash": "sha256:abc",
        "route": Route.IMMEDIATE,
        "priority": 520,
        "reasons": (
            "amount 12,500.00 USD >= materiality 10,000.00 USD",
            "counterparty risk tier high",
            "match score 72 is below auto-accept 85",
        ),
        "policy_version": "pol-0123456789abcdef",
        "team": "treasury",
        "required_approvals": 2,
        "created_at": NOW - timedelta(hours=10),
        "updated_at": NOW - timedelta(hours=1),
        "sla_started_at": NOW - timedelta(hours=10),
        "version": 3,
    }
    return build_item(**(base | changes))


def item_in(state: ReviewState, item_id: int = 1042, **changes: Any) -> Item:
    """An item in ``state`` with the fields that state implies."""
    extra: dict[str, Any] = {}
    alice = Approval(user="U0ALICE", at=NOW - timedelta(hours=2))
    bob = Approval(user="U0BOB", at=NOW - timedelta(hours=1), note="checked the remittance")
    if state is S.ASSIGNED:
        extra = {"assignee": "U0ALICE", "claim_expires_at": NOW + timedelta(hours=3)}
    elif state is S.AWAITING_SECOND_APPROVAL:
        extra = {"assignee": "U0ALICE", "approvals": (alice,)}
    elif state in (S.APPROVED, S.POSTED):
        extra = {
            "approvals": (alice, bob),
            "decided_by": "U0BOB",
            "decided_at": NOW - timedelta(hours=1),
        }
        if state is S.POSTED:
            extra["ledger_ref"] = "JE-2024-000123"
    elif state is S.REJECTED:
        extra = {
            "decided_by": "U0BOB",
            "decided_at": NOW - timedelta(minutes=5),
            "decision_note": "duplicate of R-1001 already posted",
        }
    elif state is S.ESCALATED:
        extra = {"ladder_level": 2}
    elif state is S.DEAD_LETTER:
        extra = {"ladder_level": 3}
    elif state is S.DISPUTED:
        extra = {
            "assignee": "U0ALICE",
            "dispute": Dispute(
                state=DisputeState.OPEN,
                category=DisputeCategory.AMOUNT_MISMATCH,
                description="Counterparty remitted 12,450.00; bank fee of 50.00 not agreed",
                opened_by="U0ALICE",
                opened_at=NOW - timedelta(minutes=30),
                counterparty_contact="ap@globex.example",
                expected_resolution=date(2024, 5, 10),
                evidence_links=("https://files.example/remit-4411.pdf",),
                proposed_adjustment=Decimal("-50.00"),
            ),
        }
    extra.update(changes)
    return make_item(item_id, state=state, **extra)


def sample_items() -> list[Item]:
    """One item in every review state, plus a batch and a JPY line."""
    items = [item_in(state, 1000 + i) for i, state in enumerate(ReviewState)]
    items.append(
        make_item(
            2001,
            kind=ItemKind.BATCH,
            amount=Decimal("1000000.00"),
            matched_value=Decimal("1000000.00"),
            variance=Decimal("1234.56"),
            record_count=120,
            score=None,
            confidence=None,
        )
    )
    items.append(
        make_item(
            2002, kind=ItemKind.UNMATCHED, currency="JPY", amount=Decimal("1250000"), score=None
        )
    )
    return items


def make_dashboard(mine: int, unclaimed: int, *, page: int = 0, page_size: int = 5) -> Dashboard:
    my_items = tuple(item_in(S.ASSIGNED, 10_000 + i) for i in range(mine))
    open_items = tuple(make_item(50_000 + i) for i in range(unclaimed))
    return Dashboard(
        user="U0ALICE",
        teams=("treasury", "ap-europe"),
        refreshed_at=NOW,
        pending_by_band={PriorityBand.HIGH: 12, PriorityBand.MEDIUM: 40, PriorityBand.LOW: 3},
        overdue=7,
        awaiting_second_approval=2,
        open_disputes=1,
        dead_lettered=4,
        my_items=my_items,
        my_items_total=mine,
        unclaimed=open_items,
        unclaimed_total=unclaimed,
        page=page,
        page_size=page_size,
    )


# --- JSON walkers ----------------------------------------------------------------------------


def rendered(obj: Message | View) -> list[dict[str, Any]]:
    """The blocks as Slack receives them (serialising runs slack_sdk's validators)."""
    if isinstance(obj, Message):
        return list(obj.payload()["blocks"])
    return list(obj.to_dict()["blocks"])


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def buttons(obj: Message | View) -> list[dict[str, Any]]:
    return [n for n in walk(rendered(obj)) if n.get("type") == "button"]


def labels(obj: Message | View) -> list[str]:
    return [b["text"]["text"] for b in buttons(obj)]


def action_ids(obj: Message | View) -> list[str]:
    return [n["action_id"] for n in walk(rendered(obj)) if "action_id" in n]


def block_ids(obj: Message | View) -> list[str]:
    return [b["block_id"] for b in rendered(obj)]


def texts(obj: Message | View) -> str:
    return json.dumps(rendered(obj), ensure_ascii=False)


def assert_valid_message(msg: Message) -> None:
    """Slack's limits as the stand-in enforces them, plus unique ids."""
    payload = msg.payload()
    error, errors = validate_message(payload["text"], payload["blocks"])
    assert error is None, errors
    assert msg.text.strip()
    assert len(block_ids(msg)) == len(set(block_ids(msg)))
    assert_action_ids_unique(msg)


def assert_action_ids_unique(obj: Message | View) -> None:
    """Unique within each block (Slack's rule), and item buttons unique across the surface.

    Modal inputs share INPUT_ACTION_ID and Previous/Next share their NavAction id, each in
    its own block; an item's buttons carry its id, so two items never collide.
    """
    for block in rendered(obj):
        inner = [n["action_id"] for n in walk(block) if "action_id" in n]
        assert len(inner) == len(set(inner)), block
    item_actions = [a for a in action_ids(obj) if ":" in a]
    assert len(item_actions) == len(set(item_actions))


def assert_valid_view(view: View, kind: str) -> None:
    check = validate_view(view.to_dict(), expected_type=kind)
    assert check.error is None, check.messages
    assert len(block_ids(view)) == len(set(block_ids(view)))
    assert_action_ids_unique(view)


def assert_text_limits(obj: Message | View) -> None:
    for block in rendered(obj):
        kind = block["type"]
        if kind == "header":
            assert len(block["text"]["text"]) <= 150
        if kind == "section":
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000
            for field in block.get("fields", []):
                assert len(field["text"]) <= 2000
            assert len(block.get("fields", [])) <= 10
        if kind == "context":
            assert all(len(e["text"]) <= 3000 for e in block["elements"])
    for button in buttons(obj):
        assert len(button["text"]["text"]) <= 75
        assert len(button.get("value", "")) <= 2000


# --- item card ------------------------------------------------------------------------------


def test_pending_card_offers_exactly_the_five_decision_buttons() -> None:
    item = make_item()
    msg = blocks.item_card(item, policy=POLICY, now=NOW)

    assert_valid_message(msg)
    assert labels(msg) == ["Approve", "Reject", "Escalate", "Dispute", "Claim"]
    by_label = {b["text"]["text"]: b for b in buttons(msg)}
    for label, action in [
        ("Approve", ItemAction.APPROVE),
        ("Reject", ItemAction.REJECT),
        ("Escalate", ItemAction.ESCALATE),
        ("Dispute", ItemAction.DISPUTE),
        ("Claim", ItemAction.CLAIM),
    ]:
        assert by_label[label]["action_id"] == item_action_id(action, 1042)
        assert by_label[label]["value"] == item_value(1042, 3)
    assert by_label["Approve"]["style"] == "primary"
    assert by_label["Reject"]["style"] == "danger"


def test_card_shows_facts_priority_due_time_and_reasons() -> None:
    msg = blocks.item_card(make_item(), policy=POLICY, now=NOW)
    out = rendered(msg)
    header = out[0]
    assert header["type"] == "header"
    assert header["text"]["text"].startswith("R-1042 · 12,500.00 USD")
    body = texts(msg)
    for expected in (
        "ACME-US",
        "Globex Trading Ltd",
        "Proposed match",
        "6 days",
        "72/100",
        "confidence 72%",
        "High",
        "520 (high)",
        "Unclaimed",
        "Pending review",
        "• amount 12,500.00 USD &gt;= materiality 10,000.00 USD",
        "• counterparty risk tier high",
    ):
        assert expected in body, expected
    # Due 24h after the SLA started (10h ago): Slack date token with a New York fallback.
    due = NOW + timedelta(hours=14)
    token = f"<!date^{int(due.timestamp())}^{{date_short_pretty}} {{time}}|2024-05-03 00:30 EDT>"
    assert token in body
    assert "R-1042" in msg.text and "12,500.00 USD" in msg.text


def test_overdue_item_is_flagged() -> None:
    item = make_item(sla_started_at=NOW - timedelta(hours=30))
    assert "*Overdue*" in texts(blocks.item_card(item, policy=POLICY, now=NOW))


def test_claimed_card_offers_release_instead_of_claim() -> None:
    msg = blocks.item_card(item_in(S.ASSIGNED), policy=POLICY, now=NOW)
    assert labels(msg) == ["Approve", "Reject", "Escalate", "Dispute", "Release"]
    assert "<@U0ALICE>" in texts(msg)


def test_dual_control_progress_and_confirm() -> None:
    msg = blocks.item_card(item_in(S.AWAITING_SECOND_APPROVAL), policy=POLICY, now=NOW)
    assert_valid_message(msg)
    assert "1 of 2 approvals: <@U0ALICE> — waiting for a second approver" in texts(msg)
    approve = next(b for b in buttons(msg) if b["text"]["text"] == "Approve")
    assert "Yours will be 2 of 2" in approve["confirm"]["text"]["text"]
    # No claim from this state: the state machine would refuse it.
    assert labels(msg) == ["Approve", "Reject", "Escalate", "Dispute"]


def test_single_approval_item_has_no_progress_or_confirm() -> None:
    msg = blocks.item_card(make_item(required_approvals=1), policy=POLICY, now=NOW)
    assert "approvals" not in texts(msg)
    assert all("confirm" not in b for b in buttons(msg))


@pytest.mark.parametrize("state", [S.POSTED, S.REJECTED, S.APPROVED])
def test_decided_cards_have_no_buttons(state: ReviewState) -> None:
    msg = blocks.item_card(item_in(state), policy=POLICY, now=NOW)
    assert_valid_message(msg)
    assert buttons(msg) == []
    assert all(b["type"] != "actions" for b in rendered(msg))


def test_posted_card_shows_outcome_who_when_and_ledger_ref() -> None:
    item = item_in(S.POSTED)
    body = texts(blocks.item_card(item, policy=POLICY, now=NOW))
    assert "*Approved and posted*" in body
    assert "`JE-2024-000123`" in body
    assert "<@U0ALICE>, <@U0BOB>" in body
    assert f"<!date^{int((NOW - timedelta(hours=1)).timestamp())}^" in body
    assert "SLA due*\\n—" in body  # settled: nothing is due


def test_rejected_card_shows_reason() -> None:
    body = texts(blocks.item_card(item_in(S.REJECTED), policy=POLICY, now=NOW))
    assert "*Rejected* by <@U0BOB>" in body
    assert "duplicate of R-1001 already posted" in body


def test_escalated_and_dead_lettered_cards_show_outcome_and_allowed_buttons() -> None:
    escalated = blocks.item_card(item_in(S.ESCALATED), policy=POLICY, now=NOW)
    assert "*Escalated*" in texts(escalated)
    assert labels(escalated) == ["Approve", "Reject", "Dispute", "Claim"]
    dead = blocks.item_card(item_in(S.DEAD_LETTER), policy=POLICY, now=NOW)
    assert "*Dead-lettered*" in texts(dead)
    assert "automatic posting is halted" in texts(dead)
    assert labels(dead) == ["Approve", "Reject", "Claim"]


def test_disputed_card_shows_the_dispute_and_only_its_next_steps() -> None:
    msg = blocks.item_card(item_in(S.DISPUTED), policy=POLICY, now=NOW)
    body = texts(msg)
    assert_valid_message(msg)
    assert "*Disputed* by <@U0ALICE>" in body
    assert "Amount mismatch" in body
    assert "-50.00 USD" in body
    assert "https://files.example/remit-4411.pdf" in body
    # no decision buttons: only the dispute's own steps
    assert labels(msg) == ["Awaiting counterparty", "Add note", "Resolve"]


def test_block_ids_carry_the_version_and_change_with_it() -> None:
    v3 = blocks.item_card(make_item(version=3), policy=POLICY, now=NOW)
    v4 = blocks.item_card(make_item(version=4), policy=POLICY, now=NOW)
    assert all(".v3." in bid for bid in block_ids(v3))
    assert not set(block_ids(v3)) & set(block_ids(v4))


def test_long_user_text_is_clipped_within_slack_limits() -> None:
    item = make_item(
        counterparty="Globex " * 500,
        description="word " * 2000,
        entity="E" * 3000,
        reasons=tuple(f"reason {i}: " + "x" * 400 for i in range(500)),
    )
    for msg in (
        blocks.item_card(item, policy=POLICY, now=NOW),
        blocks.item_details(item, policy=POLICY, now=NOW, history=[]),
    ):
        assert_valid_message(msg)
        assert_text_limits(msg)
        assert "…" in texts(msg)
        assert "more" in texts(msg)  # "…and N more" reasons


def test_user_text_cannot_inject_mentions_or_links() -> None:
    item = make_item(counterparty="<!channel> <https://evil.example|click>", description="a & b")
    body = texts(blocks.item_card(item, policy=POLICY, now=NOW))
    assert "<!channel>" not in body
    assert "&lt;!channel&gt;" in body
    assert "a &amp; b" in body


def test_batch_card_shows_variance_and_jpy_has_no_decimals() -> None:
    batch, jpy = sample_items()[-2:]
    body = texts(blocks.item_card(batch, policy=POLICY, now=NOW))
    assert "*Variance*" in body
    assert "1,234.56 USD on 1,000,000.00 USD matched (0.123456%)" in body
    assert "120 records" in body
    header = rendered(blocks.item_card(jpy, policy=POLICY, now=NOW))[0]
    assert header["text"]["text"].startswith("R-2002 · 1,250,000 JPY")


@pytest.mark.parametrize("item", sample_items(), ids=lambda i: f"{i.state.value}-{i.id}")
def test_every_state_renders_valid_card_and_details(item: Item) -> None:
    card = blocks.item_card(item, policy=POLICY, now=NOW)
    details = blocks.item_details(item, policy=POLICY, now=NOW, history=[])
    for msg in (card, details):
        assert_valid_message(msg)
        assert_text_limits(msg)
    if item.state in (S.POSTED, S.REJECTED):
        assert buttons(card) == [] and buttons(details) == []


def test_unstored_item_cannot_be_rendered() -> None:
    with pytest.raises(ValueError):
        blocks.item_card(make_item(id=None), policy=POLICY, now=NOW)


# --- details ---------------------------------------------------------------------------------


def history(n: int) -> list[dict[str, Any]]:
    return [
        {
            "seq": i + 1,
            "time": (NOW - timedelta(minutes=n - i)).isoformat(),
            "event": f"item.event_{i + 1}",
            "actor": "U0ALICE" if i % 2 else "scheduler",
            "from": "pending",
            "to": "assigned",
        }
        for i in range(n)
    ]


def test_details_show_last_ten_history_entries_and_approvals() -> None:
    msg = blocks.item_details(
        item_in(S.AWAITING_SECOND_APPROVAL), policy=POLICY, now=NOW, history=history(25)
    )
    assert_valid_message(msg)
    body = texts(msg)
    assert "*History* (last 10 of 25)" in body
    assert "item.event_25" in body and "item.event_16" in body
    assert "item.event_15`" not in body
    assert "by <@U0ALICE>" in body and "by scheduler" in body
    assert "(pending → assigned)" in body
    assert "*Approvals* (1 of 2 required)" in body
    assert labels(msg) == ["Approve", "Reject", "Escalate", "Dispute"]


def test_details_tolerate_odd_history_entries() -> None:
    odd: list[dict[str, Any]] = [
        {"event": "item.created", "time": "yesterday"},
        {"event": "x" * 500, "actor": "<!here>", "time": datetime(2024, 5, 1, tzinfo=UTC)},
        {},
    ]
    msg = blocks.item_details(make_item(), policy=POLICY, now=NOW, history=odd)
    assert_valid_message(msg)
    assert "<!here>" not in texts(msg)


def test_details_show_dispute_evidence() -> None:
    msg = blocks.item_details(item_in(S.DISPUTED), policy=POLICY, now=NOW, history=history(2))
    body = texts(msg)
    assert "Contact: ap@globex.example" in body
    assert "Expected resolution: 2024-05-10" in body
    assert "_Evidence:_" in body


# --- queue page ------------------------------------------------------------------------------


def page_of(n: int, start: int = 0) -> list[Item]:
    states = [S.PENDING, S.ASSIGNED, S.AWAITING_SECOND_APPROVAL, S.ESCALATED, S.DEAD_LETTER]
    return [item_in(states[i % len(states)], 3000 + start + i) for i in range(n)]


def test_full_queue_page_stays_within_fifty_blocks() -> None:
    size = blocks.MAX_QUEUE_PAGE_SIZE
    msg = blocks.queue_page(
        page_of(size),
        title="Open in treasury",
        scope="team:treasury",
        offset=size,
        page_size=size,
        total=size * 5,
        policy=POLICY,
        now=NOW,
    )
    assert_valid_message(msg)
    assert_text_limits(msg)
    assert len(rendered(msg)) <= 50
    assert sum(1 for b in rendered(msg) if b["type"] == "section") == size


def test_queue_page_size_that_cannot_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="page_size"):
        blocks.queue_page(
            [],
            title="t",
            scope="all",
            offset=0,
            page_size=blocks.MAX_QUEUE_PAGE_SIZE + 1,
            total=0,
            policy=POLICY,
            now=NOW,
        )


def test_queue_rows_have_item_buttons_and_navigation_round_trips() -> None:
    msg = blocks.queue_page(
        page_of(10, start=10),
        title="My items",
        scope="mine",
        offset=10,
        page_size=10,
        total=35,
        policy=POLICY,
        now=NOW,
    )
    assert_valid_message(msg)
    first = rendered(msg)[2]
    assert first["type"] == "section" and "*R-3010*" in first["text"]["text"]
    row_buttons = rendered(msg)[3]["elements"]
    assert [b["text"]["text"] for b in row_buttons] == ["Claim", "Approve", "Reject", "Details"]
    assert row_buttons[-1]["action_id"] == item_action_id(ItemAction.DETAILS, 3010)
    nav = {b["text"]["text"]: b for b in buttons(msg) if b["text"]["text"] in ("Previous", "Next")}
    assert set(nav) == {"Previous", "Next"}
    assert all(b["action_id"] == NavAction.QUEUE_PAGE.value for b in nav.values())
    assert parse_queue_cursor(nav["Previous"]["value"]).offset == 0
    assert parse_queue_cursor(nav["Next"]["value"]).offset == 20
    assert parse_queue_cursor(nav["Next"]["value"]).scope == "mine"
    assert "Showing 11 to 20 of 35 items" in texts(msg)


def test_queue_first_and_last_pages_and_empty_queue() -> None:
    def nav_labels(offset: int, total: int, n: int) -> list[str]:
        msg = blocks.queue_page(
            page_of(n),
            title="All open",
            scope="all",
            offset=offset,
            page_size=10,
            total=total,
            policy=POLICY,
            now=NOW,
        )
        return [x for x in labels(msg) if x in ("Previous", "Next")]

    assert nav_labels(0, 25, 10) == ["Next"]
    assert nav_labels(20, 25, 5) == ["Previous"]
    assert nav_labels(0, 3, 3) == []
    empty = blocks.queue_page(
        [], title="My items", scope="mine", offset=0, page_size=10, total=0, policy=POLICY, now=NOW
    )
    assert_valid_message(empty)
    assert "Nothing to review here." in texts(empty)


def test_queue_never_repeats_an_item_or_overflows_the_page() -> None:
    items = page_of(5) + page_of(5) + page_of(30, start=100)
    msg = blocks.queue_page(
        items, title="t", scope="all", offset=0, page_size=10, total=40, policy=POLICY, now=NOW
    )
    assert_valid_message(msg)
    assert sum(1 for b in rendered(msg) if b["type"] == "section") == 10


# --- modals ----------------------------------------------------------------------------------


def inputs(view: View) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in rendered(view) if b["type"] == "input"}


def test_reject_modal() -> None:
    view = blocks.reject_modal(make_item(), channel="C0TREASURY", ts="1714656600.000100")
    assert_valid_view(view, "modal")
    data = view.to_dict()
    assert data["type"] == "modal"
    assert data["callback_id"] == Modal.REJECT.value
    assert data["title"]["text"] == "Reject R-1042"
    reason = inputs(view)[Field.REASON.value]
    assert reason["label"]["text"] == "Reason"
    assert reason["optional"] is False
    assert reason["element"]["action_id"] == INPUT_ACTION_ID
    assert reason["element"]["multiline"] is True
    assert f"{MIN_REASON_WORDS} words" in reason["hint"]["text"]
    meta = parse_metadata(data["private_metadata"])
    assert (meta.item_id, meta.version, meta.channel, meta.ts) == (
        1042,
        3,
        "C0TREASURY",
        "1714656600.000100",
    )


def test_escalate_modal_reason_is_optional() -> None:
    view = blocks.escalate_modal(make_item(), policy=POLICY)
    assert_valid_view(view, "modal")
    data = view.to_dict()
    assert data["callback_id"] == Modal.ESCALATE.value
    assert inputs(view)[Field.REASON.value]["optional"] is True
    assert inputs(view)[Field.REASON.value]["label"]["text"] == "Reason"
    meta = parse_metadata(data["private_metadata"])
    assert meta.channel is None and meta.ts is None
    assert data["private_metadata"] == '{"item_id":1042,"version":3}'
    assert "Decision due <!date^" in texts(view)


def test_dispute_modal_fields() -> None:
    view = blocks.dispute_modal(make_item(currency="EUR", entity="ACME-DE"), policy=POLICY)
    assert_valid_view(view, "modal")
    data = view.to_dict()
    assert data["callback_id"] == Modal.DISPUTE.value
    fields = inputs(view)
    dispute_fields = (
        Field.CATEGORY,
        Field.DESCRIPTION,
        Field.CONTACT,
        Field.EXPECTED_DATE,
        Field.EVIDENCE,
        Field.ADJUSTMENT,
    )
    assert set(fields) == {f.value for f in dispute_fields}
    assert [fields[f.value]["label"]["text"] for f in dispute_fields] == [
        "Category",
        "Description",
        "Counterparty contact",
        "Expected resolution date",
        "Evidence links",
        "Proposed adjustment (EUR)",
    ]
    category = fields[Field.CATEGORY.value]["element"]
    assert category["type"] == "static_select"
    assert [(o["text"]["text"], o["value"]) for o in category["options"]] == [
        ("Amount mismatch", "amount_mismatch"),
        ("Missing counterparty record", "missing_counterparty_record"),
        ("Duplicate", "duplicate"),
        ("FX difference", "fx_difference"),
        ("Timing", "timing"),
        ("Suspected fraud", "suspected_fraud"),
        ("Other", "other"),
    ]
    assert {o["value"] for o in category["options"]} == {c.value for c in DisputeCategory}
    assert fields[Field.EXPECTED_DATE.value]["element"]["type"] == "datepicker"
    optional = {k for k, v in fields.items() if v.get("optional")}
    assert optional == {"contact", "expected_date", "evidence", "adjustment"}
    assert all(f["element"]["action_id"] == INPUT_ACTION_ID for f in fields.values())
    assert "EUR" in fields[Field.ADJUSTMENT.value]["hint"]["text"]


@pytest.mark.parametrize(
    "render", [blocks.reject_modal, blocks.escalate_modal, blocks.dispute_modal]
)
def test_modal_titles_and_buttons_fit_for_huge_ids(render: Any) -> None:
    view = render(make_item(123_456_789_012_345), channel="D0ABCDEF", ts="1714656600.000100")
    data = view.to_dict()
    assert len(data["title"]["text"]) <= 24
    assert len(data["submit"]["text"]) <= 24 and len(data["close"]["text"]) <= 24
    assert len(data["private_metadata"]) < 3000
    assert parse_metadata(data["private_metadata"]).item_id == 123_456_789_012_345


# --- App Home --------------------------------------------------------------------------------


def test_home_with_ten_thousand_items_renders_one_page_under_100_blocks() -> None:
    dashboard = make_dashboard(10_000, 10_000, page=3, page_size=10_000)
    view = blocks.home_view(dashboard, policy=POLICY, now=NOW)
    assert_valid_view(view, "home")
    assert_text_limits(view)
    out = rendered(view)
    assert len(out) <= 100
    rows = [b for b in out if b["type"] == "section" and b["block_id"].endswith(".row")]
    assert len(rows) == 2 * blocks.HOME_MAX_PER_LIST


def test_home_counts_lists_refresh_and_pagination() -> None:
    view = blocks.home_view(make_dashboard(12, 30, page=1), policy=POLICY, now=NOW)
    assert_valid_view(view, "home")
    assert view.to_dict()["type"] == "home"
    body = texts(view)
    for expected in (
        "Pending, high*\\n12",
        "Pending, medium*\\n40",
        "Pending, low*\\n3",
        "Overdue*\\n7",
        "Awaiting second approval*\\n2",
        "Open disputes*\\n1",
        "Dead-lettered*\\n4",
        "My items · 12",
        "Unclaimed in my teams · 30",
        f"Refreshed <!date^{int(NOW.timestamp())}^",
        "Page 2 of 6",
    ):
        assert expected in body, expected
    rows = [b for b in rendered(view) if b["type"] == "section" and b["block_id"].endswith(".row")]
    assert len(rows) == 10
    by_label: dict[str, list[dict[str, Any]]] = {}
    for b in buttons(view):
        by_label.setdefault(b["text"]["text"], []).append(b)
    refresh = by_label["Refresh"][0]
    assert refresh["action_id"] == NavAction.HOME_REFRESH.value
    assert parse_home_page(refresh["value"]) == 1
    assert parse_home_page(by_label["Previous"][0]["value"]) == 0
    assert parse_home_page(by_label["Next"][0]["value"]) == 2
    assert by_label["Next"][0]["action_id"] == NavAction.HOME_PAGE.value
    assert by_label["Previous"][0]["action_id"] == NavAction.HOME_PAGE.value
    assert "Release" in by_label and "Claim" in by_label


def test_home_last_page_and_empty_lists() -> None:
    last = blocks.home_view(make_dashboard(3, 3, page=0), policy=POLICY, now=NOW)
    assert "Previous" not in labels(last) and "Next" not in labels(last)
    empty = blocks.home_view(make_dashboard(0, 0), policy=POLICY, now=NOW)
    assert_valid_view(empty, "home")
    assert "Nothing is assigned to you." in texts(empty)
    assert "Nothing unclaimed in your teams." in texts(empty)


def test_home_never_repeats_action_ids_when_an_item_is_in_both_lists() -> None:
    dashboard = make_dashboard(3, 0)
    dashboard = dataclasses.replace(
        dashboard, unclaimed=(*dashboard.my_items, make_item(7)), unclaimed_total=4
    )
    view = blocks.home_view(dashboard, policy=POLICY, now=NOW)
    assert_valid_view(view, "home")
    assert "R-7" in texts(view)


def test_home_lists_what_sits_in_the_viewers_escalation_tier_from_other_teams() -> None:
    # Even with every list full, the view stays within Slack's 100 blocks.
    tiered = tuple(item_in(S.ESCALATED, 90_000 + i) for i in range(10_000))
    dashboard = dataclasses.replace(
        make_dashboard(10_000, 10_000, page_size=10_000),
        in_my_tiers=tiered,
        in_my_tiers_total=10_000,
    )
    view = blocks.home_view(dashboard, policy=POLICY, now=NOW)
    assert_valid_view(view, "home")
    out = rendered(view)
    assert len(out) <= 100
    assert "In my escalation tiers · 10,000" in texts(view)
    rows = [b["block_id"] for b in out if b["type"] == "section" and b["block_id"].endswith(".row")]
    assert len([r for r in rows if r.startswith("home.tier.")]) == blocks.HOME_MAX_PER_LIST
    assert len(rows) == 3 * blocks.HOME_MAX_PER_LIST
    # Someone in no tier beyond their teams sees the two lists alone, as before.
    plain = texts(blocks.home_view(make_dashboard(1, 1), policy=POLICY, now=NOW))
    assert "escalation tier" not in plain


# --- replies ---------------------------------------------------------------------------------


def test_help_lists_every_subcommand() -> None:
    msg = blocks.help_message()
    assert_valid_message(msg)
    body = texts(msg)
    for usage in (
        "help",
        "queue [mine|team NAME|all]",
        "show ID",
        "claim",
        "approve ID [note]",
        "reject ID reason",
        "escalate ID [reason]",
        "dispute ID",
        "assign ID @user",
        "stats",
    ):
        assert f"`{COMMAND} {usage}`" in body, usage


def test_usage_error_is_one_line_pointing_to_help() -> None:
    msg = blocks.usage_error("R-x is not an item id\nlike R-1042")
    assert_valid_message(msg)
    assert "\n" not in msg.text
    assert f"`{COMMAND} help`" in msg.text
    assert len(rendered(msg)) == 1


def test_notice_escapes_unless_told_it_is_markup() -> None:
    assert "&lt;b&gt;" in texts(blocks.notice("no <b> here"))
    assert "<@U0BOB>" in texts(blocks.notice("Assigned to <@U0BOB>", markup=True))
    assert_valid_message(blocks.notice("x" * 10_000))


def test_stats_message() -> None:
    stats = {"pending_high": 12, "pending_medium": 40, "overdue": 7, "dead_lettered": 1_234}
    msg = blocks.stats_message(stats, now=NOW)
    assert_valid_message(msg)
    body = texts(msg)
    assert "*Pending high*\\n12" in body and "*Dead lettered*\\n1,234" in body
    assert f"<!date^{int(NOW.timestamp())}^" in body
    assert "overdue 7" in msg.text
    many = blocks.stats_message({f"count_{i}": i for i in range(100)}, now=NOW)
    assert_valid_message(many)
    assert "60 more not shown" in texts(many)


# --- the library we rely on really checks ------------------------------------------------------


def test_slack_sdk_refuses_what_the_renderers_avoid() -> None:
    """The limits are checked on serialisation; the renderers clip before that point."""
    with pytest.raises(SlackObjectFormationError):
        SectionBlock(text=MarkdownTextObject(text="x" * 3001)).to_dict()
    with pytest.raises(SlackObjectFormationError):
        HeaderBlock(text=PlainTextObject(text="x" * 151)).to_dict()
    with pytest.raises(SlackObjectFormationError):
        View(type="modal", title="x" * 25, blocks=[SectionBlock(text="x")]).to_dict()


def test_fit_never_cuts_a_token_or_entity() -> None:
    token = "<!date^1714660200^{date_short_pretty} {time}|2024-05-02 10:30 EDT>"
    for limit in range(5, 80):
        text = fit("due " + token + " &amp; more", limit)
        assert len(text) <= limit
        assert text.count("<") == text.count(">")
        assert "&am…" not in text and "&a…" not in text and "&…" not in text


# --- ledger alerts ------------------------------------------------------------------------


def test_the_ledger_alerts_say_what_happened_within_slacks_limits() -> None:
    policy = make_policy()
    now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    opened = alert_message(
        LedgerBreaker(state="open", error="HTTP 503: down"), item=None, policy=policy, now=now
    )
    closed = alert_message(
        LedgerBreaker(state="closed", error=""), item=None, policy=policy, now=now
    )
    refused = alert_message(
        DeliveryFailed(outbox_id=7, kind=NoticeKind.LEDGER, target="ledger", error="HTTP 422"),
        item=make_item(),
        policy=policy,
        now=now,
    )
    assert "The ledger is not answering" in opened.text
    assert "HTTP 503: down" in json.dumps(rendered(opened))
    assert "answers again" in closed.text
    assert refused.text.startswith("The ledger refused the journal entry of R-1042")
    assert "recon-bot outbox --retry 7" in json.dumps(rendered(refused))
    for message in (opened, closed, refused):
        assert validate_message(message.text, rendered(message)) == (None, [])
