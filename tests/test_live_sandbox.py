"""The sandbox probe's questions against OrkestaPay's real sandbox, as tests marked ``live``.

They are collected with the rest of the suite and skipped (reported as skipped, with the reason) unless sandbox
credentials are in the environment. One command runs them::

    ORKESTAPAY_SANDBOX_CLIENT_ID=... ORKESTAPAY_SANDBOX_CLIENT_SECRET=... \\
        .venv/bin/python -m pytest -m live -p no:cacheprovider -rs tests/test_live_sandbox.py

Each question group is one test; it fails when OrkestaPay's answer differs from what the package assumes, and the
failure shows the probe's report for that group. The return (and the refunds after it) needs a person with a
browser: set ``ORKESTAPAY_SANDBOX_RETURN=1`` (and ``ORKESTAPAY_SANDBOX_REFUND=1``) and the test prints the hosted
checkout URLs to open. ``ORKESTAPAY_SANDBOX_BASE_URL`` points them elsewhere (a fake gateway on loopback, to
rehearse); production is refused.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from django_orkestapay.client import SANDBOX_BASE_URL, CheckoutResult
from django_orkestapay.probe import ProbeConfig, Verdict, render_text, run_probe
from django_orkestapay.probe.cli import (
    BASE_URL_VARIABLE,
    CLIENT_ID_VARIABLE,
    CLIENT_SECRET_VARIABLE,
    INSTRUCTIONS,
)
from django_orkestapay.probe.context import Presenter

RETURN_VARIABLE = "ORKESTAPAY_SANDBOX_RETURN"
REFUND_VARIABLE = "ORKESTAPAY_SANDBOX_REFUND"

HAVE_CREDENTIALS = bool(os.environ.get(CLIENT_ID_VARIABLE) and os.environ.get(CLIENT_SECRET_VARIABLE))

pytestmark = [
    pytest.mark.live,  # not "standalone": every pass of scripts/test reports them as skipped, none deselects them
    pytest.mark.skipif(
        not HAVE_CREDENTIALS,
        reason=f"live sandbox tests: set {CLIENT_ID_VARIABLE} and {CLIENT_SECRET_VARIABLE} to run them",
    ),
]


def sandbox(*groups: str, **changes: Any) -> ProbeConfig:
    return ProbeConfig(
        client_id=os.environ[CLIENT_ID_VARIABLE],
        client_secret=os.environ[CLIENT_SECRET_VARIABLE],
        base_url=os.environ.get(BASE_URL_VARIABLE) or SANDBOX_BASE_URL,
        groups=groups,
        **changes,
    )


def nobody(side: str, checkout: CheckoutResult) -> None:
    raise AssertionError("this group needs no person")


def assert_as_assumed(config: ProbeConfig, present: Presenter = nobody) -> None:
    report, redactor = run_probe(config, present=present)
    failed = [row.key for row in report.rows if row.verdict in (Verdict.MISMATCH, Verdict.ERROR)]
    assert not failed, f"OrkestaPay answered otherwise: {', '.join(failed)}\n\n{render_text(report, redactor)}"


@pytest.mark.parametrize("group", ["token", "auth", "checkout", "locale", "duplicates", "amounts", "limits"])
def test_the_sandbox_answers_as_the_package_assumes(group: str) -> None:
    assert_as_assumed(sandbox(group))


@pytest.mark.skipif(
    HAVE_CREDENTIALS and not os.environ.get(RETURN_VARIABLE),
    reason=f"needs a person with a browser: set {RETURN_VARIABLE}=1",
)
def test_the_return_in_a_browser(capsys: pytest.CaptureFixture[str]) -> None:
    def show(side: str, checkout: CheckoutResult) -> None:
        with capsys.disabled():
            print(f"\n>>> Open this checkout and {INSTRUCTIONS[side]}:\n    {checkout.redirect_url}\n", flush=True)

    groups = ("return", "refund") if os.environ.get(REFUND_VARIABLE) else ("return",)
    assert_as_assumed(sandbox(*groups, return_timeout=600.0), present=show)
