"""``NumDiffClassifier`` and ``NumDiffRegressor``: networks as scikit-learn estimators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets

from .base import InvalidParameterError, NumDiffEstimatorMixin

#: Checks of ``sklearn.utils.estimator_checks`` the estimators do not pass, with the reason
#: (for ``check_estimator(..., expected_failed_checks=...)``); see the class docstrings.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "NumDiffClassifier": {},
    "NumDiffRegressor": {},
}


class NumDiffClassifier(ClassifierMixin, NumDiffEstimatorMixin):
    """A feed-forward network classifier trained with numerically differentiated gradients.

    The network is ``Dense`` hidden layers and a linear output layer with one logit per
    class, trained on the softmax cross-entropy; ``predict_proba`` is the softmax of the
    logits. Class labels may be any sortable values (``classes_``).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (16,)
        Widths of the hidden layers (an int for one layer; ``()`` for none).
    activation : str, default "tanh"
        Activation of the hidden layers: ``linear``, ``sigmoid``, ``tanh``, ``relu``,
        ``leaky_relu`` or ``softmax``.
    method : str or object, default "three_point_midpoint"
        How the gradient is computed, as in ``Sequential.compile``: one of
        ``deep_learning_toolkit.numdiff.METHODS`` (or ``"central"``), ``"complex_step"``, a
        stencil, or a zeroth-order estimator such as ``"spsa"``.
    step : None, float or array-like, default None
        Finite-difference step; ``None`` for the method's default.
    optimizer : {"adam", "sgd", "rmsprop"}, default "adam"
        Update rule (``deep_learning_toolkit.optim``).
    learning_rate : float or LearningRateSchedule, default 0.01
        The optimizer's ``lr``: a constant > 0 or a schedule of the optimizer step, e.g.
        ``deep_learning_toolkit.optim.CosineDecay(0.05, decay_steps=500)``.
    optimizer_params : dict, optional
        Other arguments of the optimizer, e.g. ``{"momentum": 0.9}`` for SGD.
    epochs : int, default 200
        Passes over the training data.
    batch_size : int or None, default 32
        Samples per step (at most the number of samples); ``None`` for the whole set.
    shuffle : bool, default True
        Shuffle the samples every epoch.
    random_state : int, RandomState or None, default None
        Seeds the weights and the batch order; an int makes ``fit`` reproducible.
    verbose : int, default 0
        ``1`` shows a progress bar over epochs (on stderr).

    Attributes
    ----------
    classes_ : ndarray
        The class labels, sorted.
    model_ : deep_learning_toolkit.Sequential
        The trained network.
    history_ : deep_learning_toolkit.History
        Per-epoch logs of the training (``history_.history["loss"]``, ...).
    n_iter_ : int
        Epochs run.
    loss_ : float
        Mean training loss of the last epoch.
    loss_curve_ : list of float
        Mean training loss of every epoch.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Names of those features, when ``X`` had string column names (a DataFrame).

    Notes
    -----
    Passes scikit-learn's ``check_estimator``. Checks it is expected to fail (listed in
    ``EXPECTED_FAILED_CHECKS["NumDiffClassifier"]``): none.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from deep_learning_toolkit.sklearn import NumDiffClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NumDiffClassifier(epochs=20, learning_rate=0.05, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    def __init__(
        self,
        hidden_layer_sizes: Any = (16,),
        activation: str = "tanh",
        method: Any = "three_point_midpoint",
        step: Any = None,
        optimizer: str = "adam",
        learning_rate: float | Callable = 0.01,
        optimizer_params: dict | None = None,
        epochs: int = 200,
        batch_size: int | None = 32,
        shuffle: bool = True,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.method = method
        self.step = step
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.optimizer_params = optimizer_params
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose

    _y_checks = {"y_numeric": False, "multi_output": False}

    def _loss_name(self) -> str:
        return "cross_entropy"

    def _targets(self, y: np.ndarray) -> tuple[np.ndarray, int, dict[str, Any]]:
        check_classification_targets(y)
        classes, encoded = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y; got 1 class: "
                f"{classes[0]!r}."
            )
        return encoded, len(classes), {"classes_": classes}

    def fit(self, X: Any, y: Any) -> NumDiffClassifier:
        """Train a new network on ``X`` (n_samples, n_features) and labels ``y``.

        Returns
        -------
        self
        """
        return self._fit(X, y)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        return self._network_output(X)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of every sample."""
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]


class NumDiffRegressor(RegressorMixin, NumDiffEstimatorMixin):
    """A feed-forward network regressor trained with numerically differentiated gradients.

    The network is ``Dense`` hidden layers and a linear output layer, one unit per target;
    ``y`` may be 1-D or 2-D (several targets). Targets are not rescaled: scale them (e.g.
    with ``sklearn.compose.TransformedTargetRegressor``) when they are far from unit size.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (16,)
        Widths of the hidden layers (an int for one layer; ``()`` for none).
    activation : str, default "tanh"
        Activation of the hidden layers: ``linear``, ``sigmoid``, ``tanh``, ``relu``,
        ``leaky_relu`` or ``softmax``.
    method : str or object, default "three_point_midpoint"
        How the gradient is computed, as in ``Sequential.compile``: one of
        ``deep_learning_toolkit.numdiff.METHODS`` (or ``"central"``), ``"complex_step"``, a
        stencil, or a zeroth-order estimator such as ``"spsa"``.
    step : None, float or array-like, default None
        Finite-difference step; ``None`` for the method's default.
    optimizer : {"adam", "sgd", "rmsprop"}, default "adam"
        Update rule (``deep_learning_toolkit.optim``).
    learning_rate : float or LearningRateSchedule, default 0.01
        The optimizer's ``lr``: a constant > 0 or a schedule of the optimizer step, e.g.
        ``deep_learning_toolkit.optim.CosineDecay(0.05, decay_steps=500)``.
    optimizer_params : dict, optional
        Other arguments of the optimizer, e.g. ``{"momentum": 0.9}`` for SGD.
    epochs : int, default 200
        Passes over the training data.
    batch_size : int or None, default 32
        Samples per step (at most the number of samples); ``None`` for the whole set.
    shuffle : bool, default True
        Shuffle the samples every epoch.
    random_state : int, RandomState or None, default None
        Seeds the weights and the batch order; an int makes ``fit`` reproducible.
    verbose : int, default 0
        ``1`` shows a progress bar over epochs (on stderr).

    loss : {"mse", "mae"}, default "mse"
        Training loss: mean squared or mean absolute error.

    Attributes
    ----------
    n_outputs_ : int
        Number of targets.
    model_ : deep_learning_toolkit.Sequential
        The trained network.
    history_ : deep_learning_toolkit.History
        Per-epoch logs of the training (``history_.history["loss"]``, ...).
    n_iter_ : int
        Epochs run.
    loss_ : float
        Mean training loss of the last epoch.
    loss_curve_ : list of float
        Mean training loss of every epoch.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Names of those features, when ``X`` had string column names (a DataFrame).

    Notes
    -----
    Passes scikit-learn's ``check_estimator``. Checks it is expected to fail (listed in
    ``EXPECTED_FAILED_CHECKS["NumDiffRegressor"]``): none.
    """

    def __init__(
        self,
        hidden_layer_sizes: Any = (16,),
        activation: str = "tanh",
        method: Any = "three_point_midpoint",
        step: Any = None,
        optimizer: str = "adam",
        learning_rate: float | Callable = 0.01,
        optimizer_params: dict | None = None,
        epochs: int = 200,
        batch_size: int | None = 32,
        shuffle: bool = True,
        random_state: Any = None,
        verbose: int = 0,
        loss: str = "mse",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.method = method
        self.step = step
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.optimizer_params = optimizer_params
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.loss = loss

    _y_checks = {"y_numeric": True, "multi_output": True}

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _loss_name(self) -> str:
        if not isinstance(self.loss, str) or self.loss not in ("mse", "mae"):
            raise InvalidParameterError(
                f"The 'loss' parameter of {type(self).__name__} must be a str among "
                f"{{'mae', 'mse'}}. Got {self.loss!r} instead."
            )
        return self.loss

    def _targets(self, y: np.ndarray) -> tuple[np.ndarray, int, dict[str, Any]]:
        targets = y.reshape(len(y), -1)
        return targets, targets.shape[1], {"n_outputs_": targets.shape[1]}

    def fit(self, X: Any, y: Any) -> NumDiffRegressor:
        """Train a new network on ``X`` (n_samples, n_features) and targets ``y``.

        Returns
        -------
        self
        """
        return self._fit(X, y)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets: shape (n_samples,) for one target, else (n_samples, n_outputs)."""
        values = self._network_output(X)
        return values.ravel() if values.shape[1] == 1 else values
