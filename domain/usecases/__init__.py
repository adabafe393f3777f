"""The desk's use cases, one module each: intake, decisions, claims, ladder, ledger
deliveries, digests, disputes, a dispute's communication log, policy events, queries and
bank statements (Stage 1).

Every use case that changes an item opens its transaction through
:class:`~domain.usecases.transaction.Transactions`; none reads a clock (``now`` comes from
the caller: a Slack request, a CLI run, a scheduler tick). The current policy comes from
``policy()`` so a hot reload is seen by the next call, while every item keeps the policy
version it was routed under. :class:`UseCases` bundles them for the composition root.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.ports import StatementParser, Telemetry, UnitOfWorkFactory
from domain.usecases.claims import Claims
from domain.usecases.decisions import Decisions
from domain.usecases.delegations import Delegations
from domain.usecases.digests import Digests
from domain.usecases.dispute_log import DisputeLog
from domain.usecases.disputes import Disputes
from domain.usecases.fx import FxImport
from domain.usecases.gl import LedgerImport
from domain.usecases.intake import Intake
from domain.usecases.ladder import Ladder
from domain.usecases.ledger import LedgerDeliveries
from domain.usecases.match_review import MatchReview
from domain.usecases.matching import Matching
from domain.usecases.policy_events import PolicyEvents
from domain.usecases.queries import Queries
from domain.usecases.statements import Statements
from domain.usecases.transaction import PolicySource


@dataclass(frozen=True, slots=True, kw_only=True)
class UseCases:
    """Every use case of the desk, over one unit-of-work factory and one policy source."""

    intake: Intake
    gl: LedgerImport
    fx: FxImport
    decisions: Decisions
    claims: Claims
    delegations: Delegations
    ladder: Ladder
    ledger: LedgerDeliveries
    digests: Digests
    disputes: Disputes
    dispute_log: DisputeLog
    policy_events: PolicyEvents
    queries: Queries
    statements: Statements
    matching: Matching
    match_review: MatchReview

    @classmethod
    def over(
        cls,
        *,
        uow: UnitOfWorkFactory,
        policy: PolicySource,
        parser: StatementParser | None = None,
        telemetry: Telemetry | None = None,
    ) -> UseCases:
        """Builds each use case on the same store and policy (``parser`` reads bank
        files for the statement re-parse)."""
        matching = Matching(uow=uow, policy=policy, telemetry=telemetry)
        return cls(
            intake=Intake(uow=uow, policy=policy, telemetry=telemetry),
            gl=LedgerImport(uow=uow, policy=policy, telemetry=telemetry),
            fx=FxImport(uow=uow, policy=policy, telemetry=telemetry),
            decisions=Decisions(uow=uow, policy=policy, telemetry=telemetry),
            claims=Claims(uow=uow, policy=policy, telemetry=telemetry),
            delegations=Delegations(uow=uow, policy=policy, telemetry=telemetry),
            ladder=Ladder(uow=uow, policy=policy, telemetry=telemetry),
            ledger=LedgerDeliveries(uow=uow, policy=policy, telemetry=telemetry),
            digests=Digests(uow=uow, policy=policy, telemetry=telemetry),
            disputes=Disputes(uow=uow, policy=policy, telemetry=telemetry),
            dispute_log=DisputeLog(uow=uow, policy=policy, telemetry=telemetry),
            policy_events=PolicyEvents(uow=uow, policy=policy),
            queries=Queries(uow=uow, policy=policy, telemetry=telemetry),
            statements=Statements(uow=uow, policy=policy, parser=parser, telemetry=telemetry),
            matching=matching,
            match_review=MatchReview(
                matching=matching, uow=uow, policy=policy, telemetry=telemetry
            ),
        )
