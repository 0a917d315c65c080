"""Batch actions: :func:`run_batch` applies one service function to many rows (the admin's actions, the
management commands) and counts successes, failures and changes in a :class:`BatchSummary`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..exceptions import OrkestaPayError

_Item = TypeVar("_Item")


@dataclass
class BatchSummary:
    """How a batch (sync, expiry, reprocessing) went."""

    succeeded: int = 0
    failed: int = 0
    changed: int = 0


def run_batch(items: Iterable[_Item], action: Callable[[_Item], Any]) -> BatchSummary:
    """Apply ``action`` to each item, counting successes and :class:`OrkestaPayError` failures (each action records
    its own failure on its row). ``changed`` counts results that are ``True`` or carry ``changed=True``."""
    summary = BatchSummary()
    for item in items:
        try:
            result = action(item)
        except OrkestaPayError:
            summary.failed += 1
        else:
            summary.succeeded += 1
            summary.changed += int(bool(getattr(result, "changed", result)))
    return summary
