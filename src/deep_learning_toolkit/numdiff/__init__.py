"""Numerical differentiation: the finite-difference formulas and their evaluators.

>>> from deep_learning_toolkit import numdiff
>>> numdiff.METHODS[:2]
('forward', 'backward')
"""

from .check import GradientCheck, check_gradient, check_model_gradient
from .complex_step import complex_step_gradient
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

__all__ = [
    "ALIASES",
    "ALL_METHODS",
    "COMPLEX_STEP",
    "METHODS",
    "STENCILS",
    "ComplexStep",
    "Formula",
    "GradientCheck",
    "GradientResult",
    "Stencil",
    "analyse",
    "check_gradient",
    "check_model_gradient",
    "complex_step_gradient",
    "default_steps",
    "derivative",
    "finite_difference",
    "fornberg_weights",
    "get_method",
    "get_stencil",
    "gradient",
    "gradient_details",
    "make_stencil",
    "resolve_steps",
    "richardson_stencil",
]
