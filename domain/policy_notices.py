"""Compliance's alert that an edited policy file is invalid."""

from __future__ import annotations

from collections.abc import Sequence

from domain.notice import Notification
from domain.policy import Policy
from domain.templates import (
    NoticeKind,
    PolicyInvalid,
)

#: How many validation problems a policy alert carries.
POLICY_PROBLEMS = 20


def policy_invalid(
    policy: Policy, *, file: str, problems: Sequence[str], kept: str, content_sha256: str
) -> Notification:
    """Compliance's alert that an edited policy file is invalid and ``kept`` stays in force.

    Once per distinct broken content: the dedupe key names the content's hash.
    """
    return Notification(
        kind=NoticeKind.ALERT,
        target=policy.compliance.channel,
        dedupe_key=f"policy_invalid:{content_sha256[:16]}",
        payload=PolicyInvalid(file=file, problems=tuple(problems[:POLICY_PROBLEMS]), kept=kept),
    )
