"""The API reference covers every public module, and names only modules that exist.

The reference pages (``docs/reference/*.md``) list their modules with ``::: module``
directives; when a module is added, moved or removed, this says which page to update
(``mkdocs build --strict`` then checks the rest: ``pip install -e ".[docs]"``).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "deep_learning_toolkit"
REFERENCE = ROOT / "docs" / "reference"
DIRECTIVE = re.compile(r"^::: ([\w.]+)\s*$", re.M)


def public_modules() -> set[str]:
    names = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not any(part.startswith("_") for part in parts):
            names.add(".".join(parts))
    return names


def documented_modules() -> dict[str, str]:
    return {
        name: page.name
        for page in sorted(REFERENCE.glob("*.md"))
        for name in DIRECTIVE.findall(page.read_text())
    }


def test_every_public_module_has_a_reference_entry() -> None:
    missing = sorted(public_modules() - set(documented_modules()))
    assert missing == [], f"add a '::: <module>' line to a page of docs/reference for {missing}"


def test_every_reference_entry_is_a_module() -> None:
    stale = {
        name: page for name, page in documented_modules().items() if name not in public_modules()
    }
    assert stale == {}, f"these directives name no module of src/ (moved or removed?): {stale}"


def test_the_reference_pages_are_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in REFERENCE.glob("*.md"):
        assert f"reference/{page.name}" in nav, page.name
