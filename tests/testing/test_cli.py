"""``python -m django_orkestapay.testing``: starts, answers, stops on SIGTERM; refuses non-loopback hosts."""

from __future__ import annotations

import base64
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 10.0) -> requests.Response:
    deadline = time.monotonic() + timeout
    http = requests.Session()
    http.trust_env = False
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            return http.get(url, timeout=1)
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("the CLI server did not come up")


def test_cli_serves_health_and_logs_requests() -> None:
    port = _free_port()
    command = [sys.executable, "-m", "django_orkestapay.testing", "--port", str(port), "--client-id", "cli-id"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        health = _wait_healthy(f"http://127.0.0.1:{port}/_fake/health", process)
        token = requests.post(
            f"http://127.0.0.1:{port}/v1/oauth/tokens",
            json={"client_id": "cli-id", "client_secret": "fake-client-secret", "grant_type": "client_credentials"},
            timeout=5,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)

    assert health.status_code == 200
    assert health.json() == {"status": "ok", "base_url": f"http://127.0.0.1:{port}", "client_id": "cli-id"}
    assert token.status_code == 200
    assert process.returncode == 0, stderr
    assert f"http://127.0.0.1:{port}" in stdout
    assert "cli-id" in stdout
    assert "fake-client-secret" in stdout
    assert "GET /_fake/health -> 200" in stdout
    assert "POST /v1/oauth/tokens -> 200" in stdout


def test_cli_refuses_a_non_loopback_host() -> None:
    command = [sys.executable, "-m", "django_orkestapay.testing", "--host", "0.0.0.0", "--port", "0"]  # noqa: S104

    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)

    assert result.returncode == 2
    assert "--allow-non-loopback" in result.stderr


def test_cli_prints_what_a_shop_needs_and_signs_with_the_printed_secret() -> None:
    port = _free_port()
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    command = [sys.executable, "-m", "django_orkestapay.testing", "--port", str(port), "--webhook-secret", secret]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/_fake/health", process)
        added = requests.post(
            f"http://127.0.0.1:{port}/_fake/webhooks/endpoints", json={"url": "http://127.0.0.1:9/hook"}, timeout=5
        )
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)

    assert process.returncode == 0, stderr
    banner = stdout.split("Press Ctrl+C to stop.")[0]
    for value, key in [
        (f"http://127.0.0.1:{port}", "BASE_URL"),
        ("fake-client-id", "CLIENT_ID"),
        ("fake-client-secret", "CLIENT_SECRET"),
        (secret, "WEBHOOK_SECRETS"),
    ]:
        assert re.search(rf"{re.escape(value)} +ORKESTAPAY\[\"{key}\"\]", banner), banner
    assert added.json()["secret"] == secret  # a receiver added without a secret gets the printed one


def test_cli_without_a_webhook_secret_makes_one_and_prints_it() -> None:
    port = _free_port()
    command = [sys.executable, "-m", "django_orkestapay.testing", "--port", str(port), "--quiet"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/_fake/health", process)
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=10)

    match = re.search(r"webhook secret +(whsec_\S+) +ORKESTAPAY", stdout)
    assert match, stdout
    assert len(base64.b64decode(match.group(1).removeprefix("whsec_"))) >= 24  # long enough for orkestapay.E011


def test_cli_on_a_busy_port_says_so_in_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        command = [sys.executable, "-m", "django_orkestapay.testing", "--port", str(port)]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in result.stderr
    assert "--port 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_refuses_a_webhook_secret_that_is_not_one() -> None:
    command = [sys.executable, "-m", "django_orkestapay.testing", "--port", "0", "--webhook-secret", "whsec_!!"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "not a whsec_ secret" in result.stderr
    assert "Traceback" not in result.stderr
