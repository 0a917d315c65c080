"""The code blocks of the documentation (``docs/**/*.rst`` and README.rst), and how their examples become tests.

A ``.. code-block:: python`` says how it is tested with one of the classes in :data:`KINDS`; tests/test_docs_examples.py
runs or checks each kind, and :class:`ExamplesModule` (made by ``pytest_pycollect_makemodule`` in tests/conftest.py)
collects each ``example-tests`` block as a test module of its own, named after its page and line. The parser reads
the reST directives as docutils writes them: ``.. code-block:: LANGUAGE``, indented ``:option: value`` lines, a blank
line, then the indented body.
"""

from __future__ import annotations

import ast
import re
import sys
import textwrap
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: How a Python block is tested: run as a pytest module; run as a snippet against the fake gateway; appended to a
#: startproject settings file; a file of the quickstart's project (tests/test_startproject.py); compiled only.
KINDS = ("example-tests", "example-run", "example-settings", "example-file", "example-syntax")

_DIRECTIVE = re.compile(r"^(?P<indent> *)\.\. code-block::\s*(?P<language>\S+)\s*$")
_OPTION = re.compile(r"^ *:(?P<name>[\w-]+):\s*(?P<value>.*)$")


@dataclass(frozen=True)
class Block:
    """One code block: where it is (``line`` is the body's first line, 1-based), its language, options and body."""

    path: Path
    line: int
    language: str
    code: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def classes(self) -> list[str]:
        return self.options.get("class", "").split()

    @property
    def caption(self) -> str:
        return self.options.get("caption", "")

    @property
    def kind(self) -> str | None:
        kinds = [name for name in self.classes if name in KINDS]
        return kinds[0] if len(kinds) == 1 else None

    def compiled(self) -> types.CodeType:
        """The body compiled so that a traceback names the page and its line."""
        return compile("\n" * (self.line - 1) + self.code, str(self.path), "exec")


def pages() -> list[Path]:
    """Every reST page of the documentation, and README.rst."""
    return [*sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts), ROOT / "README.rst"]


def blocks_of(path: Path) -> list[Block]:
    """The code blocks of one page, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    index = 0
    while index < len(lines):
        match = _DIRECTIVE.match(lines[index])
        index += 1
        if match is None:
            continue
        indent = len(match["indent"])
        options = {}
        while (
            index < len(lines)
            and (option := _OPTION.match(lines[index]))
            and lines[index].startswith(" " * (indent + 1))
        ):
            options[option["name"]] = option["value"].strip()
            index += 1
        body = []
        while index < len(lines) and (not lines[index].strip() or lines[index].startswith(" " * (indent + 1))):
            body.append(lines[index])
            index += 1
        while body and not body[0].strip():
            body.pop(0)
        first = index - len(body) + 1
        code = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
        found.append(Block(path, first, match["language"], code, options))
    return found


def all_blocks() -> list[Block]:
    return [block for page in pages() for block in blocks_of(page)]


def python_blocks(kind: str) -> list[Block]:
    return [block for block in all_blocks() if block.language == "python" and block.kind == kind]


def _module_for(block: Block, config: pytest.Config) -> types.ModuleType:
    """An ``example-tests`` block as a module, its asserts rewritten by pytest (as in any test module)."""
    from _pytest.assertion.rewrite import rewrite_asserts

    source = "\n" * (block.line - 1) + block.code
    tree = ast.parse(source, filename=str(block.path))
    rewrite_asserts(tree, source.encode(), str(block.path), config)
    slug = re.sub(r"\W", "_", block.where)
    module = types.ModuleType(f"docs_example_{slug}")
    module.__file__ = str(block.path)
    sys.modules[module.__name__] = module  # importable by name, as a test module is: @pytest.mark.urls(__name__)
    exec(compile(tree, str(block.path), "exec"), module.__dict__)  # noqa: S102 - the documentation's own example
    return module


class ExampleModule(pytest.Module):
    """One ``example-tests`` block, collected as a test module."""

    block: Block

    def _getobj(self) -> Any:
        return _module_for(self.block, self.config)


class ExamplesModule(pytest.Module):
    """tests/test_docs_examples.py, whose children are its own tests and then every ``example-tests`` block."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        yield from super().collect()
        for block in python_blocks("example-tests"):
            module = ExampleModule.from_parent(
                self, path=self.path, name=block.where, nodeid=f"{self.nodeid}::{block.where}"
            )
            module.block = block
            yield module
