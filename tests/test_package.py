"""Packaging habits: one version number, the typing marker, the licence."""

from __future__ import annotations

import importlib
import re
from importlib import metadata
from pathlib import Path

import pytest

import deep_learning_toolkit as dlt

ROOT = Path(__file__).resolve().parents[1]


def pyproject_version() -> str:
    match = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert match is not None, "pyproject.toml has no [project] version"
    return match.group(1)


def test_version_is_the_installed_metadata() -> None:
    try:
        installed = metadata.version("deep_learning_toolkit")
    except metadata.PackageNotFoundError:
        pytest.skip("deep_learning_toolkit is not installed (run from a bare source tree)")
    assert dlt.__version__ == installed
    assert installed == pyproject_version()


def test_version_falls_back_when_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    try:
        assert importlib.reload(dlt).__version__ == "0+unknown"
    finally:
        monkeypatch.undo()
        importlib.reload(dlt)
    assert dlt.__version__ != "0+unknown"


def test_typed_marker_is_shipped() -> None:
    assert (Path(dlt.__file__).parent / "py.typed").is_file()
    assert 'deep_learning_toolkit = ["py.typed"]' in (ROOT / "pyproject.toml").read_text()


def test_licence_is_the_declared_one() -> None:
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License")
    assert "the deep_learning_toolkit authors" in licence
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()
