"""Fixtures for the sandbox probe's tests: the fake gateway and a "buyer" who pays or cancels on its hosted page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from django_orkestapay.client import CheckoutResult
from django_orkestapay.probe import DEFAULT_GROUPS, ProbeConfig, Redactor, Report, run_probe
from django_orkestapay.testing import FakeOrkestaPay, hosted_page_url

Presenter = Callable[[str, CheckoutResult], None]
ACTIONS = {"completed": "pay", "canceled": "cancel", "pending": "pay-pending", "declined": "cancel"}


def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def hosted_page_buyer(then: Callable[[str, CheckoutResult], None] | None = None) -> Presenter:
    """A person who presses Pay (completed), Cancel (canceled), the SPEI button (pending) or Decline then Cancel
    (declined) on the fake's hosted page; the browser follows the 303 back to the probe's listener. ``then`` runs
    afterwards (to change what the API reports next)."""

    def present(side: str, checkout: CheckoutResult) -> None:
        if side == "declined":  # the card is declined on the page (no redirect), then the person cancels
            declined = http().post(f"{hosted_page_url(checkout.redirect_url)}/decline", timeout=5)
            assert declined.status_code != 303, declined.text
            canceled = http().post(f"{hosted_page_url(checkout.redirect_url)}/cancel", timeout=5)
            # an order the decline FAILED (decline_marks_order_failed) can no longer be canceled: nobody comes back
            assert "Return recorded" in canceled.text or canceled.status_code >= 400, canceled.text
            return
        response = http().post(f"{hosted_page_url(checkout.redirect_url)}/{ACTIONS[side]}", timeout=5)
        assert response.status_code == 200, response.text
        assert "Return recorded" in response.text
        if then is not None:
            then(side, checkout)

    return present


def config_for(fake: FakeOrkestaPay, *groups: str, **changes: Any) -> ProbeConfig:
    """A probe run against ``fake`` (the default groups unless told), waiting 5 s for a return, 1 s for a
    checkout to expire and 2 s for webhooks."""
    values: dict[str, Any] = {
        "groups": groups or DEFAULT_GROUPS,
        "return_timeout": 5.0,
        "expiry_lifetime": 1.0,
        "webhook_wait": 2.0,
        **changes,
    }
    return ProbeConfig(client_id=fake.client_id, client_secret=fake.client_secret, base_url=fake.base_url, **values)


def register_with(fake: FakeOrkestaPay) -> Callable[[str, str], None]:
    """A person who registers the probe's webhook URL with the (fake) gateway, as they would in the portal."""

    def announce(what: str, url: str) -> None:
        assert what == "webhook"
        fake.add_webhook_endpoint(url)

    return announce


def probe(
    fake: FakeOrkestaPay, *groups: str, present: Presenter | None = None, **changes: Any
) -> tuple[Report, Redactor]:
    return run_probe(
        config_for(fake, *groups, **changes), present=present or hosted_page_buyer(), announce=register_with(fake)
    )


@pytest.fixture
def fake(fake_orkestapay: FakeOrkestaPay) -> FakeOrkestaPay:
    """The session's fake gateway, reset around each test."""
    return fake_orkestapay
