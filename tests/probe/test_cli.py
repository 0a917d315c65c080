"""The probe's two entry points: ``python -m django_orkestapay.probe`` (credentials from the environment, no Django
project) and ``manage.py orkestapay_probe`` (the project's settings); the refusal of production; the options."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import responses
from django.core.management import CommandError, call_command

from django_orkestapay.client import PRODUCTION_BASE_URL, SANDBOX_BASE_URL
from django_orkestapay.probe import PRODUCTION_FLAG, ProbeConfig, ProductionRefused, run_probe
from django_orkestapay.probe.cli import INSTRUCTIONS, add_arguments, config_from_options, execute, main
from django_orkestapay.probe.context import check_target
from django_orkestapay.testing import FakeOrkestaPay, hosted_page_url

from .conftest import config_for, http

ROOT = Path(__file__).resolve().parents[2]


def environ(fake: FakeOrkestaPay) -> dict[str, str]:
    return {
        "ORKESTAPAY_SANDBOX_CLIENT_ID": fake.client_id,
        "ORKESTAPAY_SANDBOX_CLIENT_SECRET": fake.client_secret,
        "ORKESTAPAY_SANDBOX_BASE_URL": fake.base_url,
    }


def options(*argv: str) -> Any:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


# a clean run: the probe expects the rich profile's answers
@pytest.mark.orkestapay_profile("rich")
def test_python_dash_m_writes_both_reports(
    fake: FakeOrkestaPay, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_path = tmp_path / "report.json"

    status = main(["--return", "none", "--json", str(report_path)], environ=environ(fake))

    out = capsys.readouterr().out
    assert status == 0
    assert "[match] token.fields:" in out
    assert "[skipped] return.completed.arrived:" in out
    assert f"attach it to a bug report): {report_path}" in out
    data = json.loads(report_path.read_text(encoding="utf-8"))
    assert data["target"] == fake.base_url
    assert data["counts"]["mismatch"] == 0
    assert {row["key"] for row in data["rows"]} >= {"token.fields", "checkout.sample", "locale.EN_US"}


def test_a_mismatch_exits_1(fake: FakeOrkestaPay, capsys: pytest.CaptureFixture[str]) -> None:
    fake.accepted_locales = ("EN_US",)

    status = main(["--only", "locale", "--no-json"], environ=environ(fake))

    assert status == 1
    assert "[MISMATCH] locale.ES_LATAM:" in capsys.readouterr().out


def test_credentials_come_from_the_environment_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-json"], environ={}) == 2
    assert "Set ORKESTAPAY_SANDBOX_CLIENT_ID and ORKESTAPAY_SANDBOX_CLIENT_SECRET" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--client-secret", "x"], environ={})


@pytest.mark.parametrize("base_url", [PRODUCTION_BASE_URL, "https://api.orkestapay.com/", "https://shop.example"])
def test_production_and_unknown_hosts_are_refused_before_any_call(
    base_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = {"ORKESTAPAY_SANDBOX_CLIENT_ID": "live-id-1234", "ORKESTAPAY_SANDBOX_CLIENT_SECRET": "live-secret"}

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        status = main(["--base-url", base_url, "--no-json"], environ=credentials)

    assert status == 2
    assert len(mocked.calls) == 0
    err = capsys.readouterr().err
    assert err.startswith("Refused: ")
    assert PRODUCTION_FLAG in err
    assert "live-secret" not in err


def test_which_targets_need_the_flag() -> None:
    assert check_target(SANDBOX_BASE_URL, allow_production=False) == "sandbox"
    assert check_target("http://127.0.0.1:8765", allow_production=False) == "loopback"
    assert check_target("http://[::1]:8765", allow_production=False) == "loopback"
    assert check_target("http://localhost:8765", allow_production=False) == "loopback"
    for url in (PRODUCTION_BASE_URL, "https://api.uat.orkestapay.com", "http://10.0.0.5"):
        with pytest.raises(ProductionRefused):
            check_target(url, allow_production=False)
    assert check_target(PRODUCTION_BASE_URL, allow_production=True) == "production"
    assert check_target("https://api.uat.orkestapay.com", allow_production=True) == "unknown"


def test_options_choose_the_questions() -> None:
    def config(*argv: str) -> Any:
        return config_from_options(options(*argv), client_id="id", client_secret="secret", base_url=SANDBOX_BASE_URL)

    unattended = ("token", "auth", "checkout", "locale", "duplicates", "amounts")
    assert config().groups == (*unattended, "return", "limits")
    assert config("--refund").groups == (*unattended, "return", "refund", "limits")
    assert config("--pending", "--webhooks", "--refund").groups == (
        *unattended,
        "return",
        "pending",
        "refund",
        "limits",
        "webhooks",
    )
    assert config("--only", "locale,amounts").groups == ("locale", "amounts")
    assert config("--only", "return", "--webhooks").groups == ("return", "webhooks")
    assert config("--skip", "return,auth").groups == ("token", "checkout", "locale", "duplicates", "amounts", "limits")
    assert config("--webhook-wait", "30").webhook_wait == 30.0
    assert config("--return", "canceled").returns == ("canceled",)
    assert config("--return", "none").returns == ()
    chosen = config("--listen", "127.0.0.1:8899", "--locale", "EN_MX", "--locale", "ES_LATAM", "--wait", "30")
    assert (chosen.listen_host, chosen.listen_port, chosen.return_timeout) == ("127.0.0.1", 8899, 30.0)
    assert chosen.locales == ("ES_LATAM",)
    assert chosen.extra_locales == ("EN_MX", "EN_US", "ES_MX", "EN", "ES", "PT_BR")
    with pytest.raises(ValueError, match="--listen"):
        config("--listen", "8899")
    with pytest.raises(ValueError, match="unknown question groups: nope"):
        config("--only", "nope")


def test_the_terminal_shows_the_hosted_checkout_and_waits(fake: FakeOrkestaPay) -> None:
    out, err = io.StringIO(), io.StringIO()
    config = config_for(fake, "return", returns=("completed",), return_timeout=0.2)

    status = execute(config, json_path=None, out=out, err=err)

    (checkout,) = fake.checkouts.values()
    assert status == 1
    assert ">>> Open this OrkestaPay checkout in your browser and PAY with a sandbox test card" in out.getvalue()
    assert f"    {checkout['checkout_redirect_url']}\n" in out.getvalue()
    assert "[ERROR] return.completed.arrived:" in out.getvalue()


def test_the_terminal_tells_what_to_do_for_every_checkout_and_the_webhook_url(fake: FakeOrkestaPay) -> None:
    out, err = io.StringIO(), io.StringIO()
    config = config_for(fake, "pending", "webhooks", return_timeout=0.2, webhook_wait=0.2)

    execute(config, json_path=None, out=out, err=err)

    text = out.getvalue()
    assert ">>> Register this URL as a webhook endpoint in the OrkestaPay portal" in text
    assert "/webhook\n" in text
    assert "choose SPEI (bank transfer) or CASH and create the payment reference, but do NOT pay it" in text
    assert "PAY with a card the sandbox DECLINES (4000 0000 0000 0002" in text
    assert set(INSTRUCTIONS) == {"completed", "canceled", "pending", "declined"}


@pytest.mark.standalone
@pytest.mark.orkestapay_profile("rich")  # a clean run: the probe expects the rich profile's answers
def test_python_dash_m_in_a_terminal_without_a_django_project(fake: FakeOrkestaPay, tmp_path: Path) -> None:
    """A person runs the probe, opens the printed URL and pays: the run ends as soon as the browser comes back."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "ORKESTAPAY_"))}
    env.update(environ(fake), PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "django_orkestapay.probe", "--only", "return", "--return", "completed"]
    process = subprocess.Popen(
        [*command, "--wait", "60", "--json", "report.json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if line.startswith("    http"):
                page = hosted_page_url(line.strip())  # either form of checkout_redirect_url
                assert http().post(f"{page}/pay", timeout=5).status_code == 200  # the browser comes back
                break
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()

    assert process.returncode == 0, err
    assert "[match] return.completed.params:" in out
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["counts"]["error"] == 0


def test_the_management_command_uses_the_project_settings(
    fake: FakeOrkestaPay, orkestapay_settings: dict[str, Any]
) -> None:
    orkestapay_settings["LANGUAGE_LOCALES"] = {"es": "ES_LATAM", "en": "EN_GB"}
    fake.accepted_locales = ("ES_LATAM", "EN_US")
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("orkestapay_probe", "--only", "locale", "--no-json", stdout=out, stderr=err)

    assert failed.value.returncode == 1
    assert "[MISMATCH] locale.EN_GB:" in out.getvalue()
    assert "[info] locale.EN_US:" in out.getvalue()  # not this shop's: asked only to learn whether it exists
    assert "[match] locale.ES_LATAM:" in out.getvalue()


# a clean run: the probe expects the rich profile's answers
@pytest.mark.orkestapay_profile("rich")
def test_the_management_command_matches(fake: FakeOrkestaPay, orkestapay_settings: dict[str, Any]) -> None:
    out = io.StringIO()

    call_command("orkestapay_probe", "--return", "none", "--no-json", stdout=out)

    assert "OrkestaPay answered every question the way this package assumes." in out.getvalue()


@pytest.mark.parametrize(
    ("settings_change", "message"),
    [
        ({"ENVIRONMENT": "production", "BASE_URL": None}, "Refused: https://api.orkestapay.com is OrkestaPay's"),
        ({"CLIENT_SECRET": ""}, "CLIENT_SECRET"),
    ],
)
def test_the_management_command_refuses(
    orkestapay_settings: dict[str, Any], settings_change: dict[str, Any], message: str
) -> None:
    orkestapay_settings.update(settings_change)
    out, err = io.StringIO(), io.StringIO()

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked, pytest.raises(CommandError) as failed:
        call_command("orkestapay_probe", "--no-json", stdout=out, stderr=err)

    assert failed.value.returncode == 2
    assert message in err.getvalue() + str(failed.value)
    assert len(mocked.calls) == 0


def test_run_probe_refuses_production_too() -> None:
    config = ProbeConfig(client_id="id", client_secret="secret", base_url=PRODUCTION_BASE_URL)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked, pytest.raises(ProductionRefused):
        run_probe(config, present=lambda side, checkout: None)

    assert len(mocked.calls) == 0
