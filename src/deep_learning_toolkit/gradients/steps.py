"""Default finite-difference steps for a network: a pilot estimate per parameter.

The classic rule (:func:`~deep_learning_toolkit.numdiff.steps.default_steps`: the formula's
``default_step`` times ``max(1, |theta_i|)``) assumes that the neglected derivative of the
loss is about ``(p + 1)!`` times the loss and that each loss value is rounded by ``eps |L|``.
Neither holds on a network: standardised inputs with heavy tails (a rarely lit pixel of
digits) make the higher derivatives of the first layer's weights thousands of times larger
than that, and the batched engine computes loss *changes* with exact identities, so their
rounding is far below ``eps |L|`` (for the output layer it is relative to the change itself).
On digits 64-32-10 the classic five-point step is 8x too large and its error 3000x above the
best step's.

The pilot measures both terms on the network and batch at hand, with the same gradient
evaluator as training (batched engine, reference loop or Ray), so it sees the noise that
evaluator really has. For a stencil of order ``p`` with classic step ``c`` it evaluates the
gradient three times, at the relative steps ``s = c / 4096`` (rounding dominates),
``H = 2c`` and ``2H`` (truncation dominates):

* truncation, per parameter: ``g(H) - g(2H) = (1 - 2**p) C H**p L^(p+1)`` to leading order
  (Richardson), so the error of ``g(h)`` is ``T_i h**p`` with
  ``T_i = |g(H) - g(2H)| / ((2**p - 1) H**p)``, but never less than the root mean square of
  ``T`` over the parameter's tensor: a derivative that happens to nearly vanish on the pilot's
  batch (a sum of terms of both signs) is not small on the next batch, and the steps are
  reused for the batches up to the next pilot (without the floor, the steps of one batch
  gave 400-1000x the best error on other batches of digits; with it, 1-4x);
* rounding, per parameter tensor (a layer's ``W``, its ``b``): the error of ``g(s)`` against
  the extrapolated ``g(H) + (g(H) - g(2H)) / (2**p - 1)`` is the noise ``N / s``; ``N`` is
  its root mean square over the tensor (one sample per entry is too noisy to use alone);
* the step minimising the expected error ``sqrt((N / h)**2 + (T_i h**p)**2)`` is
  ``h_i = (N / (sqrt(p) T_i)) ** (1 / (p + 1))``, kept within ``[s, 2H]`` (the range the
  pilot measured) and rounded to a power of two. Where the pilot learns nothing (an entry
  whose gradient is exactly the same at every step, or a non-finite value) the classic step
  stays.

The steps are stored relative to ``max(1, |theta_i|)`` and rescaled at every training step, as
the classic ones are. ``fit`` runs a pilot on its first batch and then every
:data:`PILOT_INTERVAL` batches, counted across ``fit`` calls: the pilot in use
(:class:`PilotState`) is the model's ``step_pilot`` and is saved with it, so a resumed run goes
on with the same steps and refreshes them at the same batch as an uninterrupted one. A
refresh costs three gradients (3 % more loss evaluations at one refresh every 100 batches,
counted in that batch's ``evaluations``; 2.7-5.2 times one gradient's time, 3-5 % of a fit's,
as the five-point formula's larger pilot steps need more terms of the loss-change series:
``python benchmarks/pilot.py``). Why 100: on digits 64-32-10 and Iris 4-16-3 trained with
Adam, steps from a pilot 30 to 3000 batches old gave in the median 1.0-1.9x the best error of
each new batch (five-point), about what a fresh pilot on another batch gives; the spread comes
from the batch (a rarely lit pixel in it or not), not from the pilot's age, so more frequent
refreshes buy little, and one per 100 batches keeps their cost at a few percent.

``loss_and_gradient`` with the default step runs a fresh pilot on the batch it is given
(four gradients in all; pass ``step=`` to skip it).

``step="classic"`` keeps the classic rule (no pilot); the complex step keeps its classic
default (``1e-20``), whose error is rounding-level at any small step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from .._validation import describe
from ..nn.network import Network
from ..numdiff.stencils import ComplexStep, Stencil
from ..numdiff.steps import STEP_RULES, default_steps, nearest_power_of_two, resolve_steps
from .result import GradientResult

if TYPE_CHECKING:
    from ..numdiff.rules import Rule

#: The strings a model's ``step`` accepts: ``"classic"`` is the rule before the pilot.
MODEL_STEP_RULES = ("classic",)

#: The pilot's small step, relative to the formula's classic step (rounding dominates there).
PILOT_SMALL = 2.0**-12
#: The pilot's large step ``H`` relative to the classic step; it also evaluates ``2H``.
PILOT_LARGE = 2.0
#: Gradient evaluations of one pilot (at ``s``, ``H`` and ``2H``).
PILOT_GRADIENTS = 3
#: Training batches between two pilots of ``fit`` (counted across epochs and ``fit`` calls).
PILOT_INTERVAL = 100

#: ``gradient(steps) -> GradientResult``: the gradient of the current batch at given steps.
GradientAt = Callable[[np.ndarray], GradientResult]
#: The finite-difference methods that take steps (zeroth-order methods take none).
StepMethod: TypeAlias = "Stencil | ComplexStep | Rule"


@dataclass(frozen=True)
class PilotSteps:
    """Steps found by a pilot, relative to ``max(1, |theta_i|)``.

    Attributes
    ----------
    relative : ndarray
        One relative step per parameter: ``steps(theta) = 2**round(log2(relative *
        max(1, |theta|)))``, which at the pilot's own parameters are its steps exactly.
    noise : ndarray
        The rounding coefficient ``N`` of every parameter tensor (error ``N / h``).
    truncation : ndarray
        The truncation coefficient ``T_i`` of every parameter (error ``T_i h**p``), at least
        the root mean square over its tensor.
    evaluations : int
        Loss evaluations the pilot cost.
    """

    relative: np.ndarray
    noise: np.ndarray
    truncation: np.ndarray
    evaluations: int

    def steps(self, params: np.ndarray) -> np.ndarray:
        """The steps at ``params`` (powers of two)."""
        return nearest_power_of_two(self.relative * np.maximum(1.0, np.abs(params)))


def parameter_groups(network: Network) -> list[slice]:
    """Where each parameter tensor (each layer's ``W``, ``b``, ...) sits in the flat vector."""
    groups = []
    for layer, where in zip(network.layers, network.layer_slices()):
        start = where.start
        for parameter in layer.parameters.values():
            groups.append(slice(start, start + parameter.size))
            start += parameter.size
    return groups


def _group_rms(values: np.ndarray, groups: list[slice]) -> np.ndarray:
    """Every entry replaced by the root mean square of its group (non-finite ones skipped)."""
    out = np.empty_like(values)
    for group in groups:
        part = values[group]
        finite = part[np.isfinite(part)]
        out[group] = np.sqrt(np.mean(finite**2)) if finite.size else np.nan
    return out


def pilot_steps(network: Network, stencil: Stencil, gradient: GradientAt) -> PilotSteps:
    """Steps for ``stencil`` on the network's current parameters and batch (module notes).

    Parameters
    ----------
    network : Network
        Its parameters and their grouping into tensors (read only).
    stencil : Stencil
        The finite-difference formula the steps are for.
    gradient : callable
        ``gradient(steps)``: the gradient of the batch by ``stencil`` at per-parameter steps,
        with the evaluator that training uses (called :data:`PILOT_GRADIENTS` times).

    Returns
    -------
    PilotSteps
    """
    if not isinstance(stencil, Stencil):
        raise TypeError(f"the pilot needs a finite-difference stencil; got {describe(stencil)}.")
    params = network.params
    order = stencil.order
    scale = np.maximum(1.0, np.abs(params))
    classic = default_steps(params, stencil)
    small = nearest_power_of_two(stencil.default_step * PILOT_SMALL * scale)
    large = nearest_power_of_two(stencil.default_step * PILOT_LARGE * scale)
    results = [gradient(small), gradient(large), gradient(2.0 * large)]
    g_small, g_large, g_double = (result.gradient for result in results)
    if g_small is None or g_large is None or g_double is None:
        raise RuntimeError("the pilot's gradient evaluator returned no gradient vector.")
    gain = 2.0**order - 1.0
    groups = parameter_groups(network)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        difference = g_large - g_double
        truncation = np.abs(difference) / gain / large**order
        truncation = np.fmax(truncation, _group_rms(truncation, groups))
        noise = _group_rms(np.abs(g_small - (g_large + difference / gain)) * small, groups)
        best = (noise / (np.sqrt(order) * truncation)) ** (1.0 / (order + 1))
        best = np.clip(best, small, 2.0 * large)  # inf (no truncation seen) -> 2H, 0 -> s
    best = np.where(np.isfinite(best), nearest_power_of_two(best), classic)
    evaluations = sum(result.evaluations for result in results)
    return PilotSteps(best / scale, noise, truncation, evaluations)


def check_model_step(params: np.ndarray, stencil: StepMethod, step: object) -> None:
    """Raise ``ValueError``/``TypeError`` unless ``step`` is a valid model step.

    ``None`` (the pilot for stencils, the classic default otherwise), ``"classic"``, a
    positive number or an array of per-parameter steps (see
    :func:`~deep_learning_toolkit.numdiff.steps.resolve_steps`).
    """
    resolve_steps(params, stencil, _classic_as_none(step))


def _classic_as_none(step: object) -> object:
    """``None`` for ``"classic"`` (the rule of ``resolve_steps``); refuse other strings."""
    if not isinstance(step, str):
        return step
    choices = (
        "None (steps from a pilot estimate on the network), 'classic' (the formula's "
        "default step times max(1, |theta|)), a positive number or an array of them"
    )
    if step in STEP_RULES:
        raise ValueError(
            f"step={step!r} needs evaluations of f and is only available in "
            f"numdiff.gradient / derivative / jacobian / hessian; a model's step is {choices}."
        )
    if step not in MODEL_STEP_RULES:
        raise ValueError(f"step must be {choices}; got {step!r}.")
    return None


def uses_pilot(stencil: object, step: object) -> bool:
    """Whether the steps come from a pilot: the default step of a finite-difference stencil."""
    return step is None and isinstance(stencil, Stencil)


def model_steps(
    network: Network, stencil: StepMethod, step: object, gradient: GradientAt
) -> np.ndarray:
    """The steps of one gradient: a fresh pilot for ``step=None`` with a stencil, the classic
    default for ``"classic"`` (or the complex step), else ``step`` itself (checked)."""
    if step is None and isinstance(stencil, Stencil):  # uses_pilot(stencil, step)
        return pilot_steps(network, stencil, gradient).steps(network.params)
    return resolve_steps(network.params, stencil, _classic_as_none(step))


@dataclass(frozen=True)
class PilotState:
    """The pilot steps training is using; saved with the model, so a resumed run goes on
    with the same steps and refreshes them at the same batch.

    Attributes
    ----------
    method : str
        Name of the stencil the steps are for.
    relative : ndarray
        :attr:`PilotSteps.relative`.
    age : int
        Training batches run with these steps so far.
    """

    method: str
    relative: np.ndarray
    age: int


class StepSchedule:
    """The steps of every batch of ``fit``: fixed, classic, or from a pilot refreshed every
    ``interval`` batches.

    Parameters
    ----------
    network : Network
    stencil : Stencil or ComplexStep
        The compiled method (zeroth-order methods take no steps and no schedule).
    step : None, "classic", float or array
        The compiled step.
    state : PilotState, optional
        Where an earlier ``fit`` (or a saved model) left the pilot.
    interval : int, optional
        Batches between two pilots (default :data:`PILOT_INTERVAL`), counted across ``fit``
        calls.

    Attributes
    ----------
    state : PilotState or None
        The pilot in use after the last call of :meth:`steps`.
    refreshes : int
        Pilots run by this schedule.
    spent : int
        Loss evaluations of the pilot run by the last call of :meth:`steps` (0 if none).
    """

    def __init__(
        self,
        network: Network,
        stencil: StepMethod,
        step: object,
        state: PilotState | None = None,
        interval: int | None = None,
    ) -> None:
        self.stencil, self.state = stencil, state
        self.interval = PILOT_INTERVAL if interval is None else interval
        self.pilot = uses_pilot(stencil, step)
        classic = step is None or isinstance(step, str)
        self.fixed = None if classic else resolve_steps(network.params, stencil, step)
        self.refreshes = self.spent = 0

    def due(self, network: Network) -> bool:
        """Whether the next batch starts with a pilot: none yet, one for another method or
        network, or one ``interval`` batches old."""
        state = self.state
        return (
            state is None
            or state.method != self.stencil.name
            or state.relative.shape != network.params.shape
            or state.age >= self.interval
        )

    def steps(self, network: Network, gradient: GradientAt) -> np.ndarray:
        """The steps of the next batch (running the pilot first when it is due)."""
        self.spent = 0
        if self.fixed is not None:
            return self.fixed
        stencil = self.stencil
        if not self.pilot or not isinstance(stencil, Stencil):  # a pilot needs a Stencil
            return default_steps(network.params, stencil)
        state = self.state
        if state is None or self.due(network):
            found = pilot_steps(network, stencil, gradient)
            state = self.state = PilotState(stencil.name, found.relative, 0)
            self.refreshes, self.spent = self.refreshes + 1, found.evaluations
        self.state = PilotState(state.method, state.relative, state.age + 1)
        return nearest_power_of_two(state.relative * np.maximum(1.0, np.abs(network.params)))
