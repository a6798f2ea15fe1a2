"""Numerical differentiation: the finite-difference formulas and their evaluators.

>>> from deep_learning_toolkit import numdiff
>>> numdiff.METHODS[:2]
('forward', 'backward')
"""

from .gradient import GradientResult, derivative, gradient, gradient_details
from .stencils import ALIASES, METHODS, STENCILS, Stencil, get_stencil
from .steps import default_steps, resolve_steps

__all__ = [
    "ALIASES",
    "METHODS",
    "STENCILS",
    "GradientResult",
    "Stencil",
    "default_steps",
    "derivative",
    "get_stencil",
    "gradient",
    "gradient_details",
    "resolve_steps",
]
