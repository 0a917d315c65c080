"""The second money-truth round, paying for shop objects: what "the same purchase" is (a cart is paid once, a
catalogue item again and again), merchant references that never meet across orders and attempts, and no second
checkout over an attempt the buyer may just have paid. Over real HTTP against the fake gateway, signals on the real
commit. (The same cart paid twice *at the same moment* is in test_money_events.py, on PostgreSQL.)"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from django_orkestapay import adapters, services
from django_orkestapay.models import Checkout, CheckoutStatus, Order, OrderStatus
from tests.conftest import make_order, pay_form
from tests.ledger_helpers import signal_log, start
from tests.shop.models import Cart

pytestmark = pytest.mark.django_db(transaction=True)

TV = [{"product_id": "tv", "name": "TV", "quantity": 1, "unit_price": "990"}]


def buyer(name: str) -> dict[str, str]:
    return {"first_name": name, "last_name": "López", "email": f"{name.lower()}@example.mx"}


@pytest.fixture
def described(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Carts described by what the test puts here: the buyer, the lines, ``paid_once``."""
    state: dict[str, Any] = {"customer": buyer("Ana"), "items": TV, "paid_once": True}
    monkeypatch.setattr(
        Cart,
        "orkestapay_payment",
        lambda self: adapters.PaymentDescription(
            items=list(state["items"]),
            customer=dict(state["customer"]),
            merchant_order_id=state.get("reference") or f"CART-{self.reference}",
            paid_once=state["paid_once"],
        ),
    )
    return state


def pay_and_confirm(fake: Any, order: Order) -> None:
    checkout = start(order)
    fake.pay(checkout.orkestapay_checkout_id)
    services.sync_order(Order.objects.get(pk=order.pk))


# --- the same purchase (issue item 5) ---------------------------------------------------------------------------


def test_a_catalogue_item_does_not_make_repeat_buyers_paid_twice(
    orkestapay_settings: Any, fake_orkestapay: Any, described: dict[str, Any]
):
    """The example shop paid for ``shop_object=product``: a second buyer of the same product and quantity was
    flagged ``paid_twice`` and got ``order_paid_twice`` instead of ``order_paid`` (a shop copied from it would not
    ship to repeat buyers). An object bought again and again says so (``paid_once=False``): every buyer's order is
    their own, paid and announced, and the product itself is never "paid"."""
    described["paid_once"] = False
    product = Cart.objects.create(reference="TV")
    orders = []
    with signal_log() as log:
        for name in ("Ana", "Luis", "Ana"):  # Ana buys a second one later: a purchase of its own too
            described["customer"] = buyer(name)
            order = services.order_for(product)
            assert order not in orders  # never another buyer's paid order
            pay_and_confirm(fake_orkestapay, order)
            orders.append(order)

    for order in orders:
        order.refresh_from_db()
        assert (order.status, order.needs_review, order.paid_once) == (OrderStatus.PAID, False, False)
    assert [pk for name, pk, _ in log.sent if name == "order_paid"] == [order.pk for order in orders]
    assert "order_paid_twice" not in log.names()
    assert services.paid_order_for(product) is None


def test_orders_made_for_a_product_directly_can_say_it_too(
    orkestapay_settings: Any, fake_orkestapay: Any, described: dict[str, Any]
):
    """``create_order(shop_object=..., paid_once=False)``: the example shop's old shape, made safe."""
    product = Cart.objects.create(reference="MUG")
    with signal_log() as log:
        for name in ("Ana", "Luis"):
            order = services.create_order(items=TV, customer=buyer(name), shop_object=product, paid_once=False)
            pay_and_confirm(fake_orkestapay, order)
    assert log.names().count("order_paid") == 2
    assert not Order.objects.filter(needs_review=True).exists()


def test_a_cart_is_paid_once_by_default(orkestapay_settings: Any, fake_orkestapay: Any, described: dict[str, Any]):
    """The safe default: a cart (``paid_once`` unsaid) paid through two orders is flagged, announced once."""
    cart = Cart.objects.create(reference="C1")
    first = services.order_for(cart)
    described["customer"] = buyer("Ana") | {"email": "ana.lopez@example.mx"}  # corrected in another tab
    second = services.order_for(cart)
    assert second != first
    with signal_log() as log:
        pay_and_confirm(fake_orkestapay, first)
        pay_and_confirm(fake_orkestapay, second)
    assert log.names().count("order_paid") == 1
    assert [name for name in log.names(second) if "paid" in name] == ["order_paid_twice"]
    assert Order.objects.filter(needs_review=True, review_code="paid_twice").count() == 2


# --- merchant references (issue item 6) -------------------------------------------------------------------------


def near_its_end(checkout: Checkout) -> None:
    """So that the pay button starts another attempt (after reading this one)."""
    Checkout.objects.filter(pk=checkout.pk).update(expires_at=timezone.now() + timedelta(seconds=60))


def test_an_attempt_and_the_next_order_of_the_cart_never_share_a_reference(
    orkestapay_settings: Any, fake_orkestapay: Any, described: dict[str, Any]
):
    """The cart recipe names orders ``CART-{pk}``. Order CART-7's second attempt was sent as ``CART-7-2``; the cart
    then changed and its new order, also ``CART-7-2`` (``order_for``'s suffix), sent that reference again for its
    first attempt: two OrkestaPay orders, one merchant reference."""
    cart = Cart.objects.create(reference="7")
    order = services.order_for(cart)
    near_its_end(start(order))
    second_attempt = start(Order.objects.get(pk=order.pk))
    described["items"] = [*TV, {"product_id": "cable", "name": "Cable", "quantity": 1, "unit_price": "10"}]
    changed = services.order_for(cart)
    first_attempt_of_changed = start(changed)

    assert order.merchant_order_id == "CART-7"
    assert second_attempt.merchant_reference == "CART-7-A2"
    assert changed.merchant_order_id == "CART-7-2"
    assert first_attempt_of_changed.merchant_reference == "CART-7-2"
    sent = [
        r.json_body["order"]["merchant_order_id"]
        for r in fake_orkestapay.request_log
        if (r.method, r.path) == ("POST", "/v1/checkouts")
    ]
    assert len(sent) == len(set(sent)) == 3


def test_a_reference_an_older_attempt_used_is_not_given_to_a_new_order(
    orkestapay_settings: Any, fake_orkestapay: Any, described: dict[str, Any]
):
    """Attempts made before this scheme were named ``<order>-2``, ``-3``...: a new order of the cart skips them."""
    cart = Cart.objects.create(reference="8")
    order = services.order_for(cart)
    legacy = start(order)
    Checkout.objects.filter(pk=legacy.pk).update(merchant_reference="CART-8-2", status=CheckoutStatus.EXPIRED)
    described["items"] = [{**TV[0], "quantity": 2}]
    assert services.order_for(cart).merchant_order_id == "CART-8-3"


def test_the_cart_recipes_references_never_meet(
    orkestapay_settings: Any, fake_orkestapay: Any, described: dict[str, Any]
):
    """The recipe's naming (``CART-{pk}``) over carts whose numbers are prefixes of each other (1, 12, 2), each
    changed twice, each order with up to three attempts: every reference (orders and attempts) is different, and
    every one fits its column."""
    for reference, quantity in itertools.product(["1", "12", "2"], [1, 2, 3]):
        cart = Cart.objects.get_or_create(reference=reference)[0]
        described["items"] = [{**TV[0], "quantity": quantity}]
        order = services.order_for(cart)
        for _ in range(quantity):
            near_its_end(start(Order.objects.get(pk=order.pk)))
    sent = list(Checkout.objects.values_list("merchant_reference", "order__merchant_order_id"))
    assert len(sent) == 18
    assert len({reference for reference, _ in sent}) == 18, sorted(sent)  # one reference, one attempt
    orders = set(Order.objects.values_list("merchant_order_id", flat=True))
    assert all(reference == own or reference not in orders for reference, own in sent)  # no other order's name
    assert all(len(reference) <= 64 for reference, _ in sent)


def test_a_long_reference_still_fits(orkestapay_settings: Any, fake_orkestapay: Any, described: dict[str, Any]):
    """A 64-character reference (the column's length) taken: the next order's is cut to fit its suffix."""
    cart = Cart.objects.create(reference="L")
    described["reference"] = "X" * 64
    assert services.order_for(cart).merchant_order_id == "X" * 64
    described["items"] = [{**TV[0], "quantity": 2}]
    order = services.order_for(cart)
    assert order.merchant_order_id == "X" * 62 + "-2"
    assert start(order).merchant_reference == "X" * 62 + "-2"


# --- a second checkout over an attempt that is already paid (issue item 3) -------------------------------------


def test_pay_pressed_again_near_the_end_of_an_attempt_just_paid_opens_no_checkout(
    client: Any, orkestapay_settings: Any, fake_orkestapay: Any
):
    """The buyer pays, and before the return or the webhook arrives presses Pay again in the attempt's last
    ``CHECKOUT_REUSE_MARGIN`` seconds: a new checkout used to open without asking OrkestaPay about the open one, and
    the buyer could be charged twice. Now the open attempt is read first: paid, so no new checkout."""
    order = make_order()
    checkout = start(order)
    near_its_end(checkout)
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)  # no return, no webhook yet

    with signal_log() as log:
        response = client.post(reverse("orkestapay:pay"), pay_form(order))

    assert response.status_code == 409
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert log.names(order) == ["order_status_changed", "order_paid"]


def test_pay_pressed_again_over_an_attempt_with_a_transfer_started_opens_no_checkout(
    client: Any, orkestapay_settings: Any, fake_orkestapay: Any
):
    order = make_order()
    checkout = start(order)
    near_its_end(checkout)
    fake_orkestapay.pay_pending(checkout.orkestapay_checkout_id)

    response = client.post(reverse("orkestapay:pay"), pay_form(order), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 409
    assert "A payment is in progress" in response.content.decode()
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1


def test_pay_pressed_again_when_the_open_attempt_cannot_be_read_opens_no_checkout(
    client: Any, orkestapay_settings: Any, fake_orkestapay: Any
):
    """OrkestaPay does not answer about the open attempt: it may be paid, so no new one (the buyer tries again)."""
    order = make_order()
    checkout = start(order)
    near_its_end(checkout)
    fake_orkestapay.inject_fault("GET", "/v1/orders/*", "status", status=503, times=5)

    response = client.post(reverse("orkestapay:pay"), pay_form(order))

    assert response.status_code in (502, 503)
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1
    assert Order.objects.get(pk=order.pk).checkouts.count() == 1


def test_pay_pressed_again_near_the_end_of_an_unpaid_attempt_opens_the_next_one(
    client: Any, orkestapay_settings: Any, fake_orkestapay: Any
):
    order = make_order()
    checkout = start(order)
    near_its_end(checkout)
    response = client.post(reverse("orkestapay:pay"), pay_form(order))
    assert response.status_code == 302
    assert fake_orkestapay.count_requests("GET", f"/v1/orders/{checkout.orkestapay_order_id}") == 1
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 2
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.OPEN  # the expiry sweep closes it
