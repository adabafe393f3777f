"""The escalation tiers' permissions on Stage 2 decisions: accepting or rejecting a match
(one, or all of a statement's) and resolving a check.

Matches and checks never escalate: like their statement in Stage 1, they sit in the
graph's first tier, and the tiers rule them as they rule the statement
(:func:`domain.escalation.check_statement_tier_permits`): a read-only tier decides
nothing, and an accept is capped by ``approve_up_to`` on the match's bank side in the
reporting currency (the amount dual control reads; no rate: above any cap). The check
runs in the use case, inside the decision's transaction, so every surface (buttons,
``/recon``, forms, the CLI) meets it; a refusal rolls the decision back and raises.
"""

from __future__ import annotations

from decimal import Decimal

from domain.escalation import check_statement_tier_permits
from domain.policy import Policy
from domain.ports import UnitOfWork


async def check_match_tier(
    uow: UnitOfWork,
    policy: Policy,
    *,
    statement_id: int | None,
    actor: str,
    action: str,
    amount: Decimal | None = None,
    what: str,
) -> None:
    """Refuses ``action`` by ``actor`` on a match or check of ``statement_id`` when the
    tier that binds them forbids it (the statement's team decides who is in a role tier).

    Raises:
        NotAuthorized: naming the tier, or the amount and the cap.
    """
    head = None
    if statement_id is not None:
        head = await uow.statements.get(statement_id, with_lines=False)
    check_statement_tier_permits(
        policy,
        team=head.team if head is not None else None,
        user=actor,
        action=action,
        amount=amount,
        what=what,
    )
