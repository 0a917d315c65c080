"""The service layer against the fake gateway over real HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from django_orkestapay import services, signals
from django_orkestapay.exceptions import (
    APIConnectionError,
    InvalidRequestError,
    MalformedResponseError,
    OrderNotPayableError,
    ServerError,
    UnexpectedRedirectError,
)
from django_orkestapay.models import Checkout, CheckoutStatus, Order, OrderStatus
from django_orkestapay.signing import COMPLETED, load_return
from tests.conftest import make_order

pytestmark = pytest.mark.django_db(transaction=True)


def absolute(path: str) -> str:
    return f"https://shop.example{path}"


# --- creating orders -------------------------------------------------------------------------------------------


def test_create_order_computes_subtotal_and_total():
    order = make_order(shipping_amount="99.50", tax_amount="5")
    assert order.subtotal_amount == Decimal("1000.00")
    assert order.total_amount == Decimal("1094.50")
    assert order.status == OrderStatus.CREATED
    assert order.items[0]["unit_price"] == "1000.00"


def test_create_order_rejects_a_total_that_does_not_add_up():
    with pytest.raises(ValidationError, match="total"):
        make_order(total_amount="1000")
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    "items",
    [[], [{"name": "x", "quantity": 0, "unit_price": 1}], [{"name": "x", "quantity": 1, "unit_price": "-1"}]],
)
def test_create_order_rejects_bad_items(items):
    with pytest.raises(ValidationError):
        make_order(items=items)


def test_create_order_rejects_fractional_centavos():
    with pytest.raises(ValidationError, match="2 decimal"):
        make_order(items=[{"name": "x", "quantity": 1, "unit_price": "1.005"}])


def test_create_order_links_a_shop_object():
    from tests.shop.models import Cart

    cart = Cart.objects.create(reference="cart-1")
    order = make_order(shop_object=cart)
    assert Order.objects.get(pk=order.pk).shop_object == cart


# --- starting checkouts ----------------------------------------------------------------------------------------


def test_start_checkout_sends_the_documented_request(orkestapay_settings, fake_orkestapay):
    order = make_order(merchant_order_id="1366656595193")
    checkout = services.start_checkout(order, build_absolute_uri=absolute)

    [request] = [r for r in fake_orkestapay.request_log if r.path == "/v1/checkouts"]
    body = request.json_body
    assert request.method == "POST"
    assert set(body) == {
        "completed_redirect_url",
        "canceled_redirect_url",
        "allow_save_payment_methods",
        "locale",
        "order",
    }
    assert body["allow_save_payment_methods"] is False
    assert body["locale"] == "ES_LATAM"
    assert body["order"]["merchant_order_id"] == "1366656595193"
    assert body["order"]["currency"] == "MXN"
    assert body["order"]["country_code"] == "MX"
    assert Decimal(str(body["order"]["subtotal_amount"])) == Decimal("1000")
    assert Decimal(str(body["order"]["total_amount"])) == Decimal("990")
    assert [Decimal(str(d["amount"])) for d in body["order"]["discounts"]] == [Decimal("10")]
    assert body["order"]["products"][0]["product_id"] == "7197"
    assert body["order"]["products"][0]["quantity"] == 1
    assert body["order"]["customer"] == {"first_name": "John", "last_name": "Doe", "email": "john@example.com"}
    assert body["completed_redirect_url"].startswith("https://shop.example/orkestapay/return/completed/?orkestapay=")
    assert body["canceled_redirect_url"].startswith("https://shop.example/orkestapay/return/canceled/?orkestapay=")

    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert (checkout.orkestapay_checkout_id or "").startswith("chk_")
    assert checkout.redirect_url.startswith(fake_orkestapay.base_url)
    assert order.orkestapay_order_id == checkout.orkestapay_order_id != ""
    assert checkout.expires_at is not None


def test_return_urls_carry_a_signed_parameter_naming_this_checkout(orkestapay_settings):
    order = make_order()
    checkout = services.start_checkout(order, build_absolute_uri=absolute)
    value = checkout.completed_url.split("orkestapay=", 1)[1]
    from urllib.parse import unquote

    link = load_return(unquote(value), expected_side=COMPLETED, max_age=60)
    assert (link.order_id, link.checkout_id) == (order.pk, checkout.pk)


def test_open_checkout_is_reused(orkestapay_settings, fake_orkestapay):
    order = make_order()
    first = services.start_checkout(order, build_absolute_uri=absolute)
    second = services.start_checkout(order, build_absolute_uri=absolute)
    assert first.pk == second.pk
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1
    assert Checkout.objects.count() == 1


def test_many_checkouts_cost_one_token_request(orkestapay_settings, fake_orkestapay):
    for index in range(20):
        services.start_checkout(make_order(merchant_order_id=f"M-{index}"), build_absolute_uri=absolute)
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 20
    assert fake_orkestapay.count_requests("POST", "/v1/oauth/tokens") == 1


def test_expired_token_is_refreshed_once(orkestapay_settings, fake_orkestapay):
    services.start_checkout(make_order(merchant_order_id="A"), build_absolute_uri=absolute)
    fake_orkestapay.expire_tokens()
    services.start_checkout(make_order(merchant_order_id="B"), build_absolute_uri=absolute)
    assert fake_orkestapay.count_requests("POST", "/v1/oauth/tokens") == 2
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 3  # one 401, one retried


def test_paid_order_cannot_start_a_checkout(orkestapay_settings, fake_orkestapay):
    order = make_order()
    checkout = services.start_checkout(order, build_absolute_uri=absolute)
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    services.sync_order(order)
    with pytest.raises(OrderNotPayableError):
        services.start_checkout(order, build_absolute_uri=absolute)
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1


def test_order_whose_amounts_were_tampered_is_not_sent(orkestapay_settings, fake_orkestapay):
    order = make_order()
    Order.objects.filter(pk=order.pk).update(total_amount=Decimal("1.00"))
    with pytest.raises(ValidationError):
        services.start_checkout(order, build_absolute_uri=absolute)
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 0


@pytest.mark.parametrize(
    ("kind", "options", "error"),
    [
        ("status", {"status": 500}, ServerError),
        ("status", {"status": 503}, ServerError),
        ("status", {"status": 400}, InvalidRequestError),
        ("malformed_json", {}, MalformedResponseError),
        ("truncated_json", {}, MalformedResponseError),
        ("connection_reset", {}, APIConnectionError),
        ("redirect_host", {"redirect_host": "evil.example"}, UnexpectedRedirectError),
    ],
)
def test_failed_checkout_is_recorded_and_can_be_retried(orkestapay_settings, fake_orkestapay, kind, options, error):
    order = make_order()
    fake_orkestapay.inject_fault("POST", "/v1/checkouts", kind, **options)
    with pytest.raises(error):
        services.start_checkout(order, build_absolute_uri=absolute)
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED
    assert order.last_error
    failed = Checkout.objects.get(order=order)
    assert failed.status == CheckoutStatus.FAILED
    assert failed.error

    retried = services.start_checkout(order, build_absolute_uri=absolute)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert retried.status == CheckoutStatus.OPEN
    assert retried.redirect_url.startswith(fake_orkestapay.base_url)
    assert order.last_error == ""
    assert Checkout.objects.filter(order=order, status=CheckoutStatus.OPEN).count() == 1
    # the failed attempt may have left a checkout at OrkestaPay under the first reference: the retry uses a new one
    assert (failed.merchant_reference, retried.merchant_reference) == (
        order.merchant_order_id,
        f"{order.merchant_order_id}-A2",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("checkout_id", "chk_" + "a" * 80), ("order", {"order_id": "ord_" + "b" * 80}), ("checkout_redirect_url", None)],
)
def test_ids_or_url_too_long_for_our_columns_are_a_malformed_answer(orkestapay_settings, fake_orkestapay, field, value):
    import responses

    order = make_order()
    services.get_client().get_access_token()  # a token from the fake, so only the checkout call is mocked
    body = {
        "checkout_id": "chk_1",
        "checkout_redirect_url": f"{fake_orkestapay.base_url}/checkout/chk_1?x={'y' * 1000}",
        "order": {"order_id": "ord_1", "status": "CREATED"},
    }
    if value is not None:
        body[field] = value
    with responses.RequestsMock() as mocked:
        mocked.add(responses.POST, f"{fake_orkestapay.base_url}/v1/checkouts", json=body)
        with pytest.raises(MalformedResponseError, match="characters long"):
            services.start_checkout(order, build_absolute_uri=absolute)
    failed = Checkout.objects.get(order=order)
    assert (failed.status, failed.orkestapay_checkout_id) == (CheckoutStatus.FAILED, None)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CREATED


def test_gateway_down_is_a_connection_error(orkestapay_settings, settings, fake_orkestapay):
    settings.ORKESTAPAY = {**orkestapay_settings, "BASE_URL": "http://127.0.0.1:9"}
    order = make_order()
    with pytest.raises(APIConnectionError):
        services.start_checkout(order, build_absolute_uri=absolute)
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED


def test_checkout_created_signal_is_sent_on_commit(orkestapay_settings):
    received = []

    def receiver(sender, order, checkout, **kwargs):
        received.append(checkout.pk)

    signals.checkout_created.connect(receiver)
    try:
        checkout = services.start_checkout(make_order(), build_absolute_uri=absolute)
    finally:
        signals.checkout_created.disconnect(receiver)
    assert received == [checkout.pk]


# --- confirming ------------------------------------------------------------------------------------------------


def _started(fake_orkestapay):
    order = make_order()
    checkout = services.start_checkout(order, build_absolute_uri=absolute)
    return order, checkout


def test_sync_applies_completed_as_paid_once(orkestapay_settings, fake_orkestapay):
    order, checkout = _started(fake_orkestapay)
    paid = []
    changed = []
    signals.order_paid.connect(lambda sender, order, **kw: paid.append(order.pk), weak=False, dispatch_uid="t1")
    signals.order_status_changed.connect(
        lambda sender, old_status, new_status, **kw: changed.append((old_status, new_status)),
        weak=False,
        dispatch_uid="t2",
    )
    try:
        fake_orkestapay.pay(checkout.orkestapay_checkout_id)
        first = services.sync_order(order)
        second = services.sync_order(order)
    finally:
        signals.order_paid.disconnect(dispatch_uid="t1")
        signals.order_status_changed.disconnect(dispatch_uid="t2")
    assert first.changed
    assert not second.changed
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.paid_at is not None
    assert order.orkestapay_payment_id.startswith("pay_")
    assert order.remote_status == "COMPLETED"
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.COMPLETED
    assert paid == [order.pk]
    assert changed == [("pending", "paid")]


def test_unpaid_order_stays_pending(orkestapay_settings, fake_orkestapay):
    order, _checkout = _started(fake_orkestapay)
    result = services.sync_order(order)
    assert not result.changed
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert order.remote_status == "CREATED"


def test_pending_spei_payment_is_not_paid(orkestapay_settings, fake_orkestapay):
    order, checkout = _started(fake_orkestapay)
    fake_orkestapay.pay_pending(checkout.orkestapay_checkout_id)
    services.sync_order(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    # the rich profile moves the order with its payment; in the evidence profile it stays CREATED (no source shows
    # an order status between CREATED and COMPLETED)
    assert order.remote_status == ("PAYMENT_ACTION_REQUIRED" if fake_orkestapay.profile == "rich" else "CREATED")


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("total_amount", Decimal("1.00"), "amount"),
        ("currency", "USD", "currency"),
        ("merchant_order_id", "someone-else", "merchant_order_id"),
    ],
)
def test_paid_with_mismatching_details_is_flagged_not_paid(orkestapay_settings, fake_orkestapay, field, value, reason):
    order, checkout = _started(fake_orkestapay)
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    fake_orkestapay.tamper_order(checkout.orkestapay_order_id, **{field: value})
    result = services.sync_order(order)
    order.refresh_from_db()
    assert result.flagged
    assert order.status == OrderStatus.PENDING
    assert order.needs_review
    assert order.review_reason.split("but ", 1)[1].startswith(reason)


def test_cancel_return_cancels_an_open_order(orkestapay_settings, settings, fake_orkestapay):
    order, checkout = _started(fake_orkestapay)
    services.sync_checkout(checkout, canceled_by_buyer=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELED
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.CANCELED
    # and the buyer can try again with a new checkout
    again = services.start_checkout(order, build_absolute_uri=absolute)
    assert again.pk != checkout.pk
    assert again.merchant_reference == f"{order.merchant_order_id}-A2"
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


def test_late_cancel_after_pay_does_not_unpay(orkestapay_settings, fake_orkestapay):
    order, checkout = _started(fake_orkestapay)
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    services.sync_order(order)
    services.sync_checkout(checkout, canceled_by_buyer=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_sync_failure_records_error_and_changes_nothing(orkestapay_settings, fake_orkestapay):
    order, checkout = _started(fake_orkestapay)
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    fake_orkestapay.inject_fault("GET", "/v1/orders/*", "status", status=502)
    with pytest.raises(ServerError):
        services.sync_order(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert "502" in order.last_error
    services.sync_order(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.last_error == ""  # the API answered: the old error no longer describes the order


def test_sync_orders_counts_successes_and_failures(orkestapay_settings, fake_orkestapay):
    orders = [_started(fake_orkestapay)[0] for _ in range(3)]
    fake_orkestapay.inject_fault("GET", "/v1/orders/*", "status", status=500, times=1)
    summary = services.sync_orders(orders)
    assert (summary.succeeded, summary.failed) == (2, 1)


def test_transition_refuses_illegal_moves(order):
    from django_orkestapay.exceptions import InvalidTransitionError

    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        services.transition_order(locked, OrderStatus.PAID)
        with pytest.raises(InvalidTransitionError):
            services.transition_order(locked, OrderStatus.CANCELED)
        assert services.transition_order(locked, OrderStatus.PAID) is False


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("COMPLETED", OrderStatus.PAID),
        ("CANCELED", OrderStatus.CANCELED),
        ("REJECTED", OrderStatus.FAILED),
        ("EXPIRED", OrderStatus.EXPIRED),
        ("CREATED", OrderStatus.PENDING),
        ("PAYMENT_ACTION_REQUIRED", OrderStatus.PENDING),
        ("SOMETHING_NEW", OrderStatus.PENDING),
    ],
)
def test_remote_status_mapping(status, expected):
    assert services.map_remote_status(status) == expected


def test_trusted_checkout_hosts(orkestapay_settings, settings):
    assert services.is_trusted_checkout_url("https://checkout.sand.orkestapay.com/#/checkout/chk_1")
    assert services.is_trusted_checkout_url("https://checkout.dev.orkesta.io/#/checkout/chk_1")
    assert services.is_trusted_checkout_url(f"{orkestapay_settings['BASE_URL']}/checkout/chk_1")
    assert not services.is_trusted_checkout_url("https://evil.example/checkout")
    assert not services.is_trusted_checkout_url("https://orkestapay.com.evil.example/")
    assert not services.is_trusted_checkout_url("http://checkout.orkestapay.com/")
    assert not services.is_trusted_checkout_url("javascript:alert(1)")
