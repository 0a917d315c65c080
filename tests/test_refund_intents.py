"""Refunds exactly once per intent, over real HTTP against the fake gateway: a double submit, a resubmit and a second
tab send one refund; the Refund row is committed before the call even with ATOMIC_REQUESTS; only an explicit refusal
fails a refund (pending answers and lost answers keep the amount reserved and are reconciled later)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import resolve, reverse
from django.utils import translation

from django_orkestapay import services
from django_orkestapay.exceptions import (
    APIConnectionError,
    InvalidRequestError,
    RefundAlreadySentError,
    RefundNotAllowedError,
    ServerError,
)
from django_orkestapay.models import Order, OrderStatus, Payment, PaymentStatus, Refund, RefundStatus, ReviewCode
from django_orkestapay.services import refund_sending
from django_orkestapay.services.refunds import completed_payments
from django_orkestapay.testing import FakeOrkestaPay
from django_orkestapay.testing import refunds as fake_refunds
from tests.conftest import (
    make_order,
    make_paid_order,
    refund_transactions_at,
    refunded_at,
    refuse_refunds_at_the_api,
)
from tests.test_admin import confirmation_intent, messages_of

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = reverse("admin:orkestapay_order_changelist")
PAYMENTS = reverse("admin:orkestapay_payment_changelist")
REFUNDS = reverse("admin:orkestapay_refund_changelist")


@pytest.fixture(autouse=True)
def english():
    """The messages asserted below are the English ones (the project's default language is Spanish)."""
    with translation.override("en"):
        yield


@pytest.fixture
def staff_client(client):
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw"))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def paid(orkestapay_settings, fake_orkestapay) -> Order:
    return make_paid_order(fake_orkestapay)


def refund_calls(fake: FakeOrkestaPay) -> int:
    return fake.count_requests("POST", prefix="/v1/payments/")


def confirmation(staff_client, target: Order | Payment, url: str = ORDERS) -> dict[str, Any]:
    """Open the refund confirmation page (a tab): the form it would post back."""
    data = {"action": "refund", "_selected_action": [str(target.pk)]}
    page = staff_client.post(url, data)
    assert b'data-testid="orkestapay-confirm"' in page.content
    return {**data, **confirmation_intent(page), "confirm": "yes"}


# -- the confirmation page ----------------------------------------------------------------------------------------


def test_a_double_submit_and_a_resubmit_send_one_refund(staff_client, paid, fake_orkestapay):
    form = confirmation(staff_client, paid)
    first = staff_client.post(ORDERS, {**form, "amount": "100.00"}, follow=True)
    double = staff_client.post(ORDERS, {**form, "amount": "100.00"}, follow=True)
    later = staff_client.post(ORDERS, {**form, "amount": "250.00"}, follow=True)  # back, edit, submit again

    assert messages_of(first)[-1] == f"Order {paid.merchant_order_id}: refunded $100.00 MXN."
    for repeat in (double, later):
        assert any(text.startswith("Already sent") for text in messages_of(repeat))
    assert refund_calls(fake_orkestapay) == 1
    refund = Refund.objects.get()
    assert (refund.amount, refund.status, refund.attempts) == (Decimal("100.00"), RefundStatus.SUCCEEDED, 1)
    assert refund.idempotency_key.startswith("intent-")
    assert refunded_at(fake_orkestapay, paid.orkestapay_payment_id) == Decimal("100")


def test_a_resubmit_after_everything_was_refunded_says_already_sent(staff_client, paid, fake_orkestapay):
    form = confirmation(staff_client, paid)
    staff_client.post(ORDERS, form)
    again = staff_client.post(ORDERS, form, follow=True)
    assert any(text.startswith("Already sent") for text in messages_of(again))
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.REFUNDED
    assert refund_calls(fake_orkestapay) == 1


def test_a_second_tab_is_refused_once_the_first_refunded(staff_client, paid, fake_orkestapay):
    first_tab = confirmation(staff_client, paid)
    second_tab = confirmation(staff_client, paid)
    staff_client.post(ORDERS, {**first_tab, "amount": "100"})
    second = staff_client.post(ORDERS, {**second_tab, "amount": "100"}, follow=True)

    assert f"Order {paid.merchant_order_id} changed since this page was shown; review it again." in " ".join(
        messages_of(second)
    )
    assert refund_calls(fake_orkestapay) == 1
    assert Refund.objects.count() == 1
    assert services.refundable_amount(paid) == Decimal("890.00")


def test_a_confirmation_without_its_intent_sends_nothing(staff_client, paid, fake_orkestapay):
    form = confirmation(staff_client, paid)
    for intent in ("", form["intent"][:-2] + "xx"):
        response = staff_client.post(ORDERS, {**form, "intent": intent}, follow=True)
        assert "missing, altered or older than an hour" in " ".join(messages_of(response))
    assert (refund_calls(fake_orkestapay), Refund.objects.count()) == (0, 0)


def test_the_same_intent_from_two_threads_sends_one_refund(paid, fake_orkestapay):
    """Two workers handle the same submit at once (a double click through a proxy): one refund, one "already"."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks: set TEST_DATABASE_URL (scripts/test does)")
    intent = services.load_refund_intent(services.new_refund_intent([paid]))
    barrier = threading.Barrier(4)

    def submit(_: int) -> str:
        barrier.wait()
        try:
            services.refund_order(Order.objects.get(pk=paid.pk), intent=intent)
            return "refunded"
        except RefundAlreadySentError:
            return "already sent"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = Counter(pool.map(submit, range(4)))
    assert outcomes == Counter({"refunded": 1, "already sent": 3})
    assert refund_calls(fake_orkestapay) == 1


def test_a_payment_is_refunded_from_its_own_admin_once(staff_client, paid, fake_orkestapay):
    payment = completed_payments(paid)[0]  # the ledger's row (made from the order until 11A's ledger lands)
    form = confirmation(staff_client, payment, PAYMENTS)
    staff_client.post(PAYMENTS, {**form, "amount": "10.50"})
    staff_client.post(PAYMENTS, {**form, "amount": "10.50"})
    assert refund_calls(fake_orkestapay) == 1
    assert services.refundable_amount_of(payment) == Decimal("979.50")
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PARTIALLY_REFUNDED


# -- committed before the call ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "admin:orkestapay_order_changelist",
        "admin:orkestapay_payment_changelist",
        "admin:orkestapay_refund_changelist",
        "admin:orkestapay_event_changelist",  # Reprocess event reads OrkestaPay
        "orkestapay:pay",
        "orkestapay:completed",
        "orkestapay:canceled",
        "orkestapay:webhook",
        "orkestapay:api_pay",
        "orkestapay:api_status",  # a pending order is read from OrkestaPay
    ],
)
def test_the_views_that_move_money_are_not_wrapped_in_atomic_requests(name):
    assert getattr(resolve(reverse(name)).func, "_non_atomic_requests", None) == {"default"}


@pytest.mark.usefixtures("trusted_idempotency_keys")  # the idempotent resend path
def test_with_atomic_requests_the_refund_is_committed_before_the_call(staff_client, paid, fake_orkestapay, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    seen_by_the_gateway: list[Any] = []

    def look_from_another_connection(record: Any) -> None:
        if record.method == "POST" and record.path.endswith("/refund"):
            try:  # this runs on the fake's thread: its own database connection sees only what was committed
                seen_by_the_gateway.append(list(Refund.objects.values_list("status", flat=True)))
            except Exception as exc:  # noqa: BLE001 - a lock error also means "not committed"
                seen_by_the_gateway.append(repr(exc))
            finally:
                connection.close()

    fake_orkestapay.on_request = look_from_another_connection
    fake_orkestapay.inject_fault("POST", "/v1/payments/*/refund", "connection_reset", after_processing=True)
    try:
        response = staff_client.post(ORDERS, confirmation(staff_client, paid), follow=True)
    finally:
        fake_orkestapay.on_request = None

    assert seen_by_the_gateway == [[RefundStatus.REQUESTED]]
    [text] = messages_of(response)
    assert text.startswith(f"Order {paid.merchant_order_id}: refund of $990.00 MXN not confirmed by OrkestaPay: ")
    assert text.endswith(
        "Its amount stays reserved; the Resend refund action checks on it. It is recorded on the order's last error."
    )
    refund = Refund.objects.get()
    assert (refund.status, refund.attempts) == (RefundStatus.REQUESTED, 1)  # the money left; we do not know yet
    assert refunded_at(fake_orkestapay, paid.orkestapay_payment_id) == Decimal("990")
    assert services.refundable_amount(paid) == Decimal("0.00")  # reserved: nothing offered twice

    resend = {"action": "retry", "_selected_action": [str(refund.pk)]}
    staff_client.post(REFUNDS, resend)
    done = staff_client.post(REFUNDS, {**resend, "confirm": "yes"}, follow=True)
    assert messages_of(done)[-1] == "1 succeeded, 0 failed."
    refund.refresh_from_db()
    # rich: the payment read back first shows the money left, so it is settled without sending it again; evidence:
    # the payment shows no refund, so it is resent under its key, which OrkestaPay replays
    attempts = 1 if fake_orkestapay.profile == "rich" else 2
    assert (refund.status, refund.attempts) == (RefundStatus.SUCCEEDED, attempts)
    assert refunded_at(fake_orkestapay, paid.orkestapay_payment_id) == Decimal("990")  # refunded once
    assert len(refund_transactions_at(fake_orkestapay, paid.orkestapay_payment_id)) == 1
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.REFUNDED


def test_refunding_inside_an_outer_transaction_is_refused(paid, fake_orkestapay):
    with transaction.atomic(), pytest.raises(RefundNotAllowedError, match="non_atomic_requests"):
        services.refund_order(paid)
    assert (Refund.objects.count(), refund_calls(fake_orkestapay)) == (0, 0)


# -- outcomes -----------------------------------------------------------------------------------------------------


# settled by its REFUND transaction's id, which only the rich profile's answers carry (the evidence profile:
# test_money_events.py::test_a_pending_refund_settled_at_orkestapay_is_settled_without_a_transaction_id)
@pytest.mark.orkestapay_profile("rich")
def test_a_pending_answer_keeps_the_amount_reserved_until_it_settles(paid, fake_orkestapay):
    fake_orkestapay.refund_outcome = "pending"
    refund = services.refund_order(paid, amount=Decimal("400"))
    assert (refund.status, refund.remote_status) == (RefundStatus.PENDING, "PENDING")
    assert refund.transaction_id.startswith("ctx_")
    assert services.refundable_amount(paid) == Decimal("590.00")  # not offered again
    with pytest.raises(RefundNotAllowedError, match=r"590\.00 can be refunded"):
        services.refund_order(paid, amount=Decimal("591"))
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PAID

    assert services.reconcile_refunds().changed == 0  # still pending at OrkestaPay
    fake_orkestapay.settle_refund(refund.transaction_id)
    call_command("orkestapay_sync")  # reconciles refunds too
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PARTIALLY_REFUNDED
    assert refund_calls(fake_orkestapay) == 1  # read back, never sent twice


# settled by its REFUND transaction's id, which only the rich profile's answers carry (the evidence profile:
# test_money_events.py::test_a_pending_refund_settled_at_orkestapay_is_settled_without_a_transaction_id)
@pytest.mark.orkestapay_profile("rich")
def test_a_pending_refund_that_fails_frees_its_amount(paid, fake_orkestapay):
    fake_orkestapay.refund_outcome = "pending"
    refund = services.refund_order(paid)
    fake_orkestapay.settle_refund(refund.transaction_id, succeed=False)
    assert services.retry_refunds([refund]).changed == 1
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert services.refundable_amount(paid) == Decimal("990.00")
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PAID


@pytest.mark.parametrize("status", ["PROCESSING", "IN_PROGRESS", "SOMETHING_NEW"])
def test_an_unknown_status_is_pending_not_failed(paid, fake_orkestapay, monkeypatch, status):
    fake_orkestapay.refund_outcome = "pending"
    monkeypatch.setitem(fake_refunds.REFUND_OUTCOMES, "pending", (status, status, "Refund in process"))
    refund = services.refund_order(paid)
    assert (refund.status, refund.remote_status) == (RefundStatus.PENDING, status)
    assert services.refundable_amount(paid) == Decimal("0.00")


def test_a_resend_reads_the_payment_back_first_and_settles_what_already_left(paid, fake_orkestapay, monkeypatch):
    """The first answer was lost and the gateway forgot the key: a resend would get a 400 (nothing left), or worse,
    refund again. The payment is read back first: where it shows the money left, the refund succeeded, unsent;
    where it shows nothing of refunds, nothing is resent or failed: a person checks the portal."""
    fake_orkestapay.inject_fault("POST", "/v1/payments/*/refund", "timeout", after_processing=True)
    with pytest.raises(APIConnectionError):
        services.refund_order(paid)
    fake_orkestapay.state.idempotency.clear()  # the gateway forgot the key (its time to live passed)
    reads_before = fake_orkestapay.count_requests("GET", f"/v1/payments/{paid.orkestapay_payment_id}")
    if fake_orkestapay.profile == "rich":  # the payment shows the money left: settled, unsent
        refund = services.retry_refund(Refund.objects.get())
        assert (refund.status, refund.attempts) == (RefundStatus.SUCCEEDED, 1)
    else:  # the payment says nothing of refunds (the public record): never resent, never failed, a person checks
        with pytest.raises(RefundNotAllowedError, match="Mark refund succeeded"):
            services.retry_refund(Refund.objects.get())
        refund = Refund.objects.get()
        assert (refund.status, refund.attempts, refund.needs_review) == (RefundStatus.REQUESTED, 1, True)
        assert services.refundable_amount(paid) == Decimal("0.00")  # the 990 stay reserved
    assert fake_orkestapay.count_requests("GET", f"/v1/payments/{paid.orkestapay_payment_id}") == reads_before + 1
    assert fake_orkestapay.count_requests("POST", f"/v1/payments/{paid.orkestapay_payment_id}/refund") == 1
    assert refunded_at(fake_orkestapay, paid.orkestapay_payment_id) == Decimal("990")


@pytest.mark.usefixtures("trusted_idempotency_keys")  # the idempotent resend path
def test_a_refusal_of_a_resend_that_nothing_explains_is_left_for_a_person(paid, fake_orkestapay):
    """The first send got a 503 (its outcome unknown), the resend a 400, and the payment shows nothing of refunds:
    the 400 may be the refusal of a repeat of a refund that went through, so the refund is neither failed nor
    resent: a person checks the portal (the amount stays reserved meanwhile)."""
    fake_orkestapay.inject_fault("POST", "/v1/payments/*/refund", "status", status=503)
    with pytest.raises(ServerError):
        services.refund_order(paid)
    fake_orkestapay.refunds_enabled = False
    with pytest.raises(RefundNotAllowedError):
        services.retry_refund(Refund.objects.get())
    refund = Refund.objects.get()
    assert (refund.status, refund.attempts, refund.needs_review) == (RefundStatus.REQUESTED, 2, True)
    assert "nothing shows whether the first send went through" in refund.error
    assert services.refundable_amount(paid) == Decimal("0.00")  # still reserved
    order = Order.objects.get(pk=paid.pk)
    assert order.review_code == ReviewCode.REFUND_UNKNOWN


def test_a_refusal_of_a_refund_sent_once_fails_it_without_a_read_back(paid, fake_orkestapay, settings):
    """Even with the client's retries on, a 400 to a request sent once is OrkestaPay's refusal of that refund."""
    settings.ORKESTAPAY = {**settings.ORKESTAPAY, "MAX_RETRIES": 1, "TRUST_IDEMPOTENCY_KEYS": True}
    refuse_refunds_at_the_api(fake_orkestapay)
    payment_path = f"/v1/payments/{paid.orkestapay_payment_id}"
    reads_before = fake_orkestapay.count_requests("GET", payment_path)
    with pytest.raises(InvalidRequestError):
        services.refund_order(paid)
    assert Refund.objects.get().status == RefundStatus.FAILED
    assert fake_orkestapay.count_requests("GET", payment_path) == reads_before


def test_by_default_a_refund_is_never_retried_by_the_client(paid, fake_orkestapay, settings):
    """``TRUST_IDEMPOTENCY_KEYS`` off (no public source shows OrkestaPay honours the key): a refund whose answer timed
    out is not sent again, by the client or later, unless OrkestaPay's payment proves it did not happen."""
    settings.ORKESTAPAY = {**settings.ORKESTAPAY, "MAX_RETRIES": 2}
    fake_orkestapay.inject_fault("POST", "/v1/payments/*/refund", "timeout", after_processing=True)
    with pytest.raises(APIConnectionError):
        services.refund_order(paid)
    refund_path = f"/v1/payments/{paid.orkestapay_payment_id}/refund"
    assert fake_orkestapay.count_requests("POST", refund_path) == 1
    refund = Refund.objects.get()
    if fake_orkestapay.profile == "evidence":  # nothing to read back: a person checks the portal
        with pytest.raises(RefundNotAllowedError, match="Mark refund succeeded"):
            services.retry_refund(refund)
        refund.refresh_from_db()
        assert (refund.status, refund.needs_review) == (RefundStatus.REQUESTED, True)
    else:  # the payment shows the money left
        assert services.retry_refund(refund).status == RefundStatus.SUCCEEDED
    assert fake_orkestapay.count_requests("POST", refund_path) == 1
    assert refunded_at(fake_orkestapay, paid.orkestapay_payment_id) == Decimal("990")


@pytest.mark.orkestapay_profile("rich")  # the read-back proves "not made" only where the payment shows its refunds
def test_two_processes_that_decide_to_resend_a_refund_at_once_send_it_once(paid, fake_orkestapay, monkeypatch):
    """A second refund of 300 timed out before OrkestaPay took it. Two processes (two sweeps, a sweep and an
    operator's retry) read the payment back, and both see it not made (300 refunded: the first refund only); one
    resends it (this time its answer is lost again). The other's resend is void: it decided on a send count that is
    no longer the refund's."""
    services.refund_order(paid, amount=Decimal("300"))
    fake_orkestapay.inject_fault("POST", "/v1/payments/*/refund", "timeout", after_processing=False)
    with pytest.raises(APIConnectionError):
        services.refund_order(Order.objects.get(pk=paid.pk), amount=Decimal("300"))
    second = Refund.objects.get(status=RefundStatus.REQUESTED)
    real_read_back = refund_sending._read_back_or_note
    raced: list[bool] = []

    def read_back_then_the_other_process_resends(refund: Refund, client: Any) -> Any:
        found = real_read_back(refund, client)
        if not raced:  # ours has read "not made"; the other process now resends, and loses its answer
            raced.append(True)
            fake_orkestapay.inject_fault("POST", "/v1/payments/*/refund", "timeout", after_processing=True)
            with pytest.raises(APIConnectionError):
                services.retry_refund(Refund.objects.get(pk=second.pk))
            fake_orkestapay.state.idempotency.clear()  # nothing shows OrkestaPay would refuse a repeat of the key
        return found

    monkeypatch.setattr(refund_sending, "_read_back_or_note", read_back_then_the_other_process_resends)

    refund = services.retry_refund(Refund.objects.get(pk=second.pk))

    assert raced
    assert (refund.status, refund.attempts) == (RefundStatus.REQUESTED, 2)  # the other process's send, unanswered
    refund_path = f"/v1/payments/{paid.orkestapay_payment_id}/refund"
    assert fake_orkestapay.count_requests("POST", refund_path) == 3  # the first refund, the second's two sends
    assert refunded_at(fake_orkestapay, paid.orkestapay_payment_id) == Decimal("600")  # the second once, not twice


# -- which payment -------------------------------------------------------------------------------------------------


def ledger_row(order: Order, payment_id: str, status: str, amount: Decimal) -> Payment:
    """The order's ledger row for ``payment_id`` (the paid fixture's sync already recorded its completed payment)."""
    row, _created = Payment.objects.get_or_create(
        orkestapay_payment_id=payment_id,
        defaults={"order": order, "status": status, "amount": amount, "currency": order.currency},
    )
    assert (row.order_id, row.status, row.amount) == (order.pk, status, amount)
    return row


def test_after_a_declined_card_the_refund_targets_the_completed_payment(paid, fake_orkestapay):
    ledger_row(paid, "pay_declined", PaymentStatus.FAILED, Decimal("990"))
    completed = ledger_row(paid, paid.orkestapay_payment_id, PaymentStatus.COMPLETED, Decimal("990"))
    Order.objects.filter(pk=paid.pk).update(orkestapay_payment_id="pay_declined")  # what the old code stored
    refund = services.refund_order(Order.objects.get(pk=paid.pk))
    assert (refund.payment, refund.status) == (completed, RefundStatus.SUCCEEDED)
    assert refunded_at(fake_orkestapay, completed.orkestapay_payment_id) == Decimal("990")


def test_a_declined_then_paid_checkout_is_refunded_end_to_end(orkestapay_settings, fake_orkestapay):
    order = make_order()
    checkout = services.start_checkout(order, build_absolute_uri=lambda path: f"https://shop.example{path}")
    fake_orkestapay.decline(checkout.orkestapay_checkout_id)
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    services.sync_order(order)
    refund = services.refund_order(Order.objects.get(pk=order.pk))
    assert refund.status == RefundStatus.SUCCEEDED


def test_an_order_paid_twice_asks_which_payment(paid, fake_orkestapay):
    ledger_row(paid, paid.orkestapay_payment_id, PaymentStatus.COMPLETED, Decimal("990"))
    second = ledger_row(paid, "pay_second", PaymentStatus.COMPLETED, Decimal("990"))
    with pytest.raises(RefundNotAllowedError, match="several payments"):
        services.refund_order(paid)
    assert services.refundable_amount(paid) == Decimal("1980.00")
    first = Payment.objects.get(orkestapay_payment_id=paid.orkestapay_payment_id)
    services.refund_order(paid, payment=first)
    assert services.refundable_amount_of(second) == Decimal("990.00")
    assert refund_calls(fake_orkestapay) == 1


def test_never_more_than_orkestapay_says_is_left(paid, fake_orkestapay):
    """A refund made in OrkestaPay's portal, known only from the payment's refunded amount, is not offered again."""
    payment = ledger_row(paid, paid.orkestapay_payment_id, PaymentStatus.COMPLETED, Decimal("990"))
    fake_orkestapay.refund_from_portal(payment.orkestapay_payment_id, 300)
    Payment.objects.filter(pk=payment.pk).update(refunded_amount=Decimal("300"))  # as the ledger reads it
    assert services.refundable_amount(paid) == Decimal("690.00")
    with pytest.raises(RefundNotAllowedError, match=r"690\.00 can be refunded"):
        services.refund_order(paid, amount=Decimal("990"))
    assert services.refund_order(paid).amount == Decimal("690.00")
    assert refund_calls(fake_orkestapay) == 1
