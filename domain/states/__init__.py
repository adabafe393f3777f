"""The review state machine: a table of legal moves plus one pure function per action.

``table`` holds the table (:data:`ALLOWED_FROM`, :data:`LEADS_TO`) and the values every
transition shares; ``review`` the claims, decisions, ladder rungs, amendment and
posting; ``disputes`` the dispute branch. Callers use this package's names.
"""

from domain.states.disputes import (
    add_dispute_note,
    dispute_owner,
    is_resolution_repeat,
    open_dispute,
    remind_dispute,
    resolve_dispute,
    update_dispute,
)
from domain.states.review import (
    accept_by_policy,
    amend,
    approve,
    assign,
    auto_accept_withheld,
    claim,
    climb_ladder,
    close_matched,
    dead_letter,
    escalate,
    hand_over_second_approval,
    holds_dispute,
    is_dead_lettered,
    post,
    reject,
    release,
)
from domain.states.table import (
    ALLOWED_FROM,
    LEADS_TO,
    MIN_REASON_WORDS,
    SYSTEM,
    TERMINAL,
    Action,
    Event,
    Transition,
    check_allowed,
    require_reason,
)

__all__ = [
    "ALLOWED_FROM",
    "LEADS_TO",
    "MIN_REASON_WORDS",
    "SYSTEM",
    "TERMINAL",
    "Action",
    "Event",
    "Transition",
    "accept_by_policy",
    "add_dispute_note",
    "amend",
    "approve",
    "assign",
    "auto_accept_withheld",
    "check_allowed",
    "claim",
    "climb_ladder",
    "close_matched",
    "dead_letter",
    "dispute_owner",
    "escalate",
    "hand_over_second_approval",
    "holds_dispute",
    "is_dead_lettered",
    "is_resolution_repeat",
    "open_dispute",
    "post",
    "reject",
    "release",
    "remind_dispute",
    "require_reason",
    "resolve_dispute",
    "update_dispute",
]
