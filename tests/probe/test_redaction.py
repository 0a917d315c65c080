"""Secrets, tokens and buyer data never reach the probe's text report, its JSON report or the logs: the redactor
on planted values, then a whole run against a fake gateway that leaks them into every answer."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from django_orkestapay.probe import Redactor, Report, Row, Verdict, render_json, render_text, run_probe
from django_orkestapay.testing import FakeOrkestaPay

from .conftest import config_for, hosted_page_buyer

PLANTED_SECRET = "planted-Client-Secret-7f3a9c"
PLANTED_EMAIL = "planted.buyer@example.com"
PLANTED_CARD = "4242 4242 4242 4242"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlLXBsYW50ZWQ"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"access_token": "abc", "token_type": "Bearer"}, {"access_token": "<secret>", "token_type": "Bearer"}),
        (
            {"customer": {"email": "a@b.mx", "first_name": "Ana"}},
            {"customer": {"email": "<buyer data>", "first_name": "<buyer data>"}},
        ),
        (
            {"card": {"bin": "424242", "last_four": "4242", "brand": "VISA"}},
            {"card": {"bin": "<buyer data>", "last_four": "<buyer data>", "brand": "VISA"}},
        ),
        ({"message": f"token {JWT} refused"}, {"message": "token <token> refused"}),
        ({"message": f"card {PLANTED_CARD} of {PLANTED_EMAIL}"}, {"message": "card <card number> of <email>"}),
        ({"spei": {"clabe": "646180123456789012"}}, {"spei": {"clabe": "<buyer data>"}}),
        (["4242-4242-4242-4242", "5555555555554444"], ["<card number>", "<card number>"]),
        (
            {"checkout_redirect_url": "https://checkout.sand.orkestapay.com/#/checkout/chk_1/6f2d8077c669"},
            {"checkout_redirect_url": "https://checkout.sand.orkestapay.com/…"},
        ),
        # What stays: ids, 13-digit epoch milliseconds, amounts, empty values.
        (
            {"order_id": "ord_1234567890123456789", "expires_at": "1713566914212", "email": "", "amount": 990},
            {"order_id": "ord_1234567890123456789", "expires_at": "1713566914212", "email": "", "amount": 990},
        ),
    ],
)
def test_the_redactor(value: Any, expected: Any) -> None:
    assert Redactor().value(value) == expected


def test_the_redactor_removes_the_secrets_it_learns() -> None:
    redactor = Redactor([PLANTED_SECRET, "short"])
    redactor.add_secret("opaque-token-value")

    text = redactor.text(f"id {PLANTED_SECRET}, token opaque-token-value, word short")

    assert text == "id <secret>, token <secret>, word <secret>"


@pytest.mark.parametrize("secret", ["short", "ab1", "x9", "Z"])
def test_a_short_secret_is_removed_wherever_it_stands_alone(secret: str) -> None:
    """A secret under six characters (a test account's, a placeholder) is removed too: as a whole word (between
    anything but letters, digits, ``-`` and ``_``), never from inside a longer word, which would mangle the text."""
    redactor = Redactor([secret])

    text = redactor.text(f"{secret} key={secret}; '{secret}' x{secret}y {secret}-2 {secret}")
    value = redactor.value({"message": f"bad client_secret {secret}", "client_secret": secret})

    assert text == f"<secret> key=<secret>; '<secret>' x{secret}y {secret}-2 <secret>"
    assert value == {"message": "bad client_secret <secret>", "client_secret": "<secret>"}
    assert Redactor([""]).text("nothing") == "nothing"


class LeakyAdapter(HTTPAdapter):
    """A server that echoes secrets: every JSON answer (errors included) gains the request's bearer token, the
    client secret, a card number and an e-mail address, in its message and in a field of its own."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().send(request, *args, **kwargs)
        token = str(request.headers.get("Authorization", "")).removeprefix("Bearer ")
        leak = f"token={token} secret={PLANTED_SECRET} card={PLANTED_CARD} email={PLANTED_EMAIL}"
        try:
            body = json.loads(response.content)
        except ValueError:
            return response
        if isinstance(body, dict):
            body["debug"] = {"echo": leak, "card_number": PLANTED_CARD, "holder_name": "Ana López"}
            if isinstance(body.get("message"), str):
                body["message"] += f" ({leak})"
            response._content = json.dumps(body).encode()
        return response


@pytest.fixture
def leaky_session() -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", LeakyAdapter())
    yield session
    session.close()


def test_planted_secrets_reach_neither_the_reports_nor_the_logs(
    make_leaky_fake: Callable[[], FakeOrkestaPay], leaky_session: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    fake = make_leaky_fake()
    fake.auth_failure_body = "message"  # refusals carry a message, which the leak extends
    fake.accepted_locales = ("ES_LATAM",)  # so refused checkouts (with their bodies) are in the report
    config = config_for(fake, "token", "auth", "checkout", "locale", "return", "refund", returns=("completed",))
    caplog.set_level(logging.DEBUG)

    report, redactor = run_probe(config, present=hosted_page_buyer(), session=leaky_session)
    text, json_report, logs = render_text(report, redactor), render_json(report, redactor), caplog.text

    tokens = list(fake.state.tokens)
    buyer = next(iter(fake.orders.values()))["customer"]["email"]  # the probe's own buyer
    planted = [PLANTED_SECRET, *tokens, PLANTED_EMAIL, PLANTED_CARD, "4242424242424242", "Ana López", buyer]
    assert len(tokens) == 2  # the probe's look at the token answer, and the client's own
    for value in [*planted, fake.client_id]:
        assert value not in text, value
        assert value not in json_report, value
        assert value not in logs, value
    # The leaks did reach the report's data, as placeholders: this test fails if the redactor stops working.
    for placeholder in ("<card number>", "<email>", "<buyer data>", "token=*** secret=***"):  # *** by the client
        assert placeholder in json_report, placeholder
    assert report.row("locale.EN_US").verdict == "info"  # refused, with its body, and not one this shop sends
    assert "refused" in report.row("locale.EN_US").observed
    json.loads(json_report)


@pytest.fixture
def make_leaky_fake() -> Iterator[Callable[[], FakeOrkestaPay]]:
    fakes: list[FakeOrkestaPay] = []

    def make() -> FakeOrkestaPay:
        fake = FakeOrkestaPay(client_secret=PLANTED_SECRET).start()
        fakes.append(fake)
        return fake

    yield make
    for fake in fakes:
        fake.stop()


def test_the_renderings_run_the_redactor_once_more() -> None:
    report = Report("http://127.0.0.1:1", "loopback", "fake…", "0", "now")
    report.rows.append(Row("x", "q", f"saw {PLANTED_SECRET}", "a", Verdict.INFO, evidence={"note": PLANTED_EMAIL}))
    redactor = Redactor([PLANTED_SECRET])

    assert PLANTED_SECRET not in render_text(report, redactor)
    assert PLANTED_EMAIL not in render_json(report, redactor)
