"""Fixtures for the sandbox probe's tests: the fake gateway and a "buyer" who pays or cancels on its hosted page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from django_orkestapay.client import CheckoutResult
from django_orkestapay.probe import GROUPS, ProbeConfig, Redactor, Report, run_probe
from django_orkestapay.testing import FakeOrkestaPay, hosted_page_url

Presenter = Callable[[str, CheckoutResult], None]
ACTIONS = {"completed": "pay", "canceled": "cancel"}


def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def hosted_page_buyer(then: Callable[[str, CheckoutResult], None] | None = None) -> Presenter:
    """A person who presses Pay (completed) or Cancel (canceled) on the fake's hosted page; the browser follows
    the 303 back to the probe's listener. ``then`` runs afterwards (to change what the API reports next)."""

    def present(side: str, checkout: CheckoutResult) -> None:
        response = http().post(f"{hosted_page_url(checkout.redirect_url)}/{ACTIONS[side]}", timeout=5)
        assert response.status_code == 200, response.text
        assert "Return recorded" in response.text
        if then is not None:
            then(side, checkout)

    return present


def config_for(fake: FakeOrkestaPay, *groups: str, **changes: Any) -> ProbeConfig:
    """A probe run against ``fake`` (every group but refunds by default), waiting 5 s for a return."""
    values: dict[str, Any] = {"groups": groups or GROUPS[:-1], "return_timeout": 5.0, **changes}
    return ProbeConfig(client_id=fake.client_id, client_secret=fake.client_secret, base_url=fake.base_url, **values)


def probe(
    fake: FakeOrkestaPay, *groups: str, present: Presenter | None = None, **changes: Any
) -> tuple[Report, Redactor]:
    return run_probe(config_for(fake, *groups, **changes), present=present or hosted_page_buyer())


@pytest.fixture
def fake(fake_orkestapay: FakeOrkestaPay) -> FakeOrkestaPay:
    """The session's fake gateway, reset around each test."""
    return fake_orkestapay
