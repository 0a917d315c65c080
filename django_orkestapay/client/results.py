"""The typed results of the OrkestaPay client and the parsing of answers into them.

Holds the frozen result types the endpoint methods return (:class:`CheckoutResult`, :class:`RemoteOrder`,
:class:`RefundResult`), the JSON codec every request and response goes through (:func:`encode_json` sends
``Decimal`` amounts as JSON numbers, :func:`decode_json` reads numbers back as ``Decimal``, never ``float``), the
coercion of the API's numbers, epoch-millisecond timestamps and ids, and the ``parse_*`` functions that check a 2xx
body's shape. A body that lacks what we need raises :class:`_ShapeError`, which the client turns into
:class:`~django_orkestapay.exceptions.MalformedResponseError` with the call's context. No I/O and no Django here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "AMOUNT_LIMIT",
    "CheckoutResult",
    "RefundResult",
    "RemoteOrder",
    "RemotePayment",
    "decode_json",
    "encode_json",
    "parse_checkout",
    "parse_order",
    "parse_remote_payment",
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

    ``amount`` is the captured amount, else the authorized one; ``refunded`` is ``amount.refunded`` (``None`` when
    the answer does not say). A payment listed inside an order object may carry only its id and status: then it is
    ``partial`` and its amounts are ``None``.
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


@dataclass(frozen=True)
class RemoteOrder:
    """An order as OrkestaPay reports it (``GET /v1/orders/{id}``).

    ``payments`` holds the ``payments[]`` items that are objects with an id and a status (often partial: see
    :class:`RemotePayment`); ``payment_ids`` every payment id the order names, in order, once each.
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


def _require_str(data: Mapping[str, Any], key: str, name: str) -> str:
    value = _to_str(data.get(key))
    if value is None or not value.strip():
        raise _ShapeError(f"{name} is missing")
    return value


def parse_checkout(data: dict[str, Any]) -> CheckoutResult:
    """Read a checkout answer as ``create_checkout`` and ``get_checkout`` do; a ``ValueError`` says what is missing."""
    checkout_id = _require_str(data, "checkout_id", "checkout_id")
    redirect_url = _require_str(data, "checkout_redirect_url", "checkout_redirect_url")
    try:
        parts = urlsplit(redirect_url)
    except ValueError as exc:  # "https://[x", a host that NFKC-normalizes to "/", ...: not a URL we can trust
        raise _ShapeError("checkout_redirect_url is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _ShapeError("checkout_redirect_url is not an absolute http(s) URL")
    order = data.get("order")
    if not isinstance(order, dict):
        raise _ShapeError("order is missing")
    order_id = _require_str(order, "order_id", "order.order_id")
    status = order.get("status")
    return CheckoutResult(
        checkout_id=checkout_id,
        redirect_url=redirect_url,
        order_id=order_id,
        order_status=status.strip().upper() if isinstance(status, str) else "",
        expires_at=_to_datetime(order.get("expires_at")),
        raw=data,
    )


def _payment_ids(data: Mapping[str, Any]) -> tuple[str, ...]:
    """Collect payment ids from ``payment_id``, ``payment_ids`` and ``payments[].payment_id``, in order, once each."""
    found: list[str] = []

    def add(candidate: Any) -> None:
        if isinstance(candidate, str) and candidate.strip() and candidate not in found:
            found.append(candidate)

    add(data.get("payment_id"))
    listed = data.get("payment_ids")
    if isinstance(listed, list):
        for item in listed:
            add(item)
    payments = data.get("payments")
    if isinstance(payments, list):
        for item in payments:
            add(item.get("payment_id") if isinstance(item, dict) else item)
    return tuple(found)


def parse_order(data: dict[str, Any]) -> RemoteOrder:
    """Read an order answer as ``get_order`` does; a ``ValueError`` says what is missing."""
    order_id = _require_str(data, "order_id", "order_id")
    status = data.get("status")
    if not isinstance(status, str) or not status.strip():
        raise _ShapeError("status is missing")
    currency = data.get("currency")
    return RemoteOrder(
        order_id=order_id,
        merchant_order_id=_to_str(data.get("merchant_order_id")),
        status=status.strip().upper(),
        currency=currency if isinstance(currency, str) and currency else None,
        total_amount=_to_amount(data.get("total_amount"), "total_amount", strict=True),
        subtotal_amount=_to_amount(data.get("subtotal_amount"), "subtotal_amount", strict=True),
        expires_at=_to_datetime(data.get("expires_at")),
        payment_ids=_payment_ids(data),
        raw=data,
        payments=_embedded_payments(data),
    )


def _embedded_payments(data: Mapping[str, Any]) -> tuple[RemotePayment, ...]:
    """The order's ``payments[]`` objects that name an id and a status (others are only counted in payment_ids)."""
    listed = data.get("payments")
    if not isinstance(listed, list):
        return ()
    found: dict[str, RemotePayment] = {}
    for item in listed:
        if isinstance(item, dict) and _to_str(item.get("payment_id")) and isinstance(item.get("status"), str):
            payment = _parse_payment(item)
            found.setdefault(payment.payment_id, payment)
    return tuple(found.values())


def _parse_payment(data: dict[str, Any]) -> RemotePayment:
    """A payment object; amounts must be numbers when present (an unusable one is a malformed answer)."""
    payment_id = _require_str(data, "payment_id", "payment_id").strip()
    status = data.get("status")
    if not isinstance(status, str) or not status.strip():
        raise _ShapeError(f"payment {payment_id}: status is missing")
    amounts = data.get("amount")
    amount = refunded = None
    currency = data.get("currency")
    if isinstance(amounts, dict):
        captured = _to_amount(amounts.get("captured"), "amount.captured", strict=True)
        authorized = _to_amount(amounts.get("authorized"), "amount.authorized", strict=True)
        amount = captured if captured is not None else authorized
        refunded = _to_amount(amounts.get("refunded"), "amount.refunded", strict=True)
        currency = amounts.get("currency") or currency
    elif amounts is not None:
        amount = _to_amount(amounts, "amount", strict=True)
    source = data.get("payment_source")
    method = source.get("type") if isinstance(source, dict) else None
    transactions = data.get("transactions")
    return RemotePayment(
        payment_id=payment_id,
        order_id=_to_str(data.get("order_id")),
        status=status.strip().upper(),
        amount=amount,
        refunded=refunded,
        currency=currency.strip().upper() if isinstance(currency, str) and currency.strip() else None,
        method_type=method.strip().upper() if isinstance(method, str) and method.strip() else None,
        transactions=tuple(t for t in transactions if isinstance(t, dict)) if isinstance(transactions, list) else (),
        raw=data,
        partial="amount" not in data,
    )


def _payment_page_content(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A page of payments' ``content``, the payment objects as sent."""
    content = data.get("content")
    if not isinstance(content, list) or not all(isinstance(item, dict) for item in content):
        raise _ShapeError("content is not a list of payments")
    return list(content)


def _parse_payment_page(data: dict[str, Any]) -> list[RemotePayment]:
    return [_parse_payment(item) for item in _payment_page_content(data)]


def more_pages(data: Mapping[str, Any], page: int) -> bool:
    """Whether a Spring-style page (``page`` counted from 0) says more follow: ``last`` when it is a boolean, else
    ``totalPages`` beyond this one."""
    last = data.get("last")
    if isinstance(last, bool):
        return not last
    total = data.get("totalPages")
    return isinstance(total, int) and not isinstance(total, bool) and total > page + 1


def parse_remote_payment(data: Any) -> RemotePayment:
    """Parse a payment object from elsewhere (a webhook body); ``ValueError`` when it is not one."""
    if not isinstance(data, dict):
        raise ValueError("a payment is a JSON object")
    return _parse_payment(data)


def _parse_refund(data: dict[str, Any]) -> RefundResult:
    status = data.get("status")
    if not isinstance(status, str) or not status.strip():
        raise _ShapeError("status is missing")
    provider = data.get("provider")
    message = provider.get("message") if isinstance(provider, dict) else None
    if not isinstance(message, str):
        top_level = data.get("message")
        message = top_level if isinstance(top_level, str) else None
    return RefundResult(
        transaction_id=_to_str(data.get("transaction_id")),
        status=status.strip().upper(),
        amount=_to_amount(data.get("amount"), "amount", strict=False),
        message=message,
        raw=data,
    )
