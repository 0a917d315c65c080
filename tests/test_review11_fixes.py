"""The fixes that followed the review of issue 11 beyond the review's own tests (tests/review/): refunds whose
outcome is unknown once OrkestaPay may have forgotten their key, a refund answered with another amount, the payments
list read page by page, the same payments refunded as offered, a partially paid order, placeholders, an order paid
and fully refunded before we heard, paid orders reconciled within the window, and the admin's order form saving
only what an operator may change. Over real HTTP against the fake gateway, signals sent on the real commit."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone, translation

from django_orkestapay import services
from django_orkestapay.admin.orders import OrderAdmin
from django_orkestapay.client import endpoints
from django_orkestapay.client.parsing import more_pages
from django_orkestapay.exceptions import (
    MalformedResponseError,
    OrkestaPayError,
    PartiallyPaidError,
    RefundNotAllowedError,
)
from django_orkestapay.models import (
    Order,
    OrderStatus,
    Payment,
    PaymentOrigin,
    PaymentStatus,
    Refund,
    RefundOrigin,
    RefundStatus,
    ReviewCode,
)
from tests.conftest import make_order, make_paid_order, pay_form, refunded_at
from tests.ledger_helpers import signal_log, start
from tests.review.helpers import paid_at_orkestapay
from tests.test_admin import messages_of, run_action

pytestmark = pytest.mark.django_db(transaction=True)

REFUND_PATH = "/v1/payments/*/refund"
REFUNDS = reverse("admin:orkestapay_refund_changelist")


@pytest.fixture(autouse=True)
def _english() -> Any:
    """The messages asserted are the English ones (the test settings speak Spanish)."""
    with translation.override("en"):
        yield


@pytest.fixture
def paid(orkestapay_settings: Any, fake_orkestapay: Any) -> Order:
    return make_paid_order(fake_orkestapay)


@pytest.fixture
def staff_client(client: Any) -> Any:
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw"))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def refund_posts(fake: Any, payment_id: str) -> int:
    return int(fake.count_requests("POST", f"/v1/payments/{payment_id}/refund"))


def lost(fake: Any, order: Order, amount: str, *, processed: bool) -> Refund:
    """A refund whose answer never came: OrkestaPay carried it out (``processed``) or never got it."""
    if processed:
        fake.inject_fault("POST", REFUND_PATH, "timeout", after_processing=True)
    else:
        fake.inject_fault("POST", REFUND_PATH, "connection_reset")
    with pytest.raises(OrkestaPayError):
        services.refund_order(Order.objects.get(pk=order.pk), amount=Decimal(amount))
    refund = Refund.objects.filter(origin=RefundOrigin.SHOP).order_by("-created_at").first()
    assert refund is not None
    assert (refund.status, refund.attempts) == (RefundStatus.REQUESTED, 1)
    return refund


def age(*refunds: Refund, hours: float = 25) -> None:
    """Make refunds older than IDEMPOTENCY_KEY_LIFETIME (a day by default): OrkestaPay may have forgotten their keys."""
    Refund.objects.filter(pk__in=[r.pk for r in refunds]).update(created_at=timezone.now() - timedelta(hours=hours))


# -- refunds whose outcome is unknown ------------------------------------------------------------------------------


@pytest.mark.usefixtures("trusted_idempotency_keys")  # the idempotent resend path
def test_an_old_refund_without_evidence_is_left_for_a_person_who_can_mark_it_failed(
    paid: Order, fake_orkestapay: Any, staff_client: Any
) -> None:
    payment_id = paid.orkestapay_payment_id
    refund = lost(fake_orkestapay, paid, "100.00", processed=False)
    age(refund)

    with pytest.raises(RefundNotAllowedError, match="Mark refund succeeded if the money left"):
        services.retry_refund(refund)
    assert "forgotten its idempotency key" in Refund.objects.get(pk=refund.pk).error
    assert refund_posts(fake_orkestapay, payment_id) == 1  # not resent: OrkestaPay says nothing either way
    refund.refresh_from_db()
    assert (refund.status, refund.needs_review) == (RefundStatus.REQUESTED, True)
    order = Order.objects.get(pk=paid.pk)
    assert (order.needs_review, order.review_code) == (True, ReviewCode.REFUND_UNKNOWN)
    assert str(refund.pk) in order.review_reason
    assert refund not in services.refunds_to_reconcile(resend_after=timedelta(0))  # orkestapay_sync leaves it
    assert services.refundable_amount(order) == Decimal("890.00")  # still reserved

    done = run_action(staff_client, REFUNDS, "mark_failed", [refund.pk])  # checked in OrkestaPay's portal
    assert messages_of(done)[-1] == "1 succeeded, 0 failed."
    refund.refresh_from_db()
    assert (refund.status, refund.needs_review) == (RefundStatus.FAILED, False)
    assert "marked failed by ops" in refund.error
    assert services.refundable_amount(Order.objects.get(pk=paid.pk)) == Decimal("990.00")  # released
    assert refund_posts(fake_orkestapay, payment_id) == 1


def test_mark_refund_failed_refuses_a_refund_not_left_for_a_person(paid: Order, fake_orkestapay: Any) -> None:
    refund = lost(fake_orkestapay, paid, "100.00", processed=True)
    with pytest.raises(RefundNotAllowedError, match="not waiting for a person"):
        services.mark_refund_failed(refund)
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.REQUESTED


# the proof is the payment's refunded amount, which only the rich profile shows
@pytest.mark.orkestapay_profile("rich")
def test_an_old_refund_proven_not_made_is_resent(paid: Order, fake_orkestapay: Any) -> None:
    """OrkestaPay reports 100 refunded (a refund made in its portal, mirrored when read): not enough for our lost
    refund of 200 on top of it, so ours did not happen and resending it cannot refund twice, key or no key."""
    payment_id = paid.orkestapay_payment_id
    fake_orkestapay.refund_from_portal(payment_id, 100)
    services.sync_order(paid)  # mirrors it
    refund = lost(fake_orkestapay, paid, "200.00", processed=False)
    age(refund)

    assert services.retry_refund(refund).status == RefundStatus.SUCCEEDED
    assert refund_posts(fake_orkestapay, payment_id) == 2
    assert refunded_at(fake_orkestapay, payment_id) == Decimal("300")
    mirrored = Refund.objects.get(origin=RefundOrigin.ORKESTAPAY)
    assert (mirrored.amount, mirrored.status) == (Decimal("100.00"), RefundStatus.SUCCEEDED)


def test_old_refunds_whose_evidence_fits_either_are_both_left_for_a_person(paid: Order, fake_orkestapay: Any) -> None:
    """A went through, B never reached OrkestaPay, both answers lost, both older than the key's lifetime. 50 is
    refunded: it is A's or B's, nobody can tell which from the amount. Resending either could refund twice (its key
    forgotten), so neither is: a person checks the portal (reading "others" as only succeeded refunds would have
    called A not made and resent it: 100 refunded)."""
    payment_id = paid.orkestapay_payment_id
    first = lost(fake_orkestapay, paid, "50.00", processed=True)
    second = lost(fake_orkestapay, paid, "50.00", processed=False)
    age(first, second)
    posts = refund_posts(fake_orkestapay, payment_id)

    for refund in (first, second):
        with pytest.raises(RefundNotAllowedError):
            services.retry_refund(refund)
    assert refund_posts(fake_orkestapay, payment_id) == posts
    assert refunded_at(fake_orkestapay, payment_id) == Decimal("50")
    assert set(Refund.objects.values_list("status", "needs_review")) == {(RefundStatus.REQUESTED, True)}


def test_an_unsettled_refund_transaction_nobody_claims_keeps_an_old_refund_from_being_resent(
    paid: Order, fake_orkestapay: Any
) -> None:
    """OrkestaPay answered our refund PENDING, but the answer was lost: its transaction is pending at OrkestaPay
    and not in the refunded amount yet. The amount alone would say "not made"; the unclaimed pending transaction
    says it may be ours, so it is not resent once the key may be forgotten."""
    payment_id = paid.orkestapay_payment_id
    fake_orkestapay.refund_from_portal(payment_id, 100)
    fake_orkestapay.refund_outcome = "pending"
    refund = lost(fake_orkestapay, paid, "200.00", processed=True)
    age(refund)

    with pytest.raises(RefundNotAllowedError):
        services.retry_refund(refund)
    assert refund_posts(fake_orkestapay, payment_id) == 1
    assert Refund.objects.get(pk=refund.pk).needs_review


@pytest.mark.usefixtures("trusted_idempotency_keys")  # the idempotent resend path
def test_a_young_refund_without_evidence_is_resent_under_its_key(paid: Order, fake_orkestapay: Any) -> None:
    """Within the key's lifetime a resend is safe: OrkestaPay replays the first answer, or makes the refund once."""
    payment_id = paid.orkestapay_payment_id
    refund = lost(fake_orkestapay, paid, "100.00", processed=False)
    assert services.retry_refund(refund).status == RefundStatus.SUCCEEDED
    assert (refund_posts(fake_orkestapay, payment_id), refunded_at(fake_orkestapay, payment_id)) == (
        2,
        Decimal("100"),
    )


# the refund answer's amount shows only in the rich profile (evidence: {status, provider: {message}})
@pytest.mark.orkestapay_profile("rich")
def test_a_refund_answered_with_another_amount_is_flagged_with_both(
    paid: Order, fake_orkestapay: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = fake_orkestapay.state.refund

    def another_amount(payment_id: str, amount: Any, description: str | None) -> dict[str, Any]:
        return {**answer(payment_id, amount, description), "amount": 60}

    monkeypatch.setattr(fake_orkestapay.state, "refund", another_amount)
    refund = services.refund_order(paid, amount=Decimal("100.00"))

    assert refund.status == RefundStatus.SUCCEEDED  # as answered; the amounts are for a person to check
    assert "100.00" in refund.error
    assert "60" in refund.error
    order = Order.objects.get(pk=paid.pk)
    assert (order.needs_review, order.review_code) == (True, ReviewCode.REFUND_UNKNOWN)
    assert "refund of 100.00" in order.review_reason
    assert "amount of 60" in order.review_reason


# -- which payments, and placeholders ------------------------------------------------------------------------------


def test_refund_order_chooses_among_the_payments_it_offers(paid: Order) -> None:
    """A completed payment in another currency is not offered (refundable_amount) and not chosen by refund_order:
    before, it made refund_order refuse "several payments" for an order that offers one."""
    Payment.objects.create(
        order=paid, orkestapay_payment_id="pay_usd", status=PaymentStatus.COMPLETED, amount=50, currency="USD"
    )
    assert services.refundable_amount(paid) == Decimal("990.00")
    refund = services.refund_order(paid)
    assert (refund.orkestapay_payment_id, refund.amount) == (paid.orkestapay_payment_id, Decimal("990.00"))


def test_a_placeholder_payment_is_never_refunded(orkestapay_settings: Any, fake_orkestapay: Any) -> None:
    order, checkout, _payment_id = paid_at_orkestapay(fake_orkestapay)
    remote = fake_orkestapay.state.order(checkout.orkestapay_order_id)
    with fake_orkestapay.state.lock:
        remote.payment_ids = []  # OrkestaPay says COMPLETED but lists no payment yet
    services.sync_order(order)
    placeholder = Payment.objects.get(order=order)
    assert (placeholder.origin, placeholder.status) == (PaymentOrigin.PLACEHOLDER, PaymentStatus.COMPLETED)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID

    for attempt in (lambda: services.refund_order(order), lambda: services.refund_payment(placeholder)):
        with pytest.raises(RefundNotAllowedError, match="has not listed this payment yet; refresh the order"):
            attempt()
    assert not Refund.objects.exists()
    assert fake_orkestapay.count_requests("POST", f"/v1/payments/{placeholder.orkestapay_payment_id}/refund") == 0


# -- the payments list, page by page -------------------------------------------------------------------------------


# the payments list's page metadata and statuses show only in the rich profile
@pytest.mark.orkestapay_profile("rich")
def test_the_payments_list_is_read_page_by_page(orkestapay_settings: Any, fake_orkestapay: Any) -> None:
    fake_orkestapay.payments_page_size = 1
    order = make_order()
    checkout = start(order)
    fake_orkestapay.decline(checkout.orkestapay_checkout_id)
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    remote_id = checkout.orkestapay_order_id

    listed = services.get_client().get_order_payments(remote_id)
    assert len(listed) == 2
    assert listed[-1].status == "COMPLETED"
    assert fake_orkestapay.count_requests("GET", f"/v1/orders/{remote_id}/payments") == 2

    services.sync_order(order)
    assert sorted(Payment.objects.filter(order=order).values_list("status", flat=True)) == [
        PaymentStatus.COMPLETED,
        PaymentStatus.FAILED,
    ]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_more_pages_than_the_cap_is_a_malformed_answer(
    orkestapay_settings: Any, fake_orkestapay: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_orkestapay.payments_page_size = 1
    checkout = start(make_order())
    fake_orkestapay.decline(checkout.orkestapay_checkout_id)
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    monkeypatch.setattr(endpoints, "MAX_PAYMENT_PAGES", 1)
    with pytest.raises(MalformedResponseError, match="more than 1 pages"):
        services.get_client().get_order_payments(checkout.orkestapay_order_id)


@pytest.mark.parametrize(
    ("page", "data", "more"),
    [
        (0, {"last": False}, True),
        (0, {"last": True, "totalPages": 3}, False),  # ``last`` says it when present
        (0, {"totalPages": 2}, True),
        (1, {"totalPages": 2}, False),
        (0, {"totalPages": True}, False),
        (0, {}, False),
    ],
)
def test_more_pages(page: int, data: dict[str, Any], more: bool) -> None:
    assert more_pages(data, page) is more


# -- paying ----------------------------------------------------------------------------------------------------------


def test_a_partially_paid_order_offers_no_new_checkout(
    client: Any, orkestapay_settings: Any, fake_orkestapay: Any
) -> None:
    order, _checkout, payment_id = paid_at_orkestapay(fake_orkestapay)
    with fake_orkestapay.state.lock:
        # OrkestaPay received only part (the rich profile shows it captured, the evidence profile authorized)
        fake_orkestapay.state.payment(payment_id).amount.update(captured=500, authorized=500)
    services.sync_order(order)
    order.refresh_from_db()
    assert (order.status, order.review_code) == (OrderStatus.PENDING, ReviewCode.PARTIALLY_PAID)
    checkouts = order.checkouts.count()

    with pytest.raises(PartiallyPaidError):
        start(order)
    response = client.post(reverse("orkestapay:pay"), pay_form(order), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409
    assert "The shop will contact you about the rest" in response.content.decode()
    assert order.checkouts.count() == checkouts
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1


# the portal's refund is mirrored from the payment's refunded amount, which only the rich profile shows
@pytest.mark.orkestapay_profile("rich")
@pytest.mark.parametrize(("refunded", "status"), [(990, OrderStatus.REFUNDED), (90, OrderStatus.PARTIALLY_REFUNDED)])
def test_paid_and_refunded_before_we_heard_goes_through_paid(
    orkestapay_settings: Any, fake_orkestapay: Any, refunded: int, status: str
) -> None:
    """Both go through PAID (the state machine's only way in); ``order_paid`` (ship on it) is sent only when money
    is left to ship for: not for an order whose payment was refunded in full before the shop heard of it."""
    order, _checkout, payment_id = paid_at_orkestapay(fake_orkestapay)
    fake_orkestapay.refund_from_portal(payment_id, refunded)
    with signal_log() as log:
        services.sync_order(order)
    assert Order.objects.get(pk=order.pk).status == status
    changes = [(kw["old_status"], kw["new_status"]) for kw in log.of("order_status_changed")]
    assert changes == [(OrderStatus.PENDING, OrderStatus.PAID), (OrderStatus.PAID, status)]
    assert log.names(order).count("order_paid") == (0 if status == OrderStatus.REFUNDED else 1)


def test_paid_orders_are_reconciled_within_the_window(paid: Order) -> None:
    assert paid in services.orders_to_reconcile()
    Order.objects.filter(pk=paid.pk).update(status_changed_at=timezone.now() - timedelta(days=4))
    assert paid not in services.orders_to_reconcile()


# -- the admin -------------------------------------------------------------------------------------------------------


def test_the_order_form_saves_only_what_an_operator_may_change(
    paid: Order, staff_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refund webhook changes the order's status between the admin loading the order and saving the form: the
    form writes back only the review flag and reason, never the status it loaded."""
    loaded = OrderAdmin.get_object

    def loaded_then_refunded_elsewhere(self: Any, request: Any, object_id: str, from_field: Any = None) -> Any:
        obj = loaded(self, request, object_id, from_field)
        if request.method == "POST":
            Order.objects.filter(pk=object_id).update(status=OrderStatus.REFUNDED)
        return obj

    url = reverse("admin:orkestapay_order_change", args=[paid.pk])
    shown = re.search(r'name="review_shown" value="([0-9a-f]+)"', staff_client.get(url).content.decode())
    assert shown is not None  # the review the page showed, which the save is checked against
    monkeypatch.setattr(OrderAdmin, "get_object", loaded_then_refunded_elsewhere)
    response = staff_client.post(url, {"needs_review": "on", "review_reason": "checked", "review_shown": shown[1]})
    assert response.status_code == 302
    order = Order.objects.get(pk=paid.pk)
    assert (order.status, order.needs_review, order.review_reason) == (OrderStatus.REFUNDED, True, "checked")
