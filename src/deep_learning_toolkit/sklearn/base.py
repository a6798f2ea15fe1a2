"""What the two estimators share: hyperparameter checks, the network, fitting.

Built on the public API only: :class:`~deep_learning_toolkit.Sequential`,
:class:`~deep_learning_toolkit.Dense`, ``compile`` / ``fit`` / ``predict`` and the
optimizers of :mod:`deep_learning_toolkit.optim`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .. import optim
from ..model import Sequential
from ..nn import ACTIVATIONS, Dense

try:
    from sklearn.base import BaseEstimator
    from sklearn.utils import check_random_state
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "deep_learning_toolkit.sklearn needs scikit-learn >= 1.6: pip install 'scikit-learn>=1.6' "
        f"({error})."
    ) from error

#: Largest seed drawn from ``random_state`` for the network (weights and batch order).
MAX_SEED = np.iinfo(np.int32).max


class InvalidParameterError(ValueError, TypeError):
    """A hyperparameter has a bad type or value (scikit-learn's exception of that name).

    Both a ``ValueError`` and a ``TypeError``, so either ``except`` catches it.
    """


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _sentence(error: Exception) -> str:
    text = str(error).strip()
    return text if text.endswith(".") else text + "."


def _invalid(estimator: Any, name: str, expected: str) -> InvalidParameterError:
    value = getattr(estimator, name)
    return InvalidParameterError(
        f"The {name!r} parameter of {type(estimator).__name__} must be {expected}. "
        f"Got {value!r} instead."
    )


def _int_at_least(estimator: Any, name: str, minimum: int, allow_none: bool = False) -> Any:
    value = getattr(estimator, name)
    if allow_none and value is None:
        return None
    if not _is_int(value) or value < minimum:
        none = " or None" if allow_none else ""
        raise _invalid(estimator, name, f"an int in the range [{minimum}, inf){none}")
    return int(value)


def _choice(estimator: Any, name: str, options: list[str]) -> str:
    value = getattr(estimator, name)
    if not isinstance(value, str) or value not in options:
        raise _invalid(estimator, name, "a str among {" + ", ".join(map(repr, options)) + "}")
    return value


def _hidden_sizes(estimator: Any) -> tuple[int, ...]:
    value = estimator.hidden_layer_sizes
    sizes = (value,) if _is_int(value) else value
    if (
        isinstance(sizes, (str, bytes, Mapping))
        or not hasattr(sizes, "__iter__")
        or not all(_is_int(n) and n >= 1 for n in sizes)
    ):
        raise _invalid(estimator, "hidden_layer_sizes", "a tuple of ints >= 1 (or one int)")
    return tuple(int(n) for n in sizes)


def _learning_rate(estimator: Any) -> float | Callable:
    value = estimator.learning_rate
    if _is_real(value) and np.isfinite(value) and value > 0:
        return float(value)
    if isinstance(value, optim.LearningRateSchedule) or (
        callable(value) and not isinstance(value, type)
    ):
        return value
    raise _invalid(
        estimator, "learning_rate", "a float in the range (0, inf) or a LearningRateSchedule"
    )


def _random_seed(estimator: Any) -> int:
    try:
        return int(check_random_state(estimator.random_state).randint(MAX_SEED))
    except ValueError:
        raise _invalid(
            estimator, "random_state", "an int, a numpy RandomState instance or None"
        ) from None


def check_hyperparameters(estimator: Any) -> dict[str, Any]:
    """The validated settings of ``estimator`` (nothing is stored on it)."""
    if not isinstance(estimator.shuffle, (bool, np.bool_)):
        raise _invalid(estimator, "shuffle", "an instance of 'bool'")
    params = estimator.optimizer_params
    if params is not None and not isinstance(params, Mapping):
        raise _invalid(estimator, "optimizer_params", "a dict or None")
    return {
        "hidden_layer_sizes": _hidden_sizes(estimator),
        "activation": _choice(estimator, "activation", sorted(ACTIVATIONS)),
        "optimizer": _choice(estimator, "optimizer", sorted(optim.OPTIMIZERS)),
        "optimizer_params": dict(params or {}),
        "learning_rate": _learning_rate(estimator),
        "epochs": _int_at_least(estimator, "epochs", 1),
        "batch_size": _int_at_least(estimator, "batch_size", 1, allow_none=True),
        "verbose": _int_at_least(estimator, "verbose", 0),
        "seed": _random_seed(estimator),
    }


def build_model(
    estimator: Any, settings: dict[str, Any], n_inputs: int, n_outputs: int, loss: str
) -> Sequential:
    """A compiled ``Sequential``: the hidden layers, then a linear output layer."""
    widths = [n_inputs, *settings["hidden_layer_sizes"]]
    layers = [
        Dense(n_in, n_out, activation=settings["activation"])
        for n_in, n_out in zip(widths[:-1], widths[1:])
    ]
    layers.append(Dense(widths[-1], n_outputs))
    model = Sequential(layers, seed=settings["seed"])
    name = type(estimator).__name__
    try:
        optimizer = optim.OPTIMIZERS[settings["optimizer"]](
            lr=settings["learning_rate"], **settings["optimizer_params"]
        )
    except (TypeError, ValueError) as error:
        raise InvalidParameterError(
            f"The 'optimizer_params' parameter of {name} does not suit optimizer="
            f"{settings['optimizer']!r}: {_sentence(error)} Got {estimator.optimizer_params!r}."
        ) from None
    try:
        model.compile(loss=loss, optimizer=optimizer, method=estimator.method, step=estimator.step)
    except (TypeError, ValueError) as error:
        raise InvalidParameterError(
            f"The 'method' and 'step' parameters of {name} are invalid: {_sentence(error)} "
            f"Got method={estimator.method!r}, step={estimator.step!r}."
        ) from None
    return model


class NumDiffEstimatorMixin(BaseEstimator):
    """Fitting and prediction shared by ``NumDiffClassifier`` and ``NumDiffRegressor``.

    Subclasses implement ``_targets(y)`` -> ``(targets, n_outputs, fitted attributes)`` and
    set ``_loss_name()``, ``_y_checks`` (keyword arguments of ``validate_data`` for ``y``).
    """

    _y_checks: dict[str, Any] = {}

    def _targets(self, y: np.ndarray) -> tuple[np.ndarray, int, dict[str, Any]]:
        raise NotImplementedError

    def _loss_name(self) -> str:
        raise NotImplementedError

    def _fit(self, X: Any, y: Any) -> NumDiffEstimatorMixin:
        """Validate everything, train a new network, then set the fitted attributes.

        A call that fails (bad hyperparameters, bad data, training that diverges) leaves
        the estimator as it was, including a previous fit.
        """
        settings = check_hyperparameters(self)
        loss = self._loss_name()
        kept = {key: self.__dict__[key] for key in _VALIDATED if key in self.__dict__}
        try:
            X, y = validate_data(self, X, y, dtype=np.float64, **self._y_checks)
            targets, n_outputs, fitted = self._targets(y)
            model = build_model(self, settings, X.shape[1], n_outputs, loss)
            batch_size = settings["batch_size"]
            history = model.fit(
                X,
                targets,
                epochs=settings["epochs"],
                batch_size=None if batch_size is None else min(batch_size, len(X)),
                shuffle=bool(self.shuffle),
                verbose=settings["verbose"],
            )
        except BaseException:
            for key in _VALIDATED:
                self.__dict__.pop(key, None)
            self.__dict__.update(kept)
            raise
        self.__dict__.update(fitted)
        self.model_ = model
        self.history_ = history
        self.n_iter_ = len(history.epoch)
        self.loss_curve_ = list(history.history["loss"])
        self.loss_ = self.loss_curve_[-1]
        return self

    def _network_output(self, X: Any) -> np.ndarray:
        """``model_.predict`` on validated ``X`` (probabilities or values)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.model_.predict(X)


#: Attributes that ``validate_data`` sets when fitting.
_VALIDATED = ("n_features_in_", "feature_names_in_")


__all__ = [
    "InvalidParameterError",
    "NumDiffEstimatorMixin",
    "build_model",
    "check_hyperparameters",
    "validate_data",
]
