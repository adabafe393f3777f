"""Policy events: a hot reload audited, and an edited policy that does not validate
audited and reported to compliance while the old one stays in force."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain import notifications
from domain.ports import UnitOfWorkFactory
from domain.usecases.ledger import LedgerDeliveries
from domain.usecases.transaction import PolicySource, UseCase, system_entry


class PolicyEvents(UseCase):
    """What the policy reload job reports."""

    def __init__(self, *, uow: UnitOfWorkFactory, policy: PolicySource) -> None:
        super().__init__(uow=uow, policy=policy)
        self._ledger = LedgerDeliveries(uow=uow, policy=policy)

    async def policy_changed(
        self, *, old_version: str, new_version: str, text: str, now: datetime
    ) -> None:
        """Audits a hot reload; items keep the version they were routed under. Held
        journal entries are released when the new policy maps accounts."""
        async with self._tx.uow() as uow:
            await uow.intake.remember_policy(version=new_version, body=text, now=now)
            await uow.audit.append(
                [
                    system_entry(
                        "policy.changed",
                        now,
                        new_version,
                        old_version=old_version,
                        new_version=new_version,
                    )
                ]
            )
            await uow.commit()
        # A policy that now maps accounts lets the entries held for want of them leave.
        await self._ledger.release_held(now=now)

    async def policy_rejected(
        self, *, problems: Sequence[str], file: str, content_sha256: str, now: datetime
    ) -> None:
        """An edited policy file that does not validate: the old policy stays in force.

        Audited, and compliance is alerted with the validation errors: once per distinct
        broken content, whichever process notices first.
        """
        policy = self._tx.policy()
        alert = notifications.policy_invalid(
            policy.policy,
            file=file,
            problems=problems,
            kept=policy.version,
            content_sha256=content_sha256,
        )
        async with self._tx.uow() as uow:
            await uow.audit.append(
                [
                    system_entry(
                        "policy.rejected",
                        now,
                        policy.version,
                        file=file,
                        problems=list(problems),
                        kept=policy.version,
                    )
                ]
            )
            await uow.outbox.enqueue([alert], now=now)
            await uow.commit()
