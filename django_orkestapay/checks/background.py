"""Checks of the background-work keys: how webhooks are processed, the task backend, the periodic sweeps."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error

from .. import conf
from ._common import _effective, _is_non_negative, _key


def background_work(user: dict[str, Any]) -> list[CheckMessage]:
    """``WEBHOOK_PROCESSING`` (E013), ``SCHEDULE`` and ``EVENT_REPROCESS_AFTER`` (E014), ``TASK_BACKEND`` (E015)."""
    return _webhook_processing(user) + _schedule(user) + _task_backend(user)


def _webhook_processing(user: dict[str, Any]) -> list[CheckMessage]:
    mode = _effective(user, "WEBHOOK_PROCESSING")
    if mode in conf.WEBHOOK_PROCESSING_MODES:
        return []
    return [
        Error(
            f"WEBHOOK_PROCESSING is {mode!r}; it must be one of {', '.join(conf.WEBHOOK_PROCESSING_MODES)}.",
            hint='"auto" (the default) processes deliveries in the request under the ImmediateBackend and queues '
            'them for a worker otherwise; "inline" or "queue" decide it yourself.',
            obj=_key("WEBHOOK_PROCESSING"),
            id="orkestapay.E013",
        )
    ]


def _schedule(user: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    after = _effective(user, "EVENT_REPROCESS_AFTER")
    if not _is_non_negative(after):
        messages.append(_e014("EVENT_REPROCESS_AFTER", f"is {after!r}; it must be a number of seconds, 0 or more."))
    schedule = _effective(user, "SCHEDULE")
    if not isinstance(schedule, dict):
        return [*messages, _e014("SCHEDULE", f"is {type(schedule).__name__}; it must be a dict of sweeps to seconds.")]
    known = conf.DEFAULTS["SCHEDULE"]
    for name, seconds in schedule.items():
        if name not in known:
            messages.append(_e014("SCHEDULE", f"names {name!r}, which is not a sweep ({', '.join(known)})."))
        elif seconds is not None and not _is_non_negative(seconds):
            messages.append(_e014("SCHEDULE", f"gives {name} {seconds!r}; use a number of seconds, or None or 0."))
    return messages


def _e014(key: str, problem: str) -> Error:
    return Error(
        f"{key} {problem}",
        hint=f"The default is {conf.DEFAULTS[key]!r} (the documentation: Management commands and background work).",
        obj=_key(key),
        id="orkestapay.E014",
    )


def _task_backend(user: dict[str, Any]) -> list[CheckMessage]:
    alias = _effective(user, "TASK_BACKEND")
    configured = getattr(settings, "TASKS", None)
    aliases = list(configured) if isinstance(configured, dict) else ["default"]  # unset: the framework's default
    if alias in aliases:
        return []
    return [
        Error(
            f"TASK_BACKEND is {alias!r}, which is not an alias of settings.TASKS ({', '.join(map(repr, aliases))}): "
            "no task of this app could be enqueued, and webhook deliveries would fail.",
            hint="Name one of the TASKS aliases, or remove TASK_BACKEND to use 'default'.",
            obj=_key("TASK_BACKEND"),
            id="orkestapay.E015",
        )
    ]
