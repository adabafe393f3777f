"""The store's error root: every error the store defines is a :class:`StoreError`.

The CLI maps failures to exit codes by layer (domain, store, bot), so a new store error
is reported as one sentence without the CLI learning its name.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store raises on purpose; ``str(err)`` is one sentence."""
