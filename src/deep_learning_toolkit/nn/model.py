"""``Sequential``: a stack of layers trained with numerically differentiated gradients.

The model owns one flat float64 parameter vector; its layers hold views into it. Training
follows Keras's ``compile`` / ``fit`` / ``evaluate`` / ``predict``; the gradient of every
mini-batch comes from a finite-difference formula (:mod:`deep_learning_toolkit.numdiff`),
computed by the batched engine when it knows the layers, else by the plain per-parameter
definition.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import (
    check_array,
    check_choice,
    check_int,
    check_same_length,
    describe,
)
from ..data.batching import minibatch_indices
from ..numdiff import engine
from ..numdiff.complex_step import check_loss, complex_step_gradient
from ..numdiff.gradient import gradient_details
from ..numdiff.stencils import ComplexStep, Stencil, get_method
from ..numdiff.steps import resolve_steps
from ..numdiff.zeroth_order import (
    ZerothOrder,
    get_zeroth_order,
    is_zeroth_order,
    sequential_zeroth_order,
    sgd_update,
    step_seed,
)
from ..optim import SGD, Optimizer, get_optimizer
from ..training.callbacks import Callback, CallbackList, ProgressBar
from ..training.history import History
from ..training.metrics import get_metric
from .layers import Dense
from .losses import Loss, get_loss

#: Ways to compute gradients: the batched engine, or the plain per-parameter loop.
GRADIENT_ENGINES = ("batched", "reference")
#: What ``fit`` does with a batch whose loss or gradient is NaN or infinite.
NON_FINITE_ACTIONS = ("raise", "skip")


class _InterruptFlag:
    """Turns the first Ctrl-C (SIGINT) during ``fit`` into a request to stop after the batch.

    Installed only in the main thread (where Python delivers signals) and only over a
    callable handler (an ignored SIGINT stays ignored); a second Ctrl-C calls the previous
    handler, which by default raises ``KeyboardInterrupt`` at once.
    """

    def __init__(self) -> None:
        self.requested = False
        self.where: tuple[int, int] | None = None  # (epoch, batches done in it)
        self._previous: Any = None

    def __enter__(self) -> _InterruptFlag:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):
                self._previous = previous
                signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            self._previous(signum, frame)
        self.requested = True

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class Sequential:
    """A feed-forward network: layers applied one after the other.

    Parameters
    ----------
    layers : sequence of Dense
        The layers; each one's ``in_features`` must equal the previous ``out_features``.
        The last layer outputs logits for the classification losses.
    seed : int, default 0
        Seeds the weight initialisation and the mini-batch order of ``fit``.

    Examples
    --------
    >>> import deep_learning_toolkit as dlt
    >>> model = dlt.Sequential([dlt.Dense(4, 16, activation="tanh"), dlt.Dense(16, 3)], seed=0)
    >>> model.num_parameters
    131
    """

    def __init__(self, layers: Sequence[Dense], seed: int = 0) -> None:
        if isinstance(layers, Dense) or not isinstance(layers, Iterable):
            raise TypeError(f"layers must be a list of layers; got {describe(layers)}.")
        self.layers: list[Dense] = list(layers)
        if not self.layers:
            raise ValueError("layers is empty; a Sequential model needs at least one layer.")
        for index, layer in enumerate(self.layers):
            if not isinstance(layer, Dense):
                raise TypeError(f"layers[{index}] must be a Dense layer; got {describe(layer)}.")
            if index and layer.in_features != self.layers[index - 1].out_features:
                raise ValueError(
                    f"layers[{index}] expects {layer.in_features} inputs but layers[{index - 1}] "
                    f"outputs {self.layers[index - 1].out_features}."
                )
        self.seed = check_int("seed", seed, minimum=0)
        self.params = np.zeros(sum(layer.num_parameters for layer in self.layers))
        self._bind(self.params)
        rng = np.random.default_rng(self.seed)
        for layer in self.layers:
            layer.initialize(rng)
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self.stencil: Stencil | ComplexStep = get_method("three_point_midpoint")
        self.step: object = None
        self.metrics: list[str] = []
        self.gradient_engine = "batched"
        self.memory_budget = engine.DEFAULT_MEMORY_BUDGET
        self.backend = "local"
        self._batched_gradient = engine.sequential_gradient
        self.stop_training = False
        self.history: History | None = None
        #: Epochs finished by ``fit`` (saved with the model; resume at this ``initial_epoch``).
        self.epochs_completed = 0
        self._interrupt = _InterruptFlag()
        self._on_non_finite = "raise"

    # ------------------------------------------------------------------ parameters
    @property
    def num_parameters(self) -> int:
        """Total number of weights and biases."""
        return int(self.params.size)

    @property
    def n_inputs(self) -> int:
        """Width of the input."""
        return self.layers[0].in_features

    @property
    def n_outputs(self) -> int:
        """Width of the output."""
        return self.layers[-1].out_features

    def get_params(self) -> np.ndarray:
        """A copy of the flat parameter vector (layer by layer: ``W`` in C order, then ``b``)."""
        return self.params.copy()

    def set_params(self, values: object) -> None:
        """Overwrite all parameters from a flat vector of length ``num_parameters``."""
        values = check_array("params", values, ndim=1)
        if values.size != self.params.size:
            raise ValueError(
                f"params must have {self.params.size} entries (num_parameters); got {values.size}."
            )
        self.params[...] = values

    def parameter_name(self, index: int) -> str:
        """Where flat parameter ``index`` lives, e.g. ``"layers[0].W[2, 5]"``."""
        start = 0
        for number, layer in enumerate(self.layers):
            if index < start + layer.num_parameters:
                row, col = divmod(index - start, layer.out_features)
                if row == layer.in_features:
                    return f"layers[{number}].b[{col}]"
                return f"layers[{number}].W[{row}, {col}]"
            start += layer.num_parameters
        raise IndexError(f"parameter index {index} is out of range [0, {self.num_parameters}).")

    # ------------------------------------------------------------------ forward
    def _check_X(self, X: object, name: str = "X") -> np.ndarray:
        X = check_array(name, X, ndim=2)
        if X.shape[1] != self.n_inputs:
            raise ValueError(
                f"{name} has {X.shape[1]} features, but the model's first layer expects "
                f"{self.n_inputs}."
            )
        return X

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Raw network outputs (logits for classification losses) for inputs ``X`` (N, d)."""
        a = X
        for layer in self.layers:
            a = layer.forward(a)
        return a

    def predict(self, X: object) -> np.ndarray:
        """Class probabilities for classification losses, values for regression ones."""
        X = self._check_X(X)
        outputs = self.forward(X)
        return self.loss.transform(outputs) if self.loss is not None else outputs

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        loss: str | Loss = "cross_entropy",
        optimizer: str | Optimizer = "adam",
        method: str = "three_point_midpoint",
        step: object = None,
        metrics: Sequence[str] | None = None,
        gradient_engine: str = "batched",
        memory_budget: int = engine.DEFAULT_MEMORY_BUDGET,
        backend: str = "local",
    ) -> None:
        """Choose the loss, the optimizer and the finite-difference formula.

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
            ``"gaussian"``, ``"spsa:n_directions=4,scale=1e-3"`` or a
            :class:`~deep_learning_toolkit.numdiff.zeroth_order.ZerothOrder`. With plain SGD
            (no momentum, no weight decay) those update the parameters MeZO-style, without
            forming a gradient vector.
        step : None, float or array-like
            Finite-difference step; ``None`` for the method's default.
        metrics : list of str, optional
            Names from :data:`~deep_learning_toolkit.training.metrics.METRICS`.
        gradient_engine : {"batched", "reference"}
            ``"batched"`` (fast, default) or the plain per-parameter loop.
        memory_budget : int
            Bytes the batched engine may use for one chunk of perturbations.
        backend : {"local", "ray"}
            Where the batched engine's chunks are evaluated: in this process, or by Ray
            actors (:class:`~deep_learning_toolkit.distributed.RayGradient`: the same gradient
            to <= 1e-12 relative; Ray is started locally on first use unless it runs).
            ``"ray"`` needs ``gradient_engine="batched"``.
        """
        from ..distributed import check_backend, gradient_backend

        loss = get_loss(loss)
        if loss.task == "classification" and self.layers[-1].activation.name != "linear":
            raise ValueError(
                f"loss {loss.name!r} takes logits, but the last layer has activation "
                f"{self.layers[-1].activation.name!r}; use activation='linear' there "
                "(predict() applies the softmax)."
            )
        if is_zeroth_order(method):
            stencil = get_zeroth_order(method)
        else:
            stencil = get_method(method)
            if isinstance(stencil, ComplexStep):
                check_loss(loss, self.n_outputs)
            resolve_steps(self.params, stencil, step)  # validate now, not mid-training
        backend = check_backend(backend)
        if backend != "local" and gradient_engine != "batched":
            raise ValueError(
                f"backend={backend!r} shards the batched engine; got "
                f"gradient_engine={gradient_engine!r}."
            )
        names = list(metrics or [])
        for name in names:
            get_metric(name)
            if name == "accuracy" and loss.task == "regression":
                raise ValueError(
                    f"metric 'accuracy' needs a classification loss; got {loss.name!r}."
                )
        self.loss = loss
        self.optimizer = get_optimizer(optimizer)
        self.stencil = stencil
        self.step = step
        self.metrics = names
        self.gradient_engine = check_choice("gradient_engine", gradient_engine, GRADIENT_ENGINES)
        self.memory_budget = check_int("memory_budget", memory_budget, minimum=1)
        self.backend = backend
        self._batched_gradient = gradient_backend(backend)

    @property
    def method_name(self) -> str:
        """Name of the compiled gradient method, e.g. ``"five_point_midpoint"``, ``"spsa"``."""
        if isinstance(self.stencil, ZerothOrder):
            return self.stencil.label
        return self.stencil.name

    def _require_compiled(self) -> Loss:
        if self.loss is None:
            raise RuntimeError("The model is not compiled; call model.compile(...) first.")
        return self.loss

    def _prepare(self, X: object, y: object, names: tuple[str, str] = ("X", "y")):
        loss = self._require_compiled()
        X = self._check_X(X, names[0])
        try:
            targets = loss.prepare_targets(y, self.n_outputs)
        except (TypeError, ValueError) as error:
            message = str(error)
            if names[1] != "y" and message.startswith("y "):
                message = names[1] + message[1:]
            raise type(error)(message) from None
        check_same_length(names[0], X, names[1], targets)
        return X, targets

    # ------------------------------------------------------------------ gradients
    def _bind(self, flat: np.ndarray) -> None:
        """Make every layer's ``W`` and ``b`` views of the flat vector ``flat``."""
        start = 0
        for layer in self.layers:
            layer.bind(flat[start : start + layer.num_parameters])
            start += layer.num_parameters

    def _loss_at(self, X: np.ndarray, targets: np.ndarray):
        """The loss as a function of a flat parameter vector (for the plain reference loop).

        The layers are pointed at ``theta`` for the call (no copy of the parameters), so each
        evaluation costs one forward pass, as in a plain per-parameter loop.
        """
        loss = self.loss

        def loss_of(theta: np.ndarray) -> float:
            self._bind(theta)
            try:
                return float(loss.batched(self.forward(X), targets))
            finally:
                self._bind(self.params)

        return loss_of

    def _gradient(
        self,
        X: np.ndarray,
        targets: np.ndarray,
        stencil: Stencil | ComplexStep | ZerothOrder,
        steps: np.ndarray | None,
        seed: int | None = None,
        full_gradient: bool = True,
    ) -> engine.EngineResult:
        """Loss, gradient, outputs and evaluation count on prepared data.

        ``seed`` and ``full_gradient`` concern zeroth-order estimators only: the seed of the
        step's directions, and whether to form the gradient vector (else ``gradient`` is
        ``None`` and the result's ``estimate`` feeds :func:`sgd_update`).
        """
        if isinstance(stencil, ZerothOrder):
            return sequential_zeroth_order(
                self.layers,
                self.params,
                X,
                targets,
                self.loss,
                stencil,
                self.seed if seed is None else seed,
                gradient=full_gradient,
            )
        if isinstance(stencil, ComplexStep):
            value, grad, evaluations = complex_step_gradient(
                self.layers, self.params, X, targets, self.loss, steps, self.memory_budget
            )
            return engine.EngineResult(value, grad, self.forward(X), evaluations)
        if self.gradient_engine == "batched" and engine.supports(self.layers):
            return self._batched_gradient(
                self.layers,
                self.params,
                X,
                targets,
                self.loss,
                stencil,
                steps,
                memory_budget=self.memory_budget,
            )
        outputs = self.forward(X)
        value = float(self.loss.batched(outputs, targets))
        result = gradient_details(self._loss_at(X, targets), self.params, stencil, steps)
        evaluations = result.evaluations + (0 if stencil.uses_center else 1)
        return engine.EngineResult(value, result.gradient, outputs, evaluations)

    def gradient_details(
        self, X: object, y: object, method: str | None = None, step: object = None
    ) -> engine.EngineResult:
        """Like :meth:`loss_and_gradient`, also returning the outputs and evaluation count."""
        X, targets = self._prepare(X, y)
        if method is None:
            stencil = self.stencil
        elif is_zeroth_order(method):
            stencil = get_zeroth_order(method)
        else:
            stencil = get_method(method)
        if isinstance(stencil, ZerothOrder):
            return self._gradient(X, targets, stencil, None)
        steps = resolve_steps(self.params, stencil, self.step if step is None else step)
        return self._gradient(X, targets, stencil, steps)

    def loss_and_gradient(
        self, X: object, y: object, method: str | None = None, step: object = None
    ) -> tuple[float, np.ndarray]:
        """Loss on ``(X, y)`` and its finite-difference gradient (flat, like ``get_params``).

        ``method`` and ``step`` default to those given to :meth:`compile`.
        """
        result = self.gradient_details(X, y, method, step)
        return result.loss, result.gradient

    # ------------------------------------------------------------------ evaluation
    def _scores(self, outputs: np.ndarray, targets: np.ndarray, prefix: str = "") -> dict:
        loss = self.loss
        scores = {prefix + "loss": float(loss.batched(outputs, targets))}
        predictions = loss.transform(outputs)
        for name in self.metrics:
            scores[prefix + name] = get_metric(name)(predictions, targets, loss.task)
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
        epochs: int = 1,
        batch_size: int | None = 32,
        validation_data: tuple[object, object] | None = None,
        shuffle: bool = True,
        callbacks: Sequence[Callback] | None = None,
        verbose: int = 0,
        initial_epoch: int = 0,
        seed: int | None = None,
        on_non_finite: str = "raise",
    ) -> History:
        """Train with mini-batch steps of the compiled optimizer.

        Parameters
        ----------
        X, y : array-like
            Training inputs (N, d) and targets.
        epochs : int
            Index of the last epoch to run (as in Keras: with ``initial_epoch=k`` the run
            continues from epoch ``k`` up to ``epochs``).
        batch_size : int or None
            Samples per step; ``None`` for the whole set.
        validation_data : (X_val, y_val), optional
            Evaluated after every epoch; logs ``val_loss`` and ``val_<metric>``.
        shuffle : bool
            Shuffle the samples every epoch; the order depends only on ``seed`` and the epoch,
            so a resumed run sees the same batches.
        callbacks : list of Callback
        verbose : int
            ``1`` shows a progress bar over epochs, ``0`` is silent.
        initial_epoch : int
            Epoch to start at (to resume a run).
        seed : int, optional
            Seed of the mini-batch order; defaults to the model's seed.
        on_non_finite : {"raise", "skip"}
            What to do when a batch's loss or gradient is NaN or infinite: ``"raise"`` a
            ``FloatingPointError`` naming the epoch, batch and parameters (the model keeps its
            last finite parameters), or ``"skip"`` the batch (no step) and count it in the
            epoch logs as ``skipped_batches``; an epoch whose every batch is skipped raises.
            An optimizer step that makes the parameters non-finite always raises.

        Returns
        -------
        History

        Raises
        ------
        KeyboardInterrupt
            After a Ctrl-C (SIGINT, main thread only): training stops once the current batch
            is finished, ``on_train_end`` of every callback runs (loggers flush and close),
            the previous SIGINT handler is restored and the interrupt is raised again so that
            the caller stops too. The model keeps the parameters after the last finished
            batch; ``model.history`` holds the finished epochs and ``model.epochs_completed``
            counts them, so the last checkpoint (see
            :class:`~deep_learning_toolkit.training.checkpoint.ModelCheckpoint`) is the
            resume point. A second Ctrl-C interrupts at once.
        FloatingPointError
            On a non-finite loss or gradient (with ``on_non_finite="raise"``) or parameters.
        """
        loss = self._require_compiled()
        X, targets = self._prepare(X, y)
        epochs = check_int("epochs", epochs, minimum=1)
        initial_epoch = check_int("initial_epoch", initial_epoch, minimum=0, maximum=epochs - 1)
        batch_size = (
            len(X) if batch_size is None else check_int("batch_size", batch_size, minimum=1)
        )
        seed = self.seed if seed is None else check_int("seed", seed, minimum=0)
        verbose = check_int("verbose", verbose, minimum=0)
        self._on_non_finite = check_choice("on_non_finite", on_non_finite, NON_FINITE_ACTIONS)
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError(
                    "validation_data must be a tuple (X_val, y_val); "
                    f"got {describe(validation_data)}."
                )
            validation = self._prepare(*validation_data, names=("X_val", "y_val"))
        zeroth = isinstance(self.stencil, ZerothOrder)
        steps = None if zeroth else resolve_steps(self.params, self.stencil, self.step)
        fixed_steps = zeroth or self.step is not None
        history = History(
            name=self.method_name,
            params={
                "method": self.method_name,
                "loss": loss.name,
                "epochs": epochs,
                "batch_size": batch_size,
                "samples": len(X),
                "num_parameters": self.num_parameters,
                "seed": seed,
                **self.optimizer.hyperparameters(),
            },
        )
        # model.history is the record a checkpoint saves: a run resumed where the previous one
        # stopped extends it, while fit returns only this call's epochs (as Keras does).
        previous = self.history
        if previous is not None and previous.epoch and previous.epoch[-1] == initial_epoch - 1:
            self.history = History.from_dict(previous.to_dict())
            self.history.params = dict(history.params)
        else:
            self.history = history
        extra: list[Callback] = list(callbacks or [])
        if verbose:
            extra.append(ProgressBar(epochs, initial_epoch, self.method_name))
        callback_list = CallbackList(extra, self)
        self.stop_training = False
        self._interrupt = interrupt = _InterruptFlag()
        with interrupt:
            callback_list.on_train_begin({})
            try:
                for epoch in range(initial_epoch, epochs):
                    callback_list.on_epoch_begin(epoch, {})
                    logs = self._run_epoch(
                        X,
                        targets,
                        epoch,
                        batch_size,
                        shuffle,
                        seed,
                        steps,
                        fixed_steps,
                        callback_list,
                    )
                    if logs is None:  # interrupted within the epoch
                        break
                    if validation is not None:
                        logs.update(
                            self._scores(self.forward(validation[0]), validation[1], "val_")
                        )
                    history.append(epoch, logs)
                    if self.history is not history:
                        self.history.append(epoch, logs)
                    self.epochs_completed = epoch + 1
                    callback_list.on_epoch_end(epoch, logs)
                    if self.stop_training or interrupt.requested:
                        break
            finally:
                callback_list.on_train_end({})
        if interrupt.requested:
            where = (
                f"after {interrupt.where[1]} batch(es) of epoch {interrupt.where[0]}"
                if interrupt.where
                else f"at the end of epoch {self.epochs_completed - 1}"
            )
            raise KeyboardInterrupt(
                f"Training interrupted (Ctrl-C) {where}; {self.epochs_completed} epoch(s) "
                "completed. Resume from the last checkpoint with "
                "fit(..., initial_epoch=<its epochs_completed>)."
            )
        return history

    def _run_epoch(
        self,
        X: np.ndarray,
        targets: np.ndarray,
        epoch: int,
        batch_size: int,
        shuffle: bool,
        seed: int,
        steps: np.ndarray | None,
        fixed_steps: bool,
        callbacks: CallbackList,
    ) -> dict[str, float] | None:
        """One epoch of steps; its logs, or ``None`` if a Ctrl-C stopped it between batches."""
        zeroth = isinstance(self.stencil, ZerothOrder)
        lean = zeroth and self._lean_update()
        started = time.perf_counter()
        total_loss, evaluations, grad_norms, step_means = 0.0, 0, [], []
        outputs, used, skipped = [], [], 0
        batches = minibatch_indices(len(X), batch_size, seed=seed, epoch=epoch, shuffle=shuffle)
        for number, index in enumerate(batches):
            if self._interrupt.requested:
                self._interrupt.where = (epoch, number)
                return None
            if not fixed_steps:
                steps = resolve_steps(self.params, self.stencil, None)
            direction_seed = None
            if zeroth:
                # Directions depend only on (seed, epoch, batch): resumed runs replay them.
                base = self.stencil.seed if self.stencil.seed is not None else seed
                direction_seed = step_seed(base, epoch, number)
            result = self._gradient(
                X[index], targets[index], self.stencil, steps, direction_seed, not lean
            )
            if not self._check_finite(result, epoch, number):
                skipped += 1
                continue
            if lean:
                # MeZO-style: no gradient vector and no copy of the parameters.
                grad_norms.append(sgd_update(self.params, result.estimate, self.optimizer.lr))
                if not np.all(np.isfinite(self.params)):
                    raise FloatingPointError(
                        f"The update of epoch {epoch}, batch {number} made parameters "
                        "non-finite (the memory-lean SGD path keeps no copy to restore). "
                        "Lower the learning rate."
                    )
            else:
                previous = self.params.copy()
                self.optimizer.step(self.params, result.gradient)
                if not np.all(np.isfinite(self.params)):
                    self.params[...] = previous
                    raise FloatingPointError(
                        f"The optimizer step of epoch {epoch}, batch {number} made parameters "
                        "non-finite; the model keeps its parameters from before that step. "
                        "Lower the learning rate."
                    )
                grad_norms.append(float(np.linalg.norm(result.gradient)))
            total_loss += result.loss * len(index)
            evaluations += result.evaluations
            step_means.append(self.stencil.scale if zeroth else float(np.mean(steps)))
            outputs.append(result.outputs)
            used.append(index)
            callbacks.on_batch_end(number, {"loss": result.loss, "size": len(index)})
        if not used:
            raise FloatingPointError(
                f"Every batch of epoch {epoch} had a non-finite loss or gradient and was "
                "skipped; the model keeps its last finite parameters."
            )
        order = np.concatenate(used)
        logs = {"loss": total_loss / len(order)}
        predictions = self.loss.transform(np.concatenate(outputs))
        for name in self.metrics:
            logs[name] = get_metric(name)(predictions, targets[order], self.loss.task)
        logs.update(
            evaluations=float(evaluations),
            grad_norm=float(np.mean(grad_norms)),
            lr=float(self.optimizer.lr),
            fd_step=float(np.mean(step_means)),
            seconds=time.perf_counter() - started,
        )
        if self._on_non_finite == "skip":
            logs["skipped_batches"] = float(skipped)
        return logs

    def _lean_update(self) -> bool:
        """Whether a zeroth-order step can update in place: plain SGD, no state."""
        settings = self.optimizer.hyperparameters()
        return (
            isinstance(self.optimizer, SGD)
            and settings.get("momentum", 0) == 0
            and settings.get("weight_decay", 0) == 0
        )

    def _check_finite(self, result: engine.EngineResult, epoch: int, batch: int) -> bool:
        """True if the batch's loss and gradient are finite; else raise, or False to skip."""
        if result.gradient is None:  # a lean zeroth-order step: its slopes are the gradient
            slopes = result.estimate.slopes
            finite = np.isfinite(result.loss) and np.all(np.isfinite(slopes))
            if finite or self._on_non_finite == "skip":
                return bool(finite)
            raise FloatingPointError(
                f"The loss or a directional slope is non-finite in epoch {epoch}, batch "
                f"{batch} (loss {result.loss}, slopes {slopes}); the model keeps its last "
                "finite parameters."
            )
        finite = np.isfinite(result.loss) and np.all(np.isfinite(result.gradient))
        if finite or self._on_non_finite == "skip":
            return bool(finite)
        if not np.isfinite(result.loss):
            raise FloatingPointError(
                f"The loss became {result.loss} in epoch {epoch}, batch {batch}; the model keeps "
                "its last finite parameters. Lower the learning rate or check the data."
            )
        bad = np.flatnonzero(~np.isfinite(result.gradient))
        if bad.size:
            names = ", ".join(self.parameter_name(int(i)) for i in bad[:5])
            raise FloatingPointError(
                f"The gradient is non-finite in epoch {epoch}, batch {batch} for {bad.size} "
                f"parameter(s) ({names}{', ...' if bad.size > 5 else ''}); the model keeps its "
                "last finite parameters."
            )
        return True

    # ------------------------------------------------------------------ misc
    def save(self, path: str | os.PathLike) -> Path:
        """Save to one file, atomically: see :func:`deep_learning_toolkit.io.save_model`.

        The file holds the architecture, parameters, compile settings, optimizer state,
        ``epochs_completed`` and ``history``; ``deep_learning_toolkit.load_model(path)``
        rebuilds a model that continues training bit for bit.
        """
        from ..io import save_model

        return save_model(self, path)

    def config(self) -> dict[str, Any]:
        """Architecture: enough to rebuild the model (parameters aside)."""
        return {"layers": [layer.config() for layer in self.layers], "seed": self.seed}

    def summary(self) -> str:
        """A table of the layers and their parameter counts."""
        lines = [f"{'layer':<10}{'shape':<14}{'activation':<12}{'parameters':>10}"]
        for number, layer in enumerate(self.layers):
            shape = f"{layer.in_features} -> {layer.out_features}"
            lines.append(
                f"{number:<10}{shape:<14}{layer.activation.name:<12}{layer.num_parameters:>10}"
            )
        lines.append(f"{'total':<36}{self.num_parameters:>10}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}], seed={self.seed})"
