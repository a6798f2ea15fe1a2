"""RMSprop with optional centering, momentum and L2 weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_float
from .adam import _lerp
from .base import LearningRate, Optimizer, check_bool


class RMSprop(Optimizer):
    r"""RMSprop, exactly as :class:`torch.optim.RMSprop`.

    Parameters
    ----------
    lr : float, LearningRateSchedule or callable, default 0.01
        Learning rate :math:`\gamma`: a constant, finite and > 0, or a schedule of the step
        (see :mod:`~deep_learning_toolkit.optim.schedules`).
    alpha : float, default 0.99
        Smoothing constant :math:`\alpha \in [0, 1]` of the squared-gradient average.
    eps : float, default 1e-8
        Term :math:`\epsilon > 0` added to the denominator for stability.
    weight_decay : float, default 0.0
        L2 penalty :math:`\lambda \ge 0`, added to the gradient.
    momentum : float, default 0.0
        Momentum factor :math:`\mu \ge 0`; 0 disables momentum.
    centered : bool, default False
        Normalise by an estimate of the gradient's variance instead of its raw second
        moment.

    Notes
    -----
    At step :math:`t` with gradient :math:`g_t`, starting from
    :math:`v_0 = \bar g_0 = b_0 = 0`:

    .. math::

        g_t &\leftarrow g_t + \lambda \theta_{t-1} \\
        v_t &= \alpha v_{t-1} + (1 - \alpha) g_t^2 \\
        \bar g_t &= \alpha \bar g_{t-1} + (1 - \alpha) g_t, \quad
            \tilde v_t = v_t - \bar g_t^2 \text{ if centered, else } \tilde v_t = v_t \\
        b_t &= \mu b_{t-1} + g_t / (\sqrt{\tilde v_t} + \epsilon), \quad
            \theta_t = \theta_{t-1} - \gamma b_t \quad \text{if } \mu > 0 \\
        \theta_t &= \theta_{t-1} - \gamma g_t / (\sqrt{\tilde v_t} + \epsilon)
            \quad \text{otherwise}

    References
    ----------
    G. Hinton, N. Srivastava and K. Swersky, "Neural Networks for Machine Learning",
    lecture 6e, "rmsprop: Divide the gradient by a running average of its recent
    magnitude", 2012.

    A. Graves, "Generating Sequences With Recurrent Neural Networks", 2013 (centered).

    PyTorch documentation, ``torch.optim.RMSprop``,
    https://pytorch.org/docs/stable/generated/torch.optim.RMSprop.html
    """

    name = "rmsprop"

    def __init__(
        self,
        lr: LearningRate = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
        )

    @staticmethod
    def _check(hp: dict[str, Any]) -> dict[str, Any]:
        return {
            "alpha": check_float("alpha", hp["alpha"], nonnegative=True, maximum=1.0),
            "eps": check_float("eps", hp["eps"], positive=True),
            "weight_decay": check_float("weight_decay", hp["weight_decay"], nonnegative=True),
            "momentum": check_float("momentum", hp["momentum"], nonnegative=True),
            "centered": check_bool("centered", hp["centered"]),
        }

    @staticmethod
    def _state_names(hp: dict[str, Any]) -> tuple[str, ...]:
        names: tuple[str, ...] = ("square_avg",)
        if hp["momentum"] > 0:
            names += ("momentum_buffer",)
        if hp["centered"]:
            names += ("grad_avg",)
        return names

    def _update(self, params: np.ndarray, grad: np.ndarray, lr: float) -> None:
        hp, state = self._hp, self._state
        alpha = hp["alpha"]
        if hp["weight_decay"] != 0:
            grad = grad + hp["weight_decay"] * params
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if hp["centered"]:
            grad_avg = state["grad_avg"]
            _lerp(grad_avg, grad, 1 - alpha)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += hp["eps"]
        if hp["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= hp["momentum"]
            buf += grad / avg
            params += -lr * buf
        else:
            params += -lr * grad / avg
