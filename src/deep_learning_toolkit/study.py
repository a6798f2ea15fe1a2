"""Step-size study: how the gradient error of every method depends on the step ``h``.

``python -m deep_learning_toolkit.study`` takes a real network and batch (iris, standardised;
a 4-16-16-3 tanh network briefly trained with Adam; a batch of 32), computes the loss
gradient with every method at the relative steps ``h = 2**k`` (each parameter's step is
``h * max(1, |theta_i|)`` rounded to a power of two, as for the defaults), and compares it
with the truth: torch autograd in float64 when torch is installed, else the complex step.

It prints, per method, the measured order of accuracy (the slope of ``log error`` against
``log h`` where truncation dominates), the best error and its step, the default step and the
error there; and draws the log-log curves with seaborn, each method's default step marked
(``docs/images/step_size_study.png`` in the README).

The finite-difference curves come from the model's batched engine, which computes loss
*changes* with exact identities instead of subtracting two rounded losses, so its rounding
floor is lower than that of the plain formula on a black-box function.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._optional import require
from ._validation import check_choice, check_int
from .model import Sequential
from .nn.dense import Dense
from .numdiff.stencils import ALL_METHODS, ComplexStep, get_method
from .numdiff.steps import nearest_power_of_two

#: Exponents ``k`` of the relative steps ``2**k`` swept for the finite differences.
STENCIL_EXPONENTS = tuple(range(-44, 0))
#: Exponents for the complex step, down past its default step (``1e-20``).
COMPLEX_EXPONENTS = tuple(range(-70, 0))
#: Where the order is fitted: errors at least this many times the curve's minimum ...
ORDER_FLOOR = 30.0
#: ... and at most this (the asymptotic regime).
ORDER_CEILING = 1e-3
#: Where ``python -m deep_learning_toolkit.study`` saves its figure.
DEFAULT_OUTPUT = Path("docs/images/step_size_study.png")
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
    default_step : float
        The method's default relative step (a power of two).
    default_error : float
        The error at the default step.
    """

    method: str
    order: int
    steps: np.ndarray
    errors: np.ndarray
    default_step: float
    default_error: float

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

    def table(self) -> str:
        """The per-method summary as a plain-text table."""
        header = (
            f"{'method':<22}{'order':>6}{'measured':>10}{'best error':>12}{'at h':>10}"
            f"{'default h':>11}{'error there':>13}"
        )
        lines = [self.description, f"truth: {self.truth}", header, "-" * len(header)]
        for curve in self.curves.values():
            lines.append(
                f"{curve.method:<22}{curve.order:>6}{curve.measured_order:>10.2f}"
                f"{curve.best_error:>12.1e}{curve.best_step:>10.1e}"
                f"{curve.default_step:>11.1e}{curve.default_error:>13.1e}"
            )
        return "\n".join(lines)


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
    """Loss and exact gradient of a compiled model on ``(X, y)`` by torch autograd, float64.

    The network is evaluated functionally from the flat parameters (``a @ W + b`` per layer,
    ``W`` of shape ``(in, out)``), so the gradient is laid out like ``model.get_params()``.
    """
    torch = require("torch", "torch autograd as the truth")
    X, targets = model._prepare(X, y)
    theta = torch.tensor(model.get_params(), dtype=torch.float64, requires_grad=True)
    a = torch.tensor(X, dtype=torch.float64)
    start = 0
    for layer in model.layers:
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
    if model.loss.name not in losses:
        raise ValueError(f"no torch twin for loss {model.loss.name!r}; use truth='complex_step'.")
    value = losses[model.loss.name]()
    value.backward()
    return float(value.detach()), theta.grad.numpy().copy()


def reference_gradient(model: Sequential, X: object, y: object, truth: str = "auto"):
    """``(gradient, label)``: torch autograd in float64 if available (``"auto"``), else the
    complex step through the model."""
    truth = check_choice("truth", truth, TRUTHS)
    if truth in ("auto", "torch"):
        try:
            return autograd_gradient(model, X, y)[1], "torch autograd (float64)"
        except ImportError:
            if truth == "torch":
                raise
    grad = model.loss_and_gradient(X, y, method="complex_step")[1]
    return grad, "complex step (torch not installed)"


def _gradient_at(model: Sequential, X, y, method, relative_step: float) -> np.ndarray:
    steps = nearest_power_of_two(relative_step * np.maximum(1.0, np.abs(model.params)))
    return model.loss_and_gradient(X, y, method=method, step=steps)[1]


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
    description : str
        What was measured, for the table.

    Returns
    -------
    StudyResult
    """
    stencil_exponents = STENCIL_EXPONENTS if stencil_exponents is None else stencil_exponents
    complex_exponents = COMPLEX_EXPONENTS if complex_exponents is None else complex_exponents
    reference, label = reference_gradient(model, X, y, truth)
    scale = float(np.linalg.norm(reference))
    curves = {}
    for name in methods:
        method = get_method(name)
        exponents = complex_exponents if isinstance(method, ComplexStep) else stencil_exponents
        steps = np.exp2(np.asarray(exponents, dtype=np.float64))
        errors = np.array(
            [np.linalg.norm(_gradient_at(model, X, y, method, h) - reference) for h in steps]
        )
        default = float(nearest_power_of_two(np.array(method.default_step)))
        default_error = np.linalg.norm(_gradient_at(model, X, y, method, default) - reference)
        curves[method.name] = Curve(
            method.name, method.order, steps, errors / scale, default, default_error / scale
        )
    return StudyResult(curves, label, description)


def study_network(
    batch_size: int = 32, epochs: int = 10, seed: int = 0
) -> tuple[Sequential, np.ndarray, np.ndarray, str]:
    """The study's network and batch: iris, standardised, a 4-16-16-3 tanh network trained
    for ``epochs`` epochs of Adam, and ``batch_size`` samples drawn with ``seed``."""
    from .data import StandardScaler, load_dataset

    batch_size = check_int("batch_size", batch_size, minimum=1, maximum=150)
    epochs = check_int("epochs", epochs, minimum=0)
    data = load_dataset("iris")
    X = StandardScaler().fit_transform(data.X)
    model = Sequential(
        [Dense(4, 16, activation="tanh"), Dense(16, 16, activation="tanh"), Dense(16, 3)],
        seed=seed,
    )
    model.compile(loss="cross_entropy", optimizer="adam", method="five_point_midpoint")
    if epochs:
        model.fit(X, data.y, epochs=epochs, batch_size=16)
    batch = np.random.default_rng(seed).choice(len(X), size=batch_size, replace=False)
    description = (
        f"iris, 4-16-16-3 tanh network ({model.num_parameters} parameters) after {epochs} "
        f"epochs of Adam, cross-entropy on a batch of {batch_size}"
    )
    return model, X[batch], data.y[batch], description


def plot_study(result: StudyResult, path: str | Path) -> Path:
    """Draw the log-log error curves (seaborn), each default step marked; save a PNG."""
    pd = require("pandas", "the study plot")
    sns = require("seaborn", "the study plot")
    Figure = require("matplotlib.figure", "the study plot").Figure
    rows = [
        {"method": curve.method, "h": h, "relative error": max(error, 1e-17)}
        for curve in result.curves.values()
        for h, error in zip(curve.steps, curve.errors)
    ]
    frame = pd.DataFrame(rows)
    palette = dict(zip(result.curves, sns.color_palette("tab10", len(result.curves))))
    figure = Figure(figsize=(9.5, 5.2))
    axes = figure.add_subplot()
    # One-sided formulas that would hide a twin (backward under forward) are dashed.
    dashes = {m: (4, 2) if m in DASHED else "" for m in result.curves}
    sns.lineplot(
        data=frame,
        x="h",
        y="relative error",
        hue="method",
        style="method",
        dashes=dashes,
        palette=palette,
        ax=axes,
        lw=1.4,
    )
    for curve in result.curves.values():
        axes.scatter(
            [curve.default_step],
            [max(curve.default_error, 1e-17)],
            marker="*",
            s=160,
            color=palette[curve.method],
            edgecolor="black",
            linewidth=0.6,
            zorder=5,
        )
    axes.scatter([], [], marker="*", s=160, color="white", edgecolor="black", label="default step")
    axes.set(xscale="log", yscale="log", xlabel="relative step h", ylabel="relative gradient error")
    axes.set_title(f"Gradient error against the step (truth: {result.truth})", fontsize=10)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the study, print the table, save the figure."""
    parser = argparse.ArgumentParser(
        prog="python -m deep_learning_toolkit.study",
        description="Relative gradient error against the step h for every method.",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="PNG to write")
    parser.add_argument("--no-plot", action="store_true", help="print the table only")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=10, help="Adam epochs before the study")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--truth", choices=TRUTHS, default="auto")
    args = parser.parse_args(argv)
    model, X, y, description = study_network(args.batch_size, args.epochs, args.seed)
    result = step_size_study(model, X, y, truth=args.truth, description=description)
    print(result.table())
    if not args.no_plot:
        print(f"figure: {plot_study(result, args.output)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
