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

#: Request fields no public source shows being sent to OrkestaPay: each is sent only when ``SEND_UNCONFIRMED_FIELDS``
#: names it (``services.checkout_body``). ``order.taxes``: the order's taxes as ``[{"amount": ...}]``, with a
#: subtotal without them; otherwise they are folded into the line prices.
UNCONFIRMED_REQUEST_FIELDS: tuple[str, ...] = ("order.taxes",)

#: What ``WEBHOOK_PROCESSING`` may be.
WEBHOOK_PROCESSING_MODES: tuple[str, ...] = ("auto", "inline", "queue")

DEFAULTS: dict[str, Any] = {
    # Credentials and the API
    "CLIENT_ID": None,
    "CLIENT_SECRET": None,
    "ENVIRONMENT": SANDBOX,
    "BASE_URL": None,
    "CONNECT_TIMEOUT": 5.0,
    "READ_TIMEOUT": 20.0,
    "MAX_RETRIES": 2,
    # The access token
    "TOKEN_CACHE_ALIAS": "default",
    "TOKEN_EXPIRY_LEEWAY": 60,
    "TOKEN_LOCK_TIMEOUT": 10,
    "TOKEN_LOCK_WAIT": 10,
    # Links, return pages and shop objects
    "RETURN_LINK_MAX_AGE": 60 * 60 * 24,
    "PAY_LINK_MAX_AGE": 60 * 60 * 24,
    "PAYMENT_LINK_LIFETIME": 60 * 60 * 24 * 7,
    "RETURN_BASE_URL": None,
    "SUCCESS_URL": None,
    "CANCEL_URL": None,
    "SHOP_URL": "/",
    "ADAPTER": None,
    "PAY_PERMISSION": None,
    "HEADLESS_PERMISSION": None,  # deprecated: PAY_PERMISSION's old name (orkestapay.W005)
    # What a checkout asks for
    "LOCALE": None,
    "LANGUAGE_LOCALES": {"es": "ES_LATAM"},
    "CURRENCY": "MXN",
    "COUNTRY_CODE": "MX",
    "ALLOW_SAVE_PAYMENT_METHODS": False,
    "CHECKOUT_LIFETIME": 60 * 60,
    "CHECKOUT_REUSE_MARGIN": 120,
    "CHECKOUT_HOSTS": None,
    "SEND_UNCONFIRMED_FIELDS": [],
    # Reconciliation, bounded work, refunds
    "RECONCILE_WINDOW": 60 * 60 * 24 * 3,
    "RETURN_SYNC_INTERVAL": 5,
    "FAILED_CHECKOUT_LIMIT": 3,
    "FAILED_CHECKOUT_WINDOW": 60,
    "REJECTED_WEBHOOKS_KEPT": 50,
    "IDEMPOTENCY_KEY_LIFETIME": 60 * 60 * 24,
    "TRUST_IDEMPOTENCY_KEYS": False,
    # Webhooks
    "WEBHOOK_SECRETS": [],
    "WEBHOOK_TOLERANCE": 300,
    # Background work (Django's Tasks framework)
    "TASK_BACKEND": "default",
    "TASK_QUEUE": "default",
    "WEBHOOK_PROCESSING": "auto",
    "EVENT_REPROCESS_AFTER": 300,
    "SCHEDULE": {
        "reprocess_events": 300,
        "expire_checkouts": 900,
        "reconcile_refunds": 900,
        "sync_orders": 1800,
    },
}

#: What each key of :data:`DEFAULTS` does, in reStructuredText: the documentation's settings reference is rendered
#: from these two tables (``docs/_ext/orkestapay_docs.py``), and ``tests/test_docs_reference.py`` fails when a key
#: has no description here or a description names no key. ``:setting:`` links another key, ``:ref:`` a section.
SETTINGS_HELP: dict[str, str] = {
    "CLIENT_ID": (
        "The API *access key* (OrkestaPay portal: Developers > API keys). Required as soon as the app talks to "
        "OrkestaPay: without it a call raises ``OrkestaPayConfigurationError`` naming the key, and ``manage.py "
        "check --deploy`` reports :check:`orkestapay.E003`. Read it from the environment, never from code."
    ),
    "CLIENT_SECRET": (
        "The API *secret key*, beside :setting:`CLIENT_ID`. Required at use like it; never logged, stored or shown "
        "(error bodies are scrubbed, the token cache key is a hash)."
    ),
    "ENVIRONMENT": (
        '``"sandbox"`` (``https://api.sand.orkestapay.com``: test payments, no money) or ``"production"`` '
        "(``https://api.orkestapay.com``). Picks the API unless :setting:`BASE_URL` overrides it; anything else is "
        ":check:`orkestapay.E004`, and ``sandbox`` in production is :check:`orkestapay.W002` (``check --deploy``)."
    ),
    "BASE_URL": (
        "Overrides the API's base URL, for the fake gateway in development and tests (``http://127.0.0.1:8765``). "
        "``None``: the URL of :setting:`ENVIRONMENT`. Its host is trusted as a checkout host too. A loopback URL "
        "with ``DEBUG`` off is :check:`orkestapay.E007`, any other host :check:`orkestapay.W003` "
        "(``check --deploy``)."
    ),
    "CONNECT_TIMEOUT": "Seconds to wait for a connection to OrkestaPay (every call has a timeout).",
    "READ_TIMEOUT": "Seconds to wait for OrkestaPay's answer once connected.",
    "MAX_RETRIES": (
        "How many times a safe call is retried, with backoff, after a connection error, a timeout, a 429 or a "
        "500, 502, 503 or 504. Safe: a ``GET``, the token request, and a refund (sent with its "
        "``Idempotency-Key``); creating a checkout is never retried. A 429 or 503 with ``Retry-After`` (seconds or "
        "an HTTP date) waits that long instead, up to 5 seconds (``client.MAX_RETRY_AFTER``: a buyer's page waits "
        "on these calls); a longer wait is not retried, and the error's ``retry_after`` carries it (the pay view "
        "passes it on as its own ``Retry-After``)."
    ),
    "TOKEN_CACHE_ALIAS": (
        "The ``CACHES`` alias holding the access token and the return pages' read keys "
        "(:setting:`RETURN_SYNC_INTERVAL`). With several processes make it a cache they share (Redis, Memcached), "
        "so the whole fleet uses one token: see :ref:`several-processes`."
    ),
    "TOKEN_EXPIRY_LEEWAY": "A token is renewed this many seconds before it expires.",
    "TOKEN_LOCK_TIMEOUT": (
        "Seconds the token fetch lock lives in the cache: on a cold cache one process fetches the token while the "
        "others wait, and a holder that died is replaced after this. ``0`` turns the lock off (each process fetches "
        "its own)."
    ),
    "TOKEN_LOCK_WAIT": (
        "Seconds a process waits for another's token fetch before it fetches one itself (see :ref:`several-processes`)."
    ),
    "RETURN_LINK_MAX_AGE": (
        "Seconds a signed return link stays valid (the URLs OrkestaPay sends the buyer back to; not pay buttons, "
        "see :setting:`PAY_LINK_MAX_AGE`). Default: a day."
    ),
    "PAY_LINK_MAX_AGE": (
        "Seconds a pay button stays valid (its signed order or shop-object reference, for the pay view and the "
        'JSON endpoints): a day, so a page left open overnight still pays. An older one gets a "this page is out '
        'of date" page (``expired_reference`` in JSON); see :ref:`pay-reference`.'
    ),
    "RETURN_BASE_URL": (
        "``https://shop.example``: the scheme and host of the return URLs and of payment links, when the request's "
        "own (``build_absolute_uri``) are wrong, behind a proxy that does not pass them on, or when there is no "
        "request (a payment link made in a task or the shell). ``None``: taken from the request. See "
        ":ref:`behind-a-proxy`."
    ),
    "PAYMENT_LINK_LIFETIME": (
        "Seconds a payment link (:doc:`/recipes/payment-links`) can be used, unless it is made with a lifetime of "
        "its own (7 days). ``None``: links do not expire."
    ),
    "SUCCESS_URL": (
        'Where a paid buyer lands after the return: a path, a full URL or a URL pattern name (``"shop:thanks"``); '
        "``?order=<uuid>`` is appended (what to do with it: :ref:`success-and-cancel-pages`). ``None``: the app's own "
        "page. An order's own ``success_url`` (on this site) wins. A name that does not reverse is "
        ":check:`orkestapay.E008`."
    ),
    "CANCEL_URL": ("Where a buyer who canceled, or whose payment failed or expired, lands: as :setting:`SUCCESS_URL`."),
    "SHOP_URL": (
        "The *Back to the shop* link of every page the app renders (a path, a full URL or a URL pattern name); "
        "see :ref:`pages-and-templates`."
    ),
    "ADAPTER": (
        "Dotted path of a callable ``(shop_object) -> PaymentDescription`` describing a shop object's payment, for "
        "models you do not own; it wins over the object's ``orkestapay_payment()`` method. ``None``: the objects "
        "describe themselves. See :doc:`/recipes/cart`; :check:`orkestapay.E009` when it does not import."
    ),
    "PAY_PERMISSION": (
        "Dotted path of a callable ``(request, order_or_shop_object) -> bool``: who may pay or see an order's status. "
        "Asked first by the pay button's view, the JSON pay endpoint and the JSON status endpoint alike (one rule: a "
        "visitor refused by one is refused by the others); ``False`` answers 403 (``forbidden`` in JSON). ``None``: "
        "whoever holds the signed reference. See :doc:`/recipes/headless`."
    ),
    "HEADLESS_PERMISSION": (
        "Deprecated: the old name of :setting:`PAY_PERMISSION`, used when that is unset, and for the pay button's "
        "view too since it was renamed; :check:`orkestapay.W005` asks to rename it."
    ),
    "LOCALE": (
        "The checkout ``locale`` sent to OrkestaPay when the order has none. ``None``: follow the active language "
        "through :setting:`LANGUAGE_LOCALES`. See :ref:`languages`."
    ),
    "LANGUAGE_LOCALES": (
        "The active language (its full code, then its prefix: ``es-mx``, then ``es``) to a checkout locale; any "
        'other language gets ``ES_LATAM``, the only locale OrkestaPay documents. Add ``"en": "EN_US"`` only '
        "once your sandbox accepts it (the probe's ``locale.*`` rows tell)."
    ),
    "CURRENCY": "The currency of an order created without one.",
    "COUNTRY_CODE": "The country of an order created without one.",
    "ALLOW_SAVE_PAYMENT_METHODS": "Sent with each checkout as ``allow_save_payment_methods``.",
    "CHECKOUT_LIFETIME": (
        "Seconds a checkout lives, sent as the order's ``expires_at``; ``None`` lets OrkestaPay choose. Must be "
        "longer than :setting:`CHECKOUT_REUSE_MARGIN` (:check:`orkestapay.E010`)."
    ),
    "CHECKOUT_REUSE_MARGIN": (
        "An open checkout is offered again (a second press of the button) while it has at least this many seconds "
        "left; after that the button reads it from OrkestaPay (the buyer may have just paid it) and, unless it is "
        "paid or a payment on it is in progress, makes a new one."
    ),
    "CHECKOUT_HOSTS": (
        "The hosts a ``checkout_redirect_url`` may send the buyer to (a leading dot matches any subdomain). "
        "``None``: ``.orkestapay.com``, ``.orkesta.io`` and :setting:`BASE_URL`'s host. A URL elsewhere is refused "
        "and the checkout marked failed."
    ),
    "SEND_UNCONFIRMED_FIELDS": (
        "Request fields no public source shows OrkestaPay accepting, sent only when named here (a list; empty by "
        'default). Today one: ``"order.taxes"`` sends the order\'s taxes as ``order.taxes: [{"amount": ...}]`` '
        "beside a subtotal without them; without it the taxes are folded into the line prices and the subtotal, "
        "as OrkestaPay's own WordPress plugin sends them (:ref:`taxes`). Turn a field on once the probe has "
        "confirmed it (``amounts.taxes`` and ``amounts.taxes_counted``). An unknown name is :check:`orkestapay.E018`."
    ),
    "RECONCILE_WINDOW": (
        "Seconds (3 days) during which ``orkestapay_sync`` keeps asking OrkestaPay about canceled, failed and "
        "expired orders, so a transfer that settles late (its webhook lost) still lands, and about paid orders (a "
        "second payment on an old tab). The reprocess sweep takes up failed events this young."
    ),
    "RETURN_SYNC_INTERVAL": (
        "Seconds: the buyer's returns (and the JSON status endpoint) read an unpaid order from OrkestaPay at most "
        "once per interval (a key in the :setting:`TOKEN_CACHE_ALIAS` cache); a paid order is never read. ``0``: "
        "on every return. See :ref:`bounded-work`."
    ),
    "FAILED_CHECKOUT_LIMIT": (
        "After this many of an order's checkouts failed within :setting:`FAILED_CHECKOUT_WINDOW`, the pay view "
        "answers 429 without asking OrkestaPay. ``0``: no limit."
    ),
    "FAILED_CHECKOUT_WINDOW": "Seconds; see :setting:`FAILED_CHECKOUT_LIMIT`.",
    "REJECTED_WEBHOOKS_KEPT": (
        "How many refused webhook deliveries are kept as *rejected* events (the newest, 2 KiB of body each); every "
        "one is counted per day (``RejectedWebhookCount``). ``0``: counted only."
    ),
    "IDEMPOTENCY_KEY_LIFETIME": (
        "Seconds OrkestaPay is assumed to remember a refund's ``Idempotency-Key`` (unknown for the real API), with "
        ":setting:`TRUST_IDEMPOTENCY_KEYS` on: a refund whose answer was lost is resent under its key only within "
        "this time; after it, only when OrkestaPay proves it did not happen, else it is left for a person. A refund "
        "OrkestaPay answered *pending* is left for a person once this long has passed without an outcome. See "
        ":doc:`/recipes/refunds`."
    ),
    "TRUST_IDEMPOTENCY_KEYS": (
        "Whether OrkestaPay is trusted to honour a refund's ``Idempotency-Key`` (a repeat under the same key "
        "refunds once). OrkestaPay's plugins send a key but never resend one, so no public source shows it; the "
        "probe's ``refund.replay`` row tells. ``False`` (the default): a refund request is never repeated "
        "automatically while it may have reached OrkestaPay: no client retry, no resend of a refund whose answer "
        "was lost unless OrkestaPay's payment proves it did not happen; otherwise it is left for a person (the "
        "admin's *Mark refund succeeded* and *Mark refund failed*). ``True``: retried and resent under its key "
        "within :setting:`IDEMPOTENCY_KEY_LIFETIME`."
    ),
    "WEBHOOK_SECRETS": (
        "The webhook endpoint's ``whsec_...`` signing secrets, a list: several during a rotation. Required for the "
        "webhook endpoint, which answers 500 to every delivery without one (:check:`orkestapay.W001`). See "
        ":doc:`/webhooks`."
    ),
    "WEBHOOK_TOLERANCE": "Seconds a webhook's signed timestamp may be off from the server's clock.",
    "TASK_BACKEND": (
        "The ``TASKS`` alias the app's tasks are enqueued on (:check:`orkestapay.E015` when it is not one). See "
        ":doc:`/background`."
    ),
    "TASK_QUEUE": "The queue the app's tasks go to (one of that backend's ``QUEUES``).",
    "WEBHOOK_PROCESSING": (
        '``"inline"`` (processed in the request; 500 when OrkestaPay could not be asked, so it retries), '
        '``"queue"`` (stored, a task enqueued, 202) or ``"auto"``: inline under Django\'s '
        "``ImmediateBackend`` (no worker), queued with any other backend. See :ref:`inline-or-queued`."
    ),
    "EVENT_REPROCESS_AFTER": (
        "Seconds a verified event may stay unprocessed (its task never ran, or failed) before the reprocess sweep "
        "takes it up."
    ),
    "SCHEDULE": (
        "Seconds between runs of each periodic sweep (``manage.py orkestapay_schedule``); a sweep left out keeps "
        "its default, ``None`` or ``0`` turns one off. See :ref:`the-schedule`."
    ),
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
