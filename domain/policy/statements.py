"""The bank statements section (Stage 1): the accounts recon-bot takes statements of,
the balance tolerance and auto-approval."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from domain.errors import MoneyError
from domain.money import normalize_currency
from domain.policy.fields import Dec, StrictModel


def normalize_account(value: str) -> str:
    """A bank account as compared: upper case, without spaces (``nl81 asnb...`` is
    ``NL81ASNB...``)."""
    return "".join(value.split()).upper()


def _statement_currency(value: str) -> str:
    try:
        return normalize_currency(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


class StatementAccount(StrictModel):
    """A bank account recon-bot takes statements of, and whose books they belong to."""

    account: str = Field(
        min_length=1,
        description="The account as the bank file states it (IBAN, MT940 :25: with or "
        "without its bank-code prefix, BAI2 account number, OFX ACCTID).",
    )
    entity: str = Field(min_length=1)
    currency: Annotated[str, AfterValidator(_statement_currency)]
    gl_account: str = Field(min_length=1, description="The ledger account it mirrors.")
    team: str = Field(min_length=1, description="The team that reviews its statements.")

    @field_validator("account")
    @classmethod
    def _account(cls, value: str) -> str:
        if not normalize_account(value):
            raise ValueError("account must not be blank")
        return value

    def matches(self, stated: str) -> bool:
        """Whether the file's account is this one: the same after normalising case and
        spaces, or this one behind a bank-code prefix (MT940 ``BANKCODE/ACCOUNT``)."""
        mine = normalize_account(self.account)
        theirs = normalize_account(stated)
        if theirs == mine:
            return True
        prefix, slash, rest = theirs.rpartition("/")
        return bool(slash and prefix and rest == mine)


class Statements(StrictModel):
    """Bank statements (Stage 1): the accounts recon-bot knows and how they are checked."""

    balance_tolerance: Dec = Field(
        default=Decimal("0.001"),
        description="How far opening + entries may miss the closing balance, in the "
        "reporting currency (converted at the statement date's rate).",
    )
    auto_approve: bool = Field(
        default=False,
        description="Approve, by policy, a statement whose chain and continuity both hold.",
    )
    edit_needs_other_approver: bool = Field(
        default=True,
        description="Whoever edited a statement cannot also be its only approver.",
    )
    accounts: list[StatementAccount] = Field(default_factory=list)

    @field_validator("balance_tolerance")
    @classmethod
    def _tolerance(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("balance_tolerance must not be negative")
        return value

    @field_validator("accounts")
    @classmethod
    def _unique_accounts(cls, value: list[StatementAccount]) -> list[StatementAccount]:
        seen = Counter((normalize_account(a.account), a.currency) for a in value)
        dupes = sorted(f"{a} {c}" for (a, c), n in seen.items() if n > 1)
        if dupes:
            raise ValueError(f"each account and currency is listed once; repeated: {dupes}")
        return value

    def account_for(self, stated: str, currency: str) -> StatementAccount | None:
        """The listed account the file's ``stated`` account is, in ``currency`` (or, when
        that account is listed in one currency only, in that one)."""
        hits = [a for a in self.accounts if a.matches(stated)]
        for hit in hits:
            if hit.currency == currency:
                return hit
        return hits[0] if len(hits) == 1 else None
