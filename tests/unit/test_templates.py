"""The outbox JSON of every template: rows queued before the typed payloads still deliver."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain import notifications
from domain.notifications import Notification
from domain.policy import LoadedPolicy
from domain.templates import (
    Assigned,
    AuditCheckpoint,
    CardUpdate,
    DeadLetter,
    DeliveryFailed,
    DigestCluster,
    DigestClusterDecided,
    DigestGroup,
    DigestSummary,
    DisputeOverdue,
    Escalated,
    HomeRefresh,
    LedgerBreaker,
    LedgerPost,
    Links,
    MatchCard,
    MatchSummary,
    NoticeBody,
    NoticeKind,
    PolicyInvalid,
    Reminder,
    ReminderUnclaimed,
    SlaEscalated,
    StatementCard,
    Template,
    TierReached,
    Unassigned,
    UnknownNotice,
    Verdict,
    decode,
    encode,
    template_of,
)

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

#: (kind, JSON exactly as the code before the typed payloads stored it, typed body, links)
STORED: list[tuple[NoticeKind, dict[str, Any], NoticeBody, Links]] = [
    (
        NoticeKind.CARD,
        {"version": 3, "post_if_missing": True},
        CardUpdate(version=3, post_if_missing=True),
        Links(),
    ),
    (NoticeKind.HOME, {"not_before": AT.isoformat()}, HomeRefresh(not_before=AT), Links()),
    (NoticeKind.DM, {"template": "reminder"}, Reminder(), Links()),
    (NoticeKind.ALERT, {"template": "reminder_unclaimed"}, ReminderUnclaimed(), Links()),
    (NoticeKind.ALERT, {"template": "sla_escalated"}, SlaEscalated(), Links()),
    (NoticeKind.DM, {"template": "escalated"}, Escalated(), Links()),
    (NoticeKind.DM, {"template": "assigned", "by": "U0LEAD"}, Assigned(by="U0LEAD"), Links()),
    (
        NoticeKind.ALERT,
        {"template": "dead_letter", "severity": "high"},
        DeadLetter(),
        Links(),
    ),
    (
        NoticeKind.DM,
        {"template": "reminder", "update_of": "sla:remind:1:0"},
        Reminder(),
        Links(update_of="sla:remind:1:0"),
    ),
    (
        NoticeKind.ALERT,
        {
            "template": "digest",
            "team": "treasury",
            "window": "2026-03-02T09:00:00+00:00",
            "count": 12,
            "totals": {"EUR": "10.50", "USD": "1200.00"},
            "oldest_at": AT.isoformat(),
            "clusters": [{"id": 7, "key": "ACME|USD|-|unmatched", "size": 11}],
            "cluster_count": 2,
        },
        DigestSummary(
            team="treasury",
            window="2026-03-02T09:00:00+00:00",
            count=12,
            totals=(("EUR", "10.50"), ("USD", "1200.00")),
            oldest_at=AT,
            groups=(DigestGroup(id=7, key="ACME|USD|-|unmatched", size=11),),
            group_count=2,
        ),
        Links(),
    ),
    (
        NoticeKind.ALERT,
        {
            "template": "digest",
            "team": "treasury",
            "window": "w",
            "count": 0,
            "totals": {},
            "oldest_at": None,
            "clusters": [],
            "cluster_count": 0,
        },
        DigestSummary(
            team="treasury",
            window="w",
            count=0,
            totals=(),
            oldest_at=None,
            groups=(),
            group_count=0,
        ),
        Links(),
    ),
    (
        NoticeKind.ALERT,
        {
            "template": "digest_cluster",
            "cluster_id": 7,
            "key": "ACME|USD|-|unmatched",
            "apart": False,
            "item_ids": [1, 2, 3],
            "size": 11,
            "thread_of": "digest:treasury:w",
        },
        DigestCluster(
            cluster_id=7, key="ACME|USD|-|unmatched", apart=False, item_ids=(1, 2, 3), size=11
        ),
        Links(thread_of="digest:treasury:w"),
    ),
    (
        NoticeKind.ALERT,
        {
            "template": "digest_cluster_decided",
            "cluster_id": 7,
            "key": "k",
            "verdict": "rejected",
            "by": "U0ALICE",
            "size": 11,
            "update_of": "digest:treasury:w:c7",
        },
        DigestClusterDecided(
            cluster_id=7, key="k", verdict=Verdict.REJECTED, by="U0ALICE", size=11
        ),
        Links(update_of="digest:treasury:w:c7"),
    ),
    (
        NoticeKind.ALERT,
        {
            "template": "policy_invalid",
            "file": "/etc/recon/policy.yml",
            "problems": ["policy has 1 problem(s)", "teams: required"],
            "kept": "pol-1",
        },
        PolicyInvalid(
            file="/etc/recon/policy.yml",
            problems=("policy has 1 problem(s)", "teams: required"),
            kept="pol-1",
        ),
        Links(),
    ),
    (
        NoticeKind.ALERT,
        {
            "template": "delivery_failed",
            "outbox_id": 41,
            "kind": "dm",
            "target": "U0GONE",
            "error": "channel_not_found",
        },
        DeliveryFailed(
            outbox_id=41, kind=NoticeKind.DM, target="U0GONE", error="channel_not_found"
        ),
        Links(),
    ),
    (
        NoticeKind.ALERT,
        {
            "template": "audit_checkpoint",
            "log": "recon",
            "size": 1024,
            "root": "ab" * 32,
            "time": AT.isoformat(),
            "key_id": "cd" * 16,
            "signature": "ef" * 64,
        },
        AuditCheckpoint(
            log="recon",
            size=1024,
            root="ab" * 32,
            time=AT,
            key_id="cd" * 16,
            signature="ef" * 64,
        ),
        Links(),
    ),
    (
        NoticeKind.DM,
        {
            "template": "dispute_overdue",
            "dispute": "D-1042-1",
            "expected_resolution": "2026-03-01",
        },
        DisputeOverdue(dispute="D-1042-1", expected_resolution=date(2026, 3, 1)),
        Links(),
    ),
    (
        NoticeKind.LEDGER,
        {"idempotency_key": "item-1042-approval"},
        LedgerPost(idempotency_key="item-1042-approval"),
        Links(),
    ),
    (
        NoticeKind.DM,
        {"template": "unassigned", "reasons": "U0A: at capacity (5 of 5 open)"},
        Unassigned(reasons="U0A: at capacity (5 of 5 open)"),
        Links(),
    ),
    (
        NoticeKind.ALERT,
        {"template": "ledger_breaker", "state": "open", "error": "HTTP 503"},
        LedgerBreaker(state="open", error="HTTP 503"),
        Links(),
    ),
    (
        NoticeKind.ALERT,
        {
            "template": "delivery_failed",
            "outbox_id": 7,
            "kind": "ledger",
            "target": "ledger",
            "error": "HTTP 422: unknown account",
        },
        DeliveryFailed(
            outbox_id=7, kind=NoticeKind.LEDGER, target="ledger", error="HTTP 422: unknown account"
        ),
        Links(),
    ),
    (  # a statement card's first post: no link
        NoticeKind.ALERT,
        {"template": "statement_card", "statement_id": 12, "revision": 2, "version": 5},
        StatementCard(statement_id=12, revision=2, version=5),
        Links(),
    ),
    (  # a later change edits that post in place
        NoticeKind.ALERT,
        {
            "template": "statement_card",
            "statement_id": 12,
            "revision": 2,
            "version": 6,
            "update_of": "statement:12:r2",
        },
        StatementCard(statement_id=12, revision=2, version=6),
        Links(update_of="statement:12:r2"),
    ),
    (  # a statement's matching summary: posted once, then edited in place
        NoticeKind.ALERT,
        {
            "template": "match_summary",
            "statement_id": 12,
            "cause": "check",
            "update_of": "match_summary:12",
        },
        MatchSummary(statement_id=12, cause="check"),
        Links(update_of="match_summary:12"),
    ),
    (
        NoticeKind.ALERT,
        {"template": "match_card", "match_id": 40, "version": 1},
        MatchCard(match_id=40, version=1),
        Links(),
    ),
    (
        NoticeKind.ALERT,
        {"template": "tier_reached", "tier": "controllers"},
        TierReached(tier="controllers"),
        Links(),
    ),
]


@pytest.mark.parametrize(("kind", "stored", "body", "links"), STORED)
def test_stored_json_reads_back_typed_and_is_written_byte_for_byte(
    kind: NoticeKind, stored: dict[str, Any], body: NoticeBody, links: Links
) -> None:
    assert decode(kind, stored) == (body, links)
    assert encode(body, links) == stored
    assert list(encode(body, links)) == list(stored)  # same keys, in the same order
    assert decode(kind, encode(body, links)) == (body, links)


def test_every_template_has_a_stored_form_under_test() -> None:
    covered = {template_of(body) for _, _, body, _ in STORED}
    assert covered - {None} == set(Template)


@pytest.mark.parametrize(
    "stored",
    [
        {},
        {"note": "first"},
        {"text": "a plain alert"},
        {"template": "from_a_newer_version", "x": 1, "update_of": "k"},
        {"template": "assigned"},  # a field missing
        {"template": "reminder", "extra": True},  # a field the record would lose
        {"template": "dead_letter", "severity": "apocalyptic"},
    ],
)
def test_a_row_no_record_describes_is_kept_as_it_was_stored(stored: dict[str, Any]) -> None:
    body, links = decode(NoticeKind.ALERT, stored)
    assert body == UnknownNotice(fields=stored)
    assert links == Links()
    assert encode(body, links) == stored
    assert template_of(body) is None


def test_a_notification_built_from_stored_json_equals_the_typed_one() -> None:
    stored = {"template": "digest_cluster_decided", "cluster_id": 7, "key": "k"}
    stored |= {"verdict": "approved", "by": "U0BOB", "size": 2, "update_of": "g"}
    typed = Notification(
        kind=NoticeKind.ALERT,
        target="C0T",
        dedupe_key="d",
        payload=DigestClusterDecided(
            cluster_id=7, key="k", verdict=Verdict.APPROVED, by="U0BOB", size=2
        ),
        update_of="g",
    )
    assert Notification.stored(
        kind=NoticeKind.ALERT, target="C0T", dedupe_key="d", data=stored
    ) == (typed)


def test_a_notification_refuses_a_body_its_kind_cannot_carry() -> None:
    with pytest.raises(ValueError, match="a card notification cannot carry Reminder"):
        Notification(kind=NoticeKind.CARD, target="C0T", dedupe_key="d", payload=Reminder())
    with pytest.raises(ValueError, match="a ledger notification cannot carry Reminder"):
        Notification(kind=NoticeKind.LEDGER, target="ledger", dedupe_key="d", payload=Reminder())
    with pytest.raises(ValueError, match="a alert notification cannot carry LedgerPost"):
        Notification(
            kind=NoticeKind.ALERT,
            target="C0T",
            dedupe_key="d",
            payload=LedgerPost(idempotency_key="k"),
        )


def test_a_ledger_row_that_names_no_entry_reads_back_as_unknown() -> None:
    body, _ = decode(NoticeKind.LEDGER, {"key": "item-1-approval"})
    assert body == UnknownNotice(fields={"key": "item-1-approval"})


def test_the_digest_constructors_write_what_the_service_layer_wrote_by_hand() -> None:
    summary = notifications.digest_summary(
        channel="C0T",
        team="treasury",
        window="w",
        count=3,
        totals={"USD": Decimal("12.00"), "EUR": Decimal("1.5")},
        oldest_at=AT,
        groups=[DigestGroup(id=i, key=f"k{i}", size=1) for i in range(7)],
    )
    assert summary.dedupe_key == "digest:treasury:w"
    assert encode(summary.payload, summary.links) == {
        "template": "digest",
        "team": "treasury",
        "window": "w",
        "count": 3,
        "totals": {"EUR": "1.5", "USD": "12.00"},
        "oldest_at": AT.isoformat(),
        "clusters": [{"id": i, "key": f"k{i}", "size": 1} for i in range(5)],
        "cluster_count": 7,
    }
    cluster = notifications.digest_cluster(
        channel="C0T",
        team="treasury",
        window="w",
        cluster_id=9,
        key="k",
        apart=True,
        item_ids=[4, 5],
        size=2,
    )
    assert (cluster.dedupe_key, cluster.target) == ("digest:treasury:w:c9", "C0T")
    assert encode(cluster.payload, cluster.links) == {
        "template": "digest_cluster",
        "cluster_id": 9,
        "key": "k",
        "apart": True,
        "item_ids": [4, 5],
        "size": 2,
        "thread_of": "digest:treasury:w",
    }
    decided = notifications.digest_cluster_decided(
        channel="C0T",
        team="treasury",
        window="w",
        cluster_id=9,
        key="k",
        verdict=Verdict.APPROVED,
        by="U0BOB",
        size=2,
    )
    assert decided.dedupe_key == "digest:treasury:w:c9:approved"
    assert encode(decided.payload, decided.links) == {
        "template": "digest_cluster_decided",
        "cluster_id": 9,
        "key": "k",
        "verdict": "approved",
        "by": "U0BOB",
        "size": 2,
        "update_of": "digest:treasury:w:c9",
    }


def test_the_policy_alert_goes_to_compliance_once_per_broken_content(
    loaded_policy: LoadedPolicy,
) -> None:
    problems = [f"p{i}" for i in range(25)]
    alert = notifications.policy_invalid(
        loaded_policy.policy,
        file="policy.yml",
        problems=problems,
        kept="pol-1",
        content_sha256="0123456789abcdef" + "f" * 48,
    )
    assert alert.target == loaded_policy.policy.compliance.channel
    assert alert.dedupe_key == "policy_invalid:0123456789abcdef"
    assert encode(alert.payload, alert.links) == {
        "template": "policy_invalid",
        "file": "policy.yml",
        "problems": problems[:20],
        "kept": "pol-1",
    }
