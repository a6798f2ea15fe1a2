r"""Zeroth-order gradient estimators: SPSA and Gaussian smoothing, in place as MeZO does.

A per-parameter finite difference costs at least ``P`` loss evaluations; these estimators cost
``2n`` (two-sided) or ``n + 1`` (one-sided) whatever ``P`` is. Each of the ``n`` directions
``z`` is random (Rademacher ``+-1`` for ``"spsa"``, Gaussian for ``"gaussian"``:
:mod:`~deep_learning_toolkit.numdiff.directions`) and is never stored: it is regenerated from
a per-step seed, block by block, in every pass over the parameters. The parameter vector
(float64 or float32) is perturbed in place, so a step needs the memory of one forward pass and
a few blocks of :data:`BLOCK` entries per thread beyond the parameters (plus optimizer state,
which the lean SGD update does not need).

Exact restoration
-----------------
In floating point ``(x + d) - d`` is not ``x`` in general. During a step the parameters live
on a fixed-point grid (:mod:`~deep_learning_toolkit.numdiff.grid`): multiples of a power of
two ``q`` so fine that every multiple up to the largest magnitude the step reaches is a float
of the parameters' dtype (``2**-53`` of it in float64, ``2**-24`` in float32); every shift is
a multiple of ``q``, so the ``+d``, ``-2d``, ``+d`` passes give back the same bits. The only
change to the parameters is the snap to the grid at the start of a step (fused with the first
shift), which moves an entry by at most ``q / 2``, less than one rounding of an addition at the
largest parameter; parameters already on the grid are left untouched.

Cost
----
:func:`zeroth_order_step` (and ``fit``'s memory-lean SGD path) makes three passes over the
parameters for a two-sided step with one direction: ``+d`` (with the snap), ``-2d``, and
``+d`` fused with the update ``-lr * ghat`` and the rounding to the next step's grid
(:mod:`~deep_learning_toolkit.numdiff.passes`), each generating the direction once; plus one
read to find ``max|theta|``. In float32 the perturbed losses carry rounding errors of
``~1e-7`` relative, which the slopes divide by ``2h``: for ``h = 1e-3`` that is far below the
variance of the estimator itself.

Notes
-----
With directions ``z_k`` of identity covariance, scale ``h`` and ``f`` evaluated at
``theta +- h z_k``:

.. math::

    g_k = \frac{f(\theta + h z_k) - f(\theta - h z_k)}{2h}
    \quad\text{(two-sided)}, \qquad
    g_k = \frac{f(\theta + h z_k) - f(\theta)}{h} \quad\text{(one-sided)},

    \hat g = \frac{1}{n} \sum_{k=1}^{n} g_k \, z_k .

Since ``E[z z^T] = I``, ``E[\hat g] = \nabla f`` up to ``O(h^2)`` for smooth ``f``, exactly for
a quadratic (the one-sided bias ``(h/2) E[(z^T A z) z]`` vanishes because odd moments of
``z`` are zero). The variance grows with the dimension: for a two-sided estimate of a quadratic
the variances of the entries of ``\hat g`` sum to ``(P + 1) |\nabla f|^2 / n`` (Gaussian) or
``(P - 1) |\nabla f|^2 / n`` (Rademacher), so zeroth-order training needs many more, but much
cheaper, steps.

References
----------
J. C. Spall, "Multivariate stochastic approximation using a simultaneous perturbation
gradient approximation", IEEE Trans. Automatic Control 37(3), 1992.

Y. Nesterov and V. Spokoiny, "Random gradient-free minimization of convex functions",
Foundations of Computational Mathematics 17, 2017.

S. Malladi et al., "Fine-Tuning Language Models with Just Forward Passes" (MeZO),
NeurIPS 2023, arXiv:2305.17333.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_choice, check_float, check_int, describe
from .directions import BLOCK, DIRECTION_BOUND, Direction
from .grid import ScaleTooSmallError, grid_quantum, largest_magnitude
from .grid import snap_to_grid as _snap
from .interrupts import deferred_interrupts
from .passes import Passes

#: Direction distributions: Rademacher ``+-1`` (SPSA) or standard normal.
DISTRIBUTIONS: tuple[str, ...] = ("rademacher", "gaussian")

#: Dtypes of the parameters the passes work on.
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class ZerothOrder:
    """How to estimate a gradient from random directional differences.

    Parameters
    ----------
    distribution : {"rademacher", "gaussian"}
        Distribution of the direction entries: ``+-1`` with equal probability (SPSA) or
        standard normal (Gaussian smoothing).
    two_sided : bool, default True
        ``(f(x + h z) - f(x - h z)) / 2h`` (2 evaluations a direction, error ``O(h^2)``) or
        ``(f(x + h z) - f(x)) / h`` (1 evaluation a direction plus ``f(x)``, error ``O(h)``).
    n_directions : int, default 1
        Directions averaged per step; the variance falls like ``1 / n_directions``.
    scale : float, default 1e-3
        Perturbation size ``h`` (absolute, as in MeZO).
    seed : int or None, default None
        Base seed of the directions; ``None`` lets the caller (e.g. ``Sequential.fit``) use
        its own seed. The directions of a step depend on :func:`step_seed` of it.

    Examples
    --------
    >>> from deep_learning_toolkit.numdiff.zeroth_order import get_zeroth_order
    >>> get_zeroth_order("spsa:n_directions=4,two_sided=false")
    ZerothOrder(distribution='rademacher', two_sided=False, n_directions=4, scale=0.001, seed=None)
    """

    distribution: str = "rademacher"
    two_sided: bool = True
    n_directions: int = 1
    scale: float = 1e-3
    seed: int | None = None

    def __post_init__(self) -> None:
        check_choice("distribution", self.distribution, DISTRIBUTIONS)
        if not isinstance(self.two_sided, (bool, np.bool_)):
            raise TypeError(f"two_sided must be True or False; got {describe(self.two_sided)}.")
        object.__setattr__(self, "two_sided", bool(self.two_sided))
        object.__setattr__(
            self, "n_directions", check_int("n_directions", self.n_directions, minimum=1)
        )
        object.__setattr__(self, "scale", check_float("scale", self.scale, positive=True))
        if self.seed is not None:
            object.__setattr__(self, "seed", check_int("seed", self.seed, minimum=0))

    @property
    def name(self) -> str:
        """Method name: ``"spsa"`` (Rademacher) or ``"gaussian"``."""
        return _NAME_OF[self.distribution]

    @property
    def label(self) -> str:
        """The name with the options that differ from the defaults, e.g. ``"spsa:n_directions=4"``.

        :func:`get_zeroth_order` parses it back to an equal spec.
        """
        base = ZEROTH_ORDER_METHODS[self.name]
        changed = [
            f"{field.name}={_format_option(getattr(self, field.name))}"
            for field in dataclasses.fields(self)
            if field.name != "distribution"
            and getattr(self, field.name) != getattr(base, field.name)
        ]
        return self.name + (":" + ",".join(changed) if changed else "")

    @property
    def perturbed_evaluations(self) -> int:
        """Evaluations at perturbed points per step: ``2n`` two-sided, ``n`` one-sided."""
        return self.n_directions * (2 if self.two_sided else 1)

    def config(self) -> dict[str, object]:
        """Field values, for logs and saved models (``ZerothOrder(**config)`` rebuilds it)."""
        return dataclasses.asdict(self)


#: The named methods and their default specs.
ZEROTH_ORDER_METHODS: dict[str, ZerothOrder] = {
    "spsa": ZerothOrder("rademacher"),
    "gaussian": ZerothOrder("gaussian"),
}
_NAME_OF = {spec.distribution: name for name, spec in ZEROTH_ORDER_METHODS.items()}
_OPTIONS = tuple(f.name for f in dataclasses.fields(ZerothOrder) if f.name != "distribution")


def _format_option(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value).lower()


def _parse_option(key: str, text: str) -> object:
    """Convert the text of one ``key=value`` option of a method string."""
    text = text.strip()
    if key == "two_sided":
        words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
        if text.lower() not in words:
            raise ValueError(f"option two_sided must be true or false; got {text!r}.")
        return words[text.lower()]
    if key == "seed" and text.lower() == "none":
        return None
    try:
        return int(text) if key in ("n_directions", "seed") else float(text)
    except ValueError:
        kind = "an integer" if key in ("n_directions", "seed") else "a number"
        raise ValueError(f"option {key} must be {kind}; got {text!r}.") from None


def is_zeroth_order(method: object) -> bool:
    """Whether ``method`` names a zeroth-order estimator: ``"spsa"``, ``"gaussian:..."``, a spec."""
    if isinstance(method, ZerothOrder):
        return True
    return isinstance(method, str) and method.split(":", 1)[0].strip() in ZEROTH_ORDER_METHODS


def get_zeroth_order(method: str | ZerothOrder, **options: object) -> ZerothOrder:
    """Return the :class:`ZerothOrder` spec for a name, a name with options, or a spec.

    Parameters
    ----------
    method : str or ZerothOrder
        ``"spsa"`` or ``"gaussian"``, optionally followed by ``:key=value,...`` options, e.g.
        ``"gaussian:n_directions=8,two_sided=false,scale=1e-3"``; or a spec.
    **options
        Field values that override those of ``method`` (``two_sided``, ``n_directions``,
        ``scale``, ``seed``).

    Raises
    ------
    ValueError
        For an unknown name or option, or an invalid value.
    TypeError
        If ``method`` is neither a string nor a spec, or an option has the wrong type.
    """
    parsed: dict[str, object] = {}
    if isinstance(method, ZerothOrder):
        spec = method
    elif isinstance(method, str):
        name, _, rest = method.partition(":")
        name = name.strip()
        if name not in ZEROTH_ORDER_METHODS:
            raise ValueError(
                f"Unknown zeroth-order method {method!r}; valid names are "
                f"{list(ZEROTH_ORDER_METHODS)} (optionally followed by ':key=value,...')."
            )
        spec = ZEROTH_ORDER_METHODS[name]
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, equals, value = item.partition("=")
            key = key.strip()
            if not equals or key not in _OPTIONS:
                raise ValueError(
                    f"method option {item!r} in {method!r} is not key=value with a key in "
                    f"{list(_OPTIONS)}."
                )
            parsed[key] = _parse_option(key, value)
    else:
        raise TypeError(
            f"method must be a name in {list(ZEROTH_ORDER_METHODS)} or a ZerothOrder; "
            f"got {describe(method)}."
        )
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ValueError(
            f"Unknown zeroth-order option(s) {unknown}; valid ones are {list(_OPTIONS)}."
        )
    changes: dict[str, Any] = {**parsed, **options}
    return dataclasses.replace(spec, **changes) if changes else spec


def step_seed(seed: int, epoch: int, batch: int) -> int:
    """The seed of the directions of one training step, a pure function of its position.

    A run resumed at ``epoch`` therefore draws the directions an uninterrupted run would.

    Parameters
    ----------
    seed : int
        Base seed (the spec's, else the model's).
    epoch, batch : int
        Position of the step.

    Returns
    -------
    int
        A 63-bit seed.
    """
    words = [
        check_int(n, v, minimum=0) for n, v in (("seed", seed), ("epoch", epoch), ("batch", batch))
    ]
    state = np.random.SeedSequence(words).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


# --------------------------------------------------------------------------- directions
def direction(spec: ZerothOrder | str, seed: int, k: int, size: int) -> np.ndarray:
    """Materialise direction ``k`` of the step with seed ``seed`` (for tests and inspection).

    The passes never hold a whole direction; they regenerate these same values block by
    block (:mod:`~deep_learning_toolkit.numdiff.directions`). Returns float64 values
    (``+-1``, or the float32 Gaussian values, exactly).
    """
    spec = get_zeroth_order(spec)
    k = check_int("k", k, minimum=0)
    size = check_int("size", size, minimum=1)
    out = np.empty(size)
    z_k = Direction(spec.distribution, _check_seed(seed), k, size)
    for start in range(0, size, BLOCK):
        z_k.fill(out[start : start + BLOCK])
    return out


# --------------------------------------------------------------------------- the grid
def perturbation_grid(theta: np.ndarray, spec: ZerothOrder | str) -> float:
    """The power of two ``q`` on whose multiples the perturbations of ``theta`` are exact.

    ``q = 2**(e - p)`` with ``M = max|theta| + 2 * scale * DIRECTION_BOUND < 2**e`` and ``p``
    the precision of ``theta``'s dtype (53 bits for float64, 24 for float32), so that every
    multiple of ``q`` of magnitude up to ``M`` is a float of that dtype.

    Raises
    ------
    ValueError
        If ``theta`` holds NaN or infinity, or ``scale`` is below ``2**20 q`` in float64,
        ``2**6 q`` in float32 (relative to ``max|theta|`` so small that the shifts would be
        mostly rounding).
    """
    spec = get_zeroth_order(spec)
    flat = _flat(theta)
    return grid_quantum(largest_magnitude(flat), _reach(spec), spec.scale, flat.dtype)


def _reach(spec: ZerothOrder) -> float:
    """How far the passes move an entry, at most (twice, for the grid's margin)."""
    return 2.0 * spec.scale * DIRECTION_BOUND[spec.distribution]


def snap_to_grid(theta: np.ndarray, quantum: float) -> None:
    """Round ``theta`` in place to the nearest multiples of the power of two ``quantum``.

    Each entry moves by at most ``quantum / 2``; entries already on the grid keep their bits
    (``-0.0`` becomes ``+0.0``, the zero that the shifts give back). Scaling by a power of
    two and ``rint`` are exact, so nothing else changes.
    """
    _snap(_flat(theta), quantum)


# --------------------------------------------------------------------------- estimates
@dataclass(frozen=True)
class ZerothOrderEstimate:
    """The outcome of the perturbation passes of one step: ``n`` directional slopes.

    The gradient estimate ``mean_k(slopes[k] * z_k)`` is never stored here; it is rebuilt from
    ``seed`` by :func:`estimate_gradient` or applied directly by :func:`sgd_update`.

    Attributes
    ----------
    slopes : ndarray
        ``g_k``, the estimated derivative of ``f`` along ``z_k``, shape ``(n_directions,)``.
    value : float or None
        ``f(theta)``, when it was evaluated or given.
    plus, minus : ndarray
        ``f(theta + h z_k)`` and (two-sided) ``f(theta - h z_k)``; ``minus`` is ``None``
        one-sided.
    scale : float
        The step ``h`` the slopes divide by (for ``"spsa"``: the grid-exact shift).
    quantum : float
        The grid of :func:`perturbation_grid`.
    seed : int
        Seed of the directions.
    size : int
        Number of parameters.
    evaluations : int
        Calls of ``f`` made by the step.
    spec : ZerothOrder
    dtype : numpy.dtype
        Dtype of the parameters (float64 or float32).
    """

    slopes: np.ndarray
    value: float | None
    plus: np.ndarray
    minus: np.ndarray | None
    scale: float
    quantum: float
    seed: int
    size: int
    evaluations: int
    spec: ZerothOrder
    dtype: np.dtype = np.dtype(np.float64)

    @property
    def perturbed_mean(self) -> float:
        """Mean of the losses at the perturbed points (``plus`` and ``minus``): for a
        two-sided step, the loss near ``theta`` that costs no extra evaluation (its error
        is ``O(h**2)``, the curvature along the directions)."""
        values = self.plus if self.minus is None else np.concatenate([self.plus, self.minus])
        return float(np.mean(values))

    def passes(self, flat: np.ndarray) -> Passes:
        """Passes over ``flat`` (of :attr:`size` entries) that regenerate these directions."""
        spec = self.spec
        return Passes(
            flat, spec.distribution, spec.scale, self.seed, spec.n_directions, self.quantum, False
        )


def _check_seed(seed: object) -> int:
    return check_int("seed", seed, minimum=0)


def _flat(theta: object) -> np.ndarray:
    """A flat writable view of ``theta``, a C-contiguous float32 or float64 array."""
    if not isinstance(theta, np.ndarray) or theta.dtype not in FLOAT_DTYPES:
        raise TypeError(f"theta must be a float64 or float32 NumPy array; got {describe(theta)}.")
    if not theta.flags.c_contiguous or not theta.flags.writeable:
        raise ValueError(
            "theta must be C-contiguous and writable: it is perturbed in place (pass the "
            "parameter array itself, e.g. model.params, not a slice or a read-only view)."
        )
    if theta.size == 0:
        raise ValueError("theta is empty; at least one parameter is needed.")
    return theta.reshape(-1)


def _evaluate(
    f: Callable[[np.ndarray], float], theta: np.ndarray, where: str, finite: bool = True
) -> float:
    value = f(theta)
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"f must return a real scalar; got {describe(value)} at {where}.")
    value = float(value)
    if finite and not np.isfinite(value):
        raise ValueError(f"f returned {value} at {where}; the estimate needs finite values.")
    return value


def directional_slopes(
    f: Callable[[np.ndarray], float],
    theta: np.ndarray,
    spec: ZerothOrder | str = "spsa",
    seed: int = 0,
    *,
    value: float | None = None,
) -> ZerothOrderEstimate:
    """Evaluate ``f`` at ``theta +- h z_k`` in place and return the directional slopes.

    ``theta`` is first snapped to the grid of :func:`perturbation_grid` (a no-op for a
    ``theta`` already on it; at most ``q/2`` per entry otherwise), then shifted by
    ``+d, -2d, +d`` (two-sided) or ``+d, -d`` (one-sided) for each direction, with the
    direction regenerated from ``seed`` every pass: on return ``theta`` holds exactly the
    snapped bits, also when ``f`` raises.

    Parameters
    ----------
    f : callable
        ``f(theta) -> float``; it reads the perturbed ``theta`` it is given (the very same
        array) and must not modify or keep it.
    theta : ndarray
        C-contiguous float64 or float32 parameters (any shape), perturbed in place.
    spec : ZerothOrder or str
        The estimator, e.g. ``"spsa"`` or ``"gaussian:n_directions=4"``.
    seed : int
        Seed of this step's directions (e.g. :func:`step_seed`).
    value : float, optional
        ``f(theta)`` at the snapped ``theta`` if already known; a one-sided estimate
        evaluates it otherwise, a two-sided one does not need it.

    Returns
    -------
    ZerothOrderEstimate
    """
    spec = get_zeroth_order(spec)
    if not callable(f):
        raise TypeError(f"f must be callable; got {describe(f)}.")
    seed = _check_seed(seed)
    quantum = perturbation_grid(theta, spec)
    snap_to_grid(theta, quantum)
    return run_passes(f, theta, spec, seed, quantum=quantum, value=value)[0]


def run_passes(
    f: Callable[[np.ndarray], float],
    theta: np.ndarray,
    spec: ZerothOrder,
    seed: int,
    *,
    quantum: float | None = None,
    value: float | None = None,
    finite: bool = True,
    update: Callable[[ZerothOrderEstimate], float | None] | None = None,
) -> tuple[ZerothOrderEstimate, float | None]:
    """The evaluations of one step on ``theta`` (checked), in place; optionally its update.

    Parameters
    ----------
    f, theta, spec, seed, value
        As in :func:`directional_slopes` (``spec`` a spec, ``seed`` checked).
    quantum : float, optional
        The grid ``theta`` is already snapped to (e.g. because ``value`` was evaluated on
        it); ``None``: the grid is computed here and the snap is fused with the first pass.
    finite : bool
        Raise on a non-finite value of ``f``; with ``False`` such values give non-finite
        slopes (for ``fit``'s own policy).
    update : callable, optional
        ``update(estimate) -> lr or None``, called after the last evaluation while ``theta``
        is still perturbed. A positive ``lr`` applies MeZO-SGD, ``theta -= lr * ghat``, in the
        pass that restores ``theta`` (one sweep over memory, no gradient vector), and snaps
        the result to the grid of the next step, so that the next step's own snap leaves it
        as it is. ``None`` or ``0``: ``theta`` is only restored. If the update could carry the
        parameters beyond the resolution of ``scale`` (a diverging run), ``theta`` is
        restored and :class:`ScaleTooSmallError` raised.

    Returns
    -------
    estimate : ZerothOrderEstimate
    norm : float or None
        ``|ghat|`` when the update was applied, else ``None``.
    """
    flat = _flat(theta)
    largest = 0.0  # read only below, where it was computed (a snap here or an update)
    if quantum is None or update is not None:
        largest = largest_magnitude(flat)
    snap_first = quantum is None
    if quantum is None:
        quantum = grid_quantum(largest, _reach(spec), spec.scale, flat.dtype)
    passes = Passes(
        flat, spec.distribution, spec.scale, seed, spec.n_directions, quantum, snap_first
    )
    evaluations, norm = 0, None
    try:
        if value is None and not spec.two_sided:
            with deferred_interrupts():
                passes.move_to(0, 0)  # the snap alone: f(theta) at the grid point
            value = _evaluate(f, theta, "theta", finite)
            evaluations += 1
        plus, minus, evaluations = _evaluate_shifts(f, theta, spec, passes, finite, evaluations)
        estimate = _estimate(spec, passes, value, plus, minus, seed, evaluations, flat.dtype)
        lr = None if update is None else update(estimate)
        if lr is not None and lr > 0:
            norm = _apply_update(passes, estimate, lr, largest, spec)
    finally:
        with deferred_interrupts():  # never left shifted, whatever interrupts f
            passes.restore()
    return estimate, norm


def _evaluate_shifts(
    f: Callable[[np.ndarray], float],
    theta: np.ndarray,
    spec: ZerothOrder,
    passes: Passes,
    finite: bool,
    evaluations: int,
) -> tuple[np.ndarray, np.ndarray | None, int]:
    """``f`` at ``theta + d_k`` (and ``theta - d_k``) for every direction; leaves ``theta``
    at the last shift (the caller restores it, fused with its update)."""
    n = spec.n_directions
    plus = np.empty(n)
    minus = np.empty(n) if spec.two_sided else None
    for k in range(n):
        with deferred_interrupts():  # a pass is never left half-done by Ctrl-C
            passes.move_to(k, 1)
        plus[k] = _evaluate(f, theta, f"theta + h*z_{k}", finite)
        evaluations += 1
        if minus is not None:
            with deferred_interrupts():
                passes.move_to(k, -1)
            minus[k] = _evaluate(f, theta, f"theta - h*z_{k}", finite)
            evaluations += 1
    return plus, minus, evaluations


def _estimate(
    spec: ZerothOrder,
    passes: Passes,
    value: float | None,
    plus: np.ndarray,
    minus: np.ndarray | None,
    seed: int,
    evaluations: int,
    dtype: np.dtype,
) -> ZerothOrderEstimate:
    scale = passes.shift_size if spec.distribution == "rademacher" else spec.scale
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite losses: non-finite slopes
        slopes = (plus - minus) / (2.0 * scale) if minus is not None else (plus - value) / scale
    return ZerothOrderEstimate(
        slopes,
        value,
        plus,
        minus,
        scale,
        passes.quantum,
        seed,
        passes.flat.size,
        evaluations,
        spec,
        np.dtype(dtype),
    )


def _apply_update(
    passes: Passes, estimate: ZerothOrderEstimate, lr: float, largest: float, spec: ZerothOrder
) -> float:
    """The fused restore + update + snap of :func:`run_passes`; returns ``|ghat|``."""
    weights = -lr * estimate.slopes / spec.n_directions
    spread = float(np.sum(np.abs(weights))) * DIRECTION_BOUND[spec.distribution]
    after = largest + passes.quantum / 2 + spread * (1.0 + 1e-3)  # before the final snap
    dtype = passes.flat.dtype
    if not math.isfinite(after) or not np.all(np.isfinite(weights)):
        raise ScaleTooSmallError(f"the update would make the parameters {after:g}.", after)
    first = grid_quantum(after, _reach(spec), spec.scale, dtype)
    next_quantum = grid_quantum(after + first / 2, _reach(spec), spec.scale, dtype)
    with deferred_interrupts():  # the update is applied whole or not at all
        squares = passes.restore_and_update(weights, next_quantum)
    return math.sqrt(squares) / lr


def estimate_gradient(estimate: ZerothOrderEstimate, out: np.ndarray | None = None) -> np.ndarray:
    """The gradient estimate ``mean_k(slopes[k] * z_k)`` as a full vector (for any optimizer).

    Parameters
    ----------
    estimate : ZerothOrderEstimate
    out : ndarray, optional
        float64 or float32 array of ``estimate.size`` entries to write into (any shape);
        default: a new array of the parameters' dtype.

    Returns
    -------
    ndarray
        Flat, or ``out``.
    """
    if out is None:
        out = np.empty(estimate.size, dtype=estimate.dtype)
    flat = _flat(out)
    if flat.size != estimate.size:
        raise ValueError(f"out must have {estimate.size} entries; got {flat.size}.")
    weights = estimate.slopes / estimate.spec.n_directions
    estimate.passes(flat).combined(weights, flat, add=False)
    return out


def sgd_update(theta: np.ndarray, estimate: ZerothOrderEstimate, lr: float) -> float:
    """``theta -= lr * mean_k(slopes[k] * z_k)`` without forming the gradient (MeZO-SGD).

    Parameters
    ----------
    theta : ndarray
        The parameters the estimate was made at, updated in place.
    estimate : ZerothOrderEstimate
    lr : float
        Learning rate (> 0).

    Returns
    -------
    float
        The Euclidean norm of the gradient estimate (computed on the way, for logs).
    """
    lr = check_float("lr", lr, positive=True)
    flat = _flat(theta)
    if flat.size != estimate.size:
        raise ValueError(f"theta must have {estimate.size} entries; got {flat.size}.")
    weights = -lr * estimate.slopes / estimate.spec.n_directions
    with deferred_interrupts():  # the update is applied whole or not at all
        squares = estimate.passes(flat).combined(weights, flat, add=True)
    return math.sqrt(squares) / lr


def zeroth_order_gradient(
    f: Callable[[np.ndarray], float],
    theta: np.ndarray,
    spec: ZerothOrder | str = "spsa",
    seed: int = 0,
) -> np.ndarray:
    """A random gradient estimate of ``f`` at ``theta``, which comes back bit for bit.

    (The estimate is made at ``theta`` snapped to the perturbation grid; unlike the in-place
    :func:`directional_slopes`, this function copies ``theta`` once to restore the caller's
    exact bits.)

    See :func:`directional_slopes` for the parameters. The result is a new flat array of
    ``theta``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from deep_learning_toolkit.numdiff.zeroth_order import zeroth_order_gradient
    >>> theta = np.array([1.0, -2.0, 0.5])
    >>> estimates = [zeroth_order_gradient(lambda v: float(v @ v), theta, "spsa", s)
    ...              for s in range(2000)]
    >>> np.allclose(np.mean(estimates, axis=0), 2 * theta, atol=0.4)  # 4 standard errors
    True
    """
    original = _flat(theta).copy()  # the snap too is undone: the caller's bits come back
    try:
        return estimate_gradient(directional_slopes(f, theta, spec, seed))
    finally:
        _flat(theta)[...] = original


def zeroth_order_step(
    f: Callable[[np.ndarray], float],
    theta: np.ndarray,
    lr: float,
    spec: ZerothOrder | str = "spsa",
    seed: int = 0,
) -> ZerothOrderEstimate:
    """One memory-lean MeZO step: the perturbation passes and the SGD update, fused.

    ``theta`` is snapped to its perturbation grid in the first pass, and the update
    ``theta -= lr * ghat`` is applied in the pass that shifts it back, then rounded to the
    grid of the next step (at most ``q/2`` per entry). Peak memory beyond ``theta`` is what
    ``f`` needs plus a few blocks of :data:`BLOCK` entries per thread. Returns the estimate
    (its ``plus``/``minus`` hold the losses).

    Raises
    ------
    ScaleTooSmallError
        If the update would carry the parameters so far that ``scale`` falls below their
        resolution (a diverging run); ``theta`` is then left as it was (snapped).
    """
    spec = get_zeroth_order(spec)
    if not callable(f):
        raise TypeError(f"f must be callable; got {describe(f)}.")
    lr = check_float("lr", lr, positive=True)
    _flat(theta)
    return run_passes(f, theta, spec, _check_seed(seed), update=lambda estimate: lr)[0]


#: Names the model-gradient code (``gradients/zeroth_order.py``) builds on.
check_seed = _check_seed
flat_parameters = _flat

__all__ = [
    "BLOCK",
    "DIRECTION_BOUND",
    "DISTRIBUTIONS",
    "ScaleTooSmallError",
    "ZEROTH_ORDER_METHODS",
    "ZerothOrder",
    "ZerothOrderEstimate",
    "direction",
    "directional_slopes",
    "estimate_gradient",
    "get_zeroth_order",
    "is_zeroth_order",
    "perturbation_grid",
    "run_passes",
    "sgd_update",
    "snap_to_grid",
    "step_seed",
    "zeroth_order_gradient",
    "zeroth_order_step",
]
