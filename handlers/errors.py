"""The handlers' error root: every error the Slack surface defines is a :class:`HandlerError`."""

from __future__ import annotations


class HandlerError(Exception):
    """Base of every error the handlers raise on purpose; ``str(err)`` is one sentence."""
