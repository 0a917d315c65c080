"""Review of issue 11 (money truth), paying for the shop's own objects: the defects the review found, each now
asserted fixed, over real HTTP against the fake gateway, with the signals sent on the real commit."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from django_orkestapay import adapters, services
from django_orkestapay.models import Order, OrderStatus
from tests.ledger_helpers import come_back, signal_log
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


def test_a_cart_paid_twice_through_two_orders_is_flagged(
    client: Any, orkestapay_settings: Any, fake_orkestapay: Any, cart: Cart
) -> None:
    """Tab 1 opens the checkout of the 10,000 MXN cart. In tab 2 the buyer corrects their e-mail address:
    ``order_for`` reuses a payable order only for the same customer, so a second order with the same content
    fingerprint is made, with its own checkout. Both tabs are paid. Each order is paid once, so neither is
    ``paid_twice``; the fingerprints match the cart, so neither is ``stale_contents``: the shop gets two
    ``order_paid`` for one cart (the signals page: "the shop object's current contents are paid. Ship on it.") and
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


def test_a_cart_changed_back_after_a_stale_payment_is_not_counted_as_paid_without_order_paid(
    client: Any, orkestapay_settings: Any, fake_orkestapay: Any, cart: Cart, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The buyer pays a checkout left open for the old contents (the cart had gained an item): the order is paid,
    flagged ``stale_contents`` and marked ``stale_payment``, and ``stale_order_paid`` is sent (the signals page: that
    money is for a person, who refunds it or ships it by hand). The buyer removes the extra item again, so the cart
    has the very contents that order paid for. Before the fix the cart then counted as paid (the button said so, the
    pay view answered 409) although ``order_paid``, what the shop ships on, never came: the buyer could not pay and
    nothing shipped. Now a stale order never counts as the cart's payment: the buyer pays the current contents
    through a new order, ``order_paid`` comes for that one (once), and the stale order stays flagged for a person."""
    lines = list(LINES)
    customer = cart.customer  # type: ignore[attr-defined]
    monkeypatch.setattr(
        Cart,
        "orkestapay_payment",
        lambda self: adapters.PaymentDescription(items=list(lines), customer=customer, merchant_order_id="CART-TV"),
    )
    assert press_pay(client, cart).status_code == 302
    stale = Order.objects.get()
    lines.append({"product_id": "cable", "name": "Cable", "quantity": 1, "unit_price": "100"})
    with signal_log() as log:
        come_back(client, fake_orkestapay.pay(stale.checkouts.get().orkestapay_checkout_id))
        assert log.names(stale) == ["order_needs_review", "order_status_changed", "stale_order_paid"]
        lines.pop()  # the buyer takes the extra item back out
        assert services.paid_order_for(cart) is None  # the stale money is not the cart's payment
        assert press_pay(client, cart).status_code == 302  # the buyer can pay the current contents
        current = Order.objects.exclude(pk=stale.pk).get()
        assert current.content_fingerprint == stale.content_fingerprint
        come_back(client, fake_orkestapay.pay(current.checkouts.get().orkestapay_checkout_id))
        assert services.paid_order_for(cart) == current

    assert [pk for name, pk, _ in log.sent if name == "order_paid"] == [current.pk]  # announced: shipped once
    assert [kwargs["shop_object"] for kwargs in log.of("order_paid")] == [cart]
    assert "order_paid_twice" not in log.names(current)  # the stale order is not a twin: it is a person's case
    stale.refresh_from_db()
    assert (stale.status, stale.stale_payment, stale.needs_review) == (OrderStatus.PAID, True, True)
    assert stale.review_code == "stale_contents"
