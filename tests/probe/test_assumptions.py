"""The probe's record of what the package assumes stays in step with the package (and with the fake's defaults,
which follow the same documents): the statuses it knows and the shape of the checkout request it sends."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from django_orkestapay.models import Checkout, OrderStatus
from django_orkestapay.probe import assumptions
from django_orkestapay.services import create_order
from django_orkestapay.services.checkout_body import build_checkout_payload
from django_orkestapay.services.sync import REMOTE_STATUS_MAP, map_remote_status
from django_orkestapay.services.webhooks import HANDLED_EVENT_TYPES, parse_webhook_payload
from django_orkestapay.testing import FakeOrkestaPay


def test_the_known_order_statuses_are_the_service_layers() -> None:
    pending = assumptions.KNOWN_ORDER_STATUSES - set(REMOTE_STATUS_MAP)

    assert set(REMOTE_STATUS_MAP) <= assumptions.KNOWN_ORDER_STATUSES
    assert pending == {"CREATED", "PROCESSING_PAYMENT", "PAYMENT_ACTION_REQUIRED"}
    assert {map_remote_status(status) for status in pending} == {OrderStatus.PENDING}


def shape(value: Any) -> Any:
    """The keys of a JSON value, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__ if isinstance(value, (bool, str)) else "number"


def test_the_package_shaped_body_is_what_the_service_layer_sends() -> None:
    order = create_order(
        items=[
            {"product_id": "p-1", "name": "Taza", "quantity": 2, "unit_price": Decimal("450.50"), "description": "x"}
        ],
        customer={"first_name": "Ana", "last_name": "López", "email": "ana@example.com", "merchant_customer_id": "c-1"},
        discount_amount=Decimal("1"),
        shipping_amount=Decimal("99"),
        tax_amount=Decimal("16.51"),
        save=False,
    )
    checkout = Checkout(
        order=order,
        locale="ES_LATAM",
        merchant_reference=order.merchant_order_id,
        completed_url="https://shop.example/c/?orkestapay=x",
        canceled_url="https://shop.example/x/?orkestapay=x",
        expires_at=timezone.now() + timedelta(hours=1),
    )

    sent = build_checkout_payload(order, checkout)
    probed = assumptions.package_checkout_body("probe-1", "probe@example.com", expires_at_ms=1)

    assert shape(probed) == shape(sent)
    assert probed["order"]["total_amount"] == sent["order"]["total_amount"]  # the same sums, taxes included
    assert probed["order"]["subtotal_amount"] == sent["order"]["subtotal_amount"]
    assert [(p["quantity"], p["unit_price"]) for p in probed["order"]["products"]] == [
        (p["quantity"], p["unit_price"]) for p in sent["order"]["products"]
    ]  # the same split line: one product_id twice


def test_the_rich_profiles_answers_are_what_the_probe_assumes() -> None:
    fake = FakeOrkestaPay(profile="rich")  # the probe's assumptions are the rich profile's answers

    assert fake.checkout_lifetime == assumptions.FAKE_CHECKOUT_LIFETIME
    assert fake.token_lifetime == assumptions.DOCUMENTED_TOKEN_LIFETIME
    assert set(assumptions.COMPLETED_RETURN_PARAMS) <= set(fake.return_params_completed)
    assert fake.return_params_canceled == assumptions.CANCELED_RETURN_PARAMS


def test_the_webhook_envelope_is_read_where_the_service_layer_reads_it() -> None:
    """The probe's webhook rows judge deliveries by where ``services.webhooks`` finds the event name: a key the
    parser starts (or stops) reading must be named here too."""
    candidates = ("type_event", "event_type", "eventType", "type", "event", "name", "eventName")
    read = [key for key in candidates if parse_webhook_payload({key: "payment.purchase"}).event_type]

    assert tuple(read) == assumptions.EVENT_NAME_KEYS
    assert assumptions.HANDLED_EVENT_TYPES == HANDLED_EVENT_TYPES
    body = {"type_event": "payment.purchase", "data": {"payment": {"order_id": "ord_1", "payment_id": "pay_1"}}}
    assert parse_webhook_payload(body).order_id == "ord_1"  # data.payment, as the probe looks for it
