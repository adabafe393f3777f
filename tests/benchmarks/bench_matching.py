"""Benchmark: the matcher end to end on a labelled pair, against an exact-join baseline.

Usage:
    python -m tests.benchmarks.bench_matching --bank 100000 --seed 7

Generates (seeded) about ``--bank`` bank lines on four accounts in two currencies over a
year and about 1.1 times as many ledger entries, with the true pairs kept aside:

* date lags of 0-3 days between bank and ledger (and value dates a day after booking);
* 2% of pairs with an amount difference under the tolerance;
* references typed differently (case, spaces, leading zeros), with typos, truncated by
  the bank, only in the remittance text, or missing altogether;
* counterparty names as a bank prints them (upper case, legal form dropped, cut short);
* a fifth of the amounts drawn from a few recurring round figures (rent, subscriptions),
  so that amount and date alone do not identify a pair;
* 5% one-to-many payouts (one bank line for 2-4 invoices) and some many-to-one card
  settlements (2-4 bank lines for one ledger entry);
* 3% bank lines and 3% ledger entries with no counterpart; duplicated bank lines (a
  statement imported twice); internal transfers between two of the company's accounts.

Prints, for ``match_lines`` end to end (preparing, blocking, scoring, assignment,
groups) and for the consistency checks: seconds, peak RSS of the process, precision of
the auto-accepted matches (pairs in them that are true pairs), recall of the true pairs
at >= 60 (true pairs inside an auto-accepted or pending match), counts per band; then the
baseline that joins only on exact amount, booking date and reference: its seconds and
recall. Targets (issue 12): precision >= 99.9%, recall >= 99%, < 30 s, < 500 MB.

Weights and defaults were tuned on seed 1; report numbers from another seed.
"""

from __future__ import annotations

import argparse
import random
import resource
import string
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from domain.matching.checks import run_checks
from domain.matching.matcher import match_lines
from domain.matching.records import (
    Band,
    BankLine,
    BankLineKey,
    LedgerLine,
    MatchingPolicy,
    MatchResult,
)

ACCOUNTS = (
    ("DE01", "EUR", "1010"),
    ("DE02", "EUR", "1020"),
    ("US01", "USD", "1030"),
    ("US02", "USD", "1040"),
)
TOLERANCES = {"EUR": Decimal("0.09"), "USD": Decimal("0.10")}
RECURRING = [
    Decimal(v)
    for v in (
        "50.00",
        "99.00",
        "100.00",
        "120.00",
        "150.00",
        "200.00",
        "250.00",
        "299.00",
        "500.00",
        "1000.00",
    )
]
LEGAL = ["GmbH", "Ltd", "Inc.", "LLC", "AG", "S.A.", "B.V.", "plc"]
START = date(2026, 1, 1)
DAYS = 365

Pair = tuple[BankLineKey, str]


@dataclass
class Labelled:
    bank: list[BankLine] = field(default_factory=list)
    ledger: list[LedgerLine] = field(default_factory=list)
    truth: set[Pair] = field(default_factory=set)
    kind: dict[Pair, str] = field(default_factory=dict)  # "1:1", "1:n" or "n:1"


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.out = Labelled()
        self.line_no: dict[str, int] = {}
        self.invoice = 0
        self.entry = 0
        self.names = [self._company() for _ in range(3000)]

    def _company(self) -> str:
        rng = self.rng
        words = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            syllables = "".join(
                rng.choice(
                    ("ka", "lo", "mi", "ren", "tor", "vel", "sa", "dun", "bri", "ex", "ol", "gra")
                )
                for _ in range(rng.randint(2, 3))
            )
            words.append(syllables.capitalize())
        return " ".join(words) + " " + rng.choice(LEGAL)

    def _bank_name(self, name: str) -> str | None:
        rng = self.rng
        r = rng.random()
        if r < 0.03:
            return None
        text = name.upper()
        if rng.random() < 0.5:
            text = text.rsplit(" ", 1)[0]  # legal form dropped
        if rng.random() < 0.15:
            text = text[:18]
        return text

    def _amount(self) -> Decimal:
        rng = self.rng
        if rng.random() < 0.2:
            return rng.choice(RECURRING)
        value = Decimal(str(round(min(250000.0, 10 ** rng.uniform(1, 4.6)), 2)))
        return value.quantize(Decimal("0.01"))

    def _reference(self) -> str:
        self.invoice += 1
        return f"INV-{self.invoice:07d}"

    def _entry_id(self) -> str:
        self.entry += 1
        return f"JE{self.entry:08d}"

    def _bank_ref(self, ref: str) -> tuple[str | None, str]:
        """The reference as the bank shows it, and the description."""
        rng = self.rng
        r = rng.random()
        if r < 0.55:
            return ref, "PAYMENT"
        if r < 0.65:
            return ref.lower().replace("-", " ").replace("INV 000", "inv "), "PAYMENT"
        if r < 0.75:
            pos = rng.randrange(6, len(ref))
            digit = rng.choice([d for d in string.digits if d != ref[pos]])
            return ref[:pos] + digit + ref[pos + 1 :], "PAYMENT"  # a typo
        if r < 0.83:
            return ref[: rng.randint(9, 10)], "PAYMENT"  # truncated
        if r < 0.94:
            return None, f"PAYMENT {ref} THANK YOU"  # only in the remittance text
        return None, "PAYMENT"  # nothing at all

    def _bank(
        self,
        account: str,
        currency: str,
        amount: Decimal,
        day: date,
        ref: str | None,
        desc: str,
        name: str | None,
        statement: str | None = None,
    ) -> BankLine:
        stmt = statement or f"{account}-{day.isocalendar()[1]:02d}"
        number = self.line_no.get(stmt, 0) + 1
        self.line_no[stmt] = number
        line = BankLine(
            statement_id=stmt,
            line_number=number,
            account=account,
            currency=currency,
            amount=amount,
            booking_date=day,
            value_date=day + timedelta(days=self.rng.choice((0, 0, 0, 1))),
            reference=ref,
            end_to_end_id=None,
            counterparty=name,
            description=desc,
        )
        self.out.bank.append(line)
        return line

    def _ledger(
        self, gl: str, currency: str, amount: Decimal, day: date, ref: str | None, name: str
    ) -> LedgerLine:
        entry = LedgerLine(
            entry_id=self._entry_id(),
            gl_account=gl,
            currency=currency,
            amount=amount,
            entry_date=day,
            reference=ref,
            counterparty=name,
            description=None,
        )
        self.out.ledger.append(entry)
        return entry

    def _lag(self) -> int:
        rng = self.rng
        lag = rng.choices((0, 1, 2, 3), weights=(50, 25, 15, 10))[0]
        return lag if rng.random() < 0.8 else -lag

    def generate(self, n_bank: int) -> Labelled:
        rng = self.rng
        while len(self.out.bank) < n_bank:
            account, currency, gl = rng.choice(ACCOUNTS)
            day = START + timedelta(days=rng.randrange(DAYS))
            sign = 1 if rng.random() < 0.6 else -1
            name = rng.choice(self.names)
            r = rng.random()
            if r < 0.03:  # a bank line with no counterpart (fees, unknown receipts)
                self._bank(
                    account,
                    currency,
                    sign * self._amount(),
                    day,
                    None,
                    "BANK CHARGES" if sign < 0 else "UNKNOWN RECEIPT",
                    None,
                )
            elif r < 0.06:  # a ledger entry with no bank line yet
                self._ledger(gl, currency, sign * self._amount(), day, self._reference(), name)
            elif r < 0.11:  # a payout for several invoices (5% of bank lines)
                parts = [self._amount() for _ in range(rng.randint(2, 4))]
                refs = [self._reference() for _ in parts]
                total = sum(parts, Decimal(0))
                desc = "PAYMENT " + " ".join(refs) if rng.random() < 0.6 else "PAYMENT"
                line = self._bank(
                    account, currency, sign * total, day, None, desc, self._bank_name(name)
                )
                for part, ref in zip(parts, refs, strict=True):
                    entry = self._ledger(
                        gl, currency, sign * part, day - timedelta(days=self._lag()), ref, name
                    )
                    self.out.truth.add((line.key, entry.entry_id))
                    self.out.kind[(line.key, entry.entry_id)] = "1:n"
            elif r < 0.115:  # card settlements: several bank lines for one ledger entry
                batch = self._reference().replace("INV", "STL")
                parts = [self._amount() for _ in range(rng.randint(2, 4))]
                entry = self._ledger(
                    gl, currency, sum(parts, Decimal(0)), day, batch, "Card acquirer Visa"
                )
                for k, part in enumerate(parts, 1):
                    line = self._bank(
                        account,
                        currency,
                        part,
                        day + timedelta(days=rng.randint(0, 2)),
                        f"{batch}/{k}",
                        "CARD SETTLEMENT",
                        "VISA ACQUIRER",
                    )
                    self.out.truth.add((line.key, entry.entry_id))
                    self.out.kind[(line.key, entry.entry_id)] = "n:1"
            elif r < 0.12:  # an internal transfer between the two accounts of one currency
                mine = [a for a in ACCOUNTS if a[1] == currency]
                amount = self._amount()
                ref = f"TRF{rng.randrange(10**6):06d}"
                self._bank(
                    mine[0][0], currency, -amount, day, ref, "TRANSFER TO OWN ACCOUNT", "OURSELVES"
                )
                self._bank(
                    mine[1][0],
                    currency,
                    amount,
                    day + timedelta(days=rng.randint(0, 1)),
                    ref,
                    "TRANSFER FROM OWN ACCOUNT",
                    "OURSELVES",
                )
            else:  # one bank line, one ledger entry
                amount = sign * self._amount()
                ref = self._reference()
                bank_ref, desc = self._bank_ref(ref)
                line = self._bank(
                    account, currency, amount, day, bank_ref, desc, self._bank_name(name)
                )
                ledger_amount = amount
                if rng.random() < 0.02:
                    off = Decimal(rng.randint(1, 9)).scaleb(-2)
                    ledger_amount = amount + (off if rng.random() < 0.5 else -off)
                entry = self._ledger(
                    gl, currency, ledger_amount, day - timedelta(days=self._lag()), ref, name
                )
                self.out.truth.add((line.key, entry.entry_id))
                self.out.kind[(line.key, entry.entry_id)] = "1:1"
                if rng.random() < 0.003:  # the statement imported twice: the line again
                    self._bank(
                        account,
                        currency,
                        amount,
                        day,
                        bank_ref,
                        desc,
                        line.counterparty,
                        statement=line.statement_id + "-r2",
                    )
        return self.out


def generate(n_bank: int, seed: int) -> Labelled:
    return _Generator(seed).generate(n_bank)


def pairs_of(result: MatchResult, bands: Sequence[Band]) -> list[Pair]:
    out: list[Pair] = []
    for m in result.matches:
        if m.band in bands:
            out.extend((b, e) for b in m.bank_lines for e in m.ledger_entries)
    return out


def baseline(data: Labelled) -> set[Pair]:
    index: dict[tuple[str, Decimal, date, str | None], list[str]] = {}
    for e in data.ledger:
        index.setdefault((e.currency, e.amount, e.entry_date, e.reference), []).append(e.entry_id)
    found: set[Pair] = set()
    taken: set[str] = set()
    for b in data.bank:
        for entry_id in index.get((b.currency, b.amount, b.booking_date, b.reference), []):
            if entry_id not in taken:
                taken.add(entry_id)
                found.add((b.key, entry_id))
                break
    return found


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bank", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--show-errors", type=int, default=0, help="print N false auto-accepts and N missed pairs"
    )
    args = parser.parse_args()

    t0 = time.perf_counter()
    data = generate(args.bank, args.seed)
    rss_data = _rss_mb()
    print(
        f"generated {len(data.bank):,} bank lines, {len(data.ledger):,} ledger entries, "
        f"{len(data.truth):,} true pairs in {time.perf_counter() - t0:.1f} s "
        f"(RSS {rss_data:.0f} MB)"
    )

    policy = MatchingPolicy(tolerances=TOLERANCES)
    accounts = {a: gl for a, _c, gl in ACCOUNTS}
    t0 = time.perf_counter()
    c0 = time.process_time()
    result = match_lines(data.bank, data.ledger, policy, accounts=accounts)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    t1 = time.perf_counter()
    c1 = time.process_time()
    checks = run_checks(data.bank, data.ledger, result, policy, own_accounts=frozenset(accounts))
    check_seconds = time.perf_counter() - t1
    check_cpu = time.process_time() - c1
    peak = _rss_mb()

    auto = pairs_of(result, (Band.AUTO_ACCEPTED,))
    reviewed = set(pairs_of(result, (Band.AUTO_ACCEPTED, Band.PENDING_REVIEW)))
    true_auto = sum(1 for p in auto if p in data.truth)
    precision = true_auto / len(auto) if auto else 1.0
    recall = len(reviewed & data.truth) / len(data.truth)
    n_bank, n_ledger = len(data.bank), len(data.ledger)
    comparisons = result.comparisons
    print(
        f"matcher: {seconds:.2f} s end to end ({cpu:.2f} s CPU), "
        f"checks {check_seconds:.2f} s ({check_cpu:.2f} s CPU), "
        f"peak RSS {peak:.0f} MB (after generating: {rss_data:.0f} MB)"
    )
    print(
        f"  comparisons {comparisons:,} (everything against everything: "
        f"{n_bank * n_ledger:,}), group steps {result.group_steps:,}"
    )
    print(
        f"  auto-accept precision {precision:.4%} "
        f"({len(auto) - true_auto} false of {len(auto):,} pairs)"
    )
    print(
        f"  recall at >= 60 {recall:.4%} "
        f"({len(reviewed & data.truth):,} of {len(data.truth):,} true pairs)"
    )
    for kind in ("1:1", "1:n", "n:1"):
        of_kind = {p for p in data.truth if data.kind[p] == kind}
        print(f"    recall of {kind} pairs {len(of_kind & reviewed) / len(of_kind):.4%}", end="")
        print(f" ({len(of_kind - reviewed):,} of {len(of_kind):,} missed)")
    for band in (Band.AUTO_ACCEPTED, Band.PENDING_REVIEW):
        ms = result.in_band(band)
        groups = sum(1 for m in ms if len(m.bank_lines) + len(m.ledger_entries) > 2)
        print(f"  {band.value}: {len(ms):,} matches ({groups:,} groups)")
    print(
        f"  unmatched: {len(result.unmatched_bank):,} bank lines, "
        f"{len(result.unmatched_ledger):,} ledger entries"
    )
    kinds: dict[str, int] = {}
    for c in checks:
        kinds[c.kind.value] = kinds.get(c.kind.value, 0) + 1
    print(f"  checks: {dict(sorted(kinds.items()))}")

    t0 = time.perf_counter()
    found = baseline(data)
    base_seconds = time.perf_counter() - t0
    base_recall = len(found & data.truth) / len(data.truth)
    print(
        f"baseline (exact amount, date, reference): {base_seconds:.2f} s, recall {base_recall:.4%}"
    )

    if args.show_errors:
        by_key = {b.key: b for b in data.bank}
        by_id = {e.entry_id: e for e in data.ledger}
        wrong = [
            (m, p)
            for m in result.in_band(Band.AUTO_ACCEPTED)
            for p in [(b, e) for b in m.bank_lines for e in m.ledger_entries]
            if p not in data.truth
        ]
        for m, (b, e) in wrong[: args.show_errors]:
            print("FALSE AUTO", m.score, m.components, by_key[b], by_id[e], sep="\n  ")
        missed = sorted(data.truth - reviewed)
        for b, e in missed[: args.show_errors]:
            print("MISSED", by_key[b], by_id[e], sep="\n  ")


if __name__ == "__main__":
    main()
