"""Reading OrkestaPay's 2xx answers into the client's typed results (:mod:`.results`).

The rule, from what OrkestaPay's public record shows (``docs/evidence.rst`` renders :mod:`.evidence`): depend on
what is evidenced, treat the rest as enrichment. An answer without what nothing can replace (an order's
``order_id`` or ``status``, a payment's ``payment_id``, a checkout's id and redirect URL) raises
:class:`~.results._ShapeError`, which the client turns into
:class:`~django_orkestapay.exceptions.MalformedResponseError`. Anything else that is absent, of another type or out
of range is read as "not said" (``None``, ``""``), and what was there but unusable is named in the result's
``problems``: one unusable value never makes the rest of an answer unreadable. No I/O and no Django here.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from .results import (
    CheckoutResult,
    RefundResult,
    RemoteOrder,
    RemotePayment,
    _ShapeError,
    _to_amount,
    _to_datetime,
    _to_str,
)

__all__ = [
    "more_pages",
    "parse_checkout",
    "parse_order",
    "parse_payment_page",
    "parse_refund",
    "parse_remote_payment",
    "payment_page_content",
]


def _require_str(data: Mapping[str, Any], key: str, name: str) -> str:
    value = _to_str(data.get(key))
    if value is None or not value.strip():
        raise _ShapeError(f"{name} is missing")
    return value


def _amount(data: Mapping[str, Any], key: str, name: str, problems: list[str]) -> Decimal | None:
    """``data[key]`` as an amount, ``None`` when absent or unusable (then named in ``problems``)."""
    value = data.get(key)
    amount = _to_amount(value, name, strict=False)
    if amount is None and value is not None:
        problems.append(f"{name} is not a usable amount: {str(value)[:40]!r}")
    return amount


def _code(value: Any) -> str | None:
    """A status, currency or method code as OrkestaPay sends it, normalised (stripped, upper case); else ``None``."""
    return value.strip().upper() if isinstance(value, str) and value.strip() else None


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
    return CheckoutResult(
        checkout_id=checkout_id,
        redirect_url=redirect_url,
        order_id=order_id,
        order_status=_code(order.get("status")) or "",
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
    """Read an order answer as ``get_order`` does. Only ``order_id`` and ``status`` are required (a ``ValueError``
    says which is missing); totals and currency are ``None`` when not said or unusable (named in ``problems``)."""
    order_id = _require_str(data, "order_id", "order_id")
    status = _code(data.get("status"))
    if status is None:
        raise _ShapeError("status is missing")
    problems: list[str] = []
    currency = _code(data.get("currency"))
    if currency is None and data.get("currency") is not None:
        problems.append(f"currency is not a currency code: {str(data.get('currency'))[:40]!r}")
    return RemoteOrder(
        order_id=order_id,
        merchant_order_id=_to_str(data.get("merchant_order_id")),
        status=status,
        currency=currency,
        total_amount=_amount(data, "total_amount", "total_amount", problems),
        subtotal_amount=_amount(data, "subtotal_amount", "subtotal_amount", problems),
        expires_at=_to_datetime(data.get("expires_at")),
        payment_ids=_payment_ids(data),
        raw=data,
        payments=_embedded_payments(data),
        problems=tuple(problems),
    )


def _embedded_payments(data: Mapping[str, Any]) -> tuple[RemotePayment, ...]:
    """The order's ``payments[]`` objects that name an id (others are only counted in payment_ids)."""
    listed = data.get("payments")
    if not isinstance(listed, list):
        return ()
    found: dict[str, RemotePayment] = {}
    for item in listed:
        if isinstance(item, dict) and _to_str(item.get("payment_id")):
            payment = parse_remote_payment(item)
            found.setdefault(payment.payment_id, payment)
    return tuple(found.values())


def parse_remote_payment(data: Any) -> RemotePayment:
    """Read a payment object (``GET /v1/payments/{id}``, a payments list's item, a webhook body's payment).

    Only ``payment_id`` is required (``ValueError`` without it, or for something that is not an object). The status
    is ``""`` when not said; the amount is ``amount.captured``, else ``amount.authorized`` (the event-types docs),
    else a scalar ``amount`` or ``captured_amount`` (the July 2024 events), ``None`` when none is usable; the currency
    ``amount.currency``, else ``currency`` or ``currency_code``."""
    if not isinstance(data, dict):
        raise _ShapeError("a payment is a JSON object")
    payment_id = _require_str(data, "payment_id", "payment_id").strip()
    problems: list[str] = []
    status = _code(data.get("status"))
    if status is None:
        problems.append("status is missing" if data.get("status") is None else "status is not a status code")
    amounts = data.get("amount")
    amount = refunded = None
    currency = data.get("currency") or data.get("currency_code")
    if isinstance(amounts, dict):
        # An unusable captured amount is not replaced by the authorized one: less may have been captured.
        if amounts.get("captured") is not None:
            amount = _amount(amounts, "captured", "amount.captured", problems)
        else:
            amount = _amount(amounts, "authorized", "amount.authorized", problems)
        refunded = _amount(amounts, "refunded", "amount.refunded", problems)
        currency = amounts.get("currency") or currency
    elif amounts is not None:
        amount = _amount(data, "amount", "amount", problems)
    if amount is None and data.get("captured_amount") is not None:
        amount = _amount(data, "captured_amount", "captured_amount", problems)
    source = data.get("payment_source")
    transactions = data.get("transactions")
    return RemotePayment(
        payment_id=payment_id,
        order_id=_to_str(data.get("order_id")),
        status=status or "",
        amount=amount,
        refunded=refunded,
        currency=_code(currency),
        method_type=_code(source.get("type")) if isinstance(source, dict) else None,
        transactions=tuple(t for t in transactions if isinstance(t, dict)) if isinstance(transactions, list) else (),
        raw=data,
        partial=amount is None,
        problems=tuple(problems),
    )


def payment_page_content(data: dict[str, Any]) -> list[Any]:
    """A page of payments' ``content``, the items as sent (``ValueError`` when it is not a list)."""
    content = data.get("content")
    if not isinstance(content, list):
        raise _ShapeError("content is not a list of payments")
    return list(content)


def parse_payment_page(data: dict[str, Any]) -> tuple[list[RemotePayment], list[str]]:
    """A page of an order's payments: the items that are payment objects with an id, and a problem line for each
    item that is not (it cannot be looked up; the order's own status may still vouch for the money)."""
    payments, problems = [], []
    for index, item in enumerate(payment_page_content(data)):
        try:
            payments.append(parse_remote_payment(item))
        except _ShapeError as exc:
            problems.append(f"payments list item {index}: {exc}")
    return payments, problems


def more_pages(data: Mapping[str, Any], page: int) -> bool:
    """Whether a Spring-style page (``page`` counted from 0) says more follow: ``last`` when it is a boolean, else
    ``totalPages`` beyond this one."""
    last = data.get("last")
    if isinstance(last, bool):
        return not last
    total = data.get("totalPages")
    return isinstance(total, int) and not isinstance(total, bool) and total > page + 1


def parse_refund(data: dict[str, Any]) -> RefundResult:
    """Read a refund answer (the transaction it made); ``status`` is required, ``status == "SUCCESS"`` means done."""
    status = _code(data.get("status"))
    if status is None:
        raise _ShapeError("status is missing")
    provider = data.get("provider")
    message = provider.get("message") if isinstance(provider, dict) else None
    if not isinstance(message, str):
        top_level = data.get("message")
        message = top_level if isinstance(top_level, str) else None
    return RefundResult(
        transaction_id=_to_str(data.get("transaction_id")),
        status=status,
        amount=_to_amount(data.get("amount"), "amount", strict=False),
        message=message,
        raw=data,
    )
