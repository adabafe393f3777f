"""Sinks that hand journal entries to the ledger: a JSON Lines file per day, or an HTTP
ledger. Each implements :class:`domain.ports.LedgerSink`; ``bot`` picks one from the
settings (``RECON_LEDGER_SINK``). This package depends on the domain only."""
