"""The loopback server the buyer's browser comes back to, and OrkestaPay's webhooks are delivered to: it records
exactly which query parameters arrived, and which headers and body each delivery carried.

:class:`ReturnListener` binds a loopback port (standard library ``http.server``) and answers
``GET /probe/<run>/<side>`` and ``GET /probe/<run>/<flow>/<side>`` (``side``: completed or canceled; ``flow`` names
one of the probe's checkouts, so a late return of one is never taken for another's) with a short page that says "go
back to your terminal"; each arrival is kept as an :class:`Arrival` (the raw query string and its parameters in
order), and :meth:`ReturnListener.next_arrival` blocks until the next one arrives or the time is up.
``POST /probe/<run>/webhook`` records a :class:`Delivery` (its headers and JSON body, at most
:data:`MAX_DELIVERY_BYTES`) and answers 200. Anything else gets a 404 and is not recorded. ``public_base_url`` (a
tunnel to this port) replaces the loopback address in :meth:`url` and :meth:`webhook_url`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

SIDES = ("completed", "canceled")
#: The largest webhook body recorded (a bigger one is answered 413 and not recorded).
MAX_DELIVERY_BYTES = 256 * 1024
PAGE = (
    "<!DOCTYPE html><html lang=en><meta charset=utf-8><title>django-orkestapay probe</title>"
    "<body style='font-family:sans-serif;max-width:36em;margin:3em auto'><h1>Return recorded</h1>"
    "<p>The probe saw the browser come back to the <b>{side}</b> URL. Go back to your terminal.</p></body></html>"
)


@dataclass(frozen=True)
class Arrival:
    """One arrival of the browser at a return URL (``flow``: the checkout's own URL, ``""`` for the plain one)."""

    side: str
    raw_query: str
    params: tuple[tuple[str, str], ...]
    flow: str = ""

    def names(self) -> list[str]:
        """The parameter names, in order."""
        return [name for name, _ in self.params]

    def first(self, name: str) -> str | None:
        """The first value of ``name``, or None."""
        return next((value for key, value in self.params if key == name), None)


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery: its headers (names lower-cased, in order) and its body (``None`` when not JSON)."""

    headers: tuple[tuple[str, str], ...]
    body: Any
    received_at: float

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        return next((value for key, value in self.headers if key == name.lower()), None)


class ReturnListener:
    """Records the browser's arrivals at the return URLs and the webhook deliveries, on loopback."""

    def __init__(self, run_id: str, *, host: str = "127.0.0.1", port: int = 0, public_base_url: str | None = None):
        self.run_id = run_id
        self.host = host
        self.port = port
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self._arrivals: list[Arrival] = []
        self._taken: set[int] = set()
        self._deliveries: list[Delivery] = []
        self._arrived = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Self:
        """Bind the port and serve from a daemon thread."""
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                segments = parts.path.strip("/").split("/")
                if len(segments) not in (3, 4) or segments[:2] != ["probe", listener.run_id]:
                    self.send_error(404)
                    return
                side, flow = segments[-1], (segments[2] if len(segments) == 4 else "")
                if side not in SIDES:
                    self.send_error(404)
                    return
                params = tuple(parse_qsl(parts.query, keep_blank_values=True))
                listener._record(Arrival(side, parts.query, params, flow))
                self._answer(200, PAGE.format(side=side).encode(), "text/html; charset=utf-8")

            def do_POST(self) -> None:
                if urlsplit(self.path).path.rstrip("/") != f"/probe/{listener.run_id}/webhook":
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_DELIVERY_BYTES:
                    self.send_error(413)
                    return
                raw = self.rfile.read(length) if length > 0 else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                headers = tuple((name.lower(), value) for name, value in self.headers.items())
                listener._deliver(Delivery(headers, body, time.monotonic()))
                self._answer(200, b"{}", "application/json")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the query string may carry ids only, but a terminal full of access logs helps nobody

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return self.public_base_url or f"http://{host}:{self.port}"

    def url(self, side: str, flow: str = "") -> str:
        """The return URL for ``side`` (of the checkout ``flow``, when given), without a query string."""
        return f"{self._base()}/probe/{self.run_id}/{flow + '/' if flow else ''}{side}"

    def webhook_url(self) -> str:
        """The URL to register as a webhook endpoint in OrkestaPay's portal."""
        return f"{self._base()}/probe/{self.run_id}/webhook"

    def _record(self, arrival: Arrival) -> None:
        with self._arrived:
            self._arrivals.append(arrival)
            self._arrived.notify_all()

    def _deliver(self, delivery: Delivery) -> None:
        with self._arrived:
            self._deliveries.append(delivery)
            self._arrived.notify_all()

    def _untaken(self, flow: str | None) -> int | None:
        for index, arrival in enumerate(self._arrivals):
            if index not in self._taken and (flow is None or arrival.flow == flow):
                return index
        return None

    def next_arrival(self, timeout: float, *, flow: str | None = None) -> Arrival | None:
        """The next arrival not returned before (of ``flow`` when given, else at any URL), or None after
        ``timeout`` seconds."""
        with self._arrived:
            self._arrived.wait_for(lambda: self._untaken(flow) is not None, timeout)
            index = self._untaken(flow)
            if index is None:
                return None
            self._taken.add(index)
            return self._arrivals[index]

    def deliveries(self) -> list[Delivery]:
        """Every webhook delivery so far, oldest first."""
        with self._arrived:
            return list(self._deliveries)

    def wait_for_deliveries(self, timeout: float, *, quiet: float, since: float | None = None) -> list[Delivery]:
        """Wait up to ``timeout`` seconds for a first delivery, then until none has come for ``quiet`` seconds
        (counted from the last delivery, or from ``since``, a ``time.monotonic()`` value, when that is later) or the
        time is up; return every delivery so far."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            self._arrived.wait_for(lambda: bool(self._deliveries), timeout)
            while self._deliveries:
                left = deadline - time.monotonic()
                idle = time.monotonic() - max(self._deliveries[-1].received_at, since or 0.0)
                if left <= 0 or idle >= quiet:
                    break
                self._arrived.wait(min(left, quiet - idle))
            return list(self._deliveries)
