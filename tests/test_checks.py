"""System checks (django_orkestapay/checks.py): one test per check id, registration, and ``check --deploy`` run
as a user runs it against a misconfigured project and against the example shop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import ERROR, WARNING, CheckMessage, run_checks

from django_orkestapay import checks, conf

ROOT = Path(__file__).resolve().parent.parent
VALID_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CREDENTIALS = {"CLIENT_ID": "id", "CLIENT_SECRET": "secret"}


def ids(messages: list[CheckMessage]) -> list[str]:
    return [message.id or "" for message in messages]


def only(messages: list[CheckMessage], check_id: str) -> CheckMessage:
    """The single message with ``check_id`` (and fail when there is none or several)."""
    found = [message for message in messages if message.id == check_id]
    assert len(found) == 1, ids(messages)
    return found[0]


def settings_messages(settings: Any, value: object) -> list[CheckMessage]:
    settings.ORKESTAPAY = value
    return checks.check_settings()


def deploy_messages(settings: Any, value: object, *, debug: bool = False) -> list[CheckMessage]:
    settings.ORKESTAPAY = value
    settings.DEBUG = debug
    return checks.check_deployment()


# --- a valid configuration says nothing ------------------------------------------------------------------------


def test_a_complete_production_configuration_passes_every_check(settings):
    value = {**CREDENTIALS, "ENVIRONMENT": "production", "WEBHOOK_SECRETS": [VALID_SECRET]}
    assert settings_messages(settings, value) == []
    assert deploy_messages(settings, value) == []


def test_the_test_settings_have_no_orkestapay_errors():
    """tests/settings.py as it is (credentials, fake gateway URL, no webhook secret): warnings at most."""
    messages = checks.check_settings()
    assert [m for m in messages if m.level >= ERROR] == []
    assert ids(messages) == ["orkestapay.W001"]


# --- orkestapay.E001 to E006, W001: check_settings --------------------------------------------------------------


def test_e001_setting_is_not_a_dict(settings):
    message = only(settings_messages(settings, [("CLIENT_ID", "x")]), "orkestapay.E001")
    assert message.level == ERROR
    assert "must be a dict, not list" in message.msg
    assert "ORKESTAPAY = {" in (message.hint or "")
    assert checks.check_deployment() == []  # E001 already explains; the deploy checks do not pile on


def test_e002_unknown_key_suggests_the_close_match(settings):
    messages = settings_messages(settings, {**CREDENTIALS, "READ_TIMOUT": 5, "WHATEVER": 1})
    unknown = [m for m in messages if m.id == "orkestapay.E002"]
    assert [m.msg for m in unknown] == [
        "Unknown key 'READ_TIMOUT'.",
        "Unknown key 'WHATEVER'.",
    ]
    assert unknown[0].hint == "Did you mean 'READ_TIMEOUT'?"
    assert "README.rst" in (unknown[1].hint or "")
    assert all(m.level == ERROR and m.obj == "settings.ORKESTAPAY" for m in unknown)


@pytest.mark.parametrize("missing", ["CLIENT_ID", "CLIENT_SECRET"])
@pytest.mark.parametrize("how", ["absent", "none", "empty"])
def test_e003_missing_credential_names_the_key(settings, missing, how):
    value: dict[str, object] = dict(CREDENTIALS, WEBHOOK_SECRETS=[VALID_SECRET])
    if how == "absent":
        del value[missing]
    else:
        value[missing] = None if how == "none" else ""
    messages = settings_messages(settings, value)
    message = only(messages, "orkestapay.E003")
    assert message.level == ERROR
    assert message.obj == f"settings.ORKESTAPAY[{missing!r}]"
    assert "Developers > API keys" in (message.hint or "")
    assert ids(messages) == ["orkestapay.E003"]


def test_e003_an_absent_setting_reports_both_credentials(settings):
    del settings.ORKESTAPAY
    messages = checks.check_settings()
    assert [m.obj for m in messages if m.id == "orkestapay.E003"] == [
        "settings.ORKESTAPAY['CLIENT_ID']",
        "settings.ORKESTAPAY['CLIENT_SECRET']",
    ]


def test_e004_invalid_environment(settings):
    message = only(settings_messages(settings, {**CREDENTIALS, "ENVIRONMENT": "live"}), "orkestapay.E004")
    assert message.level == ERROR
    assert "'live'" in message.msg
    assert message.hint == "Use 'sandbox' or 'production'."


#: The checks on numbers of seconds: check id -> (keys, bad values, good values, what the message asks for).
SECONDS_CHECKS: dict[str, tuple[tuple[str, ...], list[object], list[object], str]] = {
    "orkestapay.E005": (
        ("CONNECT_TIMEOUT", "READ_TIMEOUT"),
        [0, -1, 0.0, float("nan"), Decimal("NaN"), None, "5", True],
        [1, 0.5, 30, Decimal("2.5")],
        "positive number of seconds",
    ),
    "orkestapay.E008": (
        ("TOKEN_LOCK_TIMEOUT", "TOKEN_LOCK_WAIT"),
        [-1, -0.5, float("nan"), None, "10", True, False],
        [0, 0.0, 0.5, 10, Decimal("2.5")],
        "number of seconds, 0 or more",
    ),
}


@pytest.mark.parametrize(
    ("check_id", "key", "bad"),
    [(check_id, key, bad) for check_id, (keys, bads, _, _) in SECONDS_CHECKS.items() for key in keys for bad in bads],
)
def test_e005_e008_a_bad_number_of_seconds_is_an_error_on_its_key(settings, check_id, key, bad):
    message = only(settings_messages(settings, {**CREDENTIALS, key: bad}), check_id)
    assert message.level == ERROR
    assert message.obj == f"settings.ORKESTAPAY[{key!r}]"
    assert SECONDS_CHECKS[check_id][3] in message.msg
    assert f"default ({conf.DEFAULTS[key]})" in (message.hint or "")


@pytest.mark.parametrize(
    ("check_id", "good"), [(check_id, good) for check_id, (_, _, goods, _) in SECONDS_CHECKS.items() for good in goods]
)
def test_e005_e008_good_numbers_of_seconds_pass(settings, check_id, good):
    keys = SECONDS_CHECKS[check_id][0]
    assert check_id not in ids(settings_messages(settings, {**CREDENTIALS, **dict.fromkeys(keys, good)}))


def test_e006_a_bare_string_secret_is_an_error_that_does_not_repeat_it(settings):
    message = only(settings_messages(settings, {**CREDENTIALS, "WEBHOOK_SECRETS": VALID_SECRET}), "orkestapay.E006")
    assert message.level == ERROR
    assert "must be a list of secrets, not str" in message.msg
    assert "Wrap the secret in a list" in (message.hint or "")
    assert VALID_SECRET not in f"{message.msg} {message.hint}"


def test_e006_a_secret_that_is_not_base64_is_named_by_index_only(settings):
    bad = "whsec_not base64!"
    value = {**CREDENTIALS, "WEBHOOK_SECRETS": [VALID_SECRET, bad]}
    message = only(settings_messages(settings, value), "orkestapay.E006")
    assert message.msg.startswith("WEBHOOK_SECRETS[1] is not a webhook signing secret")
    assert "Developers > Webhooks" in (message.hint or "")
    assert bad not in f"{message.msg} {message.hint}"


def test_w001_no_webhook_secret(settings):
    messages = settings_messages(settings, {**CREDENTIALS, "WEBHOOK_SECRETS": []})
    message = only(messages, "orkestapay.W001")
    assert message.level == WARNING
    assert "orkestapay_sync" in (message.hint or "")
    assert ids(messages) == ["orkestapay.W001"]


# --- orkestapay.E007, W002, W003: check_deployment ---------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:8765", "http://localhost:8765/", "http://[::1]:8765", "http://127.0.0.2"]
)
def test_e007_fake_gateway_while_debug_is_off(settings, base_url):
    message = only(deploy_messages(settings, {**CREDENTIALS, "BASE_URL": base_url}), "orkestapay.E007")
    assert message.level == ERROR
    assert "fake OrkestaPay gateway" in message.msg
    assert "SILENCED_SYSTEM_CHECKS" in (message.hint or "")


def test_e007_fake_gateway_is_fine_with_debug_on(settings):
    assert deploy_messages(settings, {**CREDENTIALS, "BASE_URL": "http://127.0.0.1:8765"}, debug=True) == []


def test_e007_never_shows_credentials_embedded_in_the_url(settings):
    message = only(
        deploy_messages(settings, {**CREDENTIALS, "BASE_URL": "http://user:hunter2@127.0.0.1:8765/v1"}),
        "orkestapay.E007",
    )
    assert "http://127.0.0.1:8765" in message.msg
    assert "hunter2" not in message.msg


def test_w002_sandbox_in_a_deployment(settings):
    messages = deploy_messages(settings, {**CREDENTIALS, "ENVIRONMENT": "sandbox"})
    message = only(messages, "orkestapay.W002")
    assert message.level == WARNING
    assert "'production'" in (message.hint or "")
    assert ids(messages) == ["orkestapay.W002"]


def test_w002_also_applies_to_the_default_environment(settings):
    assert ids(deploy_messages(settings, dict(CREDENTIALS))) == ["orkestapay.W002"]


def test_w003_base_url_override_in_a_deployment(settings):
    value = {**CREDENTIALS, "ENVIRONMENT": "production", "BASE_URL": "https://proxy.example.com/orkestapay"}
    messages = deploy_messages(settings, value)
    message = only(messages, "orkestapay.W003")
    assert message.level == WARNING
    assert "https://proxy.example.com" in message.msg
    assert "https://api.orkestapay.com" in (message.hint or "")
    assert ids(messages) == ["orkestapay.W003"]  # not W002 as well: BASE_URL wins over ENVIRONMENT


# --- registration, and what the checks may not touch ------------------------------------------------------------


def test_checks_are_registered_with_the_orkestapay_tag(settings):
    settings.ORKESTAPAY = {"CLIENTID": "x", "ENVIRONMENT": "sandbox"}
    settings.DEBUG = False
    plain = ids(run_checks(tags=[checks.TAG]))
    assert "orkestapay.E002" in plain
    assert "orkestapay.W002" not in plain  # deploy checks only run with --deploy
    deploy = ids(run_checks(tags=[checks.TAG], include_deployment_checks=True))
    assert "orkestapay.E002" in deploy
    assert "orkestapay.W002" in deploy


def test_checks_touch_neither_database_nor_network(settings, monkeypatch):
    """No ``db`` fixture (pytest-django refuses any query here), and every socket connection fails loudly."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a system check opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    settings.DEBUG = False
    for value in (
        {**CREDENTIALS, "BASE_URL": "https://api.orkestapay.com", "WEBHOOK_SECRETS": [VALID_SECRET]},
        {**CREDENTIALS, "BASE_URL": "http://127.0.0.1:8765"},
        {"ENVIRONMENT": "production", "WEBHOOK_SECRETS": ["whsec_not base64!"]},
    ):
        settings.ORKESTAPAY = value
        assert checks.check_settings() + checks.check_deployment()


# --- manage.py check --deploy, in a subprocess ------------------------------------------------------------------


def django_check(cwd: Path, env_overrides: dict[str, str | None], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``<args> check --deploy`` in ``cwd``; an override of ``None`` removes that variable."""
    env = {**os.environ}
    for name, value in env_overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, *args, "check", "--deploy"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (
            "many",
            {
                "orkestapay.E002": "Did you mean 'CLIENT_ID'?",
                "orkestapay.E003": "Copy the access key (CLIENT_ID)",
                "orkestapay.E004": "Use 'sandbox' or 'production'.",
                "orkestapay.E005": "Remove it to use the default (20.0)",
                "orkestapay.E006": "Wrap the secret in a list",
                "orkestapay.E007": "Remove BASE_URL and set ENVIRONMENT to 'production'",
            },
        ),
        (
            "sandbox",
            {
                "orkestapay.W001": "Add the endpoint's signing secret",
                "orkestapay.W002": "Set ENVIRONMENT to 'production'",
            },
        ),
        ("override", {"orkestapay.W003": "Remove BASE_URL in production"}),
        ("not-a-dict", {"orkestapay.E001": "Write ORKESTAPAY = {"}),
    ],
)
def test_check_deploy_on_a_misconfigured_project_lists_ids_and_hints(variant, expected):
    result = django_check(
        ROOT,
        {"DJANGO_SETTINGS_MODULE": "tests.misconfigured_settings", "MISCONFIGURED_VARIANT": variant},
        "-m",
        "django",
    )
    output = result.stdout + result.stderr
    for check_id, hint in expected.items():
        assert f"({check_id})" in output, output
        assert f"HINT: {hint}" in output, output
    reported = {line.split("(", 1)[1].split(")", 1)[0] for line in output.splitlines() if "(orkestapay." in line}
    assert reported == set(expected), output
    has_errors = any(".E" in check_id for check_id in expected)
    assert (result.returncode != 0) == has_errors, output


def test_example_project_with_the_fake_and_debug_on_has_no_orkestapay_messages(tmp_path):
    env: dict[str, str | None] = {
        "DJANGO_SETTINGS_MODULE": None,
        "DEBUG": "on",
        "ORKESTAPAY_CLIENT_ID": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = django_check(ROOT / "example_project", env, "manage.py")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified" in output or "no issues" in output, output
    assert "orkestapay." not in output, output
