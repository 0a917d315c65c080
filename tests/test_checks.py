"""System checks (django_orkestapay/checks.py): one test per check id, registration, and ``check --deploy`` run
as a user runs it against a misconfigured project and against the example shop."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import ERROR, WARNING, CheckMessage, Tags, run_checks
from django.db.utils import ConnectionHandler

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
    assert "docs/reference/settings.rst" in (unknown[1].hint or "")
    assert all(m.level == ERROR and m.obj == "settings.ORKESTAPAY" for m in unknown)


@pytest.mark.parametrize("missing", ["CLIENT_ID", "CLIENT_SECRET"])
@pytest.mark.parametrize("how", ["absent", "none", "empty"])
def test_e003_missing_credential_is_a_deploy_error_naming_the_key(settings, missing, how):
    value: dict[str, object] = dict(CREDENTIALS, WEBHOOK_SECRETS=[VALID_SECRET], ENVIRONMENT="production")
    if how == "absent":
        del value[missing]
    else:
        value[missing] = None if how == "none" else ""
    messages = deploy_messages(settings, value)
    message = only(messages, "orkestapay.E003")
    assert message.level == ERROR
    assert message.obj == f"settings.ORKESTAPAY[{missing!r}]"
    assert "Developers > API keys" in (message.hint or "")
    assert ids(messages) == ["orkestapay.E003"]
    # not an ordinary check: those run before every makemigrations, migrate and runserver, credentials or not
    assert settings_messages(settings, value) == []


def test_e003_an_absent_setting_reports_both_credentials_under_deploy_only(settings):
    del settings.ORKESTAPAY
    assert "orkestapay.E003" not in ids(checks.check_settings())
    assert [m.obj for m in checks.check_deployment() if m.id == "orkestapay.E003"] == [
        "settings.ORKESTAPAY['CLIENT_ID']",
        "settings.ORKESTAPAY['CLIENT_SECRET']",
    ]


def test_e003_comes_with_the_gateway_checks(settings):
    """The credentials are checked beside the deploy checks of the gateway, not instead of them."""
    messages = deploy_messages(settings, {"BASE_URL": "http://127.0.0.1:8765"})
    assert ids(messages) == ["orkestapay.E003", "orkestapay.E003", "orkestapay.E007"]


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
    "orkestapay.E012": (
        ("TOKEN_LOCK_TIMEOUT", "TOKEN_LOCK_WAIT"),
        [-1, -0.5, float("nan"), None, "10", True, False],
        [0, 0.0, 0.5, 10, Decimal("2.5")],
        "number of seconds, 0 or more",
    ),
    "orkestapay.E016": (
        ("RETURN_SYNC_INTERVAL",),
        [-1, float("nan"), None, "5", True],
        [0, 0.5, 5, Decimal("2.5")],
        "number of seconds, 0 or more",
    ),
    "orkestapay.E017": (
        ("IDEMPOTENCY_KEY_LIFETIME",),
        [0, -1, 0.0, float("nan"), None, "86400", True],
        [1, 0.5, 86400, Decimal("2.5")],
        "positive number of seconds",
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


@pytest.mark.parametrize(
    ("value", "named"),
    [(["order.taxe"], "'order.taxe'"), (["order.taxes", "order.metadata"], "'order.metadata'"), ("order.taxes", "str")],
)
def test_e018_unknown_unconfirmed_fields_are_an_error(settings, value, named):
    message = only(settings_messages(settings, {**CREDENTIALS, "SEND_UNCONFIRMED_FIELDS": value}), "orkestapay.E018")
    assert message.level == ERROR
    assert message.obj == "settings.ORKESTAPAY['SEND_UNCONFIRMED_FIELDS']"
    assert named in message.msg or "list of field names" in message.msg
    assert "'order.taxes'" in (message.hint or "")


@pytest.mark.parametrize("value", [[], ["order.taxes"], ("order.taxes",)])
def test_e018_known_unconfirmed_fields_pass(settings, value):
    assert "orkestapay.E018" not in ids(settings_messages(settings, {**CREDENTIALS, "SEND_UNCONFIRMED_FIELDS": value}))


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


@pytest.mark.parametrize("decoded_length", [1, 16, 23])
def test_e011_a_secret_too_short_to_be_real_is_named_by_index_only(settings, decoded_length):
    short = "whsec_" + base64.b64encode(b"k" * decoded_length).decode()
    message = only(
        settings_messages(settings, {**CREDENTIALS, "WEBHOOK_SECRETS": [VALID_SECRET, short]}), "orkestapay.E011"
    )
    assert message.level == ERROR
    assert message.msg.startswith(f"WEBHOOK_SECRETS[1] decodes to {decoded_length} bytes")
    assert "Developers > Webhooks" in (message.hint or "")
    assert short.removeprefix("whsec_") not in f"{message.msg} {message.hint}"


def test_e011_is_not_added_to_e006_for_a_malformed_secret(settings):
    messages = settings_messages(settings, {**CREDENTIALS, "WEBHOOK_SECRETS": ["whsec_!"]})
    assert ids(messages) == ["orkestapay.E006"]


def test_e011_a_24_byte_secret_passes(settings):
    exact = "whsec_" + base64.b64encode(b"k" * 24).decode()
    assert settings_messages(settings, {**CREDENTIALS, "WEBHOOK_SECRETS": [exact]}) == []


#: The settings that name a callable (orkestapay.E009), and what the hint says the callable must return.
CALLABLE_KEYS = {
    "ADAPTER": "PaymentDescription",
    "PAY_PERMISSION": "returns True to allow it",
    "HEADLESS_PERMISSION": "returns True to allow it",  # PAY_PERMISSION's deprecated name
}


@pytest.mark.parametrize("key", CALLABLE_KEYS)
@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("tests.shop.adapters.nope", "cannot be imported"),
        ("no_such_module.describe", "cannot be imported"),
        ("tests.settings.LANGUAGE_CODE", "is not callable"),
        (42, "cannot be imported"),
    ],
)
def test_e009_a_callable_setting_that_does_not_import_or_call(settings, key, path, says):
    message = only(settings_messages(settings, {**CREDENTIALS, key: path}), "orkestapay.E009")
    assert message.level == ERROR
    assert says in message.msg
    assert message.obj == f"settings.ORKESTAPAY[{key!r}]"
    assert CALLABLE_KEYS[key] in (message.hint or "")


@pytest.mark.parametrize("key", CALLABLE_KEYS)
@pytest.mark.parametrize("path", [None, "", "tests.shop.adapters.describe_cart", print])
def test_e009_an_importable_callable_or_none_passes(settings, key, path):
    assert "orkestapay.E009" not in ids(settings_messages(settings, {**CREDENTIALS, key: path}))


def test_w005_headless_permission_is_the_deprecated_name_of_pay_permission(settings):
    message = only(settings_messages(settings, {**CREDENTIALS, "HEADLESS_PERMISSION": print}), "orkestapay.W005")
    assert message.level == WARNING
    assert message.obj == "settings.ORKESTAPAY['HEADLESS_PERMISSION']"
    assert "pay button's view asks too" in message.msg
    assert (message.hint or "").startswith("Rename the key to PAY_PERMISSION")
    both = only(
        settings_messages(settings, {**CREDENTIALS, "HEADLESS_PERMISSION": print, "PAY_PERMISSION": print}),
        "orkestapay.W005",
    )
    assert "is ignored" in both.msg
    assert "orkestapay.W005" not in ids(settings_messages(settings, {**CREDENTIALS, "PAY_PERMISSION": print}))


@pytest.mark.parametrize(("lifetime", "margin"), [(120, 120), (60, 120), (0, 0), (300, Decimal("300"))])
def test_e010_checkout_lifetime_not_longer_than_the_reuse_margin(settings, lifetime, margin):
    value = {**CREDENTIALS, "CHECKOUT_LIFETIME": lifetime, "CHECKOUT_REUSE_MARGIN": margin}
    message = only(settings_messages(settings, value), "orkestapay.E010")
    assert message.level == ERROR
    assert f"CHECKOUT_LIFETIME ({lifetime} s)" in message.msg
    assert "every click" in message.msg
    assert "3600 and 120" in (message.hint or "")


@pytest.mark.parametrize(("lifetime", "margin"), [(121, 120), (None, 120), (3600, 0)])
def test_e010_a_lifetime_longer_than_the_margin_or_none_passes(settings, lifetime, margin):
    value = {**CREDENTIALS, "CHECKOUT_LIFETIME": lifetime, "CHECKOUT_REUSE_MARGIN": margin}
    assert "orkestapay.E010" not in ids(settings_messages(settings, value))


@pytest.mark.parametrize("mode", ["Auto", "celery", None, 1])
def test_e013_webhook_processing_that_is_not_a_mode(settings, mode):
    message = only(settings_messages(settings, {**CREDENTIALS, "WEBHOOK_PROCESSING": mode}), "orkestapay.E013")
    assert message.level == ERROR
    assert message.obj == "settings.ORKESTAPAY['WEBHOOK_PROCESSING']"
    assert "auto, inline, queue" in message.msg


@pytest.mark.parametrize("mode", ["auto", "inline", "queue"])
def test_e013_the_modes_pass(settings, mode):
    assert "orkestapay.E013" not in ids(settings_messages(settings, {**CREDENTIALS, "WEBHOOK_PROCESSING": mode}))


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({"SCHEDULE": {"sync": 600}}, "names 'sync', which is not a sweep"),
        ({"SCHEDULE": {"sync_orders": -1}}, "gives sync_orders -1"),
        ({"SCHEDULE": {"sync_orders": "10"}}, "gives sync_orders '10'"),
        ({"SCHEDULE": [("sync_orders", 600)]}, "is list; it must be a dict"),
        ({"EVENT_REPROCESS_AFTER": -5}, "EVENT_REPROCESS_AFTER is -5"),
    ],
)
def test_e014_a_schedule_or_reprocess_delay_that_is_not_seconds(settings, value, says):
    message = only(settings_messages(settings, {**CREDENTIALS, **value}), "orkestapay.E014")
    assert message.level == ERROR
    assert says in message.msg


def test_e014_a_schedule_with_intervals_none_or_zero_passes(settings):
    value = {"SCHEDULE": {"sync_orders": 600, "reconcile_refunds": None, "expire_checkouts": 0}}
    assert "orkestapay.E014" not in ids(settings_messages(settings, {**CREDENTIALS, **value}))


def test_e015_a_task_backend_that_is_not_an_alias_of_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    message = only(settings_messages(settings, {**CREDENTIALS, "TASK_BACKEND": "orkestapay"}), "orkestapay.E015")
    assert message.level == ERROR
    assert "'orkestapay', which is not an alias of settings.TASKS ('default')" in message.msg


def test_e015_the_default_alias_passes_with_or_without_tasks(settings):
    assert "orkestapay.E015" not in ids(settings_messages(settings, CREDENTIALS))
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}, "payments": {"BACKEND": "x"}}
    value = {**CREDENTIALS, "TASK_BACKEND": "payments"}
    assert "orkestapay.E015" not in ids(settings_messages(settings, value))


@pytest.mark.parametrize(
    ("key", "bad", "says"),
    [
        ("FAILED_CHECKOUT_LIMIT", 2.5, "a whole number, 0 or more"),
        ("FAILED_CHECKOUT_LIMIT", -1, "a whole number, 0 or more"),
        ("FAILED_CHECKOUT_LIMIT", "3", "a whole number, 0 or more"),
        ("FAILED_CHECKOUT_WINDOW", 0, "a number of seconds greater than 0"),
        ("FAILED_CHECKOUT_WINDOW", None, "a number of seconds greater than 0"),
        ("REJECTED_WEBHOOKS_KEPT", -5, "a whole number, 0 or more"),
        ("REJECTED_WEBHOOKS_KEPT", 1.5, "a whole number, 0 or more"),
    ],
)
def test_e016_a_bound_on_each_visitors_work_that_is_not_a_number_it_can_use(settings, key, bad, says):
    message = only(settings_messages(settings, {**CREDENTIALS, key: bad}), "orkestapay.E016")
    assert message.level == ERROR
    assert message.obj == f"settings.ORKESTAPAY[{key!r}]"
    assert says in message.msg
    assert f"default ({conf.DEFAULTS[key]})" in (message.hint or "")


@pytest.mark.parametrize(
    ("key", "good"),
    [
        ("FAILED_CHECKOUT_LIMIT", 0),
        ("FAILED_CHECKOUT_LIMIT", 10),
        ("FAILED_CHECKOUT_WINDOW", 0.5),
        ("REJECTED_WEBHOOKS_KEPT", 0),
        ("REJECTED_WEBHOOKS_KEPT", 1000),
    ],
)
def test_e016_bounds_it_can_use_pass(settings, key, good):
    assert "orkestapay.E016" not in ids(settings_messages(settings, {**CREDENTIALS, key: good}))


def test_w001_no_webhook_secret(settings):
    messages = settings_messages(settings, {**CREDENTIALS, "WEBHOOK_SECRETS": []})
    message = only(messages, "orkestapay.W001")
    assert message.level == WARNING
    assert "orkestapay_sync" in (message.hint or "")
    assert ids(messages) == ["orkestapay.W001"]


# --- orkestapay.E008: check_urls (tag urls) ---------------------------------------------------------------------


def url_messages(settings: Any, **urls: object) -> list[CheckMessage]:
    settings.ORKESTAPAY = {**CREDENTIALS, **urls}
    return checks.check_urls()


@pytest.mark.parametrize("key", ["SUCCESS_URL", "CANCEL_URL", "SHOP_URL"])
@pytest.mark.parametrize("value", ["shop:thankz", "orkestapay:nope", "thanks", "orkestapay:completed-typo"])
def test_e008_a_url_name_that_does_not_reverse(settings, key, value):
    message = only(url_messages(settings, **{key: value}), "orkestapay.E008")
    assert message.level == ERROR
    assert message.obj == f"settings.ORKESTAPAY[{key!r}]"
    assert repr(value) in message.msg
    assert "'shop:thanks'" in (message.hint or "")


@pytest.mark.parametrize(
    "value",
    [None, "", "/thanks/", "https://shop.example/thanks/", "orkestapay:completed", "admin:index", "shop.thanks"],
)
def test_e008_paths_urls_and_names_that_reverse_pass(settings, value):
    assert url_messages(settings, SUCCESS_URL=value, CANCEL_URL=value, SHOP_URL=value) == []


def test_e008_runs_with_djangos_url_checks_and_not_without_a_urlconf(settings):
    settings.ORKESTAPAY = {**CREDENTIALS, "SUCCESS_URL": "shop:thankz"}
    assert "orkestapay.E008" in ids(run_checks(tags=[Tags.urls]))
    assert "orkestapay.E008" not in ids(run_checks(tags=[Tags.translation]))
    del settings.ROOT_URLCONF
    assert checks.check_urls() == []


# --- orkestapay.W004: check_databases ----------------------------------------------------------------------------


#: Django warns on any override of DATABASES; these tests only hand the setting to a check that reads it.
quiet_databases_override = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES:UserWarning")


def database_messages(settings: Any, **database: object) -> list[CheckMessage]:
    settings.DATABASES = {**settings.DATABASES, "shop": database}
    return checks.check_databases()


@quiet_databases_override
@pytest.mark.parametrize("options", [{}, {"timeout": 20}, {"transaction_mode": "DEFERRED"}, None])
def test_w004_sqlite_without_immediate_transactions(settings, options):
    database: dict[str, object] = {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/shop/db.sqlite3"}
    if options is not None:
        database["OPTIONS"] = options
    message = only(database_messages(settings, **database), "orkestapay.W004")
    assert message.level == WARNING
    assert message.obj == "settings.DATABASES['shop']"
    assert "database is locked" in message.msg
    assert checks.SQLITE_OPTIONS in (message.hint or "")


@quiet_databases_override
@pytest.mark.parametrize(
    "database",
    [
        {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3", "OPTIONS": {"transaction_mode": "IMMEDIATE"}},
        {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3", "OPTIONS": {"transaction_mode": "immediate"}},
        {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3", "OPTIONS": {"transaction_mode": "EXCLUSIVE"}},
        {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
        {"ENGINE": "django.db.backends.sqlite3", "NAME": "file:memorydb_default?mode=memory&cache=shared"},
        {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"},
    ],
    ids=["immediate", "lowercase", "exclusive", "in-memory", "in-memory-uri", "postgresql"],
)
def test_w004_locking_transaction_modes_memory_and_other_engines_pass(settings, database):
    assert database_messages(settings, **database) == []


def test_w004_the_recommended_options_are_valid_for_this_django(tmp_path, django_db_blocker):
    """The OPTIONS the hint (and the quickstart, and the example shop) recommend open a real SQLite connection. In a
    thread of its own: the browser journeys leave Playwright's event loop running in this one, where Django refuses to
    connect."""
    options = json.loads(checks.SQLITE_OPTIONS)
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db.sqlite3"), "OPTIONS": options}

    def connect() -> tuple[str, str]:
        wrapper = ConnectionHandler({"default": database})["default"]
        try:
            with wrapper.cursor() as cursor:
                cursor.execute("PRAGMA journal_mode")
                journal_mode = cursor.fetchone()[0]
            return journal_mode, vars(wrapper)["transaction_mode"]  # not in django-stubs
        finally:
            wrapper.close()

    with django_db_blocker.unblock(), ThreadPoolExecutor(max_workers=1) as thread:
        assert thread.submit(connect).result() == ("wal", "IMMEDIATE")


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


@quiet_databases_override
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
    settings.ORKESTAPAY = {**CREDENTIALS, "SUCCESS_URL": "shop:thankz", "ADAPTER": "tests.shop.adapters.nope"}
    settings.DATABASES = {**settings.DATABASES, "file": {"ENGINE": "django.db.backends.sqlite3", "NAME": "x.db"}}
    assert ids(checks.check_settings() + checks.check_urls() + checks.check_databases()) == [
        "orkestapay.W001",
        "orkestapay.E009",
        "orkestapay.E008",
        "orkestapay.W004",
    ]


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
        (
            "unsafe",
            {
                "orkestapay.E008": "Use a URL pattern name that takes no arguments",
                "orkestapay.E009": "Name a function or other callable by its dotted path",
                "orkestapay.E010": "Make CHECKOUT_LIFETIME several times CHECKOUT_REUSE_MARGIN",
                "orkestapay.E011": "Copy the whole signing secret",
                "orkestapay.W004": "Set DATABASES['default']['OPTIONS'] = {\"transaction_mode\": \"IMMEDIATE\"",
            },
        ),
        ("not-a-dict", {"orkestapay.E001": "Write ORKESTAPAY = {"}),
    ],
)
def test_check_deploy_on_a_misconfigured_project_lists_ids_and_hints(variant, expected, tmp_path):
    result = django_check(
        ROOT,
        {
            "DJANGO_SETTINGS_MODULE": "tests.misconfigured_settings",
            "MISCONFIGURED_VARIANT": variant,
            "MISCONFIGURED_SQLITE_NAME": str(tmp_path / "shop.sqlite3"),
        },
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
