"""The checks of one line of a bulk file; every problem of the line is reported, each naming its column."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Final

from cauri.core.money import CURRENCY_EXPONENTS, Money, format_money
from cauri.disbursements.ingest.cells import (
    MOJALOOP_PARTY_ID_TYPES,
    PAYEE_NAME_MAX,
    parse_amount_cell,
    parse_currency_cell,
    parse_party_id_type_cell,
    parse_party_identifier_cell,
    parse_payee_name_cell,
    parse_transfer_id_cell,
)
from cauri.disbursements.ingest.messages import Issue, IssueCode, Localized, make_issue
from cauri.disbursements.ingest.phones import PhoneNormaliser
from cauri.disbursements.ingest.seen import SeenIndex
from cauri.disbursements.parsing import Field, FileFormat, Layout

# transfer id, amount (minor units), currency, party id type, party identifier, payee name
CheckedLine = tuple[str, int, str, str, str, str | None]

_HARD_MAX: Final = 10**18 - 1  # what fits a signed 64-bit column
_CACHE_SIZE: Final = 64
_AMOUNT_CACHE_SIZE: Final = 4096
_UNKNOWN_CURRENCY_EXPONENT: Final = 2  # enough to say whether an amount is readable at all


class LineChecker:
    """Checks lines one after the other; remembers transfer ids (duplicates) and the batch's currency."""

    def __init__(
        self,
        layout: Layout,
        *,
        phones: PhoneNormaliser,
        generate_id: Callable[[int], str],
        accepted_currencies: frozenset[str] | None,
        supported_party_id_types: frozenset[str],
        max_amounts: Mapping[str, int],
        max_line_length: int,
        batch_currency: str | None,
    ) -> None:
        self.layout = layout
        self.phones = phones
        self.generate_id = generate_id
        self.accepted_currencies = accepted_currencies
        self.supported_types = supported_party_id_types
        self.max_amounts = max_amounts
        self.max_line_length = max_line_length
        self.batch_currency = batch_currency
        self.transfer_ids = SeenIndex()
        positions = layout.positions
        self.fields = {index: field for field, index in positions.items()}
        self.generated_ids = layout.file_format is FileFormat.PAYMENT_LIST
        self.i_transfer_id = positions.get(Field.TRANSFER_ID, -1)
        self.i_amount = positions[Field.AMOUNT]
        self.i_currency = positions[Field.CURRENCY]
        self.i_type = positions[Field.PARTY_ID_TYPE]
        self.i_identifier = positions[Field.PARTY_IDENTIFIER]
        self.i_name = positions.get(Field.PAYEE_NAME, -1)
        self.width = layout.width
        self.required_width = layout.required_width
        self.required_cells = itemgetter(self.i_currency, self.i_amount, self.i_type, self.i_identifier)
        # A file repeats a handful of spellings ("MSISDN", "XOF"): read each once.
        self.currencies: dict[str, str | IssueCode] = {}
        self.party_id_types: dict[str, str | IssueCode] = {}
        # And often a handful of amounts (a pension, a salary scale): currency -> cell -> valid amount.
        self.amounts: dict[str, dict[str, int]] = {}

    def check(self, line: int, cells: list[str], problem: IssueCode | None) -> CheckedLine | list[Issue]:
        """The normalised line, or its issues (never empty). ``cells`` is not blank."""
        if problem is None and self.required_width <= len(cells) <= self.width:
            clean = self._clean(line, cells)
            if clean is not None:
                return clean
        return self._check(line, cells, problem)

    def _clean(self, line: int, cells: list[str]) -> CheckedLine | list[Issue] | None:  # noqa: PLR0911 - each unusual cell hands the line to _check
        """The fast path for a line whose cells are all fine (almost every line): the same answer as
        :meth:`_check`, or None when anything is unusual, and then :meth:`_check` finds out what. Nothing is
        remembered before the line is known to be clean but for its transfer id (which :meth:`_check` would
        remember as well)."""
        currency_cell, amount_cell, type_cell, identifier_cell = self.required_cells(cells)
        currency = self.currencies.get(currency_cell)  # filled by _check: a miss goes there
        if type(currency) is not str:  # None, or an IssueCode (a str subclass)
            return None
        accepted = self.accepted_currencies
        if (accepted is not None and currency not in accepted) or (
            self.batch_currency is not None and currency != self.batch_currency
        ):
            return None
        amounts = self.amounts.get(currency)
        amount = amounts.get(amount_cell) if amounts is not None else None
        if amount is None:
            amount = self._clean_amount(amount_cell, currency)
            if amount is None:
                return None
        party_id_type = self.party_id_types.get(type_cell)
        if type(party_id_type) is not str or party_id_type not in self.supported_types:
            return None
        if party_id_type == "MSISDN":
            identifier = self.phones.e164(identifier_cell)
        else:
            parsed = parse_party_identifier_cell(party_id_type, identifier_cell)
            identifier = None if isinstance(parsed, IssueCode) else parsed
        name = parse_payee_name_cell(cells[self.i_name]) if 0 <= self.i_name < len(cells) else None
        if identifier is None or isinstance(name, IssueCode):
            return None
        if self.generated_ids:
            transfer_id: str | None = self.generate_id(line)
        else:
            found: list[Issue] = []
            transfer_id = self._transfer_id(line, cells, found)
            if found:  # every other cell is fine: these are all the line's issues, as _check would list them
                return found
        assert transfer_id is not None
        if self.batch_currency is None:
            self.batch_currency = currency
        return transfer_id, amount, currency, party_id_type, identifier, name

    def _clean_amount(self, cell: str, currency: str) -> int | None:
        """A valid amount (positive, within the limit), or None."""
        amounts = self.amounts.get(currency)
        if amounts is None:
            amounts = self.amounts[currency] = {}
        amount = amounts.get(cell)
        if amount is not None:
            return amount
        text = cell.strip()
        parsed = parse_amount_cell(text, CURRENCY_EXPONENTS[currency]) if text else None
        if type(parsed) is not int or parsed <= 0:
            return None
        limit = self.max_amounts.get(currency)
        if limit is not None and parsed > limit:
            return None
        if len(amounts) < _AMOUNT_CACHE_SIZE:
            amounts[cell] = parsed
        return parsed

    def _check(self, line: int, cells: list[str], problem: IssueCode | None) -> CheckedLine | list[Issue]:
        """Every check, one after the other, each problem reported."""
        if problem is not None:
            return [make_issue(problem, line=line, limit=self.max_line_length)]
        found: list[Issue] = []
        count = len(cells)
        if count > self.width:
            filled = max(i for i, cell in enumerate(cells) if cell.strip()) + 1
            if filled > self.width:
                found.append(make_issue(IssueCode.TOO_MANY_COLUMNS, line=line, count=filled, expected=self.width))
        if count < self.required_width:
            found.append(make_issue(IssueCode.TOO_FEW_COLUMNS, line=line, count=count, expected=self.required_width))
            return found
        transfer_id = self._transfer_id(line, cells, found)
        currency = self._currency(line, cells, found)
        amount = self._amount(line, cells, currency, found)
        party_id_type, party_identifier = self._party(line, cells, found)
        name: str | None = None
        if 0 <= self.i_name < count:
            parsed_name = parse_payee_name_cell(cells[self.i_name])
            if isinstance(parsed_name, IssueCode):
                found.append(self._issue(parsed_name, line, self.i_name, cells, limit=PAYEE_NAME_MAX))
            else:
                name = parsed_name
        if found:
            return found
        assert transfer_id is not None and currency is not None and amount is not None
        assert party_id_type is not None and party_identifier is not None
        if self.batch_currency is None:
            self.batch_currency = currency
        return transfer_id, amount, currency, party_id_type, party_identifier, name

    def _issue(self, code: IssueCode, line: int, index: int, cells: list[str], **params: object) -> Issue:
        column, field = self.layout.header[index], self.fields[index]
        return make_issue(code, line=line, column=column, field=field, value=cells[index].strip(), **params)

    def _missing(self, line: int, index: int) -> Issue:
        column, field = self.layout.header[index], self.fields[index]
        return make_issue(IssueCode.MISSING_VALUE, line=line, column=column, field=field)

    def _transfer_id(self, line: int, cells: list[str], found: list[Issue]) -> str | None:
        if self.generated_ids:
            return self.generate_id(line)
        index = self.i_transfer_id
        text = cells[index]
        if not text.strip():
            found.append(self._missing(line, index))
            return None
        transfer_id = parse_transfer_id_cell(text)
        if isinstance(transfer_id, IssueCode):
            found.append(self._issue(transfer_id, line, index, cells))
            return None
        # Remembered even when the line has other errors: once they are fixed, the duplicate would remain.
        first = self.transfer_ids.first_line(transfer_id, line)
        if first is not None:
            found.append(self._issue(IssueCode.DUPLICATE_TRANSFER_ID, line, index, cells, first_line=first))
            return None
        return transfer_id

    def _currency(self, line: int, cells: list[str], found: list[Issue]) -> str | None:
        index = self.i_currency
        text = cells[index]
        if not text.strip():
            found.append(self._missing(line, index))
            return None
        currency = self.currencies.get(text)
        if currency is None:
            currency = parse_currency_cell(text)
            if len(self.currencies) < _CACHE_SIZE:
                self.currencies[text] = currency
        if isinstance(currency, IssueCode):
            found.append(self._issue(currency, line, index, cells))
            return None
        accepted = self.accepted_currencies
        if accepted is not None and currency not in accepted:
            supported = ", ".join(sorted(accepted))
            found.append(self._issue(IssueCode.UNSUPPORTED_CURRENCY, line, index, cells, supported=supported))
            return None
        if self.batch_currency is not None and currency != self.batch_currency:
            found.append(self._issue(IssueCode.CURRENCY_MISMATCH, line, index, cells, currency=self.batch_currency))
            return None
        return currency

    def _amount(self, line: int, cells: list[str], currency: str | None, found: list[Issue]) -> int | None:
        index = self.i_amount
        text = cells[index].strip()
        if not text:
            found.append(self._missing(line, index))
            return None
        # Without a usable currency, still say whether the amount itself is readable and positive.
        exponent = CURRENCY_EXPONENTS[currency] if currency is not None else _UNKNOWN_CURRENCY_EXPONENT
        amount = parse_amount_cell(text, exponent)
        problem: Issue | None = None
        if isinstance(amount, IssueCode):
            if currency is not None or amount is not IssueCode.FRACTIONAL_AMOUNT:
                params: dict[str, object] = {"currency": currency, "exponent": exponent}
                if amount is IssueCode.AMOUNT_TOO_LARGE:
                    params["limit"] = money_text(_HARD_MAX, currency)
                problem = self._issue(amount, line, index, cells, **params)
        elif amount <= 0:
            problem = self._issue(IssueCode.AMOUNT_NOT_POSITIVE, line, index, cells)
        elif currency is not None:
            limit = self.max_amounts.get(currency)
            if limit is not None and amount > limit:
                shown = money_text(limit, currency)
                problem = self._issue(IssueCode.AMOUNT_TOO_LARGE, line, index, cells, limit=shown)
        if problem is not None:
            found.append(problem)
            return None
        return amount if currency is not None and isinstance(amount, int) else None

    def _party(self, line: int, cells: list[str], found: list[Issue]) -> tuple[str | None, str | None]:
        party_id_type = self._party_id_type(line, cells, found)
        index = self.i_identifier
        text = cells[index]
        if not text.strip():
            found.append(self._missing(line, index))
            return party_id_type, None
        if party_id_type is None:
            return None, None
        if party_id_type == "MSISDN":
            e164 = self.phones.e164(text)
            if e164 is None:
                found.append(self._issue(IssueCode.INVALID_PHONE, line, index, cells))
            return party_id_type, e164
        identifier = parse_party_identifier_cell(party_id_type, text)
        if isinstance(identifier, IssueCode):
            found.append(self._issue(identifier, line, index, cells, party_id_type=party_id_type))
            return party_id_type, None
        return party_id_type, identifier

    def _party_id_type(self, line: int, cells: list[str], found: list[Issue]) -> str | None:
        index = self.i_type
        text = cells[index]
        if not text.strip():
            found.append(self._missing(line, index))
            return None
        parsed = self.party_id_types.get(text)
        if parsed is None:
            parsed = parse_party_id_type_cell(text)
            if len(self.party_id_types) < _CACHE_SIZE:
                self.party_id_types[text] = parsed
        if isinstance(parsed, IssueCode):
            known = ", ".join(sorted(MOJALOOP_PARTY_ID_TYPES))
            found.append(self._issue(parsed, line, index, cells, known=known))
            return None
        if parsed not in self.supported_types:
            supported = ", ".join(sorted(self.supported_types))
            found.append(self._issue(IssueCode.UNSUPPORTED_PARTY_ID_TYPE, line, index, cells, supported=supported))
            return None
        return parsed


def money_text(minor: int, currency: str | None) -> Localized | str:
    """An amount as each language writes it: "10 000 000 F CFA" / "F CFA10,000,000"."""
    if currency is None:
        return str(minor)
    money = Money(minor, currency)
    return Localized(format_money(money), format_money(money, "en"))
