"""``Sequential``: a network trained with numerically differentiated gradients.

The network (:class:`~deep_learning_toolkit.nn.network.Network`: layers over one flat
float64 or float32 parameter vector) is compiled with a loss, an optimizer and a gradient
method, and trained as in Keras with ``compile`` / ``fit`` / ``evaluate`` / ``predict``. The
gradients come from :func:`~deep_learning_toolkit.gradients.model_gradient`; the epoch loop is
:func:`~deep_learning_toolkit.training.loop.train`; saving is ``serialization`` + ``archive``.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .archive import write_model_file
from .distributed import gradient_backend
from .gradients import (
    DEFAULT_MEMORY_BUDGET,
    GradientResult,
    method_name,
    model_gradient,
    resolve_method,
)
from .nn.layer import Layer, Shape
from .nn.losses import Loss
from .nn.network import Network
from .numdiff.stencils import get_method
from .numdiff.zeroth_order import ZerothOrder
from .optim import Optimizer
from .serialization import model_payload
from .training.callbacks import Callback
from .training.history import History
from .training.loop import (
    Loop,
    check_fit_arguments,
    run_params,
    split_validation,
    train,
)
from .training.metrics import metric_scores
from .training.settings import compile_settings
from .training.step import OptimizerStep, batch_steps


class Sequential(Network):
    """A feed-forward network: layers applied one after the other.

    Parameters
    ----------
    layers : sequence of Layer
        Built-in layers (e.g. :class:`~deep_learning_toolkit.Dense`) or your own subclasses
        of :class:`~deep_learning_toolkit.Layer`; each one's input must fit the previous
        one's output. The last layer outputs logits for the classification losses.
    seed : int, default 0
        Seeds the weight initialisation and the mini-batch order of ``fit``.
    input_shape : tuple, optional
        Shape of one input sample, when the first layer does not declare it.
    dtype : {"float64", "float32"}, default "float64"
        Of the parameters, forward passes and optimizer state (see ``Network``).

    Examples
    --------
    >>> import deep_learning_toolkit as dlt
    >>> model = dlt.Sequential([dlt.Dense(4, 16, activation="tanh"), dlt.Dense(16, 3)], seed=0)
    >>> model.num_parameters
    131
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        seed: int = 0,
        input_shape: Shape | None = None,
        dtype: Any = "float64",
    ) -> None:
        super().__init__(layers, seed, input_shape, dtype)
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self.stencil: Any = get_method("three_point_midpoint")
        self.step: object = None
        self.step_pilot: Any = None  # the pilot steps fit goes on with (saved; gradients.steps)
        self.metrics: list[str] = []
        self.gradient_engine = "batched"
        self.memory_budget = DEFAULT_MEMORY_BUDGET
        self.backend = "local"
        self._batched_gradient = gradient_backend("local")
        self.stop_training = False
        self.history: History | None = None
        #: Epochs finished by ``fit`` (saved with the model; resume at this ``initial_epoch``).
        self.epochs_completed = 0
        #: Batches finished in epoch ``epochs_completed`` when a run was interrupted.
        self.batches_completed = 0
        #: The gradient of the last training step (None for an in-place zeroth-order step).
        self.last_gradient: np.ndarray | None = None

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if self.optimizer is not None:
            self.optimizer._owner = weakref.ref(self)

    def predict(self, X: object) -> np.ndarray:
        """Class probabilities for classification losses, values for regression ones."""
        X = self.check_input(X)
        outputs = self.forward(X)
        return self.loss.transform(outputs) if self.loss is not None else outputs

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        loss: str | Loss = "cross_entropy",
        optimizer: str | Optimizer = "adam",
        method: Any = "three_point_midpoint",
        step: object = None,
        metrics: Sequence[str] | None = None,
        gradient_engine: str = "batched",
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        backend: str = "local",
    ) -> None:
        """Choose the loss, the optimizer and the gradient method.

        Every argument is checked before anything is stored: a refused call leaves the model
        as it was.

        Parameters
        ----------
        loss : str or Loss
            ``"cross_entropy"`` (softmax on logits), ``"binary_cross_entropy"`` (on logits),
            ``"mse"``, ``"mae"`` or a :class:`~deep_learning_toolkit.nn.losses.Loss`.
        optimizer : str or Optimizer
            ``"sgd"``, ``"adam"``, ``"rmsprop"`` (defaults) or an instance.
        method : str, Stencil or ZerothOrder
            A name from :data:`~deep_learning_toolkit.numdiff.METHODS` (or ``"central"``),
            ``"complex_step"``, any stencil (e.g. from ``numdiff.make_stencil`` or
            ``numdiff.richardson_stencil``), or a zeroth-order estimator: ``"spsa"``,
            ``"gaussian"``, ``"spsa:n_directions=4,scale=1e-3"`` or a ``ZerothOrder``. With
            plain SGD (no momentum, no weight decay) those update the parameters MeZO-style,
            without forming a gradient vector.
        step : None, "classic", float or array-like
            ``None``: from a pilot on the network (``gradients.steps``); ``"classic"``: old rule.
        metrics : list of str, optional
            Names from :data:`~deep_learning_toolkit.training.metrics.METRICS`.
        gradient_engine : {"batched", "reference"}
            The batched engine (default) or the plain per-parameter loop.
        memory_budget : int
            Bytes the batched engine may use for its work arrays.
        backend : {"local", "ray"}
            Where the batched engine's chunks are evaluated: in this process, or by Ray
            actors (the same gradient to <= 1e-12 relative). ``"ray"`` needs
            ``gradient_engine="batched"``.
        """
        settings = compile_settings(
            self, loss, optimizer, method, step, metrics, gradient_engine, memory_budget, backend
        )
        for name in ("loss", "optimizer", "stencil", "step", "metrics", "gradient_engine"):
            setattr(self, name, getattr(settings, name))
        settings.optimizer._owner = weakref.ref(self)
        self.memory_budget, self.backend = settings.memory_budget, settings.backend
        self._batched_gradient = settings.batched

    @property
    def method_name(self) -> str:
        """Name of the compiled gradient method, e.g. ``"five_point_midpoint"``, ``"spsa"``."""
        return method_name(self.stencil)

    def _require_compiled(self) -> Loss:
        if self.loss is None:
            raise RuntimeError("The model is not compiled; call model.compile(...) first.")
        return self.loss

    def _compiled_optimizer(self) -> Optimizer:
        if self.optimizer is None:
            raise RuntimeError("The model is not compiled; call model.compile(...) first.")
        return self.optimizer

    def _prepare(
        self, X: object, y: object, names: tuple[str, str] = ("X", "y")
    ) -> tuple[np.ndarray, np.ndarray]:
        """Checked inputs and targets (as the loss wants them)."""
        return self.check_batch(self._require_compiled(), X, y, names)

    # ------------------------------------------------------------------ gradients
    def compute_gradient(
        self,
        X: np.ndarray,
        targets: np.ndarray,
        method: Any,
        steps: np.ndarray | None,
        seed: int = 0,
        full_gradient: bool = True,
        **options: Any,
    ) -> GradientResult:
        """:func:`~deep_learning_toolkit.gradients.model_gradient` with the compiled settings."""
        settings: dict[str, Any] = {"engine": self.gradient_engine}
        settings.update(memory_budget=self.memory_budget)
        settings.update(batched=self._batched_gradient, seed=seed, full_gradient=full_gradient)
        return model_gradient(self, X, targets, self.loss, method, steps, **settings, **options)

    def gradient_details(
        self, X: object, y: object, method: Any = None, step: object = None
    ) -> GradientResult:
        """Like :meth:`loss_and_gradient`, also returning the outputs and evaluation count."""
        X, targets = self._prepare(X, y)
        self.set_step(self.seed)  # the same random draws (dropout) on every call
        stencil = self.stencil if method is None else resolve_method(method)
        if isinstance(stencil, ZerothOrder):  # a read-only call: the snap is undone too
            before = self.params.copy()
            try:
                return self.compute_gradient(X, targets, stencil, None, self.seed)
            finally:
                self.params[...] = before
        steps = batch_steps(self, X, targets, stencil, self.step if step is None else step)
        result = self.compute_gradient(X, targets, stencil, steps)
        if not np.isfinite(result.loss):
            layer = self.non_finite_layer(X, training=True)
            where = f": {layer} returned non-finite values" if layer else ""
            raise FloatingPointError(f"The loss on (X, y) is {result.loss}{where}.")
        return result

    def loss_and_gradient(
        self, X: object, y: object, method: Any = None, step: object = None
    ) -> tuple[float, np.ndarray]:
        """Loss on ``(X, y)`` and its gradient (flat, like ``get_params``); ``method`` and
        ``step`` default to those given to :meth:`compile`."""
        result = self.gradient_details(X, y, method, step)
        if result.gradient is None:  # only an in-place (update=...) call skips the gradient
            raise RuntimeError("The gradient method returned no gradient vector.")
        return result.loss, result.gradient

    # ------------------------------------------------------------------ evaluation
    def _metrics(self, outputs: np.ndarray, targets: np.ndarray, prefix: str = "") -> dict:
        return metric_scores(self.loss, self.metrics, outputs, targets, prefix)

    def _scores(self, outputs: np.ndarray, targets: np.ndarray, prefix: str = "") -> dict:
        scores = {prefix + "loss": float(self._require_compiled().batched(outputs, targets))}
        scores.update(self._metrics(outputs, targets, prefix))
        return scores

    def evaluate(self, X: object, y: object) -> dict[str, float]:
        """Loss and compiled metrics on ``(X, y)``: ``{"loss": ..., "accuracy": ...}``."""
        X, targets = self._prepare(X, y)
        return self._scores(self.forward(X), targets)

    # ------------------------------------------------------------------ training
    def fit(
        self,
        X: object,
        y: object,
        *,
        batch_size: int | None = 32,
        epochs: int = 1,
        verbose: int = 0,
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple[object, object] | None = None,
        shuffle: bool = True,
        initial_epoch: int = 0,
        seed: int | None = None,
        on_non_finite: str = "raise",
    ) -> History:
        """Train with mini-batch steps of the compiled optimizer (Keras's ``fit``).

        Arguments after ``y`` are keyword-only (Keras takes ``batch_size`` third). ``epochs``
        is the last epoch's index + 1 (with ``initial_epoch=k`` a run resumes at epoch ``k``);
        ``batch_size=None``: the whole set; the batches of an epoch depend only on ``seed``
        (default: the model's) and the epoch; ``verbose``: 1 progress, 2 a line per epoch;
        ``validation_split=f`` holds out the last ``f`` of the samples (before shuffling);
        ``on_non_finite``: ``"raise"`` a ``FloatingPointError`` naming epoch, batch and
        parameters (keeping the last finite parameters) or ``"skip"`` the batch.

        Zeroth-order methods compiled without metrics log as ``loss`` the mean of each step's
        perturbed losses (within ``O(scale**2)``), sparing the unperturbed forward pass.

        Returns this call's History (``model.history`` grows across resumed runs). After a
        Ctrl-C the current batch finishes, callbacks end and ``KeyboardInterrupt`` is raised.
        """
        loss, optimizer = self._require_compiled(), self._compiled_optimizer()
        X, targets = self._prepare(X, y)
        if validation_split:
            X, targets, validation_data = split_validation(
                X, targets, validation_split, validation_data
            )
        seed = self.seed if seed is None else seed
        fit_args = (epochs, batch_size, validation_data, shuffle, verbose, initial_epoch)
        args = check_fit_arguments(len(X), *fit_args, seed, on_non_finite)
        validation = None
        if validation_data is not None:
            validation = self._prepare(*validation_data, names=("X_val", "y_val"))
        loop = Loop(
            step=OptimizerStep(self, X, targets, args.seed, args.on_non_finite),
            targets=targets,
            args=args,
            scores=self._metrics,
            lr=lambda: self._compiled_optimizer().lr,
            validate=None
            if validation is None
            else lambda: self._scores(self.forward(validation[0]), validation[1], "val_"),
        )
        sizes = (len(X), self.num_parameters)
        params = run_params(self.method_name, loss.name, args, *sizes, optimizer.hyperparameters())
        return train(self, loop, self.method_name, params, callbacks)

    # ------------------------------------------------------------------ saving
    def save(self, path: str | os.PathLike) -> Path:
        """Save to one file, atomically (see :mod:`deep_learning_toolkit.archive`).

        The file holds the architecture, parameters, layer state, compile settings,
        optimizer state, ``epochs_completed`` and ``history``; ``dlt.load_model(path)``
        rebuilds a model that continues training bit for bit.
        """
        return write_model_file(path, *model_payload(self))
