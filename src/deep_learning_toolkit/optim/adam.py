"""Adam, AMSGrad and AdamW (decoupled weight decay)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_float, describe
from .base import LearningRate, Optimizer, check_bool


class Adam(Optimizer):
    r"""Adam (and AMSGrad, AdamW), exactly as :class:`torch.optim.Adam`.

    Parameters
    ----------
    lr : float, LearningRateSchedule or callable, default 0.001
        Learning rate :math:`\gamma`: a constant, finite and > 0, or a schedule of the step
        (see :mod:`~deep_learning_toolkit.optim.schedules`).
    betas : tuple of float, default (0.9, 0.999)
        Decay rates :math:`(\beta_1, \beta_2)` of the moment estimates, each in [0, 1).
    eps : float, default 1e-8
        Term :math:`\epsilon > 0` added to the denominator for stability.
    weight_decay : float, default 0.0
        Weight decay :math:`\lambda \ge 0`: an L2 penalty added to the gradient, or, with
        ``decoupled_weight_decay=True``, a shrinkage of the parameters (AdamW).
    amsgrad : bool, default False
        Use the running maximum of the second moment (AMSGrad).
    decoupled_weight_decay : bool, default False
        Decay the parameters directly instead of adding to the gradient (AdamW).

    Notes
    -----
    At step :math:`t` with gradient :math:`g_t`, starting from :math:`m_0 = v_0 = 0`:

    .. math::

        \theta_{t-1} &\leftarrow \theta_{t-1}(1 - \gamma\lambda)
            \text{ if decoupled, else } g_t \leftarrow g_t + \lambda\theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \hat m_t &= m_t / (1 - \beta_1^t) \\
        \hat v_t &= \max(\hat v^{\max}_{t-1}, v_t) / (1 - \beta_2^t)
            \text{ if AMSGrad, else } v_t / (1 - \beta_2^t) \\
        \theta_t &= \theta_{t-1} - \gamma \hat m_t / (\sqrt{\hat v_t} + \epsilon)

    The floating-point operations follow torch's single-tensor implementation in order.

    References
    ----------
    D. P. Kingma and J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.

    S. J. Reddi, S. Kale and S. Kumar, "On the Convergence of Adam and Beyond", ICLR 2018.

    I. Loshchilov and F. Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.

    PyTorch documentation, ``torch.optim.Adam``,
    https://pytorch.org/docs/stable/generated/torch.optim.Adam.html
    """

    name = "adam"
    _grouped = {"betas": ("beta1", "beta2")}

    def __init__(
        self,
        lr: LearningRate = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2); got {describe(betas)}.")
        super().__init__(
            lr=lr,
            beta1=betas[0],
            beta2=betas[1],
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            decoupled_weight_decay=decoupled_weight_decay,
        )

    @staticmethod
    def _check(hp: dict[str, Any]) -> dict[str, Any]:
        return {
            "beta1": check_float("betas[0]", hp["beta1"], nonnegative=True, below=1.0),
            "beta2": check_float("betas[1]", hp["beta2"], nonnegative=True, below=1.0),
            "eps": check_float("eps", hp["eps"], positive=True),
            "weight_decay": check_float("weight_decay", hp["weight_decay"], nonnegative=True),
            "amsgrad": check_bool("amsgrad", hp["amsgrad"]),
            "decoupled_weight_decay": check_bool(
                "decoupled_weight_decay", hp["decoupled_weight_decay"]
            ),
        }

    @staticmethod
    def _state_names(hp: dict[str, Any]) -> tuple[str, ...]:
        names = ("exp_avg", "exp_avg_sq")
        return (*names, "max_exp_avg_sq") if hp["amsgrad"] else names

    def _update(self, params: np.ndarray, grad: np.ndarray, lr: float) -> None:
        hp, state = self._hp, self._state
        beta1, beta2, step = hp["beta1"], hp["beta2"], float(self._step_count)
        if hp["weight_decay"] != 0:
            if hp["decoupled_weight_decay"]:
                params *= 1 - lr * hp["weight_decay"]
            else:
                grad = grad + hp["weight_decay"] * params
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        _lerp(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        if hp["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            denom = np.sqrt(state["max_exp_avg_sq"]) / bias_correction2_sqrt
        else:
            denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt
        denom += hp["eps"]
        params += -step_size * exp_avg / denom


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start += weight * (end - start)`` in place, with torch.lerp's two branches."""
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)
