"""A local HTTP ledger (ERP) for tests: see :mod:`tests.ledger_standin.server`."""

from tests.ledger_standin.server import Hold, LedgerStandIn, StoredEntry

__all__ = ["Hold", "LedgerStandIn", "StoredEntry"]
