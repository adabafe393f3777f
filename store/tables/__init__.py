"""SQLAlchemy Core tables: the single schema for SQLite and PostgreSQL.

Money is integer minor units (``*_minor``), decimals that are not money are exact text,
datetimes are timezone-aware UTC on the way in and out (``UtcDateTime``). Alembic
migrations in ``store/migrations`` are the source of truth for existing databases; a test
checks that they produce exactly this metadata.

Every table is defined on the one shared ``metadata`` (``store.tables.schema``), in a
module per area; this package exports them all under their old names.
"""

from __future__ import annotations

from store.tables.audit_log import audit_checkpoints as audit_checkpoints
from store.tables.audit_log import audit_head as audit_head
from store.tables.audit_log import audit_keys as audit_keys
from store.tables.audit_log import audit_records as audit_records
from store.tables.bank_statements import statement_lines as statement_lines
from store.tables.bank_statements import statement_originals as statement_originals
from store.tables.bank_statements import statements as statements
from store.tables.delivery import breakers as breakers
from store.tables.delivery import once_keys as once_keys
from store.tables.delivery import outbox as outbox
from store.tables.general_ledger import fx_rates as fx_rates
from store.tables.general_ledger import ledger_entries as ledger_entries
from store.tables.interactions import inbox as inbox
from store.tables.interactions import replicas as replicas
from store.tables.matching import match_checks as match_checks
from store.tables.matching import match_runs as match_runs
from store.tables.matching import match_sides as match_sides
from store.tables.matching import matches as matches
from store.tables.people import delegations as delegations
from store.tables.people import home_pages as home_pages
from store.tables.people import reviewer_decisions as reviewer_decisions
from store.tables.review_items import digest_clusters as digest_clusters
from store.tables.review_items import ingest_runs as ingest_runs
from store.tables.review_items import item_cards as item_cards
from store.tables.review_items import items as items
from store.tables.review_items import journal_entries as journal_entries
from store.tables.review_items import policy_versions as policy_versions
from store.tables.review_items import quarantine as quarantine
from store.tables.schema import Id as Id
from store.tables.schema import UtcDateTime as UtcDateTime
from store.tables.schema import metadata as metadata
