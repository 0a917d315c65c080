"""``Retry-After`` on the calls the client may retry (client.transport): a 429 or 503 asking for a short wait is
retried after that wait, one asking for more than ``max_retry_after`` is not retried, and the error carries the
wait either way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime

import pytest
import responses

from django_orkestapay.client import MAX_RETRY_AFTER, OrkestaPayClient, retry_after_seconds
from django_orkestapay.exceptions import InvalidRequestError, RateLimitError, ServerError
from tests.test_client import (
    CHECKOUTS_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    HTML_BODY,
    ORDER_ID,
    ORDER_URL,
    PAYMENT_ID,
    REFUND_URL,
    TOKEN_URL,
    FakeClock,
    Sleeps,
    add_token,
    calls_to,
    clock,
    order_body,
    rsps,
    sleeps,
    token_body,
)

__all__ = ["clock", "rsps", "sleeps"]  # the fixtures, shared with tests/test_client.py


@pytest.fixture
def client(clock: FakeClock, sleeps: Sleeps) -> Iterator[OrkestaPayClient]:
    with OrkestaPayClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, sleep=sleeps) as c:
        yield c


def http_date(epoch: float) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, UTC), usegmt=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 0 ", 0.0),
        ("120", 120.0),
        (http_date(1_700_000_004), 4.0),
        (http_date(1_699_999_000), 0.0),  # a date in the past: no wait
        ("Sun, 06 Nov 1994 08:49:37", 0.0),  # no zone: read as GMT
        (None, None),
        ("", None),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("²", None),  # a digit, but not delay-seconds
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value, expected):
    assert retry_after_seconds(value, now=1_700_000_000.0) == expected


@pytest.mark.parametrize("status", [429, 503])
def test_a_short_retry_after_is_waited_before_the_retry(
    rsps: responses.RequestsMock, client: OrkestaPayClient, sleeps: Sleeps, status: int
) -> None:
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, status=status, json={"message": "slow down"}, headers={"Retry-After": "2"})
    rsps.add(responses.GET, ORDER_URL, json=order_body())

    assert client.get_order(ORDER_ID).status == "COMPLETED"
    assert sleeps == [2.0]  # the wait asked for, not the 0.25 s backoff
    assert len(calls_to(rsps, ORDER_URL)) == 2


def test_an_http_date_retry_after_is_waited_from_the_clock(
    rsps: responses.RequestsMock, client: OrkestaPayClient, sleeps: Sleeps, clock: FakeClock
) -> None:
    add_token(rsps)
    later = http_date(clock.now + 3)
    rsps.add(responses.GET, ORDER_URL, status=503, body=HTML_BODY, headers={"Retry-After": later})
    rsps.add(responses.GET, ORDER_URL, json=order_body())

    client.get_order(ORDER_ID)

    assert sleeps == [3.0]


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_beyond_the_bound_is_not_retried_and_is_passed_on(
    rsps: responses.RequestsMock, client: OrkestaPayClient, sleeps: Sleeps, status: int
) -> None:
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, status=status, json={"message": "later"}, headers={"Retry-After": "60"})

    with pytest.raises((RateLimitError, ServerError)) as caught:
        client.get_order(ORDER_ID)

    assert caught.value.status_code == status
    assert caught.value.retry_after == 60.0
    assert sleeps == []
    assert len(calls_to(rsps, ORDER_URL)) == 1


def test_the_bound_is_the_clients_own(rsps: responses.RequestsMock, clock: FakeClock, sleeps: Sleeps) -> None:
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, status=429, json={}, headers={"Retry-After": str(int(MAX_RETRY_AFTER) + 1)})
    rsps.add(responses.GET, ORDER_URL, json=order_body())
    with OrkestaPayClient(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, sleep=sleeps, max_retry_after=30
    ) as patient:
        patient.get_order(ORDER_ID)

    assert sleeps == [MAX_RETRY_AFTER + 1]
    with pytest.raises(ValueError, match="max_retry_after"):
        OrkestaPayClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, max_retry_after=-1)


def test_the_last_attempt_carries_retry_after_too(
    rsps: responses.RequestsMock, client: OrkestaPayClient, sleeps: Sleeps
) -> None:
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, status=429, json={}, headers={"Retry-After": "1"})

    with pytest.raises(RateLimitError) as caught:
        client.get_order(ORDER_ID)

    assert sleeps == [1.0, 1.0]  # MAX_RETRIES 2: two waits, three calls
    assert caught.value.retry_after == 1.0


def test_without_retry_after_the_backoff_stays(
    rsps: responses.RequestsMock, client: OrkestaPayClient, sleeps: Sleeps
) -> None:
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, status=429, json={}, headers={"Retry-After": "soon"})
    rsps.add(responses.GET, ORDER_URL, json=order_body())

    client.get_order(ORDER_ID)

    assert sleeps == [0.25]


def test_the_token_request_and_a_refund_honour_it(
    rsps: responses.RequestsMock, client: OrkestaPayClient, sleeps: Sleeps
) -> None:
    rsps.add(responses.POST, TOKEN_URL, status=429, json={}, headers={"Retry-After": "1"})
    rsps.add(responses.POST, TOKEN_URL, json=token_body())
    rsps.add(responses.POST, REFUND_URL, status=503, body=HTML_BODY, headers={"Retry-After": "4"})
    rsps.add(responses.POST, REFUND_URL, json={"transaction_id": "ctx_1", "status": "SUCCESS", "amount": 5})

    client.refund_payment(PAYMENT_ID, amount=Decimal("5"), description="x", idempotency_key="k-1")

    assert sleeps == [1.0, 4.0]
    assert {c.request.headers["Idempotency-Key"] for c in calls_to(rsps, REFUND_URL)} == {"k-1"}


def test_a_checkout_is_never_retried_but_its_error_says_how_long_to_wait(
    rsps: responses.RequestsMock, client: OrkestaPayClient, sleeps: Sleeps
) -> None:
    add_token(rsps)
    rsps.add(responses.POST, CHECKOUTS_URL, status=429, json={}, headers={"Retry-After": "1"})

    with pytest.raises(RateLimitError) as caught:
        client.create_checkout({"order": {}})

    assert caught.value.retry_after == 1.0
    assert sleeps == []


def test_retry_after_is_read_only_on_429_and_503(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps)
    rsps.add(responses.POST, CHECKOUTS_URL, status=400, json={"message": "no"}, headers={"Retry-After": "1"})

    with pytest.raises(InvalidRequestError) as caught:
        client.create_checkout({"order": {}})

    assert caught.value.retry_after is None
