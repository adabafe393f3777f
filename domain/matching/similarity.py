"""Text similarity for the matcher: references and counterparty names, 0-100.

String similarity comes from rapidfuzz (MIT): ``fuzz.ratio`` (normalised Indel
similarity) for references, where every character counts, and the token-set and
token-sort ratios for names, where word order should not count and extra words
("ACME" vs "ACME TRADING") only a little.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from rapidfuzz import fuzz

_TOKEN = re.compile(r"[A-Z0-9]+")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")

#: An id found inside free text must be at least this long and hold a digit, so that a
#: word ("PAYMENT") or a short number ("2024") is not taken for an invoice number.
MIN_EMBEDDED_ID = 6

#: Legal forms and filler words that say nothing about who the counterparty is.
_NAME_NOISE = frozenset(
    {
        "AG",
        "BV",
        "CO",
        "CORP",
        "CORPORATION",
        "GMBH",
        "INC",
        "KG",
        "LIMITED",
        "LLC",
        "LTD",
        "NV",
        "OY",
        "PLC",
        "SA",
        "SARL",
        "SAS",
        "SPA",
        "SRL",
        "THE",
        "AB",
        "AS",
    }
)


@functools.lru_cache(maxsize=1 << 16)  # pure; remittance texts repeat a lot
def normalize_reference(text: str | None) -> str:
    """Upper case, no spaces or punctuation, no leading zeros in any number.

    ``"inv-000123"``, ``"INV 123"`` and ``"Inv.0123"`` all give ``"INV123"``; each number
    loses its leading zeros before the separators go, so ``"2024-0012"`` gives
    ``"202412"``, not ``"20240012"`` with its zeros kept.
    """
    if not text:
        return ""
    return _NOT_ALNUM.sub("", _LEADING_ZEROS.sub("", text.upper()))


@functools.lru_cache(maxsize=1 << 16)  # pure; counterparties repeat a lot
def normalize_name(text: str | None) -> str:
    """A counterparty name as space-separated upper-case words, legal forms dropped."""
    if not text:
        return ""
    words = [w for w in _TOKEN.findall(text.upper()) if w not in _NAME_NOISE]
    return " ".join(words)


def _is_id(text: str) -> bool:
    # Normalised text is letters and digits only: not all letters means it holds a digit.
    return len(text) >= MIN_EMBEDDED_ID and not text.isalpha()


def _ratio(a: str, b: str) -> int:
    return int(fuzz.ratio(a, b) + 0.5)


@dataclass(frozen=True, slots=True)
class ReferenceTexts:
    """One side's normalised reference texts (computed once per line, not per pair)."""

    reference: str
    end_to_end_id: str
    description: str


def reference_similarity(bank: ReferenceTexts, ledger: ReferenceTexts) -> tuple[int, str]:
    """How well two sides' references agree, 0-100, and on what.

    The best of: the two references compared (truncation of one by the other counts 90
    at least); the bank's end-to-end id against the ledger reference; an id of one side
    found inside the other's reference or description (100). Returns ``(0, "none")``
    when neither side has anything to compare.
    """
    best, basis = 0, "none"
    lref = ledger.reference
    if lref:
        if bank.reference:
            score = _ratio(bank.reference, lref)
            if score < 100 and _is_id(bank.reference) and _is_id(lref):
                if lref in bank.reference:
                    score = 100
                elif bank.reference in lref:
                    score = max(score, 90)  # the bank truncated it
            if score > best:
                best, basis = score, "reference"
        if bank.end_to_end_id and best < 100:
            score = _ratio(bank.end_to_end_id, lref)
            if score > best:
                best, basis = score, "end-to-end id"
        if best < 100 and _is_id(lref) and lref in bank.description:
            best, basis = 100, "found in description"
    if best < 100 and ledger.description:
        for found, name in ((bank.reference, "reference"), (bank.end_to_end_id, "end-to-end id")):
            if _is_id(found) and found in ledger.description:
                best, basis = 100, f"bank {name} in ledger description"
                break
    return best, basis


def name_similarity(bank: str, ledger: str) -> int:
    """Two normalised counterparty names, 0-100 (0 when either is missing).

    The mean of the token-set ratio (word order and a cut-off or extra word do not count)
    and the token-sort ratio (they do): token-set alone gives 100 to any name whose words
    are a subset of the other's, so "BRIVEL" would equal "MIVELKA BRIVEL".
    """
    if not bank or not ledger:
        return 0
    both = fuzz.token_set_ratio(bank, ledger) + fuzz.token_sort_ratio(bank, ledger)
    return int(both / 2 + 0.5)
