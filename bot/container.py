"""The composition root: the one place that builds concrete objects from settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import IO, TYPE_CHECKING

from bot.clock import SystemClock
from bot.errors import BotError
from bot.settings import Settings
from domain.ports import Clock, StatementParser
from domain.statements.parsed import ParseResult, ParseStream, StatementFormat
from domain.usecases import UseCases
from store.audit.anchors import AnchorFile
from store.audit.log import init_audit
from store.audit.sealer import AuditSealer
from store.audit.signer import Ed25519Signer, load_or_create_signing_key
from store.engine import Database, create_database
from store.migrate import check_current
from store.policy_cache import PolicyCache, default_cache_path
from store.policy_file import PolicyFile
from store.uow import SqlUnitOfWorkFactory

if TYPE_CHECKING:  # the metrics stack loads only in `serve`, which brings one
    from bot.observability import Observability


class SetupError(BotError):
    """The installation is incomplete (no key, no schema...); the message says what to run."""


def load_signer(settings: Settings, *, create: bool = False) -> Ed25519Signer:
    """The audit signing key; only ``init`` may create it."""
    if not create and not settings.audit_key.exists():
        raise SetupError(
            f"audit signing key {settings.audit_key} does not exist; run `recon-bot init`"
        )
    return load_or_create_signing_key(settings.audit_key)


def policy_cache(settings: Settings) -> PolicyCache:
    """Where the parsed policy is cached (``RECON_POLICY_CACHE``, else beside the policy)."""
    return PolicyCache(settings.policy_cache or default_cache_path(settings.policy))


class _RegistryParser:
    """The format adapters' registry (``statements.parse`` and ``statements.stream``),
    imported on first use: only the statement commands need it, and its XML and format
    libraries load with it."""

    def __call__(self, data: bytes, *, format: StatementFormat | None = None) -> ParseResult:
        return self.stream(data, format=format).collect()

    def stream(
        self, data: bytes | IO[bytes], *, format: StatementFormat | None = None
    ) -> ParseStream:
        from statements import NotAStatementError, stream

        try:
            return stream(data, format=format)
        except NotAStatementError as exc:  # no format recognises it: one problem for the file
            return ParseStream.of(ParseResult(format=None, problems=(exc.problem,)))


def statement_parser() -> StatementParser:
    """The parser of bank files the container hands the statement use cases (tests
    replace this function to bring a fake)."""
    return _RegistryParser()


@dataclass(slots=True, kw_only=True)
class Container:
    """Everything a command or the bot needs, built once per process."""

    settings: Settings
    database: Database
    policy: PolicyFile
    signer: Ed25519Signer
    anchors: AnchorFile
    sealer: AuditSealer
    uow: SqlUnitOfWorkFactory
    usecases: UseCases
    clock: Clock
    parser: StatementParser

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        check_schema: bool = True,
        clock: Clock | None = None,
        batch_seals: bool = False,
        observability: Observability | None = None,
    ) -> Container:
        """Builds the object graph; checks the schema is current unless told not to.

        Args:
            settings: Where the store, policy and keys are.
            check_schema: Refuse an out-of-date schema (``db upgrade`` passes False).
            clock: What every part of the bot reads the time from; the system clock
                unless a caller (a test) brings its own.
            batch_seals: Batch audit checkpoints within ``RECON_AUDIT_MERGE_DELAY`` (the
                serve process, which runs the sealer); otherwise every commit signs its
                own. Either way, a tail a crashed process left unsigned is sealed here.
            observability: Metrics and decision spans (the serve process); none by
                default.
        """
        policy = PolicyFile(settings.policy, cache=policy_cache(settings))
        signer = load_signer(settings)
        database = create_database(settings.database_url)
        clock = clock if clock is not None else SystemClock()
        try:
            if check_schema:
                await check_current(database)
                # Registers a new (rotated) signing key; old public keys are never removed.
                async with database.writer.begin() as conn:
                    await init_audit(conn, signer=signer, now=clock.now())
        except BaseException:
            await database.dispose()
            raise
        anchors = AnchorFile(settings.audit_anchors)
        delay = settings.audit_merge_delay if batch_seals else 0.0
        sealer = AuditSealer(
            database=database,
            signer=signer,
            anchors=anchors,
            clock=clock,
            merge_delay=timedelta(seconds=delay),
        )
        if check_schema:
            try:
                # A crash between a commit and its seal left records unsigned: cover them.
                await sealer.seal()
            except BaseException:
                await database.dispose()
                raise
        parser = statement_parser()
        uow = SqlUnitOfWorkFactory(
            database=database,
            signer=signer,
            anchors=anchors,
            sealer=sealer if delay > 0 else None,
        )
        telemetry = None
        if observability is not None:
            uow.on_audited(observability.metrics.audited)
            telemetry = observability.telemetry
        return cls(
            settings=settings,
            database=database,
            policy=policy,
            signer=signer,
            anchors=anchors,
            sealer=sealer,
            uow=uow,
            usecases=UseCases.over(
                uow=uow, policy=policy.current, parser=parser, telemetry=telemetry
            ),
            clock=clock,
            parser=parser,
        )

    async def close(self) -> None:
        """Seals what is left of the audit log, then releases the database connections."""
        try:
            if self.uow.sealer is not None:  # only a batching process can leave a tail
                await self.sealer.close()
        finally:
            await self.database.dispose()
