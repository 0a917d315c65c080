"""System checks for the ``ORKESTAPAY`` setting (``manage.py check``, ``manage.py check --deploy``).

Every check reads ``settings.ORKESTAPAY`` when it runs (never at import time) and touches neither the database nor
the network. The ids are stable; README.rst lists them:

=================  ==========================================================================================
id                 meaning
=================  ==========================================================================================
orkestapay.E001    ``ORKESTAPAY`` is not a dict
orkestapay.E002    ``ORKESTAPAY`` has a key this app does not know (a typo)
orkestapay.E003    ``CLIENT_ID`` or ``CLIENT_SECRET`` is missing or empty
orkestapay.E004    ``ENVIRONMENT`` is neither ``"sandbox"`` nor ``"production"``
orkestapay.E005    ``CONNECT_TIMEOUT`` or ``READ_TIMEOUT`` is not a positive number of seconds
orkestapay.E006    ``WEBHOOK_SECRETS`` is not a list of ``whsec_...`` secrets (for example a bare string)
orkestapay.E008    ``TOKEN_LOCK_TIMEOUT`` or ``TOKEN_LOCK_WAIT`` is not a number of seconds, 0 or more
orkestapay.E007    deploy: ``BASE_URL`` points at a loopback host (the fake gateway) while ``DEBUG`` is off
orkestapay.W001    ``WEBHOOK_SECRETS`` is empty: the webhook endpoint refuses every delivery
orkestapay.W002    deploy: the sandbox environment is configured
orkestapay.W003    deploy: ``BASE_URL`` overrides OrkestaPay's API URL with another host
=================  ==========================================================================================

``apps.OrkestaPayConfig.ready`` registers :func:`check_settings` (tag ``orkestapay``) and
:func:`check_deployment` (tags ``security`` and ``orkestapay``, deploy only).
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from . import conf
from .webhook_verification import WebhookVerifier

#: The tag every check of this app carries: ``manage.py check --tag orkestapay``.
TAG = "orkestapay"

_SETTING = "settings.ORKESTAPAY"
_TIMEOUT_KEYS = ("CONNECT_TIMEOUT", "READ_TIMEOUT")
_TOKEN_LOCK_KEYS = ("TOKEN_LOCK_TIMEOUT", "TOKEN_LOCK_WAIT")
_CREDENTIAL_KEYS = ("CLIENT_ID", "CLIENT_SECRET")


def _key(key: str) -> str:
    """How a message names one key: ``settings.ORKESTAPAY['CLIENT_ID']``."""
    return f"{_SETTING}[{key!r}]"


def _raw_setting() -> object:
    """The project's ``ORKESTAPAY`` value as it is (``{}`` when absent), read now."""
    value = getattr(settings, "ORKESTAPAY", None)
    return {} if value is None else value


def _effective(user: dict[str, Any], key: str) -> Any:
    return user.get(key, conf.DEFAULTS[key])


def is_loopback_url(url: str) -> bool:
    """True when ``url``'s host is a loopback address (``127.0.0.0/8``, ``::1``, ``localhost``).

    That is how the checks recognise the fake gateway (``django_orkestapay.testing``): it binds loopback unless told
    ``--allow-non-loopback``, while OrkestaPay's API is never on loopback. A fake on another host still gets W003.
    """
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _display_url(url: str) -> str:
    """``scheme://host[:port]`` of a URL, without any user info or path, for messages."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "an unparsable URL"
    return f"{parts.scheme}://{parts.hostname}{port}"


def check_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Validate ``settings.ORKESTAPAY``: its type, its keys, the credentials, environment, timeouts and webhook
    secrets, token lock timings (orkestapay.E001 to E006, E008, W001)."""
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
    messages += _credentials(user)
    messages += _environment(user)
    messages += _timeouts(user)
    messages += _token_lock(user)
    messages += _webhook_secrets(user)
    return messages


def _unknown_keys(user: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for key in user:
        if key in conf.DEFAULTS:
            continue
        close = difflib.get_close_matches(str(key).upper(), conf.DEFAULTS, n=1)
        hint = f"Did you mean {close[0]!r}?" if close else "See README.rst (Configuration) for every key."
        messages.append(Error(f"Unknown key {key!r}.", hint=hint, obj=_SETTING, id="orkestapay.E002"))
    return messages


def _credentials(user: dict[str, Any]) -> list[CheckMessage]:
    return [
        Error(
            f"{key} is not set; django-orkestapay cannot authenticate with OrkestaPay without it.",
            hint="Copy the access key (CLIENT_ID) and secret key (CLIENT_SECRET) from the OrkestaPay portal, "
            "Developers > API keys, and read them from the environment (never commit them).",
            obj=_key(key),
            id="orkestapay.E003",
        )
        for key in _CREDENTIAL_KEYS
        if _effective(user, key) in (None, "")
    ]


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


def _is_positive_number(value: object) -> bool:
    """A number of seconds greater than zero (``True`` and NaN are not)."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool) and float(value) > 0


def _is_zero(value: object) -> bool:
    """Zero seconds (``False`` is not)."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool) and value == 0


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
            id="orkestapay.E008",
        )
        for key in _TOKEN_LOCK_KEYS
        if not _is_positive_number(value := _effective(user, key)) and not _is_zero(value)
    ]


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
        try:
            WebhookVerifier([secret])
        except ValueError:
            messages.append(
                Error(
                    f"WEBHOOK_SECRETS[{index}] is not a webhook signing secret (whsec_ followed by base64).",
                    hint="Copy the signing secret of the endpoint from the OrkestaPay portal, Developers > Webhooks.",
                    obj=obj,
                    id="orkestapay.E006",
                )
            )
    return messages


def check_deployment(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Deploy-only checks: the fake gateway without DEBUG, the sandbox, a BASE_URL override (orkestapay.E007,
    W002, W003)."""
    user = _raw_setting()
    if not isinstance(user, dict):
        return []  # orkestapay.E001 already says so
    base_url = _effective(user, "BASE_URL")
    if base_url:
        if is_loopback_url(str(base_url)):
            if settings.DEBUG:
                return []  # development with the fake gateway: nothing to say
            return [
                Error(
                    f"BASE_URL points at a loopback address ({_display_url(str(base_url))}): the fake OrkestaPay "
                    "gateway, while DEBUG is off. Payments would be simulated, never charged.",
                    hint="Remove BASE_URL and set ENVIRONMENT to 'production' with real credentials. If a local "
                    "proxy to OrkestaPay really listens there, add 'orkestapay.E007' to SILENCED_SYSTEM_CHECKS.",
                    obj=_key("BASE_URL"),
                    id="orkestapay.E007",
                )
            ]
        return [
            Warning(
                f"BASE_URL overrides OrkestaPay's API URL with {_display_url(str(base_url))}; ENVIRONMENT is ignored.",
                hint="Remove BASE_URL in production so ENVIRONMENT picks OrkestaPay's own API "
                f"({conf.ENVIRONMENT_BASE_URLS[conf.PRODUCTION]}).",
                obj=_key("BASE_URL"),
                id="orkestapay.W003",
            )
        ]
    if _effective(user, "ENVIRONMENT") == conf.SANDBOX:
        return [
            Warning(
                "ENVIRONMENT is 'sandbox': payments are test payments and no money is charged.",
                hint="Set ENVIRONMENT to 'production' with production credentials before taking real payments.",
                obj=_key("ENVIRONMENT"),
                id="orkestapay.W002",
            )
        ]
    return []
