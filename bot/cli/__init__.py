"""The ``recon-bot`` command line: the group and its plumbing live in ``root``, each
family of commands in a module of its own, registered on the group when this package is
imported.

Exit codes: 0 success; 2 partial (e.g. some ingest rows rejected, the rest committed);
1 failure with nothing changed.
"""

from bot.cli import (
    audit,
    desk,
    fx,
    ingest,
    items,
    journal,
    ledger,
    matching,
    outbox,
    sandbox,
    statements,
    status,
)
from bot.cli.root import EXIT_FAIL, EXIT_OK, EXIT_PARTIAL, _describe, main, run

__all__ = [
    "EXIT_FAIL",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "_describe",
    "audit",
    "desk",
    "fx",
    "ingest",
    "items",
    "journal",
    "ledger",
    "main",
    "matching",
    "outbox",
    "run",
    "sandbox",
    "statements",
    "status",
]
