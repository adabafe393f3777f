"""Bank statement files in (camt.053, MT940, BAI2, OFX): the bank-file adapter.

Each format module turns the bytes of one file into a ``domain.statements.parsed``
:class:`~domain.statements.parsed.ParseResult`; this package depends on ``domain`` only
(the import-linter contract "statements adapt bank files and depend on the domain only").
"""
