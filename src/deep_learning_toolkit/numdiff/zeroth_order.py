r"""Zeroth-order gradient estimators: SPSA and Gaussian smoothing, in place as MeZO does.

A per-parameter finite difference costs at least ``P`` loss evaluations; these estimators cost
``2n`` (two-sided) or ``n + 1`` (one-sided) whatever ``P`` is. Each of the ``n`` directions
``z`` is random (Rademacher ``+-1`` for ``"spsa"``, standard normal for ``"gaussian"``) and is
never stored: it is regenerated from a per-step seed, block by block, for the ``+``, ``-``,
restore and update passes. The parameter vector is perturbed in place, so a step needs the
memory of one forward pass and a few blocks of :data:`BLOCK` entries beyond the parameters
(plus optimizer state, which the lean SGD update :func:`sgd_update` does not need).

Exact restoration
-----------------
In floating point ``(x + d) - d`` is not ``x`` in general, and no rule can undo an absolute
shift of every float exactly: there are far more floats in ``(-d, d)`` than in ``(0, 2d)``.
Here the parameters live on a fixed-point *grid* during a step: multiples of a power of two
``q`` chosen from ``M = max|theta| + 2 * scale * Z`` (``Z`` bounds ``|z|``) so that
``M < 2**53 * q``. Every multiple of ``q`` up to ``M`` in magnitude is a float64, every shift
``d`` is rounded to a multiple of ``q`` and so every ``theta +- d`` along the way is computed
exactly: the ``+ d``, ``- 2d``, ``+ d`` passes give back the same bits. The only change to the
parameters is the snap to the grid at the start of a step (:func:`snap_to_grid`), which moves
an entry by at most ``q / 2 ~ 1.1e-16 * M``, less than one rounding of a float64 addition at
the largest parameter; parameters already on the grid are left untouched.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .._validation import check_choice, check_float, check_int, describe
from .interrupts import deferred_interrupts

#: Direction distributions: Rademacher ``+-1`` (SPSA) or standard normal.
DISTRIBUTIONS: tuple[str, ...] = ("rademacher", "gaussian")

#: Entries of a direction generated at a time: the only per-step buffers (512 KiB each).
BLOCK = 1 << 16

#: A bound on ``|z|``. Gaussian draws are clipped to it, which never changes one: NumPy's
#: ziggurat cannot return more than about 13.7 in float64 (its tail draw is
#: ``r - log(1 - u) / r`` with ``r ~ 3.654`` and ``1 - u >= 2**-53``); the clip only makes the
#: grid argument independent of the generator.
DIRECTION_BOUND: dict[str, float] = {"rademacher": 1.0, "gaussian": 16.0}

#: Smallest ``scale / q`` accepted: below it the grid would round the shifts to nothing useful.
_MIN_RESOLUTION = 2.0**20


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
    if isinstance(method, ZerothOrder):
        spec, parsed = method, {}
    elif isinstance(method, str):
        name, _, rest = method.partition(":")
        name = name.strip()
        if name not in ZEROTH_ORDER_METHODS:
            raise ValueError(
                f"Unknown zeroth-order method {method!r}; valid names are "
                f"{list(ZEROTH_ORDER_METHODS)} (optionally followed by ':key=value,...')."
            )
        spec, parsed = ZEROTH_ORDER_METHODS[name], {}
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
    changes = {**parsed, **options}
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
class _Direction:
    """Direction ``k`` of a step, regenerated block by block on every pass.

    The values come from ``np.random.default_rng([seed, k])`` in blocks of :data:`BLOCK`
    entries; each pass rewinds the generator to its start, so every pass sees the same
    direction. A direction of at most one block is generated once and kept (that block is
    the only memory a direction ever holds).
    """

    def __init__(self, distribution: str, seed: int, k: int, size: int) -> None:
        self.distribution = distribution
        self.size = size
        self.rng = np.random.default_rng([seed, k])
        self.start: dict | None = None  # the generator's state before the first block
        self.buffer = np.empty(min(BLOCK, size))
        self.kept: np.ndarray | None = None  # z itself, for a direction of one block

    def blocks(self, scale: float = 1.0) -> Iterator[tuple[slice, np.ndarray]]:
        """Yield ``(slice, scale * z[slice])`` in a reused array the caller may overwrite.

        Rademacher blocks are ``+-scale`` exactly; Gaussian ones ``scale * z`` rounded once.
        """
        if self.kept is not None:
            np.multiply(self.kept, scale, out=self.buffer)
            yield slice(0, self.size), self.buffer
            return
        if self.start is not None:
            self.rng.bit_generator.state = self.start
        elif self.size > BLOCK:
            self.start = self.rng.bit_generator.state
        keep = self.size <= BLOCK
        for start in range(0, self.size, BLOCK):
            stop = min(start + BLOCK, self.size)
            block = self.buffer[: stop - start]
            if self.distribution == "rademacher":
                random = np.frombuffer(self.rng.bytes((stop - start + 7) // 8), dtype=np.uint8)
                bits = np.unpackbits(random, count=stop - start)
                np.multiply(bits, -2.0 * (1.0 if keep else scale), out=block)
                block += 1.0 if keep else scale  # +-1 or +-scale, exactly
            else:
                self.rng.standard_normal(out=block)
                bound = DIRECTION_BOUND[self.distribution]
                np.clip(block, -bound, bound, out=block)
                if not keep and scale != 1.0:
                    block *= scale
            if keep:
                self.kept = block.copy()
                block *= scale
            yield slice(start, stop), block


def direction(spec: ZerothOrder | str, seed: int, k: int, size: int) -> np.ndarray:
    """Materialise direction ``k`` of the step with seed ``seed`` (for tests and inspection).

    The estimators never hold a whole direction; they regenerate these same values block by
    block.
    """
    spec = get_zeroth_order(spec)
    k = check_int("k", k, minimum=0)
    size = check_int("size", size, minimum=1)
    out = np.empty(size)
    for part, block in _Direction(spec.distribution, _check_seed(seed), k, size).blocks():
        out[part] = block
    return out


# --------------------------------------------------------------------------- the grid
class ScaleTooSmallError(ValueError):
    """The perturbation scale is below the resolution of parameters this large (in training,
    a sign that the parameters diverged)."""


def perturbation_grid(theta: np.ndarray, spec: ZerothOrder | str) -> float:
    """The power of two ``q`` on whose multiples the perturbations of ``theta`` are exact.

    ``q = 2**(e - 53)`` with ``M = max|theta| + 2 * scale * DIRECTION_BOUND < 2**e``, so that
    every multiple of ``q`` of magnitude up to ``M`` is a float64.

    Raises
    ------
    ValueError
        If ``theta`` holds NaN or infinity, or ``scale`` is below ``2**20 q`` (relative to
        ``max|theta|`` so small that the shifts would be mostly rounding).
    """
    return _grid(_flat(theta), get_zeroth_order(spec))


def _grid(flat: np.ndarray, spec: ZerothOrder) -> float:
    """:func:`perturbation_grid` of a checked flat array."""
    largest = max(float(flat.max()), -float(flat.min()))
    if not np.isfinite(largest):
        bad = int(np.flatnonzero(~np.isfinite(flat))[0])
        raise ValueError(f"theta contains {flat[bad]} at index {bad}; parameters must be finite.")
    bound = largest + 2.0 * spec.scale * DIRECTION_BOUND[spec.distribution]
    quantum = math.ldexp(1.0, math.frexp(bound)[1] - 53)
    if spec.scale < _MIN_RESOLUTION * quantum:
        raise ScaleTooSmallError(
            f"scale={spec.scale:g} is too small for parameters as large as {largest:g}: "
            f"it must be at least {_MIN_RESOLUTION * quantum:g} (2**-33 of max|theta|)."
        )
    return quantum


def snap_to_grid(theta: np.ndarray, quantum: float) -> None:
    """Round ``theta`` in place to the nearest multiples of the power of two ``quantum``.

    Each entry moves by at most ``quantum / 2``; entries already on the grid keep their bits
    (``-0.0`` becomes ``+0.0``, the zero that the shifts give back). Scaling by a power of
    two and ``rint`` are exact, so nothing else changes.
    """
    flat = _flat(theta)
    if (
        isinstance(quantum, bool)
        or not isinstance(quantum, numbers.Real)
        or not (0 < quantum < math.inf and math.frexp(quantum)[0] == 0.5)
    ):
        raise ValueError(f"quantum must be a positive power of two; got {quantum!r}.")
    inverse = 1.0 / quantum
    for start in range(0, flat.size, BLOCK):
        part = flat[start : start + BLOCK]
        part *= inverse
        np.rint(part, out=part)
        part *= quantum
        part += 0.0  # -0.0 (from rounding small negatives) becomes +0.0, as x + d - d gives


def _shift(
    flat: np.ndarray, spec: ZerothOrder, z_k: _Direction, quantum: float, times: int
) -> None:
    """``flat += times * d_k`` exactly, with ``d_k = rint(scale * z_k / q) * q`` regenerated."""
    ratio = spec.scale / quantum
    if spec.distribution == "rademacher":
        # +-rint(h/q) q times a small integer: every block entry is a multiple of q
        for part, d in z_k.blocks(float(np.rint(ratio)) * times * quantum):
            flat[part] += d
        return
    for part, d in z_k.blocks(ratio):
        np.rint(d, out=d)
        d *= times * quantum
        flat[part] += d


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
    #: Directions of at most one block, generated once and reused by the update.
    cached_directions: tuple[_Direction, ...] = dataclasses.field(
        default=(), repr=False, compare=False
    )


def _check_seed(seed: object) -> int:
    return check_int("seed", seed, minimum=0)


def _flat(theta: object) -> np.ndarray:
    """A flat writable view of ``theta``, which must be a C-contiguous float64 array."""
    if not isinstance(theta, np.ndarray) or theta.dtype != np.float64:
        raise TypeError(f"theta must be a float64 NumPy array; got {describe(theta)}.")
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
        C-contiguous float64 parameters (any shape), perturbed in place.
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
    flat = _flat(theta)
    quantum = _grid(flat, spec)
    snap_to_grid(flat, quantum)
    return _slopes(f, theta, flat, spec, seed, quantum, value)


def _slopes(
    f: Callable[[np.ndarray], float],
    theta: np.ndarray,
    flat: np.ndarray,
    spec: ZerothOrder,
    seed: int,
    quantum: float,
    value: float | None,
    finite: bool = True,
) -> ZerothOrderEstimate:
    """The passes of :func:`directional_slopes` on an already snapped ``theta``.

    With ``finite=False`` non-finite values of ``f`` are kept (and give non-finite slopes).
    """
    evaluations = 0
    if value is None and not spec.two_sided:
        value = _evaluate(f, theta, "theta", finite)
        evaluations += 1
    n = spec.n_directions
    plus = np.empty(n)
    minus = np.empty(n) if spec.two_sided else None
    cached = []
    for k in range(n):
        z_k = _Direction(spec.distribution, seed, k, flat.size)
        if flat.size <= BLOCK:
            cached.append(z_k)
        offset = 0  # multiples of d_k currently added, undone whatever interrupts f
        try:
            with deferred_interrupts():  # a shift is never left half-done by Ctrl-C
                _shift(flat, spec, z_k, quantum, 1)
                offset = 1
            plus[k] = _evaluate(f, theta, f"theta + h*z_{k}", finite)
            if spec.two_sided:
                with deferred_interrupts():
                    _shift(flat, spec, z_k, quantum, -2)
                    offset = -1
                minus[k] = _evaluate(f, theta, f"theta - h*z_{k}", finite)
            evaluations += 2 if spec.two_sided else 1
        finally:
            with deferred_interrupts():
                if offset:
                    _shift(flat, spec, z_k, quantum, -offset)
                    offset = 0
    if spec.distribution == "rademacher":
        scale = float(np.rint(spec.scale / quantum)) * quantum
    else:
        scale = spec.scale
    slopes = (plus - minus) / (2.0 * scale) if spec.two_sided else (plus - value) / scale
    return ZerothOrderEstimate(
        slopes,
        value,
        plus,
        minus,
        scale,
        quantum,
        seed,
        flat.size,
        evaluations,
        spec,
        tuple(cached),
    )


def _combined_blocks(
    estimate: ZerothOrderEstimate, factor: float = 1.0
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(slice, factor * ghat[slice])``, ``ghat = mean_k(slopes[k] * z_k)`` regenerated."""
    spec = estimate.spec
    directions = estimate.cached_directions or [
        _Direction(spec.distribution, estimate.seed, k, estimate.size)
        for k in range(spec.n_directions)
    ]
    weights = factor * estimate.slopes / spec.n_directions
    streams = [z_k.blocks(weight) for z_k, weight in zip(directions, weights)]
    for blocks in zip(*streams):
        part, total = blocks[0]
        for _, block in blocks[1:]:
            total += block
        yield part, total


def estimate_gradient(estimate: ZerothOrderEstimate, out: np.ndarray | None = None) -> np.ndarray:
    """The gradient estimate ``mean_k(slopes[k] * z_k)`` as a full vector (for any optimizer).

    Parameters
    ----------
    estimate : ZerothOrderEstimate
    out : ndarray, optional
        float64 array of ``estimate.size`` entries to write into (any shape).

    Returns
    -------
    ndarray
        Flat, or ``out``.
    """
    if out is None:
        out = np.empty(estimate.size)
    flat = _flat(out)
    if flat.size != estimate.size:
        raise ValueError(f"out must have {estimate.size} entries; got {flat.size}.")
    for part, block in _combined_blocks(estimate):
        flat[part] = block
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
    squares = 0.0
    with deferred_interrupts():  # the update is applied whole or not at all
        for part, block in _combined_blocks(estimate, -lr):
            squares += float(np.einsum("i,i->", block, block))  # no BLAS threads for a dot
            flat[part] += block
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

    See :func:`directional_slopes` for the parameters. The result is a new flat array.

    Examples
    --------
    >>> import numpy as np
    >>> from deep_learning_toolkit.numdiff.zeroth_order import zeroth_order_gradient
    >>> theta = np.array([1.0, -2.0, 0.5])
    >>> estimates = [zeroth_order_gradient(lambda v: float(v @ v), theta, "spsa", s)
    ...              for s in range(2000)]
    >>> np.allclose(np.mean(estimates, axis=0), 2 * theta, atol=0.15)
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
    """One memory-lean MeZO step: the perturbation passes, then :func:`sgd_update`.

    Peak memory beyond ``theta`` is what ``f`` needs plus a few blocks of
    :data:`BLOCK` entries. Returns the estimate (its ``value``/``plus`` hold the losses).
    """
    estimate = directional_slopes(f, theta, spec, seed)
    sgd_update(theta, estimate, lr)
    return estimate


#: Names the model-gradient code (``gradients/zeroth_order.py``) builds on.
check_seed = _check_seed
flat_parameters = _flat
slopes_at = _slopes
