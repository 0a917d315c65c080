"""Money validation: amounts and quantities that fit their columns or a clear ValidationError (a 400 page), never a
500 or a truncation; absurd amounts in API answers are malformed answers; operators' amounts read in their language."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from django_orkestapay import adapters, services
from django_orkestapay.models import Checkout, Event, EventStatus, Order, OrderStatus, ReviewCode
from tests.conftest import local_path, make_order
from tests.shop.models import Cart
from tests.test_webhooks import SECRET, deliver, payment_event

HUGE = Decimal("1000000000000")  # 10**12: one more digit than the money columns hold


@pytest.mark.parametrize("value", [Decimal("1.5"), "1.50", 2, 0, "999999999999.99", 0.1])
def test_amounts_that_fit_are_accepted(value: Any) -> None:
    assert services.validate_amount(value, "price") == Decimal(str(value)).quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "is not an amount"),
        (Decimal("NaN"), "is not an amount"),
        ("Infinity", "is not an amount"),
        (True, "is not an amount"),
        (None, "is not an amount"),
        (-1, "is negative"),
        (HUGE, "too large"),
        (Decimal("1E+30"), "too large"),
        ("1.001", "more than 2 decimal places"),
    ],
)
def test_amounts_that_do_not_fit_name_their_field(value: Any, message: str) -> None:
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        services.validate_amount(value, "price")
    assert list(caught.value.message_dict) == ["price"]
    assert message in caught.value.message_dict["price"][0]


@pytest.mark.parametrize("value", [2, "2", Decimal("2"), Decimal("2.0"), " 2 ", 1_000_000])
def test_whole_quantities_are_accepted(value: Any) -> None:
    assert services.validate_quantity(value, "quantity") == int(Decimal(str(value).strip()))


@pytest.mark.parametrize("value", [2.5, "2.5", Decimal("2.5"), True, False, 0, -1, 1_000_001, "abc", None, "1e400"])
def test_other_quantities_are_refused_not_truncated(value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        services.validate_quantity(value, "items[0].quantity")
    assert list(caught.value.message_dict) == ["items[0].quantity"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"quantity": 1, "unit_price": HUGE}, "items[0].unit_price"),
        ({"quantity": 1, "unit_price": Decimal("1E+40")}, "items[0].unit_price"),
        ({"quantity": 10**9, "unit_price": 1}, "items[0].quantity"),
        ({"quantity": 2.5, "unit_price": 400}, "items[0].quantity"),
        ({"quantity": 1_000_000, "unit_price": Decimal("999999999")}, "items[0]"),  # the line does not fit
    ],
)
def test_create_order_refuses_what_does_not_fit(item: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make_order(items=[{"name": "TV", **item}])
    assert field in caught.value.message_dict
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_create_order_refuses_a_total_that_does_not_fit() -> None:
    lines = [{"name": f"TV {n}", "quantity": 1, "unit_price": Decimal("999999999999")} for n in range(2)]
    with pytest.raises(ValidationError) as caught:
        make_order(items=lines, discount_amount=0)
    assert "subtotal_amount" in caught.value.message_dict
    assert Order.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "item",
    [
        {"quantity": 1, "unit_price": HUGE},
        {"quantity": 10**9, "unit_price": Decimal("400")},
        {"quantity": 2.5, "unit_price": Decimal("400")},
        {"quantity": "2.5", "unit_price": Decimal("400")},
    ],
)
def test_the_pay_view_answers_400_and_creates_nothing(client, monkeypatch, item: dict[str, Any]) -> None:
    cart = Cart.objects.create(reference="BIG")
    description = adapters.PaymentDescription(
        items=[{"name": "TV", **item}],
        customer={"first_name": "A", "last_name": "B", "email": "a@example.mx"},
    )
    monkeypatch.setattr(Cart, "orkestapay_payment", lambda self: description)
    response = client.post(reverse("orkestapay:pay"), {"object": adapters.sign_shop_object(cart)})
    assert response.status_code == 400
    assert b'data-testid="orkestapay-error"' in response.content
    assert (Order.objects.count(), Checkout.objects.count()) == (0, 0)


# -- amounts in OrkestaPay's answers ------------------------------------------------------------------------------


def started_and_paid(fake: Any) -> tuple[Order, str]:
    order = make_order()
    checkout = services.start_checkout(order, build_absolute_uri=lambda path: f"http://testserver{path}")
    return order, fake.pay(checkout.orkestapay_checkout_id)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("total", [Decimal("1E+30"), HUGE, Decimal("-990"), Decimal("990.001")])
def test_an_absurd_total_in_the_answer_is_read_as_not_said_and_flagged_on_the_return(
    client, orkestapay_settings, fake_orkestapay, total: Decimal
) -> None:
    """One unusable value never makes the whole answer unreadable (which no retry could ever fix): the total is
    read as not said, the payment's own 990 MXN pays the order, and a person is told about the odd total."""
    order, completed_url = started_and_paid(fake_orkestapay)
    fake_orkestapay.tamper_order(order.checkouts.get().orkestapay_order_id, total_amount=total)
    response = client.get(local_path(completed_url))
    assert response.status_code == 200  # the paid page, never a 5xx
    order.refresh_from_db()
    assert (order.status, order.needs_review, order.review_code) == (
        OrderStatus.PAID,
        True,
        ReviewCode.MALFORMED_ANSWER,
    )
    assert "total_amount is not a usable amount" in order.review_reason
    assert "total_amount is not a usable amount" in order.last_error


@pytest.mark.django_db(transaction=True)
def test_an_absurd_total_does_not_fail_the_webhook_event(settings, orkestapay_settings, fake_orkestapay) -> None:
    settings.ORKESTAPAY = {**orkestapay_settings, "WEBHOOK_SECRETS": [SECRET]}
    order, _url = started_and_paid(fake_orkestapay)
    order.refresh_from_db()
    remote_id = order.checkouts.get().orkestapay_order_id
    fake_orkestapay.tamper_order(remote_id, total_amount=Decimal("1E+30"))
    response = deliver(Client(enforce_csrf_checks=True), payment_event(order))
    assert response.json() == {"status": "processed"}
    assert Event.objects.get().status == EventStatus.PROCESSED
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.review_code) == (OrderStatus.PAID, ReviewCode.MALFORMED_ANSWER)


# -- amounts typed by an operator ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "1,000.00", Decimal("1000.00")),
        ("en", "1,000", Decimal("1000.00")),
        ("en", "1000.5", Decimal("1000.50")),
        ("en", " 990 ", Decimal("990.00")),
        ("en", "1,234,567.89", Decimal("1234567.89")),
        ("es", "1.000,00", Decimal("1000.00")),
        ("es", "1000,5", Decimal("1000.50")),
        ("es", "1.234.567", Decimal("1234567.00")),
    ],
)
def test_operator_amounts_follow_the_active_language(language: str, text: str, expected: Decimal) -> None:
    with translation.override(language):
        assert services.parse_localized_amount(text) == expected


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("es", "1,000"),  # three decimals in Spanish, not a thousand
        ("es", "990.00"),  # a Spanish thousands separator grouping two digits
        ("en", "1.000,00"),
        ("en", "12,34,567.00"),
        ("en", "1,000.001"),
        ("en", "abc"),
        ("en", ""),
        ("en", "-5"),
        ("en", "NaN"),
        ("en", "1e3"),
        ("en", "\u0661\u0660\u0660\u0660"),  # Arabic-Indic digits
        ("en", "1,000,000,000,000.00"),
    ],
)
def test_other_operator_amounts_are_refused_with_a_translated_message(language: str, text: str) -> None:
    with translation.override(language), pytest.raises(ValidationError) as caught:
        services.parse_localized_amount(text)
    message = " ".join(caught.value.messages)
    assert "ConversionSyntax" not in message
    assert ("Enter an amount such as" in message or "too large" in message) if language == "en" else True


def test_the_refusal_speaks_spanish() -> None:
    with translation.override("es"), pytest.raises(ValidationError) as caught:
        services.parse_localized_amount("1,000")
    assert caught.value.messages == ['Escribe un monto como 1.000,00 ("1,000" no lo es).']


@pytest.mark.parametrize(("language", "shown"), [("en", "889.50"), ("es", "889,50")])
def test_the_amount_offered_reads_back(language: str, shown: str) -> None:
    with translation.override(language):
        assert services.format_amount_for_input(Decimal("889.5")) == shown
        assert services.parse_localized_amount(shown) == Decimal("889.50")


@pytest.mark.parametrize("language", ["es-mx", "en"])
@pytest.mark.parametrize("amount", ["0", "7.5", "990", "1000", "1234567.89"])
def test_the_shop_and_the_hosted_page_write_money_one_way(language: str, amount: str) -> None:
    """The buyer sees one format on the shop's pages and on the (fake's) hosted page: ``$1,000.00 MXN``. The fake
    cannot import Django, so its own formatter is held to the app's here."""
    from django_orkestapay.testing.hosted_page import money

    with translation.override(language):
        assert services.format_money(Decimal(amount), "MXN") == money(Decimal(amount), "MXN")
