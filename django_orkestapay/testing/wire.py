"""The request and response values passed between the HTTP server and the fake's routes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from ._util import dumps_bytes, loads


@dataclass
class Request:
    """One HTTP request as the fake sees it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Return a header value by case-insensitive name."""
        return self.headers.get(name.lower())

    def is_json(self) -> bool:
        """Whether the request declares a JSON body."""
        content_type = (self.header("content-type") or "").split(";")[0].strip().lower()
        return content_type == "application/json" or content_type.endswith("+json")

    def json(self) -> Any:
        """Parse the body as JSON (numbers as Decimal); raises ValueError when it is not JSON."""
        return loads(self.body)


@dataclass
class Response:
    """What to answer; ``disconnect`` ("close" or "reset") means: answer nothing and drop the connection.

    ``send_delay`` seconds pass before the answer (or the drop) goes out; the request is logged before that.
    """

    status: int | None
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    disconnect: str | None = None
    send_delay: float = 0.0

    def json(self) -> Any:
        """Parse the body as JSON (for tests and transformations)."""
        return loads(self.body)


def new_request_id() -> str:
    """Return a request id like the ones the real API puts in error bodies."""
    return str(uuid.uuid4())


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with the payload written exactly (Decimals keep their text)."""
    return Response(status, dumps_bytes(payload), "application/json", dict(headers or {}))


def html_response(status: int, html: str, headers: dict[str, str] | None = None) -> Response:
    """An HTML response."""
    return Response(status, html.encode("utf-8"), "text/html; charset=utf-8", dict(headers or {}))


def redirect_response(location: str) -> Response:
    """A 303 See Other to ``location``."""
    return Response(303, b"", "text/plain; charset=utf-8", {"Location": location})


def error_response(status: int, message: str, category: str, **extra: Any) -> Response:
    """An API error body: ``{request_id, category, message, ...}``."""
    payload: dict[str, Any] = {"request_id": new_request_id(), "category": category, "message": message}
    payload.update(extra)
    return json_response(status, payload)


def message_response(status: int, message: str) -> Response:
    """A bare ``{message}`` error body."""
    return json_response(status, {"message": message})
