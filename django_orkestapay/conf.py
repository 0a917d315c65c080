"""The ``ORKESTAPAY`` settings dict, read lazily on every access so ``override_settings`` works.

Every key and its default is in :data:`DEFAULTS`. Nothing here is read at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

SANDBOX = "sandbox"
PRODUCTION = "production"

#: The real API base URLs by environment.
ENVIRONMENT_BASE_URLS: dict[str, str] = {
    SANDBOX: "https://api.sand.orkestapay.com",
    PRODUCTION: "https://api.orkestapay.com",
}

#: Hosts a checkout_redirect_url may point at by default (a leading dot matches any subdomain).
DEFAULT_CHECKOUT_HOSTS: tuple[str, ...] = (".orkestapay.com", ".orkesta.io")

#: What ``WEBHOOK_PROCESSING`` may be.
WEBHOOK_PROCESSING_MODES: tuple[str, ...] = ("auto", "inline", "queue")

DEFAULTS: dict[str, Any] = {
    # Credentials (OrkestaPay portal: Developers > API keys). Required at use, never logged.
    "CLIENT_ID": None,
    "CLIENT_SECRET": None,
    # "sandbox" or "production"; picks the real base URL below unless BASE_URL overrides it.
    "ENVIRONMENT": SANDBOX,
    # Override of the API base URL (the fake gateway in tests and demos). None: from ENVIRONMENT.
    "BASE_URL": None,
    # HTTP timeouts (seconds) and retries of safe calls.
    "CONNECT_TIMEOUT": 5.0,
    "READ_TIMEOUT": 20.0,
    "MAX_RETRIES": 2,
    # Where the access token is cached (a CACHES alias; shared by every worker), and how many seconds before
    # expiry a token stops being reused.
    "TOKEN_CACHE_ALIAS": "default",
    "TOKEN_EXPIRY_LEEWAY": 60,
    # When the cache has no token, one worker fetches it while the others wait for it: the lock it takes in the
    # cache lives TOKEN_LOCK_TIMEOUT seconds (0: no lock, every worker fetches its own), and the others wait up to
    # TOKEN_LOCK_WAIT seconds before they fetch one themselves.
    "TOKEN_LOCK_TIMEOUT": 10,
    "TOKEN_LOCK_WAIT": 10,
    # Lifetime of the signed return links, in seconds.
    "RETURN_LINK_MAX_AGE": 60 * 60 * 24,
    # Lifetime of a pay button (its signed order or shop-object reference), in seconds: a day, so a page left open
    # overnight still pays; an older button gets a "this page is out of date, reload it" page.
    "PAY_LINK_MAX_AGE": 60 * 60 * 24,
    # Absolute base (scheme://host[:port]) for return links when request.build_absolute_uri is wrong
    # (behind a proxy). None: taken from the request.
    "RETURN_BASE_URL": None,
    # Where the buyer lands after a return: a URL path or a URL pattern name; None: the app's own pages.
    # The order's public id is appended as ?order=<uuid>.
    "SUCCESS_URL": None,
    "CANCEL_URL": None,
    # The way back to the shop offered on every page of the app (a URL path, a full URL or a URL pattern name).
    "SHOP_URL": "/",
    # Dotted path of a callable describing a shop object's payment (see django_orkestapay.adapters); None: shop
    # objects implement orkestapay_payment() themselves.
    "ADAPTER": None,
    # Dotted path of a callable (request, order_or_shop_object) -> bool that the JSON endpoints (headless front
    # ends) ask before they start a checkout or report a status; None: whoever holds the signed reference, as the
    # pay button.
    "HEADLESS_PERMISSION": None,
    # Checkout request defaults. LOCALE None: follow the active language through LANGUAGE_LOCALES (language code
    # prefix -> OrkestaPay locale), falling back to ES_LATAM. ES_LATAM is the only locale OrkestaPay documents, so
    # no other is sent unless configured (add "en": "EN_US" once your sandbox accepts it).
    "LOCALE": None,
    "LANGUAGE_LOCALES": {"es": "ES_LATAM"},
    "CURRENCY": "MXN",
    "COUNTRY_CODE": "MX",
    "ALLOW_SAVE_PAYMENT_METHODS": False,
    # Lifetime of a checkout (seconds), sent as order.expires_at; None lets OrkestaPay choose.
    "CHECKOUT_LIFETIME": 60 * 60,
    # An open checkout is reused only while it has at least this many seconds left.
    "CHECKOUT_REUSE_MARGIN": 120,
    # How long (seconds) orkestapay_sync keeps asking OrkestaPay about canceled, failed and expired orders, so a
    # bank transfer that settles after the buyer gave up (its webhook lost) still lands. Default: 3 days.
    "RECONCILE_WINDOW": 60 * 60 * 24 * 3,
    # Bounded work per visitor. A return for an unpaid order reads OrkestaPay at most once per RETURN_SYNC_INTERVAL
    # seconds (a key in the TOKEN_CACHE_ALIAS cache, taken with its atomic add; 0: every return reads); a return
    # for a paid order never does. After FAILED_CHECKOUT_LIMIT checkouts of one order failed within
    # FAILED_CHECKOUT_WINDOW seconds, the pay view answers 429 without asking again (0: no limit).
    "RETURN_SYNC_INTERVAL": 5,
    "FAILED_CHECKOUT_LIMIT": 3,
    "FAILED_CHECKOUT_WINDOW": 60,
    # Refused webhook deliveries (bad signature, malformed body): only the newest this many are kept as events (2 KiB
    # of body each); every one is counted per day (RejectedWebhookCount, in the admin). 0: counted only.
    "REJECTED_WEBHOOKS_KEPT": 50,
    # How long (seconds) OrkestaPay is assumed to remember a refund's Idempotency-Key (unknown for the real API; the
    # fake's default is a day). A refund whose answer was lost and that is older than this is resent only when
    # OrkestaPay's refunded amount proves it did not happen; otherwise it is left for a person. Default: 24 hours.
    "IDEMPOTENCY_KEY_LIFETIME": 60 * 60 * 24,
    # Hosts a checkout_redirect_url may point at; None: DEFAULT_CHECKOUT_HOSTS plus BASE_URL's host.
    "CHECKOUT_HOSTS": None,
    # Webhook signing secrets (whsec_...), several during a rotation.
    "WEBHOOK_SECRETS": [],
    "WEBHOOK_TOLERANCE": 300,
    # Background work (Django's Tasks framework): the TASKS alias and queue the app's tasks are enqueued on.
    "TASK_BACKEND": "default",
    "TASK_QUEUE": "default",
    # How the webhook endpoint processes a verified delivery: "inline" (in the request, answering 5xx when it
    # fails), "queue" (store it, enqueue a task, answer 202), or "auto": inline when TASK_BACKEND is Django's
    # ImmediateBackend (no worker), queued otherwise.
    "WEBHOOK_PROCESSING": "auto",
    # Seconds a verified event may stay unprocessed (its task never ran, or failed) before the reprocess sweep
    # takes it up; events older than RECONCILE_WINDOW are left to the admin and orkestapay_reprocess_events.
    "EVENT_REPROCESS_AFTER": 300,
    # Seconds between runs of each periodic sweep (manage.py orkestapay_schedule); None or 0 turns one off.
    "SCHEDULE": {
        "reprocess_events": 300,
        "expire_checkouts": 900,
        "reconcile_refunds": 900,
        "sync_orders": 1800,
    },
}


class OrkestaPayConfigurationError(ImproperlyConfigured):
    """The ``ORKESTAPAY`` setting is missing something needed now; the message names the key."""


def user_settings() -> dict[str, Any]:
    """The raw ``ORKESTAPAY`` dict from the project's settings (empty when absent)."""
    value = getattr(django_settings, "ORKESTAPAY", None)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OrkestaPayConfigurationError("settings.ORKESTAPAY must be a dict.")
    return value


def get(key: str) -> Any:
    """Return the effective value of one ``ORKESTAPAY`` key (the project's, else the default)."""
    if key not in DEFAULTS:
        raise KeyError(f"Unknown ORKESTAPAY key {key!r}")
    return user_settings().get(key, DEFAULTS[key])


def require(key: str) -> Any:
    """Return a key that must be set, or raise a configuration error naming it."""
    value = get(key)
    if value in (None, ""):
        raise OrkestaPayConfigurationError(
            f"settings.ORKESTAPAY[{key!r}] is not set; django-orkestapay needs it to talk to OrkestaPay."
        )
    return value


def callable_setting(key: str) -> Callable[..., Any] | None:
    """The callable a key names (a dotted path, or the callable itself), ``None`` when the key is unset; raises
    ``ImproperlyConfigured`` naming the key when the path does not import or names something that cannot be
    called."""
    path = get(key)
    if not path:
        return None
    if callable(path):
        return path  # type: ignore[no-any-return]
    try:
        target = import_string(str(path))
    except ImportError as exc:
        raise ImproperlyConfigured(f"ORKESTAPAY[{key!r}] = {path!r} cannot be imported: {exc}") from exc
    if not callable(target):
        raise ImproperlyConfigured(f"ORKESTAPAY[{key!r}] = {path!r} is not callable")
    return target  # type: ignore[no-any-return]


def environment() -> str:
    """The configured environment, validated."""
    env = get("ENVIRONMENT")
    if env not in ENVIRONMENT_BASE_URLS:
        raise OrkestaPayConfigurationError(
            f"settings.ORKESTAPAY['ENVIRONMENT'] is {env!r}; use one of {sorted(ENVIRONMENT_BASE_URLS)}."
        )
    return str(env)


def base_url() -> str:
    """The API base URL: BASE_URL when set, else the environment's real URL. No trailing slash."""
    override = get("BASE_URL")
    if override:
        return str(override).rstrip("/")
    return ENVIRONMENT_BASE_URLS[environment()]


def environment_label() -> str:
    """What the order records as its environment: ``sandbox``, ``production``, or ``custom`` for a BASE_URL."""
    return "custom" if get("BASE_URL") else environment()


def checkout_hosts() -> tuple[str, ...]:
    """Hosts a checkout_redirect_url may point at."""
    configured = get("CHECKOUT_HOSTS")
    if configured is not None:
        return tuple(configured)
    hosts = list(DEFAULT_CHECKOUT_HOSTS)
    override = get("BASE_URL")
    if override:
        host = urlsplit(str(override)).hostname
        if host:
            hosts.append(host)
    return tuple(hosts)
