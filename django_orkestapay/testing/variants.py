"""The switches that give the fake another answer to one of the API's open questions (reference section 14).

Nobody has seen the real sandbox answer these yet; the sandbox probe (``python -m django_orkestapay.probe``) asks
them, and its tests flip these switches to show that the probe notices each difference. Every switch is a
resettable setting like the others (``fake.accepted_locales = ("ES_LATAM",)``, or ``POST /_fake/settings``);
:func:`check_variant` validates and normalises a value before it is stored.

=======================================  =============================  ===============================================
switch                                   default                        other answers
=======================================  =============================  ===============================================
``return_params_completed``              ``order_id``, ``payment_id``,  any of ``RETURN_VALUE_NAMES``, e.g. only
                                         ``checkout_id``                ``orderId``, or a ``signature``
``return_params_canceled``               ``order_id``, ``checkout_id``  the same names (``()``: none)
``return_keeps_query``                   ``True``                       ``False``: the shop's own query is dropped
``accepted_locales``                     ``None`` (any string)          a list, e.g. ``["ES_LATAM"]``: others are 400
``reject_duplicate_merchant_order_ids``  ``False``                      ``True``: a reused ``merchant_order_id`` is 400
``auth_failure_status``                  ``401``                        e.g. ``403``
``auth_failure_body``                    ``"standard"``                 ``AUTH_FAILURE_BODIES``
``checkout_read_shape``                  ``"full"`` (as created)        ``CHECKOUT_READ_SHAPES``
``product_id_fields``                    ``product_id``, ``id``         e.g. ``["id"]``: ``product_id`` alone is 400
``token_claims_lifetime``                ``None`` (``token_lifetime``)  seconds from the JWT's ``iat`` to ``exp``
``checkout_url_form``                    the profile's (rich ``path``)  ``CHECKOUT_URL_FORMS``: the guide's ``#/`` form
``order_read_fields``                    ``"guide"``                    ``ORDER_READ_FIELDS`` (evidence profile only)
=======================================  =============================  ===============================================

``return_params_completed``, ``return_params_canceled``, ``checkout_read_shape`` and ``checkout_url_form`` are in
the profiles' presets (``profiles.PROFILE_PRESETS``): the defaults above are the rich profile's; the evidence
profile (``DEFAULT_PROFILE``) sets ``order_id``, ``payment_id`` / none / ``redirect_only`` / ``guide``.

``idempotent_checkouts``, ``strict_amounts``, ``checkout_lifetime``, ``token_lifetime`` and
``cancel_marks_order_canceled`` answer other open questions and predate this module.
"""

from __future__ import annotations

from typing import Any

from .profiles import CHECKOUT_URL_FORMS, ORDER_READ_FIELDS

#: The return parameters the fake can append, and what each carries.
RETURN_VALUE_NAMES = (
    "order_id",
    "orderId",
    "payment_id",
    "paymentId",
    "checkout_id",
    "checkoutId",
    "merchant_order_id",
    "status",
    "signature",
)
#: ``GET /v1/checkouts/{id}``: as created; the order as a bare ``order_id``; without the redirect URL; 405; only
#: ``checkout_id`` and ``checkout_redirect_url`` (the one field a source reads: MT reuses a checkout by it).
CHECKOUT_READ_SHAPES = ("full", "without_order", "without_redirect_url", "unsupported", "redirect_only")
#: The body of a refused token: ``{request_id, category, message}``; ``{message}``; OAuth's
#: ``{error, error_description}``; nothing.
AUTH_FAILURE_BODIES = ("standard", "message", "oauth", "empty")
PRODUCT_ID_FIELDS = ("product_id", "id")

_NAME_LISTS = {
    "return_params_completed": RETURN_VALUE_NAMES,
    "return_params_canceled": RETURN_VALUE_NAMES,
    "product_id_fields": PRODUCT_ID_FIELDS,
}
_CHOICES = {
    "checkout_read_shape": CHECKOUT_READ_SHAPES,
    "auth_failure_body": AUTH_FAILURE_BODIES,
    "order_read_fields": ORDER_READ_FIELDS,
    "checkout_url_form": CHECKOUT_URL_FORMS,
}


def check_variant(name: str, value: Any) -> Any:
    """Validate one switch of this module (others pass through); lists become tuples. ValueError when invalid."""
    if name in _NAME_LISTS:
        allowed = _NAME_LISTS[name]
        if isinstance(value, str) or not all(isinstance(item, str) and item in allowed for item in value):
            raise ValueError(f"{name} must be a list of names from {', '.join(allowed)}")
        if name == "product_id_fields" and not value:
            raise ValueError("product_id_fields needs at least one field")
        return tuple(value)
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(_CHOICES[name])}")
    if name == "accepted_locales" and value is not None:
        if isinstance(value, str) or not all(isinstance(item, str) for item in value):
            raise ValueError("accepted_locales must be None or a list of locale strings")
        return tuple(value)
    if name == "auth_failure_status" and (not isinstance(value, int) or not 400 <= value <= 499):
        raise ValueError("auth_failure_status must be a 4xx status")
    return value
