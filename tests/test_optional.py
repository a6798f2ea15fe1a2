"""Install hints of the optional dependencies: the real package name, then the extra."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from deep_learning_toolkit._optional import EXTRAS, install_hint, require

SRC = Path(__file__).resolve().parents[1] / "src" / "deep_learning_toolkit"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_require_returns_the_module() -> None:
    assert require("math", "arithmetic") is math
    assert require("os.path", "paths").join("a", "b") == str(Path("a") / "b")


@pytest.mark.parametrize(
    ("module", "purpose", "expected"),
    [
        (
            "seaborn",
            "plots",
            "seaborn is needed for plots: pip install seaborn "
            "(or pip install -e '.[plot]' in a checkout of deep_learning_toolkit)",
        ),
        (
            "sklearn.datasets",
            "dataset loaders",
            "scikit-learn is needed for dataset loaders: pip install scikit-learn "
            "(or pip install -e '.[datasets]' in a checkout of deep_learning_toolkit)",
        ),
        (
            "ray",
            "the Ray backend",
            "ray is needed for the Ray backend: pip install ray "
            "(or pip install -e '.[ray]' in a checkout of deep_learning_toolkit)",
        ),
    ],
)
def test_missing_module_names_the_real_package(monkeypatch, module, purpose, expected) -> None:
    monkeypatch.setitem(sys.modules, module.split(".")[0], None)
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError) as info:
        require(module, purpose)
    assert str(info.value) == expected
    assert info.value.name == module
    assert isinstance(info.value.__cause__, ImportError)


def test_unknown_module_without_extra() -> None:
    with pytest.raises(ImportError, match=r"^xyz is needed for tests: pip install xyz$"):
        require("no_such_module_for_dlt_tests", "tests", pip_name="xyz")
    assert install_hint("somepkg") == "pip install somepkg"
    assert install_hint("somepkg", extra="all") == (
        "pip install somepkg (or pip install -e '.[all]' in a checkout of deep_learning_toolkit)"
    )


def test_every_extra_named_exists_in_pyproject() -> None:
    text = PYPROJECT.read_text()
    for pip_name, extra in EXTRAS.values():
        assert f"\n{extra} = [" in text, extra
        section = text.split(f"\n{extra} = [", 1)[1].split("]", 1)[0]
        assert f'"{pip_name}' in section, (pip_name, extra)


def test_no_message_names_the_pypi_impostor() -> None:
    """'pip install deep_learning_toolkit[...]' would fetch an unrelated project from PyPI."""
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "install 'deep_learning_toolkit[" in line
    ]
    assert offenders == []


def test_importing_the_package_imports_no_optional_package() -> None:
    """The core needs only NumPy: every extra is imported where it is used."""
    code = (
        "import sys, deep_learning_toolkit as dlt, deep_learning_toolkit._optional as o; "
        "print(sorted(m for m in o.EXTRAS if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC.parent)},
    ).stdout
    assert out.strip() == "[]"
