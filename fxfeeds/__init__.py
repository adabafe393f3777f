"""Readers of FX rate files from outside (the ECB's reference rate XML), into
:class:`domain.fx.FxRate` values. An adapter: depends on ``domain`` only."""
