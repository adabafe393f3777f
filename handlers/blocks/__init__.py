"""Block Kit renderers: pure functions from domain values to Slack messages and views.

Everything is built with ``slack_sdk.models`` (which checks Slack's limits when a block is
serialised). No I/O and no clock: ``now`` is an argument. Times render with Slack's
``<!date^...>`` so each viewer sees their own timezone, with a fallback in the policy's
``digest.timezone``.
"""

from __future__ import annotations

from handlers.blocks.home import HOME_MAX_PER_LIST, HOME_PAGE_SIZE, home_view
from handlers.blocks.items import item_card, item_details
from handlers.blocks.message import Message
from handlers.blocks.modals import (
    dispute_modal,
    escalate_modal,
    note_modal,
    reject_modal,
    resolve_modal,
    step_up_modal,
)
from handlers.blocks.queue import MAX_QUEUE_PAGE_SIZE, QUEUE_PAGE_SIZE, queue_page
from handlers.blocks.replies import help_message, notice, stats_message, usage_error

__all__ = [
    "HOME_MAX_PER_LIST",
    "HOME_PAGE_SIZE",
    "MAX_QUEUE_PAGE_SIZE",
    "QUEUE_PAGE_SIZE",
    "Message",
    "dispute_modal",
    "escalate_modal",
    "help_message",
    "home_view",
    "item_card",
    "item_details",
    "note_modal",
    "notice",
    "queue_page",
    "reject_modal",
    "resolve_modal",
    "stats_message",
    "step_up_modal",
    "usage_error",
]
