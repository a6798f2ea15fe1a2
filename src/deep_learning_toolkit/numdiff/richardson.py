"""Richardson extrapolation of any stencil, and the error estimate it gives.

A stencil of order ``p`` evaluated at steps ``h`` and ``2h`` has errors ``c h**p`` and
``c 2**p h**p`` (to leading order), so

.. math::  D_1(h) = \\frac{2^p D(h) - D(2h)}{2^p - 1}

cancels the ``h**p`` term. Repeating with the next error powers of the formula (computed
exactly by :func:`~deep_learning_toolkit.numdiff.fornberg.analyse`: ``2, 4, 6, ...`` for
symmetric stencils, ``1, 2, 3, ...`` for one-sided ones) over the steps
``h, 2h, ..., 2**levels h`` gives the Richardson table. Each entry is a fixed linear
combination of samples of ``f``, so the extrapolated formula is itself a stencil, built here in
exact rational arithmetic: its order and error constant are computed, its default step follows
from the same error theory as the classic rows, and it runs in every evaluator, the batched
engine included. Its step ``h`` is the *smallest* of the table.

The same comparison estimates the error of any formula:
``|D(h) - D(2h)| / (2**p - 1)`` is the leading truncation error of ``D(h)``; adding the
rounding model ``eps |f| S / h`` (noise gain ``S``) bounds the part the comparison cannot see.

References: L. F. Richardson, "The deferred approach to the limit", Phil. Trans. R. Soc. A 226
(1927); Burden & Faires, *Numerical Analysis*, sec. 4.2; Press et al., *Numerical Recipes*,
3rd ed., sec. 5.7 (``dfridr``).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .._validation import check_int
from .fornberg import EPS, Formula, analyse
from .stencils import Stencil, stencil_from_formula

#: Most levels accepted; beyond a handful the rounding error of the wide stencil dominates.
MAX_LEVELS = 6


def _as_table(formula: Formula, factor: int) -> dict[Fraction, Fraction]:
    """``D(factor * h)`` as ``{offset: weight}`` in units of ``h`` (exact).

    A formula for derivative ``m`` divides by ``(factor h)**m``, hence ``w / factor**m``.
    """
    scale = Fraction(factor) ** formula.derivative
    return {o * factor: w / scale for o, w in zip(formula.offsets, formula.weights)}


def _combine(fine: dict, coarse: dict, power: int) -> dict[Fraction, Fraction]:
    """``(2**power fine - coarse) / (2**power - 1)``, offset by offset."""
    gain = Fraction(2) ** power
    out: dict[Fraction, Fraction] = {}
    for offset, weight in fine.items():
        out[offset] = out.get(offset, Fraction(0)) + gain * weight / (gain - 1)
    for offset, weight in coarse.items():
        out[offset] = out.get(offset, Fraction(0)) - weight / (gain - 1)
    return out


def richardson_formula(formula: Formula, levels: int) -> Formula:
    """The exact formula ``formula`` extrapolated ``levels`` times over ``h, 2h, ..., 2**levels h``.

    Works for any derivative order ``m`` (the formula at ``2**j h`` divides by
    ``(2**j h)**m``); ``levels=0`` returns ``formula`` itself.

    Examples
    --------
    >>> from deep_learning_toolkit.numdiff.fornberg import finite_difference
    >>> second = richardson_formula(finite_difference([-1, 0, 1], derivative=2), 1)
    >>> [str(w) for w in second.weights], second.order
    (['-1/12', '4/3', '-5/2', '4/3', '-1/12'], 4)
    """
    levels = check_int("levels", levels, minimum=0, maximum=MAX_LEVELS)
    if levels == 0:
        return formula
    analysed = analyse(formula.offsets, formula.weights, formula.derivative, n_terms=levels)
    powers = [power for power, _ in analysed.error_terms]
    # column[j] holds D at step 2**(levels - j) h, coarse to fine; each pass eliminates a power.
    column = [_as_table(formula, 2 ** (levels - j)) for j in range(levels + 1)]
    for power in powers:
        column = [_combine(column[j], column[j - 1], power) for j in range(1, len(column))]
    table = {o: w for o, w in sorted(column[0].items()) if w != 0}
    return analyse(tuple(table), tuple(table.values()), formula.derivative)


def richardson_stencil(stencil: Stencil, levels: int) -> Stencil:
    """The stencil extrapolated ``levels`` times over the steps ``h, 2h, ..., 2**levels h``.

    Parameters
    ----------
    stencil : Stencil
        Any first-derivative stencil (a row of :data:`~deep_learning_toolkit.numdiff.STENCILS`,
        or from :func:`~deep_learning_toolkit.numdiff.stencils.make_stencil`).
    levels : int
        Number of extrapolations; ``0`` returns ``stencil`` unchanged.

    Returns
    -------
    Stencil
        Named ``"<name>+richardson<levels>"``, with the computed order (the base order plus the
        eliminated error powers) and a default step from the error theory.

    Examples
    --------
    >>> from deep_learning_toolkit.numdiff import get_stencil
    >>> s = richardson_stencil(get_stencil("central"), 1)
    >>> s.offsets, s.order
    ((-2.0, -1.0, 1.0, 2.0), 4)
    """
    levels = check_int("levels", levels, minimum=0, maximum=MAX_LEVELS)
    if levels == 0:
        return stencil
    formula = richardson_formula(stencil.formula, levels)
    return stencil_from_formula(formula, f"{stencil.name}+richardson{levels}")


def error_estimate(
    fine: np.ndarray,
    coarse: np.ndarray,
    order: int,
    value_scale: np.ndarray,
    steps: np.ndarray,
    noise_gain: float,
    derivative: int = 1,
) -> np.ndarray:
    """Estimated absolute error of ``fine = D(h)`` from ``coarse = D(2h)``.

    Parameters
    ----------
    fine, coarse : ndarray
        The formula at steps ``h`` and ``2h``.
    order : int
        Its order ``p``.
    value_scale : ndarray or float
        Size of the function values sampled (``max |f|``), for the rounding term.
    steps : ndarray
        ``h`` per entry.
    noise_gain : float
        ``sum |w_k|`` of the formula.
    derivative : int, default 1
        Derivative order ``m`` (the rounding error grows like ``1 / h**m``).

    Returns
    -------
    ndarray
        ``|fine - coarse| / (2**p - 1) + eps * value_scale * noise_gain / h**m``.
    """
    truncation = np.abs(fine - coarse) / (2.0**order - 1.0)
    return truncation + EPS * np.abs(value_scale) * noise_gain / steps**derivative
