"""Optional dependencies: import them where they are used, or say what to install.

The toolkit needs only NumPy at run time. Everything else is an extra, imported lazily by
:func:`require`, whose ``ImportError`` names the package to install from the public index
(the real one: the distribution name ``deep_learning_toolkit`` is not this project on PyPI)
and the extra of a checkout that brings it with the versions the project tests:

>>> from deep_learning_toolkit._optional import install_hint
>>> install_hint("seaborn")
"pip install seaborn (or pip install -e '.[plot]' in a checkout of deep_learning_toolkit)"
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "install_hint", "require"]

#: Top-level module -> (name of its package on PyPI, extra of pyproject.toml that installs it).
EXTRAS: dict[str, tuple[str, str]] = {
    "sklearn": ("scikit-learn", "datasets"),
    "tensorboardX": ("tensorboardX", "tensorboard"),
    "tensorboard": ("tensorboard", "tensorboard"),
    "matplotlib": ("matplotlib", "plot"),
    "seaborn": ("seaborn", "plot"),
    "pandas": ("pandas", "plot"),
    "tqdm": ("tqdm", "progress"),
    "torch": ("torch", "torch"),
    "ray": ("ray", "ray"),
}


def install_hint(module: str, pip_name: str | None = None, extra: str | None = None) -> str:
    """The command that installs ``module``: its PyPI name, then this checkout's extra.

    Parameters
    ----------
    module : str
        Import name, e.g. ``"sklearn"`` or ``"sklearn.datasets"`` (the top-level package
        decides the defaults below).
    pip_name : str, optional
        Package name on PyPI; defaults to the one :data:`EXTRAS` knows, else ``module``.
    extra : str, optional
        Extra of ``pyproject.toml`` that installs it; defaults to the one :data:`EXTRAS`
        knows, else none is mentioned.
    """
    known_name, known_extra = EXTRAS.get(module.split(".")[0], (module.split(".")[0], None))
    pip_name = pip_name or known_name
    extra = extra or known_extra
    command = f"pip install {pip_name}"
    if extra is None:
        return command
    return f"{command} (or pip install -e '.[{extra}]' in a checkout of deep_learning_toolkit)"


def require(
    module: str, purpose: str, pip_name: str | None = None, extra: str | None = None
) -> ModuleType:
    """Import and return ``module``, or raise an ``ImportError`` that says how to install it.

    Parameters
    ----------
    module : str
        What to import, e.g. ``"seaborn"`` or ``"sklearn.datasets"``.
    purpose : str
        What needs it, completing "<package> is needed for <purpose>", e.g. ``"plots"``.
    pip_name, extra : str, optional
        See :func:`install_hint`.

    Raises
    ------
    ImportError
        ``"seaborn is needed for plots: pip install seaborn (or pip install -e '.[plot]' in a
        checkout of deep_learning_toolkit)"``, chained to the original error.

    Examples
    --------
    >>> from deep_learning_toolkit._optional import require
    >>> require("math", "nothing").sqrt(4.0)
    2.0
    >>> require("no_such_module_xyz", "the example", pip_name="xyz")
    Traceback (most recent call last):
    ...
    ImportError: xyz is needed for the example: pip install xyz
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        name = pip_name or EXTRAS.get(module.split(".")[0], (module.split(".")[0], ""))[0]
        hint = install_hint(module, pip_name, extra)
        raise ImportError(f"{name} is needed for {purpose}: {hint}", name=module) from error
