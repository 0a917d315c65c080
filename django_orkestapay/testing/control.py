"""Control routes under ``/_fake/`` (never part of the real API): reset, inspection, faults, webhooks, scenarios.

========  ======================================  ================================================================
method    path                                    effect
========  ======================================  ================================================================
GET       /_fake/health                           ``{status: "ok", base_url, client_id}``
POST      /_fake/reset                            ``fake.reset()``
GET       /_fake/requests                         API request log (``?kind=all|api|page|control``)
GET       /_fake/state                            orders, checkouts and payments in API shape
GET       /_fake/faults                           the active faults
POST      /_fake/faults                           ``inject_fault`` from a JSON body with the same argument names
DELETE    /_fake/faults                           ``clear_faults()``
GET       /_fake/webhooks/log                     delivery attempts
POST      /_fake/webhooks/flush                   release held (manual / out_of_order) messages
POST      /_fake/webhooks/endpoints               ``{url, secret?, events?}`` -> ``{secret}``
POST      /_fake/webhooks/config                  ``{mode?, delay?, retry_time_factor?, payload_version?, tamper?}``
POST      /_fake/webhooks/{msg_id}/resend         deliver a message again
POST      /_fake/payments/{id}/settle             settle a pending (SPEI) payment
POST      /_fake/payments/{id}/portal_refund      ``{amount}``: a refund made in OrkestaPay's portal
POST      /_fake/refunds/{transaction_id}/settle  ``{succeed?}`` (default true): finish a pending refund
POST      /_fake/checkouts/{id}/expire            expire a checkout now
POST      /_fake/orders/{id}/status               ``{status}``: back door, bypasses the state machine
POST      /_fake/tokens/expire                    expire every issued token
GET       /_fake/settings                         every behaviour switch and its value
POST      /_fake/settings                         ``{switch: value, ...}``: set switches (``reset`` restores them)
========  ======================================  ================================================================

Every action receives the ``GatewayCore`` (settings, state, faults, webhooks, request log), never the server class.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .core import GatewayCore
from .faults import make_fault
from .records import FakeGatewayError
from .settings import RESETTABLE
from .wire import Request, Response, json_response, message_response

Action = Callable[[GatewayCore, Request, "re.Match[str]"], Any]
FAULT_ARGS = ("method", "path_pattern", "kind", "times", "status", "delay", "redirect_host", "after_processing")
CONFIG_ATTRS = {
    "mode": "webhook_mode",
    "delay": "webhook_delay",
    "retry_time_factor": "webhook_retry_time_factor",
    "payload_version": "webhook_payload_version",
    "tamper": "webhook_tamper",
}


def _body(request: Request) -> dict[str, Any]:
    if not request.body:
        return {}
    value = request.json()
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def _health(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    return {"status": "ok", "base_url": core.settings.base_url, "client_id": core.settings.client_id}


def _reset(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    core.reset()
    return {"status": "ok"}


def _requests(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    records = core.log.requests(request.query.get("kind", "api"))
    return {"requests": [record.as_dict() for record in records]}


def _state(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    state = core.state
    return {"orders": state.order_views(), "checkouts": state.checkout_views(), "payments": state.payment_views()}


def _faults(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    return {"faults": [fault.as_dict() for fault in core.faults.snapshot()]}


def _add_fault(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    body = _body(request)
    unknown = set(body) - set(FAULT_ARGS)
    if unknown:
        raise ValueError(f"unknown fault arguments: {', '.join(sorted(unknown))}")
    args = {key: body[key] for key in FAULT_ARGS if key in body and key not in ("method", "path_pattern", "kind")}
    fault = make_fault(str(body.get("method", "")), str(body.get("path_pattern", "")), str(body.get("kind")), **args)
    core.faults.add(fault)
    return fault.as_dict()


def _clear_faults(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    core.faults.clear()
    return {"status": "ok"}


def _webhook_log(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    return {"attempts": [attempt.as_dict() for attempt in core.webhooks.log]}


def _flush(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    return {"released": core.webhooks.flush()}


def _add_endpoint(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    body = _body(request)
    if not isinstance(body.get("url"), str):
        raise ValueError("url is required")
    return {"secret": core.webhooks.add_endpoint(body["url"], body.get("secret"), body.get("events"))}


def _set_settings(core: GatewayCore, request: Request, attributes: dict[str, str], what: str) -> None:
    """Set the settings a JSON body names (``attributes``: body key -> settings attribute)."""
    body = _body(request)
    unknown = set(body) - set(attributes)
    if unknown:
        raise ValueError(f"unknown {what}: {', '.join(sorted(unknown))}")
    for key, value in sorted(body.items(), key=lambda item: item[0] != "profile"):  # the profile's preset first
        if isinstance(value, Decimal):  # JSON fractions arrive as Decimal; the settings hold floats
            value = float(value)
        setattr(core.settings, attributes[key], tuple(value) if isinstance(value, list) else value)


def _config(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    _set_settings(core, request, CONFIG_ATTRS, "webhook settings")
    return {key: getattr(core.settings, attr) for key, attr in CONFIG_ATTRS.items()}


def _resend(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    core.webhooks.resend(match["id"])
    return {"status": "ok"}


def _settle(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    core.state.settle(match["id"])
    return core.state.payment_view(match["id"])


def _portal_refund(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    amount = _body(request).get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
        raise ValueError("amount (a JSON number) is required")
    return core.state.refund_from_portal(match["id"], amount)


def _settle_refund(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    succeed = _body(request).get("succeed", True)
    if not isinstance(succeed, bool):
        raise ValueError("succeed must be true or false")
    return core.state.settle_refund(match["id"], succeed=succeed)


def _expire(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    core.state.expire_checkout(match["id"])
    return core.state.checkout_view(match["id"])


def _order_status(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    status = _body(request).get("status")
    if not isinstance(status, str):
        raise ValueError("status is required")
    core.state.force_status(match["id"], status)
    return core.state.order_view(match["id"])


def _expire_tokens(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    core.state.expire_tokens()
    return {"status": "ok"}


def _switches(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    return core.settings.switches()


def _set_switches(core: GatewayCore, request: Request, match: re.Match[str]) -> Any:
    _set_settings(core, request, {name: name for name in RESETTABLE}, "settings")
    return core.settings.switches()


ROUTES: list[tuple[str, re.Pattern[str], Action]] = [
    ("GET", re.compile(r"^/_fake/health/?$"), _health),
    ("POST", re.compile(r"^/_fake/reset/?$"), _reset),
    ("GET", re.compile(r"^/_fake/requests/?$"), _requests),
    ("GET", re.compile(r"^/_fake/state/?$"), _state),
    ("GET", re.compile(r"^/_fake/faults/?$"), _faults),
    ("POST", re.compile(r"^/_fake/faults/?$"), _add_fault),
    ("DELETE", re.compile(r"^/_fake/faults/?$"), _clear_faults),
    ("GET", re.compile(r"^/_fake/webhooks/log/?$"), _webhook_log),
    ("POST", re.compile(r"^/_fake/webhooks/flush/?$"), _flush),
    ("POST", re.compile(r"^/_fake/webhooks/endpoints/?$"), _add_endpoint),
    ("POST", re.compile(r"^/_fake/webhooks/config/?$"), _config),
    ("POST", re.compile(r"^/_fake/webhooks/(?P<id>msg_[0-9a-f]+)/resend/?$"), _resend),
    ("POST", re.compile(r"^/_fake/payments/(?P<id>[^/]+)/settle/?$"), _settle),
    ("POST", re.compile(r"^/_fake/payments/(?P<id>[^/]+)/portal_refund/?$"), _portal_refund),
    ("POST", re.compile(r"^/_fake/refunds/(?P<id>[^/]+)/settle/?$"), _settle_refund),
    ("POST", re.compile(r"^/_fake/checkouts/(?P<id>[^/]+)/expire/?$"), _expire),
    ("POST", re.compile(r"^/_fake/orders/(?P<id>[^/]+)/status/?$"), _order_status),
    ("POST", re.compile(r"^/_fake/tokens/expire/?$"), _expire_tokens),
    ("GET", re.compile(r"^/_fake/settings/?$"), _switches),
    ("POST", re.compile(r"^/_fake/settings/?$"), _set_switches),
]


def handle_control(core: GatewayCore, request: Request) -> Response:
    """Route one ``/_fake/`` request; errors come back as JSON ``{message}`` (400, 404 or 409)."""
    for method, pattern, action in ROUTES:
        match = pattern.match(request.path)
        if match is not None and method == request.method:
            return _run(core, request, match, action)
    return message_response(404, f"No control route for {request.method} {request.path}")


def _run(core: GatewayCore, request: Request, match: re.Match[str], action: Action) -> Response:
    try:
        return json_response(200, action(core, request, match))
    except KeyError as exc:
        return message_response(404, f"Unknown id {exc}")
    except FakeGatewayError as exc:
        return message_response(409, str(exc))
    except (ValueError, TypeError) as exc:
        return message_response(400, str(exc))
