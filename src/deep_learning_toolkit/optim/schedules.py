"""Learning-rate schedules: the rate as a function of the optimizer's step counter.

A schedule is passed as an optimizer's ``lr``, as in Keras: step ``t`` (the number of steps
the optimizer has already taken, 0 for the first) uses the rate ``schedule(t)``. Each
schedule describes itself with :meth:`LearningRateSchedule.get_config` and is rebuilt by
:meth:`LearningRateSchedule.from_config`, so it is saved with the optimizer's state and a
resumed run continues the schedule exactly. Any callable of the step may be used too
(wrapped in :class:`FunctionSchedule`), but only subclasses with a config can be saved.

>>> from deep_learning_toolkit.optim import CosineDecay, ExponentialDecay
>>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)(25)
0.025
>>> round(CosineDecay(0.1, decay_steps=100)(50), 12)
0.05
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from .._validation import check_float, check_int, describe

SCHEDULES: dict[str, type[LearningRateSchedule]] = {}
"""Schedule classes by class name (built-in and user subclasses), for :func:`deserialize`."""


class LearningRateError(ValueError):
    """A schedule gave a rate that is not a finite number >= 0 (``step`` says where)."""

    def __init__(self, message: str, step: int, value: Any) -> None:
        super().__init__(message)
        self.step = step
        self.value = value


class LearningRateSchedule:
    """Base class of the schedules: ``schedule(step) -> float``, with a config.

    Subclasses implement :meth:`__call__` and :meth:`get_config` (the constructor's
    arguments); they are registered by class name, so that :func:`deserialize` rebuilds a
    saved one as long as its class has been defined (imported).
    """

    registered: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.registered:
            SCHEDULES[cls.__name__] = cls

    def __call__(self, step: int) -> float:
        """The learning rate of step ``step`` (0 for the first step)."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step).")

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, JSON-ready."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement get_config() to be saved with the optimizer."
        )

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """Rebuild a schedule from :meth:`get_config`."""
        return cls(**config)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.get_config() == other.get_config()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({args})"


class FunctionSchedule(LearningRateSchedule):
    """A plain callable ``f(step) -> rate`` used as a schedule (in memory only).

    It has no config, so a model whose optimizer uses one cannot be saved to a file;
    subclass :class:`LearningRateSchedule` with :meth:`~LearningRateSchedule.get_config`
    for that.
    """

    registered = False

    def __init__(self, function: Callable[[int], float]) -> None:
        if not callable(function):
            raise TypeError(f"function must be callable; got {describe(function)}.")
        self.function = function

    def __call__(self, step: int) -> float:
        return self.function(step)

    def get_config(self) -> dict[str, Any]:
        raise TypeError(
            f"The learning-rate schedule {self!r} is a plain callable and cannot be saved; "
            "use a LearningRateSchedule subclass with get_config() instead."
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.function is other.function

    def __repr__(self) -> str:
        name = getattr(self.function, "__qualname__", None) or repr(self.function)
        return f"FunctionSchedule({name})"


def _rate(name: str, value: Any) -> float:
    """A finite rate >= 0 (schedules may reach 0, e.g. a cosine decay's end)."""
    return check_float(name, value, nonnegative=True)


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {describe(value)}.")
    return bool(value)


class StepDecay(LearningRateSchedule):
    """Multiply the rate by ``gamma`` every ``step_size`` steps (as torch's ``StepLR``).

    ``rate(t) = initial_learning_rate * gamma ** (t // step_size)``.

    Parameters
    ----------
    initial_learning_rate : float
        Rate of the first ``step_size`` steps, finite and >= 0.
    step_size : int
        Number of steps between decays, >= 1.
    gamma : float, default 0.1
        Factor applied at each decay, finite and > 0.
    """

    def __init__(self, initial_learning_rate: float, step_size: int, gamma: float = 0.1) -> None:
        self.initial_learning_rate = _rate("initial_learning_rate", initial_learning_rate)
        self.step_size = check_int("step_size", step_size, minimum=1)
        self.gamma = check_float("gamma", gamma, positive=True)

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate * self.gamma ** (int(step) // self.step_size)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "step_size": self.step_size,
            "gamma": self.gamma,
        }


class ExponentialDecay(LearningRateSchedule):
    """Exponential decay, as ``keras.optimizers.schedules.ExponentialDecay``.

    ``rate(t) = initial_learning_rate * decay_rate ** (t / decay_steps)``, with
    ``floor(t / decay_steps)`` in the exponent when ``staircase`` is true.

    Parameters
    ----------
    initial_learning_rate : float
        Rate of the first step, finite and >= 0.
    decay_steps : float
        Steps over which the rate is multiplied by ``decay_rate``, > 0.
    decay_rate : float
        Factor per ``decay_steps`` steps, finite and > 0.
    staircase : bool, default False
        Decay in discrete jumps every ``decay_steps`` steps.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        decay_rate: float,
        staircase: bool = False,
    ) -> None:
        self.initial_learning_rate = _rate("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _number("decay_steps", decay_steps)
        self.decay_rate = check_float("decay_rate", decay_rate, positive=True)
        self.staircase = _bool("staircase", staircase)

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate**p

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


class CosineDecay(LearningRateSchedule):
    """Cosine decay with optional linear warm-up, as Keras 3's ``CosineDecay``.

    Without ``warmup_target`` the rate decays from ``initial_learning_rate`` to
    ``alpha * initial_learning_rate`` over ``decay_steps`` steps and stays there:

    ``rate(t) = initial_learning_rate * ((1 - alpha) * (1 + cos(pi * min(t, D) / D)) / 2 + alpha)``.

    With ``warmup_target``, the rate first rises linearly from ``initial_learning_rate`` to
    ``warmup_target`` over ``warmup_steps`` steps, then decays from ``warmup_target`` as above
    (``t`` counted from the end of the warm-up). With ``warmup_steps`` but no
    ``warmup_target``, the rate rises linearly from 0 to ``initial_learning_rate``, then
    decays from it (the usual warm-up; Keras would skip the warm-up silently).

    Parameters
    ----------
    initial_learning_rate : float
        Rate of step 0, finite and >= 0.
    decay_steps : float
        Length ``D`` of the decay, > 0.
    alpha : float, default 0.0
        Final rate as a fraction of the rate the decay starts from, in [0, 1].
    warmup_target : float, optional
        Rate reached at the end of the warm-up, finite and >= 0.
    warmup_steps : int, default 0
        Length of the warm-up (see above for the case without ``warmup_target``).

    Notes
    -----
    Over ``0 <= t <= decay_steps`` (no warm-up) this is ``torch.optim.lr_scheduler.
    CosineAnnealingLR(T_max=decay_steps, eta_min=alpha * initial_learning_rate)``.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        alpha: float = 0.0,
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        self.initial_learning_rate = _rate("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _number("decay_steps", decay_steps)
        self.alpha = check_float("alpha", alpha, nonnegative=True, maximum=1.0)
        self.warmup_target = (
            None if warmup_target is None else _rate("warmup_target", warmup_target)
        )
        self.warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)

    def _decay(self, step: float, start: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * (step / self.decay_steps)))
        return start * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: int) -> float:
        if self.warmup_target is None:
            if not self.warmup_steps:
                decayed = min(float(step), self.decay_steps)
                return self._decay(decayed, self.initial_learning_rate)
            start, target = 0.0, self.initial_learning_rate  # warm up from 0, then decay
        else:  # Keras: from the initial rate to the target
            start, target = self.initial_learning_rate, self.warmup_target
        t = min(float(step), self.decay_steps + self.warmup_steps)
        if t < self.warmup_steps:
            return (target - start) * (t / self.warmup_steps) + start
        return self._decay(t - self.warmup_steps, target)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """Constant rates between step boundaries, as Keras's ``PiecewiseConstantDecay``.

    The rate is ``values[0]`` while ``t <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < t <= boundaries[i]`` and ``values[-1]`` after the last boundary.

    Parameters
    ----------
    boundaries : sequence of int
        Strictly increasing steps.
    values : sequence of float
        One more rate than boundaries, each finite and >= 0.
    """

    def __init__(self, boundaries: Sequence[int], values: Sequence[float]) -> None:
        if not isinstance(boundaries, Sequence) or isinstance(boundaries, str):
            raise TypeError(f"boundaries must be a list of steps; got {describe(boundaries)}.")
        if not isinstance(values, Sequence) or isinstance(values, str):
            raise TypeError(f"values must be a list of rates; got {describe(values)}.")
        bounds = [check_int(f"boundaries[{i}]", b) for i, b in enumerate(boundaries)]
        rates = [_rate(f"values[{i}]", v) for i, v in enumerate(values)]
        if len(rates) != len(bounds) + 1:
            raise ValueError(
                f"values must have one more entry than boundaries; got {len(rates)} values "
                f"and {len(bounds)} boundaries."
            )
        if any(b >= c for b, c in zip(bounds, bounds[1:])):
            raise ValueError(f"boundaries must be strictly increasing; got {bounds}.")
        self.boundaries, self.values = bounds, rates

    def __call__(self, step: int) -> float:
        return self.values[bisect.bisect_left(self.boundaries, step)]

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": list(self.boundaries), "values": list(self.values)}


def _number(name: str, value: Any) -> float:
    """A finite number > 0 kept as int when it is one (steps)."""
    checked = check_float(name, value, positive=True)
    return int(value) if isinstance(value, numbers.Integral) else checked


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}``: what :func:`deserialize` rebuilds."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"schedule must be a LearningRateSchedule; got {describe(schedule)}.")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(spec: dict[str, Any]) -> LearningRateSchedule:
    """Rebuild a schedule from :func:`serialize` (its class must be defined)."""
    if not isinstance(spec, dict) or set(spec) != {"class_name", "config"}:
        raise ValueError(
            f"a saved schedule must be a dict with the keys 'class_name' and 'config'; "
            f"got {describe(spec)}."
        )
    name = spec["class_name"]
    if name not in SCHEDULES:
        raise ValueError(
            f"Unknown learning-rate schedule {name!r}; known ones are {sorted(SCHEDULES)} "
            "(define or import a custom schedule class before loading)."
        )
    return SCHEDULES[name].from_config(dict(spec["config"]))


def as_schedule(value: Any) -> LearningRateSchedule:
    """A schedule from a schedule, a callable of the step, or a :func:`serialize` dict."""
    if isinstance(value, LearningRateSchedule):
        return value
    if isinstance(value, dict):
        return deserialize(value)
    if callable(value):
        return FunctionSchedule(value)
    raise TypeError(
        f"a learning-rate schedule must be a LearningRateSchedule or a callable of the step; "
        f"got {describe(value)}."
    )


def evaluate(schedule: LearningRateSchedule, step: int) -> float:
    """``schedule(step)`` as a float, checked to be finite and >= 0.

    Raises
    ------
    LearningRateError
        If the schedule fails or returns something else, naming the step.
    """
    value = schedule(step)
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise LearningRateError(
            f"The learning-rate schedule {schedule!r} returned {describe(value)} at optimizer "
            f"step {step}; a learning rate must be a number.",
            step,
            value,
        )
    rate = float(value)
    if not math.isfinite(rate) or rate < 0:
        raise LearningRateError(
            f"The learning-rate schedule {schedule!r} returned {rate} at optimizer step {step}; "
            "a learning rate must be finite and >= 0.",
            step,
            rate,
        )
    return rate
