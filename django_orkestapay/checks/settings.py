"""Checks of ``settings.ORKESTAPAY`` itself: its type and keys, environment, timeouts, token lock, webhook secrets,
callables (adapter, pay permission), checkout lifetime, the bounds on each visitor's work, the unconfirmed request
fields and (in :mod:`.background`) background work."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured

from .. import conf
from ..webhook_verification import MIN_SECRET_BYTES, decode_secret
from ._common import (
    _BOUND_KEYS,
    _SETTING,
    _TIMEOUT_KEYS,
    _TOKEN_LOCK_KEYS,
    _effective,
    _is_non_negative,
    _is_number,
    _is_positive_number,
    _key,
    _raw_setting,
)
from .background import background_work


def check_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Validate ``settings.ORKESTAPAY``: its type, its keys, environment, timeouts, token lock timings, webhook
    secrets, callables, checkout lifetime, background work, the bounds on each visitor's work, the idempotency key
    lifetime and the unconfirmed request fields (orkestapay.E001, E002, E004 to E006, E009 to E018, W001, W005). The
    credentials are a deploy check (:func:`.environment.check_deployment`): these checks run before every
    ``migrate`` and ``runserver``, on machines that have no credentials by design (a CI build, an image build, a new
    clone)."""
    user = _raw_setting()
    if not isinstance(user, dict):
        return [
            Error(
                f"The setting must be a dict, not {type(user).__name__}.",
                hint='Write ORKESTAPAY = {"CLIENT_ID": ..., "CLIENT_SECRET": ..., "ENVIRONMENT": "sandbox"}.',
                obj=_SETTING,
                id="orkestapay.E001",
            )
        ]
    messages: list[CheckMessage] = []
    messages += _unknown_keys(user)
    messages += _environment(user)
    messages += _timeouts(user)
    messages += _token_lock(user)
    messages += _webhook_secrets(user)
    messages += _callables(user)
    messages += _deprecated_names(user)
    messages += _checkout_lifetime(user)
    messages += background_work(user)
    messages += _bounds(user)
    messages += _idempotency_key_lifetime(user)
    messages += _unconfirmed_fields(user)
    return messages


def _unknown_keys(user: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for key in user:
        if key in conf.DEFAULTS:
            continue
        close = difflib.get_close_matches(str(key).upper(), conf.DEFAULTS, n=1)
        hint = (
            f"Did you mean {close[0]!r}?"
            if close
            else "The documentation's Settings page (docs/reference/settings.rst) lists every key."
        )
        messages.append(Error(f"Unknown key {key!r}.", hint=hint, obj=_SETTING, id="orkestapay.E002"))
    return messages


def _environment(user: dict[str, Any]) -> list[CheckMessage]:
    value = _effective(user, "ENVIRONMENT")
    if value in conf.ENVIRONMENT_BASE_URLS:
        return []
    choices = " or ".join(repr(name) for name in conf.ENVIRONMENT_BASE_URLS)
    return [
        Error(
            f"ENVIRONMENT is {value!r}, which is not an OrkestaPay environment.",
            hint=f"Use {choices}.",
            obj=_key("ENVIRONMENT"),
            id="orkestapay.E004",
        )
    ]


def _timeouts(user: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for key in _TIMEOUT_KEYS:
        value = _effective(user, key)
        if _is_positive_number(value):
            continue
        messages.append(
            Error(
                f"{key} is {value!r}; it must be a positive number of seconds.",
                hint=f"Remove it to use the default ({conf.DEFAULTS[key]}) or set a number greater than 0; "
                "requests without a timeout can hang a worker forever.",
                obj=_key(key),
                id="orkestapay.E005",
            )
        )
    return messages


def _token_lock(user: dict[str, Any]) -> list[CheckMessage]:
    return [
        Error(
            f"{key} is {value!r}; it must be a number of seconds, 0 or more.",
            hint=f"Remove it to use the default ({conf.DEFAULTS[key]}); TOKEN_LOCK_TIMEOUT = 0 turns the lock off.",
            obj=_key(key),
            id="orkestapay.E012",
        )
        for key in _TOKEN_LOCK_KEYS
        if not _is_non_negative(value := _effective(user, key))
    ]


def _bounds(user: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for key, (whole, zero_means) in _BOUND_KEYS.items():
        value = _effective(user, key)
        allowed = _is_non_negative(value) if zero_means else _is_positive_number(value)
        if allowed and (not whole or value == int(value)):
            continue
        wanted = "a whole number" if whole else "a number of seconds"
        wanted += ", 0 or more" if zero_means else " greater than 0"
        messages.append(
            Error(
                f"{key} is {value!r}; it must be {wanted}.",
                hint=f"Remove it to use the default ({conf.DEFAULTS[key]})"
                + (f"; with 0, {zero_means}." if zero_means else "."),
                obj=_key(key),
                id="orkestapay.E016",
            )
        )
    return messages


def _webhook_secrets(user: dict[str, Any]) -> list[CheckMessage]:
    value = _effective(user, "WEBHOOK_SECRETS")
    obj = _key("WEBHOOK_SECRETS")
    if isinstance(value, str) or not isinstance(value, list | tuple):
        # The message names the type only: a secret is never repeated in output.
        return [
            Error(
                f"WEBHOOK_SECRETS must be a list of secrets, not {type(value).__name__}.",
                hint='Wrap the secret in a list: "WEBHOOK_SECRETS": ["whsec_..."].',
                obj=obj,
                id="orkestapay.E006",
            )
        ]
    if not value:
        return [
            Warning(
                "WEBHOOK_SECRETS is empty, so the webhook endpoint answers every delivery with an error.",
                hint="Add the endpoint's signing secret (whsec_...) from the OrkestaPay portal, Developers > "
                "Webhooks. Without webhooks, run 'manage.py orkestapay_sync' from cron to catch lost returns.",
                obj=obj,
                id="orkestapay.W001",
            )
        ]
    messages: list[CheckMessage] = []
    for index, secret in enumerate(value):
        # The messages name the secret by index only: a secret is never repeated in output.
        try:
            key = decode_secret(secret)
        except ValueError:
            messages.append(
                Error(
                    f"WEBHOOK_SECRETS[{index}] is not a webhook signing secret (whsec_ followed by base64).",
                    hint="Copy the signing secret of the endpoint from the OrkestaPay portal, Developers > Webhooks.",
                    obj=obj,
                    id="orkestapay.E006",
                )
            )
            continue
        if len(key) < MIN_SECRET_BYTES:
            messages.append(
                Error(
                    f"WEBHOOK_SECRETS[{index}] decodes to {len(key)} bytes; a real signing secret has at least "
                    f"{MIN_SECRET_BYTES}, so no delivery would verify.",
                    hint="Copy the whole signing secret (whsec_ and about 32 characters) of the endpoint from the "
                    "OrkestaPay portal, Developers > Webhooks; a placeholder or a truncated copy will not do.",
                    obj=obj,
                    id="orkestapay.E011",
                )
            )
    return messages


#: The keys naming a callable (orkestapay.E009): what a broken one would break, and what it should name.
_CALLABLE_KEYS = {
    "ADAPTER": (
        "paying for a shop object would fail with a server error",
        "that takes a shop object and returns a django_orkestapay.adapters.PaymentDescription",
        "shop.payments.describe_cart",
    ),
    "PAY_PERMISSION": (
        "every pay request (the button's and the JSON endpoints') would fail with a server error",
        "that takes the request and the order (or shop object) and returns True to allow it",
        "shop.payments.may_pay",
    ),
    "HEADLESS_PERMISSION": (
        "every pay request (the button's and the JSON endpoints') would fail with a server error",
        "that takes the request and the order (or shop object) and returns True to allow it",
        "shop.payments.may_pay",
    ),
}


def _deprecated_names(user: dict[str, Any]) -> list[CheckMessage]:
    if not _effective(user, "HEADLESS_PERMISSION"):
        return []
    if _effective(user, "PAY_PERMISSION"):
        message = "HEADLESS_PERMISSION is ignored: PAY_PERMISSION, its new name, is set."
        hint = "Remove HEADLESS_PERMISSION."
    else:
        message = (
            "HEADLESS_PERMISSION is the deprecated name of PAY_PERMISSION, which the pay button's view asks too "
            "(one rule for the button and the JSON endpoints)."
        )
        hint = "Rename the key to PAY_PERMISSION; the old name will stop working in a later release."
    return [Warning(message, hint=hint, obj=_key("HEADLESS_PERMISSION"), id="orkestapay.W005")]


def _callables(user: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for key, (breaks, contract, example) in _CALLABLE_KEYS.items():
        if not _effective(user, key):
            continue
        try:
            conf.callable_setting(key)
        except ImproperlyConfigured as exc:
            messages.append(
                Error(
                    f"{exc}; {breaks}.",
                    hint=f"Name a function or other callable by its dotted path, e.g. {example!r}, {contract}.",
                    obj=_key(key),
                    id="orkestapay.E009",
                )
            )
    return messages


def _checkout_lifetime(user: dict[str, Any]) -> list[CheckMessage]:
    lifetime, margin = _effective(user, "CHECKOUT_LIFETIME"), _effective(user, "CHECKOUT_REUSE_MARGIN")
    if not (_is_number(lifetime) and _is_number(margin)) or lifetime > margin:
        return []  # None lets OrkestaPay choose the lifetime
    return [
        Error(
            f"CHECKOUT_LIFETIME ({lifetime} s) is not longer than CHECKOUT_REUSE_MARGIN ({margin} s): no checkout is "
            "ever reused, so every click on a pay button creates a new one at OrkestaPay.",
            hint=f"Make CHECKOUT_LIFETIME several times CHECKOUT_REUSE_MARGIN (the defaults are "
            f"{conf.DEFAULTS['CHECKOUT_LIFETIME']} and {conf.DEFAULTS['CHECKOUT_REUSE_MARGIN']} seconds).",
            obj=_key("CHECKOUT_LIFETIME"),
            id="orkestapay.E010",
        )
    ]


def _idempotency_key_lifetime(user: dict[str, Any]) -> list[CheckMessage]:
    value = _effective(user, "IDEMPOTENCY_KEY_LIFETIME")
    if _is_positive_number(value):
        return []
    return [
        Error(
            f"IDEMPOTENCY_KEY_LIFETIME is {value!r}; it must be a positive number of seconds.",
            hint=f"Remove it to use the default ({conf.DEFAULTS['IDEMPOTENCY_KEY_LIFETIME']}) or set how long "
            "OrkestaPay remembers a refund's Idempotency-Key; a refund whose answer was lost is never resent after "
            "that without proof that it did not happen.",
            obj=_key("IDEMPOTENCY_KEY_LIFETIME"),
            id="orkestapay.E017",
        )
    ]


def _unconfirmed_fields(user: dict[str, Any]) -> list[CheckMessage]:
    value = _effective(user, "SEND_UNCONFIRMED_FIELDS")
    known = conf.UNCONFIRMED_REQUEST_FIELDS
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(name, str) for name in value):
        unknown = sorted(set(value) - set(known))
        if not unknown:
            return []
        problem = f"SEND_UNCONFIRMED_FIELDS names {', '.join(map(repr, unknown))}, which the package does not know"
    else:
        problem = f"SEND_UNCONFIRMED_FIELDS is {value!r}; it must be a list of field names"
    return [
        Error(
            f"{problem}: nothing is sent for it.",
            hint=f"Name only fields among {', '.join(map(repr, known))}, once the probe has confirmed OrkestaPay "
            "accepts them, or leave the list empty (the default).",
            obj=_key("SEND_UNCONFIRMED_FIELDS"),
            id="orkestapay.E018",
        )
    ]
