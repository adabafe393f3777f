"""Realistic intake rows for the sample file and the benchmarks (deterministic by seed).

Usage:
    python -m tests.benchmarks.generate_items --count 300 --bad-every 25 --out samples/items.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

COLUMNS = [
    "external_id",
    "kind",
    "entity",
    "currency",
    "amount",
    "counterparty",
    "counterparty_risk_tier",
    "booked_on",
    "aging_days",
    "confidence",
    "score",
    "matched_value",
    "variance",
    "record_count",
    "entity_risk_score",
    "prepared_by",
    "reference",
    "description",
    "bank_account",
]
ENTITIES = {
    "ACME-US": "USD",
    "ACME-UK": "GBP",
    "ACME-DE": "EUR",
    "ACME-FR": "EUR",
    "ACME-JP": "JPY",
    "ACME-CH": "CHF",
    "ACME-KW": "KWD",
    "ACME-SE": "SEK",
}
ENTITY_WEIGHTS = [50, 10, 15, 8, 7, 4, 3, 3]
COUNTERPARTIES = [
    "Globex Ltd",
    "Initech GmbH",
    "Umbrella SA",
    "Stark Industries",
    "Wayne Enterprises",
    "Soylent Corp",
    "Tyrell KK",
    "Cyberdyne Systems",
    "Hooli Inc",
    "Vandelay Industries",
    "Wonka Foods",
    "Acme Bank NA",
]
TIERS = ["low", "medium", "high", "critical"]
TIER_WEIGHTS = [55, 30, 10, 5]
KINDS = ["unmatched", "match", "batch", "statement"]
KIND_WEIGHTS = [45, 30, 15, 10]
PREPARERS = ["U0PREP1", "U0PREP2", "U0ALICE", ""]
DECIMALS = {"JPY": 0, "KWD": 3}
BAD_ROWS = [
    ("currency", "USDX"),
    ("amount", "12.345"),
    ("amount", "twelve"),
    ("external_id", ""),
    ("counterparty_risk_tier", "extreme"),
    ("booked_on", "2026-13-01"),
    ("confidence", "1.7"),
    ("kind", "transfer"),
]


def _amount(rng: random.Random, currency: str, scale: float = 1.0) -> Decimal:
    places = DECIMALS.get(currency, 2)
    # A log-normal size (most items small, a long tail of large ones), in minor units.
    minor = max(1, int(rng.lognormvariate(11.0, 1.6) * scale))
    value = Decimal(minor).scaleb(-places) if places else Decimal(minor)
    return value if rng.random() > 0.15 else -value


def generate(
    count: int, *, seed: int = 7, bad_every: int = 0, today: date = date(2026, 11, 20)
) -> Iterator[dict[str, str]]:
    """Yields ``count`` rows; every ``bad_every``-th row has one deliberate error."""
    rng = random.Random(seed)
    entities = list(ENTITIES)
    for n in range(1, count + 1):
        entity = rng.choices(entities, ENTITY_WEIGHTS)[0]
        currency = ENTITIES[entity]
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        row = dict.fromkeys(COLUMNS, "")
        row.update(
            external_id=f"{entity[5:].lower()}-{kind[:2]}-{n:07d}",
            kind=kind,
            entity=entity,
            currency=currency,
            amount=str(_amount(rng, currency)),
            counterparty=rng.choice(COUNTERPARTIES),
            counterparty_risk_tier=rng.choices(TIERS, TIER_WEIGHTS)[0],
            prepared_by=rng.choice(PREPARERS),
            reference=f"INV-{rng.randint(10000, 99999)}",
            description=f"{kind} item for {entity}",
            bank_account=f"ACCT-{rng.randint(100, 999)}",
        )
        if rng.random() < 0.5:
            row["booked_on"] = (today - timedelta(days=rng.randint(0, 9))).isoformat()
        else:
            row["aging_days"] = str(rng.randint(0, 9))
        if kind in ("unmatched", "statement"):
            row["confidence"] = f"0.{rng.randint(50, 99)}"
        if kind == "match":
            row["score"] = str(
                rng.choice(
                    [
                        rng.randint(30, 59),
                        rng.randint(60, 84),
                        rng.randint(85, 100),
                        rng.randint(85, 100),
                    ]
                )
            )
            row["confidence"] = f"0.{rng.randint(70, 99)}"
        if kind == "batch":
            matched = abs(_amount(rng, currency, scale=40.0))
            bps = rng.choice([0, 1, 2, 5, 10, 40])  # variance in basis points of matched
            places = DECIMALS.get(currency, 2)
            variance = (matched * bps / 10000).quantize(Decimal(1).scaleb(-places))
            row.update(
                amount=str(matched),
                matched_value=str(matched),
                variance=str(variance if rng.random() > 0.5 else -variance),
                record_count=str(rng.randint(3, 400)),
                entity_risk_score=f"0.{rng.randint(0, 9)}",
            )
        if bad_every and n % bad_every == 0:
            field, value = BAD_ROWS[(n // bad_every) % len(BAD_ROWS)]
            row[field] = value
        yield row


def write_csv(path: Path, rows: Iterator[dict[str, str]]) -> None:
    """Writes rows as CSV with a header."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def write_jsonl(path: Path, rows: Iterator[dict[str, str]]) -> None:
    """Writes rows as JSON Lines (empty values left out)."""
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({k: v for k, v in row.items() if v}) + "\n")


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bad-every", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = generate(args.count, seed=args.seed, bad_every=args.bad_every)
    if args.out.suffix == ".jsonl":
        write_jsonl(args.out, rows)
    else:
        write_csv(args.out, rows)


if __name__ == "__main__":
    main()
