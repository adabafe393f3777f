"""The audit log in the database, its Ed25519 signer, the anchors file and bundles.

Write path (one unit of work = one transaction)::

    log = SqlAuditLog(conn, signer=signer)       # the unit of work's ``audit``
    await log.append(entries)                    # any number of times, by the services
    checkpoint = await log.seal()                # just before commit
    await conn.commit()
    if checkpoint is not None:
        anchors.append(checkpoint)               # after commit, outside the database

``append`` locks the log's head row (``SELECT ... FOR UPDATE``; on SQLite the writer's
``BEGIN IMMEDIATE`` already serializes writers), so sequence numbers are gapless and
the chain is linear even with several processes on PostgreSQL. The anchors file is the
part an attacker with only database access cannot rewrite: a truncated log or an old
backup restored leaves anchors that point past the log or disagree with it.

Read path: :func:`~store.audit.verification.verify_database` streams the log through
the pure :class:`domain.audit.verifier.AuditVerifier`;
:func:`~store.audit.bundle.export_bundle` writes the same inputs to files that
:func:`~store.audit.bundle.verify_bundle` checks without any database.

One module per concept, each importing only those listed before it: ``durable``
(fsyncing a new file's directory), ``snapshot`` (reading the audit tables in one
consistent state), ``signer`` (the key file), ``anchors`` (the anchors file), ``log``
(the writer), ``replay`` (the items and journal tables against the replayed log, for
``--deep``), ``verification`` and ``bundle``. Import from the concept's module.
"""
