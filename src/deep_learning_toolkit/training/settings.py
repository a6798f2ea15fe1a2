"""What ``compile`` stores, checked as a whole before any of it is applied."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._validation import check_choice, check_int
from ..distributed import check_backend, gradient_backend
from ..gradients import GRADIENT_ENGINES, check_loss, resolve_method
from ..gradients.steps import check_model_step
from ..nn.losses import Loss, get_loss
from ..numdiff.stencils import ComplexStep
from ..numdiff.zeroth_order import ZerothOrder
from ..optim import Optimizer, get_optimizer
from .metrics import check_metric, metric_name


@dataclass(frozen=True)
class CompileSettings:
    """The loss, optimizer, gradient method and engine settings of a compiled model."""

    loss: Loss
    optimizer: Optimizer
    stencil: Any
    step: object
    metrics: list[Any]
    gradient_engine: str
    memory_budget: int
    backend: str
    batched: Callable[..., Any]


def _check_metrics(metrics: object, loss: Loss) -> list[Any]:
    if isinstance(metrics, str) or callable(metrics):
        raise TypeError(f"metrics must be a list, e.g. [{metrics!r}]; got {metrics!r}.")
    if metrics is not None and not isinstance(metrics, (list, tuple)):
        raise TypeError(f"metrics must be a list of names or functions; got {metrics!r}.")
    checked = [check_metric(metric) for metric in metrics or []]
    names = [metric_name(metric) for metric in checked]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"metrics must have distinct names; {repeated} repeat.")
    if "accuracy" in checked and loss.task == "regression":
        raise ValueError(f"metric 'accuracy' needs a classification loss; got {loss.name!r}.")
    return checked


def compile_settings(
    network: Any,
    loss: str | Loss,
    optimizer: str | Optimizer,
    method: Any,
    step: object,
    metrics: Sequence[str] | None,
    gradient_engine: str,
    memory_budget: int,
    backend: str,
) -> CompileSettings:
    """Check every ``compile`` argument against ``network``; see ``Sequential.compile``."""
    loss = get_loss(loss)
    last = getattr(network.layers[-1], "activation", None)
    if loss.task == "classification" and last is not None and last.name != "linear":
        raise ValueError(
            f"loss {loss.name!r} takes logits, but the last layer has activation "
            f"{last.name!r}; use activation='linear' there (predict() applies the softmax)."
        )
    stencil = resolve_method(method)
    if isinstance(stencil, ComplexStep):
        check_loss(loss, network.n_outputs if network.built else 2)
    if not isinstance(stencil, ZerothOrder):
        check_model_step(network.params, stencil, step)  # validate now, not mid-training
    names = _check_metrics(metrics, loss)
    gradient_engine = check_choice("gradient_engine", gradient_engine, GRADIENT_ENGINES)
    memory_budget = check_int("memory_budget", memory_budget, minimum=1)
    backend = check_backend(backend)
    if backend != "local" and gradient_engine != "batched":
        raise ValueError(
            f"backend={backend!r} shards the batched engine; got "
            f"gradient_engine={gradient_engine!r}."
        )
    optimizer = get_optimizer(optimizer)
    owner = getattr(optimizer, "_owner", None)
    if owner is not None and owner() is not None and owner() is not network:
        raise ValueError(
            f"optimizer {optimizer!r} is already used by another model, and would mix its "
            "state (moments, step count) with this one's; give each model its own optimizer "
            "(e.g. type(opt)(**opt.hyperparameters()) or a name)."
        )
    return CompileSettings(
        loss,
        optimizer,
        stencil,
        step,
        names,
        gradient_engine,
        memory_budget,
        backend,
        gradient_backend(backend),
    )
