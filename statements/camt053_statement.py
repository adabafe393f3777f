"""Building a camt.053 statement from its ``Stmt`` header once its entries are read:
the account and currency, the booked opening and closing balances, the period and the
``TxsSummry`` control figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from lxml import etree

from domain.errors import MoneyError
from domain.money import normalize_currency, parse_amount
from domain.statements.parsed import (
    ParsedStatement,
    StatementFormat,
)
from statements.camt053_values import (
    _amount,
    _Bad,
    _date,
    _Names,
    _Statement,
    _text,
    _where,
)

FORMAT = StatementFormat.CAMT053


@dataclass(frozen=True, slots=True)
class _Balance:
    code: str
    amount: Decimal
    currency: str
    on: date | None


def _balances(statement: etree._Element, q: _Names, state: _Statement) -> list[_Balance]:
    found: list[_Balance] = []
    for i, bal in enumerate(statement.iterfind(q("Bal")), start=1):
        code = _text(bal, q("Tp/CdOrPrtry/Cd")) or _text(bal, q("Tp/CdOrPrtry/Prtry")) or "?"
        path = f"Bal[{i}]"
        amt = bal.find(q("Amt"))
        if amt is not None and not amt.get("Ccy"):
            raise _Bad(
                _where(state, f"{path}/Amt", amt),
                f"the {code} balance has no currency (Amt/@Ccy)",
            )
        amount, currency = _amount(amt, _text(bal, q("CdtDbtInd")), state, f"{path}/Amt")
        on = _date(bal.find(q("Dt")), q, state, f"{path}/Dt")
        found.append(_Balance(code=code, amount=amount, currency=currency, on=on))
    return found


def _one(balances: list[_Balance], code: str, state: _Statement) -> _Balance | None:
    matching = [b for b in balances if b.code == code]
    if len(matching) > 1:
        raise _Bad(state.where, f"the statement has {len(matching)} {code} balances")
    return matching[0] if matching else None


def _statement(element: etree._Element, q: _Names, state: _Statement) -> ParsedStatement:
    account = _text(element, q("Acct/Id/IBAN")) or _text(element, q("Acct/Id/Othr/Id"))
    if account is None:
        raise _Bad(state.where, "the statement names no account (Acct/Id/IBAN or Acct/Id/Othr/Id)")
    balances = _balances(element, q, state)
    declared = _text(element, q("Acct/Ccy"))
    try:
        currency = normalize_currency(declared) if declared else None
    except MoneyError as err:
        raise _Bad(_where(state, "Acct/Ccy", element.find(q("Acct/Ccy"))), str(err)) from None
    balance_currencies = sorted({b.currency for b in balances})
    if currency is None:
        if len(balance_currencies) > 1:
            raise _Bad(
                state.where,
                f"the balances are in several currencies ({', '.join(balance_currencies)}) "
                "and the account names none (Acct/Ccy)",
            )
        currency = balance_currencies[0] if balance_currencies else None
    if currency is None:
        raise _Bad(state.where, "the statement states no currency (Acct/Ccy or a balance's Ccy)")
    for bal in balances:
        if bal.currency != currency:
            raise _Bad(
                state.where,
                f"the {bal.code} balance is in {bal.currency} but the account is in {currency}",
            )
    opening = _one(balances, "OPBD", state) or _one(balances, "PRCD", state)
    closing = _one(balances, "CLBD", state)
    if opening is None or closing is None:
        missing = " and ".join(
            name
            for name, bal in (("opening (OPBD or PRCD)", opening), ("closing (CLBD)", closing))
            if bal is None
        )
        raise _Bad(state.where, f"the statement has no booked {missing} balance")
    for raw in state.lines:
        if raw.currency != currency:
            raise _Bad(
                raw.line.where, f"the entry is in {raw.currency} but the statement is in {currency}"
            )
    start, end = _period(element, q, state, opening, closing)
    control_count, control_total = _summary(element, q, state, currency)
    return ParsedStatement(
        format=FORMAT,
        account=account,
        currency=currency,
        statement_id=_text(element, q("Id")),
        sequence=_text(element, q("ElctrncSeqNb")) or _text(element, q("LglSeqNb")),
        period_start=start,
        period_end=end,
        opening=opening.amount,
        closing=closing.amount,
        lines=tuple(raw.line for raw in state.lines),
        bank=_text(element, q("Acct/Svcr/FinInstnId/BICFI"))
        or _text(element, q("Acct/Svcr/FinInstnId/BIC")),
        control_total=control_total,
        control_count=control_count,
        where=state.where,
    )


def _period(
    element: etree._Element, q: _Names, state: _Statement, opening: _Balance, closing: _Balance
) -> tuple[date, date]:
    span = element.find(q("FrToDt"))
    if span is not None:
        start = _datetime_date(span, q("FrDtTm"), state)
        end = _datetime_date(span, q("ToDtTm"), state)
        if start is not None and end is not None:
            if end < start:
                raise _Bad(
                    _where(state, "FrToDt", span),
                    f"the period ends ({end}) before it starts ({start})",
                )
            return start, end
    start_from_balance = opening.on
    if start_from_balance is not None and opening.code == "PRCD":
        start_from_balance += timedelta(days=1)
    end_from_balance = closing.on
    if start_from_balance is None or end_from_balance is None:
        raise _Bad(
            state.where,
            "the statement states no period: neither FrToDt nor dated opening and closing balances",
        )
    return min(start_from_balance, end_from_balance), end_from_balance


def _datetime_date(span: etree._Element, path: str, state: _Statement) -> date | None:
    text = _text(span, path)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise _Bad(_where(state, "FrToDt", span), f"{text!r} is not a date and time") from None


def _summary(
    element: etree._Element, q: _Names, state: _Statement, currency: str
) -> tuple[int | None, Decimal | None]:
    """``TxsSummry/TtlNtries``: the number of entries and their net sum, when stated."""
    totals = element.find(q("TxsSummry/TtlNtries"))
    if totals is None:
        return None, None
    where = _where(state, "TxsSummry/TtlNtries", totals)
    count_text = _text(totals, q("NbOfNtries"))
    count = int(count_text) if count_text is not None and count_text.isdigit() else None
    net = _text(totals, q("TtlNetNtry/Amt")) or _text(totals, q("TtlNetNtryAmt"))
    if net is None:
        return count, None
    indicator = _text(totals, q("TtlNetNtry/CdtDbtInd")) or _text(totals, q("CdtDbtInd"))
    try:
        value = parse_amount(net, currency)
    except MoneyError as err:
        raise _Bad(where, f"the net total {err}") from None
    return count, -value if indicator == "DBIT" else value
