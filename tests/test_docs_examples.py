"""Every code example of the documentation (docs/ and README.rst) runs, or at least parses, so none can rot.

Python blocks say how with a class (tests/doc_examples.py, ``KINDS``): ``example-tests`` blocks are collected as
test modules of their own under this file (see ``ExamplesModule``), ``example-run`` blocks run here against the fake
gateway, ``example-settings`` blocks are appended to the settings ``django-admin startproject`` writes, and
``example-file`` / ``example-syntax`` blocks compile (the quickstart's files are also built and paid through by
tests/test_startproject.py). Other languages are checked for what they are: JSON parses, Django templates compile,
ini files parse, shell passes ``bash -n`` and names only commands that exist, crontab lines have five valid fields,
and the fake gateway's banner is the one it prints.
"""

from __future__ import annotations

import configparser
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import ERROR
from django.core.management import get_commands
from django.template import engines
from django.test import override_settings

from django_orkestapay import checks
from django_orkestapay.testing import FakeOrkestaPay
from django_orkestapay.testing.__main__ import print_banner
from tests.doc_examples import KINDS, ROOT, Block, all_blocks, blocks_of, python_blocks

#: The environment the settings examples read (as the quickstart exports it); a valid webhook secret.
ENVIRONMENT = {
    "ORKESTAPAY_CLIENT_ID": "docs-client-id",
    "ORKESTAPAY_CLIENT_SECRET": "docs-client-secret",
    "ORKESTAPAY_WEBHOOK_SECRETS": "whsec_cXVpY2tzdGFydC1zaG9wLXdlYmhvb2stc2VjcmV0ISE=",
}
#: Checks a settings fragment may fail because it leaves out or names what only a real shop has: its credentials
#: (a fragment showing one key), its URL names, its dotted paths, its TASKS.
SHOP_SPECIFIC_CHECKS = {"orkestapay.E003", "orkestapay.E008", "orkestapay.E009", "orkestapay.E015"}
#: Management commands the docs show from packages this project does not install.
OTHER_PACKAGES_COMMANDS = {"rqworker": "django-rq"}


def ids(blocks: list[Block]) -> list[str]:
    return [block.where for block in blocks]


def test_the_documentation_has_examples_of_every_kind():
    found = {block.kind for block in all_blocks() if block.language == "python"}
    assert found == set(KINDS)
    # a test on every page that teaches a capability (the quickstart's own test is an example-file: it runs in the
    # startproject shop, tests/test_startproject.py)
    pages = {block.path.relative_to(ROOT / "docs").as_posix() for block in python_blocks("example-tests")}
    assert {"testing.rst", "webhooks.rst", "signals.rst", "recipes/cart.rst", "recipes/headless.rst"} <= pages
    assert {"recipes/pending.rst", "recipes/refunds.rst", "recipes/payment-links.rst"} <= pages


def test_every_python_block_says_how_it_is_tested():
    unmarked = [block.where for block in all_blocks() if block.language == "python" and block.kind is None]
    assert unmarked == [], f"give each a :class: from {KINDS} (tests/doc_examples.py)"


def test_the_parser_finds_blocks_where_they_are(tmp_path):
    page = tmp_path / "page.rst"
    page.write_text(
        "Title\n=====\n\n* item\n\n  .. code-block:: python\n     :caption: x.py\n     :class: example-run a b\n\n"
        "     one = 1\n\n     two = 2\n\n  after\n\n.. code-block:: sh\n\n   ls\n",
        encoding="utf-8",
    )
    first, second = blocks_of(page)
    assert (first.line, first.code, first.caption, first.kind) == (10, "one = 1\n\ntwo = 2\n", "x.py", "example-run")
    assert (second.language, second.code, second.kind) == ("sh", "ls\n", None)


# --- example-run -----------------------------------------------------------------------------------------------


RUN_PAGES = sorted({block.path for block in python_blocks("example-run")})


@pytest.mark.django_db
@pytest.mark.parametrize("page", RUN_PAGES, ids=[str(p.relative_to(ROOT)) for p in RUN_PAGES])
def test_run_examples(page: Path, fake_orkestapay, settings):
    """A page's ``example-run`` blocks, in order, sharing their names; the app pointed at the fake gateway."""
    settings.ORKESTAPAY = {
        **settings.ORKESTAPAY,
        "CLIENT_ID": fake_orkestapay.client_id,
        "CLIENT_SECRET": fake_orkestapay.client_secret,
        "BASE_URL": fake_orkestapay.base_url,
    }
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    for block in blocks_of(page):
        if block.language == "python" and block.kind == "example-run":
            with redirect_stdout(io.StringIO()):
                exec(block.compiled(), namespace)  # noqa: S102 - the documentation's own example


# --- example-settings ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def startproject_settings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The settings.py that ``django-admin startproject mysite`` writes."""
    directory = tmp_path_factory.mktemp("startproject")
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", str(directory)], env=env, check=True)
    return directory / "mysite" / "settings.py"


def settings_source(block: Block) -> str:
    """The block, after the blocks of its page captioned as the same file before it (the quickstart builds one
    settings file step by step)."""
    if not block.caption:
        return block.code
    earlier = [b for b in blocks_of(block.path) if b.kind == "example-settings" and b.caption == block.caption]
    return "\n".join(b.code for b in earlier[: earlier.index(block) + 1])


def evaluate_settings(path: Path, block: Block) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": "mysite.settings"}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # noqa: S102
    exec(compile("\n" * (block.line - 1) + settings_source(block), str(block.path), "exec"), namespace)  # noqa: S102
    return namespace


SETTINGS = python_blocks("example-settings")


@pytest.mark.parametrize("block", SETTINGS, ids=ids(SETTINGS))
def test_settings_examples(block: Block, startproject_settings: Path, monkeypatch):
    """Appended to startproject's settings they import, and their ``ORKESTAPAY`` passes the app's checks."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    namespace = evaluate_settings(startproject_settings, block)
    if "ORKESTAPAY" in namespace:
        with override_settings(ORKESTAPAY=namespace["ORKESTAPAY"]):
            errors = [m for m in checks.check_settings() if m.level >= ERROR and m.id not in SHOP_SPECIFIC_CHECKS]
        assert errors == []


@pytest.mark.parametrize("block", SETTINGS, ids=ids(SETTINGS))
def test_settings_examples_without_the_environment(block: Block, startproject_settings: Path, monkeypatch):
    """A fresh clone has no ``.env`` and no variables: the settings still import (a missing credential is for
    ``manage.py check`` to report), except where a page asks for them to fail at start-up (``os.environ[...]``)."""
    for name in [*ENVIRONMENT, "ORKESTAPAY_BASE_URL", "ORKESTAPAY_ENVIRONMENT"]:
        monkeypatch.delenv(name, raising=False)
    if "os.environ[" in block.code:
        with pytest.raises(KeyError, match="ORKESTAPAY_"):
            evaluate_settings(startproject_settings, block)
    else:
        evaluate_settings(startproject_settings, block)


# --- example-file, example-syntax ------------------------------------------------------------------------------

COMPILED = python_blocks("example-file") + python_blocks("example-syntax")


@pytest.mark.parametrize("block", COMPILED, ids=ids(COMPILED))
def test_file_and_syntax_examples_compile(block: Block):
    block.compiled()
    if block.kind == "example-file":
        assert re.fullmatch(r"[\w/]+\.py", block.caption), "an example-file's caption is its path in the project"


# --- other languages -------------------------------------------------------------------------------------------


def of_language(*languages: str) -> list[Block]:
    return [block for block in all_blocks() if block.language in languages]


JSON = of_language("json")
TEMPLATES = of_language("html+django")
INI = of_language("ini")
SHELL = of_language("sh", "console", "bash")
CRONTAB = [block for block in all_blocks() if "example-crontab" in block.classes]


@pytest.mark.parametrize("block", JSON, ids=ids(JSON))
def test_json_examples_parse(block: Block):
    json.loads(block.code)


@pytest.mark.parametrize("block", TEMPLATES, ids=ids(TEMPLATES))
def test_template_examples_compile(block: Block):
    engines["django"].from_string(block.code)


@pytest.mark.parametrize("block", INI, ids=ids(INI))
def test_ini_examples_parse(block: Block):
    configparser.ConfigParser().read_string(block.code)


def commands_named(text: str) -> Iterator[str]:
    yield from re.findall(r"manage\.py\s+([a-z_]+)", text)


@pytest.mark.parametrize("block", SHELL, ids=ids(SHELL))
def test_shell_examples_are_valid_and_name_what_exists(block: Block):
    result = subprocess.run(["bash", "-n"], input=block.code, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    known = set(get_commands()) | set(OTHER_PACKAGES_COMMANDS)
    assert [name for name in commands_named(block.code) if name not in known] == []
    for module in re.findall(r"python3? -m ([\w.]+)", block.code):
        assert importlib.util.find_spec(module) is not None, module
    for script in re.findall(r"(?:^|\s)((?:scripts|bench)/[\w-]+)", block.code):
        assert (ROOT / script).is_file(), script


@pytest.mark.parametrize("block", CRONTAB, ids=ids(CRONTAB))
def test_crontab_examples_have_five_fields_and_real_commands(block: Block):
    field = r"(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*"
    for line in block.code.splitlines():
        minute, hour, day, month, weekday, command = line.split(None, 5)
        for value in (minute, hour, day, month, weekday):
            assert re.fullmatch(field, value), line
        (name,) = commands_named(command)
        assert name in get_commands(), line


def test_the_fake_gateways_banner_is_what_it_prints():
    (block,) = [b for b in all_blocks() if "Fake OrkestaPay listening on" in b.code]
    shown = block.code.splitlines()
    command, printed = shown[0], shown[1:]
    secret = re.search(r"whsec_\S+", block.code)
    assert command.startswith("$ python -m django_orkestapay.testing --port 8765 --webhook-url ")
    assert secret is not None
    url = command.split("--webhook-url ")[1]
    output = io.StringIO()
    with FakeOrkestaPay() as fake, redirect_stdout(output):
        print_banner(fake, secret[0], [url])
        port = fake.port
    actual = output.getvalue().replace(f":{port}", ":8765").splitlines()
    assert [" ".join(line.split()) for line in actual] == [" ".join(line.split()) for line in printed]
