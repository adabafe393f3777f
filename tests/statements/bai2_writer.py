"""Writes BAI2 text from plain values, for round-trip tests.

Independent of the parser: it computes the 49/98/99 control totals and record counts
the way the BAI2 specification defines them (every amount of the 03 and 16 records as
written; every physical record, the 88s included) and can cut any record into 88
continuations at a field boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.money import minor_units


@dataclass(frozen=True, slots=True, kw_only=True)
class Detail:
    type_code: int  # 100-399 credit, 400-699 debit
    amount: Decimal  # unsigned
    funds: Sequence[str] = ("0",)  # the funds type and the fields it brings
    bank_reference: str = ""
    customer_reference: str = ""
    text: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    number: str
    currency: str | None  # None: left empty, the group's applies
    summaries: Sequence[tuple[str, Decimal | None]]  # (type code, signed amount or blank)
    details: Sequence[Detail]


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    as_of: date
    currency: str | None
    accounts: Sequence[Account]


def minor(value: Decimal, currency: str) -> int:
    return int(value.scaleb(minor_units(currency)))


def _cut(record: str, cuts: Sequence[int]) -> list[str]:
    """One record as physical records: cut after the given field numbers, with 88s."""
    body = record[:-1] if record.endswith("/") else record
    fields = body.split(",")
    code, rest = fields[0], fields[1:]
    points = sorted({c for c in cuts if 0 < c < len(rest)})
    parts, start = [], 0
    for point in [*points, len(rest)]:
        parts.append(rest[start:point])
        start = point
    out = []
    for index, part in enumerate(parts):
        prefix = code if index == 0 else "88"
        last = index == len(parts) - 1
        out.append(
            f"{prefix}," + ",".join(part) + ("" if last and not record.endswith("/") else "/")
        )
    return out


def write(groups: Sequence[Group], *, cuts: Sequence[int] = (), newline: str = "\n") -> bytes:
    """A whole file; ``cuts`` splits every 03 record into 88s after those fields."""
    lines = ["01,BANKUS33,ACMECORP,240103,0600,42,,,2/"]
    file_total = 0
    for group in groups:
        group_lines = [
            f"02,ACMECORP,121000248,1,{group.as_of:%y%m%d},2400,{group.currency or ''},2/"
        ]
        group_total = 0
        for account in group.accounts:
            currency = account.currency or group.currency or "USD"
            fields = [account.number, account.currency or ""]
            total = 0
            for code, amount in account.summaries:
                if amount is None:
                    fields += [code, "", "", ""]
                else:
                    value = minor(amount, currency)
                    total += value
                    sign = "+" if value > 0 and len(fields) % 2 else ""
                    fields += [code, f"{sign}{value}", "", ""]
            records = _cut("03," + ",".join(fields) + "/", cuts)
            for detail in account.details:
                value = minor(detail.amount, currency)
                total += value
                records.append(
                    f"16,{detail.type_code:03d},{value},{','.join(detail.funds)},"
                    f"{detail.bank_reference},{detail.customer_reference},{detail.text}"
                )
            records.append(f"49,{total},{len(records) + 1}/")
            group_lines += records
            group_total += total
        group_lines.append(f"98,{group_total},{len(group.accounts)},{len(group_lines) + 1}/")
        lines += group_lines
        file_total += group_total
    lines.append(f"99,{file_total},{len(groups)},{len(lines) + 1}/")
    return (newline.join(lines) + newline).encode("ascii")
