"""The audit log's pure core: records, Merkle tree, keys, checkpoints and the verifier.

One module per concept, each importing only those listed before it:

- :mod:`~domain.audit.records`: :class:`AuditEntry` and its canonical body (RFC 8785
  JSON with ``seq`` and ``prev``, the hash chain's link), times, data checks;
- :mod:`~domain.audit.merkle`: leaf hashes and the RFC 6962 :class:`MerkleFrontier`;
- :mod:`~domain.audit.keys`: key ids, :class:`AuditKey` and the ``Signer`` port;
- :mod:`~domain.audit.checkpoints`: signed statements of a size and root;
- :mod:`~domain.audit.signatures` and :mod:`~domain.audit.report`: checking
  checkpoint signatures, and the outcome of a verification;
- :mod:`~domain.audit.anchoring`: when the anchors file must be there, whole and in order;
- :mod:`~domain.audit.sealing`: the merge delay (when a checkpoint must follow commits)
  and how verification reads records no checkpoint covers yet;
- :mod:`~domain.audit.stored_rows` and :mod:`~domain.audit.replay_problems`: the table
  rows a replay compares, and what it reports when they disagree with the log;
- :mod:`~domain.audit.verdicts`: the sentences a failed verification names records with;
- :mod:`~domain.audit.verifier`: :class:`AuditVerifier`, the one streaming pass that
  checks a live database or an exported bundle;
- :mod:`~domain.audit.replay`: :class:`LogReplay`, what the records say every item and
  journal entry is (``audit verify --deep`` compares the tables with it).

Import from the concept's module. The package itself re-exports only the record types
that use cases and intake build (importing it loads no cryptography), so
``from domain.audit import AuditEntry, CanonicalData`` keeps working.

Nothing here does I/O or reads a clock; times come in as arguments.
"""

from domain.audit.records import AuditEntry, AuditFormatError, CanonicalData, canonical_data

__all__ = ["AuditEntry", "AuditFormatError", "CanonicalData", "canonical_data"]
