"""The fake gateway's request log: one ``RecordedRequest`` per request received, secrets redacted.

``request_kind`` classifies a path (API, hosted page or ``/_fake`` control route); ``RequestLog`` keeps the records
in arrival order, safe to use from the server's handler threads, and answers the counting questions tests ask.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ._util import loads, redact
from .faults import Fault
from .wire import Request, Response


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
    if path.startswith("/checkout/") or path in ("/", "/favicon.ico"):
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


class RequestLog:
    """Every request the fake received, oldest first."""

    def __init__(self) -> None:
        self._records: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def record(
        self, request: Request, response: Response, kind: str, fault: Fault | None, at: float
    ) -> RecordedRequest:
        """Append the record of one answered (or dropped) request and return it."""
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            status=response.status,
            json_body=_record_body(request),
            at=at,
            kind=kind,
            fault=fault.kind if fault else None,
            headers=_record_headers(request),
        )
        with self._lock:
            self._records.append(record)
        return record

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()

    def requests(self, kind: str = "all") -> list[RecordedRequest]:
        """The requests of one ``kind`` (api, page, control, or all of them), oldest first."""
        with self._lock:
            return [record for record in self._records if kind in ("all", record.kind)]

    def count(
        self, method: str | None = None, path: str | None = None, prefix: str | None = None, *, kind: str = "api"
    ) -> int:
        """Count recorded requests by method, exact path and/or path prefix (``kind``: api, page, control, all)."""
        return sum(
            1
            for r in self.requests(kind)
            if (method is None or r.method == method.upper())
            and (path is None or r.path == path)
            and (prefix is None or r.path.startswith(prefix))
        )
