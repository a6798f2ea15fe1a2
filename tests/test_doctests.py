"""Run the examples of the docstrings and of the documentation pages.

Every module of the package whose source holds a runnable ``>>>`` example (one not marked
``+SKIP``) is imported and its examples run with :mod:`doctest` (a module whose optional
dependency is missing is skipped);
every page under ``docs/`` with a ``pycon`` block is run as one doctest, so the guides cannot
drift from the code. Equivalent: ``python -m pytest --doctest-modules src/deep_learning_toolkit``.
"""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

from deep_learning_toolkit._optional import EXTRAS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "deep_learning_toolkit"
DOCS = ROOT / "docs"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runnable(source: str) -> bool:
    """Whether ``source`` holds an example not marked ``+SKIP`` (an illustration only)."""
    examples = doctest.DocTestParser().get_examples(source)
    return any(not example.options.get(doctest.SKIP) for example in examples)


MODULES = sorted(module_name(path) for path in PACKAGE.rglob("*.py") if runnable(path.read_text()))
PAGES = sorted(
    page.relative_to(DOCS).as_posix()
    for page in DOCS.rglob("*.md")
    if "```pycon" in page.read_text()
)


def run(tests: list[doctest.DocTest]) -> None:
    """Run ``tests``; fail with doctest's own report of every failing example."""
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    reports: list[str] = []
    for test in tests:
        runner.run(test, out=reports.append)
    results = runner.summarize(verbose=False)
    assert results.attempted > 0, "no example ran"
    assert results.failed == 0, "\n".join(reports)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        if (error.name or "").split(".")[0] in EXTRAS:
            pytest.skip(f"{name} needs {error.name}, an optional extra")
        raise
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    run([test for test in doctest.DocTestFinder().find(module) if test.examples])


@pytest.mark.parametrize("page", PAGES)
def test_documentation_page_examples(
    page: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Fence lines would read as expected output: blank them, keeping the line numbers.
    text = re.sub(r"(?m)^[ \t]*```.*$", "", (DOCS / page).read_text())
    test = doctest.DocTestParser().get_doctest(text, {}, page, str(DOCS / page), 0)
    monkeypatch.chdir(tmp_path)
    run([test])


def test_every_example_is_found() -> None:
    """The lists above are not empty by accident (a moved package or docs folder)."""
    assert "deep_learning_toolkit.numdiff.fornberg" in MODULES
    assert "guides/formulas.md" in PAGES and "getting-started/quickstart.md" in PAGES
