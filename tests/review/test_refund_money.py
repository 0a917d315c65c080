"""Review of issue 11 (money truth), refunds: the defects the review found, over real HTTP against the fake.

Each test asserts what must hold for the money to be right (each failed before its fix).
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation

from django_orkestapay import services
from django_orkestapay.exceptions import OrkestaPayError
from django_orkestapay.models import Order, Refund, RefundStatus
from tests.conftest import make_paid_order, refunded_at
from tests.test_admin import confirmation_intent

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = reverse("admin:orkestapay_order_changelist")
REFUND_PATH = "/v1/payments/*/refund"


@pytest.fixture
def paid(orkestapay_settings: Any, fake_orkestapay: Any) -> Order:
    return make_paid_order(fake_orkestapay)


def ours_succeeded(order: Order) -> Decimal:
    """What our ledger says was refunded of the order."""
    amounts = Refund.objects.filter(order=order, status=RefundStatus.SUCCEEDED).values_list("amount", flat=True)
    return sum(amounts, Decimal("0.00"))


def test_a_refund_whose_answer_was_lost_is_not_refunded_again_after_the_key_expired(
    paid: Order, fake_orkestapay: Any
) -> None:
    """The refund went through but its answer was lost (REQUESTED). The resend (orkestapay_sync, or the admin's
    "Resend refund") comes after OrkestaPay's idempotency window (24 h in the fake, unknown for the real API; and
    every REQUESTED refund carried over by migration 0003 from the old code is older than that): the same key no
    longer protects it, and a partial refund is simply made a second time."""
    payment_id = paid.orkestapay_payment_id
    fake_orkestapay.inject_fault("POST", REFUND_PATH, "timeout", after_processing=True)
    with pytest.raises(OrkestaPayError):
        services.refund_order(paid, amount=Decimal("100.00"))
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.REQUESTED
    assert refunded_at(fake_orkestapay, payment_id) == Decimal("100")  # the money left

    services.sync_order(Order.objects.get(pk=paid.pk))  # an ordinary read in between (a webhook, a refresh)
    fake_orkestapay.idempotency_ttl = 0.0  # later than OrkestaPay remembers keys
    with contextlib.suppress(OrkestaPayError):  # a refusal would be fine: what matters is what left the account
        services.retry_refund(refund)
    assert refunded_at(fake_orkestapay, payment_id) == Decimal("100")


@pytest.mark.usefixtures("trusted_idempotency_keys")  # the idempotent resend path
def test_a_refusal_on_a_resend_is_not_settled_with_another_refunds_money(paid: Order, fake_orkestapay: Any) -> None:
    """Two refunds of 50 in flight: A went through (answer lost), B never reached OrkestaPay (connection reset).
    B's resend is refused with a 400; the read-back sees 50 refunded, counts only *succeeded* refunds as "others",
    and marks B succeeded with A's money. A's resend is then replayed as SUCCESS. Our ledger: 100 refunded, the
    order's refundable amount gone; OrkestaPay: 50. The buyer is told 100 came back."""
    payment_id = paid.orkestapay_payment_id
    fake_orkestapay.inject_fault("POST", REFUND_PATH, "timeout", after_processing=True)
    with pytest.raises(OrkestaPayError):
        services.refund_order(paid, amount=Decimal("50.00"))  # A: processed, answer lost
    fake_orkestapay.inject_fault("POST", REFUND_PATH, "connection_reset")  # B: never processed
    with pytest.raises(OrkestaPayError):
        services.refund_order(Order.objects.get(pk=paid.pk), amount=Decimal("50.00"))
    first, second = Refund.objects.order_by("created_at")
    assert (first.status, second.status) == (RefundStatus.REQUESTED, RefundStatus.REQUESTED)

    fake_orkestapay.inject_fault("POST", REFUND_PATH, "status", status=400)
    with contextlib.suppress(OrkestaPayError):
        services.retry_refund(second)
    services.retry_refund(first)  # replayed under its key: SUCCESS

    assert refunded_at(fake_orkestapay, payment_id) == Decimal("50")
    assert ours_succeeded(paid) == refunded_at(fake_orkestapay, payment_id)


@pytest.fixture
def staff_client(client: Any) -> Any:
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw"))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


# the pending refund's failure is read from its REFUND transaction, which only the rich profile shows
@pytest.mark.orkestapay_profile("rich")
def test_a_confirmed_refund_never_sends_more_than_the_page_showed(
    staff_client: Any, orkestapay_settings: Any, fake_orkestapay: Any
) -> None:
    """The page says "each is refunded by the amount shown". Order A shows 890 (a 100 refund is pending at
    OrkestaPay). Before the operator confirms, that pending refund is declined and settled FAILED: A's refund
    count (the intent's version) does not change, so the page is accepted and A is refunded 990, not 890."""
    first = make_paid_order(fake_orkestapay)
    second = make_paid_order(fake_orkestapay)
    fake_orkestapay.refund_outcome = "pending"
    pending = services.refund_order(first, amount=Decimal("100.00"))
    fake_orkestapay.refund_outcome = "success"
    with translation.override("en"):
        data = {"action": "refund", "_selected_action": [str(first.pk), str(second.pk)]}
        page = staff_client.post(ORDERS, data)
        assert "890.00 MXN" in page.content.decode()  # what the operator confirms for A

        fake_orkestapay.settle_refund(pending.transaction_id, succeed=False)
        services.retry_refund(pending)  # settled FAILED (a webhook or orkestapay_sync would do the same)
        assert Refund.objects.get(pk=pending.pk).status == RefundStatus.FAILED

        staff_client.post(ORDERS, {**data, **confirmation_intent(page), "confirm": "yes"})
    assert refunded_at(fake_orkestapay, first.orkestapay_payment_id) <= Decimal("890")
