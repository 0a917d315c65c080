"""What the fake answers in each profile, point by point, and the public source behind the evidence profile's answer.

``EVIDENCE`` is the table the docs render (``.. orkestapay-fake-profiles::`` on the testing page). A source is
named by the tags of the project's research notes: *guide* (OrkestaPay's checkout-integration guide), *event-types*
(``docs-en.orkestapay.com/docs/event-types``, and the 13 Nov 2024 copy of ``docs.orkestapay.com/docs/en/event-types``),
WP (the vendor's WordPress plugin ``common-repository/orkestapay``), MGC (``orkestapay/magento-checkout``), MG and
WPC (the vendor's direct-card plugins), AND / IOS (the vendor's mobile SDKs), MT (a third-party shop run against the
sandbox: not authoritative). "No source" marks an answer the fake had to choose; the evidence profile then gives
the least it can, so that a shop cannot come to rely on it. U-numbers are the open questions of the research notes.
"""

from __future__ import annotations

from typing import NamedTuple


class EvidenceRow(NamedTuple):
    """One point: what the evidence profile answers, what the rich profile answers, and the source."""

    point: str
    evidence: str
    rich: str
    source: str


_GUIDE_ORDER = (
    "order_id, status, expires_at, merchant_order_id, country, country_code, currency, taxes, discounts, "
    "subtotal_amount, total_amount, products, customer{customer_id, first_name, last_name, email, created_at, "
    "updated_at}, placed_at, metadata"
)
_ERROR_SOURCE = (
    "AND core/networking/model/ErrorResponse.kt and IOS ErrorResponse.swift: request_id (required), category, "
    "message, error, validation_errors (optional); WP shows message (class-orkestapay-api.php). The values of "
    "category and the validation_errors of a given refusal are seen nowhere"
)

EVIDENCE: tuple[EvidenceRow, ...] = (
    # tokens and errors
    EvidenceRow(
        "POST /v1/oauth/tokens",
        "{token_type: Bearer, expires_in: 1800, access_token: <RS256 JWT>}",
        "the same",
        "guide, step 1 (its sample JWT's exp - iat is 180 s: token_claims_lifetime models it)",
    ),
    EvidenceRow(
        "Token refused (bad credentials, missing field)",
        "401 / 400 {request_id, message}",
        "401 {message}; 400 {message, validation_errors}",
        "no source (U17); the body as the SDKs' error model",
    ),
    EvidenceRow(
        "Bearer token refused",
        "401 {request_id, message} (auth_failure_body standard; the other bodies as they are)",
        "401 {request_id, category: AUTHENTICATION, message}",
        "no source (U16); the body as the SDKs' error model",
    ),
    EvidenceRow(
        "Any other API error (400, 404, 405, 409, 415)",
        "{request_id, message}",
        "{request_id, category, message, validation_errors} (400); {request_id, category, message} or {message}",
        _ERROR_SOURCE,
    ),
    # checkouts
    EvidenceRow(
        "POST /v1/checkouts answer",
        "checkout_id, checkout_redirect_url, completed_redirect_url, canceled_redirect_url, "
        f"allow_save_payment_methods, locale, placed_at, order{{{_GUIDE_ORDER}}}",
        "the same, and the order also carries created_at, updated_at, payments and the request's shipping_details, "
        "shipping_address, billing_address",
        "guide, 'Service response'",
    ),
    EvidenceRow(
        "checkout_redirect_url",
        "{page}/#/checkout/{checkout_id}/{64 hex} (checkout_url_form guide; GET {page}/ forwards a browser to the "
        "page, hosted_page_url() an HTTP client)",
        "{page}/checkout/{checkout_id} (checkout_url_form path)",
        "guide: https://checkout.dev.orkesta.io/#/checkout/chk_.../<64 hex>",
    ),
    EvidenceRow(
        "GET /v1/checkouts/{id}",
        "{checkout_id, checkout_redirect_url} (checkout_read_shape redirect_only)",
        "the create answer (full)",
        "MT create-checkout.ts reuses a checkout by its checkout_redirect_url (third party; U7)",
    ),
    # orders
    EvidenceRow(
        "GET /v1/orders/{id}",
        f"order_read_fields guide: {_GUIDE_ORDER}; status_only: order_id, status. Never payments or payment_id",
        "the guide's fields and created_at, updated_at, payments[{payment_id, status}], payment_id",
        "guide (the create answer's order); WP class-orkestapay.php reads status and order_id; the guide's step 6 "
        "'query our API to check the order status'. Embedded payments: no source (U5)",
    ),
    EvidenceRow("order.expires_at", "epoch ms as a string", "the same", 'guide: "expires_at": "1713566914212"'),
    EvidenceRow("Order status when created", "CREATED", "CREATED", "guide"),
    EvidenceRow(
        "Order status once paid",
        "COMPLETED",
        "COMPLETED",
        "WP class-orkestapay.php (STATUS_COMPLETED); event-types 18 Jul 2024 (order.update)",
    ),
    EvidenceRow(
        "Order status after a declined card",
        "CREATED (the buyer may try again)",
        "CREATED (FAILED with decline_marks_order_failed)",
        "no source; CREATED and COMPLETED are the only API constants seen",
    ),
    EvidenceRow(
        "Order status after the buyer cancels",
        "CREATED (cancel_marks_order_canceled off)",
        "CANCELED",
        "no source (U3); Canceled is a portal label (docs/en/orders), its API constant is unseen",
    ),
    EvidenceRow(
        "Order status while a SPEI / cash payment is pending",
        "CREATED",
        "PAYMENT_ACTION_REQUIRED",
        "no source (U5)",
    ),
    EvidenceRow(
        "Order status after expires_at",
        "CREATED: the hosted page refuses to take a payment; a payment already pending may still settle",
        "EXPIRED (on the next read)",
        "no source; Expired is a portal label only",
    ),
    EvidenceRow(
        "Order status after refunds",
        "COMPLETED",
        "PARTIALLY_REFUNDED, then REFUNDED",
        "no source; both are portal labels only",
    ),
    EvidenceRow(
        "GET /v1/orders/{id}/payments",
        "{content: [{payment_id, order_id}]}, in creation order, no page metadata (page metadata only when "
        "payments_page_size is set)",
        "a Spring page (content of whole payments, totalElements, totalPages, last...)",
        "WP class-orkestapay.php reads content[0].payment_id; order_id is assumed; the order of the list is unknown",
    ),
    # payments
    EvidenceRow(
        "GET /v1/payments/{id}",
        "payment_id, order_id, merchant_id, merchant_order_id, is_payment_link, device_session_id, status, amount, "
        "payment_source, transactions, created_at, updated_at",
        "the same keys",
        "event-types (data.payment); MGC Controller/Payment/Success.php reads status, payment_id, "
        "device_session_id, payment_source.payment_method_id",
    ),
    EvidenceRow(
        "payment.amount",
        "{authorized, currency} (authorized 0 until the money is taken)",
        "{authorized, captured, currency}, and refunded after a refund",
        "event-types (current and 13 Nov 2024); captured and refunded: no source (MT reads captured ?? authorized)",
    ),
    EvidenceRow(
        "payment.status",
        "COMPLETED (paid), REJECTED (declined), PAYMENT_ACTION_REQUIRED (SPEI / cash pending)",
        "the same, and CANCELED (buyer's cancel), PARTIALLY_REFUNDED, REFUNDED",
        "MG cc-form.js and WPC orkesta-payment.js (COMPLETED, REJECTED, FAILED, PAYMENT_ACTION_REQUIRED); "
        "event-types (AUTHORIZED); MT notes (PAYMENT_ACTION_REQUIRED for SPEI / cash)",
    ),
    EvidenceRow(
        "payment.payment_source",
        "{type, payment_method_id, settings{card{capture}}, card{bin, brand, card_type, expiration_month, "
        "expiration_year, holder_name, holder_last_name, issuer_bank_name, last_four, one_time_use}}; SPEI: "
        "{type: SPEI, payment_method_id}",
        "the same, and spei{clabe, bank} on a SPEI payment",
        "event-types; the SPEI type constant is assumed (docs.orkestapay.com/docs/spei names the method)",
    ),
    EvidenceRow(
        "payment.transactions",
        "only the successful charge: {transaction_id, type: AUTHORIZE, status: SUCCESS, code: APPROVED, message, "
        "amount, authorization_code, description, created_at, provider{...}}; [] on a declined or pending payment",
        "type PURCHASE; also the FAILED or PENDING charge, and every REFUND transaction",
        "event-types (AUTHORIZE / SUCCESS / APPROVED); other types and statuses: no source",
    ),
    EvidenceRow(
        "The payment after a refund",
        "unchanged but for updated_at (status COMPLETED, amount, transactions)",
        "PARTIALLY_REFUNDED or REFUNDED, amount.refunded, a REFUND transaction",
        "no source (U19): a shop must not learn a refund's amount from the payment",
    ),
    EvidenceRow(
        "A payment for the buyer's cancel",
        "none",
        "a CANCELED payment with authorized 0 (emit_cancel_events)",
        "no source",
    ),
    # refunds
    EvidenceRow(
        "POST /v1/payments/{id}/refund answer",
        "{status: SUCCESS | PENDING | FAILED, provider: {message}} (refund_outcome)",
        "the REFUND transaction {transaction_id, type, status, code, message, amount, authorization_code, "
        "description, created_at, provider{...}}",
        "WP process_refund: status === 'SUCCESS' means refunded, else provider.message; PENDING: no source",
    ),
    EvidenceRow(
        "Refund refused (over the balance, unpaid payment, merchant setting off)",
        "400 {request_id, message}",
        "400 {request_id, category: VALIDATION, message, validation_errors: []}",
        "no source (U18, U19); WP asks the merchant setting first and does not call the refund when it is off",
    ),
    EvidenceRow(
        "Refund Idempotency-Key",
        "the same key and body replay the answer for 24 h; another body: 409",
        "the same",
        "WP and MGC send a key; what the API does with it is unknown (U19)",
    ),
    EvidenceRow(
        "GET /v1/merchants/settings?id=AVAILABLE_REFUND_BY_ECOMMERCE",
        "{custom_settings: {AVAILABLE_REFUND_BY_ECOMMERCE: <bool>}}",
        "the same",
        "WP process_refund",
    ),
    EvidenceRow("GET /v1/merchants/providers/brands", "[{brand, logo}]", "the same", "WP payment_fields"),
    # the return
    EvidenceRow(
        "Return to completed_redirect_url",
        "the shop's URL, its own query kept, then order_id and payment_id",
        "the same, then order_id, payment_id and checkout_id",
        "WP reads $_GET['order_id'] (falling back to orderId) and its return URL is WooCommerce's api_request_url, "
        "?wc-api=... with plain permalinks (so the query is kept); MGC Success.php reads payment_id; checkout_id: "
        "no source (U1, U2)",
    ),
    EvidenceRow(
        "Return to canceled_redirect_url",
        "the shop's URL as it was sent (no parameters)",
        "the shop's URL, then order_id and checkout_id",
        "no integration reads a parameter there",
    ),
    # webhooks
    EvidenceRow(
        "Webhook envelope",
        "{data: {payment}, type: payment, type_event: <event>, version: 1} (webhook_payload_version v2026)",
        "the same",
        "event-types (current: data.payment, the rest of the envelope cut off; 13 Nov 2024: type, type_event, "
        "version). webhook_payload_version svix ({type: <event>, data: {payment}}) has no source",
    ),
    EvidenceRow(
        "Webhook data.payment",
        "the payment as GET /v1/payments/{id} shows it (above)",
        "the rich payment",
        "event-types",
    ),
    EvidenceRow(
        "Event on a successful payment, and when a pending SPEI / cash payment settles",
        "payment.purchase",
        "payment.purchase",
        "event-types: 'occurs when a payment is completed successfully' (a settling transfer assumed to be one)",
    ),
    EvidenceRow(
        "Event on a refund (through the API, or in the portal)",
        "payment.refund",
        "payment.refund",
        "event-types: 'occurs when a refund is issued for a payment'; docs/en/orders: 'Apply refund' in the portal",
    ),
    EvidenceRow(
        "Event on a declined card, or the buyer's cancel",
        "none",
        "payment.cancel (emit_cancel_events)",
        "event-types: payment.cancel 'occurs when an authorized payment has been canceled'",
    ),
    EvidenceRow(
        "Event when a pending refund fails",
        "none",
        "payment.refund",
        "event-types: payment.refund is a refund issued",
    ),
    EvidenceRow(
        "Webhook signature and retries",
        "Svix: svix-id, svix-timestamp, svix-signature (v1, HMAC-SHA256); retries at 0 s, 5 s, 5 min, 30 min, 2 h, "
        "5 h, 10 h, 10 h",
        "the same",
        "docs/en/message-verification; docs/programación-de-reintentos",
    ),
)
