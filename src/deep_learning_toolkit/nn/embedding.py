"""``Embedding``: a table of vectors looked up by integer index (``torch.nn.Embedding``).

Inputs are indices, one per sample ``(N,)`` or a sequence per sample ``(N, L)``; outputs
are ``(N, dim)`` or ``(N, L, dim)``. Models take their inputs as float64 arrays
(``Network.check_input``), so the layer accepts any array of integral values: it checks
that each is an integer in ``[0, num_embeddings)`` and refuses the first that is not,
naming it and its position. As the first layer of a model it checks the whole data set
when the model receives it (:meth:`Embedding.validate_input`), before any training step.

A model whose samples are single indices ``(N,)`` declares ``input_shape=()``
(``Sequential([Embedding(10, 4), ...], input_shape=())``); sequences ``(N, L)`` are
recognised from the first data, as for other layers.
"""

from __future__ import annotations

import numpy as np

from ._checks import positive_int, sample_shape_error
from .layer import Layer, register_layer


class Embedding(Layer):
    """Rows of ``W`` looked up by integer index.

    Parameters
    ----------
    num_embeddings : int
        Number of rows (valid indices are ``0 .. num_embeddings - 1``).
    embedding_dim : int
        Length of each vector.

    Notes
    -----
    The parameter ``W (num_embeddings, embedding_dim)`` starts from a standard normal
    distribution, as in PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> import deep_learning_toolkit as dlt
    >>> model = dlt.Sequential([dlt.Embedding(5, 2), dlt.Flatten()], input_shape=(3,))
    >>> model.forward(np.array([[0.0, 4.0, 4.0]])).shape
    (1, 6)
    """

    # Declared by add_parameter in __init__: views into the network's flat vector.
    W: np.ndarray

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        super().__init__()
        self.num_embeddings = positive_int("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = positive_int("Embedding", "embedding_dim", embedding_dim)
        self.add_parameter("W", (self.num_embeddings, self.embedding_dim), initializer="normal")

    EXPECTED = "() (batches (N,)) or (L,) (batches (N, L)) of integer indices"

    def input_shape(self) -> None:
        return None

    def output_shape(self, input_shape: tuple) -> tuple:
        if len(input_shape) > 1:
            raise sample_shape_error(self, self.EXPECTED, input_shape)
        return (*input_shape, self.embedding_dim)

    def indices(self, x: np.ndarray, name: str = "the input") -> np.ndarray:
        """``x`` as integer indices; ``ValueError`` naming the first bad value and its place."""
        x = np.asarray(x)
        if np.iscomplexobj(x):
            if np.any(x.imag != 0):
                raise ValueError(f"{self!r}: {name} must be real integer indices; got complex.")
            x = x.real
        if x.dtype.kind in "iu":
            values = x
        elif x.dtype.kind in "fb":
            integral = np.isfinite(x) & (x == np.floor(x))
            if not np.all(integral):
                where = tuple(int(i) for i in np.argwhere(~integral)[0])
                raise ValueError(
                    f"{self!r}: {name} holds the non-integer index {x[where].item()!r} at position "
                    f"{where}; indices must be integers in [0, {self.num_embeddings})."
                )
            values = x
        else:
            raise TypeError(f"{self!r}: {name} must be integer indices; got dtype {x.dtype}.")
        outside = (values < 0) | (values >= self.num_embeddings)
        if np.any(outside):
            where = tuple(int(i) for i in np.argwhere(outside)[0])
            raise ValueError(
                f"{self!r}: {name} holds the index {int(values[where])} at position {where}, out "
                f"of range [0, {self.num_embeddings})."
            )
        return values.astype(np.intp)

    def validate_input(self, X: np.ndarray, name: str = "X") -> None:
        """Refuse data holding an index that is not an integer in range (called by the
        network on its inputs when this is the first layer)."""
        self.indices(X, name)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """``W[x]``: ``(N, dim)`` or ``(N, L, dim)``."""
        if x.ndim not in (1, 2):
            raise sample_shape_error(self, self.EXPECTED, x.shape[1:])
        return self.W[self.indices(x)]

    def config(self) -> dict[str, object]:
        return {
            "type": "Embedding",
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
        }

    def __repr__(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"


register_layer(Embedding)
