"""Appends ``paid <order id>`` and ``changed <order id> <old> <new>`` lines to ``$ORKESTAPAY_TEST_SIGNAL_FILE``
(one short ``O_APPEND`` write each, so several processes can share the file)."""

from __future__ import annotations

import os
from typing import Any

from django.apps import AppConfig


def _append(line: str) -> None:
    path = os.environ.get("ORKESTAPAY_TEST_SIGNAL_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(line + "\n")


def _on_paid(sender: Any, order: Any, **kwargs: Any) -> None:
    _append(f"paid {order.pk}")


def _on_change(sender: Any, order: Any, old_status: str, new_status: str, **kwargs: Any) -> None:
    _append(f"changed {order.pk} {old_status} {new_status}")


class SignalFileConfig(AppConfig):
    name = "tests.signal_file"
    label = "signal_file"

    def ready(self) -> None:
        from django_orkestapay import signals

        signals.order_paid.connect(_on_paid, dispatch_uid="signal-file-paid")
        signals.order_status_changed.connect(_on_change, dispatch_uid="signal-file-change")
