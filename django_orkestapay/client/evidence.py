"""Every field the client reads from OrkestaPay or sends to it: its public source (or "assumed"), and what the app does
when it is absent or null, of another type, or out of range.

This table is the code's own account, rendered by the documentation's "What OrkestaPay's public record shows" page
(``docs/evidence.rst``); ``tests/test_evidence.py`` records every key the parsers actually read and every key the
requests actually carry and fails when this table and the code part ways. The sources are OrkestaPay's own: its
checkout guide (*guide*), its event-types pages (*events*, 2024 and current), its WordPress (*WP*), WooCommerce (*WC*)
and Magento (*MG*, *MGC*) plugins and its mobile SDKs (*SDK*); ``/shared/orkestapay-evidence.md`` in the project's
research holds the file and line of each. No Django here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DOCUMENTED_EVENT_TYPES", "FIELDS", "GUIDE_ORDER_KEYS", "READ", "SENT", "Field"]

READ, SENT = "read", "sent"

#: The order object of the guide's create answer (``docs-en.orkestapay.com/docs/checkout-integration``), in its order:
#: what the evidence fake answers and what the probe compares the real answer with.
GUIDE_ORDER_KEYS = (
    "order_id",
    "status",
    "expires_at",
    "merchant_order_id",
    "country",
    "country_code",
    "currency",
    "taxes",
    "discounts",
    "subtotal_amount",
    "total_amount",
    "products",
    "customer",
    "placed_at",
    "metadata",
)

#: The event types OrkestaPay documents (and the 2024 ones): the webhooks' ``HANDLED_EVENT_TYPES``, the probe's.
DOCUMENTED_EVENT_TYPES = frozenset(
    {
        "payment.purchase",
        "payment.capture",
        "payment.authorize",
        "payment.cancel",
        "payment.refund",
        "payment.update",
        "order.update",
    }
)


@dataclass(frozen=True)
class Field:
    """One field of one call: ``direction`` (read or sent), the ``call`` (a method and path, or an envelope), the
    ``name`` (dotted, ``[]`` for list items), the public ``source`` (``""``: no public source shows it: assumed),
    and what happens when it is absent or null, of another type, or out of range (for a sent field: when the shop's
    data has no value, and what keeps it in range)."""

    direction: str
    call: str
    name: str
    source: str
    absent: str
    other_type: str = "as absent"
    out_of_range: str = "—"

    @property
    def evidenced(self) -> bool:
        return bool(self.source)


_TOKEN = "POST /v1/oauth/tokens"  # noqa: S105 - a path, not a secret
_CHECKOUT = "POST /v1/checkouts"
_ORDER = "GET /v1/orders/{id}"
_LIST = "GET /v1/orders/{id}/payments"
_PAYMENT = "payment object (GET /v1/payments/{id}, a list item, a webhook's payment)"
_REFUND = "POST /v1/payments/{id}/refund"
_ERROR = "any error answer (4xx, 5xx)"
_WEBHOOK = "webhook envelope"
_RETURN = "the buyer's return URL"
_UNREADABLE = "the answer is unreadable: a malformed answer (flagged, never an endless 5xx)"
_NOT_SAID = "not said: the rest of the answer is used"
_NAMED = "not said, and named in the read's problems (the order flagged)"

FIELDS: tuple[Field, ...] = (
    # -- what we send --------------------------------------------------------------------------------------------
    Field(SENT, _TOKEN, "client_id", "guide step 1", "the call is not made: a configuration error names the key"),
    Field(SENT, _TOKEN, "client_secret", "guide step 1", "the call is not made: a configuration error names the key"),
    Field(SENT, _TOKEN, "grant_type", "guide step 1", "always client_credentials"),
    Field(SENT, _CHECKOUT, "completed_redirect_url", "guide step 2; WP; MGC", "always sent: our signed return URL"),
    Field(SENT, _CHECKOUT, "canceled_redirect_url", "guide step 2; WP; MGC", "always sent: our signed return URL"),
    Field(SENT, _CHECKOUT, "allow_save_payment_methods", "guide; WP; MGC (always false)", "false (a setting)"),
    Field(SENT, _CHECKOUT, "locale", "guide; MGC (ES_LATAM only)", "ES_LATAM"),
    Field(SENT, _CHECKOUT, "order.merchant_order_id", "guide; WP; MGC", "always sent: the attempt's reference"),
    Field(SENT, _CHECKOUT, "order.currency", "guide; MG", "the CURRENCY setting (MXN)"),
    Field(SENT, _CHECKOUT, "order.country_code", "guide", "the COUNTRY_CODE setting (MX)"),
    Field(SENT, _CHECKOUT, "order.subtotal_amount", "guide; WP; MGC", "always sent", out_of_range="refused before"),
    Field(SENT, _CHECKOUT, "order.total_amount", "guide; WP; MGC", "always sent", out_of_range="refused before"),
    Field(SENT, _CHECKOUT, "order.discounts[].amount", "guide; WP", "omitted when there is no discount"),
    Field(SENT, _CHECKOUT, "order.shipping_details.amount", "WP", "omitted when shipping is free"),
    Field(
        SENT,
        _CHECKOUT,
        "order.taxes[].amount",
        "",
        "not sent unless SEND_UNCONFIRMED_FIELDS names order.taxes (no source sends it): by default the tax is "
        "folded into the products' unit prices and the subtotal, as the WordPress plugin sends it",
    ),
    Field(SENT, _CHECKOUT, "order.products[].product_id", "WP; MGC; guide response", "the line's position"),
    Field(SENT, _CHECKOUT, "order.products[].name", "guide; WP; MGC", "required of the shop"),
    Field(SENT, _CHECKOUT, "order.products[].quantity", "guide; WP; MGC", "1"),
    Field(SENT, _CHECKOUT, "order.products[].unit_price", "guide; WP; MGC", "required of the shop"),
    Field(SENT, _CHECKOUT, "order.products[].description", "WP (at most 250 characters)", "omitted"),
    Field(SENT, _CHECKOUT, "order.customer.first_name", "guide", "required of the shop"),
    Field(SENT, _CHECKOUT, "order.customer.last_name", "guide", "required of the shop"),
    Field(SENT, _CHECKOUT, "order.customer.email", "guide", "required of the shop"),
    Field(SENT, _CHECKOUT, "order.customer.merchant_customer_id", "WP (left out for guests)", "omitted"),
    Field(SENT, _CHECKOUT, "order.expires_at", "WP (epoch milliseconds, now + 1 h)", "omitted: OrkestaPay chooses"),
    Field(SENT, _REFUND, "amount", "WP; MGC", "never sent without one", out_of_range="refused before"),
    Field(SENT, _REFUND, "description", "WP; MGC", "our default text"),
    Field(
        SENT,
        _REFUND,
        "Idempotency-Key (header)",
        "WP; MGC (sent, never sent again: whether OrkestaPay honours a repeat is not shown)",
        "always sent, from our refund row; a repeat only with TRUST_IDEMPOTENCY_KEYS or after a read proves the "
        "refund did not happen",
    ),
    # -- the token -----------------------------------------------------------------------------------------------
    Field(READ, _TOKEN, "access_token", "guide", "no token: a malformed answer, nothing else is asked"),
    Field(READ, _TOKEN, "expires_in", "guide (1800)", "no token: a malformed answer", out_of_range="as absent"),
    Field(READ, _TOKEN, "token_type", "guide (Bearer)", "Bearer"),
    # -- checkouts -----------------------------------------------------------------------------------------------
    Field(READ, _CHECKOUT, "checkout_id", "guide", "the checkout is marked failed, the buyer may retry"),
    Field(READ, _CHECKOUT, "checkout_redirect_url", "guide", "the checkout is marked failed, the buyer may retry"),
    Field(READ, _CHECKOUT, "order.order_id", "guide", "the checkout is marked failed, the buyer may retry"),
    Field(READ, _CHECKOUT, "order.status", "guide (CREATED)", "not said"),
    Field(READ, _CHECKOUT, "order.expires_at", "guide (epoch milliseconds, as a string)", "ours is kept"),
    # -- orders --------------------------------------------------------------------------------------------------
    Field(READ, _ORDER, "order_id", "WP; WC (vendor plugins read it)", _UNREADABLE),
    Field(READ, _ORDER, "status", "WP; WC (CREATED, COMPLETED)", _UNREADABLE, out_of_range="unknown: pending"),
    Field(
        READ,
        _ORDER,
        "total_amount",
        "",
        "not said: the payments' own amounts are compared with ours",
        _NAMED,
        _NAMED + " (negative, 10^12 or more, more than 2 decimals)",
    ),
    Field(READ, _ORDER, "subtotal_amount", "", "not said", _NAMED, _NAMED),
    Field(READ, _ORDER, "currency", "", "not said: the payments' own currencies are compared with ours", _NAMED),
    Field(READ, _ORDER, "merchant_order_id", "", "not compared", "not compared"),
    Field(READ, _ORDER, "expires_at", "", "not said"),
    Field(READ, _ORDER, "payment_id", "", "nothing: the payments list is read in any case"),
    Field(READ, _ORDER, "payment_ids", "", "nothing: the payments list is read in any case"),
    Field(READ, _ORDER, "payments[]", "", "nothing: the payments list is read in any case"),
    # -- an order's payments ---------------------------------------------------------------------------------------
    Field(READ, _LIST, "content", "WP; WC (content[0].payment_id)", _UNREADABLE + "; the order's own answer stands"),
    Field(READ, _LIST, "content[].payment_id", "WP; WC", "the item is left out and named in the read's problems"),
    Field(READ, _LIST, "last", "", "no further page", out_of_range="no further page"),
    Field(READ, _LIST, "totalPages", "", "no further page"),
    # -- a payment -------------------------------------------------------------------------------------------------
    Field(READ, _PAYMENT, "payment_id", "MGC; events", "not a payment: left out, named in the read's problems"),
    Field(READ, _PAYMENT, "order_id", "events", "taken from the order being read"),
    Field(
        READ,
        _PAYMENT,
        "status",
        "MGC; MG; events (COMPLETED, FAILED, REJECTED, PAYMENT_ACTION_REQUIRED, AUTHORIZED)",
        "read with GET /v1/payments/{id}; still not said: in progress (never money), named",
        out_of_range="an unknown status: in progress",
    ),
    Field(
        READ,
        _PAYMENT,
        "amount",
        "events (an object; July 2024: a number)",
        "read with GET /v1/payments/{id}; still not said: the order's total when the order vouches for it, else the "
        "payment is held in progress and named",
        _NAMED,
    ),
    Field(READ, _PAYMENT, "amount.captured", "", "amount.authorized", _NAMED, _NAMED),
    Field(READ, _PAYMENT, "amount.authorized", "events", "as amount absent", _NAMED, _NAMED),
    Field(READ, _PAYMENT, "amount.refunded", "", "nothing refunded elsewhere is mirrored", _NAMED, _NAMED),
    Field(READ, _PAYMENT, "amount.currency", "events", "currency, else currency_code, else ours"),
    Field(READ, _PAYMENT, "currency", "", "currency_code, else ours"),
    Field(READ, _PAYMENT, "currency_code", "events (July 2024)", "ours"),
    Field(READ, _PAYMENT, "captured_amount", "events (July 2024)", "as amount absent", _NAMED, _NAMED),
    Field(READ, _PAYMENT, "payment_source", "MGC; events", "no method shown"),
    Field(READ, _PAYMENT, "payment_source.type", "events (CARD, SPEI...)", "no method shown"),
    Field(READ, _PAYMENT, "transactions", "events", "our pending refunds stay pending until settled otherwise"),
    Field(READ, _PAYMENT, "transactions[].transaction_id", "events", "the transaction settles nothing"),
    Field(READ, _PAYMENT, "transactions[].status", "events (SUCCESS)", "the transaction settles nothing"),
    # -- refunds -----------------------------------------------------------------------------------------------------
    Field(READ, _REFUND, "status", "WP (SUCCESS)", "the refund's outcome is unknown: kept, settled by reconciliation"),
    Field(READ, _REFUND, "transaction_id", "", "settled by the payment's reads or by reconciliation"),
    Field(READ, _REFUND, "amount", "", "ours is kept"),
    Field(READ, _REFUND, "provider.message", "WP", "the top-level message, else none"),
    Field(READ, _REFUND, "message", "SDK error model", "none"),
    # -- errors ------------------------------------------------------------------------------------------------------
    Field(READ, _ERROR, "message", "SDK error model; WP", "error, else the status's own text"),
    Field(READ, _ERROR, "error", "SDK error model", "the status's own text"),
    Field(READ, _ERROR, "request_id", "SDK error model", "the X-Request-Id header, else none"),
    Field(READ, _ERROR, "category", "SDK error model", "none"),
    Field(READ, _ERROR, "validation_errors", "SDK error model", "none"),
    # -- webhooks (read by the service layer) ------------------------------------------------------------------------
    Field(READ, _WEBHOOK, "type_event", "events (November 2024)", "event_type, eventType, then type"),
    Field(READ, _WEBHOOK, "event_type", "events (July 2024)", "eventType, then type"),
    Field(READ, _WEBHOOK, "eventType", "WC (2024)", "type"),
    Field(READ, _WEBHOOK, "type", "Svix's convention (assumed for the current envelope)", "no name: recorded empty"),
    Field(READ, _WEBHOOK, "data", "events", "nothing names an order: stored as ignored"),
    Field(READ, _WEBHOOK, "data.payment", "events (current)", "data itself is the payment"),
    Field(READ, _WEBHOOK, "data(.payment).order_id", "events; MT", "the payment, then the reference name the order"),
    Field(READ, _WEBHOOK, "data(.payment).payment_id", "events", "the order, then the reference name the order"),
    Field(READ, _WEBHOOK, "data(.payment).merchant_order_id", "events", "nothing else names the order: ignored"),
    Field(READ, _WEBHOOK, "data(.payment).orderId", "WC (2024)", "as order_id absent"),
    Field(READ, _WEBHOOK, "data(.payment).paymentId", "", "as payment_id absent"),
    Field(READ, _WEBHOOK, "data(.payment).merchantOrderId", "WC (2024)", "as merchant_order_id absent"),
    # -- the return --------------------------------------------------------------------------------------------------
    Field(READ, _RETURN, "orkestapay (ours, signed)", "ours", "an invalid-link page: the order is untouched"),
    Field(READ, _RETURN, "order_id", "WP", "nothing: compared and logged only"),
    Field(READ, _RETURN, "payment_id", "MGC", "the payment is found through the payments list"),
    Field(READ, _RETURN, "paymentId", "", "the payment is found through the payments list"),
)
