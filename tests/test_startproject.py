"""A shop built from the documentation's quickstart alone (tests/startproject_shop.py: ``startproject``, then every
file, setting and environment variable docs/quickstart.rst shows, ``LANGUAGE_CODE`` left at ``en-us``), served by
gunicorn with threads, driven over real HTTP with the fake gateway: the quickstart's cart page pays and ships, and its
own tests pass; and SQLite is correct there: a double click, a return racing the webhook, 8 buyers at once, with the
quickstart's SQLite ``OPTIONS``, with ``ATOMIC_REQUESTS`` and without the options; and a database that stays busy
answers 503, never 500, and a retry works.

Marked ``standalone``: the projects have their own SQLite files, so scripts/test runs this once, in its SQLite pass.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from django_orkestapay.testing import FakeOrkestaPay
from django_orkestapay.webhook_verification import sign_payload
from tests.conftest import hosted_page_post
from tests.doc_examples import DOCS, blocks_of
from tests.startproject_shop import (
    Browser,
    Order,
    ProjectFailed,
    StartProject,
    background_worker_settings,
    build,
    served,
)

pytestmark = pytest.mark.standalone

BUYERS = 8
T = TypeVar("T")


def at_once(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``calls`` in threads released together; their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


#: The quickstart's settings, with and without ATOMIC_REQUESTS; and startproject's bare SQLite settings (no OPTIONS,
#: what orkestapay.W004 warns about), which the app's write-lock-first transactions keep correct too.
VARIANTS: dict[str, dict[str, Any]] = {
    "quickstart": {"sqlite_options": True, "atomic_requests": False},
    "quickstart-atomic-requests": {"sqlite_options": True, "atomic_requests": True},
    "no-sqlite-options": {"sqlite_options": False, "atomic_requests": False},
}


@pytest.fixture(scope="module", params=list(VARIANTS))
def shop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake_orkestapay_server: FakeOrkestaPay
) -> Iterator[StartProject]:
    project = build(
        tmp_path_factory.mktemp("startproject"), gateway_url=fake_orkestapay_server.base_url, **VARIANTS[request.param]
    )
    with served(project):
        yield project


def webhook_url(project: StartProject) -> str:
    return f"{project.url}/orkestapay/webhook/"


def checkouts_created(fake: FakeOrkestaPay) -> int:
    """Checkouts the gateway created. (Not every ``POST /v1/checkouts``: the fake forgets its tokens between
    tests, so a worker's cached token is refused once with a 401 and the call is made again with a new one.)"""
    return sum(1 for r in fake.request_log if (r.method, r.path) == ("POST", "/v1/checkouts") and r.status == 200)


def checkouts_of(project: StartProject, order: Order) -> int:
    return int(project.query("select count(*) from orkestapay_checkout where order_id = ?", order.id)[0][0])


@pytest.mark.parametrize("button", ["order", "cart"])
def test_a_double_click_makes_one_order_and_one_checkout(
    shop: StartProject, fake_orkestapay: FakeOrkestaPay, button: str
) -> None:
    """An order's button, and a cart's (whose order the first click makes: the docs' cart recipe)."""
    (paid_for,) = shop.make_orders(1) if button == "order" else shop.make_carts(1)
    browser = Browser(shop)

    first, second = at_once([lambda: browser.pay(paid_for), lambda: browser.pay(paid_for)])

    assert (first.status_code, second.status_code) == (302, 302), shop.log_tail()
    assert first.headers["Location"] == second.headers["Location"]
    assert checkouts_created(fake_orkestapay) == 1
    orders = shop.query("select id from orkestapay_order where id = ? or object_id = ?", paid_for.id, paid_for.id)
    assert len(orders) == 1
    assert shop.query("select count(*) from orkestapay_checkout where order_id = ?", orders[0][0]) == [(1,)]


#: One look at a time: the shop reads an order and its payments at once, so two of the fake's request threads look
#: together, and one's ``BEGIN IMMEDIATE`` would make the other see the lock taken.
_LOOKING = threading.Lock()


def write_lock_is_free(db: Path) -> bool:
    """Whether another connection could take ``db``'s write lock at once (``BEGIN IMMEDIATE``, no waiting)."""
    with _LOOKING:
        return _takes_write_lock(db)


def _takes_write_lock(db: Path) -> bool:
    other = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False
    finally:
        other.close()


def test_polling_the_status_holds_no_write_lock_while_orkestapay_answers(
    shop: StartProject, fake_orkestapay: FakeOrkestaPay
) -> None:
    """The JSON status endpoint reads a pending order from OrkestaPay outside any transaction, also with
    ``ATOMIC_REQUESTS`` (SQLite's IMMEDIATE mode would take the write lock when the request's transaction began, and
    every other writer would wait for OrkestaPay's answer)."""
    (order,) = shop.make_orders(1)
    assert Browser(shop).pay(order).status_code == 302, shop.log_tail()  # pending: a checkout to read
    lock_free_while_asked: list[bool] = []

    def look_at_the_lock(record: Any) -> None:  # the fake's thread, before the shop has its answer
        if record.method == "GET" and record.path.startswith("/v1/orders/"):
            lock_free_while_asked.append(write_lock_is_free(shop.db))

    fake_orkestapay.on_request = look_at_the_lock
    try:
        answer = requests.get(f"{shop.url}/orkestapay/api/status/", params={order.field: order.reference}, timeout=30)
    finally:
        fake_orkestapay.on_request = None

    assert answer.status_code == 200, shop.log_tail()
    assert answer.json()["status"] == "pending"
    assert lock_free_while_asked  # OrkestaPay was asked...
    assert all(lock_free_while_asked), lock_free_while_asked  # ...and nobody waited for its answer


def test_the_quickstart_tests_pass(tmp_path: Path, fake_orkestapay: FakeOrkestaPay) -> None:
    """The quickstart's pytest.ini, conftest.py and shop/tests.py, run with pytest inside the project: the fake
    gateway comes from the package's plugin, as a shop's would."""
    project = build(tmp_path / "tested", gateway_url=fake_orkestapay.base_url)
    result = project.run_tests()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_the_testing_pages_tests_pass_in_a_shop_with_the_background_pages_worker(
    tmp_path: Path, fake_orkestapay: FakeOrkestaPay
) -> None:
    """The quickstart's shop with the task worker docs/background.rst recommends (webhooks queued for
    ``db_worker``, which no test runs), and docs/testing.rst's test module as printed: its webhook test passes too,
    because the page's ``fake`` fixture has webhooks processed in the request."""
    (module,) = [b for b in blocks_of(DOCS / "testing.rst") if b.kind == "example-tests" and b.caption]
    project = build(
        tmp_path / "worker", gateway_url=fake_orkestapay.base_url, extra_settings=background_worker_settings()
    )
    (project.directory / module.caption).parent.mkdir(parents=True, exist_ok=True)
    (project.directory / module.caption).write_text(module.code, encoding="utf-8")
    result = project.run_tests()
    (quickstart,) = [b for b in blocks_of(DOCS / "quickstart.rst") if b.caption == "shop/tests.py"]
    tests = module.code.count("\ndef test_") + quickstart.code.count("\ndef test_")  # and the quickstart's own
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"{tests} passed" in result.stdout


def test_a_status_poll_just_before_the_return_does_not_keep_the_buyer_from_the_thank_you_page(
    shop: StartProject, fake_orkestapay: FakeOrkestaPay
) -> None:
    """Issue 20, item 6: the front end polls the JSON status while the buyer pays; the buyer comes back within
    ``RETURN_SYNC_INTERVAL`` of that poll. Returns and polls are bounded apart, so the return still reads OrkestaPay
    and the buyer lands on the paid page, not on "we are confirming your payment"."""
    (order,) = shop.make_orders(1)
    browser = Browser(shop)
    hosted = browser.pay(order).headers["Location"]
    polled = requests.get(f"{shop.url}/orkestapay/api/status/", params={order.field: order.reference}, timeout=30)
    assert polled.json()["status"] == "pending", shop.log_tail()
    completed_url = hosted_page_post(hosted, "pay").headers["Location"]

    landed = browser.get(completed_url)

    assert landed.status_code == 200, shop.log_tail()
    assert shop.status(order) == "paid"
    assert "We are confirming your payment" not in landed.text


def test_a_return_and_the_webhook_at_the_same_moment(shop: StartProject, fake_orkestapay: FakeOrkestaPay) -> None:
    fake_orkestapay.add_webhook_endpoint(webhook_url(shop), shop.webhook_secret)
    fake_orkestapay.webhook_mode = "manual"  # each payment's webhook waits for its buyer's return
    orders = shop.make_orders(3)
    shipped_before = len(shop.shipped())  # the shop serves the module's other tests too
    browser = Browser(shop)
    returns = []
    for order in orders:
        completed_url = hosted_page_post(browser.pay(order).headers["Location"], "pay").headers["Location"]

        def come_back(url: str = completed_url) -> int:
            return browser.get(url).status_code

        def release_webhook() -> int:
            return fake_orkestapay.flush_webhooks()

        returns.append(at_once([come_back, release_webhook])[0])
    assert fake_orkestapay.wait_for_webhooks(timeout=20)

    assert returns == [200] * len(orders), shop.log_tail()
    deliveries = fake_orkestapay.webhook_log
    assert deliveries
    assert all(attempt.ok for attempt in deliveries), [attempt.status for attempt in deliveries]
    assert [shop.status(order) for order in orders] == ["paid"] * len(orders)
    shipped = shop.shipped()[shipped_before:]
    assert Counter(shipped) == Counter({order.id: 1 for order in orders})  # order_paid once each


def test_eight_buyers_pay_at_once(shop: StartProject, fake_orkestapay: FakeOrkestaPay) -> None:
    fake_orkestapay.add_webhook_endpoint(webhook_url(shop), shop.webhook_secret)  # delivered as each buyer pays
    orders = shop.make_orders(BUYERS)
    browser = Browser(shop)

    def buy(order: Order) -> tuple[int, int, int]:
        pay = browser.pay(order)
        if pay.status_code != 302:
            return pay.status_code, 0, 0
        hosted = hosted_page_post(pay.headers["Location"], "pay")
        back = browser.get(hosted.headers["Location"])
        return pay.status_code, hosted.status_code, back.status_code

    answers = at_once([functools.partial(buy, order) for order in orders])
    assert fake_orkestapay.wait_for_webhooks(timeout=20)

    assert answers == [(302, 303, 200)] * BUYERS, shop.log_tail()
    assert checkouts_created(fake_orkestapay) == BUYERS
    assert [shop.status(order) for order in orders] == ["paid"] * BUYERS
    assert Counter(shop.shipped()) >= Counter({order.id: 1 for order in orders})
    assert set(Counter(shop.shipped()).values()) == {1}
    deliveries = fake_orkestapay.webhook_log
    assert deliveries
    assert all(attempt.ok for attempt in deliveries), [attempt.status for attempt in deliveries]


def test_a_paid_orders_returns_webhook_and_sweep_at_once(shop: StartProject, fake_orkestapay: FakeOrkestaPay) -> None:
    """The completed return, a stale tab's cancel return of the same attempt, two deliveries of one webhook message
    and ``manage.py orkestapay_sync``, all at once: paid, shipped once, never canceled."""
    (order,) = shop.make_orders(1)
    browser = Browser(shop)
    completed_url = hosted_page_post(browser.pay(order).headers["Location"], "pay").headers["Location"]
    ((gateway_order, canceled_url),) = shop.query(
        "select orkestapay_order_id, canceled_url from orkestapay_checkout where order_id = ?", order.id
    )
    ((merchant_order_id,),) = shop.query("select merchant_order_id from orkestapay_order where id = ?", order.id)
    body, headers = signed_purchase(gateway_order, shop.webhook_secret)

    def deliver() -> int:
        return requests.post(webhook_url(shop), data=body, headers=headers, timeout=60).status_code

    answers = at_once(
        [
            lambda: browser.get(completed_url).status_code,
            lambda: browser.get(canceled_url).status_code,
            deliver,
            deliver,
            lambda: shop.manage("orkestapay_sync", "--order", merchant_order_id).count("0 failed"),
        ]
    )

    assert answers == [200, 200, 200, 200, 1], shop.log_tail()
    assert shop.status(order) == "paid"
    assert shop.shipped().count(order.id) == 1
    assert shop.query("select status, attempts from orkestapay_event where orkestapay_order_id = ?", gateway_order) == [
        ("processed", 1)
    ]


REFUND = """
from django_orkestapay import services
from django_orkestapay.models import Order
try:
    services.refund_order(Order.objects.get(pk="{id}"))
    print("refunded")
except Exception as exc:
    print(type(exc).__name__)
"""


def test_two_refunds_of_one_order_at_once_send_one(shop: StartProject, fake_orkestapay: FakeOrkestaPay) -> None:
    """Two processes refund the same paid order at the same moment: one refund reaches OrkestaPay."""
    (order,) = shop.make_orders(1)
    browser = Browser(shop)
    completed_url = hosted_page_post(browser.pay(order).headers["Location"], "pay").headers["Location"]
    assert browser.get(completed_url).status_code == 200
    assert shop.status(order) == "paid"

    outcomes = at_once([lambda: shop.manage("shell", "-c", REFUND.format(id=order.id)).split()[-1]] * 2)

    assert sorted(outcomes) == ["RefundNotAllowedError", "refunded"], shop.log_tail()
    assert shop.status(order) == "refunded"
    assert shop.query("select count(*) from orkestapay_refund") == [(1,)]
    assert fake_orkestapay.count_requests("POST", prefix="/v1/payments/") == 1


def test_without_credentials_the_checks_pass_and_the_deploy_check_names_them(shop: StartProject) -> None:
    """A machine without the quickstart's exports (a CI build, an image build): ``manage.py check`` passes (as its
    ``makemigrations`` and ``migrate`` did, in ``build``), ``check --deploy`` names both missing credentials."""
    credentials = ("ORKESTAPAY_CLIENT_ID", "ORKESTAPAY_CLIENT_SECRET")
    without_credentials = {name: value for name, value in shop.env.items() if name not in credentials}
    shop.manage("check", env=without_credentials)  # raises ProjectFailed on a SystemCheckError
    with pytest.raises(ProjectFailed) as refused:
        shop.manage("check", "--deploy", env=without_credentials)
    assert str(refused.value).count("(orkestapay.E003)") == 2


def test_the_quickstart_cart_page_pays_and_ships(shop: StartProject, fake_orkestapay: FakeOrkestaPay) -> None:
    """The quickstart's own page, button and receiver: the buyer opens the cart, pays on the hosted page, comes back
    to the app's page saying so, and the cart is shipped once. (Last of the tests on ``shop``: the others count
    every line of its ``shipped.log``.)"""
    (cart,) = shop.make_carts(1)
    browser = Browser(shop)

    pressed = browser.press_button(f"{shop.url}/shop/cart/{cart.id}/")
    assert pressed.status_code == 302, shop.log_tail()
    completed_url = hosted_page_post(pressed.headers["Location"], "pay").headers["Location"]
    back = browser.get(completed_url)

    assert back.status_code == 200, shop.log_tail()
    assert 'data-testid="orkestapay-paid"' in back.text
    (order_id, status) = shop.query("select id, status from orkestapay_order where object_id = ?", cart.id)[0]
    assert status == "paid"
    assert shop.query("select shipped_at is not null from shop_cart where id = ?", cart.id) == [(1,)]
    assert shop.shipped().count(order_id) == 1  # order_paid once


# ------------------------------------------------------------------------------------------- a database kept busy


def signed_purchase(orkestapay_order_id: str, secret: str) -> tuple[bytes, dict[str, str]]:
    """A ``payment.purchase`` delivery for an OrkestaPay order, signed with the shop's secret."""
    body = json.dumps(
        {"type_event": "payment.purchase", "data": {"payment": {"order_id": orkestapay_order_id}}}
    ).encode()
    message_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
    headers = {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": sign_payload(secret, message_id, timestamp, body),
        "content-type": "application/json",
    }
    return body, headers


def test_a_database_that_stays_busy_answers_503_and_a_retry_works(
    tmp_path: Path, fake_orkestapay: FakeOrkestaPay
) -> None:
    """Another connection holds SQLite's write lock past the timeout (1 s here, the quickstart says 20): the pay view,
    the return and the webhook answer 503 (never 500) and change nothing; once the lock is gone, each retry works."""
    project = build(tmp_path / "busy", gateway_url=fake_orkestapay.base_url, sqlite_timeout=1)
    with served(project):
        to_pay, paid = project.make_orders(2)
        browser = Browser(project)
        completed_url = hosted_page_post(browser.pay(paid).headers["Location"], "pay").headers["Location"]
        (gateway_order,) = project.query("select orkestapay_order_id from orkestapay_order where id = ?", paid.id)[0]
        body, headers = signed_purchase(gateway_order, project.webhook_secret)
        checkouts_before = checkouts_created(fake_orkestapay)

        holder = sqlite3.connect(str(project.db), timeout=20, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            busy_pay = browser.pay(to_pay)
            busy_return = browser.get(completed_url)
            busy_webhook = requests.post(webhook_url(project), data=body, headers=headers, timeout=30)
        finally:
            holder.execute("ROLLBACK")
            holder.close()

        assert (busy_pay.status_code, busy_return.status_code, busy_webhook.status_code) == (503, 503, 503), (
            project.log_tail()
        )
        assert "Traceback" not in busy_pay.text + busy_return.text + busy_webhook.text
        assert busy_webhook.headers.get("Retry-After")
        assert checkouts_created(fake_orkestapay) == checkouts_before  # nothing asked
        assert checkouts_of(project, to_pay) == 0
        assert project.status(paid) == "pending"
        assert project.query("select count(*) from orkestapay_event") == [(0,)]

        assert browser.pay(to_pay).status_code == 302
        retried = requests.post(webhook_url(project), data=body, headers=headers, timeout=30)
        assert (retried.status_code, retried.json()) == (200, {"status": "processed"})
        assert browser.get(completed_url).status_code == 200
        assert checkouts_of(project, to_pay) == 1
        assert project.status(paid) == "paid"
        assert project.shipped() == [paid.id]
