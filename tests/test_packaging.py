"""Packaging proof: the sdist and the wheel carry everything the app needs at run time (templates, static files,
migrations, the compiled Spanish catalogue, ``py.typed``, the fake gateway), the wheel installed into a fresh virtual
environment serves its pages in Spanish, and setup.cfg's classifiers match the tox matrix.

Building and installing take a while and do not depend on the database: the whole module is marked ``standalone``,
so scripts/test runs it once, in the SQLite pass; ``tox -e package`` runs it on its own.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

import polib
import pytest

import django_orkestapay

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "django_orkestapay"
SPANISH_PO = PACKAGE / "locale" / "es" / "LC_MESSAGES" / "django.po"
DIST_NAME = f"django_orkestapay-{django_orkestapay.__version__}"

#: Files the app cannot work without, as paths inside the package.
REQUIRED_FILES = (
    "py.typed",
    "apps.py",
    "checks/__init__.py",
    "migrations/__init__.py",
    "migrations/0001_initial.py",
    "templates/django_orkestapay/base.html",
    "templates/django_orkestapay/button.html",
    "templates/django_orkestapay/error.html",
    "templates/django_orkestapay/return.html",
    "templates/django_orkestapay/shop_links.html",
    "static/django_orkestapay/orkestapay.css",
    "templatetags/orkestapay.py",
    "management/commands/orkestapay_sync.py",
    "locale/es/LC_MESSAGES/django.po",
    "locale/es/LC_MESSAGES/django.mo",
    "testing/__init__.py",
    "testing/pytest_plugin.py",
)

#: The buyer-facing string the fresh installation renders (the 400 page of a return link without its parameter).
PAGE_MSGID = "This payment link is incomplete."

pytestmark = pytest.mark.standalone


def package_files_in_source() -> set[str]:
    """Every file of the package that must ship, as ``django_orkestapay/...`` paths, read from the source tree."""
    wanted: set[str] = set()
    for path in PACKAGE.rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(PACKAGE)
        top = relative.parts[0]
        if (
            path.suffix == ".py"
            or (top == "templates" and path.suffix == ".html")
            or top == "static"
            or (top == "locale" and path.suffix in {".po", ".mo"})
            or relative.as_posix() == "py.typed"
        ):
            wanted.add(f"django_orkestapay/{relative.as_posix()}")
    return wanted


@dataclass(frozen=True)
class Distributions:
    wheel: Path
    sdist: Path
    log: str  # what ``python -m build`` printed, stdout and stderr

    def wheel_names(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return set(archive.namelist())

    def sdist_names(self) -> set[str]:
        """Member names with the ``django_orkestapay-<version>/`` prefix removed (directories left out)."""
        with tarfile.open(self.sdist) as archive:
            return {member.name.removeprefix(f"{DIST_NAME}/") for member in archive.getmembers() if not member.isdir()}


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Distributions:
    """``python -m build``: the sdist, then the wheel built from that sdist (so the sdist must be complete)."""
    outdir = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(outdir), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = outdir.glob("*.whl")
    (sdist,) = outdir.glob("*.tar.gz")
    return Distributions(wheel=wheel, sdist=sdist, log=result.stdout + result.stderr)


#: Warnings about the machine rather than the project (``PYTHONDONTWRITEBYTECODE`` set in the environment).
ENVIRONMENT_WARNINGS = ("byte-compiling is disabled",)


def build_warnings(log: str) -> list[str]:
    """The lines of a build's output that warn: setuptools' ``WARNING`` and deprecation notices (package data
    directories missing from ``packages``, license classifiers) and distutils' ``warning:`` lines (a manifest pattern
    that matches nothing)."""
    return [
        line.strip()
        for line in log.splitlines()
        if re.search(r"warning|deprecat", line, re.IGNORECASE) and not any(ok in line for ok in ENVIRONMENT_WARNINGS)
    ]


def test_the_build_warns_about_nothing(dists):
    assert build_warnings(dists.log) == []


def test_build_warnings_finds_what_setuptools_and_the_manifest_say():
    """The filter above catches the warnings this project's build used to print."""
    log = (
        "WARNING License classifiers are deprecated.\n"
        "!!\n"
        "WARNING Package 'django_orkestapay.locale.es.LC_MESSAGES' is absent from the `packages` configuration.\n"
        "warning: no previously-included files matching '.env' found anywhere in distribution\n"
        "SetuptoolsDeprecationWarning: License classifiers are deprecated.\n"
        "warning: build_py: byte-compiling is disabled, skipping.\n"
        "copying django_orkestapay/py.typed -> build/lib/django_orkestapay\n"
    )
    assert len(build_warnings(log)) == 4


def test_the_license_is_an_spdx_expression(dists):
    with zipfile.ZipFile(dists.wheel) as archive:
        metadata = archive.read(f"{DIST_NAME}.dist-info/METADATA").decode()
        names = set(archive.namelist())
    assert "License-Expression: MIT" in metadata.splitlines()
    assert "Classifier: License ::" not in metadata  # superseded by the expression (PEP 639)
    assert f"{DIST_NAME}.dist-info/licenses/LICENSE" in names


def test_wheel_carries_templates_static_migrations_locale_and_py_typed(dists):
    names = dists.wheel_names()
    missing = [f"django_orkestapay/{name}" for name in REQUIRED_FILES if f"django_orkestapay/{name}" not in names]
    assert missing == [], f"missing from the wheel: {missing}"
    assert package_files_in_source() - names == set()


def test_wheel_holds_only_the_package(dists):
    names = dists.wheel_names()
    strays = {name for name in names if not name.startswith(("django_orkestapay/", f"{DIST_NAME}.dist-info/"))}
    assert strays == set()
    assert [name for name in names if name.endswith((".pyc", ".sqlite3", ".env"))] == []


def test_wheel_metadata_matches_setup_cfg(dists):
    with zipfile.ZipFile(dists.wheel) as archive:
        metadata = archive.read(f"{DIST_NAME}.dist-info/METADATA").decode()
    assert "Requires-Python: >=3.11" in metadata
    assert "Classifier: Typing :: Typed" in metadata
    for classifier in setup_cfg_classifiers():
        assert f"Classifier: {classifier}" in metadata


def test_sdist_carries_the_package_the_tests_and_no_local_files(dists):
    names = dists.sdist_names()
    missing = [f"django_orkestapay/{name}" for name in REQUIRED_FILES if f"django_orkestapay/{name}" not in names]
    assert missing == [], f"missing from the sdist: {missing}"
    assert package_files_in_source() - names == set()
    for name in ("LICENSE", "README.rst", "CHANGELOG.rst", "MANIFEST.in", "tox.ini", "setup.cfg", "pyproject.toml"):
        assert name in names
    # The suite and the example shop it drives travel together, so an unpacked sdist can run the tests.
    for name in ("tests/conftest.py", "tests/settings.py", "tests/test_checks.py", "example_project/manage.py"):
        assert name in names
    for name in ("bench/fleet.py", "bench/settings.py"):  # the fleet test's gunicorn site
        assert name in names
    local = [name for name in names if name.endswith((".pyc", ".sqlite3")) or Path(name).name == ".env"]
    assert local == []


def test_sdist_carries_every_tracked_file_of_the_suite_the_shop_the_bench_and_the_docs(dists):
    """MANIFEST.in lists these folders by kind of file; a file of a new kind would otherwise be left out unseen."""
    listed = subprocess.run(
        ["git", "ls-files", "tests", "example_project", "bench", "docs"], cwd=ROOT, capture_output=True, text=True
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout (an unpacked sdist): no list of tracked files to compare with")
    tracked = set(listed.stdout.split())
    assert tracked, "git lists no file"
    assert tracked - dists.sdist_names() == set()


# --- the wheel in a fresh virtual environment -------------------------------------------------------------------

RENDER_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="fresh-venv-packaging-test-not-a-secret",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.staticfiles", "django_orkestapay"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
        MIDDLEWARE=[],
        LANGUAGE_CODE="es-mx",
        USE_I18N=True,
        USE_TZ=True,
        STATIC_URL="/static/",
        ORKESTAPAY={"CLIENT_ID": "id", "CLIENT_SECRET": "secret", "ENVIRONMENT": "sandbox"},
    )
    django.setup()

    from django.core.checks import run_checks
    from django.core.management import call_command
    from django.test import Client
    from django.urls import include, path

    import django_orkestapay

    urlpatterns = [path("orkestapay/", include("django_orkestapay.urls"))]

    call_command("migrate", verbosity=0)
    from django_orkestapay.models import Order

    response = Client().get("/orkestapay/return/completed/")
    print(json.dumps({
        "module": django_orkestapay.__file__,
        "prefix": sys.prefix,
        "django": django.get_version(),
        "orders": Order.objects.count(),
        "checks": sorted(m.id for m in run_checks(include_deployment_checks=True) if m.id.startswith("orkestapay")),
        "status": response.status_code,
        "body": response.content.decode(),
    }))
    """
)


@pytest.fixture(scope="module")
def installed_page(dists: Distributions, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Install the wheel (and what it requires) into a new virtual environment, then render a page there."""
    workdir = tmp_path_factory.mktemp("fresh")
    venv = workdir / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE"}}
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(dists.wheel)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    script = workdir / "render_page.py"
    script.write_text(RENDER_SCRIPT)
    # Run from an empty directory, so only the installed copy of django_orkestapay can be imported.
    result = subprocess.run(
        [str(python), str(script)], cwd=workdir, capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    page: dict[str, object] = json.loads(result.stdout)
    return page


def test_installed_wheel_serves_the_app_from_site_packages(installed_page):
    assert str(installed_page["module"]).startswith(str(installed_page["prefix"]))
    assert "/site-packages/django_orkestapay/" in str(installed_page["module"])
    assert installed_page["orders"] == 0  # the shipped migrations applied
    assert installed_page["checks"] == ["orkestapay.W001", "orkestapay.W002"]  # the checks ship and register
    body = str(installed_page["body"])
    assert installed_page["status"] == 400
    assert 'data-testid="orkestapay-error"' in body
    assert 'lang="es-mx"' in body
    assert "/static/django_orkestapay/orkestapay.css" in body


def test_installed_wheel_serves_spanish_pages(installed_page):
    """The 400 page shows the catalogue's Spanish text, from the .mo compiled into the wheel."""
    assert SPANISH_PO.exists(), f"{SPANISH_PO.relative_to(ROOT)} is not there yet: no Spanish catalogue to ship"
    entry = polib.pofile(str(SPANISH_PO)).find(PAGE_MSGID)
    assert entry is not None, f"{PAGE_MSGID!r} is not in the Spanish catalogue"
    assert entry.msgstr
    assert entry.msgstr != PAGE_MSGID
    body = str(installed_page["body"])
    assert entry.msgstr in body
    assert PAGE_MSGID not in body


# --- classifiers and the tox matrix -----------------------------------------------------------------------------


def setup_cfg_classifiers() -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "setup.cfg")
    return [line.strip() for line in parser["metadata"]["classifiers"].splitlines() if line.strip()]


def tox_matrix() -> list[tuple[str, str]]:
    """``(python, django)`` pairs from tox.ini's env_list, e.g. ``("3.12", "6.0")`` for ``py312-dj60``."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    pairs = []
    for env in parser["tox"]["env_list"].split():
        match = re.fullmatch(r"py3(\d+)-dj(\d)(\d+)", env)
        if match:
            pairs.append((f"3.{match[1]}", f"{match[2]}.{match[3]}"))
    return pairs


def test_classifiers_match_the_tox_matrix():
    classifiers = setup_cfg_classifiers()
    pythons = {
        c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    djangos = {c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r"Framework :: Django :: \d+\.\d+", c)}
    matrix = tox_matrix()
    assert pythons == {python for python, _ in matrix}
    assert djangos == {django for _, django in matrix}


def test_python_requires_is_the_oldest_tested_python():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "setup.cfg")
    oldest = min((python for python, _ in tox_matrix()), key=lambda version: tuple(map(int, version.split("."))))
    assert parser["options"]["python_requires"].strip() == f">={oldest}"


def test_every_tox_django_factor_pins_its_release():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    deps = parser["testenv"]["deps"]
    for django in {django for _, django in tox_matrix()}:
        major, minor = django.split(".")
        factor = f"dj{major}{minor}"
        assert re.search(rf"^\s*{factor}: Django>={django},<{major}\.{int(minor) + 1}$", deps, re.M), factor
