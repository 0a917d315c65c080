"""JSON endpoints for headless front ends (a React or mobile app): start a payment, poll an order's status.

``POST api/pay/`` (``orkestapay:api_pay``) takes the reference the pay button posts (``{"order": ...}`` or
``{"object": ...}``) and answers ``{"redirect_url": ..., "order": ..., "status": ...}``: the same validation as the
pay view (:mod:`.paying`), its refusals as ``{"error": <stable code>, "message": <translated>}`` with the pay view's
HTTP status. ``GET api/status/?order=<signed order reference>`` (``orkestapay:api_status``) answers the order's
status, where its payment stands (``payment``: one of ``services.buyer_state.KINDS``; ``payable``: whether a pay
button would be taken) and, for a payment in progress, what the buyer must do (a transfer's CLABE and reference),
and nothing more. Both are guarded by Django's session and CSRF machinery (the POST needs the CSRF token,
checked here so that a refusal is JSON too) and by the shop's ``PAY_PERMISSION`` when it sets one (the rule the pay
button's view asks too).
"""

from __future__ import annotations

import json
import logging

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, RawPostDataException
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from . import services
from .adapters import OBJECT_FIELD
from .models import Order
from .paying import Refusal, pay_permission, refused_reference, start_payment
from .signing import PAY_FIELD, InvalidPayReference, load_pay_reference, sign_pay_reference

logger = logging.getLogger("django_orkestapay.headless")

#: The members of the JSON body that carry a reference (the pay form's field names).
REFERENCE_FIELDS = (PAY_FIELD, OBJECT_FIELD)


def error_response(error: str, message: str, http_status: int, order: Order | None = None) -> JsonResponse:
    """A refusal as JSON: ``error`` is a stable code for programs, ``message`` a sentence for the buyer, and the
    order's ``status`` when the reference named one (and the caller may see it)."""
    body = {"error": error, "message": message}
    if order is not None:
        body["status"] = order.status
    return JsonResponse(body, status=http_status)


def _refusal_response(refusal: Refusal) -> JsonResponse:
    response = error_response(refusal.error, refusal.message, refusal.status, refusal.order)
    if refusal.retry_after is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response


def _wrong_method(allowed: str) -> JsonResponse:
    response = error_response(
        "method_not_allowed", _("This address only answers %(method)s.") % {"method": allowed}, 405
    )
    response["Allow"] = allowed
    return response


def _csrf_failed(request: HttpRequest) -> bool:
    """Django's CSRF check (token from the ``X-CSRFToken`` header or the body, cookie or session, ``Origin`` and
    ``Referer``), run here rather than by the middleware so the refusal is JSON; Django logs the reason."""

    def endpoint(request: HttpRequest) -> HttpResponse:  # not csrf_exempt, so the check runs
        raise AssertionError("never called")

    check = CsrfViewMiddleware(endpoint)
    check.process_request(request)
    return check.process_view(request, endpoint, (), {}) is not None


def _json_references(request: HttpRequest) -> dict[str, str] | None:
    """The references a JSON object body carries (a member that is not a string counts as empty), or ``None`` when
    the body is not a JSON object. A multipart form is not: the CSRF check read it as a form, after which its raw
    body cannot be read (``RawPostDataException``)."""
    try:
        body = json.loads(request.body)
    except (ValueError, RequestDataTooBig, RawPostDataException):
        return None
    if not isinstance(body, dict):
        return None
    return {key: value if isinstance(value, str) else "" for key, value in body.items() if key in REFERENCE_FIELDS}


@csrf_exempt  # checked in the view, so that a refusal is JSON
@transaction.non_atomic_requests  # the service layer owns its transactions
@never_cache
def pay(request: HttpRequest) -> HttpResponse:
    """Start (or reuse) the checkout of the order a signed reference names; answer where to send the buyer."""
    if request.method != "POST":
        return _wrong_method("POST")
    if _csrf_failed(request):
        message = _("Your session has expired or this request did not come from the shop. Reload the page.")
        return error_response("csrf_failed", message, 403)
    references = _json_references(request)
    if references is None:
        return error_response("invalid_json", _("The request must be a JSON object."), 400)
    outcome = start_payment(request, references)
    if isinstance(outcome, Refusal):
        return _refusal_response(outcome)
    order = outcome.order
    return JsonResponse(
        {"redirect_url": outcome.redirect_url, "order": sign_pay_reference(order.pk), "status": order.status}
    )


@transaction.non_atomic_requests  # a pending order is read from OrkestaPay: never inside the request's transaction
@never_cache
def status(request: HttpRequest) -> HttpResponse:
    """The status of the order a signed reference names, for a front end that polls a pending payment.

    A pending order is confirmed with OrkestaPay at most once per ``RETURN_SYNC_INTERVAL`` (shared with the buyer's
    returns, :func:`services.poll_order`); anything else is read from the database, which the returns, the webhooks
    and ``orkestapay_sync`` keep current.
    """
    if request.method != "GET":
        return _wrong_method("GET")
    try:
        order_id = load_pay_reference(request.GET.get(PAY_FIELD))
    except InvalidPayReference as exc:
        return _refusal_response(refused_reference(request, exc.reason))
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return error_response("order_not_found", _("We could not find this order."), 404)
    permission = pay_permission()
    if permission is not None and not permission(request, order):
        logger.warning("PAY_PERMISSION refused a status request (order %s)", order.pk)
        return error_response("forbidden", _("You may not see this order."), 403)
    order = services.poll_order(order)
    state = services.payment_state(order)
    return JsonResponse(
        {
            "status": order.status,
            "status_label": order.get_status_display(),
            "paid": order.is_paid,
            "payable": state.payable,
            "payment": state.kind,
            "instructions": _instructions(state.instructions),
        }
    )


def _instructions(instructions: services.PaymentInstructions | None) -> dict[str, str | None] | None:
    """What a buyer with a payment in progress must do, for the front end to show: never the amount (whoever holds
    the reference may ask; the shop's own page shows what is owed)."""
    if instructions is None:
        return None
    expires_at = instructions.expires_at.isoformat() if instructions.expires_at else None
    return {
        "kind": instructions.kind,
        "clabe": instructions.clabe,
        "reference": instructions.reference,
        "bank": instructions.bank,
        "expires_at": expires_at,
    }
