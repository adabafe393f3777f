"""The bot's error root: every error the shell (setup, CLI, ingest workers) defines.

The CLI maps failures to exit codes by layer (domain, store, bot), so a new bot error
is reported as one sentence without the CLI learning its name.
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot raises on purpose; ``str(err)`` is one sentence."""
