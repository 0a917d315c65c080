"""The ``POST /v1/checkouts`` body: only the fields a public source shows being sent to OrkestaPay, with the order's
taxes folded into the line prices the way OrkestaPay's own WordPress plugin sends them.

No public integration sends ``order.taxes`` (OrkestaPay's guide shows ``"taxes": []`` in an answer only; its
WordPress plugin has the field commented out and sends tax-inclusive prices; its Magento plugin sends a subtotal
without tax and a total with it, which breaks ``total = subtotal - discounts + shipping``). So by default the tax is
part of the prices: the lines carry it, ``subtotal_amount`` (their sum) includes it, and ``total_amount`` is the
order's own total. The body then adds up whichever of these OrkestaPay checks, if any:

* ``Σ quantity x unit_price = subtotal_amount``, exactly, every unit price in whole cents;
* ``total_amount = subtotal_amount - discounts + shipping``.

``order.taxes`` (and any later field no source shows) is sent only when ``SEND_UNCONFIRMED_FIELDS`` names it: turn
it on once the probe has confirmed it (its ``amounts.taxes`` and ``amounts.taxes_counted`` rows). The order itself
keeps its ``tax_amount`` and its own ``total = subtotal - discounts + shipping + taxes`` check; only what is sent
changes (OrkestaPay's answer is compared with the order on total and currency, which folding leaves as they are).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from .. import conf
from ..models import Checkout, Order
from .money import currency_places

#: ``order.taxes``: no public source sends it (see the module's docstring).
TAXES_FIELD = "order.taxes"


def _to_number(amount: Decimal) -> Decimal | int:
    return int(amount) if amount == amount.to_integral_value() else amount


def unconfirmed_fields_sent() -> frozenset[str]:
    """The fields of :data:`~django_orkestapay.conf.UNCONFIRMED_REQUEST_FIELDS` that ``SEND_UNCONFIRMED_FIELDS``
    turns on (an unknown name is :check:`orkestapay.E018` and sends nothing)."""
    named = conf.get("SEND_UNCONFIRMED_FIELDS") or ()
    if isinstance(named, str):
        named = (named,)
    return frozenset(named) & frozenset(conf.UNCONFIRMED_REQUEST_FIELDS)


def fold_taxes(items: Sequence[Mapping[str, Any]], tax: Decimal, *, places: int = 2) -> list[dict[str, Any]]:
    """The line items with ``tax`` folded into their unit prices (tax-inclusive prices), adding up to exactly
    ``Σ quantity x unit_price + tax``, every unit price a whole number of cents (``places`` decimals).

    1. The tax is spread over the lines in proportion to their amounts (by quantity when every line is free), in
       whole cents per unit, rounded down.
    2. The cents left over (fewer than the units) go to the lines in turn, largest amount first, as many whole
       cents per unit as each line's quantity allows: a line of quantity 1 takes all that is left.
    3. Cents still left over (every line has more units than cents remain) go on one unit of the largest line,
       split off as a line of its own (same product, one cent or a few dearer), so the sums stay exact.

    ``items`` are the order's normalized items (``unit_price`` a decimal string); the result has the same keys.
    """
    step = Decimal(1).scaleb(-places)
    cents = [int(Decimal(str(item["unit_price"])) / step) for item in items]
    quantities = [int(item["quantity"]) for item in items]
    remaining = int(tax / step)
    if remaining <= 0 or not items:
        return [dict(item) for item in items]
    amounts = [price * quantity for price, quantity in zip(cents, quantities, strict=True)]
    weights = amounts if sum(amounts) > 0 else quantities
    total_weight = sum(weights)
    per_unit = [remaining * w // (total_weight * q) for w, q in zip(weights, quantities, strict=True)]
    remaining -= sum(u * q for u, q in zip(per_unit, quantities, strict=True))
    largest_first = sorted(range(len(items)), key=lambda i: -weights[i])  # stable: the first line on a tie
    for index in largest_first:
        extra = remaining // quantities[index]
        per_unit[index] += extra
        remaining -= extra * quantities[index]
    lines: list[dict[str, Any]] = []
    split = largest_first[0] if remaining else None  # every quantity is now above the cents left: it is > 1
    for index, item in enumerate(items):
        price = cents[index] + per_unit[index]
        if index == split:
            lines.append({**item, "quantity": quantities[index] - 1, "unit_price": str(price * step)})
            lines.append({**item, "quantity": 1, "unit_price": str((price + remaining) * step)})
        else:
            lines.append({**item, "unit_price": str(price * step)})
    return lines


def build_checkout_payload(order: Order, checkout: Checkout) -> dict[str, Any]:
    """The ``POST /v1/checkouts`` body for one checkout of ``order``, in the documented shape; the order's taxes
    are folded into the line prices (:func:`fold_taxes`) unless ``SEND_UNCONFIRMED_FIELDS`` names
    ``order.taxes``."""
    send_taxes = TAXES_FIELD in unconfirmed_fields_sent()
    items: Sequence[Mapping[str, Any]] = order.items
    subtotal = order.subtotal_amount
    if order.tax_amount and not send_taxes:
        items = fold_taxes(order.items, order.tax_amount, places=currency_places(order.currency))
        subtotal += order.tax_amount
    payload_order: dict[str, Any] = {
        "merchant_order_id": checkout.merchant_reference,
        "currency": order.currency,
        "subtotal_amount": _to_number(subtotal),
        "country_code": order.country_code,
    }
    if order.discount_amount:
        payload_order["discounts"] = [{"amount": _to_number(order.discount_amount)}]
    if order.shipping_amount:
        payload_order["shipping_details"] = {"amount": _to_number(order.shipping_amount)}
    if order.tax_amount and send_taxes:
        payload_order["taxes"] = [{"amount": _to_number(order.tax_amount)}]
    payload_order["total_amount"] = _to_number(order.total_amount)
    payload_order["products"] = [
        {
            "product_id": item["product_id"],
            "name": item["name"],
            "quantity": item["quantity"],
            "unit_price": _to_number(Decimal(item["unit_price"])),
            **({"description": item["description"]} if item.get("description") else {}),
        }
        for item in items
    ]
    customer = {
        "first_name": order.customer_first_name,
        "last_name": order.customer_last_name,
        "email": order.customer_email,
    }
    if order.merchant_customer_id:
        customer["merchant_customer_id"] = order.merchant_customer_id
    payload_order["customer"] = customer
    if checkout.expires_at is not None:
        payload_order["expires_at"] = int(checkout.expires_at.timestamp() * 1000)
    return {
        "completed_redirect_url": checkout.completed_url,
        "canceled_redirect_url": checkout.canceled_url,
        "allow_save_payment_methods": bool(conf.get("ALLOW_SAVE_PAYMENT_METHODS")),
        "locale": checkout.locale,
        "order": payload_order,
    }
