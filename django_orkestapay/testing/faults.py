"""Programmable API faults: per method and path pattern, for a number of matching requests.

Kinds and what they do to a matching request:

====================  ============================================================================================
kind                  effect
====================  ============================================================================================
``delay``             sleep ``delay`` seconds, then answer normally.
``timeout``           sleep ``delay`` seconds, then close the connection without answering.
``status``            answer ``status``: 500/502/503 with an HTML body, 400 with a JSON validation error, 429 with
                      ``Retry-After``, anything else with a JSON ``{message}``.
``malformed_json``    answer 200 with a body that is not JSON.
``truncated_json``    answer the real response with its body cut in half.
``unauthorized``      answer 401 JSON even though the token is valid.
``connection_reset``  reset the TCP connection (RST) without answering.
``redirect_host``     answer normally, but with ``checkout_redirect_url`` pointing at ``redirect_host``.
====================  ============================================================================================

Path patterns are shell-style globs (``fnmatch``), matched against the whole path without the query string: ``*``
matches any run of characters **including** ``/`` (``/v1/orders/*`` also matches ``/v1/orders/ord_1/payments``),
``?`` one character, ``[...]`` a set; ``*`` alone matches every path. A pattern that starts with ``re:`` is a
regular expression instead, which must match the whole path (``re:/v1/orders/[^/]+`` is an order but not its
payments). Globs are the default because they say what almost every test means (a path, or a path prefix) without
escaping; since ``.*`` or ``^`` in a glob would silently never match, a glob that looks like a regular expression
is refused with a ``ValueError`` that suggests the ``re:`` prefix.

``after_processing`` says whether the request is carried out (a checkout created, a refund made) before the fault
spoils the answer. Defaults: True for ``timeout`` (the realistic hard case: the work is done and the answer lost),
``malformed_json``, ``truncated_json`` and ``redirect_host``; False for ``status``, ``unauthorized`` and
``connection_reset``. ``truncated_json`` and ``redirect_host`` always process (they need the real answer).
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ._util import dumps_bytes, new_id
from .wire import Response, error_response, json_response, new_request_id

FAULT_KINDS = (
    "delay",
    "timeout",
    "status",
    "malformed_json",
    "truncated_json",
    "unauthorized",
    "connection_reset",
    "redirect_host",
)
_PROCESS_FIRST = frozenset({"timeout", "malformed_json", "truncated_json", "redirect_host"})
_MUST_PROCESS = frozenset({"truncated_json", "redirect_host"})
MALFORMED_BODY = b'{"status": "OK", "data": {"id": , "items": [}'
#: A path pattern with this prefix is a regular expression matched against the whole path; any other is a glob.
REGEX_PREFIX = "re:"
#: What gives a glob away as a regular expression: an anchor, ``.*`` / ``.+``, a class escape, a group, a ``|``.
_LOOKS_LIKE_A_REGEX = re.compile(r"^\^|\$$|\.[*+]|\\[dDwWsS]|\(\?|\|")


def path_matches(pattern: str, path: str) -> bool:
    """Whether ``path`` matches a fault's path pattern: a glob, or (``re:...``) a regular expression."""
    if pattern.startswith(REGEX_PREFIX):
        return re.fullmatch(pattern.removeprefix(REGEX_PREFIX), path) is not None
    return fnmatchcase(path, pattern)


def check_path_pattern(pattern: str) -> None:
    """Refuse a regular expression that does not compile, and a glob that looks like a regular expression."""
    if pattern.startswith(REGEX_PREFIX):
        try:
            re.compile(pattern.removeprefix(REGEX_PREFIX))
        except re.error as exc:
            raise ValueError(f"path pattern {pattern!r} is not a valid regular expression: {exc}") from exc
    elif _LOOKS_LIKE_A_REGEX.search(pattern):
        raise ValueError(
            f"path pattern {pattern!r} looks like a regular expression, but path patterns are shell-style globs "
            f"(* matches anything, / included); write {REGEX_PREFIX + pattern!r} to match it as a regular expression"
        )


@dataclass
class Fault:
    """One injected fault; ``times`` is how many more matching requests it will affect."""

    method: str
    path_pattern: str
    kind: str
    times: int = 1
    status: int | None = None
    delay: float = 0.0
    redirect_host: str | None = None
    after_processing: bool = False
    hits: int = 0
    fault_id: str = field(default_factory=lambda: new_id("flt"))

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to ``method path`` (see :func:`path_matches`)."""
        return self.method in ("*", method.upper()) and path_matches(self.path_pattern, path)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly description."""
        return asdict(self)


def make_fault(
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
    """Validate the arguments of ``inject_fault`` and build the Fault."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    check_path_pattern(path_pattern)
    if times < 1:
        raise ValueError("times must be at least 1")
    if delay < 0:
        raise ValueError("delay must not be negative")
    if kind == "status" and (status is None or not 100 <= status <= 599):
        raise ValueError("a 'status' fault needs status=<HTTP status code>")
    if kind == "redirect_host" and not redirect_host:
        raise ValueError("a 'redirect_host' fault needs redirect_host='evil.example'")
    if kind in _MUST_PROCESS and after_processing is False:
        raise ValueError(f"a {kind!r} fault needs the real answer, so after_processing cannot be False")
    process = kind in _PROCESS_FIRST if after_processing is None else after_processing
    return Fault(method.upper(), path_pattern, kind, times, status, float(delay), redirect_host, process)


class FaultBook:
    """The set of active faults, safe to use from several threads."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def snapshot(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one use of the first fault matching the request (faults are matched in the order added)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    fault.hits += 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


def status_response(status: int) -> Response:
    """The answer of a ``status`` fault."""
    if status >= 500:
        html = f"<html><head><title>{status} Error</title></head><body><h1>{status} Error</h1></body></html>"
        return Response(status, html.encode("utf-8"), "text/html; charset=utf-8")
    if status == 400:
        payload = {
            "message": "Validation failed",
            "request_id": new_request_id(),
            "category": "VALIDATION",
            "validation_errors": [{"field": "body", "message": "Injected validation error"}],
        }
        return json_response(400, payload)
    if status == 429:
        return json_response(429, {"message": "Too many requests"}, {"Retry-After": "1"})
    return json_response(status, {"message": f"Injected error {status}"})


def _rewrite_host(response: Response, host: str) -> Response:
    """Point ``checkout_redirect_url`` in a JSON answer at ``host``."""
    try:
        payload = response.json()
    except ValueError:
        return response
    if not isinstance(payload, dict) or not isinstance(payload.get("checkout_redirect_url"), str):
        return response
    parts = urlsplit(payload["checkout_redirect_url"])
    payload["checkout_redirect_url"] = urlunsplit(parts._replace(scheme="https", netloc=host))
    return Response(response.status, dumps_bytes(payload), response.content_type, dict(response.headers))


def apply_fault(fault: Fault, real: Response | None) -> Response:
    """Return the faulty answer; ``real`` is the normal answer when the request was processed first."""
    if fault.kind == "timeout":
        return Response(None, disconnect="close", send_delay=fault.delay)
    if fault.kind == "connection_reset":
        return Response(None, disconnect="reset")
    if fault.kind == "status":
        return status_response(fault.status or 500)
    if fault.kind == "unauthorized":
        return error_response(401, "Invalid or expired access token", "AUTHENTICATION")
    if fault.kind == "malformed_json":
        return Response(200, MALFORMED_BODY, "application/json")
    assert real is not None, "this fault kind always processes the request first"
    if fault.kind == "truncated_json":
        return Response(real.status, real.body[: len(real.body) // 2], real.content_type, dict(real.headers))
    return _rewrite_host(real, fault.redirect_host or "evil.example")
