"""Which Slack messages a state change causes: pure rules, written to the outbox.

A notification is data, not Block Kit (see ``domain.notice``). The rules live one
concept a module: an item's messages (``domain.item_notices``), App Home refreshes
(``domain.home_notices``), digests (``domain.digest_notices``), policy alerts
(``domain.policy_notices``), the ledger (``domain.ledger_notices``), bank statements
(``domain.statement_notices``) and matching (``domain.match_notices``). This module
re-exports them, and the template records its importers have always found here.
"""

from __future__ import annotations

from domain.digest_notices import (
    SUMMARY_GROUPS,
    digest_cluster,
    digest_cluster_decided,
    digest_group_key,
    digest_key,
    digest_summary,
)
from domain.home_notices import (
    HOME_DEBOUNCE,
    home_refreshes,
    home_users,
    home_window_end,
    team_home_refreshes,
)
from domain.item_notices import (
    card,
    dispute_overdue,
    for_change,
    ladder_notices,
    lead_dms,
    messages_for_change,
)
from domain.ledger_notices import ledger_breaker, ledger_delivery
from domain.match_notices import (
    for_match_decision,
    for_match_run,
    match_card,
    match_card_key,
    match_summary,
    match_summary_key,
)
from domain.notice import Notification
from domain.policy_notices import POLICY_PROBLEMS, policy_invalid
from domain.statement_notices import for_statement, statement_card_key
from domain.templates import (
    Assigned,
    CardUpdate,
    DeadLetter,
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
    Verdict,
    decode,
    fits,
)

__all__ = [
    "HOME_DEBOUNCE",
    "POLICY_PROBLEMS",
    "SUMMARY_GROUPS",
    "Assigned",
    "CardUpdate",
    "DeadLetter",
    "DigestCluster",
    "DigestClusterDecided",
    "DigestGroup",
    "DigestSummary",
    "DisputeOverdue",
    "Escalated",
    "HomeRefresh",
    "LedgerBreaker",
    "LedgerPost",
    "Links",
    "MatchCard",
    "MatchSummary",
    "NoticeBody",
    "NoticeKind",
    "Notification",
    "PolicyInvalid",
    "Reminder",
    "ReminderUnclaimed",
    "SlaEscalated",
    "StatementCard",
    "Verdict",
    "card",
    "decode",
    "digest_cluster",
    "digest_cluster_decided",
    "digest_group_key",
    "digest_key",
    "digest_summary",
    "dispute_overdue",
    "fits",
    "for_change",
    "for_match_decision",
    "for_match_run",
    "for_statement",
    "home_refreshes",
    "home_users",
    "home_window_end",
    "ladder_notices",
    "lead_dms",
    "ledger_breaker",
    "ledger_delivery",
    "match_card",
    "match_card_key",
    "match_summary",
    "match_summary_key",
    "messages_for_change",
    "policy_invalid",
    "statement_card_key",
    "team_home_refreshes",
]
