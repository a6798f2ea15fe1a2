"""Optimizer base class, the registry of optimizers by name and :func:`get_optimizer`.

An optimizer updates a flat float64 parameter vector in place from a gradient of the
same shape. Its state (moment estimates, step count) is created lazily on the first
:meth:`Optimizer.step`, and :meth:`Optimizer.state_dict` / :meth:`Optimizer.load_state_dict`
save and restore everything needed to resume a run exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._validation import check_float, check_int, describe

OPTIMIZERS: dict[str, type[Optimizer]] = {}
"""Optimizer classes by their lower-case ``name``, filled as subclasses are defined."""

Hyperparameters = dict[str, float | bool | str]


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as ``bool`` if it is a (NumPy) boolean; else raise ``TypeError``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {describe(value)}.")
    return bool(value)


class Optimizer:
    """Base class of the optimizers: a gradient-based update rule with state.

    Subclasses set ``name``, validate their hyperparameters in :meth:`_check` (a flat
    ``dict`` such as ``{"lr": 0.01, "momentum": 0.9}``), list the state arrays they need
    in :meth:`_state_names` and apply one update in :meth:`_update`.

    Parameters
    ----------
    lr : float
        Learning rate, finite and > 0. Settable later through the ``lr`` property.
    """

    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            OPTIMIZERS[cls.name] = cls

    def __init__(self, **hyperparameters: Any) -> None:
        self._hp: dict[str, Any] = self._check(hyperparameters)
        self._state: dict[str, np.ndarray] = {}
        self._shape: tuple[int, ...] | None = None
        self._step_count = 0

    # -- to be provided by subclasses -------------------------------------------------

    @staticmethod
    def _check(hp: dict[str, Any]) -> dict[str, Any]:
        """Validate a flat hyperparameter dict and return it with normalised values."""
        raise NotImplementedError

    @staticmethod
    def _state_names(hp: dict[str, Any]) -> tuple[str, ...]:
        """Names of the state arrays that the hyperparameters ``hp`` need."""
        raise NotImplementedError

    def _update(self, params: np.ndarray, grad: np.ndarray) -> None:
        """Apply one update in place; ``self._step_count`` is already incremented."""
        raise NotImplementedError

    # -- public interface -------------------------------------------------------------

    @property
    def lr(self) -> float:
        """Learning rate (finite, > 0); may be changed between steps by a schedule."""
        return self._hp["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        self._hp["lr"] = check_float("lr", value, positive=True)

    @property
    def step_count(self) -> int:
        """Number of steps taken since creation or the last :meth:`reset`."""
        return self._step_count

    def step(self, params: np.ndarray, grad: np.ndarray) -> None:
        """Update ``params`` in place from ``grad``.

        Parameters
        ----------
        params : ndarray of float64
            Parameter vector, modified in place.
        grad : array-like
            Gradient of the loss with respect to ``params``, same shape.

        Raises
        ------
        TypeError
            If ``params`` is not a float64 NumPy array or ``grad`` is not numeric.
        ValueError
            If ``grad``'s shape differs from ``params``' or from the state's shape.
        """
        if not isinstance(params, np.ndarray) or params.dtype != np.float64:
            raise TypeError(f"params must be a float64 NumPy array; got {describe(params)}.")
        try:
            grad = np.asarray(grad, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"grad must be an array of numbers; got {describe(grad)}.") from None
        if grad.shape != params.shape:
            raise ValueError(
                f"grad must have the shape of params {params.shape}; got shape {grad.shape}."
            )
        if self._shape is None:
            self._shape = params.shape
            self._state = {key: np.zeros(params.shape) for key in self._state_names(self._hp)}
        elif params.shape != self._shape:
            raise ValueError(
                f"params has shape {params.shape} but the {self.name} state was created for "
                f"shape {self._shape}; call reset() before optimizing other parameters."
            )
        self._step_count += 1
        self._update(params, grad)

    def hyperparameters(self) -> Hyperparameters:
        """Hyperparameters for logging, e.g. ``{"optimizer": "adam", "lr": 0.001, ...}``."""
        return {"optimizer": self.name, **self._hp}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly: hyperparameters, step count, array copies."""
        return {
            "optimizer": self.name,
            "hyperparameters": self.hyperparameters(),
            "step": self._step_count,
            "shape": self._shape,
            "state": {key: value.copy() for key, value in self._state.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` of the same optimizer class (arrays are copied).

        Raises
        ------
        TypeError
            If ``state`` is not a dict.
        ValueError
            If it belongs to another optimizer or is incomplete or inconsistent.
        """
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(); got {describe(state)}.")
        missing = {"optimizer", "hyperparameters", "step", "shape", "state"} - set(state)
        if missing:
            raise ValueError(f"state is missing the keys {sorted(missing)}.")
        if state["optimizer"] != self.name:
            raise ValueError(
                f"state is for optimizer {state['optimizer']!r}, not {self.name!r}; "
                f"load it into an optimizer of that class, not {type(self).__name__}."
            )
        hp = dict(state["hyperparameters"])
        hp.pop("optimizer", None)
        if set(hp) != set(self._hp):
            raise ValueError(
                f"state hyperparameters must have the keys {sorted(self._hp)}; got {sorted(hp)}."
            )
        hp = self._check(hp)
        step = check_int("state['step']", state["step"], minimum=0)
        shape = None if state["shape"] is None else tuple(int(n) for n in state["shape"])
        arrays = {key: np.array(value, dtype=np.float64) for key, value in state["state"].items()}
        if (shape is None) != (step == 0):
            raise ValueError(f"state is inconsistent: step {step} with parameter shape {shape}.")
        needed = set(self._state_names(hp)) if shape is not None else set()
        if set(arrays) != needed:
            raise ValueError(f"state arrays must be {sorted(needed)}; got {sorted(arrays)}.")
        for key, value in arrays.items():
            if value.shape != shape:
                raise ValueError(
                    f"state array {key!r} has shape {value.shape}; expected shape {shape}."
                )
        self._hp, self._step_count, self._shape, self._state = hp, step, shape, arrays

    def reset(self) -> None:
        """Forget the state (moments and step count); hyperparameters are kept."""
        self._state = {}
        self._shape = None
        self._step_count = 0

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self._hp.items())
        return f"{type(self).__name__}({args})"


def get_optimizer(spec: str | Optimizer) -> Optimizer:
    """Return an optimizer from a name (default hyperparameters) or an instance as is.

    Parameters
    ----------
    spec : str or Optimizer
        ``"sgd"``, ``"adam"`` or ``"rmsprop"`` (case-insensitive), or an optimizer.

    Raises
    ------
    ValueError
        If the name is unknown (the message lists the valid names).
    TypeError
        If ``spec`` is neither a string nor an :class:`Optimizer`.
    """
    if isinstance(spec, Optimizer):
        return spec
    if not isinstance(spec, str):
        raise TypeError(
            f"optimizer must be a name {sorted(OPTIMIZERS)} or an Optimizer instance; "
            f"got {describe(spec)}."
        )
    key = spec.strip().lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {spec!r}; valid names are {sorted(OPTIMIZERS)}.")
    return OPTIMIZERS[key]()
