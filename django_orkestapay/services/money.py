"""Money validation: every amount a finite ``Decimal`` that fits its column and its currency, every quantity a whole
number within bounds, and amounts typed by an operator read in the active language, strictly.

A violation is a ``ValidationError`` naming the field, never ``InvalidOperation``, a 500 or a silent truncation.
No queries and no HTTP here.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.formats import get_format, number_format
from django.utils.translation import gettext as _

from ..client import AMOUNT_LIMIT  # the money columns' bound, the one the client reads API answers against

#: Decimal places per currency (every currency OrkestaPay documents uses 2); others default to 2.
CURRENCY_PLACES: dict[str, int] = {"MXN": 2, "USD": 2, "COP": 2, "PEN": 2}
DEFAULT_PLACES = 2
#: What goes before an amount for buyers (:func:`format_money`), per currency; a currency not listed gets none.
CURRENCY_SYMBOLS: dict[str, str] = {"MXN": "$", "USD": "$", "COP": "$", "PEN": "S/\N{NO-BREAK SPACE}"}
#: The largest quantity one line item may have.
MAX_QUANTITY = 1_000_000


def currency_places(currency: str | None) -> int:
    """How many decimal places ``currency`` has (2 when unknown)."""
    return CURRENCY_PLACES.get((currency or "").upper(), DEFAULT_PLACES)


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def validate_amount(value: Any, field: str, *, currency: str | None = None) -> Decimal:
    """``value`` as a ``Decimal`` with the currency's places: finite, not negative, below :data:`AMOUNT_LIMIT`, with
    no more decimals than the currency has (never rounded). ``ValidationError`` on ``field`` otherwise."""
    amount = _as_decimal(value)
    if amount is None or not amount.is_finite():
        raise ValidationError({field: _("%(value)s is not an amount.") % {"value": _shown(value)}})
    if amount < 0:
        raise ValidationError({field: _("%(value)s is negative.") % {"value": _shown(value)}})
    check_fits(amount, field)
    places = currency_places(currency)
    step = Decimal(1).scaleb(-places)
    if amount != amount.quantize(step):
        text = _("%(value)s has more than %(places)d decimal places.")
        raise ValidationError({field: text % {"value": _shown(value), "places": places}})
    return amount.quantize(Decimal(1).scaleb(-DEFAULT_PLACES))


def check_fits(amount: Decimal, field: str) -> None:
    """Refuse an amount (an entered one, a line's ``quantity x unit_price``, a total) the money columns cannot hold."""
    if abs(amount) >= AMOUNT_LIMIT:
        limit = number_format(AMOUNT_LIMIT - 1, 0, force_grouping=True)
        raise ValidationError({field: _("The amount is too large (at most %(limit)s).") % {"limit": limit}})


def validate_quantity(value: Any, field: str) -> int:
    """A line item's quantity as a whole number from 1 to :data:`MAX_QUANTITY`: ``2``, ``"2"`` and
    ``Decimal("2")`` are 2; ``2.5``, ``"2.5"``, booleans and anything else are refused, never truncated."""
    number = _as_decimal(value)
    if number is None or not number.is_finite() or number != number.to_integral_value():
        raise ValidationError({field: _("%(value)s is not a whole number.") % {"value": _shown(value)}})
    if not 1 <= number <= MAX_QUANTITY:
        limit = number_format(MAX_QUANTITY, 0, force_grouping=True)
        raise ValidationError({field: _("The quantity must be between 1 and %(limit)s.") % {"limit": limit}})
    return int(number)


def grouping_marks(decimal_separator: str, thousand_separator: str) -> list[str]:
    """The thousands marks an operator may type: the usual one for the decimal separator (``.`` with ``,``, ``,``
    with ``.``) first, then the locale's own and spaces; never the decimal separator itself."""
    usual = {",": ".", ".": ","}.get(decimal_separator, "")
    marks = [usual, thousand_separator, " ", "\xa0", "\u202f"]
    return list(dict.fromkeys(mark for mark in marks if mark and mark != decimal_separator))


def parse_localized_amount(text: str, *, currency: str | None = None) -> Decimal:
    """An amount an operator typed, read with the active language's decimal separator.

    Strict: thousands grouped in threes (``1,000.00`` in English, ``1.000,00`` in Spanish, one mark throughout) or
    not grouped (``1000.00`` / ``1000,00``), and at most the currency's decimal places after the decimal separator.
    Anything else (``1,000`` in Spanish, which would be one peso; ``abc``) is a translated ``ValidationError``.
    """
    decimal_separator = str(get_format("DECIMAL_SEPARATOR"))
    marks = grouping_marks(decimal_separator, str(get_format("THOUSAND_SEPARATOR")))
    places = currency_places(currency)
    raw = (text or "").strip()
    fraction = rf"(?:{re.escape(decimal_separator)}(?P<fraction>\d{{1,{places}}}))?" if places else ""
    match = re.fullmatch(rf"(?P<whole>\d+){fraction}", raw, flags=re.ASCII)
    for mark in marks if match is None else []:
        match = re.fullmatch(rf"(?P<whole>\d{{1,3}}(?:{re.escape(mark)}\d{{3}})+){fraction}", raw, flags=re.ASCII)
        if match is not None:
            break
    if match is None:
        example = f"1{marks[0]}000{decimal_separator}{'0' * places}" if places else f"1{marks[0]}000"
        text = _("Enter an amount such as %(example)s (%(value)s is not one).")
        raise ValidationError(text % {"example": example, "value": _shown(raw)})
    whole = "".join(ch for ch in match["whole"] if ch.isdigit())
    amount = Decimal(f"{whole}.{match['fraction'] or '0'}")
    check_fits(amount, "amount")
    return amount.quantize(Decimal(1).scaleb(-DEFAULT_PLACES))


def format_amount_for_input(amount: Decimal, currency: str | None = None) -> str:
    """``amount`` with the active language's decimal separator and no grouping: what :func:`parse_localized_amount`
    reads back."""
    places = currency_places(currency)
    text = str(amount.quantize(Decimal(1).scaleb(-places)))
    return text.replace(".", str(get_format("DECIMAL_SEPARATOR")))


def format_money(amount: Any, currency: str | None = None) -> str:
    """``amount`` (a ``Decimal``, an int or a decimal string) for buyers: the currency's symbol, the amount with the
    currency's decimal places, grouped and separated as the active language writes numbers, then the currency code
    (``$1,000.00 MXN`` in Mexican Spanish and English, as OrkestaPay's hosted page writes it; ``$1 000,00 MXN`` in
    Spain's Spanish; ``-$10.00 MXN``). A currency without a known symbol gets the code alone (``1,000.00 XYZ``).
    Raises ``ValueError`` for a value that is not a finite amount."""
    value = _as_decimal(amount)
    if value is None or not value.is_finite():
        raise ValueError(f"not an amount: {_shown(amount)}")
    places = currency_places(currency)
    rounded = value.quantize(Decimal(1).scaleb(-places))
    number = number_format(abs(rounded), places, use_l10n=True, force_grouping=True)
    sign = "-" if rounded < 0 else ""
    if not currency:
        return f"{sign}{number}"
    return f"{sign}{CURRENCY_SYMBOLS.get(currency.upper(), '')}{number} {currency}"


def _shown(value: Any) -> str:
    """A value quoted for an error message, cut short."""
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 40 else text[:37] + "..."
