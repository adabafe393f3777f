"""Tests of the bank-file parsers (the ``statements`` package)."""
