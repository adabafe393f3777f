"""Bank statements (Stage 1): what a bank file says, and the statement a reviewer checks.

:mod:`domain.statements.parsed` is the contract between the format parsers (the top-level
``statements`` adapter package) and everything after them.
"""
