"""Optimizer base class, the registry of optimizers by name and :func:`get_optimizer`.

An optimizer updates a flat float64 or float32 parameter vector in place from a gradient of
the same shape, in the parameters' dtype. Its state (moment estimates of that dtype, step
count) is created lazily on the first :meth:`Optimizer.step`, and
:meth:`Optimizer.state_dict` / :meth:`Optimizer.load_state_dict` save and restore everything
needed to resume a run exactly, including a learning-rate schedule
(:mod:`deep_learning_toolkit.optim.schedules`) and its position.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .._validation import check_bool, check_float, check_int, describe  # noqa: F401 (re-exported)
from . import schedules
from .schedules import LearningRateError, LearningRateSchedule

OPTIMIZERS: dict[str, type[Optimizer]] = {}
"""Optimizer classes by their lower-case ``name``, filled as subclasses are defined."""

Hyperparameters = dict[str, float | bool | str]

#: Dtypes of the parameter vectors the optimizers update.
PARAMETER_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
LearningRate = float | LearningRateSchedule | Callable[[int], float]


class Optimizer:
    """Base class of the optimizers: a gradient-based update rule with state.

    Subclasses set ``name``, validate their hyperparameters other than the learning rate in
    :meth:`_check` (a flat ``dict`` such as ``{"momentum": 0.9}``), list the state arrays
    they need in :meth:`_state_names` and apply one update in :meth:`_update`.

    Parameters
    ----------
    lr : float, LearningRateSchedule or callable
        Learning rate: a constant (finite, > 0), a
        :class:`~deep_learning_toolkit.optim.schedules.LearningRateSchedule`, or any callable
        ``f(step) -> rate``. A schedule is evaluated at the optimizer's step counter, as in
        Keras: the first step uses ``f(0)``; its rates must be finite and >= 0.
    """

    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            OPTIMIZERS[cls.name] = cls

    #: Weak reference to the model compiled with this optimizer (one model per optimizer).
    _owner: Any = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (and deep-copied) without its owner: a copy belongs to no model."""
        state = dict(self.__dict__)
        state.pop("_owner", None)
        return state

    def __init__(self, lr: LearningRate, **hyperparameters: Any) -> None:
        constant, schedule = _check_lr(lr)
        self._hp: dict[str, Any] = self._check(hyperparameters)
        self._lr: float | None = constant
        self._schedule: LearningRateSchedule | None = schedule
        self._state: dict[str, np.ndarray] = {}
        self._shape: tuple[int, ...] | None = None
        self._step_count = 0

    # -- to be provided by subclasses -------------------------------------------------

    @staticmethod
    def _check(hp: dict[str, Any]) -> dict[str, Any]:
        """Validate the hyperparameters other than ``lr``; return them normalised."""
        raise NotImplementedError

    @staticmethod
    def _state_names(hp: dict[str, Any]) -> tuple[str, ...]:
        """Names of the state arrays that the hyperparameters ``hp`` need."""
        raise NotImplementedError

    def _update(self, params: np.ndarray, grad: np.ndarray, lr: float) -> None:
        """Apply one update with rate ``lr`` in place; ``self._step_count`` is incremented."""
        raise NotImplementedError

    # -- learning rate ----------------------------------------------------------------

    @property
    def lr(self) -> float:
        """The learning rate the next step will use (a schedule's value at :attr:`step_count`).

        Setting it is :meth:`set_learning_rate`.
        """
        if self._schedule is None:
            return self._lr  # type: ignore[return-value]
        return schedules.evaluate(self._schedule, self._step_count)

    @lr.setter
    def lr(self, value: float | LearningRateSchedule) -> None:
        self.set_learning_rate(value)

    #: Keras's name of :attr:`lr`.
    learning_rate = lr

    @property
    def schedule(self) -> LearningRateSchedule | None:
        """The learning-rate schedule, or ``None`` for a constant rate."""
        return self._schedule

    def set_learning_rate(self, value: float | LearningRateSchedule | Callable) -> None:
        """Change the learning rate: a new constant (> 0), or a new schedule.

        This is what ``ReduceLROnPlateau`` and ``LearningRateScheduler`` call; the new
        value is saved with the optimizer's state.

        Raises
        ------
        TypeError
            If the optimizer follows a schedule and ``value`` is a number (as in Keras, a
            scheduled rate is not settable; give a new schedule instead), or if ``value``
            is neither a number nor a schedule.
        ValueError
            If a constant is not finite and > 0.
        """
        constant, schedule = _check_lr(value)
        if constant is not None and self._schedule is not None:
            raise TypeError(
                f"The learning rate of this optimizer follows the schedule {self._schedule!r} "
                f"and cannot be set to the number {constant}; pass a new schedule, or create "
                "the optimizer with a constant lr."
            )
        self._lr, self._schedule = constant, schedule

    def advance(self) -> float:
        """Count one step applied outside :meth:`step` and return its learning rate.

        For update rules that change the parameters without a gradient vector (the
        memory-lean zeroth-order SGD path), so that a schedule moves on as with :meth:`step`.

        Raises
        ------
        LearningRateError
            If the schedule gives a rate that is not finite and >= 0 (nothing is counted).
        """
        rate = self.lr
        self._step_count += 1
        return rate

    # -- public interface -------------------------------------------------------------

    @property
    def step_count(self) -> int:
        """Number of steps taken since creation or the last :meth:`reset`."""
        return self._step_count

    def step(self, params: np.ndarray, grad: np.ndarray) -> None:
        """Update ``params`` in place from ``grad``.

        Parameters
        ----------
        params : ndarray of float64 or float32
            Parameter vector, modified in place.
        grad : array-like
            Gradient of the loss with respect to ``params``, same shape (cast to its dtype).

        Raises
        ------
        TypeError
            If ``params`` is not a float64 or float32 NumPy array or ``grad`` is not numeric.
        ValueError
            If ``grad``'s shape differs from ``params``' or from the state's shape.
        LearningRateError
            If the schedule's rate for this step is not finite and >= 0 (the message names
            the step; nothing is changed).
        """
        if not isinstance(params, np.ndarray) or params.dtype not in PARAMETER_DTYPES:
            raise TypeError(
                f"params must be a float64 or float32 NumPy array; got {describe(params)}."
            )
        try:
            grad = np.asarray(grad, dtype=params.dtype)
        except (TypeError, ValueError):
            raise TypeError(f"grad must be an array of numbers; got {describe(grad)}.") from None
        if grad.shape != params.shape:
            raise ValueError(
                f"grad must have the shape of params {params.shape}; got shape {grad.shape}."
            )
        if self._shape is not None and params.shape != self._shape:
            raise ValueError(
                f"params has shape {params.shape} but the {self.name} state was created for "
                f"shape {self._shape}; call reset() before optimizing other parameters."
            )
        rate = self.lr
        if self._shape is None:
            self._shape = params.shape
            names = self._state_names(self._hp)
            self._state = {key: np.zeros(params.shape, dtype=params.dtype) for key in names}
        elif any(value.dtype != params.dtype for value in self._state.values()):
            # e.g. a float64 state loaded for float32 parameters: the rule runs in theirs
            self._state = {key: value.astype(params.dtype) for key, value in self._state.items()}
        self._step_count += 1
        self._update(params, grad, rate)

    def hyperparameters(self) -> Hyperparameters:
        """Hyperparameters for logging, e.g. ``{"optimizer": "adam", "lr": 0.001, ...}``.

        ``lr`` is the current rate; with a schedule, ``lr_schedule`` describes it as text (and
        ``lr`` is ``None`` if the schedule's rate for the next step is invalid).
        """
        if self._schedule is None:
            return {"optimizer": self.name, "lr": self._lr, **self._hp}
        try:
            lr: float | None = self.lr
        except LearningRateError:  # the next step will raise; describing it must not
            lr = None
        return {"optimizer": self.name, "lr": lr, "lr_schedule": repr(self._schedule), **self._hp}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly: hyperparameters, step count, array copies.

        A schedule is stored under ``hyperparameters["lr_schedule"]`` as
        ``{"class_name": ..., "config": ...}`` (a plain callable is stored as the object).
        """
        hyperparameters = self.hyperparameters()
        if self._schedule is not None:
            hyperparameters["lr_schedule"] = _schedule_state(self._schedule)
        return {
            "optimizer": self.name,
            "hyperparameters": hyperparameters,
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
        saved_schedule = hp.pop("lr_schedule", None)
        if set(hp) != {"lr", *self._hp}:
            raise ValueError(
                f"state hyperparameters must have the keys {sorted(['lr', *self._hp])}; "
                f"got {sorted(hp)}."
            )
        lr = hp.pop("lr")
        if saved_schedule is not None:
            lr = schedules.as_schedule(saved_schedule)
        constant, schedule = _check_lr(lr)
        hp = self._check(hp)
        step = check_int("state['step']", state["step"], minimum=0)
        shape = None if state["shape"] is None else tuple(int(n) for n in state["shape"])
        arrays = {key: _state_array(value) for key, value in state["state"].items()}
        if shape is not None and step == 0:
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
        self._lr, self._schedule = constant, schedule

    def reset(self) -> None:
        """Forget the state (moments and step count); hyperparameters are kept."""
        self._state = {}
        self._shape = None
        self._step_count = 0

    #: Constructor arguments that hold several hyperparameters, e.g. Adam's
    #: ``{"betas": ("beta1", "beta2")}``, so that ``repr`` shows the call that builds it.
    _grouped: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __repr__(self) -> str:
        """The constructor call that builds this optimizer (before any step)."""
        arguments: dict[str, Any] = {"lr": self._lr if self._schedule is None else self._schedule}
        grouped = {key: group for group, keys in self._grouped.items() for key in keys}
        for key, value in self._hp.items():
            if key not in grouped:
                arguments[key] = value
            elif grouped[key] not in arguments:
                group = grouped[key]
                arguments[group] = tuple(self._hp[part] for part in self._grouped[group])
        args = ", ".join(f"{key}={value!r}" for key, value in arguments.items())
        return f"{type(self).__name__}({args})"


def _state_array(value: Any) -> np.ndarray:
    """A copy of a saved state array, in its own float dtype (float32 stays float32)."""
    array = np.asarray(value)
    dtype = array.dtype if array.dtype in PARAMETER_DTYPES else np.dtype(np.float64)
    return np.array(array, dtype=dtype)


def _check_lr(value: Any) -> tuple[float | None, LearningRateSchedule | None]:
    """``(constant, None)`` for a number (finite, > 0), ``(None, schedule)`` otherwise."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return check_float("lr", value, positive=True), None
    if isinstance(value, LearningRateSchedule) or (callable(value) and not isinstance(value, type)):
        return None, schedules.as_schedule(value)
    raise TypeError(
        "lr must be a real number > 0, a LearningRateSchedule or a callable of the step; "
        f"got {describe(value)}."
    )


def _schedule_state(schedule: LearningRateSchedule) -> Any:
    """A schedule's config for a state dict, or the object itself if it has none."""
    if isinstance(schedule, schedules.FunctionSchedule):
        return schedule
    return schedules.serialize(schedule)


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
    return OPTIMIZERS[key]()  # type: ignore[call-arg]  # every subclass has a default lr
