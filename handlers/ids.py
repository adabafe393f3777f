"""Every Slack identifier the bot uses: command, action ids, callback ids, input block ids.

A test checks these against ``manifest.yml``. Item buttons carry the item id in their
``action_id`` (``recon.approve:1042``) so that every action id in a message is unique (a
queue list shows many items' buttons), and the item version the user saw in their
``value`` (``1042:7``), so a click on a stale card changes nothing.
"""

from __future__ import annotations

import re
from enum import StrEnum

from domain.items import MAX_ITEM_ID, parse_ascii_number

COMMAND = "/recon"


class ItemAction(StrEnum):
    """Buttons on an item (cards, queue lists, App Home, reminders)."""

    APPROVE = "recon.approve"
    REJECT = "recon.reject"
    ESCALATE = "recon.escalate"
    DISPUTE = "recon.dispute"
    CLAIM = "recon.claim"
    RELEASE = "recon.release"
    DETAILS = "recon.details"
    AWAIT_COUNTERPARTY = "recon.dispute_wait"
    RESUME = "recon.dispute_resume"
    NOTE = "recon.dispute_note"
    RESOLVE = "recon.dispute_resolve"


class NavAction(StrEnum):
    """Navigation buttons: pagination and refresh."""

    QUEUE_PAGE = "recon.queue_page"
    HOME_PAGE = "recon.home_page"
    HOME_REFRESH = "recon.home_refresh"


class DigestAction(StrEnum):
    """Digest cluster buttons (bulk decisions)."""

    APPROVE_ALL = "recon.digest_approve_all"
    REJECT_ALL = "recon.digest_reject_all"
    REVIEW = "recon.digest_review"


class StatementButton(StrEnum):
    """Buttons on a bank statement's card (Stage 1); the action id carries the statement id
    (``recon.stmt_approve:12``) and the value the version seen (``12:3``)."""

    APPROVE = "recon.stmt_approve"
    EDIT = "recon.stmt_edit"
    REJECT = "recon.stmt_reject"
    VIEW_ENTRIES = "recon.stmt_entries"
    SHOW = "recon.stmt_show"


class StatementNav(StrEnum):
    """Previous/Next in a statement's entries modal: the action id names the page it
    leads to (``recon.stmt_entries_page:3``, unique in the view), the value the
    statement and that page (``12:3``)."""

    ENTRIES_PAGE = "recon.stmt_entries_page"
    LIST_PAGE = "recon.stmt_list_page"


class StatementModal(StrEnum):
    """Callback ids of the statement forms."""

    ENTRIES = "recon.stmt_entries_modal"
    EDIT = "recon.stmt_edit_modal"
    REJECT = "recon.stmt_reject_modal"


class StatementField(StrEnum):
    """Input block ids of the statement forms (action id ``value`` like the item forms)."""

    OPERATION = "stmt_operation"
    LINE = "stmt_line"
    FIELD = "stmt_field"
    VALUE = "stmt_value"
    AMOUNT = "stmt_amount"
    DATE = "stmt_date"
    REFERENCE = "stmt_reference"
    COUNTERPARTY = "stmt_counterparty"
    REASON = "stmt_reason"


class MatchButton(StrEnum):
    """Buttons of Stage 2 (matching): a match card's Accept/Reject carry the match id in
    the action id (``recon.match_accept:40``) and the version seen in the value (``40:2``);
    a summary's Resolve carries the check id, its Accept all the statement id."""

    ACCEPT = "recon.match_accept"
    REJECT = "recon.match_reject"
    RESOLVE = "recon.check_resolve"
    ACCEPT_ALL = "recon.match_accept_all"


class MatchModal(StrEnum):
    """Callback ids of the Stage 2 forms."""

    REJECT = "recon.match_reject_modal"
    RESOLVE = "recon.check_resolve_modal"


class MatchField(StrEnum):
    """Input block ids of the Stage 2 forms (action id ``value`` like the item forms)."""

    REASON = "match_reason"
    RESOLUTION = "check_resolution"
    NOTE = "check_note"


class Modal(StrEnum):
    """Modal callback ids."""

    REJECT = "recon.reject_modal"
    ESCALATE = "recon.escalate_modal"
    DISPUTE = "recon.dispute_modal"
    DIGEST_REJECT = "recon.digest_reject_modal"
    NOTE = "recon.note_modal"
    RESOLVE = "recon.resolve_modal"
    STEP_UP = "recon.step_up_modal"


class Field(StrEnum):
    """Input block ids in modals (each input's element uses action_id ``value``)."""

    REASON = "reason"
    CATEGORY = "category"
    DESCRIPTION = "description"
    CONTACT = "contact"
    EXPECTED_DATE = "expected_date"
    EVIDENCE = "evidence"
    ADJUSTMENT = "adjustment"
    NOTE = "note"
    OUTCOME = "outcome"
    AMOUNT = "amount"
    STEP_UP = "step_up"


INPUT_ACTION_ID = "value"


def item_action_id(action: ItemAction, item_id: int) -> str:
    """``recon.approve:1042``."""
    return f"{action.value}:{item_id}"


def item_action_pattern(action: ItemAction) -> re.Pattern[str]:
    """Matches the action ids of one item action, for Bolt listeners."""
    # [0-9], not \d: \d also matches superscripts and Arabic-Indic digits.
    return re.compile(rf"^{re.escape(action.value)}:[0-9]+$")


def item_value(item_id: int, version: int) -> str:
    """``1042:7``: which item, at which version the user saw it."""
    return f"{item_id}:{version}"


def parse_item_value(value: str) -> tuple[int, int] | None:
    """``1042:7`` -> (1042, 7); anything else (other digits than ASCII, too large) -> None."""
    left, sep, right = value.partition(":")
    item_id = parse_ascii_number(left, maximum=MAX_ITEM_ID)
    version = parse_ascii_number(right, maximum=MAX_ITEM_ID)
    if not sep or item_id is None or version is None:
        return None
    return item_id, version


def statement_action_id(action: StatementButton, statement_id: int) -> str:
    """``recon.stmt_approve:12``."""
    return f"{action.value}:{statement_id}"


def statement_action_pattern(action: StatementButton) -> re.Pattern[str]:
    """Matches the action ids of one statement button, for Bolt listeners."""
    return re.compile(rf"^{re.escape(action.value)}:[0-9]+$")


def entries_page_action_id(page: int) -> str:
    """``recon.stmt_entries_page:3``: the entries page a Previous/Next button leads to."""
    return f"{StatementNav.ENTRIES_PAGE.value}:{page}"


#: Matches the entries modal's Previous/Next action ids.
ENTRIES_PAGE_PATTERN = re.compile(rf"^{re.escape(StatementNav.ENTRIES_PAGE.value)}:[0-9]+$")


def list_page_action_id(offset: int) -> str:
    """``recon.stmt_list_page:10``: the ``/recon statements`` page a button leads to."""
    return f"{StatementNav.LIST_PAGE.value}:{offset}"


#: Matches the ``/recon statements`` list's Previous/Next action ids.
LIST_PAGE_PATTERN = re.compile(rf"^{re.escape(StatementNav.LIST_PAGE.value)}:[0-9]+$")


def match_action_id(action: MatchButton, target_id: int) -> str:
    """``recon.match_accept:40`` (a match), ``recon.check_resolve:7`` (a check),
    ``recon.match_accept_all:12`` (a statement)."""
    return f"{action.value}:{target_id}"


def match_action_pattern(action: MatchButton) -> re.Pattern[str]:
    """Matches the action ids of one Stage 2 button, for Bolt listeners."""
    return re.compile(rf"^{re.escape(action.value)}:[0-9]+$")
