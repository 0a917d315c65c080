"""The checkout request body (services.checkout_body): only evidenced fields by default, the order's taxes folded
into the line prices so every sum OrkestaPay might check adds up, and ``order.taxes`` only when
``SEND_UNCONFIRMED_FIELDS`` names it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_orkestapay import services
from django_orkestapay.exceptions import InvalidRequestError
from django_orkestapay.models import Checkout, CheckoutStatus, Order, OrderStatus
from django_orkestapay.services.checkout_body import build_checkout_payload, fold_taxes
from tests.conftest import make_order

CUSTOMER = {"first_name": "Ana", "last_name": "López", "email": "ana@example.com"}


def body_of(order: Order) -> dict[str, Any]:
    checkout = Checkout(
        order=order,
        locale="ES_LATAM",
        merchant_reference=order.merchant_order_id,
        completed_url="https://shop.example/c/",
        canceled_url="https://shop.example/x/",
    )
    body: dict[str, Any] = build_checkout_payload(order, checkout)["order"]
    return body


def lines_of(body: dict[str, Any]) -> list[tuple[str, int, Decimal]]:
    return [(p["product_id"], p["quantity"], Decimal(str(p["unit_price"]))) for p in body["products"]]


def assert_adds_up(body: dict[str, Any]) -> None:
    """Every sum OrkestaPay might check: Σ lines = subtotal, total = subtotal - discounts + shipping (exactly)."""
    lines = sum((quantity * price for _, quantity, price in lines_of(body)), start=Decimal(0))
    discounts = sum((Decimal(str(d["amount"])) for d in body.get("discounts", [])), start=Decimal(0))
    shipping = Decimal(str(body.get("shipping_details", {}).get("amount", 0)))
    assert lines == Decimal(str(body["subtotal_amount"]))
    assert Decimal(str(body["total_amount"])) == Decimal(str(body["subtotal_amount"])) - discounts + shipping
    assert all(price == price.quantize(Decimal("0.01")) for _, _, price in lines_of(body))


@pytest.mark.django_db
def test_an_order_without_taxes_is_sent_as_it_is():
    order = make_order(shipping_amount=Decimal("99"))
    body = body_of(order)

    assert "taxes" not in body
    assert body["subtotal_amount"] == 1000
    assert body["total_amount"] == 1089
    assert lines_of(body) == [("7197", 1, Decimal("1000"))]
    assert_adds_up(body)


@pytest.mark.django_db
def test_taxes_are_folded_into_the_prices_and_the_subtotal_not_sent_as_a_field():
    order = make_order(tax_amount=Decimal("158.40"), shipping_amount=Decimal("99"))
    body = body_of(order)

    assert "taxes" not in body
    assert lines_of(body) == [("7197", 1, Decimal("1158.40"))]
    assert body["subtotal_amount"] == Decimal("1158.40")
    assert body["discounts"] == [{"amount": 10}]
    assert body["shipping_details"] == {"amount": 99}
    assert body["total_amount"] == Decimal("1247.40") == order.total_amount  # what the answer is compared with
    assert_adds_up(body)
    # the order itself keeps its own amounts
    order.refresh_from_db()
    assert (order.subtotal_amount, order.tax_amount) == (Decimal("1000.00"), Decimal("158.40"))
    assert order.items[0]["unit_price"] == "1000.00"


@pytest.mark.django_db
def test_taxes_spread_over_several_lines_in_proportion_whole_cents_per_unit():
    order = services.create_order(
        items=[
            {"product_id": "mug", "name": "Taza", "quantity": 2, "unit_price": Decimal("100.00")},
            {"product_id": "tee", "name": "Playera", "quantity": 1, "unit_price": Decimal("300.00")},
        ],
        customer=CUSTOMER,
        tax_amount=Decimal("80.00"),
    )
    body = body_of(order)

    assert lines_of(body) == [("mug", 2, Decimal("116.00")), ("tee", 1, Decimal("348.00"))]
    assert body["subtotal_amount"] == 580
    assert_adds_up(body)


@pytest.mark.django_db
def test_cents_that_do_not_divide_go_to_a_line_of_quantity_one():
    order = services.create_order(
        items=[
            {"product_id": "mug", "name": "Taza", "quantity": 3, "unit_price": Decimal("10.00")},
            {"product_id": "pin", "name": "Pin", "quantity": 1, "unit_price": Decimal("5.00")},
        ],
        customer=CUSTOMER,
        tax_amount=Decimal("1.02"),
    )
    body = body_of(order)

    # 102 cents in proportion, per unit, rounded down: 29 for each mug (87), 14 for the pin; the 1 cent left cannot
    # go whole to the 3 mugs, so the pin (quantity 1) takes it
    assert lines_of(body) == [("mug", 3, Decimal("10.29")), ("pin", 1, Decimal("5.15"))]
    assert_adds_up(body)


@pytest.mark.django_db
def test_cents_no_quantity_divides_split_one_unit_off_the_largest_line():
    order = services.create_order(
        items=[
            {"product_id": "mug", "name": "Taza", "quantity": 3, "unit_price": Decimal("10.00"), "description": "d"},
            {"product_id": "pin", "name": "Pin", "quantity": 2, "unit_price": Decimal("1.00")},
        ],
        customer=CUSTOMER,
        discount_amount=Decimal("0.50"),
        shipping_amount=Decimal("3.00"),
        tax_amount=Decimal("5.13"),
    )
    body = body_of(order)

    # 513 cents: 160 per mug (480), 16 per pin (32); the 1 cent left divides neither quantity: one mug is split off
    assert lines_of(body) == [
        ("mug", 2, Decimal("11.60")),
        ("mug", 1, Decimal("11.61")),
        ("pin", 2, Decimal("1.16")),
    ]
    assert [p.get("description") for p in body["products"]] == ["d", "d", None]
    assert body["subtotal_amount"] == Decimal("37.13")
    assert body["total_amount"] == Decimal("39.63") == order.total_amount
    assert_adds_up(body)


def test_fold_taxes_over_free_lines_spreads_by_quantity():
    items = [{"product_id": "a", "name": "A", "quantity": 2, "unit_price": "0.00"}]

    assert fold_taxes(items, Decimal("1.00")) == [{"product_id": "a", "name": "A", "quantity": 2, "unit_price": "0.50"}]
    assert fold_taxes(items, Decimal("0")) == items


@given(
    lines=st.lists(
        st.tuples(st.integers(1, 50), st.integers(0, 100_000)),  # quantity, unit price in cents
        min_size=1,
        max_size=6,
    ),
    tax_cents=st.integers(1, 5_000_000),
)
def test_folding_always_adds_up_exactly(lines, tax_cents):
    items = [
        {"product_id": str(i), "name": f"n{i}", "quantity": q, "unit_price": str(Decimal(c) / 100)}
        for i, (q, c) in enumerate(lines)
    ]
    tax = Decimal(tax_cents) / 100
    folded = fold_taxes(items, tax)

    before = sum((Decimal(i["unit_price"]) * i["quantity"] for i in items), start=Decimal(0))
    after = sum((Decimal(i["unit_price"]) * i["quantity"] for i in folded), start=Decimal(0))
    assert after == before + tax
    assert all(Decimal(i["unit_price"]) == Decimal(i["unit_price"]).quantize(Decimal("0.01")) for i in folded)
    assert all(i["quantity"] >= 1 for i in folded)
    assert len(items) <= len(folded) <= len(items) + 1
    # every product keeps its units, and no unit is cheaper than before
    for item in items:
        mine = [f for f in folded if f["product_id"] == item["product_id"]]
        assert sum(f["quantity"] for f in mine) == item["quantity"]
        assert all(Decimal(f["unit_price"]) >= Decimal(item["unit_price"]) for f in mine)


@pytest.mark.django_db
def test_order_taxes_is_sent_only_when_the_setting_names_it(settings):
    settings.ORKESTAPAY = {"SEND_UNCONFIRMED_FIELDS": ["order.taxes"]}
    order = make_order(tax_amount=Decimal("158.40"))
    body = body_of(order)

    assert body["taxes"] == [{"amount": Decimal("158.40")}]
    assert body["subtotal_amount"] == 1000
    assert lines_of(body) == [("7197", 1, Decimal("1000"))]
    assert body["total_amount"] == Decimal("1148.40")

    settings.ORKESTAPAY = {"SEND_UNCONFIRMED_FIELDS": ["order.taxe"]}  # a typo (orkestapay.E018) sends nothing
    assert "taxes" not in body_of(order)


@pytest.mark.django_db(transaction=True)
def test_a_taxed_checkout_passes_a_gateway_that_checks_the_sums(orkestapay_settings, fake_orkestapay):
    fake_orkestapay.strict_amounts = True
    order = services.create_order(
        items=[
            {"product_id": "mug", "name": "Taza", "quantity": 3, "unit_price": Decimal("149.90")},
            {"product_id": "tee", "name": "Playera", "quantity": 2, "unit_price": Decimal("249.99")},
        ],
        customer=CUSTOMER,
        discount_amount=Decimal("50"),
        shipping_amount=Decimal("99"),
        tax_amount=Decimal("143.91"),
    )
    checkout = services.start_checkout(order, build_absolute_uri=lambda path: f"https://shop.example{path}")

    [request] = [r for r in fake_orkestapay.request_log if r.path == "/v1/checkouts"]
    assert "taxes" not in request.json_body["order"]
    assert_adds_up(request.json_body["order"])
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    services.sync_order(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID  # OrkestaPay's total and currency agree with the order's
    assert not order.needs_review


@pytest.mark.django_db(transaction=True)
def test_order_taxes_is_refused_by_a_gateway_whose_sums_leave_it_out(orkestapay_settings, fake_orkestapay, settings):
    """Why the field is off by default: were OrkestaPay to check total = subtotal - discounts + shipping and ignore
    ``taxes`` (the fake's strict mode), every taxed checkout would be refused."""
    settings.ORKESTAPAY = {**orkestapay_settings, "SEND_UNCONFIRMED_FIELDS": ["order.taxes"]}
    fake_orkestapay.strict_amounts = True
    order = make_order(tax_amount=Decimal("158.40"))

    with pytest.raises(InvalidRequestError):
        services.start_checkout(order, build_absolute_uri=lambda path: f"https://shop.example{path}")
    assert order.checkouts.get().status == CheckoutStatus.FAILED
