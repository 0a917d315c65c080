"""Reading a webhook body: the event's name, OrkestaPay order id, our reference, the payment id and, when the body
carries a complete one, the payment object, from any of the envelope's known shapes. No database here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..client import RemotePayment, parse_remote_payment

__all__ = ["WebhookPayload", "parse_webhook_payload"]


@dataclass(frozen=True)
class WebhookPayload:
    """What we read from a webhook body, tolerant of the envelope's several shapes."""

    event_type: str
    order_id: str | None
    merchant_order_id: str | None
    payment_id: str | None
    payment: RemotePayment | None = None


def _first_str(mapping: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, str) and value:
            return value[:255]
    return None


def parse_webhook_payload(payload: Any) -> WebhookPayload:
    """Read event type, order id, merchant order id and payment id from any known envelope version.

    The event name comes from ``type_event``, else ``event_type``, else ``eventType``, else ``type`` when it names an
    event (``payment.purchase``: the Svix convention; the November 2024 envelope's ``"type": "payment"`` does not);
    the payment from ``data.payment``, else ``data``. Raises ``ValueError`` for a body that is not a JSON object.
    """
    if not isinstance(payload, dict):
        raise ValueError("the webhook body is not a JSON object")
    event_type = _first_str(payload, "type_event", "event_type", "eventType") or ""
    kind = payload.get("type")
    if not event_type and isinstance(kind, str) and "." in kind:
        event_type = kind[:255]
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    payment = data.get("payment")
    payment = payment if isinstance(payment, dict) else data
    return WebhookPayload(
        event_type=event_type[:64],
        order_id=_first_str(payment, "order_id", "orderId"),
        merchant_order_id=_first_str(payment, "merchant_order_id", "merchantOrderId"),
        payment_id=_first_str(payment, "payment_id", "paymentId"),
        payment=_payment_object(payment),
    )


def _payment_object(data: dict[str, Any]) -> RemotePayment | None:
    """The body's payment object when it is a complete one (an id, a status and amounts); else ``None``. It is
    signed, so it is recorded in the ledger, before the API's own (fresher) answer."""
    if "amount" not in data:
        return None
    try:
        return parse_remote_payment(data)
    except ValueError:  # not a payment object we can read: the API re-read still decides
        return None
