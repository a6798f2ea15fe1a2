"""Step-size study: how the gradient error of every method depends on the step ``h``.

On a network and batch (:mod:`.study_networks`) the loss gradient is computed with every
method at the relative steps ``h = 2**k`` (each parameter's step is ``h * max(1, |theta_i|)``
rounded to a power of two, as for the classic defaults) and compared with the truth: torch
autograd in float64 when torch is installed (functional for a Dense MLP, through the PyTorch
twin for other layers, e.g. a CNN), else the complex step. Each method's curve gives its
measured order of accuracy (the slope of ``log error`` against ``log h`` where truncation
dominates), its best error and step, and the error at two default steps: the classic one
(``step="classic"``) and the pilot's (:mod:`~deep_learning_toolkit.gradients.steps`, the
default), whose per-parameter steps are summarised by their median relative step.

The finite-difference curves come from the model's batched engine, which computes loss
*changes* with exact identities instead of subtracting two rounded losses, so its rounding
floor is lower than that of the plain formula on a black-box function.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import require
from .._validation import check_choice
from ..gradients.steps import PILOT_GRADIENTS, pilot_steps
from ..model import Sequential
from ..nn.dense import Dense
from ..numdiff.stencils import ALL_METHODS, ComplexStep, get_method
from ..numdiff.steps import default_steps, nearest_power_of_two

#: Exponents ``k`` of the relative steps ``2**k`` swept for the finite differences.
STENCIL_EXPONENTS = tuple(range(-44, 0))
#: Exponents for the complex step, down past its default step (``1e-20``).
COMPLEX_EXPONENTS = tuple(range(-70, 0))
#: Where the order is fitted: errors at least this many times the curve's minimum ...
ORDER_FLOOR = 30.0
#: ... and at most this (the asymptotic regime).
ORDER_CEILING = 1e-3
TRUTHS = ("auto", "torch", "complex_step")
#: Curves drawn dashed in the figure.
DASHED = ("backward", "three_point_endpoint", "five_point_endpoint")


@dataclass(frozen=True)
class Curve:
    """Relative gradient error of one method against the relative step.

    Attributes
    ----------
    method : str
    order : int
        The order the method's theory claims.
    steps, errors : ndarray
        Relative steps ``h`` and errors ``||g_h - g|| / ||g||``.
    classic_step, classic_error : float
        The classic default relative step (a power of two) and the error there.
    default_step, default_error : float
        The default steps (the pilot's for a stencil, the classic one for the complex step):
        their median relative step, and the error at them.
    pilot_seconds, gradient_seconds : float
        Time of the pilot and of one gradient at its steps (0 for the complex step).
    """

    method: str
    order: int
    steps: np.ndarray
    errors: np.ndarray
    classic_step: float
    classic_error: float
    default_step: float
    default_error: float
    pilot_seconds: float = 0.0
    gradient_seconds: float = 0.0

    @property
    def best_error(self) -> float:
        """The smallest error of the sweep."""
        return float(np.min(self.errors))

    @property
    def best_step(self) -> float:
        """The step of :attr:`best_error`."""
        return float(self.steps[np.argmin(self.errors)])

    @property
    def measured_order(self) -> float:
        """Slope of the curve where truncation dominates (see :func:`measured_order`)."""
        return measured_order(self.steps, self.errors)


@dataclass(frozen=True)
class StudyResult:
    """Curves of every method and what they were measured on."""

    curves: dict[str, Curve]
    truth: str
    description: str
    name: str = ""

    def table(self) -> str:
        """The per-method summary as a markdown table, under a line saying what it measured."""
        header = (
            "| method | order | measured | best error | at h | classic h | error there "
            "| default h (median) | error there | default / best |"
        )
        lines = [
            f"{self.name + ': ' if self.name else ''}{self.description} (truth: {self.truth})",
            "",
            header,
            "|---" * header.count(" | ") + "|---|",
        ]
        for c in self.curves.values():
            lines.append(
                f"| {c.method} | {c.order} | {c.measured_order:.2f} | {c.best_error:.1e} "
                f"| {c.best_step:.1e} | {c.classic_step:.1e} | {c.classic_error:.1e} "
                f"| {c.default_step:.1e} | {c.default_error:.1e} "
                f"| {c.default_error / c.best_error:.2f} |"
            )
        return "\n".join(lines)

    def pilot_cost(self) -> str:
        """One line per stencil: the time of a pilot against one gradient."""
        parts = [
            f"{c.method} {1e3 * c.pilot_seconds:.0f} ms = "
            f"{c.pilot_seconds / c.gradient_seconds:.1f} gradients"
            for c in self.curves.values()
            if c.gradient_seconds > 0
        ]
        return f"pilot ({PILOT_GRADIENTS} gradients): " + "; ".join(parts)


def measured_order(steps: np.ndarray, errors: np.ndarray) -> float:
    """Least-squares slope of ``log2(error)`` against ``log2(h)`` where truncation dominates.

    The fit uses the steps above the curve's minimum whose error is between
    ``ORDER_FLOOR`` times the minimum (so rounding contributes a few percent at most) and
    ``ORDER_CEILING`` (still in the asymptotic regime). ``nan`` with fewer than 3 such points.
    """
    steps = np.asarray(steps, dtype=np.float64)
    errors = np.asarray(errors, dtype=np.float64)
    lowest = int(np.argmin(errors))
    keep = (
        (steps > steps[lowest])
        & (errors >= ORDER_FLOOR * errors[lowest])
        & (errors <= ORDER_CEILING)
        & (errors > 0)
    )
    if keep.sum() < 3:
        return float("nan")
    slope, _ = np.polyfit(np.log2(steps[keep]), np.log2(errors[keep]), 1)
    return float(slope)


def _torch_activation(torch: Any, name: str):
    functional = torch.nn.functional
    table = {
        "linear": lambda z: z,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda z: functional.leaky_relu(z, 0.01),
        "softmax": lambda z: torch.softmax(z, dim=-1),
    }
    return table[name]


def autograd_gradient(model: Sequential, X: object, y: object) -> tuple[float, np.ndarray]:
    """Loss and exact gradient of a compiled Dense model on ``(X, y)`` by torch autograd,
    float64.

    The network is evaluated functionally from the flat parameters (``a @ W + b`` per layer,
    ``W`` of shape ``(in, out)``), so the gradient is laid out like ``model.get_params()``.

    Raises
    ------
    TypeError
        If a layer is not a ``Dense`` (use the complex step as the truth).
    """
    torch = require("torch", "torch autograd as the truth")
    others = [type(layer).__name__ for layer in model.layers if not isinstance(layer, Dense)]
    if others:
        raise TypeError(f"autograd_gradient handles Dense layers only; got {others}.")
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]  # all of them
    X, targets = model._prepare(X, y)
    loss = model._require_compiled()
    theta = torch.tensor(model.get_params(), dtype=torch.float64, requires_grad=True)
    a = torch.tensor(X, dtype=torch.float64)
    start = 0
    for layer in dense:
        n_weights = layer.in_features * layer.out_features
        W = theta[start : start + n_weights].reshape(layer.in_features, layer.out_features)
        b = theta[start + n_weights : start + layer.num_parameters]
        a = _torch_activation(torch, layer.activation.name)(a @ W + b)
        start += layer.num_parameters
    functional = torch.nn.functional
    target = torch.tensor(targets)
    losses = {
        "cross_entropy": lambda: functional.cross_entropy(a, target),
        "binary_cross_entropy": lambda: functional.binary_cross_entropy_with_logits(a, target),
        "mse": lambda: functional.mse_loss(a, target),
        "mae": lambda: functional.l1_loss(a, target),
    }
    if loss.name not in losses:
        raise ValueError(f"no torch twin for loss {loss.name!r}; use truth='complex_step'.")
    value = losses[loss.name]()
    value.backward()
    return float(value.detach()), theta.grad.numpy().copy()


def twin_gradient(model: Sequential, X: object, y: object) -> np.ndarray:
    """The exact gradient of a compiled model by torch autograd (float64) through its PyTorch
    twin (:mod:`~deep_learning_toolkit.baselines.torch_twin`: any layers with a registered
    twin, e.g. a CNN), in training mode like ``loss_and_gradient``, laid out like
    ``model.get_params()``. Cross-entropy and mean squared error only."""
    torch = require("torch", "torch autograd as the truth")
    from ..baselines.torch_twin import build_network, twin_parameters

    X, targets = model._prepare(X, y)
    loss = model._require_compiled()
    network = build_network(model).train()
    outputs = network(torch.tensor(X, dtype=torch.float64))
    functional = torch.nn.functional
    losses = {"cross_entropy": functional.cross_entropy, "mse": functional.mse_loss}
    if loss.name not in losses:
        raise ValueError(f"no torch twin for loss {loss.name!r}; use truth='complex_step'.")
    losses[loss.name](outputs, torch.tensor(targets)).backward()
    parts = [
        np.asarray(p.from_torch(p.tensor.grad.detach().numpy())).ravel()
        for p in twin_parameters(network)
    ]
    return np.concatenate(parts)


def reference_gradient(model: Sequential, X: object, y: object, truth: str = "auto"):
    """``(gradient, label)``: torch autograd in float64 if available (``"auto"``): functional
    for a Dense MLP, through the PyTorch twin for other layers; else the complex step through
    the model."""
    truth = check_choice("truth", truth, TRUTHS)
    if truth in ("auto", "torch"):
        try:
            if all(isinstance(layer, Dense) for layer in model.layers):
                return autograd_gradient(model, X, y)[1], "torch autograd (float64)"
            return twin_gradient(model, X, y), "torch autograd of the PyTorch twin (float64)"
        except ImportError:
            if truth == "torch":
                raise
    grad = model.loss_and_gradient(X, y, method="complex_step")[1]
    return grad, "complex step (torch not installed)" if truth == "auto" else "complex step"


def _gradient_at(model: Sequential, X, y, method, relative_step: float) -> np.ndarray:
    steps = nearest_power_of_two(relative_step * np.maximum(1.0, np.abs(model.params)))
    return model.loss_and_gradient(X, y, method=method, step=steps)[1]


def best_time(fn: Callable[[], Any], budget: float = 0.5, repeats: int = 5) -> float:
    """Smallest wall time of ``fn()`` over up to ``repeats`` runs (fewer past ``budget`` s)."""
    best, spent = np.inf, 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent > budget:
            break
    return best


def _default_point(model: Sequential, X, y, method) -> tuple[np.ndarray, float, float, float]:
    """The default steps of ``method`` on this batch, their median relative step, and the
    seconds of the pilot and of one gradient at them."""
    scale = np.maximum(1.0, np.abs(model.params))
    if isinstance(method, ComplexStep):
        steps = default_steps(model.params, method)
        return steps, float(np.median(steps / scale)), 0.0, 0.0
    Xc, targets = model._prepare(X, y)
    evaluate = partial(model.compute_gradient, Xc, targets, method)
    steps = pilot_steps(model, method, evaluate).steps(model.params)
    pilot = best_time(lambda: pilot_steps(model, method, evaluate))
    gradient = best_time(lambda: evaluate(steps))
    return steps, float(np.median(steps / scale)), pilot, gradient


def method_curve(model: Sequential, X, y, method, exponents, reference) -> Curve:
    """One method's :class:`Curve` against the gradient ``reference``."""
    scale = float(np.linalg.norm(reference))
    steps = np.exp2(np.asarray(exponents, dtype=np.float64))
    errors = [np.linalg.norm(_gradient_at(model, X, y, method, h) - reference) for h in steps]
    classic = float(nearest_power_of_two(np.array(method.default_step)))
    classic_error = np.linalg.norm(_gradient_at(model, X, y, method, classic) - reference)
    default, median, pilot, gradient = _default_point(model, X, y, method)
    default_error = np.linalg.norm(
        model.loss_and_gradient(X, y, method=method, step=default)[1] - reference
    )
    return Curve(
        method.name,
        method.order,
        steps,
        np.array(errors) / scale,
        classic,
        classic_error / scale,
        median,
        default_error / scale,
        pilot,
        gradient,
    )


def step_size_study(
    model: Sequential,
    X: object,
    y: object,
    methods: Sequence[str] = ALL_METHODS,
    *,
    stencil_exponents: Sequence[int] | None = None,
    complex_exponents: Sequence[int] | None = None,
    truth: str = "auto",
    description: str = "",
    name: str = "",
) -> StudyResult:
    """Sweep the relative step ``2**k`` for every method on a compiled model and batch.

    Parameters
    ----------
    model : Sequential
        A compiled model (its loss is differentiated at its current parameters).
    X, y : array-like
        The batch.
    methods : sequence of str
        Method names (default: the six stencils and ``"complex_step"``).
    stencil_exponents, complex_exponents : sequences of int, optional
        The exponents ``k`` swept for the stencils and for the complex step (default
        :data:`STENCIL_EXPONENTS` and :data:`COMPLEX_EXPONENTS`).
    truth : {"auto", "torch", "complex_step"}
        The reference gradient.
    description, name : str
        What was measured, for the table.

    Returns
    -------
    StudyResult
    """
    stencil_exponents = STENCIL_EXPONENTS if stencil_exponents is None else stencil_exponents
    complex_exponents = COMPLEX_EXPONENTS if complex_exponents is None else complex_exponents
    reference, label = reference_gradient(model, X, y, truth)
    curves = {}
    for method_name in methods:
        method = get_method(method_name)
        exponents = complex_exponents if isinstance(method, ComplexStep) else stencil_exponents
        curves[method.name] = method_curve(model, X, y, method, exponents, reference)
    return StudyResult(curves, label, description, name)


def plot_study(result: StudyResult, path: str | Path) -> Path:
    """Draw the log-log error curves (seaborn), both default steps marked; save a PNG."""
    pd = require("pandas", "the study plot")
    sns = require("seaborn", "the study plot")
    Figure = require("matplotlib.figure", "the study plot").Figure
    rows = [
        {"method": curve.method, "h": h, "relative error": max(error, 1e-17)}
        for curve in result.curves.values()
        for h, error in zip(curve.steps, curve.errors)
    ]
    palette = dict(zip(result.curves, sns.color_palette("tab10", len(result.curves))))
    figure = Figure(figsize=(9.5, 5.2))
    axes = figure.add_subplot()
    # One-sided formulas that would hide a twin (backward under forward) are dashed.
    dashes = {m: (4, 2) if m in DASHED else "" for m in result.curves}
    sns.lineplot(
        data=pd.DataFrame(rows),
        x="h",
        y="relative error",
        hue="method",
        style="method",
        dashes=dashes,
        palette=palette,
        ax=axes,
        lw=1.4,
    )
    marks = {"classic step": ("*", 160, "classic"), "default (pilot) step": ("D", 50, "default")}
    for label, (marker, size, which) in marks.items():
        for curve in result.curves.values():
            axes.scatter(
                [getattr(curve, f"{which}_step")],
                [max(getattr(curve, f"{which}_error"), 1e-17)],
                marker=marker,
                s=size,
                color=palette[curve.method],
                edgecolor="black",
                linewidth=0.6,
                zorder=5,
            )
        axes.scatter([], [], marker=marker, s=size, color="white", edgecolor="black", label=label)
    axes.set(xscale="log", yscale="log", xlabel="relative step h", ylabel="relative gradient error")
    title = f"{result.name}: " if result.name else ""
    axes.set_title(f"{title}gradient error against the step (truth: {result.truth})", fontsize=10)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path


def summary_table(results: Sequence[StudyResult], methods: Sequence[str]) -> str:
    """Markdown: per network and method, the best error and the errors at both defaults."""
    header = "| network | method | best error | classic default | pilot default | pilot / best |"
    lines = [header, "|---|---|---|---|---|---|"]
    for result in results:
        for name in methods:
            c = result.curves.get(name)
            if c is not None:
                lines.append(
                    f"| {result.name} | {name} | {c.best_error:.1e} | {c.classic_error:.1e} "
                    f"| {c.default_error:.1e} | {c.default_error / c.best_error:.2f} |"
                )
    return "\n".join(lines)
