r"""A zeroth-order optimizer for any PyTorch model: MeZO-style SPSA and Gaussian steps.

``ZerothOrder`` trains the parameters of any ``nn.Module`` from loss values alone, as MeZO
(Malladi et al., 2023) does: each step perturbs the parameters in place by ``+h z_k`` and
``-h z_k`` for ``n_directions`` random directions ``z_k`` (Rademacher ``+-1`` for ``"spsa"``,
standard normal for ``"gaussian"``), calls the closure for the loss at each, restores the
parameters and applies

.. math::

    \theta \leftarrow \theta - \mathrm{lr}\,\frac{1}{n}\sum_{k=1}^{n}
    \frac{f(\theta + h z_k) - f(\theta - h z_k)}{2h}\, z_k,

optionally through a momentum buffer with :class:`torch.optim.SGD`'s rule. The closure runs
under ``torch.no_grad()``, so a step needs the memory of inference: no autograd graph, no
gradients, no optimizer state (unless ``momentum > 0``, which keeps one buffer per parameter).

Directions are never stored. Direction ``k`` of step ``t`` for the ``j``-th parameter is drawn
by a ``torch.Generator`` on the parameter's device seeded with
:func:`~deep_learning_toolkit.torch.directions.direction_seed` ``(seed, t, k, j)``, block by
block of :data:`~deep_learning_toolkit.torch.directions.BLOCK` entries, once for every pass:
``+`` (pass 1), restore and ``-`` (pass 2), restore and update (pass 3, fused). With ``n``
directions a step makes ``2n + 1`` passes; each holds a few blocks of temporaries.

Exact restoration
-----------------
MeZO's ``x + hz - 2hz + hz`` does not give ``x`` back in floating point: measured on
normal(0, 0.02) weights with ``h = 1e-3``, 29-46% of the float32 entries and 39-46% of the
bfloat16 ones come back changed in their last bits after one step, an error that accumulates
over a run. The NumPy estimators (:mod:`deep_learning_toolkit.numdiff.zeroth_order`) avoid it
by snapping the parameters once to a power-of-two grid on which every shift is exact; that
snap changes the parameters (a step with ``lr=0`` would not leave them bit-identical), and in
bfloat16 the grid (``2**-8`` of ``max|theta|``) is coarser than the usual ``h``.

No rule can recover ``x`` from ``x + d`` and ``d`` alone: where ``|x| < |d|`` rounding maps
many floats ``x`` to one ``x + d`` (there are as many floats in ``[d/2, d)`` as in ``[d, 2d)``,
but they land in ``[1.5 d, 2 d)``, which holds half as many), so a few bits must be kept
somewhere. Here each shift ``a = x + d`` (:func:`~.exact_shift.apply_shift`) also computes the
reverse shift ``a - d`` and compares it with ``x`` bit by bit; for the entries where they
differ it keeps the index (int32) and the original value, and the restore
(:func:`~.exact_shift.undo_shift`) computes the same ``a - d`` from the same ``a`` and the same
regenerated ``d`` (hence the same rounding) and writes those entries back. Every parameter
therefore comes back bit for bit, in any floating dtype (float64, float32, bfloat16, float16),
on any device, and even when the closure raises (``KeyboardInterrupt`` included): the restore
runs in a ``finally``. The entries kept are those the rounding of ``x + d`` touched: typically
entries below ``|h z|`` in magnitude and some next to a power of two. Measured with
``h = 1e-3``: 2-8% of the entries of normal(0, 0.02-0.1) weights (17% in float64 with SPSA at
0.02; 0.3% for normal(0, 1)), 2.9% of a freshly initialised ``nn.TransformerEncoder``. Each
costs 6-12 bytes (an int32 index and the value), for one perturbation at a time, against the
2-8 bytes per entry of a copy of every parameter; the other temporaries are a few blocks.

With ``h`` below the spacing of the floats around a parameter (in bfloat16 ``1e-3`` is below
the spacing ``2**-7`` of 1), the shift rounds to nothing on that entry: choose ``h`` above the
spacing of the parameters that matter (``2**-8 max|theta|`` for bfloat16).

References
----------
S. Malladi et al., "Fine-Tuning Language Models with Just Forward Passes" (MeZO),
NeurIPS 2023, arXiv:2305.17333.

J. C. Spall, "Multivariate stochastic approximation using a simultaneous perturbation
gradient approximation", IEEE Trans. Automatic Control 37(3), 1992.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from .._validation import check_choice, check_float, check_int, describe
from .directions import (
    METHODS,
    DirectionStream,
    blocks,
    direction,
    generation_dtype,
    mixed_seed,
)
from .exact_shift import BITS, Lost, apply_shift, perturbation, undo_shift

#: A state_dict key of its own for what is not per group: method, directions, seed, steps.
STATE_KEY = "zeroth_order"


@dataclass
class _Entry:
    """One parameter of the optimizer, its group, its position ``index`` and its blocks."""

    param: torch.Tensor
    group: dict[str, Any]
    index: int
    contiguous: bool = field(init=False)
    spans: list[tuple[int, int]] = field(init=False)

    def __post_init__(self) -> None:
        self.contiguous = self.param.is_contiguous()
        self.spans = list(blocks(self.param.numel(), self.contiguous))

    def read(self, start: int, stop: int) -> torch.Tensor:
        """Entries ``start:stop`` of the flat parameter (a view when contiguous)."""
        if self.contiguous:
            return self.param.view(-1)[start:stop]
        return self.param.reshape(-1)[start:stop]

    def write(self, start: int, stop: int, values: torch.Tensor) -> None:
        if self.contiguous:
            self.param.view(-1)[start:stop].copy_(values)
        else:  # a single block holding the whole parameter
            self.param.copy_(values.view(self.param.shape))


def _check_hyperparameters(group: dict[str, Any], where: str) -> None:
    """Raise for a group's ``lr`` < 0, ``scale`` <= 0, ``momentum`` outside [0, 1)."""
    prefix = f"{where}: " if where else ""
    try:
        check_float("lr", group.get("lr"), nonnegative=True)
        check_float("scale", group.get("scale"), positive=True)
        check_float("momentum", group.get("momentum"), nonnegative=True, below=1.0)
    except (TypeError, ValueError) as error:
        raise type(error)(prefix + str(error)) from None


def _check_parameter(param: object, where: str) -> None:
    """Raise unless ``param`` is a floating-point tensor that requires a gradient."""
    if isinstance(param, tuple) and len(param) == 2 and isinstance(param[0], str):
        where, param = f"{where} ({param[0]!r})", param[1]
    if not isinstance(param, torch.Tensor):
        raise TypeError(f"{where} must be a torch.Tensor; got {describe(param)}.")
    if param.dtype not in BITS:
        raise TypeError(
            f"{where} has dtype {param.dtype}; ZerothOrder perturbs floating-point parameters "
            f"only ({', '.join(str(d) for d in BITS)})."
        )
    if not param.requires_grad:
        raise ValueError(
            f"{where} does not require a gradient (requires_grad=False): it is frozen. Leave it "
            "out of the optimizer's parameters, or call requires_grad_() to train it."
        )


def _loss_value(value: object, number: int, where: str) -> float:
    """The closure's loss as a float; raise for a non-scalar or non-finite one."""
    context = f"at step {number} ({where}); the parameters were restored"
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(
                f"the closure must return a scalar loss; got a tensor of shape "
                f"{tuple(value.shape)} {context}."
            )
        if value.is_complex() or value.dtype == torch.bool:
            raise TypeError(f"the closure returned a {value.dtype} loss {context}.")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"the closure must return a real scalar loss; got {describe(value)} {context}."
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"the closure returned a non-finite loss ({value}) {context}.")
    return value


class ZerothOrder(torch.optim.Optimizer):
    """Zeroth-order SGD (MeZO) for the parameters of any PyTorch model.

    Parameters
    ----------
    params : iterable
        Tensors, ``(name, tensor)`` pairs or parameter groups (dicts), as for any
        ``torch.optim`` optimizer; each floating point and ``requires_grad``.
    lr : float
        Learning rate (>= 0). Per group.
    method : {"spsa", "gaussian"}, default "spsa"
        Direction entries: Rademacher ``+-1`` or standard normal.
    scale : float, default 1e-3
        Perturbation size ``h`` (> 0, absolute, as in MeZO). Per group; a group's update uses
        its own ``h`` (``(f+ - f-) / 2h_g``), which keeps the estimate unbiased.
    n_directions : int, default 1
        Directions averaged per step: the closure is called ``2 * n_directions`` times.
    seed : int, default 0
        Base seed of the directions.
    momentum : float, default 0.0
        Momentum factor in [0, 1), with :class:`torch.optim.SGD`'s rule (``dampening=0``).
        Per group. Any value > 0 keeps a buffer as large as the parameters.

    Attributes
    ----------
    steps : int
        Steps completed; the next step is number ``steps + 1``.
    last_losses : list of (float, float)
        ``(f(theta + h z_k), f(theta - h z_k))`` of the last step, per direction.

    Examples
    --------
    >>> import torch, deep_learning_toolkit as dlt
    >>> model = torch.nn.Linear(3, 1)
    >>> X, y = torch.randn(32, 3), torch.randn(32, 1)
    >>> optimizer = dlt.torch.ZerothOrder(model.parameters(), lr=1e-2)
    >>> loss = optimizer.step(lambda: torch.nn.functional.mse_loss(model(X), y))
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        method: str = "spsa",
        scale: float = 1e-3,
        n_directions: int = 1,
        seed: int = 0,
        momentum: float = 0.0,
    ) -> None:
        self.method = check_choice("method", method, METHODS)
        self.n_directions = check_int("n_directions", n_directions, minimum=1)
        self.seed = check_int("seed", seed, minimum=0, maximum=2**63 - 1)
        self.steps = 0
        self.last_losses: list[tuple[float, float]] = []
        self._perturbed: dict[tuple[int, int], tuple[int, int, Lost | None]] = {}
        defaults = {"lr": lr, "scale": scale, "momentum": momentum}
        _check_hyperparameters(defaults, "")
        super().__init__(params, defaults)

    # ------------------------------------------------------------------ groups and state
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group after checking its options and parameters (nothing changes on error)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict; got {describe(param_group)}.")
        where = f"parameter group {len(self.param_groups)}"
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, torch.Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)) or params is None:
            raise TypeError(f"{where}: params must be an ordered iterable; got {describe(params)}.")
        group["params"] = params = list(params)
        _check_hyperparameters({**self.defaults, **group}, where)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, param in enumerate(params):
            _check_parameter(param, f"{where}, parameter {i}")
            tensor = param[1] if isinstance(param, tuple) else param
            if id(tensor) in seen:
                raise ValueError(f"{where}, parameter {i} appears twice in the optimizer.")
            seen.add(id(tensor))
        super().add_param_group(group)

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim`` state plus the method, directions, seed and step count."""
        state = super().state_dict()
        state[STATE_KEY] = {
            "method": self.method,
            "n_directions": self.n_directions,
            "seed": self.seed,
            "steps": self.steps,
        }
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a :meth:`state_dict`; the next step draws the directions the saved run would."""
        extra = state_dict.get(STATE_KEY) if isinstance(state_dict, dict) else None
        if not isinstance(extra, dict):
            raise ValueError(
                f"state_dict has no {STATE_KEY!r} entry: it does not come from "
                "ZerothOrder.state_dict()."
            )
        method = check_choice("method", extra.get("method"), METHODS)
        n_directions = check_int("n_directions", extra.get("n_directions"), minimum=1)
        seed = check_int("seed", extra.get("seed"), minimum=0, maximum=2**63 - 1)
        steps = check_int("steps", extra.get("steps"), minimum=0)
        for i, group in enumerate(state_dict.get("param_groups", [])):
            _check_hyperparameters(group, f"state_dict parameter group {i}")
        super().load_state_dict({k: v for k, v in state_dict.items() if k != STATE_KEY})
        self.method, self.n_directions, self.seed, self.steps = method, n_directions, seed, steps

    def direction(self, param: torch.Tensor, k: int = 0, step: int | None = None) -> torch.Tensor:
        """Direction ``z_k`` of step number ``step`` (default: the last one) for ``param``.

        The optimizer never materialises it; this draws the same values for inspection.
        """
        step = self.steps if step is None else check_int("step", step, minimum=1)
        k = check_int("k", k, minimum=0, maximum=self.n_directions - 1)
        for entry in self._entries():
            if entry.param is param:
                return direction(self.method, self.seed, step, k, entry.index, param)
        raise ValueError("param is not one of this optimizer's parameters.")

    # ------------------------------------------------------------------ the step
    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> float:  # type: ignore[override]
        """Estimate the gradient from ``2 * n_directions`` losses and update the parameters.

        Parameters
        ----------
        closure : callable
            Evaluates the model at its current parameters and returns the loss (a Python
            number or a one-element tensor). It runs under ``torch.no_grad()``: it must not
            call ``backward()``, nor change the parameters.

        Returns
        -------
        float
            The mean of the perturbed losses.

        Raises
        ------
        TypeError, ValueError
            Without a closure, for invalid group options or parameters (nothing changes), or
            for a loss that is not a finite real scalar (parameters restored first).
        """
        number = self.steps + 1
        self._check_ready(closure)
        entries = self._entries()
        losses: list[tuple[float, float]] = []
        try:
            for k in range(self.n_directions):
                pair = []
                for sign in (1, -1):
                    self._pass(entries, number, apply=(k, sign))
                    pair.append(self._evaluate(closure, number, k, sign))
                losses.append((pair[0], pair[1]))
            self._pass(entries, number, update=[(p - m) / 2 for p, m in losses])
        finally:
            if self._perturbed:
                self._pass(entries, number)  # restore only
        self.steps = number
        self.last_losses = losses
        return sum(p + m for p, m in losses) / (2 * len(losses))

    def _check_ready(self, closure: object) -> None:
        if closure is None:
            raise TypeError(
                "ZerothOrder.step() needs a closure that evaluates the model and returns the "
                "loss, e.g. optimizer.step(lambda: loss_fn(model(X), y))."
            )
        if not callable(closure):
            raise TypeError(f"closure must be callable; got {describe(closure)}.")
        for i, group in enumerate(self.param_groups):
            _check_hyperparameters(group, f"parameter group {i}")
            for j, param in enumerate(group["params"]):
                _check_parameter(param, f"parameter group {i}, parameter {j}")

    def _entries(self) -> list[_Entry]:
        params = [(p, g) for g in self.param_groups for p in g["params"]]
        return [_Entry(p, g, i) for i, (p, g) in enumerate(params) if p.numel() > 0]

    def _evaluate(self, closure: Callable[[], Any], number: int, k: int, sign: int) -> float:
        where = f"theta {'+' if sign > 0 else '-'} scale * z_{k}"
        try:
            value = closure()
        except RuntimeError as error:
            if "does not require grad" not in str(error):
                raise
            raise RuntimeError(
                f"{error}\nZerothOrder runs the closure under torch.no_grad(): the closure "
                "must only return the loss (no loss.backward())."
            ) from error
        return _loss_value(value, number, where)

    def _pass(
        self,
        entries: list[_Entry],
        number: int,
        apply: tuple[int, int] | None = None,
        update: list[float] | None = None,
    ) -> None:
        """One sweep over every block: undo the recorded shift, then update and/or apply one.

        ``apply=(k, sign)`` shifts by ``sign * h z_k``; ``update`` holds ``(f+ - f-)/2`` per
        direction. Each block's record in ``self._perturbed`` changes right after its write,
        so an interrupted pass leaves records that a restore pass can finish.
        """
        for entry in entries:
            records = [self._perturbed.get((entry.index, start)) for start, _ in entry.spans]
            needed = {record[0] for record in records if record is not None}
            needed |= {apply[0]} if apply else set()
            needed |= set(range(self.n_directions)) if update is not None else set()
            dtype = generation_dtype(entry.param.dtype)
            streams = {
                k: DirectionStream(
                    self.method,
                    mixed_seed(self.seed, number, k, entry.index),
                    dtype,
                    entry.param.device,
                )
                for k in sorted(needed)
            }
            buffer = self._momentum_buffer(entry) if update is not None else None
            for (start, stop), record in zip(entry.spans, records):
                z = {k: stream.draw(stop - start) for k, stream in streams.items()}
                self._block(entry, start, stop, z, record, apply, update, buffer)

    def _block(
        self,
        entry: _Entry,
        start: int,
        stop: int,
        z: dict[int, torch.Tensor],
        record: tuple[int, int, Lost | None] | None,
        apply: tuple[int, int] | None,
        update: list[float] | None,
        buffer: tuple[torch.Tensor, bool] | None,
    ) -> None:
        if record is None and apply is None and update is None:
            return  # a restore pass: nothing to undo here
        scale, dtype = entry.group["scale"], entry.param.dtype
        shifts: dict[int, torch.Tensor] = {}  # h z_k, computed once per block

        def shift(k: int) -> torch.Tensor:
            if k not in shifts:
                shifts[k] = perturbation(z[k], scale, dtype)
            return shifts[k]

        x = entry.read(start, stop)
        if record is not None:
            k, sign, lost = record
            x = undo_shift(x, shift(k), sign, lost)
        if update is not None:
            x = self._updated(entry, x, z, update, buffer, start, stop)
        lost = None
        if apply is not None:
            x, lost = apply_shift(x, shift(apply[0]), apply[1])
        entry.write(start, stop, x)
        if apply is not None:
            self._perturbed[(entry.index, start)] = (apply[0], apply[1], lost)
        else:
            self._perturbed.pop((entry.index, start), None)

    def _momentum_buffer(self, entry: _Entry) -> tuple[torch.Tensor, bool] | None:
        """``(buffer, created_now)`` for a group with momentum, else ``None``."""
        if entry.group["momentum"] == 0:
            return None
        state = self.state[entry.param]
        fresh = "momentum_buffer" not in state or state["momentum_buffer"] is None
        if fresh:
            state["momentum_buffer"] = torch.empty(
                entry.param.shape, dtype=entry.param.dtype, device=entry.param.device
            )
        return state["momentum_buffer"], fresh

    def _updated(
        self,
        entry: _Entry,
        x: torch.Tensor,
        z: dict[int, torch.Tensor],
        halves: list[float],
        buffer: tuple[torch.Tensor, bool] | None,
        start: int,
        stop: int,
    ) -> torch.Tensor:
        """The block after the SGD update with ``mean_k(half_k / h * z_k)`` as the gradient."""
        group = entry.group
        weight = 1.0 / (group["scale"] * len(halves))
        estimate = z[0] * (halves[0] * weight)
        for k in range(1, len(halves)):
            estimate.add_(z[k], alpha=halves[k] * weight)
        gradient = estimate.to(x.dtype)
        if buffer is not None:
            tensor, fresh = buffer
            part = tensor.view(-1)[start:stop]
            if fresh:
                part.copy_(gradient)
            else:
                part.mul_(group["momentum"]).add_(gradient)
            gradient = part
        if group["lr"] == 0:
            return x  # not even x + 0, which would turn -0.0 into +0.0
        return x.add(gradient, alpha=-group["lr"])
