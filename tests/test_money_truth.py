"""The issue's money-truth scenarios 1, 2, 3 and 7, as buyers and gateways behave, against the fake gateway over
real HTTP: the database, the signals (sent on the real commit) and what the gateway received.

1. A stale, cheaper payment never counts as the cart's.  2. A second payment is never absorbed, and a payment on an
attempt closed here is found.  3. A bank transfer in progress is never expired or canceled here, and lands late.
7. A raising ``order_paid`` receiver never breaks the buyer's return.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from django_orkestapay import adapters, services, signals
from django_orkestapay.models import (
    Checkout,
    CheckoutStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    ReviewCode,
)
from tests.conftest import hosted_page_post, make_order, pay_form, return_read_interval_passed
from tests.ledger_helpers import come_back, signal_log, start
from tests.shop.models import Cart

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = {"first_name": "Ana", "last_name": "López", "email": "ana@example.mx"}


@pytest.fixture
def cart(monkeypatch: pytest.MonkeyPatch) -> Cart:
    """A cart whose lines the test changes (``cart.lines``), as a buyer does in another tab."""
    cart = Cart.objects.create(reference="TV")
    lines: list[dict[str, Any]] = [{"product_id": "cable", "name": "Cable", "quantity": 1, "unit_price": "100"}]
    monkeypatch.setattr(
        Cart,
        "orkestapay_payment",
        lambda self: adapters.PaymentDescription(items=list(lines), customer=CUSTOMER, merchant_order_id="CART-TV"),
    )
    cart.lines = lines  # type: ignore[attr-defined]
    return cart


def press_pay(client: Any, cart: Cart) -> Any:
    return client.post(reverse("orkestapay:pay"), {"object": adapters.sign_shop_object(cart)})


def button(target: Any) -> str:
    template = Template("{% load orkestapay %}{% orkestapay_button target %}")
    return template.render(Context({"target": target, "csrf_token": "t", "request": RequestFactory().get("/")}))


# --- 1. a stale, cheaper payment ------------------------------------------------------------------------------


def test_a_stale_cheaper_payment_never_counts_as_the_carts(client, orkestapay_settings, fake_orkestapay, cart):
    assert press_pay(client, cart).status_code == 302  # the 100 MXN checkout, left open in the first tab
    cheap = Order.objects.get()
    cheap_checkout = cheap.checkouts.get()
    cart.lines.append({"product_id": "tv", "name": "TV", "quantity": 1, "unit_price": "10000"})
    assert press_pay(client, cart).status_code == 302  # the second tab: a new order for the new contents
    current = Order.objects.exclude(pk=cheap.pk).get()
    assert (cheap.total_amount, current.total_amount) == (Decimal("100.00"), Decimal("10100.00"))

    with signal_log() as log:
        completed_url = fake_orkestapay.pay(cheap_checkout.orkestapay_checkout_id)  # the stale tab is paid
        assert come_back(client, completed_url).status_code == 200

    cheap.refresh_from_db()
    assert cheap.status == OrderStatus.PAID  # the money matched that order
    assert (cheap.needs_review, cheap.review_code) == (True, ReviewCode.STALE_CONTENTS)
    assert "order_paid" not in log.names()
    [stale] = log.of("stale_order_paid")
    assert stale["shop_object"] == cart
    assert stale["current_fingerprint"] == current.content_fingerprint != cheap.content_fingerprint
    [change] = log.of("order_status_changed")
    assert (change["new_status"], change["needs_review"]) == (OrderStatus.PAID, True)

    assert services.paid_order_for(cart) is None
    html = button(cart)
    assert "<form" in html
    assert 'data-testid="orkestapay-paid"' not in html
    again = press_pay(client, cart)  # the buyer can pay the current contents: not 409
    assert again.status_code == 302
    assert again["Location"] == current.checkouts.get().redirect_url
    assert Order.objects.count() == 2


def test_the_current_contents_paid_are_the_carts_paid_order(client, orkestapay_settings, fake_orkestapay, cart):
    press_pay(client, cart)
    order = Order.objects.get()
    with signal_log() as log:
        come_back(client, fake_orkestapay.pay(order.checkouts.get().orkestapay_checkout_id))
    assert services.paid_order_for(cart) == Order.objects.get(pk=order.pk)
    assert [kwargs["shop_object"] for kwargs in log.of("order_paid")] == [cart]
    assert log.of("stale_order_paid") == []
    assert 'data-testid="orkestapay-paid"' in button(cart)
    assert press_pay(client, cart).status_code == 409


def test_a_payment_for_a_deleted_cart_is_recorded_flagged_and_not_announced_as_paid(
    client, orkestapay_settings, fake_orkestapay, cart
):
    press_pay(client, cart)
    order = Order.objects.get()
    checkout = order.checkouts.get()
    Cart.objects.filter(pk=cart.pk).delete()
    with signal_log() as log:
        come_back(client, fake_orkestapay.pay(checkout.orkestapay_checkout_id))
    order.refresh_from_db()
    assert (order.status, order.review_code) == (OrderStatus.PAID, ReviewCode.STALE_CONTENTS)
    assert log.names() == ["order_needs_review", "order_status_changed", "stale_order_paid"]
    assert log.of("stale_order_paid")[0]["current_fingerprint"] is None


def test_an_order_only_linked_to_an_object_nothing_describes_is_simply_paid(
    client, orkestapay_settings, fake_orkestapay, django_user_model
):
    buyer = django_user_model.objects.create(username="ana")  # a link for the shop's own bookkeeping
    order = make_order(shop_object=buyer)
    checkout = start(order)
    with signal_log() as log:
        come_back(client, fake_orkestapay.pay(checkout.orkestapay_checkout_id))
    assert log.names(order) == ["order_status_changed", "order_paid"]
    assert not Order.objects.get(pk=order.pk).needs_review
    assert services.paid_order_for(buyer) == order


@pytest.mark.parametrize(
    "where",
    [
        "shop",
        # mirrored from the payment's refunded amount, which only the rich profile shows
        pytest.param("portal", marks=pytest.mark.orkestapay_profile("rich")),
    ],
)
def test_a_fully_refunded_order_no_longer_counts_as_the_carts(
    client, orkestapay_settings, fake_orkestapay, cart, where
):
    press_pay(client, cart)
    order = Order.objects.get()
    come_back(client, fake_orkestapay.pay(order.checkouts.get().orkestapay_checkout_id))
    order.refresh_from_db()
    if where == "shop":
        services.refund_order(order)
    else:  # refunded in OrkestaPay's portal (outside this shop); the next sync mirrors it
        services.get_client().refund_payment(
            order.orkestapay_payment_id, amount=Decimal("100"), description="portal", idempotency_key="portal-1"
        )
        services.sync_order(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert services.paid_order_for(cart) is None
    assert "<form" in button(cart)


# --- 2. a second payment is never absorbed --------------------------------------------------------------------


def test_two_attempts_both_paid_are_two_payments_and_paid_twice_once(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    first = start(order)
    Checkout.objects.filter(pk=first.pk).update(expires_at=timezone.now() + timedelta(seconds=60))  # near its end
    second = start(order)  # a new attempt; the first one stays open (only the expiry sweep closes it, after reading)
    assert second.pk != first.pk
    assert Checkout.objects.get(pk=first.pk).status == CheckoutStatus.OPEN

    with signal_log() as log:
        come_back(client, fake_orkestapay.pay(first.orkestapay_checkout_id))
        come_back(client, fake_orkestapay.pay(second.orkestapay_checkout_id))
        services.sync_order(order)  # reading again sends nothing new
        call_command("orkestapay_sync", "--order", order.merchant_order_id)

    order.refresh_from_db()
    payments = list(order.payments.order_by("created_at"))
    assert [p.status for p in payments] == [PaymentStatus.COMPLETED, PaymentStatus.COMPLETED]
    assert [p.checkout_id for p in payments] == [first.pk, second.pk]
    assert order.status == OrderStatus.PAID
    assert order.orkestapay_payment_id == payments[0].orkestapay_payment_id  # the first, never overwritten
    assert (order.needs_review, order.review_code) == (True, ReviewCode.PAID_TWICE)
    assert order.review_reason.startswith(f"paid twice: {payments[0].orkestapay_payment_id} 990.00 MXN, ")
    assert log.names(order) == ["order_status_changed", "order_paid", "order_needs_review", "order_paid_twice"]
    [twice] = log.of("order_paid_twice")
    assert [p.orkestapay_payment_id for p in twice["payments"]] == [p.orkestapay_payment_id for p in payments]


def test_a_payment_on_an_attempt_canceled_here_is_found_by_sync(client, orkestapay_settings, fake_orkestapay):
    fake_orkestapay.cancel_marks_order_canceled = False  # OrkestaPay keeps the canceled attempt payable
    order = make_order()
    checkout = start(order)
    come_back(client, hosted_page_post(checkout.redirect_url, "cancel").headers["Location"])
    order.refresh_from_db()
    assert (order.status, Checkout.objects.get(pk=checkout.pk).status) == (
        OrderStatus.CANCELED,
        CheckoutStatus.CANCELED,
    )

    with signal_log() as log:
        fake_orkestapay.pay(checkout.orkestapay_checkout_id)  # the buyer pays the old tab anyway; no webhook
        call_command("orkestapay_sync")

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.COMPLETED
    assert log.names(order) == ["order_status_changed", "order_paid"]


def test_decline_then_pay_on_one_attempt_records_both_and_the_completed_one_is_the_orders(
    client, orkestapay_settings, fake_orkestapay
):
    order = make_order()
    checkout = start(order)
    fake_orkestapay.decline(checkout.orkestapay_checkout_id)
    services.sync_order(order)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING  # declined: the buyer may retry
    come_back(client, fake_orkestapay.pay(checkout.orkestapay_checkout_id))

    order.refresh_from_db()
    declined, paid = order.payments.order_by("created_at")
    assert (declined.status, declined.remote_status) == (PaymentStatus.FAILED, "REJECTED")
    assert (paid.status, paid.amount, paid.method_type) == (PaymentStatus.COMPLETED, Decimal("990.00"), "CARD")
    assert order.status == OrderStatus.PAID
    assert order.orkestapay_payment_id == paid.orkestapay_payment_id
    assert not order.needs_review


# --- 3. a bank transfer in progress ---------------------------------------------------------------------------


def spei_started(client: Any, fake: Any) -> tuple[Order, Checkout, Payment]:
    order = make_order()
    checkout = start(order)
    come_back(client, fake.pay_pending(checkout.orkestapay_checkout_id))  # SPEI: the buyer returns before paying
    order.refresh_from_db()
    return order, Checkout.objects.get(pk=checkout.pk), order.payments.get()


def test_a_transfer_in_progress_is_pending_and_blocks_a_second_checkout(client, orkestapay_settings, fake_orkestapay):
    order, checkout, payment = spei_started(client, fake_orkestapay)
    assert order.status == OrderStatus.PENDING
    assert checkout.status == CheckoutStatus.PENDING
    assert (payment.status, payment.remote_status, payment.method_type) == (
        PaymentStatus.PENDING,
        "PAYMENT_ACTION_REQUIRED",
        "SPEI",
    )
    response = client.post(reverse("orkestapay:pay"), pay_form(order), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409
    assert "A payment for this order is in progress, for example a bank transfer" in response.content.decode()
    assert "<form" not in response.content.decode()  # no "try again": that is what it must not invite
    spanish = client.post(reverse("orkestapay:pay"), pay_form(order), HTTP_ACCEPT_LANGUAGE="es-MX")
    assert "Hay un pago en curso para esta orden" in spanish.content.decode()
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1


def test_expiry_reads_first_and_never_expires_a_transfer_in_progress(orkestapay_settings, fake_orkestapay):
    order = make_order()
    checkout = start(order)
    fake_orkestapay.pay_pending(checkout.orkestapay_checkout_id)  # the buyer never came back
    Checkout.objects.filter(pk=checkout.pk).update(expires_at=timezone.now() - timedelta(minutes=5))

    call_command("orkestapay_expire_checkouts")

    assert fake_orkestapay.count_requests("GET", f"/v1/orders/{checkout.orkestapay_order_id}") == 1
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.PENDING
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING


def test_neither_the_cancel_link_nor_a_stale_cancel_cancels_a_transfer_in_progress(
    client, orkestapay_settings, fake_orkestapay
):
    order = make_order()
    older = start(order)
    older_cancel = hosted_page_post(older.redirect_url, "cancel").headers["Location"]  # OrkestaPay: CANCELED
    Checkout.objects.filter(pk=older.pk).update(expires_at=timezone.now())  # the buyer retries in a new attempt
    current = start(order)
    fake_orkestapay.pay_pending(current.orkestapay_checkout_id)

    with signal_log() as log:
        come_back(client, older_cancel)  # the older attempt's cancel return arrives late
        return_read_interval_passed(order)
        come_back(client, current.canceled_url)  # and the buyer even presses the cancel link of the transfer

    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert Checkout.objects.get(pk=older.pk).status == CheckoutStatus.CANCELED
    assert Checkout.objects.get(pk=current.pk).status == CheckoutStatus.PENDING
    assert "order_canceled" not in log.names()


def test_a_transfer_that_settles_with_its_webhook_lost_lands_through_sync_once(
    client, orkestapay_settings, fake_orkestapay
):
    order, _checkout, payment = spei_started(client, fake_orkestapay)
    fake_orkestapay.webhook_mode = "drop"
    with signal_log() as log:
        fake_orkestapay.settle(payment.orkestapay_payment_id)
        call_command("orkestapay_sync")
        call_command("orkestapay_sync")
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.COMPLETED
    assert log.names(order) == ["order_status_changed", "order_paid"]


@pytest.mark.parametrize(("days_ago", "lands"), [(1, True), (4, False)])
def test_sync_reconciles_canceled_orders_within_the_window(
    client, orkestapay_settings, fake_orkestapay, days_ago, lands
):
    fake_orkestapay.cancel_marks_order_canceled = False
    fake_orkestapay.webhook_mode = "drop"
    order = make_order()
    checkout = start(order)
    come_back(client, checkout.canceled_url)  # the buyer gives up; OrkestaPay keeps the attempt payable
    Order.objects.filter(pk=order.pk).update(status_changed_at=timezone.now() - timedelta(days=days_ago))
    payment_id = fake_orkestapay.pay_pending(checkout.orkestapay_checkout_id).split("payment_id=")[1].split("&")[0]
    fake_orkestapay.settle(payment_id)  # the transfer settles later; its webhook is lost
    reads = fake_orkestapay.count_requests("GET", f"/v1/orders/{checkout.orkestapay_order_id}")

    with signal_log() as log:
        call_command("orkestapay_sync")

    order.refresh_from_db()
    read = fake_orkestapay.count_requests("GET", f"/v1/orders/{checkout.orkestapay_order_id}") - reads
    if lands:
        assert (order.status, read) == (OrderStatus.PAID, 1)
        assert log.names(order) == ["order_status_changed", "order_paid"]
    else:  # outside RECONCILE_WINDOW (3 days by default): not asked about any more
        assert (order.status, read) == (OrderStatus.CANCELED, 0)
        assert log.sent == []


def test_the_reconcile_window_is_a_setting(settings, orkestapay_settings, fake_orkestapay):
    order = make_order()
    start(order)
    Order.objects.filter(pk=order.pk).update(
        status=OrderStatus.EXPIRED, status_changed_at=timezone.now() - timedelta(hours=2)
    )
    assert list(services.orders_to_reconcile()) == [order]
    settings.ORKESTAPAY = {**orkestapay_settings, "RECONCILE_WINDOW": 3600}
    assert list(services.orders_to_reconcile()) == []


# --- 7. signals never break the buyer -------------------------------------------------------------------------


def test_a_raising_order_paid_receiver_does_not_break_the_buyers_return(
    client, settings, orkestapay_settings, fake_orkestapay, caplog
):
    settings.ORKESTAPAY = {**orkestapay_settings, "SUCCESS_URL": "/thanks/"}
    order = make_order()
    checkout = start(order)
    calls: list[Order] = []

    def shop_receiver(sender: Any, order: Order, **kwargs: Any) -> None:
        calls.append(order)
        raise RuntimeError("the shop's mailer is down")

    signals.order_paid.connect(shop_receiver, dispatch_uid="raising-receiver")
    try:
        with signal_log() as log, caplog.at_level(logging.ERROR, logger="django_orkestapay.services"):
            response = come_back(client, fake_orkestapay.pay(checkout.orkestapay_checkout_id))
    finally:
        signals.order_paid.disconnect(dispatch_uid="raising-receiver")

    assert response.status_code == 302
    assert response["Location"] == f"/thanks/?order={order.pk}"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert [o.pk for o in calls] == [order.pk]
    assert log.names(order) == ["order_status_changed", "order_paid"]  # the other receivers still ran
    [record] = [r for r in caplog.records if r.name == "django_orkestapay.services" and "receiver" in r.getMessage()]
    assert order.merchant_order_id in record.getMessage()
    assert record.exc_info is not None
    assert "mailer is down" in str(record.exc_info[1])
