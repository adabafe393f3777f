"""``recon-bot init``'s work, reusable by tests: policy, signing key, schema, audit head."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.clock import SystemClock
from bot.container import load_signer
from bot.settings import Settings
from store.audit.log import init_audit
from store.engine import create_database
from store.migrate import upgrade
from store.policy_file import read_policy

EXAMPLE_POLICY = Path(__file__).parent / "policy.example.yml"


@dataclass(frozen=True, slots=True, kw_only=True)
class InitReport:
    """What ``initialize`` found or made."""

    policy_written: bool
    policy_version: str
    key_created: bool
    key_id: str
    revision: str


async def initialize(settings: Settings, *, force_policy: bool = False) -> InitReport:
    """Writes the example policy (unless one exists), creates the signing key (0600) and
    the migrated database, and registers the key. Safe to run again."""
    policy_written = force_policy or not settings.policy.exists()
    if policy_written:
        settings.policy.write_text(EXAMPLE_POLICY.read_text(encoding="utf-8"), encoding="utf-8")
    loaded, _ = read_policy(settings.policy)
    key_created = not settings.audit_key.exists()
    signer = load_signer(settings, create=True)
    database = create_database(settings.database_url)
    try:
        revision = await upgrade(database)
        async with database.writer.begin() as conn:
            await init_audit(conn, signer=signer, now=SystemClock().now())
    finally:
        await database.dispose()
    return InitReport(
        policy_written=policy_written,
        policy_version=loaded.version,
        key_created=key_created,
        key_id=signer.key_id,
        revision=revision,
    )
