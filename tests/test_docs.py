"""README.rst and CHANGELOG.rst are valid reStructuredText (PyPI renders the README as the project page)."""

import io
from pathlib import Path

import docutils.core
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.standalone
@pytest.mark.parametrize("name", ["README.rst", "CHANGELOG.rst"])
def test_renders_without_warnings(name):
    warnings = io.StringIO()
    docutils.core.publish_string(
        (ROOT / name).read_text(encoding="utf-8"),
        writer="null",
        settings_overrides={"warning_stream": warnings, "report_level": 2, "halt_level": 5},
    )
    assert warnings.getvalue() == ""
