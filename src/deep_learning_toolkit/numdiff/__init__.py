"""Numerical differentiation: the finite-difference formulas and their evaluators.

For any Python function: :func:`derivative` (any order ``n``), :func:`gradient`,
:func:`jacobian`, :func:`hessian`, :func:`hessian_diag` and :func:`directional_derivative`,
each with ``method``, ``step`` (``None``, a number, an array or ``"adaptive"``),
``richardson``, ``full_output`` (a :class:`DerivativeResult`) and ``vectorized``.
:func:`optimal_step` gives the step for a formula once its neglected derivative is known.

>>> from deep_learning_toolkit import numdiff
>>> numdiff.METHODS[:2]
('forward', 'backward')
"""

from .check import GradientCheck, check_gradient
from .derivative import derivative, directional_derivative
from .fornberg import Formula, analyse, finite_difference, fornberg_weights
from .gradient import gradient, gradient_details
from .hessian import hessian, hessian_diag
from .jacobian import jacobian
from .result import DerivativeResult, GradientResult
from .richardson import richardson_formula, richardson_stencil
from .rules import Rule, axis_rule, mixed_rule
from .stencils import (
    ALIASES,
    ALL_METHODS,
    COMPLEX_STEP,
    METHODS,
    STENCILS,
    ComplexStep,
    Stencil,
    get_method,
    get_stencil,
    make_stencil,
)
from .steps import check_perturbations, default_steps, optimal_step, resolve_steps
from .zeroth_order import (
    ZEROTH_ORDER_METHODS,
    ZerothOrder,
    directional_slopes,
    estimate_gradient,
    get_zeroth_order,
    is_zeroth_order,
    sgd_update,
    step_seed,
    zeroth_order_gradient,
    zeroth_order_step,
)

__all__ = [
    "ALIASES",
    "ALL_METHODS",
    "COMPLEX_STEP",
    "METHODS",
    "STENCILS",
    "ZEROTH_ORDER_METHODS",
    "ZerothOrder",
    "ComplexStep",
    "DerivativeResult",
    "Formula",
    "GradientCheck",
    "GradientResult",
    "Rule",
    "Stencil",
    "analyse",
    "axis_rule",
    "check_gradient",
    "check_perturbations",
    "default_steps",
    "directional_slopes",
    "estimate_gradient",
    "derivative",
    "directional_derivative",
    "finite_difference",
    "fornberg_weights",
    "get_method",
    "get_stencil",
    "get_zeroth_order",
    "gradient",
    "gradient_details",
    "hessian",
    "hessian_diag",
    "is_zeroth_order",
    "jacobian",
    "make_stencil",
    "mixed_rule",
    "optimal_step",
    "resolve_steps",
    "richardson_formula",
    "richardson_stencil",
    "sgd_update",
    "step_seed",
    "zeroth_order_gradient",
    "zeroth_order_step",
]
