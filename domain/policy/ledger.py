"""The ledger section: which column of the ERP export holds each general-ledger field."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from domain.policy.fields import StrictModel

#: The fields of a general-ledger entry, in the order ``ledger import`` reports them.
LEDGER_FIELDS = (
    "entry_id",
    "account",
    "date",
    "amount",
    "currency",
    "reference",
    "counterparty",
    "description",
)


class LedgerColumns(StrictModel):
    """The column of the ERP export that holds each ledger field (defaults: the field's name)."""

    entry_id: str = "entry_id"
    account: str = "account"
    date: str = "date"
    amount: str = "amount"
    currency: str = "currency"
    reference: str = "reference"
    counterparty: str = "counterparty"
    description: str = "description"

    @field_validator(*LEDGER_FIELDS)
    @classmethod
    def _column_name(cls, value: str) -> str:
        name = value.strip()
        if not name:
            raise ValueError("must name a column (an empty name matches nothing)")
        if len(name) > 200:
            raise ValueError("is longer than 200 characters")
        return name

    @model_validator(mode="after")
    def _distinct(self) -> LedgerColumns:
        by_column: dict[str, list[str]] = {}
        for name in LEDGER_FIELDS:
            by_column.setdefault(getattr(self, name), []).append(name)
        shared = [
            f"{col!r} ({', '.join(fields)})" for col, fields in by_column.items() if len(fields) > 1
        ]
        if shared:
            raise ValueError(f"each field needs its own column; shared: {'; '.join(shared)}")
        return self

    def mapping(self) -> dict[str, str]:
        """Field -> file column."""
        return {name: getattr(self, name) for name in LEDGER_FIELDS}


class Ledger(StrictModel):
    """How ``recon-bot ledger import`` reads an ERP export."""

    columns: LedgerColumns = LedgerColumns()
