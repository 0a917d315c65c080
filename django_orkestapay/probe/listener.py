"""The loopback server the buyer's browser comes back to: it records exactly which query parameters arrived.

:class:`ReturnListener` binds a loopback port (standard library ``http.server``) and answers
``GET /probe/<run>/<side>`` (``side``: completed or canceled) with a short page that says "go back to your
terminal"; each arrival is kept as an :class:`Arrival` (the raw query string and its parameters in order), and
:meth:`ReturnListener.next_arrival` blocks until the next one arrives or the time is up. Anything else gets a 404 and is
not recorded. ``public_base_url`` (a tunnel to this port) replaces the loopback address in :meth:`url`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

SIDES = ("completed", "canceled")
PAGE = (
    "<!DOCTYPE html><html lang=en><meta charset=utf-8><title>django-orkestapay probe</title>"
    "<body style='font-family:sans-serif;max-width:36em;margin:3em auto'><h1>Return recorded</h1>"
    "<p>The probe saw the browser come back to the <b>{side}</b> URL. Go back to your terminal.</p></body></html>"
)


@dataclass(frozen=True)
class Arrival:
    """One arrival of the browser at a return URL."""

    side: str
    raw_query: str
    params: tuple[tuple[str, str], ...]

    def names(self) -> list[str]:
        """The parameter names, in order."""
        return [name for name, _ in self.params]

    def first(self, name: str) -> str | None:
        """The first value of ``name``, or None."""
        return next((value for key, value in self.params if key == name), None)


class ReturnListener:
    """Records the browser's arrivals at ``/probe/<run>/completed`` and ``/probe/<run>/canceled`` on loopback."""

    def __init__(self, run_id: str, *, host: str = "127.0.0.1", port: int = 0, public_base_url: str | None = None):
        self.run_id = run_id
        self.host = host
        self.port = port
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self._arrivals: list[Arrival] = []
        self._taken = 0
        self._arrived = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Self:
        """Bind the port and serve from a daemon thread."""
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                side = parts.path.rstrip("/").rpartition("/")[2]
                if parts.path.rstrip("/") != f"/probe/{listener.run_id}/{side}" or side not in SIDES:
                    self.send_error(404)
                    return
                listener._record(Arrival(side, parts.query, tuple(parse_qsl(parts.query, keep_blank_values=True))))
                body = PAGE.format(side=side).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
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

    def url(self, side: str) -> str:
        """The return URL for ``side``, without a query string."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        base = self.public_base_url or f"http://{host}:{self.port}"
        return f"{base}/probe/{self.run_id}/{side}"

    def _record(self, arrival: Arrival) -> None:
        with self._arrived:
            self._arrivals.append(arrival)
            self._arrived.notify_all()

    def next_arrival(self, timeout: float) -> Arrival | None:
        """The next arrival not returned before (at either URL), or None after ``timeout`` seconds."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self._arrivals) > self._taken, timeout)
            if len(self._arrivals) <= self._taken:
                return None
            self._taken += 1
            return self._arrivals[self._taken - 1]
