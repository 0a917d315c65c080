"""The fake hosted checkout page: ``GET /checkout/{id}`` and its form actions (reference section 13.3).

The page is self-contained HTML (inline CSS, no external assets). Every button is a plain ``<form method=post>``, so
tests can drive it with an HTTP client and Playwright can click it by id: ``pay-button``, ``three-ds-button``,
``pending-button``, ``decline-button``, ``cancel-button`` (and ``three-ds-complete-button`` on the challenge).
"""

from __future__ import annotations

import re
from decimal import Decimal
from html import escape
from typing import Any
from urllib.parse import parse_qs

from ._util import to_decimal
from .records import DEFAULT_CARD, THREE_DS_CARD, CheckoutClosed, CheckoutExpired, PaymentDeclined
from .state import GatewayState
from .wire import Request, Response, html_response, redirect_response

PAGE_PATH = re.compile(r"^/checkout/(?P<checkout_id>[^/]+)(?:/(?P<action>[a-z0-9-]+))?/?$")
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
    """Format an amount for display: ``$1,000.50 MXN``."""
    try:
        value = to_decimal(amount).quantize(Decimal("0.01"))
    except (ArithmeticError, ValueError):
        return f"{escape(str(amount))} {escape(currency)}"
    return f"${value:,.2f} {escape(currency)}"


def _layout(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="es"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · OrkestaPay (fake sandbox)</title><style>{CSS}</style></head><body>"
        '<div class="sandbox">Entorno de pruebas: no se realizan cargos reales '
        "<small>(test environment: no real charges)</small></div>"
        "<header><h1>OrkestaPay (fake sandbox)</h1><small>Checkout de prueba · test checkout</small></header>"
        f"<main>{body}</main>"
        "<footer>Fake OrkestaPay gateway for development and tests. Not affiliated with OrkestaPay.</footer>"
        "</body></html>"
    )


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


def _totals_rows(order: dict[str, Any]) -> str:
    currency = str(order.get("currency", ""))
    rows = [f'<tr><td colspan="2">Subtotal</td><td class="n">{money(order.get("subtotal_amount"), currency)}</td></tr>']
    for discount in order.get("discounts") or []:
        amount = money(discount.get("amount", 0), currency)
        rows.append(f'<tr class="discount"><td colspan="2">Descuento</td><td class="n">-{amount}</td></tr>')
    shipping = order.get("shipping_details")
    if isinstance(shipping, dict) and shipping.get("amount") is not None:
        amount = money(shipping["amount"], currency)
        rows.append(f'<tr class="shipping"><td colspan="2">Envío</td><td class="n">{amount}</td></tr>')
    total = money(order.get("total_amount"), currency)
    rows.append(f'<tr class="total"><td colspan="2">Total</td><td class="n" id="order-total">{total}</td></tr>')
    return "".join(rows)


def _summary(order: dict[str, Any]) -> str:
    email = escape(str(order.get("customer", {}).get("email", "")))
    return (
        '<section class="card" id="order-summary"><h2>Resumen del pedido '
        f'<span class="muted">(order summary)</span></h2>'
        f'<p class="muted">Pedido <strong id="merchant-order-id">{escape(str(order.get("merchant_order_id")))}</strong>'
        f' · Cliente <span id="customer-email">{email}</span></p>'
        '<table><thead><tr><th>Producto</th><th class="n">Cantidad</th><th class="n">Precio unitario</th></tr>'
        f"</thead><tbody>{_product_rows(order)}</tbody><tfoot>{_totals_rows(order)}</tfoot></table></section>"
    )


def _button_form(page_url: str, action: str, button_id: str, label: str, css: str, extra: str = "") -> str:
    return (
        f'<form method="post" action="{escape(page_url)}/{action}">{extra}'
        f'<button type="submit" id="{button_id}" class="{css}">{label}</button></form>'
    )


def _payment_panel(checkout: dict[str, Any]) -> str:
    page_url = checkout["checkout_redirect_url"]
    order = checkout["order"]
    total = money(order.get("total_amount"), str(order.get("currency", "")))
    card_fields = (
        '<label for="card-number">Número de tarjeta <span class="muted">(card number)</span></label>'
        f'<input id="card-number" name="card_number" form="pay-form" value="{DEFAULT_CARD}" autocomplete="off">'
        '<div class="row"><div><label for="card-expiry">Vencimiento</label>'
        '<input id="card-expiry" value="12/30" form="pay-form"></div>'
        '<div><label for="card-cvc">CVC</label><input id="card-cvc" value="123" form="pay-form"></div></div>'
    )
    pay_form = (
        f'<form method="post" id="pay-form" action="{escape(page_url)}/pay">'
        f'<button type="submit" id="pay-button" class="primary">Pagar {total}</button></form>'
    )
    three_ds = f'<input type="hidden" name="card_number" value="{THREE_DS_CARD}">'
    buttons = "".join(
        [
            pay_form,
            _button_form(page_url, "3ds", "three-ds-button", "Pagar con 3-D Secure", "secondary", three_ds),
            _button_form(page_url, "pay-pending", "pending-button", "Pagar con SPEI (pendiente)", "secondary"),
            _button_form(page_url, "decline", "decline-button", "Simular rechazo", "danger"),
            _button_form(page_url, "cancel", "cancel-button", "Cancelar y volver a la tienda", "link"),
        ]
    )
    hint = (
        '<p class="muted">4242 4242 4242 4242 aprueba · 4000 0000 0000 0002 rechaza · '
        "4000 0000 0000 2503 pide 3-D Secure <small>(approve / decline / 3DS test cards)</small></p>"
    )
    return (
        '<section class="card" id="payment-panel"><h2>Pago con tarjeta</h2>'
        f'{card_fields}{hint}<div class="actions">{buttons}</div></section>'
    )


def _status_panel(checkout: dict[str, Any]) -> str:
    order = checkout["order"]
    status = order["status"]
    if status in ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"):
        link = escape(checkout["completed_redirect_url"])
        return (
            '<section class="card alert ok" id="checkout-completed">Este pedido ya fue pagado '
            f'<small>(already paid)</small>. <a href="{link}">Volver a la tienda</a></section>'
        )
    if status == "PAYMENT_ACTION_REQUIRED":
        return (
            '<section class="card alert warn" id="checkout-pending">Esperando tu transferencia SPEI '
            "<small>(waiting for the SPEI transfer)</small>.</section>"
        )
    return (
        '<section class="card alert warn" id="checkout-closed">'
        f"Este checkout ya no acepta pagos (estado {escape(status)}) "
        "<small>(this checkout no longer accepts payments)</small>.</section>"
    )


def render_checkout(checkout: dict[str, Any], error: str | None = None, notice: str | None = None) -> str:
    """The main hosted page for a checkout view (as returned by ``GatewayState.checkout_view``)."""
    parts = []
    if error:
        parts.append(f'<div class="alert error" id="payment-error" role="alert">{escape(error)}</div>')
    if notice:
        parts.append(f'<div class="alert warn" id="checkout-notice">{escape(notice)}</div>')
    parts.append(_summary(checkout["order"]))
    if checkout["order"]["status"] == "CREATED":
        parts.append(_payment_panel(checkout))
    else:
        parts.append(_status_panel(checkout))
    return _layout("Checkout", "".join(parts))


def render_expired(checkout: dict[str, Any]) -> str:
    """The page of an expired checkout."""
    body = (
        '<section class="card alert error" id="checkout-expired"><h2>Este checkout ha expirado</h2>'
        "<p>Vuelve a la tienda e inicia el pago de nuevo. <small>(This checkout has expired.)</small></p></section>"
    )
    return _layout("Checkout expirado", body + _summary(checkout["order"]))


def render_three_ds(checkout: dict[str, Any], card_number: str) -> str:
    """A simulated 3-D Secure challenge; its button approves the payment."""
    hidden = (
        f'<input type="hidden" name="card_number" value="{escape(card_number)}">'
        '<input type="hidden" name="three_ds" value="passed">'
    )
    form = _button_form(
        checkout["checkout_redirect_url"], "pay", "three-ds-complete-button", "Autenticar y pagar", "primary", hidden
    )
    body = (
        '<section class="card" id="three-ds-challenge"><h2>Verificación 3-D Secure</h2>'
        "<p>Tu banco pide confirmar esta compra. <small>(Simulated 3-D Secure challenge.)</small></p>"
        f'<div class="actions">{form}</div></section>'
    )
    return _layout("3-D Secure", body)


def render_not_found(checkout_id: str) -> str:
    """The page of an unknown checkout."""
    body = (
        '<section class="card alert error" id="checkout-not-found"><h2>Checkout no encontrado</h2>'
        f"<p>No existe el checkout <code>{escape(checkout_id)}</code>. <small>(Unknown checkout.)</small></p></section>"
    )
    return _layout("No encontrado", body)


def _form(request: Request) -> dict[str, str]:
    fields = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in fields.items()}


def _needs_challenge(card: str | None, form: dict[str, str]) -> bool:
    digits = "".join(ch for ch in (card or "") if ch.isdigit())
    return digits == THREE_DS_CARD and form.get("three_ds") != "passed"


def _run_action(state: GatewayState, checkout_id: str, action: str, form: dict[str, str]) -> Response:
    card = form.get("card_number") or None
    if action == "3ds" or (action == "pay" and _needs_challenge(card, form)):
        view = state.checkout_view(checkout_id)
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
    match = PAGE_PATH.match(request.path)
    if match is None:
        return html_response(404, render_not_found(request.path))
    checkout_id, action = match["checkout_id"], match["action"]
    try:
        view = state.checkout_view(checkout_id)
    except KeyError:
        return html_response(404, render_not_found(checkout_id))
    if action is None:
        if request.method != "GET":
            return html_response(405, render_checkout(view, notice="Método no permitido"))
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
        message = "Tu tarjeta fue rechazada. Intenta con otro método de pago. (Your card was declined.)"
        return html_response(200, render_checkout(state.checkout_view(checkout_id), error=message))
    except CheckoutExpired:
        return html_response(200, render_expired(state.checkout_view(checkout_id)))
    except CheckoutClosed as exc:
        return html_response(409, render_checkout(state.checkout_view(checkout_id), notice=str(exc)))
