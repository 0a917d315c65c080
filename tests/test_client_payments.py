"""The client's typed payments: ``RemotePayment`` from ``GET /v1/payments/{id}``, ``GET /v1/orders/{id}/payments``
and the ``payments[]`` objects inside an order (often partial), parsed exactly (HTTP mocked with ``responses``)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import responses

from django_orkestapay.client import SANDBOX_BASE_URL, OrkestaPayClient, RemotePayment, parse_remote_payment
from django_orkestapay.exceptions import MalformedResponseError

ORDER_ID = "ord_a73c91e6f6f949a3a39c9557f353d308"
PAYMENT_ID = "pay_0b5e0e5b6a1d4b6c9f1c2d3e4f5a6b7c"


def payment_body(**overrides: Any) -> dict[str, Any]:
    """The payment object of the event docs (reference section 8), captured and partly refunded."""
    body: dict[str, Any] = {
        "payment_id": PAYMENT_ID,
        "order_id": ORDER_ID,
        "status": "partially_refunded",
        "amount": {"authorized": 990, "captured": 990.00, "refunded": 100.5, "currency": "mxn"},
        "payment_source": {"type": "card", "card": {"brand": "VISA"}},
        "transactions": [{"transaction_id": "ctx_1", "type": "REFUND", "status": "SUCCESS"}, "not an object"],
    }
    body.update(overrides)
    return body


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mocked:
        mocked.add(
            responses.POST,
            f"{SANDBOX_BASE_URL}/v1/oauth/tokens",
            json={"token_type": "Bearer", "expires_in": 1800, "access_token": "a.b.c"},
        )
        yield mocked


@pytest.fixture
def client() -> Iterator[OrkestaPayClient]:
    with OrkestaPayClient(client_id="id", client_secret="secret", max_retries=0) as api:
        yield api


def test_a_payment_is_read_typed_and_exact(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    rsps.add(responses.GET, f"{SANDBOX_BASE_URL}/v1/payments/{PAYMENT_ID}", json=payment_body())

    payment = client.get_remote_payment(PAYMENT_ID)

    assert isinstance(payment, RemotePayment)
    assert (payment.payment_id, payment.order_id, payment.status) == (PAYMENT_ID, ORDER_ID, "PARTIALLY_REFUNDED")
    assert (payment.amount, payment.refunded, payment.currency) == (Decimal("990.00"), Decimal("100.5"), "MXN")
    assert payment.method_type == "CARD"
    assert payment.transactions == ({"transaction_id": "ctx_1", "type": "REFUND", "status": "SUCCESS"},)
    assert payment.partial is False
    assert payment.raw["payment_source"]["card"]["brand"] == "VISA"


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ({"authorized": 990, "currency": "MXN"}, Decimal("990")),  # authorized only (capture=false)
        ({"authorized": 990, "captured": "500.10"}, Decimal("500.10")),  # captured wins
        (123.45, Decimal("123.45")),  # a bare number
        ({"currency": "MXN"}, None),
    ],
)
def test_the_amount_is_the_captured_else_the_authorized_one(amount: Any, expected: Decimal | None) -> None:
    assert parse_remote_payment(payment_body(amount=amount)).amount == expected


def test_an_orders_payments_are_listed_typed_in_order(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    declined = payment_body(payment_id="pay_declined", status="REJECTED", amount={"authorized": 0})
    rsps.add(
        responses.GET,
        f"{SANDBOX_BASE_URL}/v1/orders/{ORDER_ID}/payments",
        json={"content": [declined, payment_body(status="COMPLETED")], "totalElements": 2},
    )

    payments = client.get_order_payments(ORDER_ID)

    assert [(p.payment_id, p.status) for p in payments] == [("pay_declined", "REJECTED"), (PAYMENT_ID, "COMPLETED")]


@pytest.mark.parametrize("body", [{"content": "nope"}, {"payments": []}, {"content": None}])
def test_a_payments_list_that_is_no_list_is_a_malformed_answer(
    rsps: responses.RequestsMock, client: OrkestaPayClient, body: dict[str, Any]
) -> None:
    rsps.add(responses.GET, f"{SANDBOX_BASE_URL}/v1/orders/{ORDER_ID}/payments", json=body)
    with pytest.raises(MalformedResponseError):
        client.get_order_payments(ORDER_ID)


@pytest.mark.parametrize(
    ("item", "expected", "problem"),
    [
        pytest.param(
            {"payment_id": PAYMENT_ID, "order_id": ORDER_ID}, ("", None), "status is missing", id="the-evidenced-item"
        ),
        pytest.param(
            payment_body(status="COMPLETED", amount={"authorized": 990, "captured": "lots"}),
            ("COMPLETED", None),
            "amount.captured is not a usable amount",
            id="amount-no-number",
        ),
        pytest.param(
            payment_body(status="COMPLETED", amount={"captured": 1, "refunded": True}),
            ("COMPLETED", Decimal(1)),
            "amount.refunded is not a usable amount",
            id="refunded-a-boolean",
        ),
        pytest.param(
            payment_body(status="COMPLETED", amount={"authorized": 1e30, "currency": "MXN"}),
            ("COMPLETED", None),
            "amount.authorized is not a usable amount",
            id="amount-out-of-range",
        ),
    ],
)
def test_a_listed_payment_is_read_with_what_it_says_and_its_problems_named(
    rsps: responses.RequestsMock,
    client: OrkestaPayClient,
    item: dict[str, Any],
    expected: tuple[str, Decimal | None],
    problem: str,
) -> None:
    """One unusable value of one payment blocks neither that payment's other values nor the other payments."""
    other = payment_body(payment_id="pay_other", status="COMPLETED")
    rsps.add(responses.GET, f"{SANDBOX_BASE_URL}/v1/orders/{ORDER_ID}/payments", json={"content": [item, other]})

    first, second = client.get_order_payments(ORDER_ID)

    assert (first.status, first.amount) == expected
    assert any(line.startswith(problem) for line in first.problems), first.problems
    assert first.needs_detail == (expected[0] == "" or expected[1] is None)
    assert (second.payment_id, second.status, second.problems) == ("pay_other", "COMPLETED", ())


def test_a_listed_item_without_an_id_is_left_out_and_named(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    body = {"content": [{"status": "COMPLETED"}, "pay_x", payment_body()]}
    rsps.add(responses.GET, f"{SANDBOX_BASE_URL}/v1/orders/{ORDER_ID}/payments", json=body)

    payments, problems = client.read_order_payments(ORDER_ID)

    assert [p.payment_id for p in payments] == [PAYMENT_ID]
    assert problems == [
        "payments list item 0: payment_id is missing",
        "payments list item 1: a payment is a JSON object",
    ]


def test_an_orders_embedded_payments_are_partial_and_listed_once(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    rsps.add(
        responses.GET,
        f"{SANDBOX_BASE_URL}/v1/orders/{ORDER_ID}",
        json={
            "order_id": ORDER_ID,
            "status": "COMPLETED",
            "payment_id": "pay_b",
            "payments": [
                {"payment_id": "pay_a", "status": "rejected"},
                {"payment_id": "pay_b", "status": "COMPLETED"},
                {"payment_id": "pay_a", "status": "COMPLETED"},  # listed twice: the first one counts
                {"payment_id": "pay_c"},  # no status: only an id
                "pay_d",
            ],
        },
    )

    order = client.get_order(ORDER_ID)

    assert [(p.payment_id, p.status, p.amount, p.partial) for p in order.payments] == [
        ("pay_a", "REJECTED", None, True),
        ("pay_b", "COMPLETED", None, True),
        ("pay_c", "", None, True),
    ]
    assert order.payment_ids == ("pay_b", "pay_a", "pay_c", "pay_d")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (None, "JSON object"),
        ([], "JSON object"),
        ({"status": "COMPLETED"}, "payment_id"),
        ({"payment_id": " "}, "payment_id"),
    ],
)
def test_parse_remote_payment_refuses_what_is_no_payment(data: Any, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_remote_payment(data)


def test_a_payment_with_only_its_id_is_a_payment_whose_details_are_to_be_read() -> None:
    payment = parse_remote_payment({"payment_id": "p"})

    assert (payment.payment_id, payment.status, payment.amount, payment.needs_detail) == ("p", "", None, True)
    assert payment.problems == ("status is missing",)


def test_the_july_2024_payment_shape_is_read() -> None:
    """``payment.update`` of the 18 Jul 2024 event-types page: a scalar ``captured_amount`` and ``currency_code``."""
    payment = parse_remote_payment(
        {"payment_id": "p", "status": "COMPLETED", "captured_amount": 400.55, "currency_code": "mxn"}
    )

    assert (payment.amount, payment.currency, payment.problems) == (Decimal("400.55"), "MXN", ())
