"""Numerical differentiation: the finite-difference formulas and their evaluators.

>>> from deep_learning_toolkit import numdiff
>>> numdiff.METHODS[:2]
('forward', 'backward')
"""

from .check import GradientCheck, check_gradient
from .fornberg import Formula, analyse, finite_difference, fornberg_weights
from .gradient import GradientResult, derivative, gradient, gradient_details
from .richardson import richardson_stencil
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
from .steps import default_steps, resolve_steps
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
    "Formula",
    "GradientCheck",
    "GradientResult",
    "Stencil",
    "analyse",
    "check_gradient",
    "default_steps",
    "directional_slopes",
    "estimate_gradient",
    "derivative",
    "finite_difference",
    "fornberg_weights",
    "get_method",
    "get_stencil",
    "get_zeroth_order",
    "gradient",
    "gradient_details",
    "is_zeroth_order",
    "make_stencil",
    "resolve_steps",
    "richardson_stencil",
    "sgd_update",
    "step_seed",
    "zeroth_order_gradient",
    "zeroth_order_step",
]
