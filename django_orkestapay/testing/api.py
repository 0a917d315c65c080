"""The fake's ``/v1`` API routes (reference sections 2, 5-9 and 13.1-13.4).

Every route receives the ``GatewayCore`` (settings and state), the request, its path match and the authenticated
client id; the token endpoint, Bearer authentication and Idempotency-Key replay live here too. In the evidence
profile every error body is ``{request_id, message}`` and a refund answers ``{status, provider: {message}}``
(``profiles``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import profiles
from ._util import dumps
from .core import GatewayCore
from .records import RefundError
from .validation import FieldError, message, summary_message, validate_checkout, validate_refund
from .wire import Request, Response, error_response, json_response, message_response, new_request_id

Handler = Callable[[GatewayCore, Request, "re.Match[str]", str], Response]
BRANDS = [
    {"brand": "VISA", "logo": "https://resources.orkestapay.example/brands/visa.svg"},
    {"brand": "MASTERCARD", "logo": "https://resources.orkestapay.example/brands/mastercard.svg"},
    {"brand": "AMERICAN_EXPRESS", "logo": "https://resources.orkestapay.example/brands/amex.svg"},
    {"brand": "CARNET", "logo": "https://resources.orkestapay.example/brands/carnet.svg"},
]


@dataclass(frozen=True)
class StoredResponse:
    """A response remembered under an Idempotency-Key."""

    fingerprint: str
    response: Response
    stored_at: float


def validation_response(errors: list[FieldError], language: str) -> Response:
    """400 ``{message, request_id, category: VALIDATION, validation_errors}``."""
    payload = {
        "message": summary_message(errors, language),
        "request_id": new_request_id(),
        "category": "VALIDATION",
        "validation_errors": [error.as_dict() for error in errors],
    }
    return json_response(400, payload)


def not_found(kind: str, object_id: str) -> Response:
    """404 for an unknown object."""
    return error_response(404, f"{kind} {object_id} not found", "NOT_FOUND")


def _json_body(core: GatewayCore, request: Request) -> tuple[Any, Response | None]:
    """Parse a JSON request body, or return the error response to send instead."""
    if request.body and not request.is_json():
        return None, message_response(415, "Content-Type must be application/json")
    try:
        return request.json(), None
    except ValueError:
        error = FieldError("body", message("body", core.settings.error_language))
        return None, validation_response([error], core.settings.error_language)


# tokens --------------------------------------------------------------------------------------------------------


def issue_token(core: GatewayCore, request: Request) -> Response:
    """``POST /v1/oauth/tokens`` (client credentials, JSON only)."""
    if not request.is_json():
        return message_response(415, "Content-Type must be application/json")
    body, error = _json_body(core, request)
    if error is not None:
        return error
    if not isinstance(body, dict):
        body = {}
    fields = ("client_id", "client_secret", "grant_type")
    missing = [f for f in fields if not isinstance(body.get(f), str) or not body.get(f)]
    if missing:
        errors = [{"field": f, "message": f"{f} is required"} for f in missing]
        return json_response(400, {"message": "Missing required fields", "validation_errors": errors})
    if body["grant_type"] != "client_credentials":
        errors = [{"field": "grant_type", "message": "grant_type must be client_credentials"}]
        return json_response(400, {"message": "Unsupported grant_type", "validation_errors": errors})
    if not _credentials_ok(core, body["client_id"], body["client_secret"]):
        return message_response(401, "Invalid client credentials")
    return json_response(200, core.state.issue_token(body["client_id"], core.settings.token_issuer()))


def _credentials_ok(core: GatewayCore, client_id: str, client_secret: str) -> bool:
    id_ok = hmac.compare_digest(client_id.encode(), core.settings.client_id.encode())
    secret_ok = hmac.compare_digest(client_secret.encode(), core.settings.client_secret.encode())
    return id_ok and secret_ok


def authenticate(core: GatewayCore, request: Request) -> str | Response:
    """Return the client id of a valid Bearer token, or the 401 response."""
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return auth_failure(core, "Missing bearer access token")
    client_id = core.state.token_client(token.strip())
    if client_id is None:
        return auth_failure(core, "Invalid or expired access token")
    return client_id


def auth_failure(core: GatewayCore, text: str) -> Response:
    """The answer to a missing, unknown or expired token: ``auth_failure_status`` with an ``auth_failure_body``."""
    status, style = core.settings.auth_failure_status, core.settings.auth_failure_body
    if style == "message":
        return message_response(status, text)
    if style == "oauth":
        return json_response(status, {"error": "invalid_token", "error_description": text})
    if style == "empty":
        return Response(status, b"", "text/plain; charset=utf-8")
    return _shaped(core, error_response(status, text, "AUTHENTICATION"))


def _shaped(core: GatewayCore, response: Response) -> Response:
    """An error answer in the profile's shape (evidence: ``{request_id, message}``)."""
    return profiles.error_response(response) if profiles.is_evidence(core.settings) else response


# idempotency ---------------------------------------------------------------------------------------------------


def _fingerprint(request: Request) -> str:
    try:
        canonical = dumps(_sorted(request.json())) if request.body else ""
    except ValueError:
        canonical = request.body.hex()
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def idempotent(core: GatewayCore, request: Request, client_id: str, process: Callable[[], Response]) -> Response:
    """Run ``process`` once per (client, method, path, Idempotency-Key); replay or refuse repeats (13.4)."""
    key = request.header("idempotency-key")
    if not key:
        return process()
    store = core.state.idempotency
    slot = (client_id, request.method, request.path, key)
    fingerprint = _fingerprint(request)
    with core.state.lock:
        stored: StoredResponse | None = store.get(slot)
        if stored is not None and core.settings.clock() - stored.stored_at > core.settings.idempotency_ttl:
            stored = None
        if stored is not None:
            if stored.fingerprint != fingerprint:
                text = "Idempotency-Key already used with a different request body"
                return message_response(core.settings.idempotency_conflict_status, text)
            replay = stored.response
            headers = {**replay.headers, "Idempotent-Replayed": "true"}
            return Response(replay.status, replay.body, replay.content_type, headers)
        response = process()
        if response.status is not None and response.status < 500:
            store[slot] = StoredResponse(fingerprint, response, core.settings.clock())
        return response


# checkouts, orders, payments -----------------------------------------------------------------------------------


def create_checkout(core: GatewayCore, request: Request, match: re.Match[str], client_id: str) -> Response:
    """``POST /v1/checkouts``."""

    def process() -> Response:
        body, error = _json_body(core, request)
        if error is not None:
            return error
        errors = validate_checkout(body, core.checkout_rules())
        if errors:
            return validation_response(errors, core.settings.error_language)
        return json_response(200, core.state.create_checkout(body))

    if core.settings.idempotent_checkouts:
        return idempotent(core, request, client_id, process)
    return process()


def get_checkout(core: GatewayCore, request: Request, match: re.Match[str], client_id: str) -> Response:
    """``GET /v1/checkouts/{id}``, in the ``checkout_read_shape`` the settings name."""
    shape = core.settings.checkout_read_shape
    if shape == "unsupported":
        return message_response(405, f"Method GET not allowed on {request.path}")
    try:
        view = core.state.checkout_view(match["id"])
    except KeyError:
        return not_found("Checkout", match["id"])
    if shape == "without_order":
        view["order_id"] = view.pop("order")["order_id"]
    elif shape == "without_redirect_url":
        del view["checkout_redirect_url"]
    elif shape == "redirect_only":
        view = {"checkout_id": view["checkout_id"], "checkout_redirect_url": view["checkout_redirect_url"]}
    return json_response(200, view)


def get_order(core: GatewayCore, request: Request, match: re.Match[str], client_id: str) -> Response:
    """``GET /v1/orders/{id}``."""
    try:
        return json_response(200, core.state.order_view(match["id"]))
    except KeyError:
        return not_found("Order", match["id"])


def get_order_payments(core: GatewayCore, request: Request, match: re.Match[str], client_id: str) -> Response:
    """``GET /v1/orders/{id}/payments`` (``?page=N`` when ``payments_page_size`` splits it into pages)."""
    try:
        view = core.state.order_payments_view(match["id"])
    except KeyError:
        return not_found("Order", match["id"])
    return json_response(200, _page(view, core.settings.payments_page_size, request.query.get("page", "0")))


def _page(view: dict[str, Any], size: int | None, page_param: str) -> dict[str, Any]:
    """One Spring-style page of ``size`` items (``None``: the whole list is one page, as before)."""
    if not size:
        return view
    page = int(page_param) if page_param.isdigit() else 0
    content = view["content"]
    pages = max(1, -(-len(content) // size))
    chunk = content[page * size : (page + 1) * size]
    return {
        **view,
        "content": chunk,
        "totalPages": pages,
        "size": size,
        "number": page,
        "numberOfElements": len(chunk),
        "first": page == 0,
        "last": page >= pages - 1,
        "empty": not chunk,
    }


def get_payment(core: GatewayCore, request: Request, match: re.Match[str], client_id: str) -> Response:
    """``GET /v1/payments/{id}``."""
    try:
        return json_response(200, core.state.payment_view(match["id"]))
    except KeyError:
        return not_found("Payment", match["id"])


def refund_payment(core: GatewayCore, request: Request, match: re.Match[str], client_id: str) -> Response:
    """``POST /v1/payments/{id}/refund`` with optional Idempotency-Key."""

    def process() -> Response:
        body, error = _json_body(core, request)
        if error is not None:
            return error
        errors = validate_refund(body, core.settings.error_language)
        if errors:
            return validation_response(errors, core.settings.error_language)
        try:
            transaction = core.state.refund(match["id"], body["amount"], body.get("description"))
        except KeyError:
            return not_found("Payment", match["id"])
        except RefundError as exc:
            return error_response(400, str(exc), "VALIDATION", validation_errors=[])
        if profiles.is_evidence(core.settings):
            transaction = profiles.refund_answer(transaction)
        return json_response(200, transaction)

    return idempotent(core, request, client_id, process)


def merchant_settings(core: GatewayCore, request: Request, match: re.Match[str], client_id: str) -> Response:
    """``GET /v1/merchants/settings?id=AVAILABLE_REFUND_BY_ECOMMERCE``."""
    settings = {"AVAILABLE_REFUND_BY_ECOMMERCE": core.settings.refunds_enabled}
    wanted = request.query.get("id")
    selected = {k: v for k, v in settings.items() if wanted in (None, "", k)}
    return json_response(200, {"custom_settings": selected})


def provider_brands(core: GatewayCore, request: Request, match: re.Match[str], client_id: str) -> Response:
    """``GET /v1/merchants/providers/brands``."""
    return json_response(200, BRANDS)


ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("POST", re.compile(r"^/v1/checkouts/?$"), create_checkout),
    ("GET", re.compile(r"^/v1/checkouts/(?P<id>[^/]+)/?$"), get_checkout),
    ("GET", re.compile(r"^/v1/orders/(?P<id>[^/]+)/?$"), get_order),
    ("GET", re.compile(r"^/v1/orders/(?P<id>[^/]+)/payments/?$"), get_order_payments),
    ("GET", re.compile(r"^/v1/payments/(?P<id>[^/]+)/?$"), get_payment),
    ("POST", re.compile(r"^/v1/payments/(?P<id>[^/]+)/refund/?$"), refund_payment),
    ("GET", re.compile(r"^/v1/merchants/settings/?$"), merchant_settings),
    ("GET", re.compile(r"^/v1/merchants/providers/brands/?$"), provider_brands),
]
TOKEN_PATH = re.compile(r"^/v1/oauth/tokens/?$")


def handle_api(core: GatewayCore, request: Request) -> Response:
    """Route one API request: token endpoint, then Bearer auth for every other ``/v1`` route."""
    if TOKEN_PATH.match(request.path):
        if request.method != "POST":
            return _shaped(core, message_response(405, f"Method {request.method} not allowed"))
        return _shaped(core, issue_token(core, request))
    if not request.path.startswith("/v1/"):
        return _shaped(core, message_response(404, f"No route for {request.method} {request.path}"))
    client_id = authenticate(core, request)
    if isinstance(client_id, Response):
        return client_id
    return _shaped(core, _dispatch(core, request, client_id))


def _dispatch(core: GatewayCore, request: Request, client_id: str) -> Response:
    path_known = False
    for method, pattern, handler in ROUTES:
        match = pattern.match(request.path)
        if match is None:
            continue
        path_known = True
        if method == request.method:
            return handler(core, request, match, client_id)
    if path_known:
        return message_response(405, f"Method {request.method} not allowed on {request.path}")
    return message_response(404, f"No route for {request.method} {request.path}")
