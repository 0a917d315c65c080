"""Outgoing webhooks: Svix / Standard Webhooks signing, payload versions, and a delivery worker with retries.

Delivery modes (``WebhookDispatcher.mode``):

``normal``        deliver at once, in order, from one background thread.
``delay``         deliver each message ``delay`` seconds after it was emitted.
``duplicate``     deliver each message twice (same ``svix-id``, as Svix may do).
``out_of_order``  hold messages; when a second one arrives, deliver the held ones newest first (so a
                  ``payment.refund`` can arrive before its ``payment.purchase``). ``flush()`` releases them
                  newest first as well.
``drop``          never deliver (the attempt log says "dropped").
``manual``        hold messages until ``flush()``, then deliver them in order.

Failed attempts (non-2xx, connection error, timeout) are retried after ``RETRY_SCHEDULE[n] * retry_time_factor``
seconds, with the same ``svix-id`` and a fresh timestamp and signature.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ._util import new_id

RETRY_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
WEBHOOK_MODES = ("normal", "delay", "duplicate", "out_of_order", "drop", "manual")
TAMPER_MODES = ("bad_signature", "old_timestamp", "rotated_secret")
USER_AGENT = "Svix-Webhooks/1.0 (fake-orkestapay)"


def generate_secret() -> str:
    """A new endpoint secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret."""
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``svix-signature`` value ``v1,<base64 HMAC-SHA256(key, "{id}.{ts}.{body}")>``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class WebhookEndpoint:
    """A receiver URL, its secret, and the events it subscribes to (None: all)."""

    url: str
    secret: str
    events: frozenset[str] | None = None

    def wants(self, event_type: str) -> bool:
        return self.events is None or event_type in self.events


@dataclass(frozen=True)
class WebhookMessage:
    """One event to deliver; the body bytes are exactly the signed bytes."""

    msg_id: str
    event_type: str
    body: bytes
    created_at: float


@dataclass(frozen=True)
class WebhookAttempt:
    """One delivery attempt (``attempt`` 0 marks a dropped message); ``status`` None means no HTTP answer."""

    msg_id: str
    event_type: str
    url: str
    attempt: int
    status: int | None
    error: str | None
    at: float
    body: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_dict(self) -> dict[str, Any]:
        return {
            "msg_id": self.msg_id,
            "event_type": self.event_type,
            "url": self.url,
            "attempt": self.attempt,
            "status": self.status,
            "error": self.error,
            "at": self.at,
            "ok": self.ok,
            "body": self.body,
        }


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    message: WebhookMessage = field(compare=False)
    endpoint: WebhookEndpoint = field(compare=False)
    attempt: int = field(compare=False, default=1)
    generation: int = field(compare=False, default=0)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Treat a 3xx answer as a failed delivery instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _post(
    opener: urllib.request.OpenerDirector, url: str, headers: dict[str, str], body: bytes, timeout: float
) -> tuple[int | None, str | None]:
    """POST once; return (status, error)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(65536)
            return int(response.status), None
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code), f"HTTP {exc.code}"
    except Exception as exc:  # noqa: BLE001 - any failure to deliver is a failed attempt
        return None, f"{type(exc).__name__}: {exc}"


class WebhookDispatcher:
    """Queues, signs and delivers webhook messages from one background thread."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        mode: str = "normal",
        delay: float = 0.0,
        retry_time_factor: float = 1.0,
        timeout: float = 5.0,
        tamper: str | None = None,
    ) -> None:
        self.clock = clock
        self.mode = mode
        self.delay = delay
        self.retry_time_factor = retry_time_factor
        self.timeout = timeout
        self.tamper = tamper
        self.endpoints: list[WebhookEndpoint] = []
        #: The secret of receivers registered without one (the CLI sets it and prints it); None: a new one each.
        self.default_secret: str | None = None
        self._cond = threading.Condition()
        self._heap: list[_Delivery] = []
        self._held: list[WebhookMessage] = []
        self._messages: dict[str, WebhookMessage] = {}
        self._log: list[WebhookAttempt] = []
        self._seq = itertools.count()
        self._generation = 0
        self._in_flight = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    # configuration -------------------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in WEBHOOK_MODES:
            raise ValueError(f"unknown webhook mode {value!r}; expected one of {', '.join(WEBHOOK_MODES)}")
        self._mode = value

    @property
    def tamper(self) -> str | None:
        return self._tamper

    @tamper.setter
    def tamper(self, value: str | None) -> None:
        if value is not None and value not in TAMPER_MODES:
            raise ValueError(f"unknown tamper mode {value!r}; expected None or one of {', '.join(TAMPER_MODES)}")
        self._tamper = value

    def add_endpoint(self, url: str, secret: str | None = None, events: Iterable[str] | None = None) -> str:
        """Register a receiver; return its ``whsec_`` secret (when not given: ``default_secret``, else a new one)."""
        secret = secret or self.default_secret or generate_secret()
        secret_key(secret)  # fail early on a secret that is not base64
        subscribed = frozenset(events) if events is not None else None
        with self._cond:
            self.endpoints.append(WebhookEndpoint(url, secret, subscribed))
        return secret

    def replace_endpoints(self, endpoints: Iterable[WebhookEndpoint]) -> None:
        """Set the endpoint list (used to undo a test's registrations)."""
        with self._cond:
            self.endpoints = list(endpoints)

    # lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the delivery thread (idempotent)."""
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="fake-orkestapay-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the delivery thread; queued deliveries stay queued."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self.timeout + 1)

    def reset(self) -> None:
        """Forget queued, held and logged messages (endpoints stay); in-flight results are discarded."""
        with self._cond:
            self._generation += 1
            self._heap.clear()
            self._held.clear()
            self._messages.clear()
            self._log.clear()
            self._cond.notify_all()

    # publishing ----------------------------------------------------------------------------------------------

    def publish(self, event_type: str, body: bytes) -> str:
        """Queue one event for every subscribed endpoint, according to the mode; return its ``msg_...`` id."""
        message = WebhookMessage(new_id("msg"), event_type, body, self.clock())
        with self._cond:
            self._messages[message.msg_id] = message
            if self.mode == "drop":
                self._log_drop(message)
            elif self.mode in ("manual", "out_of_order"):
                self._held.append(message)
                if self.mode == "out_of_order" and len(self._held) >= 2:
                    self._release_locked(newest_first=True)
            else:
                self._schedule_message(message, self.delay if self.mode == "delay" else 0.0)
            self._cond.notify_all()
        return message.msg_id

    def flush(self) -> int:
        """Release held messages (``manual``: in order; ``out_of_order``: newest first); return how many."""
        with self._cond:
            count = len(self._held)
            self._release_locked(newest_first=self.mode == "out_of_order")
            self._cond.notify_all()
        return count

    def resend(self, msg_id: str) -> None:
        """Deliver a known message again to its subscribed endpoints (a new attempt chain, same id)."""
        with self._cond:
            self._schedule_message(self._messages[msg_id], 0.0)
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until nothing is scheduled or in flight (held messages do not count); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._heap and self._in_flight == 0, timeout)

    @property
    def log(self) -> list[WebhookAttempt]:
        with self._cond:
            return list(self._log)

    @property
    def held_count(self) -> int:
        with self._cond:
            return len(self._held)

    def message(self, msg_id: str) -> WebhookMessage:
        with self._cond:
            return self._messages[msg_id]

    # internals (call with self._cond held) -------------------------------------------------------------------

    def _log_drop(self, message: WebhookMessage) -> None:
        for endpoint in self.endpoints:
            if endpoint.wants(message.event_type):
                self._log.append(self._attempt_record(message, endpoint.url, 0, None, "dropped"))

    def _release_locked(self, newest_first: bool) -> None:
        held = list(reversed(self._held)) if newest_first else list(self._held)
        self._held.clear()
        for message in held:
            self._schedule_message(message, 0.0)

    def _schedule_message(self, message: WebhookMessage, after: float) -> None:
        copies = 2 if self.mode == "duplicate" else 1
        for endpoint in self.endpoints:
            if endpoint.wants(message.event_type):
                for _ in range(copies):
                    self._push(message, endpoint, 1, after)

    def _push(self, message: WebhookMessage, endpoint: WebhookEndpoint, attempt: int, after: float) -> None:
        due = time.monotonic() + after
        heapq.heappush(self._heap, _Delivery(due, next(self._seq), message, endpoint, attempt, self._generation))

    def _attempt_record(
        self, message: WebhookMessage, url: str, attempt: int, status: int | None, error: str | None
    ) -> WebhookAttempt:
        body = message.body.decode("utf-8")
        return WebhookAttempt(message.msg_id, message.event_type, url, attempt, status, error, self.clock(), body)

    def _next_due(self) -> _Delivery | None:
        while not self._stopping:
            if self._heap:
                wait = self._heap[0].due - time.monotonic()
                if wait <= 0:
                    return heapq.heappop(self._heap)
                self._cond.wait(wait)
            else:
                self._cond.wait()
        return None

    # the worker ----------------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                delivery = self._next_due()
                if delivery is None:
                    return
                self._in_flight += 1
            status, error = self._deliver(delivery)
            with self._cond:
                self._in_flight -= 1
                if delivery.generation == self._generation:
                    self._record(delivery, status, error)
                self._cond.notify_all()

    def _record(self, delivery: _Delivery, status: int | None, error: str | None) -> None:
        message, endpoint = delivery.message, delivery.endpoint
        self._log.append(self._attempt_record(message, endpoint.url, delivery.attempt, status, error))
        failed = status is None or not 200 <= status < 300
        if failed and delivery.attempt < len(RETRY_SCHEDULE):
            wait = RETRY_SCHEDULE[delivery.attempt] * self.retry_time_factor
            self._push(message, endpoint, delivery.attempt + 1, wait)

    def _deliver(self, delivery: _Delivery) -> tuple[int | None, str | None]:
        headers = self.signed_headers(delivery.message, delivery.endpoint.secret)
        return _post(self._opener, delivery.endpoint.url, headers, delivery.message.body, self.timeout)

    def signed_headers(self, message: WebhookMessage, secret: str) -> dict[str, str]:
        """The headers of one attempt, signed now (honouring the ``tamper`` setting)."""
        timestamp = int(self.clock())
        if self.tamper == "old_timestamp":
            timestamp -= 600
        signature = sign(secret, message.msg_id, timestamp, message.body)
        if self.tamper == "bad_signature":
            signature = sign(generate_secret(), message.msg_id, timestamp, message.body)
        elif self.tamper == "rotated_secret":
            signature = f"{sign(generate_secret(), message.msg_id, timestamp, message.body)} {signature}"
        return {
            "svix-id": message.msg_id,
            "svix-timestamp": str(timestamp),
            "svix-signature": signature,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
