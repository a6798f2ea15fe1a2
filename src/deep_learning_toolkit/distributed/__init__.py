"""Scaling out: sharded gradients and parallel sweeps, locally or on Ray.

Two kinds of independent work are spread out:

* the perturbed losses of one gradient step: ``backend="ray"`` evaluates the engine's chunks
  on Ray actors (:class:`RayGradient`), with the same result as the local engine;
* the trainings of a comparison (methods, seeds, steps, learning rates):
  :func:`deep_learning_toolkit.experiments.sweep` runs them one after the other or as
  parallel Ray tasks, with :func:`ray_session` from here.

Ray is optional (``pip install ray``, the ``[ray]`` extra in a checkout) and imported only
when a Ray backend or session is used; ``backend="local"`` never imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._validation import check_choice
from ..gradients.engine import batched_gradient
from ..gradients.result import GradientResult
from .ray_backend import RayGradient, init_ray, ray_session, split_tasks

#: Where gradients and sweeps run: in this process, or on Ray (local or a cluster).
BACKENDS = ("local", "ray")


def check_backend(backend: object) -> str:
    """Return ``backend`` if it is one of :data:`BACKENDS`; else raise naming them."""
    return check_choice("backend", backend, BACKENDS)


def gradient_backend(backend: str = "local", **options: Any) -> Callable[..., GradientResult]:
    """The gradient function of ``backend``, called like ``gradients.engine.batched_gradient``.

    ``"local"`` is :func:`~deep_learning_toolkit.gradients.engine.batched_gradient` itself;
    ``"ray"`` is a new :class:`RayGradient` (``options`` go to its constructor).
    """
    if check_backend(backend) == "local":
        if options:
            raise TypeError(f"the local backend takes no options; got {sorted(options)}.")
        return batched_gradient
    return RayGradient(**options)


__all__ = [
    "BACKENDS",
    "RayGradient",
    "check_backend",
    "gradient_backend",
    "init_ray",
    "ray_session",
    "split_tasks",
]
