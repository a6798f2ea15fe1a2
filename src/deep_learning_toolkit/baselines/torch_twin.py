"""The PyTorch twin of a ``Sequential``: the same network trained with autograd gradients.

A twin copies the architecture (``model.config()``) and the current parameters
(``model.get_params()``) of a compiled :class:`~deep_learning_toolkit.nn.Sequential` into a
float64 :class:`torch.nn.Sequential`, uses the :mod:`torch.optim` optimizer with the same
hyperparameters and replays exactly the mini-batches ``fit`` would use
(:func:`~deep_learning_toolkit.data.minibatch_indices` with the same seed). The only
difference left between the two runs is the gradient: exact (autograd) here, a
finite-difference estimate in the toolkit. It is the reference the toolkit is measured
against.

Each layer type has its twin builder (:mod:`.twin_registry`; ``Dense`` in
:mod:`.twin_dense`): the torch modules and the map between our parameter layout and torch's.

PyTorch is optional: ``pip install torch`` (the ``[torch]`` extra in a checkout).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._optional import require
from .._validation import check_array, check_int, check_same_length
from ..optim.schedules import evaluate as schedule_rate
from ..training.callbacks import Callback
from ..training.history import History
from ..training.loop import (
    BatchOutcome,
    Loop,
    check_fit_arguments,
    run_params,
    train,
)
from ..training.metrics import metric_scores
from . import twin_conv, twin_dense, twin_layers  # noqa: F401  (importing them registers the twins)
from .twin_registry import TWIN_BUILDERS, TwinParameter

if TYPE_CHECKING:
    import torch

    from ..model import Sequential

#: Name of the twin's runs (History.name, TensorBoard run, plot label).
TWIN_NAME = "pytorch"
#: ``History.params["method"]`` of a twin run: how its gradient is computed.
TWIN_METHOD = "autograd"


def require_torch() -> Any:
    """Import and return :mod:`torch`, or raise ``ImportError`` saying how to install it."""
    return require("torch", "the PyTorch baseline")


def _loss_function(name: str) -> Any:
    """``loss(outputs, targets)`` in torch equal to our loss ``name`` (a mean over the batch)."""
    functional = require_torch().nn.functional
    functions = {
        "cross_entropy": functional.cross_entropy,
        "binary_cross_entropy": functional.binary_cross_entropy_with_logits,
        "mse": functional.mse_loss,
        "mae": functional.l1_loss,
    }
    if name not in functions:
        raise ValueError(f"loss {name!r} has no PyTorch twin; known: {sorted(functions)}.")
    return functions[name]


def torch_optimizer(optimizer: Any, parameters: Any) -> torch.optim.Optimizer:
    """The :mod:`torch.optim` optimizer with the hyperparameters of our ``optimizer``.

    Parameters
    ----------
    optimizer : deep_learning_toolkit.optim.Optimizer
        Only its ``hyperparameters()`` are used; its state (moments, step count) is not.
    parameters : iterable of torch.nn.Parameter

    Notes
    -----
    The single-tensor implementations (``foreach=False``) are used: they perform the
    floating-point operations in the order our optimizers follow.
    """
    torch = require_torch()
    settings = dict(optimizer.hyperparameters())
    name = settings.pop("optimizer")
    classes = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}
    if name not in classes:
        raise ValueError(f"optimizer {name!r} has no PyTorch twin; known: {sorted(classes)}.")
    if name == "adam":
        settings["betas"] = (settings.pop("beta1"), settings.pop("beta2"))
    settings.pop("lr_schedule", None)  # the twin sets each step's rate (see TorchTwin._step)
    return classes[name](parameters, foreach=False, **settings)


def build_network(model: Sequential) -> torch.nn.Sequential:
    """A float64 ``torch.nn.Sequential`` with the architecture and parameters of ``model``.

    Each layer is replaced by the torch modules its registered twin builder returns
    (:mod:`.twin_registry`; e.g. ``Dense`` -> ``Linear`` + activation). The network keeps the
    map from our flat parameters to its tensors as ``network.dltk_parameters``.
    """
    torch = require_torch()
    modules: list[torch.nn.Module] = []
    parameters: list[TwinParameter] = []
    for index, layer in enumerate(model.layers):
        builder = TWIN_BUILDERS.get(layer.type_name)
        if builder is None:
            raise ValueError(
                f"layers[{index}] ({layer.type_name}) has no PyTorch twin; known layer types: "
                f"{sorted(TWIN_BUILDERS)}."
            )
        twin = builder(layer)
        for module in twin.modules:  # a dropout's masks are keyed by its layer's index
            if hasattr(module, "layer_index"):
                module.layer_index = index
        modules.extend(twin.modules)
        parameters.extend(twin.parameters)
    network = torch.nn.Sequential(*modules)
    network.dltk_parameters = parameters
    set_network_params(network, model.get_params())
    return network


def set_network_params(network: torch.nn.Sequential, params: np.ndarray) -> None:
    """Copy a flat parameter vector in our layout into the tensors of ``network``."""
    torch = require_torch()
    params = check_array("params", params, ndim=1)
    mapping = network.dltk_parameters
    size = sum(int(np.prod(p.shape)) for p in mapping)
    if params.size != size:
        raise ValueError(f"params must have {size} entries; got {params.size}.")
    start = 0
    with torch.no_grad():
        for p in mapping:
            count = int(np.prod(p.shape))
            ours = params[start : start + count].reshape(p.shape)
            p.tensor.copy_(torch.from_numpy(np.ascontiguousarray(p.to_torch(ours))))
            start += count


def network_params(network: torch.nn.Sequential) -> np.ndarray:
    """The parameters of ``network`` as one flat vector in our layout."""
    parts = [
        np.asarray(p.from_torch(p.tensor.detach().numpy())).ravel() for p in network.dltk_parameters
    ]
    return np.concatenate(parts).astype(np.float64)


def _gradient_norm(network: torch.nn.Sequential) -> float:
    squares = sum(float((p.grad.detach() ** 2).sum()) for p in network.parameters())
    return float(np.sqrt(squares))


@dataclass(frozen=True)
class TwinResult:
    """What :func:`train_torch_twin` returns.

    Attributes
    ----------
    history : History
        Per-epoch logs with the keys ``fit`` logs (see :meth:`TorchTwin.fit`).
    params : ndarray
        Final parameters as one flat vector in our layout (like ``model.get_params()``).
    network : torch.nn.Sequential
        The trained float64 network.
    """

    history: History
    params: np.ndarray
    network: Any


class TorchTwin:
    """A compiled ``Sequential``'s twin in PyTorch, trained like ``Sequential.fit``.

    To callbacks it looks like the model: it has ``history``, ``stop_training``,
    ``metrics``, ``get_params`` and ``set_params`` (flat vectors in our layout), so
    ``EarlyStopping``, ``ProgressBar`` and ``TensorBoardLogger`` work unchanged.

    Parameters
    ----------
    model : Sequential
        A compiled model; the twin copies its architecture, current parameters, loss,
        metrics, seed and optimizer hyperparameters (not the optimizer's state).
    """

    def __init__(self, model: Sequential) -> None:
        if getattr(model, "loss", None) is None or getattr(model, "optimizer", None) is None:
            raise RuntimeError("The model is not compiled; call model.compile(...) first.")
        self.model = model
        self.loss = model.loss
        self.metrics = list(model.metrics)
        self.seed = model.seed
        self.network = build_network(model)
        self.optimizer = torch_optimizer(model.optimizer, self.network.parameters())
        self._loss_function = _loss_function(model.loss.name)
        self.history: History | None = None
        self.stop_training = False
        self.epochs_completed = 0
        self.batches_completed = 0
        self._steps = 0  # optimizer steps taken, for a learning-rate schedule

    # ------------------------------------------------------------------ parameters
    def get_params(self) -> np.ndarray:
        """A copy of the parameters, flat, in our layout."""
        return network_params(self.network)

    def set_params(self, values: object) -> None:
        """Overwrite the parameters from a flat vector in our layout."""
        set_network_params(self.network, values)

    # ------------------------------------------------------------------ data
    def _prepare(self, X: object, y: object, names: tuple[str, str]) -> tuple[Any, Any, np.ndarray]:
        torch = require_torch()
        X = self.model.check_input(X, names[0])  # samples of the model's input shape
        targets = self.loss.prepare_targets(y, self.model.n_outputs)
        check_same_length(names[0], X, names[1], targets)
        dtype = torch.int64 if self.loss.task == "classification" else torch.float64
        return torch.from_numpy(X), torch.as_tensor(targets, dtype=dtype), targets

    def _scores(self, outputs: np.ndarray, targets: np.ndarray, prefix: str = "") -> dict:
        return metric_scores(self.loss, self.metrics, outputs, targets, prefix)

    # ------------------------------------------------------------------ training
    def fit(
        self,
        X: object,
        y: object,
        *,
        epochs: int = 1,
        batch_size: int | None = 32,
        validation_data: tuple[object, object] | None = None,
        shuffle: bool = True,
        callbacks: Sequence[Callback] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        num_threads: int | None = 1,
    ) -> History:
        """Train with autograd gradients on the batches ``Sequential.fit`` would use.

        Parameters are those of :meth:`Sequential.fit <deep_learning_toolkit.nn.Sequential.fit>`,
        and ``num_threads``: torch's intra-op threads while training (restored afterwards;
        ``None`` keeps torch's setting). Networks this small run fastest on one thread:
        more threads only add synchronisation, and on a busy machine they wait for each
        other (measured: 2.4 ms per Iris epoch on one thread, 7-270 ms on two).

        Returns
        -------
        History
            Named ``"pytorch"``, with the keys ``fit`` logs: ``loss`` (mean of the batch
            losses, weighted by batch size, each computed before its update), the metrics
            on the epoch's batch outputs, ``val_loss`` and ``val_<metric>`` after the epoch,
            ``evaluations`` (forward + backward passes, one pair per batch: the work
            autograd does where the toolkit spends finite-difference loss evaluations),
            ``grad_norm`` (mean over batches of the autograd gradient's norm), ``lr``,
            ``fd_step`` (always 0.0: no finite-difference step) and ``seconds``.
        """
        torch = require_torch()
        X_t, T_t, targets = self._prepare(X, y, ("X", "y"))
        n = len(targets)
        args = check_fit_arguments(
            n,
            epochs,
            batch_size,
            validation_data,
            shuffle,
            verbose,
            0,
            self.seed if seed is None else seed,
            "raise",
        )
        if num_threads is not None:
            num_threads = check_int("num_threads", num_threads, minimum=1)
        validation = None
        if validation_data is not None:
            validation = self._prepare(*validation_data, names=("X_val", "y_val"))
        params = run_params(
            TWIN_METHOD,
            self.loss.name,
            args,
            n,
            self.model.num_parameters,
            self.model.optimizer.hyperparameters(),
        )
        self.history = None  # every fit of the twin starts a new record
        loop = Loop(
            step=lambda rows, epoch, batch: self._step(X_t, T_t, rows, (args.seed, epoch, batch)),
            targets=targets,
            args=args,
            scores=self._scores,
            validate=None if validation is None else lambda: self._validate(validation),
            lr=self._next_rate,
        )
        saved_threads = torch.get_num_threads()
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        try:
            return train(self, loop, TWIN_NAME, params, callbacks)
        finally:
            torch.set_num_threads(saved_threads)

    def _step(self, X_t: Any, T_t: Any, rows: np.ndarray, key: tuple[int, ...]) -> BatchOutcome:
        """One autograd step on the batch ``rows``; ``key`` (seed, epoch, batch) keys the
        dropout masks as ``fit`` keys ours."""
        torch = require_torch()
        twin_layers.set_step(self.network, *key)
        index = torch.from_numpy(rows)
        self.optimizer.zero_grad()
        schedule = self.model.optimizer.schedule
        if schedule is not None:  # the rate our optimizer would use at this step
            rate = schedule_rate(schedule, self._steps)
            for group in self.optimizer.param_groups:
                group["lr"] = rate
        self._steps += 1
        outputs = self.network(X_t[index])
        loss = self._loss_function(outputs, T_t[index])
        loss.backward()
        grad_norm = _gradient_norm(self.network)
        self.optimizer.step()
        return BatchOutcome(float(loss.detach()), outputs.detach().numpy(), 1, grad_norm, 0.0)

    def _next_rate(self) -> float:
        """The rate of the next step (logged as ``lr``, as ``fit`` logs it)."""
        schedule = self.model.optimizer.schedule
        if schedule is None:
            return float(self.optimizer.param_groups[0]["lr"])
        return schedule_rate(schedule, self._steps)

    def _validate(self, validation: tuple[Any, Any, np.ndarray]) -> dict[str, float]:
        torch = require_torch()
        self.network.eval()  # inference mode, as fit validates: running statistics, no dropout
        try:
            with torch.no_grad():
                outputs = self.network(validation[0])
                value = float(self._loss_function(outputs, validation[1]))
        finally:
            self.network.train()
        return {"val_loss": value, **self._scores(outputs.numpy(), validation[2], "val_")}

    def __repr__(self) -> str:
        return f"TorchTwin({self.network!r})"


def train_torch_twin(
    model: Sequential,
    X: object,
    y: object,
    *,
    epochs: int = 1,
    batch_size: int | None = 32,
    validation_data: tuple[object, object] | None = None,
    shuffle: bool = True,
    callbacks: Sequence[Callback] | None = None,
    verbose: int = 0,
    seed: int | None = None,
    num_threads: int | None = 1,
) -> TwinResult:
    """Train the PyTorch twin of the compiled ``model`` as ``model.fit`` would train it.

    The twin starts from ``model``'s current parameters, uses the ``torch.optim`` optimizer
    with ``model.optimizer``'s hyperparameters (fresh state) and the batches of
    ``minibatch_indices(n, batch_size, seed=seed, epoch=epoch)`` (``seed`` defaults to the
    model's seed, as in ``fit``). ``model`` itself is not changed. The arguments are those
    of :meth:`TorchTwin.fit`.

    Returns
    -------
    TwinResult
        ``history`` (keys as ``fit`` logs, see :meth:`TorchTwin.fit`), the final ``params``
        flat in our layout, and the trained ``network``.

    Examples
    --------
    >>> model.compile(loss="cross_entropy", optimizer=dlt.optim.SGD(lr=0.1),
    ...               metrics=["accuracy"])                          # doctest: +SKIP
    >>> twin = train_torch_twin(model, X, y, epochs=100, batch_size=16)  # doctest: +SKIP
    >>> model.fit(X, y, epochs=100, batch_size=16)                   # doctest: +SKIP
    >>> abs(model.get_params() - twin.params).max()                  # doctest: +SKIP
    """
    twin = TorchTwin(model)
    history = twin.fit(
        X,
        y,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation_data,
        shuffle=shuffle,
        callbacks=callbacks,
        verbose=verbose,
        seed=seed,
        num_threads=num_threads,
    )
    return TwinResult(history=history, params=twin.get_params(), network=twin.network)
