"""``OrkestaPayClient.read_order``: an order with its payments in as few round trips as the answers allow, the
payments the list leaves incomplete read one by one, and what cannot be used named, never fatal (HTTP mocked with
``responses``)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import responses

from django_orkestapay.client import SANDBOX_BASE_URL, InMemoryTokenCache, OrkestaPayClient, reads
from django_orkestapay.exceptions import MalformedResponseError, ServerError

ORDER_ID = "ord_a73c91e6f6f949a3a39c9557f353d308"
ORDER_URL = f"{SANDBOX_BASE_URL}/v1/orders/{ORDER_ID}"
PAYMENTS_URL = f"{ORDER_URL}/payments"


def payment_url(payment_id: str) -> str:
    return f"{SANDBOX_BASE_URL}/v1/payments/{payment_id}"


def payment(payment_id: str, status: str = "COMPLETED", **fields: Any) -> dict[str, Any]:
    """The payment object of the event-types docs (``amount.authorized``, no ``captured``)."""
    return {
        "payment_id": payment_id,
        "order_id": ORDER_ID,
        "status": status,
        "amount": {"authorized": 990, "currency": "MXN"},
        **fields,
    }


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mocked:
        mocked.add(
            responses.POST,
            f"{SANDBOX_BASE_URL}/v1/oauth/tokens",
            json={"token_type": "Bearer", "expires_in": 1800, "access_token": "a.b.c"},
        )
        mocked.add(responses.GET, ORDER_URL, json={"order_id": ORDER_ID, "status": "COMPLETED"})
        yield mocked


@pytest.fixture
def client() -> Iterator[OrkestaPayClient]:
    with OrkestaPayClient(client_id="id", client_secret="secret", max_retries=0) as api:
        yield api


def calls(rsps: responses.RequestsMock, url: str) -> int:
    return sum(1 for call in rsps.calls if call.request.url == url)


def test_a_list_of_ids_only_is_completed_from_each_payments_own_read(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    """The payments list as the vendor plugins read it: ``content[].payment_id`` and nothing else."""
    listed = [{"payment_id": "pay_a", "order_id": ORDER_ID}, {"payment_id": "pay_b", "order_id": ORDER_ID}]
    rsps.add(responses.GET, PAYMENTS_URL, json={"content": listed})
    rsps.add(responses.GET, payment_url("pay_a"), json=payment("pay_a", "REJECTED"))
    rsps.add(responses.GET, payment_url("pay_b"), json=payment("pay_b"))

    read = client.read_order(ORDER_ID)

    assert read.order.status == "COMPLETED"
    assert [(p.payment_id, p.status, p.amount, p.currency) for p in read.payments] == [
        ("pay_a", "REJECTED", Decimal(990), "MXN"),
        ("pay_b", "COMPLETED", Decimal(990), "MXN"),
    ]
    assert read.problems == ()
    assert [p.problems for p in read.payments] == [(), ()]
    assert calls(rsps, ORDER_URL) == calls(rsps, PAYMENTS_URL) == 1


def test_a_whole_list_needs_no_payment_read(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    rsps.add(responses.GET, PAYMENTS_URL, json={"content": [payment("pay_a")]})

    read = client.read_order(ORDER_ID)

    assert [(p.payment_id, p.amount) for p in read.payments] == [("pay_a", Decimal(990))]
    assert len(rsps.calls) == 3  # the token, the order, the list


def test_the_order_its_list_and_the_expected_payment_are_asked_at_once(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    """One round trip on the buyer's return: the three reads are all in flight before any answers."""
    in_flight = threading.Barrier(3, timeout=5)

    def answer(body: dict[str, Any]) -> Any:
        def callback(request: Any) -> tuple[int, dict[str, str], str]:
            in_flight.wait()  # breaks (and the test fails) unless all three are asked together
            return 200, {"Content-Type": "application/json"}, json.dumps(body)

        return callback

    rsps.remove(responses.GET, ORDER_URL)
    rsps.add_callback(responses.GET, ORDER_URL, callback=answer({"order_id": ORDER_ID, "status": "COMPLETED"}))
    rsps.add_callback(
        responses.GET, PAYMENTS_URL, callback=answer({"content": [{"payment_id": "pay_a", "order_id": ORDER_ID}]})
    )
    rsps.add_callback(responses.GET, payment_url("pay_a"), callback=answer(payment("pay_a")))

    read = client.read_order(ORDER_ID, payment_ids=["pay_a"])

    assert [(p.payment_id, p.status, p.amount) for p in read.payments] == [("pay_a", "COMPLETED", Decimal(990))]
    assert calls(rsps, payment_url("pay_a")) == 1  # not read again in a second round


def test_an_expected_payment_that_is_not_the_orders_is_left_out(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    """An id from the buyer's URL is read, but kept only when the list names it or it names this order: a buyer
    cannot bring another order's payment into this one."""
    rsps.add(responses.GET, PAYMENTS_URL, json={"content": []})
    foreign = payment("pay_other", order_id="ord_someone_else")
    rsps.add(responses.GET, payment_url("pay_other"), json=foreign)
    rsps.add(responses.GET, payment_url("pay_unknown"), status=404, json={"message": "not found"})

    read = client.read_order(ORDER_ID, payment_ids=["pay_other", "pay_unknown"])

    assert read.payments == ()
    assert read.problems == ()  # a made-up id in the URL flags nothing


def test_an_unreadable_payment_is_a_problem_and_never_blocks_the_others(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    listed = [{"payment_id": "pay_gone"}, {"payment_id": "pay_odd"}, {"payment_id": "pay_ok"}, "pay_bare"]
    rsps.add(responses.GET, PAYMENTS_URL, json={"content": listed})
    rsps.add(responses.GET, payment_url("pay_gone"), status=404, json={"message": "not found"})
    rsps.add(responses.GET, payment_url("pay_odd"), body="<html>oops</html>")
    rsps.add(responses.GET, payment_url("pay_ok"), json=payment("pay_ok"))

    read = client.read_order(ORDER_ID)

    by_id = {p.payment_id: p for p in read.payments}
    assert (by_id["pay_ok"].status, by_id["pay_ok"].amount) == ("COMPLETED", Decimal(990))
    assert (by_id["pay_gone"].status, by_id["pay_gone"].amount) == ("", None)  # what the list said: only its id
    assert len(read.problems) == 3
    assert read.problems[0] == "payments list item 3: a payment is a JSON object"
    assert read.problems[1].startswith("payment pay_gone: its own read failed")
    assert read.problems[2].startswith("payment pay_odd: its own read failed")


def test_a_payments_list_that_cannot_be_read_leaves_the_order(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    rsps.add(responses.GET, PAYMENTS_URL, json={"content": "nope"})

    read = client.read_order(ORDER_ID)

    assert (read.order.status, read.payments) == ("COMPLETED", ())
    assert read.problems == (
        "the payments list could not be read: OrkestaPay sent a response we could not understand: content is not "
        "a list of payments",
    )


@pytest.mark.parametrize("failing", ["order", "list", "payment"])
def test_an_outage_of_any_read_fails_the_whole_read(
    rsps: responses.RequestsMock, client: OrkestaPayClient, failing: str
) -> None:
    """A 5xx may go away: the caller retries the whole read rather than apply half of it."""
    rsps.add(responses.GET, PAYMENTS_URL, json={"content": [{"payment_id": "pay_a"}]})
    if failing == "payment":  # read in the second round, once the list named it
        rsps.add(responses.GET, payment_url("pay_a"), json=payment("pay_a"))
    url = {"order": ORDER_URL, "list": PAYMENTS_URL, "payment": payment_url("pay_a")}[failing]
    rsps.replace(responses.GET, url, status=503, json={"message": "busy"})

    with pytest.raises(ServerError):
        client.read_order(ORDER_ID)


def test_an_order_that_cannot_be_read_fails_the_read(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    rsps.replace(responses.GET, ORDER_URL, json={"order_id": ORDER_ID})  # no status
    rsps.add(responses.GET, PAYMENTS_URL, json={"content": []})

    with pytest.raises(MalformedResponseError, match="status is missing"):
        client.read_order(ORDER_ID)


class CountingCache(InMemoryTokenCache):
    """The in-memory token cache, counting its reads and the threads they came from."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        self.reads.append(threading.current_thread().name)
        return super().get(key, default)


def test_the_concurrent_reads_share_one_token_and_never_ask_the_cache_from_their_threads(
    rsps: responses.RequestsMock,
) -> None:
    """The token is taken once, before the threads start: a database token cache would otherwise open a connection
    in each thread."""
    cache = CountingCache()
    listed = [{"payment_id": "pay_a", "order_id": ORDER_ID}]
    rsps.add(responses.GET, PAYMENTS_URL, json={"content": listed})
    rsps.add(responses.GET, payment_url("pay_a"), json=payment("pay_a"))
    with OrkestaPayClient(client_id="id", client_secret="secret", max_retries=0, token_cache=cache) as api:
        api.get_access_token()  # cached
        cache.reads.clear()
        read = api.read_order(ORDER_ID, payment_ids=["pay_a"])

    assert [p.status for p in read.payments] == ["COMPLETED"]
    assert cache.reads == [threading.current_thread().name]


def test_the_read_threads_are_made_again_in_a_forked_process() -> None:
    """An rqworker forks a work horse per job: the parent's read threads do not exist in it, so a pool inherited
    as it is would never run a read (the horse would hang)."""
    parent = reads.shared_pool()
    assert parent.submit(lambda: 1 + 1).result(timeout=5) == 2
    assert reads.shared_pool() is parent
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only when its own pool runs a call
        try:
            child = reads.shared_pool()
            os._exit(0 if child is not parent and child.submit(lambda: 2).result(timeout=5) == 2 else 1)
        except BaseException:  # noqa: BLE001 - the child must exit, never return into pytest
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_failed_read_leaves_none_of_its_calls_running(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    """The list answers 503 while an expected payment's read is still out: the read raises only once that call is
    over, so no call of a failed read holds one of the process's shared read threads afterwards."""
    finished = threading.Event()

    def slow_payment(request: Any) -> tuple[int, dict[str, str], str]:
        time.sleep(0.3)
        finished.set()
        return 200, {"Content-Type": "application/json"}, json.dumps(payment("pay_a"))

    rsps.add(responses.GET, PAYMENTS_URL, status=503, json={"message": "busy"})
    rsps.add_callback(responses.GET, payment_url("pay_a"), callback=slow_payment)

    with pytest.raises(ServerError):
        client.read_order(ORDER_ID, payment_ids=["pay_a"])

    assert finished.is_set()
