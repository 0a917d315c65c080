"""Where an order stands for its buyer (services.payment_state), what a transfer's or cash payment's instructions say
(services.instructions_from_payment), and what the pay button and the pending page show for each: a transfer on
its way offers no pay button (the click would be a 409) and says what to do; a declined payment says so and offers
to try again; a canceled order offers *Try again* only while it can be paid again."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import translation

from django_orkestapay import services
from django_orkestapay.models import Checkout, CheckoutStatus, Order, OrderStatus, Payment, PaymentStatus
from tests.conftest import local_path, make_order, pay_form
from tests.ledger_helpers import come_back

pytestmark = pytest.mark.django_db

CLABE = "646180123456789012"


def payment(raw: Any, *, method: str = "", amount: str = "0", currency: str = "MXN") -> Payment:
    """A ledger row (not saved) with OrkestaPay's answer ``raw``."""
    return Payment(raw=raw, method_type=method, amount=Decimal(amount), currency=currency)


def sample_order() -> Order:
    return Order(total_amount=Decimal("990.00"), currency="MXN")


# ------------------------------------------------------------------------------------------------ the instructions


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # the fake gateway's shape (invented: no public source shows one)
        ({"payment_source": {"type": "SPEI", "spei": {"clabe": CLABE, "bank": "STP"}}}, (CLABE, "", "STP")),
        # flat in payment_source, with a reference
        ({"payment_source": {"type": "SPEI", "clabe": CLABE, "reference": "REF 1234"}}, (CLABE, "REF 1234", "")),
        # under user_action_required, where OrkestaPay puts what the buyer must do for 3-D Secure
        (
            {"payment_source": {"type": "SPEI"}, "user_action_required": {"type": "SPEI", "spei": {"clabe": CLABE}}},
            (CLABE, "", ""),
        ),
        ({"payment_source": {"type": "SPEI", "spei": {"clabe": "6461 8012 3456 7890 12"}}}, (CLABE, "", "")),
        # not a CLABE (17 digits, letters, a number too long): nothing shown rather than a wrong account
        ({"payment_source": {"type": "SPEI", "spei": {"clabe": CLABE[:-1]}}}, ("", "", "")),
        ({"payment_source": {"type": "SPEI", "spei": {"clabe": "64618012345678901X"}}}, ("", "", "")),
        # a reference with markup or a bank that is not text: not shown
        ({"payment_source": {"type": "SPEI", "reference": "<script>", "bank": {"name": "STP"}}}, ("", "", "")),
        ({"payment_source": {"type": "SPEI", "reference": "x" * 61}}, ("", "", "")),
        ({"payment_source": "SPEI"}, ("", "", "")),
        (None, ("", "", "")),
        ([], ("", "", "")),
    ],
)
def test_instructions_are_read_tolerantly_and_only_what_looks_right_is_shown(raw, expected):
    found = services.instructions_from_payment(payment(raw, method="SPEI"), sample_order())
    assert (found.clabe, found.reference, found.bank) == expected
    assert found.kind == "transfer"
    assert found.has_details == any(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1781841077671, datetime(2026, 6, 19, 3, 51, 17, 671000, tzinfo=UTC)),  # epoch ms, as OrkestaPay's expires_at
        ("1781841077671", datetime(2026, 6, 19, 3, 51, 17, 671000, tzinfo=UTC)),
        (1781841077, datetime(2026, 6, 19, 3, 51, 17, tzinfo=UTC)),  # epoch seconds
        ("2026-06-19T03:51:17+00:00", datetime(2026, 6, 19, 3, 51, 17, tzinfo=UTC)),
        ("2026-06-19T03:51:17", None),  # no offset: which day it ends would be a guess
        ("next Tuesday", None),
        (True, None),
        (10**18, None),
        (0, None),  # 1970: not believed
    ],
)
def test_a_deadline_is_read_from_epoch_or_iso_with_its_offset(value, expected):
    raw = {"payment_source": {"type": "CASH", "cash": {"reference": "93000262", "expires_at": value}}}
    found = services.instructions_from_payment(payment(raw), sample_order())
    assert (found.kind, found.reference, found.expires_at) == ("cash", "93000262", expected)


def test_the_amount_is_the_payments_else_the_orders_total():
    order = sample_order()
    assert services.instructions_from_payment(payment({}, amount="500.00"), order).amount == Decimal("500.00")
    # the fake (and perhaps OrkestaPay) reports a pending transfer's amount as 0: the order's total was sent
    assert services.instructions_from_payment(payment({}, amount="0"), order).amount == Decimal("990.00")
    card = services.instructions_from_payment(payment({"payment_source": {"type": "CARD"}}), order)
    assert (card.kind, card.has_details) == ("", False)


# ------------------------------------------------------------------------------------------ the state, at the fake


def start(order: Order) -> Checkout:
    return services.start_checkout(order, build_absolute_uri=lambda path: f"https://shop.example{path}")


def fresh(order: Order) -> Order:
    return Order.objects.get(pk=order.pk)


def shows_transfer_details(fake: Any) -> bool:
    """Whether a pending transfer's payment carries its details: the rich fake invents ``payment_source.spei``
    (CLABE and bank); no public source shows where OrkestaPay puts them, so the evidence profile gives none."""
    return bool(fake.profile == "rich")


def cancel_and_come_back(client: Client, fake: Any, order: Order) -> None:
    """The buyer cancels on the hosted page and follows the cancel link back (the rich fake also marks OrkestaPay's
    order CANCELED; the evidence profile's stays CREATED, so the shop learns of the cancel from the return)."""
    come_back(client, fake.cancel(start(order).orkestapay_checkout_id))


def test_a_new_order_is_payable_without_a_query(django_assert_num_queries):
    order = make_order()
    with django_assert_num_queries(0):
        state = services.payment_state(order)
    assert (state.kind, state.payable, state.is_retry) == ("payable", True, False)
    assert services.payment_state(None).payable  # a shop object with no order yet


def test_a_transfer_on_its_way_is_not_payable_and_carries_its_instructions(orkestapay_settings, fake_orkestapay):
    order = make_order()
    fake_orkestapay.pay_pending(start(order).orkestapay_checkout_id)
    services.sync_order(order)

    state = services.payment_state(fresh(order))

    assert (state.kind, state.payable, state.in_progress) == ("in_progress", False, True)
    assert state.instructions is not None
    assert state.instructions.kind == "transfer"
    if shows_transfer_details(fake_orkestapay):
        assert len(state.instructions.clabe) == 18  # the rich fake's (invented) payment_source.spei.clabe
        assert state.instructions.bank == "STP"
    else:  # nothing to show: the page says to use the details the payment page gave
        instructions = state.instructions
        assert (instructions.clabe, instructions.reference, instructions.bank) == ("", "", "")
        assert not instructions.has_details
    assert (state.instructions.amount, state.instructions.currency) == (Decimal("990.00"), "MXN")
    assert state.instructions.expires_at is None  # the fake gives no deadline: none is shown


def test_a_declined_card_is_said_and_the_order_stays_payable(orkestapay_settings, fake_orkestapay):
    order = make_order()
    fake_orkestapay.decline(start(order).orkestapay_checkout_id)
    services.sync_order(order)
    order = fresh(order)
    assert order.status == OrderStatus.PENDING  # OrkestaPay's order stays open for another try

    state = services.payment_state(order)

    assert (state.kind, state.payable, state.is_retry) == ("declined", True, True)


def test_a_declined_order_that_failed_is_declined_too(orkestapay_settings, fake_orkestapay):
    fake_orkestapay.decline_marks_order_failed = True
    order = make_order()
    fake_orkestapay.decline(start(order).orkestapay_checkout_id)
    services.sync_order(order)
    order = fresh(order)
    assert order.status == OrderStatus.FAILED
    assert (services.payment_state(order).kind, services.payment_state(order).payable) == ("declined", True)


def test_a_canceled_order_is_payable_again(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    cancel_and_come_back(client, fake_orkestapay, order)
    order = fresh(order)
    assert order.status == OrderStatus.CANCELED
    state = services.payment_state(order)
    assert (state.kind, state.payable) == ("canceled", True)


def test_a_canceled_order_with_money_received_offers_no_button():
    """The ledger, not the status, decides: part of the total arrived on an attempt, so a new checkout would be
    refused (PartiallyPaidError) and the button would be stale."""
    order = make_order()
    checkout = Checkout.objects.create(
        order=order, status=CheckoutStatus.CANCELED, orkestapay_order_id="ord_1", completed_url="https://x/c",
        canceled_url="https://x/k",
    )  # fmt: skip
    Payment.objects.create(
        order=order, checkout=checkout, orkestapay_payment_id="pay_1", status=PaymentStatus.COMPLETED,
        amount=Decimal("100.00"), currency="MXN",
    )  # fmt: skip
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELED)

    state = services.payment_state(fresh(order))

    assert (state.kind, state.payable) == ("partially_paid", False)


@pytest.mark.parametrize(
    ("status", "kind"),
    [("paid", "paid"), ("partially_refunded", "partly_refunded"), ("refunded", "refunded")],
)
def test_a_settled_order_says_so_without_a_query(django_assert_num_queries, status, kind):
    order = make_order()
    order.status = status
    with django_assert_num_queries(0):
        state = services.payment_state(order)
    assert (state.kind, state.payable) == (kind, False)


# ------------------------------------------------------------------------------------------------- the pay button


def button(order: Order) -> str:
    template = Template("{% load orkestapay %}{% orkestapay_button order %}")
    with translation.override("en"):
        return template.render(Context({"order": order, "csrf_token": "TOKEN"}))


def test_the_button_of_a_transfer_on_its_way_says_what_to_do_and_offers_no_form(
    client, orkestapay_settings, fake_orkestapay
):
    order = make_order()
    fake_orkestapay.pay_pending(start(order).orkestapay_checkout_id)
    services.sync_order(order)

    html = button(fresh(order))

    assert "<form" not in html  # before: "Pay with OrkestaPay", and the click was a 409
    assert 'data-testid="orkestapay-in-progress"' in html
    assert "We are waiting for your bank transfer." in html
    assert "several hours" in html
    clabe = services.payment_state(fresh(order)).instructions.clabe  # type: ignore[union-attr]
    if shows_transfer_details(fake_orkestapay):
        assert f'data-testid="orkestapay-clabe">{clabe}<' in html
        assert 'data-testid="orkestapay-no-details"' not in html
    else:
        assert clabe == ""
        assert 'data-testid="orkestapay-clabe"' not in html
        assert 'data-testid="orkestapay-no-details">Use the details the payment page gave you.<' in html
    assert "$990.00 MXN" in html
    assert client.post(reverse("orkestapay:pay"), pay_form(order)).status_code == 409  # what the button spares


def test_the_button_of_a_declined_payment_says_so_and_offers_to_try_again(orkestapay_settings, fake_orkestapay):
    order = make_order()
    fake_orkestapay.decline(start(order).orkestapay_checkout_id)
    services.sync_order(order)

    html = button(fresh(order))

    assert 'data-testid="orkestapay-declined"' in html
    assert "Your payment was declined and nothing was charged." in html
    assert ">Try again</button>" in html


def test_the_button_of_a_canceled_order_offers_to_try_again(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    cancel_and_come_back(client, fake_orkestapay, order)

    html = button(fresh(order))

    assert 'data-testid="orkestapay-canceled"' in html
    assert ">Try again</button>" in html
    assert "Pay with OrkestaPay" not in html


def test_a_new_order_shows_only_its_button():
    html = button(make_order())
    assert ">Pay with OrkestaPay</button>" in html
    assert "orkestapay-in-progress" not in html
    assert "orkestapay-declined" not in html


# -------------------------------------------------------------------------------------------- the pending page


def test_the_pending_page_of_a_transfer_shows_the_instructions_and_says_it_takes_hours(
    client: Client, orkestapay_settings, fake_orkestapay
):
    order = make_order()
    completed = fake_orkestapay.pay_pending(start(order).orkestapay_checkout_id)

    with translation.override("en"):
        response = client.get(local_path(completed), HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()

    assert response.status_code == 200
    assert 'data-testid="orkestapay-pending"' in page
    assert "Your payment is on its way" in page
    assert ('data-testid="orkestapay-clabe"' in page) == shows_transfer_details(fake_orkestapay)
    assert ('data-testid="orkestapay-no-details"' in page) != shows_transfer_details(fake_orkestapay)
    assert 'data-testid="orkestapay-instructions-amount">$990.00 MXN<' in page
    assert "several hours" in page
    assert "This page checks again in 30 seconds" in page
    assert "You can close this page" in page
    assert response["Refresh"].startswith("30; url=")
    assert 'data-testid="orkestapay-pay-button"' not in page
    assert "a moment" not in page  # the old page: "Some payment methods take a moment to confirm."


def test_the_pending_page_says_minutes_once_the_checks_are_minutes_apart(
    client: Client, settings, orkestapay_settings, fake_orkestapay
):
    settings.ORKESTAPAY = {**orkestapay_settings, "RETURN_SYNC_INTERVAL": 0}
    order = make_order()
    completed = fake_orkestapay.pay_pending(start(order).orkestapay_checkout_id)

    page = client.get(f"{local_path(completed)}&check=6", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    spanish = client.get(f"{local_path(completed)}&check=6", HTTP_ACCEPT_LANGUAGE="es-mx").content.decode()

    assert "This page checks again in 30 minutes" in page
    assert "Esta página volverá a revisar en 30 minutos" in spanish
    assert "Tu pago va en camino" in spanish
