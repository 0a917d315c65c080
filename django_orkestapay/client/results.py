"""The typed results of the OrkestaPay client, the JSON codec and the coercion of the API's values.

Holds the frozen result types the endpoint methods return (:class:`CheckoutResult`, :class:`RemoteOrder`,
:class:`RemotePayment`, :class:`OrderRead`, :class:`RefundResult`), the JSON codec every request and response goes
through (:func:`encode_json` sends ``Decimal`` amounts as JSON numbers, :func:`decode_json` reads numbers back as
``Decimal``, never ``float``) and the coercion of the API's numbers, epoch-millisecond timestamps and ids. Reading a
body into these types is :mod:`.parsing`'s. No I/O and no Django here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "AMOUNT_LIMIT",
    "CheckoutResult",
    "OrderRead",
    "RefundResult",
    "RemoteOrder",
    "RemotePayment",
    "decode_json",
    "encode_json",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutResult:
    """A registered hosted checkout (``POST``/``GET /v1/checkouts``)."""

    checkout_id: str
    redirect_url: str
    order_id: str
    order_status: str
    expires_at: datetime | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class RemotePayment:
    """A payment as OrkestaPay reports it (``GET /v1/payments/{id}``, an order's payments, a webhook body).

    Only ``payment_id`` is sure to be there: OrkestaPay's public record shows payments lists that carry nothing
    else (the vendor plugins read only ``content[0].payment_id``). ``status`` is ``""`` when the answer does not
    say it (or says it unusably); ``amount`` is the captured amount, else the authorized one, ``None`` when the
    answer does not say it (``partial``: the object carries no usable amount); ``refunded`` is ``amount.refunded``
    (``None`` when not said). ``problems`` lists what the answer held that could not be used (an amount out of
    range, a status of another type), one short line each: never a reason to refuse the other fields.
    """

    payment_id: str
    order_id: str | None
    status: str
    amount: Decimal | None
    refunded: Decimal | None
    currency: str | None
    method_type: str | None
    transactions: tuple[dict[str, Any], ...]
    raw: dict[str, Any]
    partial: bool = False
    problems: tuple[str, ...] = ()

    @property
    def needs_detail(self) -> bool:
        """Whether the answer lacks the status or the amount, which ``GET /v1/payments/{id}`` may give."""
        return not self.status or self.amount is None


@dataclass(frozen=True)
class RemoteOrder:
    """An order as OrkestaPay reports it (``GET /v1/orders/{id}``).

    Only ``order_id`` and ``status`` are sure to be there (what the vendor plugins read); ``currency`` and the
    amounts are ``None`` when the answer does not say them, or says them unusably (then ``problems`` says what).
    ``payments`` holds the ``payments[]`` items that are objects with an id (no public source shows them: our fake
    answers them in its rich profile); ``payment_ids`` every payment id the order names, in order, once each.
    """

    order_id: str
    merchant_order_id: str | None
    status: str
    currency: str | None
    total_amount: Decimal | None
    subtotal_amount: Decimal | None
    expires_at: datetime | None
    payment_ids: tuple[str, ...]
    raw: dict[str, Any]
    payments: tuple[RemotePayment, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderRead:
    """One read of an OrkestaPay order with its payments (:meth:`~.endpoints.OrkestaPayClient.read_order`).

    ``payments``: the order's payments, each completed from ``GET /v1/payments/{id}`` where the list lacked its
    status or amount, in the order the API lists them. ``problems``: what could not be used (a payments list in an
    unknown shape, a listed item without an id, a payment whose own read failed), one line each; the rest of the read
    is whole.
    """

    order: RemoteOrder
    payments: tuple[RemotePayment, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class RefundResult:
    """The transaction a refund request produced (``POST /v1/payments/{id}/refund``)."""

    transaction_id: str | None
    status: str
    amount: Decimal | None
    message: str | None
    raw: dict[str, Any]

    @property
    def succeeded(self) -> bool:
        """Whether OrkestaPay reports the refund as done (``status == "SUCCESS"``)."""
        return self.status == "SUCCESS"


# --------------------------------------------------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------------------------------------------------


class _ShapeError(ValueError):
    """A 2xx body that parsed as JSON but lacks what we need; turned into MalformedResponseError with context."""


def _json_default(value: Any) -> Any:
    """Encode ``Decimal`` as a JSON number: an int when integral, else the shortest float repr."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send the non-finite amount {value} to OrkestaPay")
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encode_json(payload: Any) -> bytes:
    """Serialise a request body; ``Decimal`` amounts become JSON numbers, NaN and infinities are refused."""
    return json.dumps(payload, default=_json_default, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def decode_json(content: bytes | str) -> Any:
    """Parse a response body; floats become ``Decimal`` (never ``float``), NaN/Infinity are refused."""
    return json.loads(content, parse_float=Decimal, parse_constant=_reject_constant)


def _to_decimal(value: Any, name: str, *, strict: bool) -> Decimal | None:
    """Turn a JSON number or numeric string into a finite ``Decimal``; ``None`` when absent.

    An unusable value raises :class:`_ShapeError` when ``strict``, else gives ``None``.
    """
    if value is None:
        return None
    result: Decimal | None = None
    if isinstance(value, bool):
        result = None
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str) and value.strip():
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            result = None
    if result is None or not result.is_finite():
        if strict:
            raise _ShapeError(f"{name} is not a number")
        return None
    return result


#: Amounts in an answer must fit the shop's money columns (14 digits, 2 of them decimals): below this, not negative.
AMOUNT_LIMIT = Decimal(10) ** 12


def _to_amount(value: Any, name: str, *, strict: bool) -> Decimal | None:
    """:func:`_to_decimal` for money: an amount outside what the money columns hold (negative, ``>= 10**12``, more
    than 2 decimal places) is as unusable as a non-number (:class:`_ShapeError` when ``strict``, else ``None``)."""
    result = _to_decimal(value, name, strict=strict)
    if result is None or (0 <= result < AMOUNT_LIMIT and result == result.quantize(Decimal("0.01"))):
        return result
    if strict:
        raise _ShapeError(f"{name} is out of range: {value}")
    return None


def _to_datetime(value: Any) -> datetime | None:
    """Parse an epoch-milliseconds string or number (or, tolerantly, an ISO 8601 string) into an aware UTC datetime."""
    if value is None or isinstance(value, bool):
        return None
    millis: Decimal
    if isinstance(value, Decimal):
        millis = value
    elif isinstance(value, int):
        millis = Decimal(value)
    elif isinstance(value, float):
        millis = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            millis = Decimal(text)
        except InvalidOperation:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                return None
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    else:
        return None
    if not millis.is_finite():
        return None
    try:
        return _EPOCH + timedelta(microseconds=int(millis * 1000))
    except (OverflowError, ValueError):
        return None


def _to_str(value: Any) -> str | None:
    """A string as sent, an integer as its digits, anything else ``None``."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None
