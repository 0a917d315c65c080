"""The fake's two profiles: ``rich`` (every answer the fake can give) and ``evidence`` (only what sources show).

``FakeOrkestaPay(profile=...)`` (also ``fake.profile = ...``, ``POST /_fake/settings`` and ``--profile``) picks one;
``reset()`` restores the constructor's. The ``rich`` profile is the fake as it always was: orders embed their
payments, payments show ``captured`` and ``refunded``, orders become CANCELED, PAYMENT_ACTION_REQUIRED, EXPIRED,
PARTIALLY_REFUNDED, REFUNDED. The ``evidence`` profile answers only what OrkestaPay's public record shows (the guide,
the event-types pages, the vendor plugins; :data:`~django_orkestapay.testing.evidence.EVIDENCE` lists every answer
with its source) and, where the record shows nothing, the least it can: a shop whose tests pass against it relies
on nothing the real gateway was never seen to send.

A profile is two things:

* a **preset** (``PROFILE_PRESETS``): setting the profile sets these switches to the profile's values (a
  constructor argument left at ``None`` takes the profile's value; set a switch after the profile to deviate);
* **projections** (the functions below): the ``evidence`` profile's views are the ``rich`` views cut down to the
  fields a source shows, and its order and payment records move through fewer statuses (``orders``,
  ``payments`` and ``refunds`` ask :func:`is_evidence`).

``order_read_fields`` chooses what the evidence profile's ``GET /v1/orders/{id}`` carries: ``"guide"`` (the order
as the guide's create answer shows it) or ``"status_only"`` (``order_id`` and ``status``: all the vendor plugins read
on an order), so a test can show that the app copes without totals on read. The rich profile ignores it.
"""

from __future__ import annotations

from typing import Any, Protocol

from ._util import loads
from .wire import Response, json_response, new_request_id

PROFILES = ("rich", "evidence")
#: The profile a ``FakeOrkestaPay()`` built without ``profile=`` has (the pytest plugin's session fake reads
#: ``ORKESTAPAY_FAKE_PROFILE`` first): ``evidence``, so a shop's tests rely on nothing no source shows. The demo asks
#: for ``rich``.
DEFAULT_PROFILE = "evidence"
#: ``GET /v1/orders/{id}`` in the evidence profile: the guide's order object, or only ``order_id`` and ``status``.
ORDER_READ_FIELDS = ("guide", "status_only")
#: ``checkout_redirect_url``: ``{page}/checkout/{checkout_id}`` ("path"), or the guide's
#: ``{page}/#/checkout/{checkout_id}/{64 hex}`` ("guide"; ``GET {page}/`` then forwards a browser to the page).
CHECKOUT_URL_FORMS = ("path", "guide")

#: The switches each profile sets (the other switches keep their values when the profile changes).
PROFILE_PRESETS: dict[str, dict[str, Any]] = {
    "rich": {
        "cancel_marks_order_canceled": True,
        "emit_cancel_events": True,
        "return_params_completed": ("order_id", "payment_id", "checkout_id"),
        "return_params_canceled": ("order_id", "checkout_id"),
        "checkout_read_shape": "full",
        "checkout_url_form": "path",
    },
    "evidence": {
        "cancel_marks_order_canceled": False,
        "emit_cancel_events": False,
        "return_params_completed": ("order_id", "payment_id"),
        "return_params_canceled": (),
        "checkout_read_shape": "redirect_only",
        "checkout_url_form": "guide",
    },
}

#: The order object of the guide's create answer (``docs-en.orkestapay.com/docs/checkout-integration``), in its order.
#: The fake keeps its own copy of the app's ``client.evidence.GUIDE_ORDER_KEYS`` (it imports nothing of the app, so
#: that it stays an independent stand-in; ``tests/testing/test_evidence_profile.py`` holds the two together).
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
#: What the vendor plugins read on ``GET /v1/orders/{id}`` (WP ``class-orkestapay.php``: ``status``, ``order_id``).
STATUS_ONLY_ORDER_KEYS = ("order_id", "status")
#: The checkout of the guide's create answer, without its order.
GUIDE_CHECKOUT_KEYS = (
    "checkout_id",
    "checkout_redirect_url",
    "completed_redirect_url",
    "canceled_redirect_url",
    "allow_save_payment_methods",
    "locale",
    "placed_at",
)
#: The payment object of the current event-types page (``docs-en.orkestapay.com/docs/event-types``), ``data.payment``.
EVENT_PAYMENT_KEYS = (
    "payment_id",
    "order_id",
    "merchant_id",
    "merchant_order_id",
    "is_payment_link",
    "device_session_id",
    "status",
    "amount",
    "payment_source",
    "transactions",
    "created_at",
    "updated_at",
)
EVENT_SOURCE_KEYS = ("type", "payment_method_id", "settings", "card")
#: The only transaction type a source shows (the event-types examples); the rich profile's PURCHASE is shown so.
EVIDENCED_TRANSACTION_TYPE = "AUTHORIZE"
_CHARGE_TYPES = ("PURCHASE", EVIDENCED_TRANSACTION_TYPE)


class HasProfile(Protocol):
    """Settings that carry a profile (``FakeSettings``)."""

    profile: str
    order_read_fields: str


def check_profile(value: Any) -> str:
    """``value`` if it names a profile (ValueError otherwise)."""
    if value not in PROFILES:
        raise ValueError(f"unknown profile {value!r}; expected one of {', '.join(PROFILES)}")
    return str(value)


def preset(profile: str) -> dict[str, Any]:
    """The switch values ``profile`` sets (a fresh dict)."""
    return dict(PROFILE_PRESETS[check_profile(profile)])


def is_evidence(settings: HasProfile) -> bool:
    """Whether the fake answers in the evidence profile."""
    return settings.profile == "evidence"


def _pick(view: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: view[key] for key in keys if key in view}


# projections of the rich views ---------------------------------------------------------------------------------


def order_as_created(order: dict[str, Any]) -> dict[str, Any]:
    """The order of the create answer: the guide's fields (no ``payments``, ``payment_id``, timestamps)."""
    return _pick(order, GUIDE_ORDER_KEYS)


def order_read(order: dict[str, Any], fields: str) -> dict[str, Any]:
    """``GET /v1/orders/{id}``: the guide's order, or only ``order_id`` and ``status``."""
    return _pick(order, STATUS_ONLY_ORDER_KEYS if fields == "status_only" else GUIDE_ORDER_KEYS)


def checkout(view: dict[str, Any]) -> dict[str, Any]:
    """The create answer (and ``GET /v1/checkouts/{id}`` "full"): the guide's checkout and order."""
    shown = _pick(view, GUIDE_CHECKOUT_KEYS)
    shown["order"] = order_as_created(view["order"])
    return shown


def payment(view: dict[str, Any]) -> dict[str, Any]:
    """``GET /v1/payments/{id}`` and the events' ``data.payment``: the event-types payment object.

    ``amount`` is ``{authorized, currency}`` (no ``captured``, no ``refunded``: no source shows them); the
    ``payment_source`` keeps ``type``, ``payment_method_id``, ``settings`` and ``card``; ``transactions`` lists only
    the successful charge, typed AUTHORIZE (what a failed, pending or refund transaction looks like is unknown).
    """
    shown = _pick(view, EVENT_PAYMENT_KEYS)
    amount = view.get("amount") or {}
    shown["amount"] = {"authorized": amount.get("authorized", 0), "currency": amount.get("currency")}
    shown["payment_source"] = _pick(view.get("payment_source") or {}, EVENT_SOURCE_KEYS)
    shown["transactions"] = [
        {**transaction, "type": EVIDENCED_TRANSACTION_TYPE}
        for transaction in view.get("transactions") or []
        if transaction.get("type") in _CHARGE_TYPES and transaction.get("status") == "SUCCESS"
    ]
    return shown


def order_payments(view: dict[str, Any]) -> dict[str, Any]:
    """``GET /v1/orders/{id}/payments``: ``{content: [{payment_id, order_id}]}`` (the plugins read
    ``content[0].payment_id``; no page metadata)."""
    return {"content": [{"payment_id": item["payment_id"], "order_id": item["order_id"]} for item in view["content"]]}


def refund_answer(transaction: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/payments/{id}/refund``: ``{status, provider: {message}}``, what WP reads of it."""
    provider = transaction.get("provider") or {}
    return {"status": transaction["status"], "provider": {"message": provider.get("message")}}


def error_response(response: Response) -> Response:
    """An API error as ``{request_id, message}``: the Android/iOS SDKs' ``ErrorResponse`` has ``request_id`` (not
    optional) and an optional ``message``, which the PHP plugins show; ``category`` and ``validation_errors`` are
    optional there and their values are seen nowhere. Other responses pass unchanged."""
    if response.status is None or response.status < 400 or response.content_type != "application/json":
        return response
    try:
        body = loads(response.body)
    except ValueError:
        return response
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return response
    shown = {"request_id": body.get("request_id") or new_request_id(), "message": body["message"]}
    return json_response(response.status, shown, response.headers)
