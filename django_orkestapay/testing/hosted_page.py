"""The fake hosted checkout page: ``GET /checkout/{id}`` and its form actions (reference section 13.3).

The page is self-contained HTML (inline CSS, no external assets), in the checkout's language (``EN_US`` English,
anything else Spanish; :mod:`.hosted_page_texts`). Every button is a plain ``<form method=post>``, so
tests can drive it with an HTTP client and Playwright can click it by id: ``pay-button``, ``three-ds-button``,
``pending-button``, ``decline-button``, ``cancel-button`` (and ``three-ds-complete-button`` on the challenge).

The page shows ``GatewayState.page_view``, the same in both profiles. With ``checkout_url_form = "guide"`` the
``checkout_redirect_url`` is the guide's ``{page}/#/checkout/{id}/{token}``: a browser asks for ``{page}/`` (the
fragment never reaches a server), whose script forwards it to ``{page}/checkout/{id}``;
:func:`hosted_page_url` does the same for an HTTP client.
"""

from __future__ import annotations

import re
from decimal import Decimal
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ._util import to_decimal
from .hosted_page_texts import SPANISH, TEXTS, page_language
from .records import DEFAULT_CARD, PAID_STATUSES, THREE_DS_CARD, CheckoutClosed, CheckoutExpired, PaymentDeclined
from .state import GatewayState
from .wire import Request, Response, html_response, redirect_response

PAGE_PATH = re.compile(r"^/checkout/(?P<checkout_id>[^/]+)(?:/(?P<action>[a-z0-9-]+))?/?$")
GUIDE_FRAGMENT = re.compile(r"^/checkout/(?P<checkout_id>[^/]+)(?:/[^/]*)?$")
FORWARD_SCRIPT = 'var m=/^#\\/checkout\\/([^\\/]+)/.exec(location.hash);if(m){location.replace("checkout/"+m[1]);}'
ACTIONS = ("pay", "decline", "pay-pending", "cancel", "3ds")

CSS = """
*{box-sizing:border-box}body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:#eef1f6;color:#1f2937}.sandbox{background:#fde68a;color:#78350f;text-align:center;font-size:13px;
padding:6px}header{background:#1e3a8a;color:#fff;padding:18px 24px}header h1{margin:0;font-size:20px}
header small{opacity:.8}main{max-width:760px;margin:24px auto;padding:0 16px;display:grid;gap:16px}
.card{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:20px}
h2{font-size:16px;margin:0 0 12px}table{width:100%;border-collapse:collapse;font-size:14px}
th,td{padding:8px 4px;border-bottom:1px solid #e5e7eb;text-align:left}td.n,th.n{text-align:right}
tfoot td{border:0}.total td{font-size:18px;font-weight:700;border-top:2px solid #1f2937}
.muted{color:#6b7280;font-size:13px}label{display:block;font-size:13px;margin:8px 0 4px}
input{width:100%;padding:10px;border:1px solid #d1d5db;border-radius:8px;font-size:15px}
.row{display:grid;grid-template-columns:1fr 1fr;gap:12px}.actions{display:flex;flex-wrap:wrap;gap:10px;margin-top:14px}
.actions form{margin:0}button{border:0;border-radius:8px;padding:11px 16px;font-size:15px;cursor:pointer}
.primary{background:#2563eb;color:#fff}.secondary{background:#e5e7eb;color:#111827}.danger{background:#fee2e2;
color:#991b1b}.link{background:none;color:#2563eb;text-decoration:underline}
.alert{border-radius:10px;padding:14px 16px;font-size:14px}.error{background:#fee2e2;color:#991b1b}
.ok{background:#dcfce7;color:#166534}.warn{background:#fef3c7;color:#92400e}footer{text-align:center;
font-size:12px;color:#6b7280;margin:24px}
"""


def money(amount: Any, currency: str) -> str:
    """Format an amount for display: ``$1,000.50 MXN``, as the shop's pages write it in Mexican Spanish and English
    (``services.format_money``; the fake cannot import it: ``tests/test_money.py`` holds the two to one format)."""
    try:
        value = to_decimal(amount).quantize(Decimal("0.01"))
    except (ArithmeticError, ValueError):
        return f"{escape(str(amount))} {escape(currency)}"
    return f"${value:,.2f} {escape(currency)}"


def _layout(t: dict[str, str], title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="{t["lang"]}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · {escape(t['site'])}</title><style>{CSS}</style></head><body>"
        f'<div class="sandbox">{escape(t["sandbox"])}</div>'
        f"<header><h1>{escape(t['site'])}</h1><small>{escape(t['tagline'])}</small></header>"
        f"<main>{body}</main>"
        f"<footer>{escape(t['footer'])}</footer>"
        "</body></html>"
    )


def _texts(checkout: dict[str, Any]) -> dict[str, str]:
    """The page's words, in the checkout's language."""
    return TEXTS[page_language(checkout.get("locale"))]


def _product_rows(order: dict[str, Any]) -> str:
    currency = str(order.get("currency", ""))
    rows = []
    for product in order.get("products", []):
        rows.append(
            f'<tr class="product"><td class="product-name">{escape(str(product.get("name", "")))}</td>'
            f'<td class="n product-quantity">{escape(str(product.get("quantity", "")))}</td>'
            f'<td class="n product-unit-price">{money(product.get("unit_price", 0), currency)}</td></tr>'
        )
    return "".join(rows)


def _totals_rows(t: dict[str, str], order: dict[str, Any]) -> str:
    currency = str(order.get("currency", ""))
    subtotal = money(order.get("subtotal_amount"), currency)
    rows = [f'<tr><td colspan="2">{t["subtotal"]}</td><td class="n">{subtotal}</td></tr>']
    for discount in order.get("discounts") or []:
        amount = money(discount.get("amount", 0), currency)
        rows.append(f'<tr class="discount"><td colspan="2">{t["discount"]}</td><td class="n">-{amount}</td></tr>')
    shipping = order.get("shipping_details")
    if isinstance(shipping, dict) and shipping.get("amount") is not None:
        amount = money(shipping["amount"], currency)
        rows.append(f'<tr class="shipping"><td colspan="2">{t["shipping"]}</td><td class="n">{amount}</td></tr>')
    total = money(order.get("total_amount"), currency)
    rows.append(f'<tr class="total"><td colspan="2">{t["total"]}</td><td class="n" id="order-total">{total}</td></tr>')
    return "".join(rows)


def _summary(t: dict[str, str], order: dict[str, Any]) -> str:
    reference = f'<strong id="merchant-order-id">{escape(str(order.get("merchant_order_id")))}</strong>'
    email = f'<span id="customer-email">{escape(str(order.get("customer", {}).get("email", "")))}</span>'
    head = f'<th>{t["product"]}</th><th class="n">{t["quantity"]}</th><th class="n">{t["unit_price"]}</th>'
    return (
        f'<section class="card" id="order-summary"><h2>{t["summary"]}</h2>'
        f'<p class="muted">{t["order_and_customer"].format(order=reference, customer=email)}</p>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{_product_rows(order)}</tbody>"
        f"<tfoot>{_totals_rows(t, order)}</tfoot></table></section>"
    )


def _button_form(page_url: str, action: str, button_id: str, label: str, css: str, extra: str = "") -> str:
    return (
        f'<form method="post" action="{escape(page_url)}/{action}">{extra}'
        f'<button type="submit" id="{button_id}" class="{css}">{escape(label)}</button></form>'
    )


def _payment_panel(t: dict[str, str], checkout: dict[str, Any]) -> str:
    page_url = checkout["checkout_redirect_url"]
    order = checkout["order"]
    total = money(order.get("total_amount"), str(order.get("currency", "")))
    card_fields = (
        f'<label for="card-number">{t["card_number"]}</label>'
        f'<input id="card-number" name="card_number" form="pay-form" value="{DEFAULT_CARD}" autocomplete="off">'
        f'<div class="row"><div><label for="card-expiry">{t["expiry"]}</label>'
        '<input id="card-expiry" value="12/30" form="pay-form"></div>'
        f'<div><label for="card-cvc">{t["cvc"]}</label><input id="card-cvc" value="123" form="pay-form"></div></div>'
    )
    pay_form = (
        f'<form method="post" id="pay-form" action="{escape(page_url)}/pay">'
        f'<button type="submit" id="pay-button" class="primary">{t["pay"].format(total=total)}</button></form>'
    )
    three_ds = f'<input type="hidden" name="card_number" value="{THREE_DS_CARD}">'
    buttons = "".join(
        [
            pay_form,
            _button_form(page_url, "3ds", "three-ds-button", t["pay_3ds"], "secondary", three_ds),
            _button_form(page_url, "pay-pending", "pending-button", t["pay_spei"], "secondary"),
            _button_form(page_url, "decline", "decline-button", t["decline"], "danger"),
            _button_form(page_url, "cancel", "cancel-button", t["cancel"], "link"),
        ]
    )
    return (
        f'<section class="card" id="payment-panel"><h2>{t["card_payment"]}</h2>'
        f'{card_fields}<p class="muted">{t["test_cards"]}</p><div class="actions">{buttons}</div></section>'
    )


def _status_panel(t: dict[str, str], checkout: dict[str, Any]) -> str:
    status = checkout["order"]["status"]
    if status in PAID_STATUSES:
        link = escape(checkout["completed_redirect_url"])
        return (
            f'<section class="card alert ok" id="checkout-completed">{t["already_paid"]} '
            f'<a href="{link}">{t["back_to_shop"]}</a></section>'
        )
    if status == "PAYMENT_ACTION_REQUIRED":
        return f'<section class="card alert warn" id="checkout-pending">{t["waiting_spei"]}</section>'
    closed = t["closed"].format(status=escape(status))
    return f'<section class="card alert warn" id="checkout-closed">{closed}</section>'


def render_checkout(checkout: dict[str, Any], error: str | None = None, notice: str | None = None) -> str:
    """The main hosted page for a checkout view (as returned by ``GatewayState.page_view``), in its language;
    ``error`` and ``notice`` are keys of its texts, or sentences shown as they are."""
    t = _texts(checkout)
    parts = []
    if error:
        parts.append(f'<div class="alert error" id="payment-error" role="alert">{escape(t.get(error, error))}</div>')
    if notice:
        parts.append(f'<div class="alert warn" id="checkout-notice">{escape(t.get(notice, notice))}</div>')
    parts.append(_summary(t, checkout["order"]))
    if checkout["order"]["status"] == "CREATED":
        parts.append(_payment_panel(t, checkout))
    else:
        parts.append(_status_panel(t, checkout))
    return _layout(t, t["title_checkout"], "".join(parts))


def render_expired(checkout: dict[str, Any]) -> str:
    """The page of an expired checkout."""
    t = _texts(checkout)
    body = (
        f'<section class="card alert error" id="checkout-expired"><h2>{t["expired"]}</h2>'
        f"<p>{t['expired_hint']}</p></section>"
    )
    return _layout(t, t["title_expired"], body + _summary(t, checkout["order"]))


def render_three_ds(checkout: dict[str, Any], card_number: str) -> str:
    """A simulated 3-D Secure challenge; its button approves the payment."""
    t = _texts(checkout)
    hidden = (
        f'<input type="hidden" name="card_number" value="{escape(card_number)}">'
        '<input type="hidden" name="three_ds" value="passed">'
    )
    form = _button_form(
        checkout["checkout_redirect_url"], "pay", "three-ds-complete-button", t["three_ds_pay"], "primary", hidden
    )
    body = (
        f'<section class="card" id="three-ds-challenge"><h2>{t["three_ds"]}</h2>'
        f'<p>{t["three_ds_hint"]}</p><div class="actions">{form}</div></section>'
    )
    return _layout(t, t["title_3ds"], body)


def render_forwarder() -> str:
    """``GET {page}/``: the page a guide-form ``checkout_redirect_url`` opens; its script goes to the checkout."""
    t = TEXTS[SPANISH]
    body = (
        f'<section class="card" id="checkout-forward"><p>{escape(t["forward_hint"])}</p></section>'
        f"<script>{FORWARD_SCRIPT}</script>"
    )
    return _layout(t, t["title_forward"], body)


def hosted_page_url(redirect_url: str) -> str:
    """The hosted page's own address for a ``checkout_redirect_url`` in either form (``.../checkout/{id}``), where
    an HTTP client can GET the page and POST its actions (``{url}/pay``...)."""
    parts = urlsplit(redirect_url)
    match = GUIDE_FRAGMENT.match(parts.fragment)
    if match is None:
        return redirect_url
    path = f"{parts.path.rstrip('/')}/checkout/{match['checkout_id']}"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def render_not_found(checkout_id: str) -> str:
    """The page of an unknown checkout (no checkout, so no locale: Spanish)."""
    t = TEXTS[SPANISH]
    hint = t["not_found_hint"].format(checkout=f"<code>{escape(checkout_id)}</code>")
    body = f'<section class="card alert error" id="checkout-not-found"><h2>{t["not_found"]}</h2><p>{hint}</p></section>'
    return _layout(t, t["title_not_found"], body)


def _form(request: Request) -> dict[str, str]:
    fields = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in fields.items()}


def _needs_challenge(card: str | None, form: dict[str, str]) -> bool:
    digits = "".join(ch for ch in (card or "") if ch.isdigit())
    return digits == THREE_DS_CARD and form.get("three_ds") != "passed"


def _run_action(state: GatewayState, checkout_id: str, action: str, form: dict[str, str]) -> Response:
    card = form.get("card_number") or None
    if action == "3ds" or (action == "pay" and _needs_challenge(card, form)):
        view = state.page_view(checkout_id)
        if view["order"]["status"] == "EXPIRED":
            raise CheckoutExpired(f"checkout {checkout_id} has expired")
        if view["order"]["status"] == "CREATED":
            return html_response(200, render_three_ds(view, card or THREE_DS_CARD))
    if action in ("pay", "3ds"):
        return redirect_response(state.pay(checkout_id, card))
    if action == "pay-pending":
        return redirect_response(state.pay_pending(checkout_id))
    if action == "cancel":
        return redirect_response(state.cancel(checkout_id))
    state.decline(checkout_id, card)
    raise PaymentDeclined("declined by the test button")


def handle_page(state: GatewayState, request: Request) -> Response:
    """Serve ``GET /checkout/{id}`` and ``POST /checkout/{id}/{action}``."""
    if request.path == "/favicon.ico":
        return Response(204, b"", "image/x-icon")
    if request.path == "/":
        if request.method != "GET":
            return html_response(405, render_not_found(request.path))
        return html_response(200, render_forwarder())
    match = PAGE_PATH.match(request.path)
    if match is None:
        return html_response(404, render_not_found(request.path))
    checkout_id, action = match["checkout_id"], match["action"]
    try:
        view = state.page_view(checkout_id)
    except KeyError:
        return html_response(404, render_not_found(checkout_id))
    if action is None:
        if request.method != "GET":
            return html_response(405, render_checkout(view, notice="method_not_allowed"))
        if view["order"]["status"] == "EXPIRED":
            return html_response(200, render_expired(view))
        return html_response(200, render_checkout(view))
    if action not in ACTIONS or request.method != "POST":
        return html_response(404, render_not_found(checkout_id))
    return _page_action(state, checkout_id, action, _form(request))


def _page_action(state: GatewayState, checkout_id: str, action: str, form: dict[str, str]) -> Response:
    try:
        return _run_action(state, checkout_id, action, form)
    except PaymentDeclined:
        return html_response(200, render_checkout(state.page_view(checkout_id), error="declined"))
    except CheckoutExpired:
        return html_response(200, render_expired(state.page_view(checkout_id)))
    except CheckoutClosed as exc:
        return html_response(409, render_checkout(state.page_view(checkout_id), notice=str(exc)))
