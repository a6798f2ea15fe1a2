"""Dense (fully connected) layers.

A layer computes ``a = activation(x @ W + b)`` with ``W`` of shape ``(in, out)`` and ``b`` of
shape ``(out,)``. Its parameters are *views* into the model's single flat parameter vector
(layer by layer, ``W`` in C order then ``b``), so writing one entry of that vector perturbs the
layer directly, which is what a finite difference needs.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_choice, check_int
from .activations import Activation, get_activation

#: Weight initialisations by name; ``"auto"`` picks the one the activation prefers.
INITIALIZERS = ("auto", "glorot_uniform", "he_normal")


class Dense:
    """A fully connected layer.

    Parameters
    ----------
    in_features : int
        Width of the input.
    out_features : int
        Width of the output.
    activation : str, default "linear"
        One of ``linear``, ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu``, ``softmax``.
    init : str, default "auto"
        ``"glorot_uniform"`` (Glorot & Bengio, 2010), ``"he_normal"`` (He et al., 2015), or
        ``"auto"``: He for rectifiers, Glorot otherwise. Biases start at zero.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str | None = "linear",
        init: str = "auto",
    ) -> None:
        self.in_features = check_int("in_features", in_features, minimum=1)
        self.out_features = check_int("out_features", out_features, minimum=1)
        self.activation: Activation = get_activation(activation)
        self.init = check_choice("init", init, INITIALIZERS)
        self.W = np.zeros((self.in_features, self.out_features))
        self.b = np.zeros(self.out_features)

    @property
    def num_parameters(self) -> int:
        """Number of weights plus biases."""
        return (self.in_features + 1) * self.out_features

    def bind(self, flat: np.ndarray) -> None:
        """Make ``W`` and ``b`` views of ``flat`` (which must hold this layer's parameters)."""
        n_weights = self.in_features * self.out_features
        self.W = flat[:n_weights].reshape(self.in_features, self.out_features)
        self.b = flat[n_weights : n_weights + self.out_features]

    def initialize(self, rng: np.random.Generator) -> None:
        """Draw the weights in place from ``rng`` and zero the biases."""
        scheme = self.init
        if scheme == "auto":
            scheme = "he_normal" if self.activation.init == "he" else "glorot_uniform"
        if scheme == "he_normal":
            std = np.sqrt(2.0 / self.in_features)
            self.W[...] = rng.normal(0.0, std, size=self.W.shape)
        else:
            limit = np.sqrt(6.0 / (self.in_features + self.out_features))
            self.W[...] = rng.uniform(-limit, limit, size=self.W.shape)
        self.b[...] = 0.0

    def pre_activation(self, x: np.ndarray) -> np.ndarray:
        """``x @ W + b`` for ``x`` with any leading batch axes."""
        return x @ self.W + self.b

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``activation(x @ W + b)``."""
        return self.activation(self.pre_activation(x))

    def config(self) -> dict[str, object]:
        """Constructor arguments, for saving and for building twins in other frameworks."""
        return {
            "type": "Dense",
            "in_features": self.in_features,
            "out_features": self.out_features,
            "activation": self.activation.name,
            "init": self.init,
        }

    def __repr__(self) -> str:
        return (
            f"Dense({self.in_features}, {self.out_features}, activation={self.activation.name!r})"
        )


LAYER_TYPES: dict[str, type[Dense]] = {"Dense": Dense}


def layer_from_config(config: dict[str, object]) -> Dense:
    """Rebuild a layer from :meth:`Dense.config`."""
    kind = check_choice("layer type", config.get("type"), LAYER_TYPES)
    arguments = {k: v for k, v in config.items() if k != "type"}
    return LAYER_TYPES[kind](**arguments)
