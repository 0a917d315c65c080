"""``FakeOrkestaPay``: a faithful fake of the OrkestaPay API, hosted checkout and webhooks, on a loopback port.

Standard library only (no Django, no requests), so shops can run it anywhere::

    with FakeOrkestaPay() as fake:
        settings.ORKESTAPAY["API_BASE_URL"] = fake.base_url
        ...
        url = fake.pay(checkout_id)          # what the buyer's "Pay" click does
        assert fake.get_order(order_id)["status"] == "COMPLETED"
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import api, control, hosted_page
from ._util import dumps_bytes, loads, redact
from .faults import Fault, FaultBook, apply_fault, make_fault
from .server import FakeHTTPServer
from .state import GatewayState
from .validation import DEFAULT_CURRENCIES, CheckoutRules, normalize_currencies
from .webhooks import PAYLOAD_VERSIONS, WebhookAttempt, WebhookDispatcher, WebhookEndpoint, build_payload
from .wire import Request, Response, error_response

# Settings that reset() puts back to their constructor values.
_RESETTABLE = (
    "token_lifetime",
    "checkout_lifetime",
    "public_base_url",
    "cancel_marks_order_canceled",
    "decline_marks_order_failed",
    "strict_amounts",
    "webhook_payload_version",
    "emit_cancel_events",
    "refunds_enabled",
    "decline_refunds",
    "allowed_currencies",
    "accept_numeric_strings",
    "error_language",
    "idempotent_checkouts",
    "idempotency_conflict_status",
    "idempotency_ttl",
    "webhook_mode",
    "webhook_delay",
    "webhook_retry_time_factor",
    "webhook_timeout",
    "webhook_tamper",
    "latency",
)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received. ``kind`` is "api", "page" (hosted checkout) or "control" (``/_fake/``).

    ``status`` is None when no answer was sent (timeout or reset fault); ``fault`` names the fault that hit it.
    Secrets in ``json_body`` and the Authorization header are redacted.
    """

    method: str
    path: str
    query: dict[str, str]
    status: int | None
    json_body: Any
    at: float
    kind: str = "api"
    fault: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": dict(self.query),
            "status": self.status,
            "json_body": self.json_body,
            "at": self.at,
            "kind": self.kind,
            "fault": self.fault,
            "headers": dict(self.headers),
        }


def request_kind(path: str) -> str:
    """Classify a path: "control", "page" or "api"."""
    if path.startswith("/_fake/") or path == "/_fake":
        return "control"
    if path.startswith("/checkout/") or path == "/favicon.ico":
        return "page"
    return "api"


def _record_body(request: Request) -> Any:
    if not request.body:
        return None
    try:
        return redact(loads(request.body))
    except ValueError:
        return None


def _record_headers(request: Request) -> dict[str, str]:
    headers = dict(request.headers)
    if "authorization" in headers:
        scheme = headers["authorization"].partition(" ")[0]
        headers["authorization"] = f"{scheme} [REDACTED]"
    return headers


class FakeOrkestaPay:
    """A fake OrkestaPay gateway: API (``/v1``), hosted checkout (``/checkout``), control routes (``/_fake``).

    Behaviour switches are plain attributes (see ``__init__``); ``reset()`` restores them to the constructor's
    values, clears all state, logs, faults and queued webhooks, and keeps credentials and webhook endpoints.
    """

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
        cancel_marks_order_canceled: bool = True,
        decline_marks_order_failed: bool = False,
        strict_amounts: bool = False,
        webhook_payload_version: str = "v2026",
        *,
        emit_cancel_events: bool = True,
        refunds_enabled: bool = True,
        decline_refunds: bool = False,
        allowed_currencies: Iterable[str] = DEFAULT_CURRENCIES,
        accept_numeric_strings: bool = False,
        error_language: str = "es",
        idempotent_checkouts: bool = False,
        idempotency_conflict_status: int = 409,
        idempotency_ttl: float = 86400,
        webhook_mode: str = "normal",
        webhook_delay: float = 0.0,
        webhook_retry_time_factor: float = 1.0,
        webhook_timeout: float = 5.0,
        webhook_tamper: str | None = None,
        latency: float = 0.0,
        on_request: Callable[[RecordedRequest], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock
        self.on_request = on_request
        self.webhooks = WebhookDispatcher(clock)
        self.token_lifetime = token_lifetime
        self.checkout_lifetime = checkout_lifetime
        self.public_base_url = public_base_url
        self.cancel_marks_order_canceled = cancel_marks_order_canceled
        self.decline_marks_order_failed = decline_marks_order_failed
        self.strict_amounts = strict_amounts
        self.webhook_payload_version = webhook_payload_version
        self.emit_cancel_events = emit_cancel_events
        self.refunds_enabled = refunds_enabled
        self.decline_refunds = decline_refunds
        self.allowed_currencies = normalize_currencies(allowed_currencies)
        self.accept_numeric_strings = accept_numeric_strings
        self.error_language = error_language
        self.idempotent_checkouts = idempotent_checkouts
        self.idempotency_conflict_status = idempotency_conflict_status
        self.idempotency_ttl = idempotency_ttl
        self.webhook_mode = webhook_mode
        self.webhook_delay = webhook_delay
        self.webhook_retry_time_factor = webhook_retry_time_factor
        self.webhook_timeout = webhook_timeout
        self.webhook_tamper = webhook_tamper
        # Seconds added before every API answer (a network round trip); the hosted page and /_fake/ are not slowed.
        self.latency = latency
        self._defaults = {name: getattr(self, name) for name in _RESETTABLE}
        self.state = GatewayState(self, clock, self._publish)
        self._faults = FaultBook()
        self._log: list[RecordedRequest] = []
        self._log_lock = threading.Lock()
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
        """Clear state, logs, faults and queued webhooks; restore behaviour settings; keep credentials/endpoints."""
        self.state.clear()
        self._faults.clear()
        self.webhooks.reset()
        with self._log_lock:
            self._log.clear()
        for name, value in self._defaults.items():
            setattr(self, name, value)

    @property
    def base_url(self) -> str:
        """The API base URL, ``http://127.0.0.1:<port>`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("the fake is not started; call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def page_base_url(self) -> str:
        """Where ``checkout_redirect_url`` points: ``public_base_url`` or the API base."""
        return (self.public_base_url or self.base_url).rstrip("/")

    def token_issuer(self) -> str:
        """The ``iss`` claim of issued tokens."""
        return f"{self.base_url}/auth/realms/orkestapay"

    def checkout_rules(self) -> CheckoutRules:
        """The validation rules in force now."""
        return CheckoutRules(
            now_ms=self.state.now_ms(),
            currencies=self.allowed_currencies,
            numeric_strings=self.accept_numeric_strings,
            strict_amounts=self.strict_amounts,
            language=self.error_language,
        )

    # webhook settings (delegated to the dispatcher) ----------------------------------------------------------

    @property
    def webhook_mode(self) -> str:
        """normal | delay | duplicate | out_of_order | drop | manual (see ``webhooks``)."""
        return self.webhooks.mode

    @webhook_mode.setter
    def webhook_mode(self, value: str) -> None:
        self.webhooks.mode = value

    @property
    def webhook_delay(self) -> float:
        return self.webhooks.delay

    @webhook_delay.setter
    def webhook_delay(self, value: float) -> None:
        self.webhooks.delay = value

    @property
    def webhook_retry_time_factor(self) -> float:
        return self.webhooks.retry_time_factor

    @webhook_retry_time_factor.setter
    def webhook_retry_time_factor(self, value: float) -> None:
        self.webhooks.retry_time_factor = value

    @property
    def webhook_timeout(self) -> float:
        return self.webhooks.timeout

    @webhook_timeout.setter
    def webhook_timeout(self, value: float) -> None:
        self.webhooks.timeout = value

    @property
    def webhook_tamper(self) -> str | None:
        """None, or "bad_signature" | "old_timestamp" | "rotated_secret" to test the receiver's verification."""
        return self.webhooks.tamper

    @webhook_tamper.setter
    def webhook_tamper(self, value: str | None) -> None:
        self.webhooks.tamper = value

    @property
    def webhook_payload_version(self) -> str:
        """v2026 | v2024-11 | v2024-07."""
        return self._payload_version

    @webhook_payload_version.setter
    def webhook_payload_version(self, value: str) -> None:
        if value not in PAYLOAD_VERSIONS:
            raise ValueError(f"unknown payload version {value!r}; expected one of {', '.join(PAYLOAD_VERSIONS)}")
        self._payload_version = value

    # request handling ----------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request (the HTTP server calls this from its handler threads)."""
        kind = request_kind(request.path)
        fault = self._faults.take(request.method, request.path) if kind != "control" else None
        try:
            response = self._respond(request, kind, fault)
        except Exception as exc:  # noqa: BLE001 - a bug in the fake must still answer
            traceback.print_exc(file=sys.stderr)
            response = error_response(500, f"Fake gateway internal error: {exc!r}", "INTERNAL")
        self._record(request, response, kind, fault)
        return response

    def _respond(self, request: Request, kind: str, fault: Fault | None) -> Response:
        if kind == "api" and self.latency > 0:
            self._sleep(self.latency)
        if fault is None:
            return self._route(request, kind)
        if fault.kind == "delay":
            self._sleep(fault.delay)
            return self._route(request, kind)
        real = self._route(request, kind) if fault.after_processing else None
        return apply_fault(fault, real)

    def _route(self, request: Request, kind: str) -> Response:
        if kind == "control":
            return control.handle_control(self, request)
        if kind == "page":
            return hosted_page.handle_page(self.state, request)
        return api.handle_api(self, request)

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _record(self, request: Request, response: Response, kind: str, fault: Fault | None) -> None:
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            status=response.status,
            json_body=_record_body(request),
            at=self.clock(),
            kind=kind,
            fault=fault.kind if fault else None,
            headers=_record_headers(request),
        )
        with self._log_lock:
            self._log.append(record)
        if self.on_request is not None:
            self.on_request(record)

    def _publish(self, event_type: str, payment: dict[str, Any], order: dict[str, Any]) -> None:
        payload = build_payload(self.webhook_payload_version, event_type, payment, order)
        self.webhooks.publish(event_type, dumps_bytes(payload))

    # inspection ----------------------------------------------------------------------------------------------

    @property
    def request_log(self) -> list[RecordedRequest]:
        """API requests received (``/v1`` and unknown routes), oldest first."""
        with self._log_lock:
            return [record for record in self._log if record.kind == "api"]

    @property
    def all_requests(self) -> list[RecordedRequest]:
        """Every request received, including the hosted page and control routes."""
        with self._log_lock:
            return list(self._log)

    def count_requests(
        self, method: str | None = None, path: str | None = None, prefix: str | None = None, *, kind: str = "api"
    ) -> int:
        """Count recorded requests by method, exact path and/or path prefix (``kind``: api, page, control, all)."""
        records = self.all_requests if kind == "all" else [r for r in self.all_requests if r.kind == kind]
        return sum(
            1
            for r in records
            if (method is None or r.method == method.upper())
            and (path is None or r.path == path)
            and (prefix is None or r.path.startswith(prefix))
        )

    @property
    def orders(self) -> dict[str, dict[str, Any]]:
        """Snapshot of every order in API shape, keyed by order id."""
        with self.state.lock:
            return {order_id: self.state.order_view(order_id) for order_id in list(self.state.orders)}

    @property
    def checkouts(self) -> dict[str, dict[str, Any]]:
        """Snapshot of every checkout in API shape, keyed by checkout id."""
        with self.state.lock:
            return {cid: self.state.checkout_view(cid) for cid in list(self.state.checkouts)}

    @property
    def payments(self) -> dict[str, dict[str, Any]]:
        """Snapshot of every payment in API shape, keyed by payment id."""
        with self.state.lock:
            return {pid: self.state.payment_view(pid) for pid in list(self.state.payments)}

    def get_order(self, order_id: str) -> dict[str, Any]:
        """One order in API shape (KeyError when unknown); applies lazy expiry like the API."""
        return self.state.order_view(order_id)

    def get_checkout(self, checkout_id: str) -> dict[str, Any]:
        """One checkout in API shape (KeyError when unknown)."""
        return self.state.checkout_view(checkout_id)

    def get_payment(self, payment_id: str) -> dict[str, Any]:
        """One payment in API shape (KeyError when unknown)."""
        return self.state.payment_view(payment_id)

    # scenario drivers ----------------------------------------------------------------------------------------

    def pay(self, checkout_id: str, card_number: str | None = None) -> str:
        """The buyer pays by card: return the completed URL (+ order_id, payment_id, checkout_id)."""
        return self.state.pay(checkout_id, card_number)

    def decline(self, checkout_id: str) -> None:
        """The buyer's card is declined: a REJECTED payment; the order stays CREATED (or becomes FAILED)."""
        self.state.decline(checkout_id)

    def cancel(self, checkout_id: str) -> str:
        """The buyer cancels: return the canceled URL (+ order_id, checkout_id)."""
        return self.state.cancel(checkout_id)

    def pay_pending(self, checkout_id: str) -> str:
        """The buyer picks SPEI: payment and order PAYMENT_ACTION_REQUIRED; return the completed URL anyway."""
        return self.state.pay_pending(checkout_id)

    def settle(self, payment_id: str) -> None:
        """The pending payment is paid: payment and order COMPLETED, ``payment.purchase`` sent."""
        self.state.settle(payment_id)

    def expire_tokens(self) -> None:
        """Expire every issued access token."""
        self.state.expire_tokens()

    def expire_checkout(self, checkout_id: str) -> None:
        """Expire a checkout now."""
        self.state.expire_checkout(checkout_id)

    def set_order_status(self, order_id: str, status: str) -> None:
        """Test back door: set an order's status, bypassing the state machine."""
        self.state.force_status(order_id, status)

    def tamper_order(self, order_id: str, /, **fields: Any) -> None:
        """Test back door: make the API report other values for an order, e.g. ``total_amount=Decimal("1.00")``,
        ``currency="USD"``, ``merchant_order_id="someone-else"`` (a foreign or replayed order)."""
        self.state.tamper_order(order_id, fields)

    # faults --------------------------------------------------------------------------------------------------

    def inject_fault(
        self,
        method: str,
        path_pattern: str,
        kind: str,
        *,
        times: int = 1,
        status: int | None = None,
        delay: float = 0.0,
        redirect_host: str | None = None,
        after_processing: bool | None = None,
    ) -> Fault:
        """Make the next ``times`` requests matching ``method`` ("*" for any) and ``path_pattern`` misbehave.

        See :mod:`django_orkestapay.testing.faults` for the kinds and the ``after_processing`` defaults.
        """
        fault = make_fault(
            method,
            path_pattern,
            kind,
            times=times,
            status=status,
            delay=delay,
            redirect_host=redirect_host,
            after_processing=after_processing,
        )
        self._faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The faults still active."""
        return self._faults.snapshot()

    # webhooks ------------------------------------------------------------------------------------------------

    def add_webhook_endpoint(self, url: str, secret: str | None = None, events: Iterable[str] | None = None) -> str:
        """Register a webhook receiver; return its ``whsec_`` secret (generated when not given)."""
        return self.webhooks.add_endpoint(url, secret, events)

    @property
    def webhook_endpoints(self) -> list[WebhookEndpoint]:
        """The registered receivers (url, secret, events)."""
        return list(self.webhooks.endpoints)

    def clear_webhook_endpoints(self) -> None:
        """Forget every registered receiver."""
        self.webhooks.replace_endpoints([])

    def flush_webhooks(self) -> int:
        """Release held webhook messages (manual / out_of_order modes); return how many."""
        return self.webhooks.flush()

    def resend_webhook(self, msg_id: str) -> None:
        """Deliver an already emitted message again (same ``svix-id``)."""
        self.webhooks.resend(msg_id)

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Block until no delivery is scheduled or in flight (held messages do not count); False on timeout."""
        return self.webhooks.wait_idle(timeout)

    @property
    def webhook_log(self) -> list[WebhookAttempt]:
        """Every delivery attempt, oldest first."""
        return self.webhooks.log
