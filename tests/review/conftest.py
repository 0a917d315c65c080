"""The review's scenarios are about money, not about how often a return may ask OrkestaPay: every return reads the
API (``RETURN_SYNC_INTERVAL`` 0), as it did when they were written; tests/test_bounded_work.py covers the bound."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.review.helpers import SECRET


@pytest.fixture(autouse=True)
def every_return_reads_orkestapay(request: pytest.FixtureRequest) -> Iterator[None]:
    if "orkestapay_settings" not in request.fixturenames:
        yield
        return
    configured: dict[str, Any] = request.getfixturevalue("orkestapay_settings")
    configured["RETURN_SYNC_INTERVAL"] = 0
    yield


@pytest.fixture
def webhooks(settings: Any, orkestapay_settings: dict[str, Any]) -> None:
    """Signed deliveries (``helpers.deliver``) are accepted."""
    settings.ORKESTAPAY = {**orkestapay_settings, "WEBHOOK_SECRETS": [SECRET]}
