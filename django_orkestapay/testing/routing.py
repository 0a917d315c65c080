"""How the fake answers one request: classify it, apply an injected fault or the API latency, route it, record it.

``handle`` is what the HTTP server calls from its handler threads. API requests (``/v1``) go to ``api``, the hosted
checkout (``/checkout``) to ``hosted_page`` and the control routes (``/_fake``) to ``control``; every request is
recorded in the request log, and a bug in the fake still answers (a 500) instead of dropping the connection.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

from . import api, control, hosted_page
from .core import GatewayCore
from .faults import Fault, apply_fault
from .recording import request_kind
from .wire import Request, Response, error_response

Sleep = Callable[[float], object]


def handle(core: GatewayCore, request: Request, sleep: Sleep) -> Response:
    """Answer one request; ``sleep`` waits out latency and delays (and returns early when the server stops)."""
    kind = request_kind(request.path)
    fault = core.faults.take(request.method, request.path) if kind != "control" else None
    try:
        response = _respond(core, request, kind, fault, sleep)
    except Exception as exc:  # noqa: BLE001 - a bug in the fake must still answer
        traceback.print_exc(file=sys.stderr)
        response = error_response(500, f"Fake gateway internal error: {exc!r}", "INTERNAL")
    record = core.log.record(request, response, kind, fault, core.settings.clock())
    if core.settings.on_request is not None:
        core.settings.on_request(record)
    return response


def _respond(core: GatewayCore, request: Request, kind: str, fault: Fault | None, sleep: Sleep) -> Response:
    if kind == "api" and core.settings.latency > 0:
        sleep(core.settings.latency)
    if fault is None:
        return _route(core, request, kind)
    if fault.kind == "delay":
        sleep(fault.delay)
        return _route(core, request, kind)
    real = _route(core, request, kind) if fault.after_processing else None
    return apply_fault(fault, real)


def _route(core: GatewayCore, request: Request, kind: str) -> Response:
    if kind == "control":
        return control.handle_control(core, request)
    if kind == "page":
        return hosted_page.handle_page(core.state, request)
    return api.handle_api(core, request)
