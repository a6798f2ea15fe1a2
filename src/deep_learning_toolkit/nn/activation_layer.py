"""``Activation``: an activation function as a layer of its own (Keras's ``Activation``).

The function is a name from :data:`~deep_learning_toolkit.nn.activations.ACTIVATIONS`
(``"tanh"``, ``"relu"``, ``"softmax"``, ...) or any elementwise NumPy callable, e.g.
``np.sin`` or ``lambda z: z / (1 + abs(z))``. A named activation is saved with the model
and has a PyTorch twin; a callable is neither (a file stores names, not code, and autograd
cannot differentiate a NumPy function): saving or twinning it raises a ``ValueError``
saying so. Named activations accept complex inputs (the complex step); a callable does if
its NumPy operations do.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._validation import describe
from ._checks import layer_argument
from .activations import ACTIVATIONS, get_activation
from .activations import Activation as ActivationFunction
from .layer import Layer, register_layer


class Activation(Layer):
    """``function(x)`` entry by entry.

    Parameters
    ----------
    name_or_callable : str or callable
        A name from ``ACTIVATIONS`` or a NumPy function returning an array of the shape of
        its input.

    Examples
    --------
    >>> import numpy as np
    >>> import deep_learning_toolkit as dlt
    >>> dlt.Activation("relu").forward(np.array([[-1.0, 2.0]]))
    array([[0., 2.]])
    >>> dlt.Activation(np.sin)
    Activation(sin)
    """

    def __init__(self, name_or_callable: str | Callable[[np.ndarray], np.ndarray]) -> None:
        super().__init__()
        value = name_or_callable
        if isinstance(value, ActivationFunction):
            value = value.name
        if isinstance(value, str):
            self.function = layer_argument("Activation", _named, "activation", value)
            self.name: str | None = value
        elif callable(value):
            self.function = value
            self.name = None
        else:
            raise TypeError(
                f"Activation: name_or_callable must be one of {list(ACTIVATIONS)} or a "
                f"callable; got {describe(value)}."
            )

    def input_shape(self) -> None:
        return None

    def output_shape(self, input_shape: tuple) -> tuple:
        if self.name is None:
            super().output_shape(input_shape)  # runs the callable on one sample
        return tuple(input_shape)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """``function(x)``."""
        out = self.function(x)
        if self.name is None:
            out = np.asarray(out)
            if out.shape != x.shape:
                raise ValueError(
                    f"{self!r} must act entry by entry: it returned shape {out.shape} for "
                    f"an input of shape {x.shape}."
                )
        return out

    def config(self) -> dict[str, object]:
        if self.name is None:
            raise ValueError(
                f"{self!r} cannot be saved: its function is a Python callable, and a model "
                f"file stores only named activations ({list(ACTIVATIONS)}). Use a name, or "
                "write the function as a dlt.Layer subclass and register it with "
                "dlt.register_layer."
            )
        return {"type": "Activation", "name_or_callable": self.name}

    def __repr__(self) -> str:
        if self.name is None:
            return f"Activation({getattr(self.function, '__name__', repr(self.function))})"
        return f"Activation({self.name!r})"


def _named(argument: str, name: str) -> ActivationFunction:
    """The activation called ``name`` (``argument`` names it in messages)."""
    return get_activation(name)


register_layer(Activation)
