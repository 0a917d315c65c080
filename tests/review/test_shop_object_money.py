"""Review of issue 11 (money truth), paying for the shop's own objects: defects shown as strict xfails, over real
HTTP against the fake gateway, with the signals sent on the real commit."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from django_orkestapay import adapters, services
from django_orkestapay.models import Order, OrderStatus
from tests.ledger_helpers import come_back, signal_log
from tests.review.helpers import defect
from tests.shop.models import Cart

pytestmark = pytest.mark.django_db(transaction=True)

LINES = [{"product_id": "tv", "name": "TV", "quantity": 1, "unit_price": "10000"}]


@pytest.fixture
def cart(monkeypatch: pytest.MonkeyPatch) -> Cart:
    """A cart whose buyer details the test changes (``cart.customer``), as a buyer does in another tab."""
    cart = Cart.objects.create(reference="TV")
    customer = {"first_name": "Ana", "last_name": "López", "email": "ana@example.mx"}
    monkeypatch.setattr(
        Cart,
        "orkestapay_payment",
        lambda self: adapters.PaymentDescription(items=LINES, customer=dict(customer), merchant_order_id="CART-TV"),
    )
    cart.customer = customer  # type: ignore[attr-defined]
    return cart


def press_pay(client: Any, cart: Cart) -> Any:
    return client.post(reverse("orkestapay:pay"), {"object": adapters.sign_shop_object(cart)})


@defect(
    "two orders of one cart with the same contents (only the buyer's details changed) both paid: "
    "order_paid twice for one cart, nothing flagged",
)
def test_a_cart_paid_twice_through_two_orders_is_flagged(
    client: Any, orkestapay_settings: Any, fake_orkestapay: Any, cart: Cart
) -> None:
    """Tab 1 opens the checkout of the 10,000 MXN cart. In tab 2 the buyer corrects their e-mail address:
    ``order_for`` reuses a payable order only for the same customer, so a second order with the same content
    fingerprint is made, with its own checkout. Both tabs are paid. Each order is paid once, so neither is
    ``paid_twice``; the fingerprints match the cart, so neither is ``stale_contents``: the shop gets two
    ``order_paid`` for one cart (the README: "the shop object's current contents are paid. Ship on it.") and
    nobody is told that the buyer paid 20,000 MXN for one television."""
    assert press_pay(client, cart).status_code == 302
    first = Order.objects.get()
    cart.customer["email"] = "ana.lopez@example.mx"  # type: ignore[attr-defined]
    assert press_pay(client, cart).status_code == 302
    second = Order.objects.exclude(pk=first.pk).get()
    assert second.content_fingerprint == first.content_fingerprint

    with signal_log() as log:
        for order in (first, second):
            come_back(client, fake_orkestapay.pay(order.checkouts.get().orkestapay_checkout_id))

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (OrderStatus.PAID, OrderStatus.PAID)
    assert len(log.of("order_paid")) == 1  # the cart's contents are paid once; the other money is flagged
    assert first.needs_review or second.needs_review


@defect(
    "after a stale payment, a cart changed back to the paid contents counts as paid (button, 409) although "
    "order_paid was never sent for it",
)
def test_a_cart_counted_as_paid_was_announced_with_order_paid(
    client: Any, orkestapay_settings: Any, fake_orkestapay: Any, cart: Cart, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The buyer pays a checkout left open for the old contents (the cart had gained an item): the order is paid,
    ``stale_order_paid`` is sent, and the README tells the shop "do not ship the current contents: refund, or ask
    the buyer". The buyer agrees and removes the extra item: now ``paid_order_for(cart)`` is that order, the
    button says paid and the pay view answers 409, but ``order_paid`` (what the README says to ship on) never
    comes. The buyer paid, cannot pay again, and the shop's fulfilment waits forever."""
    lines = list(LINES)
    customer = cart.customer  # type: ignore[attr-defined]
    monkeypatch.setattr(
        Cart,
        "orkestapay_payment",
        lambda self: adapters.PaymentDescription(items=list(lines), customer=customer, merchant_order_id="CART-TV"),
    )
    assert press_pay(client, cart).status_code == 302
    order = Order.objects.get()
    lines.append({"product_id": "cable", "name": "Cable", "quantity": 1, "unit_price": "100"})
    with signal_log() as log:
        come_back(client, fake_orkestapay.pay(order.checkouts.get().orkestapay_checkout_id))
        assert log.names(order) == ["order_status_changed", "stale_order_paid"]
        lines.pop()  # the buyer takes the extra item back out
        assert services.paid_order_for(cart) == order
        assert press_pay(client, cart).status_code == 409  # "already paid"

    assert [kwargs["shop_object"] for kwargs in log.of("order_paid")] == [cart]
