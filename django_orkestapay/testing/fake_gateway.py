"""``FakeOrkestaPay``: a faithful fake of the OrkestaPay API, hosted checkout and webhooks, on a loopback port.

Standard library only (no Django, no requests), so shops can run it anywhere::

    with FakeOrkestaPay(profile="evidence") as fake:
        settings.ORKESTAPAY["BASE_URL"] = fake.base_url
        ...
        url = fake.pay(checkout_id)          # what the buyer's "Pay" click does
        assert fake.get_order(order_id)["status"] == "COMPLETED"

This module is the top of the package: the facade that builds the parts (``FakeSettings``, ``GatewayCore`` with
the state, faults, request log and webhook dispatcher), serves them over HTTP from a daemon thread and inherits the
test controls from ``RemoteControl``. No other module of the package imports it.

``profile`` is ``"evidence"`` (only what OrkestaPay's public record shows; the default, ``DEFAULT_PROFILE``; see
``profiles`` and ``evidence.EVIDENCE``) or ``"rich"`` (every answer the fake can give). The switches a profile
presets (``profiles.PROFILE_PRESETS``) default to ``None`` here: the profile's value.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from . import routing
from .core import GatewayCore
from .profiles import DEFAULT_PROFILE, preset
from .recording import RecordedRequest, request_kind
from .remote import RemoteControl
from .server import FakeHTTPServer
from .settings import FakeSettings, Setting
from .validation import DEFAULT_CURRENCIES, normalize_currencies
from .webhooks import WebhookDispatcher
from .wire import Request, Response

__all__ = ["FakeOrkestaPay", "RecordedRequest", "request_kind"]

T = TypeVar("T")


class FakeOrkestaPay(RemoteControl):
    """A fake OrkestaPay gateway: API (``/v1``), hosted checkout (``/checkout``), control routes (``/_fake``).

    Behaviour switches are plain attributes (see ``__init__``; they live on ``self.settings``; ``variants`` lists the
    ones that answer the API's open questions, and ``/_fake/settings`` sets any of them); ``reset()`` restores
    them to the constructor's values, clears all state, logs, faults and queued webhooks, and keeps credentials and
    webhook endpoints.
    """

    profile = Setting[str]()
    order_read_fields = Setting[str]()
    checkout_url_form = Setting[str]()
    client_id = Setting[str]()
    client_secret = Setting[str]()
    clock = Setting[Callable[[], float]]()
    on_request = Setting[Callable[[RecordedRequest], None] | None]()
    token_lifetime = Setting[float]()
    checkout_lifetime = Setting[float]()
    public_base_url = Setting[str | None]()
    cancel_marks_order_canceled = Setting[bool]()
    decline_marks_order_failed = Setting[bool]()
    strict_amounts = Setting[bool]()
    webhook_payload_version = Setting[str]()
    emit_cancel_events = Setting[bool]()
    refunds_enabled = Setting[bool]()
    decline_refunds = Setting[bool]()
    refund_outcome = Setting[str]()
    allowed_currencies = Setting[tuple[str, ...]]()
    accept_numeric_strings = Setting[bool]()
    error_language = Setting[str]()
    idempotent_checkouts = Setting[bool]()
    idempotency_conflict_status = Setting[int]()
    idempotency_ttl = Setting[float]()
    payments_page_size = Setting[int | None]()
    webhook_mode = Setting[str]()
    webhook_delay = Setting[float]()
    webhook_retry_time_factor = Setting[float]()
    webhook_timeout = Setting[float]()
    webhook_tamper = Setting[str | None]()
    latency = Setting[float]()
    return_params_completed = Setting[tuple[str, ...]]()
    return_params_canceled = Setting[tuple[str, ...]]()
    return_keeps_query = Setting[bool]()
    accepted_locales = Setting[tuple[str, ...] | None]()
    reject_duplicate_merchant_order_ids = Setting[bool]()
    auth_failure_status = Setting[int]()
    auth_failure_body = Setting[str]()
    checkout_read_shape = Setting[str]()
    product_id_fields = Setting[tuple[str, ...]]()
    token_claims_lifetime = Setting[float | None]()

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",  # noqa: S107 - a fake's well-known test credential
        token_lifetime: float = 1800,
        checkout_lifetime: float = 3600,
        clock: Callable[[], float] = time.time,
        public_base_url: str | None = None,
        cancel_marks_order_canceled: bool | None = None,
        decline_marks_order_failed: bool = False,
        strict_amounts: bool = False,
        webhook_payload_version: str = "v2026",
        *,
        profile: str = DEFAULT_PROFILE,
        order_read_fields: str = "guide",
        checkout_url_form: str | None = None,
        emit_cancel_events: bool | None = None,
        refunds_enabled: bool = True,
        decline_refunds: bool = False,
        refund_outcome: str = "success",
        allowed_currencies: Iterable[str] = DEFAULT_CURRENCIES,
        accept_numeric_strings: bool = False,
        error_language: str = "es",
        idempotent_checkouts: bool = False,
        idempotency_conflict_status: int = 409,
        idempotency_ttl: float = 86400,
        payments_page_size: int | None = None,
        webhook_mode: str = "normal",
        webhook_delay: float = 0.0,
        webhook_retry_time_factor: float = 1.0,
        webhook_timeout: float = 5.0,
        webhook_tamper: str | None = None,
        latency: float = 0.0,
        on_request: Callable[[RecordedRequest], None] | None = None,
        return_params_completed: Iterable[str] | None = None,
        return_params_canceled: Iterable[str] | None = None,
        return_keeps_query: bool = True,
        accepted_locales: Iterable[str] | None = None,
        reject_duplicate_merchant_order_ids: bool = False,
        auth_failure_status: int = 401,
        auth_failure_body: str = "standard",
        checkout_read_shape: str | None = None,
        product_id_fields: Iterable[str] = ("product_id", "id"),
        token_claims_lifetime: float | None = None,
    ) -> None:
        self.host = host
        self.port = port
        webhooks = WebhookDispatcher(clock)
        profiled = preset(profile)  # the profile's values of the switches left at None
        self.settings = FakeSettings(
            base_url=lambda: self.base_url,
            webhooks=webhooks,
            profile=profile,
            order_read_fields=order_read_fields,
            client_id=client_id,
            client_secret=client_secret,
            clock=clock,
            on_request=on_request,
            token_lifetime=token_lifetime,
            checkout_lifetime=checkout_lifetime,
            public_base_url=public_base_url,
            cancel_marks_order_canceled=_given(cancel_marks_order_canceled, profiled["cancel_marks_order_canceled"]),
            decline_marks_order_failed=decline_marks_order_failed,
            strict_amounts=strict_amounts,
            webhook_payload_version=webhook_payload_version,
            emit_cancel_events=_given(emit_cancel_events, profiled["emit_cancel_events"]),
            refunds_enabled=refunds_enabled,
            refund_outcome="declined" if decline_refunds else refund_outcome,
            allowed_currencies=normalize_currencies(allowed_currencies),
            accept_numeric_strings=accept_numeric_strings,
            error_language=error_language,
            idempotent_checkouts=idempotent_checkouts,
            idempotency_conflict_status=idempotency_conflict_status,
            idempotency_ttl=idempotency_ttl,
            payments_page_size=payments_page_size,
            webhook_mode=webhook_mode,
            webhook_delay=webhook_delay,
            webhook_retry_time_factor=webhook_retry_time_factor,
            webhook_timeout=webhook_timeout,
            webhook_tamper=webhook_tamper,
            latency=latency,
            return_params_completed=tuple(_given(return_params_completed, profiled["return_params_completed"])),
            return_params_canceled=tuple(_given(return_params_canceled, profiled["return_params_canceled"])),
            return_keeps_query=return_keeps_query,
            accepted_locales=None if accepted_locales is None else tuple(accepted_locales),
            reject_duplicate_merchant_order_ids=reject_duplicate_merchant_order_ids,
            auth_failure_status=auth_failure_status,
            auth_failure_body=auth_failure_body,
            checkout_read_shape=_given(checkout_read_shape, profiled["checkout_read_shape"]),
            product_id_fields=tuple(product_id_fields),
            token_claims_lifetime=token_claims_lifetime,
            checkout_url_form=_given(checkout_url_form, profiled["checkout_url_form"]),
        )
        super().__init__(GatewayCore(self.settings, webhooks))
        #: Callables run at the end of every reset (``reset()`` or ``POST /_fake/reset``), e.g. to make an app forget
        #: the access token it cached, which the reset revoked. The pytest plugin adds one for django-orkestapay.
        self.reset_hooks = self.core.reset_hooks
        self._server: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> FakeOrkestaPay:
        """Bind the port and serve from a daemon thread; return self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = FakeHTTPServer((self.host, self.port), self.handle, self._sleep)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-orkestapay", daemon=True
        )
        self._thread.start()
        self.webhooks.start()
        return self

    def stop(self) -> None:
        """Stop serving and delivering webhooks (idempotent)."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.webhooks.stop()

    def __enter__(self) -> FakeOrkestaPay:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Clear state, logs, faults and queued webhooks; restore behaviour settings; keep credentials/endpoints;
        then run ``reset_hooks``."""
        self.core.reset()

    @property
    def base_url(self) -> str:
        """The API base URL, ``http://127.0.0.1:<port>`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("the fake is not started; call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def page_base_url(self) -> str:
        """Where ``checkout_redirect_url`` points: ``public_base_url`` or the API base."""
        return self.settings.page_base_url()

    # request handling ----------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request (the HTTP server calls this from its handler threads)."""
        return routing.handle(self.core, request, self._sleep)

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def _given(value: T | None, profile_value: T) -> T:
    """A constructor argument, or the profile's value when it was left at None."""
    return profile_value if value is None else value
