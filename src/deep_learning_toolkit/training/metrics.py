"""Metrics computed from predictions (probabilities or values) and prepared targets.

A metric is a plain function ``metric(predictions, targets, task) -> float``; the table
``METRICS`` maps the names accepted by ``compile(metrics=[...])`` to them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._validation import check_choice


def accuracy(predictions: np.ndarray, targets: np.ndarray, task: str) -> float:
    """Fraction of correct predictions.

    For ``classification`` the predicted class is the arg-max of the probabilities and the
    targets are class ids; for ``binary`` each output is thresholded at 0.5.
    """
    if task == "classification":
        return float(np.mean(np.argmax(predictions, axis=-1) == targets))
    if task == "binary":
        return float(np.mean((predictions > 0.5) == (targets > 0.5)))
    raise ValueError(f"accuracy needs a classification loss; the loss's task is {task!r}.")


def mean_squared_error(predictions: np.ndarray, targets: np.ndarray, task: str) -> float:
    """Mean of squared differences over samples and outputs."""
    return float(np.mean((predictions - targets.reshape(predictions.shape)) ** 2))


def mean_absolute_error(predictions: np.ndarray, targets: np.ndarray, task: str) -> float:
    """Mean of absolute differences over samples and outputs."""
    return float(np.mean(np.abs(predictions - targets.reshape(predictions.shape))))


def r2_score(predictions: np.ndarray, targets: np.ndarray, task: str) -> float:
    """Coefficient of determination, averaged uniformly over outputs (as scikit-learn)."""
    targets = targets.reshape(predictions.shape)
    residual = ((targets - predictions) ** 2).sum(axis=0)
    total = ((targets - targets.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0), 0.0)
    return float(np.mean(scores))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray, str], float]] = {
    "accuracy": accuracy,
    "mse": mean_squared_error,
    "mae": mean_absolute_error,
    "r2": r2_score,
}


def get_metric(name: str) -> Callable[[np.ndarray, np.ndarray, str], float]:
    """Return the metric function called ``name``."""
    return METRICS[check_choice("metric", name, METRICS)]


def metric_name(metric: str | Callable[..., Any]) -> str:
    """The log key of a metric: its name, or a function's ``__name__``."""
    if isinstance(metric, str):
        return metric
    return getattr(metric, "__name__", type(metric).__name__)


def check_metric(metric: object) -> str | Callable[..., Any]:
    """A metric name from :data:`METRICS`, or a function ``f(y_true, y_pred) -> float``."""
    if isinstance(metric, str):
        get_metric(metric)
        return metric
    if callable(metric) and not isinstance(metric, type):
        return metric
    raise TypeError(
        f"a metric must be a name in {list(METRICS)} or a function f(y_true, y_pred); got "
        f"{metric!r}."
    )


def metric_scores(
    loss: Any,
    metrics: Sequence[str | Callable[..., Any]],
    outputs: np.ndarray,
    targets: np.ndarray,
    prefix: str = "",
) -> dict[str, float]:
    """``{prefix + name: value}`` of each metric of the network ``outputs``.

    Named metrics see the predictions (``loss.transform(outputs)``: probabilities for the
    classification losses); a function metric is called as ``f(y_true, y_pred)`` with the
    targets and those predictions, as in Keras.
    """
    predictions = loss.transform(outputs)
    scores = {}
    for metric in metrics:
        if isinstance(metric, str):
            value = get_metric(metric)(predictions, targets, loss.task)
        else:
            value = metric(targets, predictions)
        scores[prefix + metric_name(metric)] = float(value)
    return scores
