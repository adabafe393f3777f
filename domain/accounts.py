"""The ledger accounts journal entries post to, by entity (and currency), from the policy.

The policy's ``accounts`` section names a default set and overrides per entity,
optionally per currency; a role missing from an override comes from the level above::

    accounts:
      default: {clearing: "1190", suspense: "1999", variance: "6990", write_off: "6800",
                adjustment: "6810", fx_difference: "6920"}
      entities:
        ACME-DE: {clearing: "DE-1190", suspense: "DE-1999"}
        ACME-SE: {currencies: {EUR: {clearing: "SE-1191"}}}

A policy without the section still loads (existing desks keep working); its entries
then carry placeholder accounts, which never go to a ledger (``policy check`` warns).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from domain.errors import MoneyError
from domain.money import normalize_currency


class AccountRole(StrEnum):
    """What an account is for in an entry."""

    CLEARING = "clearing"
    SUSPENSE = "suspense"
    VARIANCE = "variance"
    WRITE_OFF = "write_off"
    ADJUSTMENT = "adjustment"
    FX_DIFFERENCE = "fx_difference"


def _account(value: str) -> str:
    text = value.strip()
    if not text or any(c.isspace() for c in text) or not text.isprintable():
        raise ValueError("an account is one word of printable characters, like 1190")
    return text


#: A ledger account number or code.
Account = Annotated[str, AfterValidator(_account)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountSet(_Strict):
    """Every role's account: the default the overrides fall back to."""

    clearing: Account = Field(description="Where a matched or approved amount clears.")
    suspense: Account = Field(description="The other side of every entry until settled.")
    variance: Account = Field(description="A batch's variance.")
    write_off: Account = Field(description="Written-off disputes.")
    adjustment: Account = Field(description="Adjustments agreed in a dispute.")
    fx_difference: Account = Field(description="Differences from FX conversion.")


class AccountOverrides(_Strict):
    """Some roles' accounts; the others come from the level above."""

    clearing: Account | None = None
    suspense: Account | None = None
    variance: Account | None = None
    write_off: Account | None = None
    adjustment: Account | None = None
    fx_difference: Account | None = None


class EntityAccounts(AccountOverrides):
    """One entity's overrides, and its overrides per currency."""

    currencies: dict[str, AccountOverrides] = Field(default_factory=dict)

    @field_validator("currencies")
    @classmethod
    def _codes(cls, value: dict[str, AccountOverrides]) -> dict[str, AccountOverrides]:
        out: dict[str, AccountOverrides] = {}
        for code, overrides in value.items():
            try:
                out[normalize_currency(code)] = overrides
            except MoneyError as exc:
                raise ValueError(str(exc)) from None
        return out


class Accounts(_Strict):
    """The policy's ``accounts`` section."""

    default: AccountSet
    entities: dict[str, EntityAccounts] = Field(default_factory=dict)

    def account(self, role: AccountRole, *, entity: str, currency: str) -> str:
        """The account for ``role`` in an entry of ``entity`` in ``currency``: the
        entity's currency override, else the entity's, else the default."""
        for_entity = self.entities.get(entity)
        if for_entity is not None:
            per_currency = for_entity.currencies.get(currency)
            if per_currency is not None and getattr(per_currency, role.value) is not None:
                return str(getattr(per_currency, role.value))
            if getattr(for_entity, role.value) is not None:
                return str(getattr(for_entity, role.value))
        return str(getattr(self.default, role.value))
