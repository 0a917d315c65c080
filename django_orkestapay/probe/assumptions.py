"""What django-orkestapay assumes about OrkestaPay's API, in one place, and the request bodies the probe sends.

The values come from the package itself where it can be imported without a Django project (``conf``'s defaults,
``signing``); :data:`KNOWN_ORDER_STATUSES` mirrors ``services.sync.REMOTE_STATUS_MAP``, which cannot
(``tests/probe`` keeps the two in step), and :func:`package_checkout_body` mirrors
``services.checkouts.build_checkout_payload`` (its shape is tested against it the same way).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from .. import conf
from ..client.evidence import DOCUMENTED_EVENT_TYPES, GUIDE_ORDER_KEYS
from ..signing import RETURN_PARAM

#: ``expires_in`` of the documented token answer, in seconds.
DOCUMENTED_TOKEN_LIFETIME = 1800
#: The token answer's fields the client reads.
TOKEN_FIELDS = ("access_token", "token_type", "expires_in")
#: The checkout answer of OrkestaPay's guide, top level and ``order`` (the fake answers the same).
GUIDE_CHECKOUT_FIELDS = frozenset(
    {
        "checkout_id",
        "checkout_redirect_url",
        "completed_redirect_url",
        "canceled_redirect_url",
        "allow_save_payment_methods",
        "locale",
        "placed_at",
        "order",
    }
)
GUIDE_ORDER_FIELDS = frozenset(GUIDE_ORDER_KEYS)
#: How long a checkout lives when the request has no ``expires_at``: the fake's default (OrkestaPay's is unknown).
FAKE_CHECKOUT_LIFETIME = 3600
#: Return parameters: evidenced on the completed side (WooCommerce reads order_id, Magento payment_id); on the
#: canceled side nothing is evidenced, and the fake sends these.
COMPLETED_RETURN_PARAMS = ("order_id", "payment_id")
CANCELED_RETURN_PARAMS = ("order_id", "checkout_id")
#: Order statuses the package gives a meaning: ``services.sync.REMOTE_STATUS_MAP`` plus the pending ones it knows.
KNOWN_ORDER_STATUSES = frozenset(
    {
        "CREATED",
        "PROCESSING_PAYMENT",
        "PAYMENT_ACTION_REQUIRED",
        "COMPLETED",
        "CANCELED",
        "CANCELLED",
        "FAILED",
        "REJECTED",
        "EXPIRED",
        "PARTIALLY_REFUNDED",
        "REFUNDED",
    }
)
#: Payment statuses seen in OrkestaPay's documentation and plugins.
KNOWN_PAYMENT_STATUSES = frozenset(
    {
        "COMPLETED",
        "AUTHORIZED",
        "PAYMENT_ACTION_REQUIRED",
        "FAILED",
        "REJECTED",
        "CANCELED",
        "REFUNDED",
        "PARTIALLY_REFUNDED",
    }
)
#: Where the package reads a webhook's event name, in order (``services.webhooks.parse_webhook_payload``;
#: ``tests/probe`` keeps the two in step; ``type`` only when it names an event), and where it reads the payment:
#: ``data.payment``, else ``data``. Whatever the name, the package reads an event that names one of its orders.
EVENT_NAME_KEYS = ("type_event", "event_type", "eventType", "type")
#: The event names that make the package re-read the order (``services.webhooks.HANDLED_EVENT_TYPES``); others are
#: stored and ignored.
HANDLED_EVENT_TYPES = DOCUMENTED_EVENT_TYPES
#: The signature headers the package verifies (Svix's, or the Standard Webhooks names the Svix libraries accept).
SIGNATURE_HEADER_FAMILIES = (
    ("svix-id", "svix-timestamp", "svix-signature"),
    ("webhook-id", "webhook-timestamp", "webhook-signature"),
)
#: Hosts a ``checkout_redirect_url`` may point at unless ``CHECKOUT_HOSTS`` says otherwise.
TRUSTED_CHECKOUT_HOSTS: tuple[str, ...] = conf.DEFAULT_CHECKOUT_HOSTS
#: The checkout locales the package sends with its default settings.
DEFAULT_LOCALES: tuple[str, ...] = tuple(dict.fromkeys(conf.DEFAULTS["LANGUAGE_LOCALES"].values()))
#: A value shaped like the package's signed return parameter (``django.core.signing``: base64, ``:``, ``-``, ``_``).
RETURN_VALUE = "eyJvIjoicHJvYmUifQ:1uPr0b:Zm9vYmFyLWJhel9xdXV4_-0"
#: The shop's own return URLs for the questions that never come back (as in OrkestaPay's guide).
EXAMPLE_COMPLETED_URL = f"https://example.com/orkestapay/completed/?{urlencode({RETURN_PARAM: RETURN_VALUE})}"
EXAMPLE_CANCELED_URL = f"https://example.com/orkestapay/canceled/?{urlencode({RETURN_PARAM: RETURN_VALUE})}"

#: The guide's product, and its id (sent as ``products[].id`` as in the guide, or as ``product_id``).
GUIDE_PRODUCT_ID = "7197"
_GUIDE_PRODUCT = {"name": "Pantalla TCL Smart TV Serie A3 A343 HD Android TV 40", "quantity": 1, "unit_price": 1000}


def guide_checkout_body(
    merchant_order_id: str,
    email: str,
    *,
    completed_url: str = EXAMPLE_COMPLETED_URL,
    canceled_url: str = EXAMPLE_CANCELED_URL,
    product_key: str = "id",
    **order_changes: Any,
) -> dict[str, Any]:
    """The sample request of OrkestaPay's checkout guide (1000 MXN, 10 off, 990), with our own reference, e-mail
    and return URLs, the product id under ``product_key``; ``order_changes`` replace ``order`` fields."""
    order: dict[str, Any] = {
        "merchant_order_id": merchant_order_id,
        "currency": "MXN",
        "subtotal_amount": 1000,
        "country_code": "MX",
        "discounts": [{"amount": 10}],
        "total_amount": 990,
        "products": [{product_key: GUIDE_PRODUCT_ID, **_GUIDE_PRODUCT}],
        "customer": {"first_name": "John", "last_name": "Doe", "email": email},
    }
    order.update(order_changes)
    return {
        "completed_redirect_url": completed_url,
        "canceled_redirect_url": canceled_url,
        "allow_save_payment_methods": False,
        "locale": "ES_LATAM",
        "order": order,
    }


def package_checkout_body(merchant_order_id: str, email: str, *, expires_at_ms: int) -> dict[str, Any]:
    """A request shaped as the package builds one by default: ``product_id`` and ``description``, a discount,
    shipping, a merchant customer id, ``expires_at``, and the order's taxes (16.51 on two mugs at 450.50) folded
    into the line prices and the subtotal (no ``order.taxes``: ``SEND_UNCONFIRMED_FIELDS`` leaves it out). The odd
    cent splits the line in two with the same ``product_id``, as ``services.checkout_body.fold_taxes`` does."""
    return {
        "completed_redirect_url": EXAMPLE_COMPLETED_URL,
        "canceled_redirect_url": EXAMPLE_CANCELED_URL,
        "allow_save_payment_methods": False,
        "locale": "ES_LATAM",
        "order": {
            "merchant_order_id": merchant_order_id,
            "currency": "MXN",
            "subtotal_amount": Decimal("917.51"),
            "country_code": "MX",
            "discounts": [{"amount": 1}],
            "shipping_details": {"amount": 99},
            "total_amount": Decimal("1015.51"),
            "products": [
                {
                    "product_id": "probe-1",
                    "name": "Taza de prueba",
                    "quantity": 1,
                    "unit_price": unit_price,
                    "description": "Probe item",
                }
                for unit_price in (Decimal("458.75"), Decimal("458.76"))
            ],
            "customer": {
                "first_name": "Ana",
                "last_name": "López",
                "email": email,
                "merchant_customer_id": "probe-customer",
            },
            "expires_at": expires_at_ms,
        },
    }


#: The taxes of :func:`taxes_checkout_body`: IVA (16 %) on the guide's 990.
GUIDE_TAXES = Decimal("158.40")


def taxes_checkout_body(merchant_order_id: str, email: str, *, counted: bool = True) -> dict[str, Any]:
    """The guide's sample with ``order.taxes`` as the package sends it when ``SEND_UNCONFIRMED_FIELDS`` names
    ``order.taxes``: the subtotal without them and, when ``counted``, a total with them (1148.40); else the total
    without them (990), to learn whether OrkestaPay counts them."""
    total = Decimal(990) + (GUIDE_TAXES if counted else 0)
    return guide_checkout_body(merchant_order_id, email, taxes=[{"amount": GUIDE_TAXES}], total_amount=_number(total))


def _number(amount: Decimal) -> Decimal | int:
    return int(amount) if amount == amount.to_integral_value() else amount
