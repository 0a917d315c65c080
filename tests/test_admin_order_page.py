"""The order's page as an operator reads it: the summary first (status, received, refunded, left to refund, customer,
method and card), a Refund button that leads to the one-time confirmation, items as a table, money in the shop's
format everywhere in the admin, and the review warning only where there is something to review."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse
from django.utils import translation

from django_orkestapay import services
from django_orkestapay.admin.display import card_of, payment_method
from django_orkestapay.models import Order, OrderStatus, Payment, Refund, RefundStatus, ReviewCode
from tests.conftest import make_order, make_paid_order
from tests.test_admin import confirmation_intent, messages_of

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = reverse("admin:orkestapay_order_changelist")


@pytest.fixture(autouse=True)
def _language_reset():
    yield
    translation.deactivate()


@pytest.fixture
def operator(client):
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw"))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def paid(orkestapay_settings, fake_orkestapay) -> Order:
    return make_paid_order(fake_orkestapay, merchant_order_id="PAGE-1")


def change_url(order: Order) -> str:
    return reverse("admin:orkestapay_order_change", args=[order.pk])


def refund_url(order: Order) -> str:
    return reverse("admin:orkestapay_order_refund", args=[order.pk])


def summary_of(page: str) -> dict[str, str]:
    """The summary's facts, by their test id, as text."""
    found = re.findall(r'data-testid="orkestapay-summary-([\w-]+)">(.*?)</dd>', page, flags=re.S)
    return {name: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", value)).strip() for name, value in found}


def test_the_summary_comes_first_with_money_customer_and_card(operator, paid):
    services.refund_order(paid, amount=Decimal("100.50"))
    page = operator.get(change_url(paid)).content.decode()
    assert summary_of(page) == {
        "status": "Partially refunded",
        "received": "990.00 MXN",
        "refunded": "100.50 MXN",
        "left": "889.50 MXN",
        "customer": "John Doe john@example.com",
        "paid-with": "Card · Visa •••• 4242",
    }
    assert page.index('data-testid="orkestapay-order-summary"') < page.index('name="needs_review"')
    assert page.index('name="needs_review"') < page.index('data-testid="orkestapay-items"')
    assert f'href="{refund_url(paid)}"' in page  # the Refund button
    assert "<h2>PAGE-1</h2>" in page  # the reference, not the model's text with its raw amount
    assert "990.00 MXN, " not in page
    assert "(990.00" not in page


def test_items_are_a_table_in_the_orders_money(operator, orkestapay_settings, fake_orkestapay):
    order = make_paid_order(
        fake_orkestapay,
        merchant_order_id="PAGE-2",
        items=[
            {"product_id": "tv-40", "name": "Pantalla <b>40</b>", "quantity": 2, "unit_price": Decimal("1500")},
            {"product_id": "cable", "name": "Cable HDMI", "quantity": 1, "unit_price": Decimal("99.90")},
        ],
        discount_amount=Decimal("0"),
    )
    page = operator.get(change_url(order)).content.decode()
    items = page[page.index('data-testid="orkestapay-items"') : page.index("</table>", page.index("orkestapay-items"))]
    assert "Pantalla &lt;b&gt;40&lt;/b&gt;" in items  # escaped
    for text in ("1,500.00 MXN", "3,000.00 MXN", "99.90 MXN", "tv-40"):
        assert text in items
    assert '"unit_price"' not in page  # no JSON dump
    assert "3,099.90 MXN" in page  # the total, in the folded amounts
    assert "Own API address" in page  # the environment in words, not "custom"


def test_the_card_is_read_tolerantly():
    translation.activate("en")
    order = make_order(merchant_order_id="PAGE-3")
    payment = Payment(order=order, orkestapay_payment_id="pay_x", method_type="CARD", amount=Decimal("1"))
    odd: tuple[object, ...] = (None, {}, {"payment_source": "CARD"}, {"payment_source": {"card": None}})
    for raw in odd:
        payment.raw = raw
        assert card_of(payment) == {}
        assert payment_method(payment) == "Card"
    payment.raw = {"payment_source": {"card": ["VISA", "4242"]}}  # not the shape a source shows
    assert card_of(payment) == {}
    payment.raw = {"payment_source": {"card": {"brand": "MASTERCARD"}}}  # no last four
    assert payment_method(payment) == "Card · Mastercard"
    payment.raw = {"payment_source": {"type": "SPEI", "spei": {"clabe": "646180"}}}
    payment.method_type = "SPEI"
    assert payment_method(payment) == "SPEI transfer"
    payment.method_type = ""
    assert payment_method(payment) == "-"


def test_the_refund_button_leads_to_the_one_time_confirmation_and_back(operator, paid, fake_orkestapay):
    confirm = operator.get(refund_url(paid))
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert 'data-testid="orkestapay-confirm"' in page
    assert "Order PAGE-1: 990.00 MXN left to refund" in page
    assert f'href="{change_url(paid)}" class="button cancel-link"' in page  # "No" goes back to the order
    assert Refund.objects.count() == 0  # showing the page does nothing

    form = {**confirmation_intent(confirm), "confirm": "yes", "amount": "200.00"}
    done = operator.post(refund_url(paid), form)
    assert done.status_code == 302
    assert done["Location"] == change_url(paid)
    again = operator.post(refund_url(paid), form, follow=True)  # the same page submitted twice
    assert messages_of(again)[-1].startswith("Already sent: this page made the refund of 200.00 MXN for Order PAGE-1")
    assert fake_orkestapay.count_requests("POST", prefix="/v1/payments/") == 1
    assert services.refundable_amount(paid) == Decimal("790.00")
    page = operator.get(change_url(paid)).content.decode()
    assert summary_of(page)["left"] == "790.00 MXN"


def test_the_refund_pages_amount_is_checked_beside_the_field(operator, paid, fake_orkestapay):
    confirm = operator.get(refund_url(paid))
    form = {**confirmation_intent(confirm), "confirm": "yes"}
    for typed, error in (
        ("0", "Enter an amount above zero."),
        ("-10", "A refund cannot be negative"),
        ("990.01", "990.01 MXN is more than is left to refund: at most 990.00 MXN."),
    ):
        response = operator.post(refund_url(paid), {**form, "amount": typed})
        assert response.status_code == 200
        assert error in response.content.decode()
    assert fake_orkestapay.count_requests("POST", prefix="/v1/payments/") == 0
    assert Refund.objects.count() == 0


def test_the_refund_page_needs_the_refund_permission(client, paid):
    user = get_user_model().objects.create_user("viewer", "v@example.com", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(user)
    page = client.get(change_url(paid)).content.decode()
    assert 'data-testid="orkestapay-order-summary"' in page
    assert 'data-testid="orkestapay-refund-button"' not in page
    assert client.get(refund_url(paid)).status_code == 403
    assert client.post(refund_url(paid), {"confirm": "yes"}).status_code == 403
    assert Refund.objects.count() == 0


def test_nothing_left_offers_no_refund_button(operator, paid):
    services.refund_order(paid)
    page = operator.get(change_url(paid)).content.decode()
    assert summary_of(page)["left"] == "0.00 MXN"
    assert 'data-testid="orkestapay-refund-button"' not in page
    response = operator.get(refund_url(paid), follow=True)
    assert messages_of(response) == ["1 selected row has nothing to refund and was left out."]


def test_the_refund_page_is_outside_atomic_requests(paid):
    assert getattr(resolve(refund_url(paid)).func, "_non_atomic_requests", None) == {"default"}


def test_the_review_column_warns_only_for_flagged_orders(operator):
    flagged = make_order(merchant_order_id="FLAGGED")
    Order.objects.filter(pk=flagged.pk).update(needs_review=True, review_code=ReviewCode.PAID_TWICE)
    make_order(merchant_order_id="NORMAL")
    page = operator.get(ORDERS).content.decode()
    flagged_row = page[page.index("FLAGGED") : page.index("</tr>", page.index("FLAGGED"))]
    normal_row = page[page.index("NORMAL") : page.index("</tr>", page.index("NORMAL"))]
    assert "icon-alert.svg" in flagged_row
    assert 'title="Paid more than once"' in flagged_row
    assert "icon-" not in normal_row  # no red cross, no tick: nothing alarming
    assert "icon-yes.svg" not in flagged_row


def test_lists_write_money_as_the_shop_does_in_mexican_spanish(operator, paid, settings):
    settings.LANGUAGES = [("es-mx", "Español (México)"), ("en", "English")]
    operator.defaults["HTTP_ACCEPT_LANGUAGE"] = "es-MX"
    Order.objects.filter(pk=paid.pk).update(total_amount=Decimal("1980.00"))
    orders = operator.get(ORDERS).content.decode()
    assert "1,980.00 MXN" in orders  # es-mx writes 1,980.00 (es would write 1 980,00)
    payments = operator.get(reverse("admin:orkestapay_payment_changelist")).content.decode()
    assert "990.00 MXN" in payments
    assert "Tarjeta · Visa •••• 4242" in payments
    page = operator.get(change_url(paid)).content.decode()
    assert summary_of(page)["received"] == "990.00 MXN"
    assert "Resumen" in page
    assert "Queda por reembolsar" in page


def test_a_recorded_last_error_is_on_the_summary_and_the_refresh_promise_holds(operator, paid, fake_orkestapay):
    fake_orkestapay.inject_fault("GET", "/v1/orders/*", "connection_reset", times=10)
    data = {"action": "refresh_from_orkestapay", "_selected_action": [str(paid.pk)]}
    operator.post(ORDERS, data)
    response = operator.post(ORDERS, {**data, "confirm": "yes"}, follow=True)
    assert messages_of(response)[-1] == "0 succeeded, 1 failed. Each failure is recorded on its order's last error."
    paid.refresh_from_db()
    assert "confirming status" in paid.last_error  # as promised
    page = operator.get(change_url(paid)).content.decode()
    assert 'data-testid="orkestapay-last-error"' in page
    assert "confirming status" in page


def test_the_order_page_queries_do_not_grow_with_its_history(operator, paid):
    url = change_url(paid)
    operator.get(url)
    with CaptureQueriesContext(connection) as one:
        assert operator.get(url).status_code == 200
    for amount in ("10", "20", "30"):
        services.refund_order(paid, amount=Decimal(amount))
    with CaptureQueriesContext(connection) as four:
        assert operator.get(url).status_code == 200
    assert len(four) == len(one)
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PARTIALLY_REFUNDED
    assert RefundStatus.SUCCEEDED in set(paid.refunds.values_list("status", flat=True))
