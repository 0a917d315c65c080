"""The bodies of the fake's webhook events: one envelope per documented payload version (reference section 11).

``build_payload`` wraps a payment (as the API shows it in the fake's profile) in the envelope
``webhook_payload_version`` names. Every version but ``svix`` is one an OrkestaPay page shows.
"""

from __future__ import annotations

from typing import Any

#: The event envelopes: ``v2026`` the current page's ``data.payment`` nesting with the 13 Nov 2024 page's
#: ``type: "payment"``, ``type_event`` and ``version`` (the one page that shows the envelope's other keys for
#: ``payment.*`` events); ``v2024-11`` that page as it is; ``v2024-07`` the ``order.update`` of 18 Jul 2024;
#: ``svix`` the Svix / Standard Webhooks convention ``{type: <event>, data: {payment}}``, which no OrkestaPay source
#: shows (the current page's envelope is cut off after ``data``): a test that the receiver copes with it too.
PAYLOAD_VERSIONS = ("v2026", "v2024-11", "v2024-07", "svix")


def build_payload(version: str, event_type: str, payment: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    """The event envelope in one of the documented shapes (see reference section 11)."""
    if version == "v2026":
        return {"data": {"payment": payment}, "type": "payment", "type_event": event_type, "version": 1}
    if version == "v2024-11":
        return {"data": payment, "type": "payment", "type_event": event_type, "version": 1}
    if version == "svix":
        return {"type": event_type, "data": {"payment": payment}}
    if version == "v2024-07":
        data = {
            "merchant_order_id": order.get("merchant_order_id"),
            "order_id": order.get("order_id"),
            "status": order.get("status"),
            "update_at": order.get("updated_at"),
        }
        return {"data": data, "event_type": "order.update"}
    raise ValueError(f"unknown payload version {version!r}; expected one of {', '.join(PAYLOAD_VERSIONS)}")
