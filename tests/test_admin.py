"""The admin as an operator uses it: lists, filters, search, read-only payloads, links, and confirmed actions."""

import re
from decimal import Decimal

import pytest
from django.contrib.admin.templatetags.admin_list import result_headers
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from django_orkestapay import services
from django_orkestapay.exceptions import APIConnectionError
from django_orkestapay.models import Checkout, Event, EventStatus, Order, OrderStatus, Payment, Refund, RefundStatus
from tests.admin_labels import untranslated_admin_labels
from tests.conftest import make_order, make_paid_order, refunded_at, refuse_refunds_at_the_api
from tests.shop.models import Cart

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = reverse("admin:orkestapay_order_changelist")


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the assertions below read the English messages
    return client


def shop_url(path: str) -> str:
    return f"https://shop.example{path}"


def paid_order(fake, merchant_order_id: str = "PAID-1") -> Order:
    return make_paid_order(fake, merchant_order_id=merchant_order_id)


INTENT = re.compile(r'name="intent" value="([^"]+)"')


def confirmation_intent(page) -> dict[str, str]:
    """The one-time refund intent a confirmation page carries (none for other actions)."""
    found = INTENT.search(page.content.decode())
    return {"intent": found.group(1)} if found else {}


def run_action(staff_client, changelist: str, action: str, pks, **extra):
    """Press an admin action: the first POST must answer with the confirmation page, the second runs it."""
    data = {"action": action, "_selected_action": [str(pk) for pk in pks], **extra}
    first = staff_client.post(changelist, data)
    assert first.status_code == 200
    assert b'data-testid="orkestapay-confirm"' in first.content
    return staff_client.post(changelist, {**data, **confirmation_intent(first), "confirm": "yes"}, follow=True)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_changelist_columns_search_and_filters_over_a_few_hundred_orders(staff_client):
    for index in range(300):
        make_order(
            merchant_order_id=f"BULK-{index:03d}",
            currency="USD" if index % 3 == 0 else "MXN",
            customer={"first_name": "A", "last_name": "B", "email": f"buyer{index}@example.mx"},
        )
    Order.objects.filter(merchant_order_id__in=["BULK-007", "BULK-008"]).update(status=OrderStatus.PAID)
    response = staff_client.get(ORDERS)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 300
    page = response.content.decode()
    headers = [str(header["text"]).lower() for header in result_headers(response.context["cl"])][1:]
    assert headers == ["order", "total", "status", "needs review", "created"]
    assert "buyer299@example.mx" in page  # beneath its reference (the newest order comes first)
    assert "OrkestaPay order id" not in page  # on the order's page and in the search, not a column
    assert "990.00 USD" in page
    assert "$990.00 MXN" in page

    by_email = staff_client.get(ORDERS, {"q": "buyer42@example.mx"})
    assert [o.merchant_order_id for o in by_email.context["cl"].result_list] == ["BULK-042"]
    by_reference = staff_client.get(ORDERS, {"q": "BULK-29"})
    assert by_reference.context["cl"].result_count == 10
    paid = staff_client.get(ORDERS, {"status__exact": "paid"})
    assert {o.merchant_order_id for o in paid.context["cl"].result_list} == {"BULK-007", "BULK-008"}
    usd = staff_client.get(ORDERS, {"currency": "USD"})
    assert usd.context["cl"].result_count == 100
    Order.objects.filter(merchant_order_id="BULK-000").update(environment="production")
    environment = staff_client.get(ORDERS, {"environment": "production"})
    assert [o.merchant_order_id for o in environment.context["cl"].result_list] == ["BULK-000"]
    today = timezone.localtime(Order.objects.first().created_at)  # type: ignore[union-attr]
    by_date = staff_client.get(ORDERS, {"created_at__year": today.year, "created_at__month": today.month})
    assert by_date.context["cl"].result_count == 300


def test_search_by_orkestapay_ids(staff_client, orkestapay_settings, fake_orkestapay):
    order = paid_order(fake_orkestapay)
    make_order(merchant_order_id="OTHER")
    for value in (order.orkestapay_order_id, order.orkestapay_payment_id):
        response = staff_client.get(ORDERS, {"q": value})
        assert [o.pk for o in response.context["cl"].result_list] == [order.pk]
    checkout = order.checkouts.get()
    response = staff_client.get(reverse("admin:orkestapay_checkout_changelist"), {"q": checkout.orkestapay_checkout_id})
    assert response.context["cl"].result_count == 1


def changelist_queries(staff_client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert staff_client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("model", ["order", "checkout", "payment", "event", "refund"])
def test_changelist_query_count_does_not_grow_with_rows(staff_client, orkestapay_settings, fake_orkestapay, model):
    url = reverse(f"admin:orkestapay_{model}_changelist")

    def add(count: int, prefix: str) -> None:
        for index in range(count):
            order = make_order(merchant_order_id=f"{prefix}-{index}")
            Checkout.objects.create(order=order, completed_url="https://s/c", canceled_url="https://s/x")
            Event.objects.create(message_id=f"msg_{prefix}_{index}", order=order, verified=True)
            payment = Payment.objects.create(
                order=order, orkestapay_payment_id=f"pay_{prefix}_{index}", amount=990, status="completed"
            )
            Refund.objects.create(
                order=order,
                payment=payment,
                orkestapay_payment_id=payment.orkestapay_payment_id,
                amount=1,
                idempotency_key=f"{prefix}{index}",
            )

    add(3, "few")
    staff_client.get(url)  # warm caches (content types, session)
    few = changelist_queries(staff_client, url)
    add(40, "many")
    assert changelist_queries(staff_client, url) == few


def test_order_page_links_to_checkouts_events_and_refunds_and_shows_items_read_only(
    staff_client, orkestapay_settings, fake_orkestapay
):
    order = paid_order(fake_orkestapay)
    response = staff_client.get(reverse("admin:orkestapay_order_change", args=[order.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    checkout = order.checkouts.get()
    assert checkout.orkestapay_checkout_id in page
    for model in ("checkout", "payment", "event", "refund"):
        assert f"{reverse(f'admin:orkestapay_{model}_changelist')}?order__id__exact={order.pk}" in page
    assert "Pantalla TCL 40" in page
    assert 'name="items"' not in page  # shown, not editable
    related = staff_client.get(reverse("admin:orkestapay_checkout_changelist"), {"order__id__exact": str(order.pk)})
    assert [c.pk for c in related.context["cl"].result_list] == [checkout.pk]


def test_checkout_and_event_payloads_are_read_only_and_escaped(staff_client, orkestapay_settings, fake_orkestapay):
    order = paid_order(fake_orkestapay)
    checkout = order.checkouts.get()
    page = staff_client.get(reverse("admin:orkestapay_checkout_change", args=[checkout.pk])).content.decode()
    assert checkout.orkestapay_checkout_id in page
    assert "checkout_redirect_url" in page
    assert 'name="raw_response"' not in page
    event = Event.objects.create(
        message_id="msg_x",
        verified=True,
        raw_body='{"note": "<script>alert(1)</script>"}',
        payload={"note": "<script>alert(1)</script>"},
        headers={"svix-id": "msg_x"},
    )
    page = staff_client.get(reverse("admin:orkestapay_event_change", args=[event.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'name="payload"' not in page
    assert 'name="raw_body"' not in page


def test_refresh_action_confirms_then_reports_counts(staff_client, orkestapay_settings, fake_orkestapay):
    paid = make_order(merchant_order_id="PAID-1")
    checkout = services.start_checkout(paid, build_absolute_uri=shop_url)
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    broken = make_order(merchant_order_id="BROKEN-1")
    services.start_checkout(broken, build_absolute_uri=shop_url)
    fake_orkestapay.inject_fault(
        "GET", f"/v1/orders/{broken.checkouts.get().orkestapay_order_id}", "status", status=503
    )

    first = staff_client.post(ORDERS, {"action": "refresh_from_orkestapay", "_selected_action": [str(paid.pk)]})
    assert b'data-testid="orkestapay-confirm"' in first.content
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PENDING  # nothing happens before confirming

    response = run_action(staff_client, ORDERS, "refresh_from_orkestapay", [paid.pk, broken.pk])
    assert messages_of(response)[-1].startswith("1 succeeded, 1 failed.")
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PAID
    broken.refresh_from_db()
    assert broken.status == OrderStatus.PENDING
    assert "confirming status" in broken.last_error


def test_refund_action_refunds_what_is_left_and_skips_unpaid(staff_client, orkestapay_settings, fake_orkestapay):
    first, second = paid_order(fake_orkestapay, "PAID-1"), paid_order(fake_orkestapay, "PAID-2")
    unpaid = make_order(merchant_order_id="UNPAID")
    confirm = staff_client.post(
        ORDERS, {"action": "refund", "_selected_action": [str(first.pk), str(second.pk), str(unpaid.pk)]}
    )
    assert b"$990.00 MXN" in confirm.content
    assert b"UNPAID" not in confirm.content
    assert Refund.objects.count() == 0

    response = run_action(staff_client, ORDERS, "refund", [first.pk, second.pk, unpaid.pk])
    texts = messages_of(response)
    assert texts.count("1 selected row has nothing to refund and was left out.") == 1
    assert "Order PAID-1: refunded $990.00 MXN." in texts
    assert "Order PAID-2: refunded $990.00 MXN." in texts
    assert texts[-1] == "2 succeeded, 0 failed."
    for order in (first, second):
        order.refresh_from_db()
        assert order.status == OrderStatus.REFUNDED
        refund = order.refunds.get()
        assert (refund.status, refund.amount, refund.requested_by) == (RefundStatus.SUCCEEDED, Decimal("990"), "ops")
    assert fake_orkestapay.count_requests("POST", prefix="/v1/payments/") == 2
    assert Order.objects.get(pk=unpaid.pk).refunds.count() == 0


def test_refund_action_for_one_order_takes_a_partial_amount(staff_client, orkestapay_settings, fake_orkestapay):
    order = paid_order(fake_orkestapay)
    response = run_action(staff_client, ORDERS, "refund", [order.pk], amount="100.50")
    assert messages_of(response) == ["Order PAID-1: refunded $100.50 MXN."]  # the order and the amount, no counts
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert services.refundable_amount(order) == Decimal("889.50")
    refused = {
        "900": "$900.00 MXN is more than is left to refund: at most $889.50 MXN.",
        "0": "Enter an amount above zero.",
        "0.00": "Enter an amount above zero.",
        "-5": "A refund cannot be negative: enter the amount to return to the buyer.",
        "1.001": "Enter an amount such as 1,000.00",
        "abc": "Enter an amount such as 1,000.00",
        "NaN": "Enter an amount such as 1,000.00",
        "1.000,00": "Enter an amount such as 1,000.00",
    }
    for typed, error in refused.items():
        response = run_action(staff_client, ORDERS, "refund", [order.pk], amount=typed)
        assert response.status_code == 200
        page = response.content.decode()  # the confirmation again, the error beside the amount
        assert 'data-testid="orkestapay-amount-error"' in page
        assert f'value="{typed}"' in page
        assert error in page
        assert "ConversionSyntax" not in page
    assert order.refunds.count() == 1
    assert fake_orkestapay.count_requests("POST", prefix="/v1/payments/") == 1


def test_refund_action_reports_an_api_refusal(staff_client, orkestapay_settings, fake_orkestapay):
    order = paid_order(fake_orkestapay)
    refuse_refunds_at_the_api(fake_orkestapay)
    response = run_action(staff_client, ORDERS, "refund", [order.pk])
    [text] = messages_of(response)
    assert text.startswith("Order PAID-1: refund of $990.00 MXN not made: Refunds from e-commerce are not enabled")
    assert text.count("PAID-1") == 1
    assert text.endswith("It is recorded on the order's last error.")
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert "refunding 990.00" in order.last_error  # as promised
    assert order.refunds.get().status == RefundStatus.FAILED


@pytest.mark.usefixtures("trusted_idempotency_keys")  # the idempotent resend path
def test_retry_refund_action_resends_with_the_same_key(staff_client, orkestapay_settings, fake_orkestapay):
    order = paid_order(fake_orkestapay)
    fake_orkestapay.inject_fault("POST", "/v1/payments/*", "timeout", after_processing=True)
    with pytest.raises(APIConnectionError):
        services.refund_order(order)
    refund = order.refunds.get()
    assert refund.status == RefundStatus.REQUESTED  # outcome unknown: the amount stays reserved
    assert services.refundable_amount(order) == Decimal("0.00")

    response = run_action(staff_client, reverse("admin:orkestapay_refund_changelist"), "retry", [refund.pk])
    assert messages_of(response)[-1] == "1 succeeded, 0 failed."
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    keys = {r.headers.get("idempotency-key") for r in fake_orkestapay.request_log if r.path.endswith("/refund")}
    assert keys == {refund.idempotency_key}
    assert refunded_at(fake_orkestapay, order.orkestapay_payment_id) == Decimal("990")  # refunded once, not twice


def test_reprocess_action_confirms_and_skips_processed_events(staff_client, orkestapay_settings, fake_orkestapay):
    order = paid_order(fake_orkestapay)
    pending = Event.objects.create(
        message_id="msg_pending",
        verified=True,
        status=EventStatus.FAILED,
        event_type="payment.purchase",
        orkestapay_order_id=order.orkestapay_order_id,
        payload={"type_event": "payment.purchase", "data": {"order_id": order.orkestapay_order_id}},
    )
    done = Event.objects.create(message_id="msg_done", verified=True, status=EventStatus.PROCESSED)
    url = reverse("admin:orkestapay_event_changelist")
    response = run_action(staff_client, url, "reprocess", [pending.pk, done.pk])
    assert messages_of(response)[-1] == "1 succeeded, 0 failed."
    pending.refresh_from_db()
    assert pending.status == EventStatus.PROCESSED
    only_done = staff_client.post(url, {"action": "reprocess", "_selected_action": [str(done.pk)]}, follow=True)
    assert "None of the selected rows can take this action." in messages_of(only_done)


def test_admin_speaks_spanish(client, orkestapay_settings, fake_orkestapay):
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw"))
    order = paid_order(fake_orkestapay)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "es-MX"
    page = client.get(ORDERS).content.decode()
    assert "Actualizar estado desde OrkestaPay" in page
    assert "Pagada" in page
    response = run_action(client, ORDERS, "refresh_from_orkestapay", [order.pk])
    assert messages_of(response)[-1] == "1 con éxito, 0 con error."


def test_every_admin_label_reads_in_spanish():
    """The app's admin in Spanish: no model, field, column or filter left in English (Django's own apps included)."""
    assert untranslated_admin_labels("es") == []


def test_the_order_page_names_its_shop_object_in_words(admin_client, django_user_model):
    cart = Cart.objects.create(reference="A7")
    order = services.order_for(cart)
    with translation.override("es"):
        page = admin_client.get(reverse("admin:orkestapay_order_change", args=[order.pk])).content.decode()
    assert "objeto de la tienda" in page.lower()
    assert "A7" in page
    assert "content type" not in page.lower()
    assert "object id" not in page.lower()
