"""Stochastic gradient descent with optional momentum, Nesterov momentum and L2 decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_float
from .base import LearningRate, Optimizer, check_bool


class SGD(Optimizer):
    r"""Stochastic gradient descent, exactly as :class:`torch.optim.SGD`.

    Parameters
    ----------
    lr : float, LearningRateSchedule or callable, default 0.01
        Learning rate :math:`\gamma`: a constant, finite and > 0, or a schedule of the step
        (see :mod:`~deep_learning_toolkit.optim.schedules`).
    momentum : float, default 0.0
        Momentum factor :math:`\mu \ge 0`; 0 disables momentum.
    dampening : float, default 0.0
        Dampening :math:`\tau \in [0, 1]` of the momentum.
    nesterov : bool, default False
        Use Nesterov momentum; requires ``momentum > 0`` and ``dampening == 0``.
    weight_decay : float, default 0.0
        L2 penalty :math:`\lambda \ge 0`, added to the gradient.

    Notes
    -----
    At step :math:`t` with gradient :math:`g_t` and parameters :math:`\theta_{t-1}`:

    .. math::

        g_t &\leftarrow g_t + \lambda \theta_{t-1} \\
        b_t &\leftarrow \begin{cases} g_t & t = 1 \\
            \mu b_{t-1} + (1 - \tau) g_t & t > 1 \end{cases}
            \quad \text{(if } \mu \ne 0\text{)} \\
        g_t &\leftarrow g_t + \mu b_t \text{ if Nesterov, else } b_t \\
        \theta_t &\leftarrow \theta_{t-1} - \gamma g_t

    The first momentum step stores the gradient itself (no dampening), as torch does.

    References
    ----------
    PyTorch documentation, ``torch.optim.SGD``,
    https://pytorch.org/docs/stable/generated/torch.optim.SGD.html

    I. Sutskever, J. Martens, G. Dahl and G. Hinton, "On the importance of
    initialization and momentum in deep learning", ICML 2013.
    """

    name = "sgd"

    def __init__(
        self,
        lr: LearningRate = 0.01,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
        )

    @staticmethod
    def _check(hp: dict[str, Any]) -> dict[str, Any]:
        checked = {
            "momentum": check_float("momentum", hp["momentum"], nonnegative=True),
            "dampening": check_float("dampening", hp["dampening"], nonnegative=True, maximum=1.0),
            "nesterov": check_bool("nesterov", hp["nesterov"]),
            "weight_decay": check_float("weight_decay", hp["weight_decay"], nonnegative=True),
        }
        if checked["nesterov"] and (checked["momentum"] <= 0 or checked["dampening"] != 0):
            raise ValueError(
                "nesterov=True requires momentum > 0 and dampening == 0; "
                f"got momentum={checked['momentum']}, dampening={checked['dampening']}."
            )
        return checked

    @staticmethod
    def _state_names(hp: dict[str, Any]) -> tuple[str, ...]:
        return ("momentum_buffer",) if hp["momentum"] != 0 else ()

    def _update(self, params: np.ndarray, grad: np.ndarray, lr: float) -> None:
        hp = self._hp
        if hp["weight_decay"] != 0:
            grad = grad + hp["weight_decay"] * params
        momentum = hp["momentum"]
        if momentum != 0:
            buf = self._state["momentum_buffer"]
            if self._step_count == 1:
                buf[...] = grad
            else:
                buf *= momentum
                buf += (1 - hp["dampening"]) * grad
            grad = grad + momentum * buf if hp["nesterov"] else buf
        params += -lr * grad
