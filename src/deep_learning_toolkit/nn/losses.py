"""Loss functions: means over the batch of a per-sample loss of the network's outputs.

Besides the plain value, every loss can say how much it *changes* when the outputs change by
``D``: ``delta(D) = L(outputs + D) - L(outputs)``. The gradient engine uses these exact
identities to get perturbed loss values without the cancellation of subtracting two nearly
equal numbers, and cheaply when only one output column, or a rank-1 pattern, changes:

* softmax cross-entropy: ``log-sum-exp(z + D) - lse(z) = log1p(sum_c p_c expm1(D_c))`` with
  ``p = softmax(z)``;
* binary cross-entropy on logits: ``softplus(z + D) - softplus(z) = log1p(sigmoid(z) expm1(D))``;
* mean squared error: ``(r + D)**2 - r**2 = D (2 r + D)`` with the residual ``r``;
* mean absolute error: ``|r + D| - |r|``.

The ``expm1`` identities are exact to rounding only while the changes are small: for a change
of the logits ``|D| > ``:data:`IDENTITY_RADIUS` of a sample, ``expm1`` may overflow, a
probability that underflowed to 0 may be the one that the change brings back, and
``1 + sum p expm1(D)`` may cancel. Such samples are computed in a stable form instead: the
log-sum-exp of ``log_softmax(z) + D`` relative to its maximum, or softplus differences. The
loss change is then finite whenever the two losses are, and as accurate as their difference.

The generic implementations in :class:`Loss` build the full perturbed outputs, so a new loss
only needs :meth:`Loss.batched`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_array, check_choice, describe

Context = dict[str, Any]

#: Largest ``|x|`` for which ``expm1(x)`` is summed as a power series (else evaluated).
SERIES_RADIUS = 0.5
#: Most terms of such a series.
SERIES_MAX_TERMS = 16
#: Largest change of a sample's logits for which the ``expm1`` identities are used; larger
#: changes are computed in a stable form (see the module notes).
IDENTITY_RADIUS = 1.0


def series_terms(radius: float) -> int | None:
    """Terms of ``expm1(x) = sum_k x**k / k!`` needed for ``|x| <= radius``.

    The remainder after ``n`` terms is at most ``radius**(n+1) / (n+1)! * exp(radius)``; the
    smallest ``n`` that makes it below a tenth of an ulp of the first term
    (``0.1 * eps * radius``) is returned, or ``None`` when ``radius`` exceeds
    :data:`SERIES_RADIUS` and ``expm1`` should be evaluated directly.
    """
    if not np.isfinite(radius) or radius > SERIES_RADIUS:
        return None
    if radius == 0.0:
        return 1
    target = 0.1 * np.finfo(np.float64).eps * radius
    remainder = radius * np.exp(radius)
    for n in range(1, SERIES_MAX_TERMS + 1):
        remainder *= radius / (n + 1)
        if remainder <= target:
            return n
    return None


def log_softmax(z: np.ndarray) -> np.ndarray:
    """``log(softmax(z))`` over the last axis, relative to the row maximum (no overflow)."""
    with np.errstate(over="ignore", invalid="ignore"):  # infinite logits: the loss says so
        shifted = z - z.max(axis=-1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def log_sum_exp_change(log_p: np.ndarray, D: np.ndarray) -> np.ndarray:
    """``lse(z + D) - lse(z) = log(sum_c exp(log_p_c + D_c))`` for rows ``(R, K)``, stably.

    The sum is taken relative to its largest term, which is left out and added as ``log1p``'s
    ``1``: finite for any finite changes, and rounded by about ``eps`` times the largest
    ``|log_p + D|``.
    """
    t = log_p + D
    top = np.argmax(t, axis=1)[:, None]
    peak = np.take_along_axis(t, top, axis=1)
    rest = np.exp(t - peak)
    np.put_along_axis(rest, top, 0.0, axis=1)
    return peak[:, 0] + np.log1p(rest.sum(axis=1))


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))`` for real ``x`` without overflow."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


class Loss:
    """Base class: a mean over samples of a per-sample loss of ``outputs`` (N, K).

    Subclasses implement :meth:`prepare_targets` and :meth:`batched`; the delta methods have
    generic fallbacks that subclasses may override with exact cheaper identities.
    """

    name = "loss"
    #: "classification" (integer labels), "binary" (0/1 targets) or "regression".
    task = "regression"

    def prepare_targets(self, y: object, n_outputs: int) -> np.ndarray:
        """Validate ``y`` for ``n_outputs`` outputs and return the internal target array."""
        raise NotImplementedError

    def batched(self, outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Loss of outputs shaped ``(..., N, K)``; returns shape ``(...)``."""
        raise NotImplementedError

    def __call__(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        return float(self.batched(outputs, targets))

    def transform(self, outputs: np.ndarray) -> np.ndarray:
        """Map network outputs to predictions (probabilities or values)."""
        return outputs

    def context(self, outputs: np.ndarray, targets: np.ndarray) -> Context:
        """Per-batch quantities reused by the delta methods."""
        return {"outputs": outputs, "targets": targets}

    def delta(self, D: np.ndarray, ctx: Context) -> np.ndarray:
        """``L(outputs + D) - L(outputs)`` for changes ``D`` of shape ``(M, N, K)``."""
        base = self.batched(ctx["outputs"], ctx["targets"])
        return self.batched(ctx["outputs"] + D, ctx["targets"]) - base

    def rank1_delta(self, u: np.ndarray, v: np.ndarray, ctx: Context) -> np.ndarray:
        """Loss change for ``D[m] = outer(u[m], v[m])``; ``u`` (M, N), ``v`` (M, K)."""
        return self.delta(u[:, :, None] * v[:, None, :], ctx)

    def column_delta(self, columns: np.ndarray, d: np.ndarray, ctx: Context) -> np.ndarray:
        """Loss change when output column ``columns[m]`` changes by ``d[m]`` (M, N)."""
        n_outputs = ctx["outputs"].shape[1]
        v = np.zeros((len(columns), n_outputs))
        v[np.arange(len(columns)), columns] = 1.0
        return self.rank1_delta(d, v, ctx)

    def config(self) -> dict[str, object]:
        """Name to rebuild the loss with :func:`get_loss`."""
        return {"name": self.name}


def _check_labels(y: object, n_classes: int) -> np.ndarray:
    """Integer labels in ``[0, n_classes)`` from ids (N,) or one-hot rows (N, n_classes)."""
    y = check_array("y", y, ndim=(1, 2))
    if y.ndim == 2:
        if y.shape[1] != n_classes:
            raise ValueError(
                f"y one-hot labels must have {n_classes} columns (the model's outputs); "
                f"got shape {y.shape}."
            )
        if not (np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)):
            raise ValueError("y one-hot rows must hold a single 1 and zeros elsewhere.")
        return np.argmax(y, axis=1).astype(np.int64)
    if not np.all(y == np.round(y)):
        bad = y[y != np.round(y)][0]
        raise ValueError(f"y must hold integer class labels; got {bad}.")
    if y.min() < 0 or y.max() >= n_classes:
        bad = y[(y < 0) | (y >= n_classes)][0]
        raise ValueError(
            f"y contains label {bad:g} outside [0, {n_classes}): the model has {n_classes} outputs."
        )
    return y.astype(np.int64)


def _check_values(y: object, n_outputs: int, *, binary: bool = False) -> np.ndarray:
    """Targets of shape (N,) or (N, n_outputs) as float64 (N, n_outputs)."""
    y = check_array("y", y, ndim=(1, 2))
    if y.ndim == 1:
        y = y[:, None]
    if y.shape[1] != n_outputs:
        raise ValueError(
            f"y must have {n_outputs} column(s) to match the model's outputs; got shape {y.shape}."
        )
    if binary and not np.all((y == 0) | (y == 1)):
        bad = y[(y != 0) & (y != 1)][0]
        raise ValueError(f"y for binary_cross_entropy must hold 0 or 1; got {bad:g}.")
    return y


class CrossEntropy(Loss):
    """Softmax cross-entropy on logits: ``mean_n(lse(z_n) - z_n[y_n])``.

    Targets are integer class ids (N,) or one-hot rows (N, K). The log-sum-exp is shifted
    by the row maximum, so large logits do not overflow.
    """

    name = "cross_entropy"
    task = "classification"

    def prepare_targets(self, y: object, n_outputs: int) -> np.ndarray:
        if n_outputs < 2:
            raise ValueError(
                "cross_entropy needs a last layer with at least 2 outputs (one per class); "
                f"got {n_outputs}. Use binary_cross_entropy for one output."
            )
        return _check_labels(y, n_outputs)

    def batched(self, outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        # Shift by the max of the real part: the same value, no overflow, and still analytic
        # for the complex step.
        top = outputs.real.max(axis=-1, keepdims=True)
        lse = top[..., 0] + np.log(np.exp(outputs - top).sum(axis=-1))
        picked = np.take_along_axis(
            outputs, np.broadcast_to(targets[:, None], outputs.shape[:-1] + (1,)), axis=-1
        )[..., 0]
        return (lse - picked).mean(axis=-1)

    def transform(self, outputs: np.ndarray) -> np.ndarray:
        shifted = np.exp(outputs - outputs.real.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)

    def context(self, outputs: np.ndarray, targets: np.ndarray) -> Context:
        ctx = super().context(outputs, targets)
        ctx["p"] = self.transform(outputs)
        ctx["p_columns"] = np.ascontiguousarray(ctx["p"].T)
        onehot = np.zeros_like(ctx["p_columns"])
        onehot[targets, np.arange(len(targets))] = 1.0
        ctx["onehot_columns"] = onehot
        ctx["log_p"] = log_softmax(outputs)
        return ctx

    @staticmethod
    def _stabilize(spread: np.ndarray, far: np.ndarray, rows: Any, ctx: Context) -> None:
        """Recompute ``spread[m, n]`` where ``far`` in the stable form; ``rows(m, n)`` gives
        those samples' logit changes ``(R, K)``."""
        if far.any():
            m, n = np.nonzero(far)
            spread[m, n] = log_sum_exp_change(ctx["log_p"][n], rows(m, n))

    def delta(self, D: np.ndarray, ctx: Context) -> np.ndarray:
        targets = ctx["targets"]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            spread = np.log1p(np.einsum("nk,mnk->mn", ctx["p"], np.expm1(D)))
        far = np.abs(D).max(axis=2) > IDENTITY_RADIUS
        self._stabilize(spread, far, lambda m, n: D[m, n], ctx)
        picked = D[:, np.arange(len(targets)), targets]
        return (spread - picked).mean(axis=1)

    def rank1_delta(self, u: np.ndarray, v: np.ndarray, ctx: Context) -> np.ndarray:
        """Loss change for logit changes ``D[m, n, c] = u[m, n] v[m, c]``.

        Notes
        -----
        ``sum_c p_nc expm1(u v_c) = sum_k u**k / k! * sum_c p_nc v_c**k``: the inner sums of
        every power ``k`` are one matrix product ``(v**k) @ p.T``, so the exponentials of all
        ``M x N x K`` logit changes cost a few products instead of ``M N K`` calls of
        ``expm1``. The series is summed (Horner) up to the power whose remainder is below a
        tenth of an ulp of the first term (:func:`series_terms`), so the loss values are
        those of the closed form to rounding; when ``|u v|`` is too large for that, the
        classes are looped over with ``expm1``, and samples whose logits change by more than
        :data:`IDENTITY_RADIUS` are computed in the stable form.
        """
        terms = series_terms(float(np.abs(u).max()) * float(np.abs(v).max()))
        if terms is None:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                total = self._rank1_spread_by_class(u, v, ctx)
                np.log1p(total, out=total)
            far = np.abs(u) * np.abs(v).max(axis=1)[:, None] > IDENTITY_RADIUS
            self._stabilize(total, far, lambda m, n: u[m, n, None] * v[m], ctx)
        else:
            coefficients = [v]  # v**k / k!
            for k in range(2, terms + 1):
                coefficients.append(coefficients[-1] * v / k)
            total = np.zeros_like(u)
            product = np.empty_like(u)
            for coefficient in reversed(coefficients):
                total += np.matmul(coefficient, ctx["p_columns"], out=product)
                total *= u
            np.log1p(total, out=total)
        # The target logit's change u * v[:, y] (as a product with the one-hot labels).
        picked = np.matmul(v, ctx["onehot_columns"], out=np.empty_like(u))
        picked *= u
        total -= picked
        return total.mean(axis=1)

    @staticmethod
    def _rank1_spread_by_class(u: np.ndarray, v: np.ndarray, ctx: Context) -> np.ndarray:
        # One contiguous (M, N) pass per class: faster than reducing a short last axis.
        p_columns = ctx["p_columns"]
        total = np.zeros_like(u)
        scaled = np.empty_like(u)
        for c in range(v.shape[1]):
            np.multiply(u, v[:, c : c + 1], out=scaled)
            np.expm1(scaled, out=scaled)
            scaled *= p_columns[c]
            total += scaled
        return total

    def column_delta(self, columns: np.ndarray, d: np.ndarray, ctx: Context) -> np.ndarray:
        p = ctx["p_columns"][columns]
        hit = ctx["targets"][None, :] == columns[:, None]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            spread = np.log1p(p * np.expm1(d))

        def rows(m: np.ndarray, n: np.ndarray) -> np.ndarray:
            D = np.zeros((len(m), ctx["p"].shape[1]))
            D[np.arange(len(m)), columns[m]] = d[m, n]
            return D

        self._stabilize(spread, np.abs(d) > IDENTITY_RADIUS, rows, ctx)
        return (spread - np.where(hit, d, 0.0)).mean(axis=1)


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy on logits: ``mean(softplus(z) - y z)`` over samples and outputs.

    One output per independent binary label; targets are 0/1 of shape (N,) or (N, K).
    """

    name = "binary_cross_entropy"
    task = "binary"

    def prepare_targets(self, y: object, n_outputs: int) -> np.ndarray:
        return _check_values(y, n_outputs, binary=True)

    def batched(self, outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        if np.iscomplexobj(outputs):
            # softplus(z) = z + log1p(exp(-z)) for Re z > 0, else log1p(exp(z)): analytic on
            # each branch, for the complex step.
            positive = outputs.real > 0
            softplus = outputs * positive + np.log1p(np.exp(np.where(positive, -outputs, outputs)))
        else:
            softplus = np.maximum(outputs, 0.0) + np.log1p(np.exp(-np.abs(outputs)))
        return (softplus - targets * outputs).mean(axis=(-2, -1))

    def transform(self, outputs: np.ndarray) -> np.ndarray:
        return 0.5 + 0.5 * np.tanh(0.5 * outputs)

    def context(self, outputs: np.ndarray, targets: np.ndarray) -> Context:
        ctx = super().context(outputs, targets)
        ctx["p"] = self.transform(outputs)
        return ctx

    @staticmethod
    def _softplus_change(z: np.ndarray, p: np.ndarray, d: np.ndarray) -> np.ndarray:
        """``softplus(z + d) - softplus(z)`` with ``p = sigmoid(z)``: ``log1p(p expm1(d))``
        (exact to rounding) where ``|d| <= IDENTITY_RADIUS``, else the difference itself."""
        far = np.abs(d) > IDENTITY_RADIUS
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            change = np.log1p(p * np.expm1(d))
        if far.any():
            z = np.broadcast_to(z, change.shape)[far]
            step = np.broadcast_to(d, change.shape)[far]
            change[far] = softplus(z + step) - softplus(z)
        return change

    def delta(self, D: np.ndarray, ctx: Context) -> np.ndarray:
        change = self._softplus_change(ctx["outputs"], ctx["p"], D) - ctx["targets"] * D
        return change.mean(axis=(1, 2))

    def column_delta(self, columns: np.ndarray, d: np.ndarray, ctx: Context) -> np.ndarray:
        z = ctx["outputs"][:, columns].T
        t = ctx["targets"][:, columns].T
        change = self._softplus_change(z, ctx["p"][:, columns].T, d) - t * d
        return change.sum(axis=1) / ctx["targets"].size


class MeanSquaredError(Loss):
    """Mean over samples and outputs of the squared error."""

    name = "mse"
    task = "regression"

    def prepare_targets(self, y: object, n_outputs: int) -> np.ndarray:
        return _check_values(y, n_outputs)

    def batched(self, outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return ((outputs - targets) ** 2).mean(axis=(-2, -1))

    def context(self, outputs: np.ndarray, targets: np.ndarray) -> Context:
        ctx = super().context(outputs, targets)
        ctx["residual"] = outputs - targets
        return ctx

    def delta(self, D: np.ndarray, ctx: Context) -> np.ndarray:
        return (D * (2.0 * ctx["residual"] + D)).mean(axis=(1, 2))

    def rank1_delta(self, u: np.ndarray, v: np.ndarray, ctx: Context) -> np.ndarray:
        # sum_nk u_n v_k (2 r_nk + u_n v_k) = 2 v . (u @ r) + |u|^2 |v|^2
        cross = np.einsum("mk,mk->m", v, u @ ctx["residual"])
        square = np.einsum("mn,mn->m", u, u) * np.einsum("mk,mk->m", v, v)
        return (2.0 * cross + square) / ctx["residual"].size

    def column_delta(self, columns: np.ndarray, d: np.ndarray, ctx: Context) -> np.ndarray:
        r = ctx["residual"][:, columns].T
        return (d * (2.0 * r + d)).sum(axis=1) / ctx["residual"].size


class MeanAbsoluteError(Loss):
    """Mean over samples and outputs of the absolute error."""

    name = "mae"
    task = "regression"

    def prepare_targets(self, y: object, n_outputs: int) -> np.ndarray:
        return _check_values(y, n_outputs)

    def batched(self, outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        if np.iscomplexobj(outputs):
            raise ValueError(
                "loss 'mae' is not analytic (|r| has no complex derivative), so "
                "method='complex_step' cannot differentiate it; use a finite-difference method."
            )
        return np.abs(outputs - targets).mean(axis=(-2, -1))

    def context(self, outputs: np.ndarray, targets: np.ndarray) -> Context:
        ctx = super().context(outputs, targets)
        ctx["residual"] = outputs - targets
        return ctx

    def delta(self, D: np.ndarray, ctx: Context) -> np.ndarray:
        r = ctx["residual"]
        return (np.abs(r + D) - np.abs(r)).mean(axis=(1, 2))

    def column_delta(self, columns: np.ndarray, d: np.ndarray, ctx: Context) -> np.ndarray:
        r = ctx["residual"][:, columns].T
        return (np.abs(r + d) - np.abs(r)).sum(axis=1) / ctx["residual"].size


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls for cls in (CrossEntropy, BinaryCrossEntropy, MeanSquaredError, MeanAbsoluteError)
}


class FunctionLoss(Loss):
    """A loss given as a function ``f(y_true, y_pred) -> float`` (Keras's convention).

    ``y_true`` is the float targets ``(N, K)`` (a 1-D ``y`` becomes one column), ``y_pred``
    the network's raw outputs ``(N, K)``; ``f`` returns the mean loss of the batch. It is a
    regression-style loss: ``predict`` returns the raw outputs. Perturbed outputs are
    evaluated one batch at a time (no exact loss-change identity is known for ``f``).

    Examples
    --------
    >>> import numpy as np
    >>> def huber(y_true, y_pred):
    ...     r = np.abs(y_pred - y_true)
    ...     return float(np.mean(np.where(r < 1, 0.5 * r**2, r - 0.5)))
    >>> loss = FunctionLoss(huber)
    >>> loss.name, round(loss(np.array([[0.0], [3.0]]), np.array([[0.5], [0.0]])), 4)
    ('huber', 1.3125)
    """

    task = "regression"

    def __init__(self, function: object) -> None:
        if not callable(function):
            raise TypeError(f"loss must be callable f(y_true, y_pred); got {describe(function)}.")
        self.function = function
        self.name = getattr(function, "__name__", type(function).__name__)

    def prepare_targets(self, y: object, n_outputs: int) -> np.ndarray:
        return _check_values(y, n_outputs)

    def batched(self, outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        stack = outputs.reshape((-1,) + outputs.shape[-2:])
        values = np.empty(len(stack))
        for m, batch in enumerate(stack):
            value = self.function(targets, batch)
            if np.ndim(value) != 0:
                raise ValueError(
                    f"loss function {self.name!r} must return a scalar; got shape "
                    f"{np.shape(value)}."
                )
            values[m] = float(value)
        return values.reshape(outputs.shape[:-2])


def get_loss(spec: str | Loss) -> Loss:
    """Return a loss instance from its name, an instance, or a function ``f(y_true, y_pred)``."""
    if isinstance(spec, Loss):
        return spec
    if callable(spec) and not isinstance(spec, type):
        return FunctionLoss(spec)
    if not isinstance(spec, str):
        raise TypeError(
            f"loss must be a name in {list(LOSSES)}, a Loss or a function f(y_true, y_pred); "
            f"got {describe(spec)}."
        )
    return LOSSES[check_choice("loss", spec, LOSSES)]()
