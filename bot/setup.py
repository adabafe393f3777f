"""``recon-bot init``'s work, reusable by tests: policy, signing key, schema, audit head."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.clock import SystemClock
from bot.container import load_signer, policy_cache
from bot.settings import Settings
from store.audit.log import init_audit
from store.engine import create_database, sqlite_file
from store.inbox import inbox_file
from store.migrate import upgrade
from store.policy_file import read_policy
from store.private_files import create_private_file, exposed_files

EXAMPLE_POLICY = Path(__file__).parent / "policy.example.yml"


@dataclass(frozen=True, slots=True, kw_only=True)
class InitReport:
    """What ``initialize`` found or made."""

    policy_written: bool
    policy_version: str
    key_created: bool
    key_id: str
    revision: str
    #: One sentence per existing desk file that group or others may read (left as it is).
    exposed: tuple[str, ...] = ()


async def initialize(settings: Settings, *, force_policy: bool = False) -> InitReport:
    """Writes the example policy (unless one exists), creates the signing key and the
    migrated database, and registers the key. Safe to run again.

    New files are created mode 0600 (the key, policy, database; the anchors file when
    the first checkpoint is copied). Existing files keep their mode: the report lists
    those group or others may read, so the operator can decide.
    """
    example = EXAMPLE_POLICY.read_bytes()
    policy_written = create_private_file(settings.policy, example)
    if force_policy and not policy_written:
        settings.policy.write_bytes(example)  # overwritten in place: its mode stays
        policy_written = True
    loaded, _ = read_policy(settings.policy, cache=policy_cache(settings))
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
        exposed=tuple(exposed_files(desk_files(settings))),
    )


def desk_files(settings: Settings) -> list[Path]:
    """The desk's files that only its user should read (the key is checked on load)."""
    database = sqlite_file(settings.database_url)
    files = [settings.policy, settings.audit_anchors]
    inbox = inbox_file(settings.database_url)  # interactions' bodies, briefly
    return [*files, database, *([inbox] if inbox else [])] if database is not None else files
