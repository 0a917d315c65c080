"""Checks of what surrounds the setting: the URLconf (return and shop pages), the databases, a deployment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch

from .. import conf
from ._common import (
    _CREDENTIAL_KEYS,
    _LOCKING_TRANSACTION_MODES,
    _SQLITE_ENGINES,
    _URL_KEYS,
    SQLITE_OPTIONS,
    _display_url,
    _effective,
    _key,
    _raw_setting,
    is_loopback_url,
)


def check_urls(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """``SUCCESS_URL``, ``CANCEL_URL`` and ``SHOP_URL`` resolve as the views resolve them (orkestapay.E008).
    Registered with Django's ``urls`` tag: it loads the URLconf."""
    user = _raw_setting()
    if not isinstance(user, dict) or not getattr(settings, "ROOT_URLCONF", None):
        return []  # E001 already explains; without a URLconf Django's own URL checks say nothing either
    messages: list[CheckMessage] = []
    for key, consequence in _URL_KEYS.items():
        value = _effective(user, key)
        if not value:
            continue
        try:
            resolve_url(value)
        except NoReverseMatch:
            messages.append(
                Error(
                    f"{key} is {value!r}, which is neither a URL nor the name of a URL pattern that reverses: "
                    f"{consequence}.",
                    hint="Use a URL pattern name that takes no arguments (with its namespace, e.g. 'shop:thanks'), "
                    "a path ('/thanks/') or a full URL.",
                    obj=_key(key),
                    id="orkestapay.E008",
                )
            )
    return messages


def _is_in_memory(name: object) -> bool:
    return str(name) == ":memory:" or "mode=memory" in str(name)


def check_databases(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Every SQLite database (but an in-memory one, which no second process can open) takes its write lock when a
    transaction begins (orkestapay.W004). Reads ``settings.DATABASES`` only; no connection is opened."""
    messages: list[CheckMessage] = []
    for alias, database in settings.DATABASES.items():
        if database.get("ENGINE") not in _SQLITE_ENGINES or _is_in_memory(database.get("NAME", "")):
            continue
        options = database.get("OPTIONS") or {}
        mode = options.get("transaction_mode") if isinstance(options, dict) else None
        if str(mode).upper() in _LOCKING_TRANSACTION_MODES:
            continue
        messages.append(
            Warning(
                f"SQLite database {alias!r} begins transactions without taking the write lock (transaction_mode "
                f"{mode!r}): two requests paying or confirming the same order at once can fail with 'database is "
                "locked'.",
                hint=f"Set DATABASES[{alias!r}]['OPTIONS'] = {SQLITE_OPTIONS} (Django 5.1 or later), or use "
                "PostgreSQL.",
                obj=f"settings.DATABASES[{alias!r}]",
                id="orkestapay.W004",
            )
        )
    return messages


def check_deployment(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Deploy-only checks: the credentials, the fake gateway without DEBUG, the sandbox, a BASE_URL override
    (orkestapay.E003, E007, W002, W003)."""
    user = _raw_setting()
    if not isinstance(user, dict):
        return []  # orkestapay.E001 already says so
    return [*_credentials(user), *_gateway(user)]


def _credentials(user: dict[str, Any]) -> list[CheckMessage]:
    """A deploy check, not an ordinary one: the ordinary checks run before every ``makemigrations``, ``migrate``
    and ``runserver``, also where credentials are absent by design (a CI build, an image build, a new clone), and
    nothing needs them before the first call to OrkestaPay, which raises ``OrkestaPayConfigurationError`` naming
    the key. A deployment without them cannot take a single payment."""
    return [
        Error(
            f"{key} is not set; django-orkestapay cannot authenticate with OrkestaPay without it (every payment "
            "would fail).",
            hint="Copy the access key (CLIENT_ID) and secret key (CLIENT_SECRET) from the OrkestaPay portal, "
            "Developers > API keys, and read them from the environment (never commit them).",
            obj=_key(key),
            id="orkestapay.E003",
        )
        for key in _CREDENTIAL_KEYS
        if _effective(user, key) in (None, "")
    ]


def _gateway(user: dict[str, Any]) -> list[CheckMessage]:
    """The API the deployment talks to: the fake gateway without DEBUG, the sandbox, a BASE_URL override."""
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
