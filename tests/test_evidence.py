"""The evidence table (``client.evidence.FIELDS``) against the code: every key the parsers read and every key the
requests carry is in the table, and every row of the table is a key the code reads or sends. The documentation's
"What OrkestaPay's public record shows" page renders the same table, so it cannot drift either."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import responses
from django.utils import timezone

from django_orkestapay.client import SANDBOX_BASE_URL, OrkestaPayClient, evidence, parsing, transport
from django_orkestapay.exceptions import InvalidRequestError
from django_orkestapay.models import Checkout
from django_orkestapay.services.checkouts import build_checkout_payload
from django_orkestapay.services.webhooks import parse_webhook_payload
from tests.conftest import make_order

ROOT = Path(__file__).resolve().parent.parent


class Recorder(dict[str, Any]):
    """A dict that records every key read from it (``get``, ``[]``, ``in``), and from the dicts inside it."""

    def __init__(self, data: dict[str, Any], prefix: str, seen: set[str]) -> None:
        super().__init__(data)
        self.prefix, self.seen = prefix, seen

    def _wrap(self, key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return Recorder(value, f"{self.prefix}{key}.", self.seen)
        if isinstance(value, list):
            return [Recorder(v, f"{self.prefix}{key}[].", self.seen) if isinstance(v, dict) else v for v in value]
        return value

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(self.prefix + key)
        return self._wrap(key, super().get(key, default))

    def __getitem__(self, key: str) -> Any:
        self.seen.add(self.prefix + key)
        return self._wrap(key, super().__getitem__(key))

    def __contains__(self, key: object) -> bool:
        self.seen.add(f"{self.prefix}{key}")
        return super().__contains__(key)


def table(direction: str, call: str) -> set[str]:
    return {f.name for f in evidence.FIELDS if f.direction == direction and f.call == call}


def leaves(seen: set[str]) -> set[str]:
    """The keys read, without the objects read only to reach their members (``order`` for ``order.order_id``)."""
    return {name for name in seen if not any(other.startswith(f"{name}.") for other in seen)}


PAYMENT = {
    "payment_id": "pay_1",
    "order_id": "ord_1",
    "status": "COMPLETED",
    "amount": {"authorized": 990, "captured": 990, "refunded": 0, "currency": "MXN"},
    "currency": "MXN",
    "currency_code": "MXN",
    "captured_amount": 990,
    "payment_source": {"type": "CARD"},
    "transactions": [{"transaction_id": "ctx_1", "status": "SUCCESS"}],
}


def read_payment(seen: set[str], data: dict[str, Any] = PAYMENT) -> None:
    parsing.parse_remote_payment(Recorder(data, "", seen))


def test_every_payment_field_read_is_in_the_table() -> None:
    seen: set[str] = set()
    read_payment(seen)
    read_payment(seen, {**PAYMENT, "amount": {"authorized": 990}})  # captured absent: authorized read
    read_payment(seen, {**PAYMENT, "amount": None})  # the July 2024 shape: captured_amount read
    read_payment(seen, {"payment_id": "p", "amount": 1})  # no currency: currency_code read
    # the transactions are read by the ledger (settle_refunds): their id and status
    seen |= {"transactions[].transaction_id", "transactions[].status"}
    assert seen == table(evidence.READ, evidence._PAYMENT)


def test_every_order_field_read_is_in_the_table() -> None:
    seen: set[str] = set()
    order = {
        "order_id": "ord_1",
        "status": "COMPLETED",
        "currency": "MXN",
        "total_amount": 990,
        "subtotal_amount": 1000,
        "merchant_order_id": "ORD-1",
        "expires_at": "1700000000000",
        "payment_id": "pay_1",
        "payment_ids": ["pay_1"],
        "payments": [PAYMENT],
    }
    parsing.parse_order(Recorder(order, "", seen))
    reads = {name.split("[].")[0] if "[]." in name else name for name in seen}
    assert {"payments[]" if name == "payments" else name for name in reads} == table(evidence.READ, evidence._ORDER)


def test_every_payments_list_field_read_is_in_the_table() -> None:
    seen: set[str] = set()
    page = Recorder({"content": [PAYMENT], "last": True, "totalPages": 1}, "", seen)
    parsing.parse_payment_page(page)
    parsing.more_pages(Recorder({"totalPages": 1}, "", seen), 0)
    listed = {name for name in seen if not name.startswith("content[].")} | {"content[].payment_id"}
    assert listed == table(evidence.READ, evidence._LIST)
    items = {name.removeprefix("content[].") for name in seen if name.startswith("content[].")}
    assert items <= table(evidence.READ, evidence._PAYMENT)  # each item is a payment object


def test_every_checkout_and_refund_field_read_is_in_the_table() -> None:
    seen: set[str] = set()
    answer = {
        "checkout_id": "chk_1",
        "checkout_redirect_url": "https://checkout.sand.orkestapay.com/x",
        "order": {"order_id": "ord_1", "status": "CREATED", "expires_at": "1700000000000"},
    }
    parsing.parse_checkout(Recorder(answer, "", seen))
    assert leaves(seen) == table(evidence.READ, evidence._CHECKOUT)
    seen = set()
    refund = {"status": "SUCCESS", "transaction_id": "t", "amount": 1, "provider": {"message": 1}, "message": "x"}
    parsing.parse_refund(Recorder(refund, "", seen))
    assert leaves(seen) == table(evidence.READ, evidence._REFUND)


@pytest.fixture
def recorded_answers(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every key the transport's callers read from a decoded answer."""
    seen: set[str] = set()
    decode = transport.decode_json  # type: ignore[attr-defined]
    monkeypatch.setattr(
        transport, "decode_json", lambda content: (lambda data: Recorder(data, "", seen))(decode(content))
    )
    return seen


def test_every_token_and_error_field_read_is_in_the_table(recorded_answers: set[str]) -> None:
    with responses.RequestsMock() as rsps, OrkestaPayClient(client_id="i", client_secret="s", max_retries=0) as api:
        token = {"token_type": "Bearer", "expires_in": 1800, "access_token": "a.b.c"}
        rsps.add(responses.POST, f"{SANDBOX_BASE_URL}/v1/oauth/tokens", json=token)
        api.get_access_token()
        assert recorded_answers == table(evidence.READ, evidence._TOKEN)
        recorded_answers.clear()
        error = {"message": "m", "request_id": "r", "category": "c", "validation_errors": []}
        rsps.add(responses.GET, f"{SANDBOX_BASE_URL}/v1/orders/ord_1", status=400, json=error)
        with pytest.raises(InvalidRequestError):
            api.get_order("ord_1")
        rsps.add(responses.GET, f"{SANDBOX_BASE_URL}/v1/orders/ord_2", status=400, json={"error": "e"})
        with pytest.raises(InvalidRequestError):
            api.get_order("ord_2")
    assert recorded_answers == table(evidence.READ, evidence._ERROR)


def test_every_webhook_field_read_is_in_the_table() -> None:
    """Both envelopes: the payment under ``data.payment`` (current) and ``data`` itself (November 2024)."""
    webhook_rows, payment_rows = table(evidence.READ, evidence._WEBHOOK), table(evidence.READ, evidence._PAYMENT)
    payment = {"order_id": "x", "payment_id": "x", "merchant_order_id": "m"}
    read: set[str] = set()
    camel = {"orderId": "x", "paymentId": "x", "merchantOrderId": "m"}  # the 2024 WooCommerce era's names
    shapes = (
        ({"payment": {**PAYMENT, **payment}}, "data.payment."),
        ({**PAYMENT, **payment}, "data."),
        (camel, "data."),
    )
    for data, where in shapes:
        seen: set[str] = set()
        parse_webhook_payload(Recorder({"data": data}, "", seen))
        read |= {
            f"data(.payment).{name.removeprefix(where)}" if name.startswith(where) and name != "data.payment" else name
            for name in seen
        }
    unknown = {name for name in read if name not in webhook_rows}
    assert {name.removeprefix("data(.payment).") for name in unknown} <= payment_rows  # the body's payment object
    assert all(name.startswith("data(.payment).") for name in unknown)
    assert webhook_rows <= read


def flattened(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        return set().union(*(flattened(item, f"{prefix}{key}.") for key, item in value.items()))
    if isinstance(value, list):
        return set().union(*(flattened(item, f"{prefix[:-1]}[].") for item in value)) if value else set()
    return {prefix[:-1]}


@pytest.mark.django_db
def test_every_field_sent_with_a_checkout_is_in_the_table() -> None:
    order = make_order(
        items=[{"product_id": "1", "name": "A", "quantity": 2, "unit_price": Decimal("500"), "description": "d"}],
        customer={"first_name": "J", "last_name": "D", "email": "j@example.com", "merchant_customer_id": "c1"},
        shipping_amount=Decimal("50"),
        tax_amount=Decimal("160"),
    )
    checkout = Checkout(order=order, merchant_reference=order.merchant_order_id, locale="ES_LATAM")
    checkout.completed_url = checkout.canceled_url = "https://shop.example/r"
    checkout.expires_at = timezone.now() + timedelta(hours=1)
    sent = flattened(build_checkout_payload(order, checkout))
    assert sent == table(evidence.SENT, evidence._CHECKOUT)


def test_every_parameter_the_return_reads_is_in_the_table() -> None:
    source = (ROOT / "django_orkestapay" / "views.py").read_text()
    read = set(re.findall(r'request\.GET\.get\("([^"]+)"', source)) - {"check"}
    assert read == {name.split(" ")[0] for name in table(evidence.READ, evidence._RETURN)} - {"orkestapay"}


def test_unevidenced_fields_are_marked_assumed() -> None:
    assumed = {(f.call, f.name) for f in evidence.FIELDS if not f.evidenced}
    assert (evidence._ORDER, "total_amount") in assumed
    assert (evidence._CHECKOUT, "order.taxes[].amount") in assumed
    assert all(f.absent for f in evidence.FIELDS)
