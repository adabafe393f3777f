"""FX import: dated rates stored with their source, audited.

A rate already stored for the same (date, base, currency, source) with the same value is
left alone; with a different value the newest import wins: the rate is replaced and an
``fx.rate_replaced`` record keeps the old and the new value. Each import is one
``fx.import_completed`` record (file, SHA-256, counts); the rates themselves are in the
file its hash identifies, so they are not copied into the log one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.audit.records import AuditEntry
from domain.fx import FxRate
from domain.money import canonical_decimal
from domain.usecases.transaction import UseCase, system_entry

#: Rates stored per statement round (one transaction holds the whole file).
_CHUNK = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class RateProblem:
    """A rate the file held that could not be read: where (a line or an XML element)."""

    where: str
    field: str
    error: str
    line: int | None = None


@dataclass(slots=True, kw_only=True)
class FxImportResult:
    """What one ``fx import`` did."""

    read: int = 0
    inserted: int = 0
    unchanged: int = 0
    replaced: int = 0
    rejected: int = 0
    rejected_rows: list[RateProblem] = field(default_factory=list)

    def summary(self, *, max_rows: int = 1000) -> dict[str, Any]:
        """The machine summary ``fx import --json`` prints (rejected rows capped)."""
        return {
            "read": self.read,
            "inserted": self.inserted,
            "unchanged": self.unchanged,
            "replaced": self.replaced,
            "rejected": self.rejected,
            "rejected_rows": [
                {"line": r.line, "where": r.where, "field": r.field, "error": r.error}
                for r in self.rejected_rows[:max_rows]
            ],
        }


class FxImport(UseCase):
    """Loads a file's rates in one transaction."""

    async def import_rates(
        self,
        rates: Sequence[FxRate],
        *,
        file_name: str,
        file_format: str,
        sha256: str,
        now: datetime,
        rejected: Sequence[RateProblem] = (),
    ) -> FxImportResult:
        """Stores ``rates`` (a repeated key in the file: its last rate counts)."""
        result = FxImportResult(read=len(rates) + len(rejected), rejected=len(rejected))
        result.rejected_rows.extend(rejected)
        version = self._tx.policy().version
        last: dict[tuple[Any, ...], FxRate] = {r.key: r for r in rates}
        result.unchanged += len(rates) - len(last)  # repeats within the file
        unique = list(last.values())
        records: list[AuditEntry] = []
        async with self._tx.uow() as uow:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                stored = await uow.fx.get_many([r.key for r in chunk])
                fresh: list[FxRate] = []
                for rate in chunk:
                    before = stored.get(rate.key)
                    if before is None:
                        result.inserted += 1
                        fresh.append(rate)
                    elif before.rate == rate.rate:
                        result.unchanged += 1
                    else:
                        result.replaced += 1
                        await uow.fx.replace(rate, now=now)
                        records.append(
                            system_entry(
                                "fx.rate_replaced",
                                now,
                                version,
                                date=rate.on.isoformat(),
                                base=rate.base,
                                currency=rate.currency,
                                source=rate.source,
                                previous=canonical_decimal(before.rate),
                                rate=canonical_decimal(rate.rate),
                                file=file_name,
                            )
                        )
                await uow.fx.add_many(fresh, now=now)
            days = sorted({r.on for r in unique})
            records.append(
                system_entry(
                    "fx.import_completed",
                    now,
                    version,
                    file=file_name,
                    format=file_format,
                    sha256=sha256,
                    first_date=days[0].isoformat() if days else None,
                    last_date=days[-1].isoformat() if days else None,
                    **{k: v for k, v in result.summary().items() if k != "rejected_rows"},
                )
            )
            await uow.audit.append(records)
            await uow.commit()
        return result
