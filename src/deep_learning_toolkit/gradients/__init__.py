"""Model gradients: one entry point, one result type, every method.

:func:`model_gradient` computes the loss of a network on a batch and the gradient of that
loss with respect to the network's flat parameters, by any method the toolkit has:

* a finite-difference stencil, through the batched engine (:mod:`.engine`: structure-aware
  for layers with an engine hook, the generic batched path for the others) or the plain
  per-parameter loop (:mod:`.reference`), or a backend with the engine's call signature
  (``batched=``, e.g. Ray);
* the complex step (:mod:`.complex_step`);
* a zeroth-order estimator (SPSA, Gaussian; :mod:`.zeroth_order`).

All return a :class:`GradientResult`. The network is read, never changed (a zeroth-order
step perturbs it in place and restores it bit for bit). A float32 network's zeroth-order
steps run in float32; its finite differences and complex steps are taken on a float64 copy
of the parameters (:meth:`~deep_learning_toolkit.nn.network.Network.promoted`), since in
float32 their errors would be ``1e-3``-``1e-4``, and the gradient is returned in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import check_choice, describe
from ..nn.network import Network
from ..numdiff.stencils import ComplexStep, Stencil, get_method
from ..numdiff.zeroth_order import ZerothOrder, get_zeroth_order, is_zeroth_order
from .check import check_model_gradient
from .complex_step import check_loss, complex_step_gradient
from .engine import DEFAULT_MEMORY_BUDGET, batched_gradient
from .reference import reference_gradient
from .result import GradientResult
from .zeroth_order import network_zeroth_order

#: Ways to evaluate finite-difference stencils: the batched engine, or the plain loop.
GRADIENT_ENGINES = ("batched", "reference")

Method = Stencil | ComplexStep | ZerothOrder


def resolve_method(method: object) -> Method:
    """Any method description as an object: a name (``"central"``, ``"complex_step"``,
    ``"spsa:n_directions=4"``), a :class:`Stencil`, a ``ComplexStep`` or a ``ZerothOrder``."""
    if isinstance(method, (str, ZerothOrder)) and is_zeroth_order(method):
        return get_zeroth_order(method)
    return get_method(method)


def method_name(method: Method) -> str:
    """The name a method is logged under, e.g. ``"five_point_midpoint"``, ``"spsa"``."""
    return method.label if isinstance(method, ZerothOrder) else method.name


def model_gradient(
    network: Network,
    X: np.ndarray,
    targets: np.ndarray,
    loss: Any,
    method: Method,
    steps: np.ndarray | None = None,
    *,
    engine: str = "batched",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    seed: int = 0,
    full_gradient: bool = True,
    training: bool = True,
    batched: Callable[..., GradientResult] | None = None,
    outputs: bool = True,
    update: Callable[[Any], float | None] | None = None,
) -> GradientResult:
    """Loss and gradient of ``loss(network(X), targets)`` by ``method``.

    Parameters
    ----------
    network : Network
    X, targets : ndarray
        Checked inputs and targets as ``loss.prepare_targets`` returns them.
    loss : Loss
    method : Stencil, ComplexStep or ZerothOrder
        See :func:`resolve_method`.
    steps : ndarray, optional
        One step per parameter (stencils and complex step; resolved by the caller).
    engine : {"batched", "reference"}
        How stencils are evaluated.
    memory_budget : int
        Bytes the batched evaluation may use.
    seed : int
        Seed of a zeroth-order step's directions.
    full_gradient : bool
        Zeroth-order only: form the gradient vector (else ``result.estimate`` feeds
        ``sgd_update``).
    training : bool
        Run the layers in training mode.
    batched : callable, optional
        Replaces :func:`~.engine.batched_gradient` (same signature), e.g. a Ray backend.
    outputs : bool
        Zeroth-order only: evaluate the unperturbed outputs (else ``result.outputs`` is
        ``None`` and ``result.loss`` the mean perturbed loss of a two-sided step).
    update : callable, optional
        Zeroth-order only: ``update(estimate) -> lr``, an SGD update fused with the
        restoring pass (see :func:`.zeroth_order.network_zeroth_order`).

    Returns
    -------
    GradientResult
    """
    if isinstance(method, ZerothOrder):
        return network_zeroth_order(
            network,
            X,
            targets,
            loss,
            method,
            seed,
            gradient=full_gradient,
            training=training,
            outputs=outputs,
            update=update,
        )
    if not isinstance(method, (Stencil, ComplexStep)):
        raise TypeError(
            f"method must be a stencil, complex step or zeroth-order estimator; got "
            f"{describe(method)}."
        )
    check_choice("gradient_engine", engine, GRADIENT_ENGINES)
    if network.params.dtype == np.float64:
        return _differences(
            network, X, targets, loss, method, steps, engine, memory_budget, training, batched
        )
    # float32: the differences are taken in float64 (see Network.promoted), and the gradient
    # is returned in float64, as accurate as a float64 network's (the optimizer applies it in
    # float32).
    wide = None if steps is None else np.asarray(steps, dtype=np.float64)
    with network.promoted():
        result = _differences(
            network,
            X.astype(np.float64),
            targets,
            loss,
            method,
            wide,
            engine,
            memory_budget,
            training,
            batched,
        )
    return result


def _differences(
    network: Network,
    X: np.ndarray,
    targets: np.ndarray,
    loss: Any,
    method: Stencil | ComplexStep,
    steps: np.ndarray | None,
    engine: str,
    memory_budget: int,
    training: bool,
    batched: Callable[..., GradientResult] | None,
) -> GradientResult:
    """:func:`model_gradient` of a stencil or the complex step, in the network's dtype."""
    if isinstance(method, ComplexStep):
        return complex_step_gradient(network, X, targets, loss, steps, memory_budget, training)
    if engine == "reference":
        return reference_gradient(network, X, targets, loss, method, steps, training)
    if batched is not None:  # e.g. the Ray backend, which checks steps itself
        return batched(
            network, X, targets, loss, method, steps, memory_budget=memory_budget, training=training
        )
    if steps is None:  # the batched engine has no default step of its own
        raise TypeError("the batched gradient engine needs steps (an array); got None.")
    return batched_gradient(
        network, X, targets, loss, method, steps, memory_budget=memory_budget, training=training
    )


__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "GRADIENT_ENGINES",
    "GradientResult",
    "batched_gradient",
    "check_loss",
    "check_model_gradient",
    "complex_step_gradient",
    "method_name",
    "model_gradient",
    "network_zeroth_order",
    "reference_gradient",
    "resolve_method",
]
