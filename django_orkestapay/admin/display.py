"""How the admin writes what it shows: money in the shop's format with its currency (one helper, ``money``), short
dates for the lists, the review flag as a warning, a payment's method and card, the environment in words, and an
order's line items as a table."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.templatetags.static import static
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from .. import services
from ..models import Order, Payment, Refund

EMPTY = "-"

#: How the environment an order was created in reads (``conf.environment_label``: a BASE_URL is ``custom``).
ENVIRONMENTS = {
    "sandbox": gettext_lazy("Sandbox (test payments)"),
    "production": gettext_lazy("Production (real money)"),
    "custom": gettext_lazy("Own API address (ORKESTAPAY BASE_URL, such as a test gateway)"),
}
#: Payment methods by the ``payment_source.type`` OrkestaPay reports; others are shown as reported.
METHODS = {
    "CARD": gettext_lazy("Card"),
    "SPEI": gettext_lazy("SPEI transfer"),
}


def money(amount: Any, currency: str | None) -> str:
    """An amount as the shop writes it, with its currency (``1,000.00 MXN``): ``services.format_money``, or ``-``
    for no amount."""
    if amount is None or amount == "":
        return EMPTY
    try:
        return services.format_money(amount, currency or None)
    except ValueError:
        return str(amount)


def describe(obj: Any) -> str:
    """One line that names a record on a confirmation page, its money in the shop's format."""
    if isinstance(obj, Order):
        return f"{obj.merchant_order_id} · {money(obj.total_amount, obj.currency)} · {obj.get_status_display()}"
    if isinstance(obj, Payment):
        return f"{obj.orkestapay_payment_id} · {money(obj.amount, obj.currency)} · {obj.get_status_display()}"
    if isinstance(obj, Refund):
        return f"{money(obj.amount, obj.order.currency)} · {obj.get_status_display()} · {obj.order.merchant_order_id}"
    return str(obj)


def short_datetime(value: datetime | None) -> str:
    """A moment in the active language's short form, in the current time zone (``03/12/2026 11:04``)."""
    if value is None:
        return EMPTY
    return date_format(timezone.localtime(value) if timezone.is_aware(value) else value, "SHORT_DATETIME_FORMAT")


def warning(text: str, title: str = "") -> SafeString:
    """``text`` with the admin's alert icon: something a person must look at."""
    return format_html(
        '<span class="orkestapay-flag" title="{}"><img src="{}" alt="" width="14" height="14"> {}</span>',
        title or text,
        static("admin/img/icon-alert.svg"),
        text,
    )


def review_flag(order: Order) -> SafeString | str:
    """A flagged order's warning (an alert icon, what it is about on hover); nothing for an order that needs no
    review: a normal order shows nothing alarming."""
    if not order.needs_review:
        return ""
    return warning(pgettext("list flag", "Review"), order.get_review_code_display() or _("Needs review"))


def card_of(payment: Payment) -> dict[str, str]:
    """The card a payment was made with, from ``payment_source.card`` of OrkestaPay's last answer (``brand``,
    ``last_four``), read tolerantly: an empty dict when the answer has no card block or an odd one."""
    raw = payment.raw if isinstance(payment.raw, dict) else {}
    source = raw.get("payment_source")
    card = source.get("card") if isinstance(source, dict) else None
    if not isinstance(card, dict):
        return {}
    found = {key: str(card.get(key) or "").strip() for key in ("brand", "last_four")}
    return {key: value for key, value in found.items() if value}


def method_name(method_type: str) -> str:
    """A ``payment_source.type`` in words (``CARD``: *Card*); one we do not know, as reported."""
    return str(METHODS.get(method_type.upper(), method_type)) if method_type else ""


def payment_method(payment: Payment) -> str:
    """How a payment was made, in words: ``Card · Visa •••• 4242``, ``SPEI transfer``, or ``-``."""
    method = method_name(payment.method_type)
    card = card_of(payment)
    brand = card.get("brand", "").replace("_", " ").title()
    digits = f"•••• {card['last_four']}" if "last_four" in card else ""
    details = " ".join(part for part in (brand, digits) if part)
    return " · ".join(part for part in (method, details) if part) or EMPTY


def environment(value: str) -> str:
    """The environment an order was created in, in words."""
    return str(ENVIRONMENTS.get(value, value)) or EMPTY


def items_table(order: Order) -> SafeString:
    """The order's line items as a table: product, quantity, unit price and line total in the order's money."""
    rows = []
    for item in order.items if isinstance(order.items, list) else []:
        if not isinstance(item, dict):
            continue
        quantity, price = item.get("quantity"), _decimal(item.get("unit_price"))
        line = price * quantity if price is not None and isinstance(quantity, int) else None
        rows.append(
            (
                item.get("name") or item.get("product_id") or EMPTY,
                item.get("product_id") or "",
                quantity if quantity is not None else EMPTY,
                money(price, order.currency),
                money(line, order.currency),
            )
        )
    if not rows:
        return format_html("<p>{}</p>", EMPTY)
    labels = (_("Product"), _("Product id"), _("Quantity"), _("Unit price"), _("Line total"))
    head = format_html(
        "<thead><tr><th>{}</th><th>{}</th><th class='orkestapay-number'>{}</th>"
        "<th class='orkestapay-number'>{}</th><th class='orkestapay-number'>{}</th></tr></thead>",
        *labels,
    )
    body = format_html_join(
        "",
        "<tr><td data-label='{}'>{}</td><td data-label='{}'>{}</td>"
        "<td data-label='{}' class='orkestapay-number'>{}</td><td data-label='{}' class='orkestapay-number'>{}</td>"
        "<td data-label='{}' class='orkestapay-number'>{}</td></tr>",
        ([part for pair in zip(labels, row, strict=True) for part in pair] for row in rows),
    )
    return format_html(
        '<div class="orkestapay-scroll">'
        '<table class="orkestapay-table orkestapay-stack" data-testid="orkestapay-items">{}<tbody>{}</tbody></table>'
        "</div>",
        head,
        body,
    )


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None or isinstance(value, bool) else Decimal(str(value))
    except InvalidOperation:
        return None
