"""What every check module shares: the setting's raw and effective values, numbers of seconds, URLs."""

from __future__ import annotations

import ipaddress
from decimal import Decimal
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from django.conf import settings

from .. import conf

TAG = "orkestapay"

_SETTING = "settings.ORKESTAPAY"
_TIMEOUT_KEYS = ("CONNECT_TIMEOUT", "READ_TIMEOUT")
_TOKEN_LOCK_KEYS = ("TOKEN_LOCK_TIMEOUT", "TOKEN_LOCK_WAIT")
_CREDENTIAL_KEYS = ("CLIENT_ID", "CLIENT_SECRET")
#: The bounds on each visitor's work: key -> (a whole number?, what 0 means; None: 0 is not allowed).
_BOUND_KEYS: dict[str, tuple[bool, str | None]] = {
    "RETURN_SYNC_INTERVAL": (False, "every return reads OrkestaPay"),
    "FAILED_CHECKOUT_LIMIT": (True, "no limit"),
    "FAILED_CHECKOUT_WINDOW": (False, None),
    "REJECTED_WEBHOOKS_KEPT": (True, "none is kept, each is only counted"),
}
#: The keys naming a page of the shop, and what goes wrong when one does not resolve.
_URL_KEYS = {
    "SUCCESS_URL": "a buyer who paid would get a server error instead of that page",
    "CANCEL_URL": "a buyer who canceled would get a server error instead of that page",
    "SHOP_URL": "the app's pages would link back to / instead",
}
#: The database engines that are SQLite underneath, and the transaction modes that take the write lock at BEGIN.
_SQLITE_ENGINES = ("django.db.backends.sqlite3", "django.contrib.gis.db.backends.spatialite")
_LOCKING_TRANSACTION_MODES = ("IMMEDIATE", "EXCLUSIVE")
#: What the quickstart and the example project recommend for SQLite (valid from Django 5.1).
SQLITE_OPTIONS = '{"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}'


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


def _is_positive_number(value: object) -> bool:
    """A number of seconds greater than zero (``True`` and NaN are not)."""
    return _is_number(value) and float(value) > 0


def _is_non_negative(value: object) -> bool:
    """A number of seconds, 0 or more (``False`` and NaN are not)."""
    return _is_number(value) and float(value) >= 0


def _is_number(value: object) -> TypeGuard[int | float | Decimal]:
    """A real number (``True`` is not one)."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)
