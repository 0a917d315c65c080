"""The hosted checkout page's words, in the checkout's language: ``EN_US`` English, anything else (``ES_LATAM``, the
only locale OrkestaPay documents, or none) Spanish, as OrkestaPay's page does. The Spanish says *orden*, as
OrkestaPay's own Spanish API messages do ("La fecha de vencimiento de la orden no es válida") and as the app and the
example shop do, and speaks to the buyer as *tú*.

Each entry is a ``str.format`` template; the page escapes what it inserts before formatting.
"""

from __future__ import annotations

SPANISH = "es"
ENGLISH = "en"

#: Checkout locales shown in English; every other locale is shown in Spanish.
ENGLISH_LOCALES = frozenset({"EN_US"})

TEXTS: dict[str, dict[str, str]] = {
    SPANISH: {
        "lang": SPANISH,
        "site": "OrkestaPay (pasarela simulada)",
        "sandbox": "Entorno de pruebas: no se realizan cargos reales",
        "tagline": "Checkout de prueba",
        "footer": "Pasarela OrkestaPay simulada para desarrollo y pruebas. Sin relación con OrkestaPay.",
        "title_checkout": "Checkout",
        "title_expired": "Checkout expirado",
        "title_3ds": "3-D Secure",
        "title_not_found": "No encontrado",
        "summary": "Resumen de la orden",
        "order_and_customer": "Orden {order} · Cliente {customer}",
        "product": "Producto",
        "quantity": "Cantidad",
        "unit_price": "Precio unitario",
        "subtotal": "Subtotal",
        "discount": "Descuento",
        "shipping": "Envío",
        "total": "Total",
        "card_payment": "Pago con tarjeta",
        "card_number": "Número de tarjeta",
        "expiry": "Vencimiento",
        "cvc": "CVC",
        "test_cards": "4242 4242 4242 4242 aprueba · 4000 0000 0000 0002 rechaza · 4000 0000 0000 2503 pide 3-D Secure",
        "pay": "Pagar {total}",
        "pay_3ds": "Pagar con 3-D Secure",
        "pay_spei": "Pagar con SPEI (pendiente)",
        "decline": "Simular rechazo",
        "cancel": "Cancelar y volver a la tienda",
        "already_paid": "Esta orden ya fue pagada.",
        "back_to_shop": "Volver a la tienda",
        "waiting_spei": "Esperando tu transferencia SPEI.",
        "closed": "Este checkout ya no acepta pagos (estado {status}).",
        "expired": "Este checkout ha expirado",
        "expired_hint": "Vuelve a la tienda e inicia el pago de nuevo.",
        "three_ds": "Verificación 3-D Secure",
        "three_ds_hint": "Tu banco pide confirmar esta compra.",
        "three_ds_pay": "Autenticar y pagar",
        "not_found": "Checkout no encontrado",
        "not_found_hint": "No existe el checkout {checkout}.",
        "title_forward": "Abriendo el checkout",
        "forward_hint": "Abriendo el checkout… Esta página necesita JavaScript para leer la dirección del checkout.",
        "declined": "Tu tarjeta fue rechazada. Intenta con otro método de pago.",
        "method_not_allowed": "Método no permitido",
    },
    ENGLISH: {
        "lang": ENGLISH,
        "site": "OrkestaPay (fake gateway)",
        "sandbox": "Test environment: no real charges",
        "tagline": "Test checkout",
        "footer": "Fake OrkestaPay gateway for development and tests. Not affiliated with OrkestaPay.",
        "title_checkout": "Checkout",
        "title_expired": "Checkout expired",
        "title_3ds": "3-D Secure",
        "title_not_found": "Not found",
        "summary": "Order summary",
        "order_and_customer": "Order {order} · Customer {customer}",
        "product": "Product",
        "quantity": "Quantity",
        "unit_price": "Unit price",
        "subtotal": "Subtotal",
        "discount": "Discount",
        "shipping": "Shipping",
        "total": "Total",
        "card_payment": "Card payment",
        "card_number": "Card number",
        "expiry": "Expiry",
        "cvc": "CVC",
        "test_cards": "4242 4242 4242 4242 approves · 4000 0000 0000 0002 declines · 4000 0000 0000 2503 asks for "
        "3-D Secure",
        "pay": "Pay {total}",
        "pay_3ds": "Pay with 3-D Secure",
        "pay_spei": "Pay with SPEI (pending)",
        "decline": "Simulate a decline",
        "cancel": "Cancel and return to the shop",
        "already_paid": "This order is already paid.",
        "back_to_shop": "Back to the shop",
        "waiting_spei": "Waiting for your SPEI transfer.",
        "closed": "This checkout no longer accepts payments (status {status}).",
        "expired": "This checkout has expired",
        "expired_hint": "Go back to the shop and start the payment again.",
        "three_ds": "3-D Secure verification",
        "three_ds_hint": "Your bank asks you to confirm this purchase.",
        "three_ds_pay": "Authenticate and pay",
        "not_found": "Checkout not found",
        "not_found_hint": "There is no checkout {checkout}.",
        "title_forward": "Opening the checkout",
        "forward_hint": "Opening the checkout… This page needs JavaScript to read the checkout's address.",
        "declined": "Your card was declined. Try another payment method.",
        "method_not_allowed": "Method not allowed",
    },
}


def page_language(locale: object) -> str:
    """The page's language for a checkout ``locale``: English for ``EN_US``, Spanish otherwise."""
    return ENGLISH if isinstance(locale, str) and locale.upper() in ENGLISH_LOCALES else SPANISH
