"""A network: a stack of layers over one flat parameter vector (float64, or float32).

:class:`Network` owns the vector; each layer is bound to its slice, so the layers read their
parameters as views of it. The vector's dtype is the network's: inputs are cast to it, so
the forward pass runs in it. The network infers and checks the shapes flowing between layers
when it is built, runs the forward pass, and names flat parameters. It knows nothing of
losses, gradients or training (those are :class:`~deep_learning_toolkit.model.Sequential`'s).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .._validation import check_array, check_dtype, check_int, check_same_length, describe
from .layer import Layer, Shape


def _check_layers(layers: object) -> list[Layer]:
    """The layers as a list, refused if not layers, empty, repeated or owned by a model."""
    if isinstance(layers, Layer) or not isinstance(layers, Iterable):
        raise TypeError(f"layers must be a list of layers; got {describe(layers)}.")
    layers = list(layers)
    if not layers:
        raise ValueError("layers is empty; a Sequential model needs at least one layer.")
    seen: dict[int, int] = {}
    for index, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(
                f"layers[{index}] must be a Layer (e.g. dlt.Dense, or a subclass of dlt.Layer); "
                f"got {describe(layer)}."
            )
        if "_parameters" not in layer.__dict__:
            raise TypeError(
                f"layers[{index}] ({type(layer).__name__}) did not call super().__init__()."
            )
        if id(layer) in seen:
            raise ValueError(
                f"layers[{index}] is the same object as layers[{seen[id(layer)]}]; a layer can "
                "appear once in a model (create a new layer to repeat its shape)."
            )
        seen[id(layer)] = index
        owner = layer._owner() if layer._owner is not None else None
        if owner is not None:
            raise ValueError(
                f"layers[{index}] ({layer!r}) already belongs to another model, whose parameters "
                "it reads; create new layers (e.g. dlt.nn.layer_from_config(layer.config())) "
                "for a second model."
            )
    return layers


def infer_shapes(layers: Sequence[Layer], input_shape: Shape) -> list[Shape]:
    """Per-sample shapes: the input, then each layer's output; ``ValueError`` on a misfit."""
    shapes = [tuple(input_shape)]
    for index, layer in enumerate(layers):
        try:
            shape = tuple(layer.output_shape(shapes[-1]))
        except ValueError as error:
            before = f"layers[{index - 1}] ({layers[index - 1]!r}) outputs" if index else "input"
            raise ValueError(
                f"layers[{index}] ({layer!r}) does not fit its input: {before} shape "
                f"{shapes[-1]}; {error}"
            ) from None
        except Exception as error:  # a custom layer failing on its probe sample
            raise ValueError(
                f"layers[{index}] ({layer!r}) failed on one sample of shape {shapes[-1]}: "
                f"{type(error).__name__}: {error}"
            ) from None
        shapes.append(shape)
    return shapes


class Network:
    """Layers applied one after the other, over one flat parameter vector.

    Parameters
    ----------
    layers : sequence of Layer
    seed : int, default 0
        Seeds the initialisation (layer by layer, parameter by parameter).
    input_shape : tuple, optional
        Shape of one input sample; default: what the first layer declares. When neither
        is known (a user-defined first layer), the shapes are inferred and checked from the
        first data the network sees, as Keras builds a model on its first call.
    dtype : {"float64", "float32"} or numpy float type, default "float64"
        Dtype of the parameters and of the forward pass (inputs are cast to it). The
        initial values are drawn in float64 and rounded, so a float32 network starts from
        its float64 twin's parameters rounded to float32. Zeroth-order steps run in this
        dtype; finite differences and complex steps of a float32 network are taken on a
        float64 copy of its parameters (:meth:`promoted`) and give float64 gradients.
        ``float16`` is refused: its epsilon (~1e-3) is the size of a perturbation.
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        seed: int = 0,
        input_shape: Shape | None = None,
        dtype: Any = "float64",
    ) -> None:
        layers = _check_layers(layers)
        seed = check_int("seed", seed, minimum=0)
        dtype = check_dtype("dtype", dtype)
        params = np.zeros(sum(layer.num_parameters for layer in layers), dtype=dtype)
        previous = [layer.__dict__.get(name) for layer in layers for name in layer.parameters]
        self.layers = layers
        self._bind_layers(params)
        rng = np.random.default_rng(seed)
        for layer in layers:
            layer.initialize(rng)
        if input_shape is None:
            input_shape = layers[0].input_shape()
        try:
            shapes = None if input_shape is None else infer_shapes(layers, input_shape)
        except ValueError:
            values = iter(previous)  # refused: the layers keep their own arrays
            for layer in layers:
                for name in layer.parameters:
                    setattr(layer, name, next(values))
            raise
        self.seed = seed
        self.params = params
        self._shapes = shapes
        for layer in layers:
            layer._owner = weakref.ref(self)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """After unpickling, the layers are views of the parameters again and owned."""
        self.__dict__.update(state)
        self._bind_layers(self.params)
        for layer in self.layers:
            layer._owner = weakref.ref(self)

    # ------------------------------------------------------------------ parameters
    @property
    def dtype(self) -> np.dtype:
        """Dtype of the parameters and of the forward pass (float64 or float32)."""
        return self.params.dtype

    @property
    def num_parameters(self) -> int:
        """Total number of parameters."""
        return int(self.params.size)

    @property
    def shapes(self) -> list[Shape]:
        """Per-sample shapes: the input, then every layer's output."""
        if self._shapes is None:
            raise RuntimeError(
                f"the input shape of {type(self).__name__} is not known yet: its first layer "
                f"({self.layers[0]!r}) does not declare it; pass input_shape=(...) or give it "
                "data first."
            )
        return self._shapes

    @property
    def built(self) -> bool:
        """Whether the shapes are known (given, declared, or inferred from data)."""
        return self._shapes is not None

    @property
    def input_shape(self) -> Shape | None:
        """Shape of one input sample (``None`` until known)."""
        return None if self._shapes is None else self._shapes[0]

    @property
    def output_shape(self) -> Shape:
        """Shape of one output sample."""
        return self.shapes[-1]

    @property
    def n_inputs(self) -> int:
        """Width of a flat input (the first entry of the input shape)."""
        return self.shapes[0][0]

    @property
    def n_outputs(self) -> int:
        """Width of the output (its last axis)."""
        return self.shapes[-1][-1]

    def get_params(self) -> np.ndarray:
        """A copy of the flat parameter vector (layer by layer, in each layer's layout)."""
        return self.params.copy()

    def set_params(self, values: object) -> None:
        """Overwrite all parameters from a flat vector of length ``num_parameters``."""
        values = check_array("params", values, ndim=1, dtype=self.params.dtype)
        if values.size != self.params.size:
            raise ValueError(
                f"params must have {self.params.size} entries (num_parameters); got {values.size}."
            )
        self.params[...] = values

    def layer_slices(self) -> list[slice]:
        """Where each layer's parameters sit in the flat vector."""
        slices = self.__dict__.get("_slices")
        if slices is None:
            slices, start = [], 0
            for layer in self.layers:
                slices.append(slice(start, start + layer.num_parameters))
                start += layer.num_parameters
            self._slices = slices
        return list(slices)

    def parameter_name(self, index: int) -> str:
        """Where flat parameter ``index`` lives, e.g. ``"layers[0].W[2, 5]"``."""
        index = check_int("index", index, minimum=0, maximum=self.num_parameters - 1)
        for number, (layer, where) in enumerate(zip(self.layers, self.layer_slices())):
            if index < where.stop:
                return f"layers[{number}].{layer.parameter_name(index - where.start)}"
        raise AssertionError("unreachable")

    def _bind_layers(self, flat: np.ndarray) -> None:
        for layer, where in zip(self.layers, self.layer_slices()):
            layer.bind(flat[where])

    def _bind(self, flat: np.ndarray) -> None:
        """Point every layer at ``flat`` (a vector laid out like ``params``)."""
        self._bind_layers(flat)

    @contextmanager
    def promoted(self) -> Iterator[np.ndarray]:
        """Within the block, ``params`` is a float64 copy that the layers read.

        Finite differences of a float32 network are computed this way: its parameters are
        exact in float64, where differences of small steps keep their accuracy (in float32
        they would carry errors of ``1e-3``-``1e-4``). The float32 vector is bound again on
        exit, also after an error; writes to the copy are dropped. A float64 network is left
        as it is.
        """
        original = self.params
        if original.dtype == np.float64:
            yield original
            return
        self.params = original.astype(np.float64)
        self._bind_layers(self.params)
        try:
            yield self.params
        finally:
            self.params = original
            self._bind_layers(original)

    # ------------------------------------------------------------------ forward
    def check_input(self, X: object, name: str = "X") -> np.ndarray:
        """``X`` as an array of the network's dtype, of samples of its input shape."""
        if self._shapes is None:
            X = check_array(name, X, ndim=(2, 3, 4, 5), dtype=self.params.dtype)
            shapes = infer_shapes(self.layers, X.shape[1:])
            self._validate_input(X, name)
            self._shapes = shapes
            return X
        expected = self._shapes[0]
        X = check_array(name, X, ndim=len(expected) + 1, dtype=self.params.dtype)
        if any(e is not None and e != s for e, s in zip(expected, X.shape[1:])):
            if len(expected) == 1:
                raise ValueError(
                    f"{name} has {X.shape[1]} features, but the model's first layer expects "
                    f"{expected[0]}."
                )
            raise ValueError(
                f"{name} has samples of shape {X.shape[1:]}, but the model expects {expected}."
            )
        self._validate_input(X, name)
        return X

    def _validate_input(self, X: np.ndarray, name: str) -> None:
        """The first layer's own check of the data, if it has one (``Embedding``: integer
        indices in range), so bad data is refused before any work."""
        validate = getattr(self.layers[0], "validate_input", None)
        if validate is not None:
            validate(X, name)

    def check_batch(
        self, loss: Any, X: object, y: object, names: tuple[str, str] = ("X", "y")
    ) -> tuple[np.ndarray, np.ndarray]:
        """Checked inputs and the targets as ``loss`` wants them (``names`` for messages)."""
        X = self.check_input(X, names[0])
        try:
            targets = loss.prepare_targets(y, self.n_outputs)
        except (TypeError, ValueError) as error:
            message = str(error)
            if names[1] != "y" and message.startswith("y "):
                message = names[1] + message[1:]
            raise type(error)(message) from None
        check_same_length(names[0], X, names[1], targets)
        return X, targets

    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        """Raw network outputs (logits for classification losses) for inputs ``X``.

        Each layer's output is checked to have the shape the network inferred for it, so a
        layer that returns the wrong shape is named (``ValueError``).
        """
        if self._shapes is None:
            self._shapes = infer_shapes(self.layers, X.shape[1:])
        a = X
        for index, layer in enumerate(self.layers):
            out = layer.forward(a, training)
            check_layer_output(index, layer, out, len(a), self.shapes[index + 1])
            a = out
        return a

    def non_finite_layer(self, X: np.ndarray, training: bool = False) -> str | None:
        """``"layers[i] (Name)"`` of the first layer whose output on ``X`` is not finite."""
        return first_non_finite(self.layers, self.activations(X, training))

    def activations(self, X: np.ndarray, training: bool = False) -> list[np.ndarray]:
        """``[X, out_0, out_1, ...]``: every layer's output, checked layer by layer."""
        if self._shapes is None:
            self._shapes = infer_shapes(self.layers, X.shape[1:])
        acts = [X]
        for index, layer in enumerate(self.layers):
            out = layer.forward(acts[-1], training)
            check_layer_output(index, layer, out, acts[-1].shape[0], self.shapes[index + 1])
            acts.append(out)
        return acts

    def config(self) -> dict[str, Any]:
        """Architecture: enough to rebuild the network (parameters aside)."""
        config: dict[str, Any] = {
            "layers": [layer.config() for layer in self.layers],
            "seed": self.seed,
            "dtype": self.params.dtype.name,
        }
        shape = self.input_shape  # None until built
        if shape is not None and shape != self.layers[0].input_shape():
            config["input_shape"] = list(shape)
        return config

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        dtype = "" if self.params.dtype == np.float64 else f", dtype={self.params.dtype.name!r}"
        return f"{type(self).__name__}([{inner}], seed={self.seed}{dtype})"

    def set_step(self, *key: int) -> None:
        """Key the layers' random draws to this step (e.g. ``(seed, epoch, batch)``)."""
        for index, layer in enumerate(self.layers):
            layer.step_key = (*key, index)

    def update_state(self, X: np.ndarray) -> None:
        """Let stateful layers (running statistics) see their unperturbed input of a training
        step; one extra forward pass, only when some layer has state."""
        if not any(layer.has_state for layer in self.layers):
            return
        a = X
        for layer in self.layers:
            out = layer.forward(a, True)
            if layer.has_state:
                layer.update_state(a)
            a = out

    def summary(self) -> str:
        """A table of the layers, their output shapes and parameter counts."""
        lines = [f"{'#':<4}{'layer':<40}{'output shape':<18}{'parameters':>10}"]
        for number, layer in enumerate(self.layers):
            shape = "?" if self._shapes is None else str(self._shapes[number + 1])
            lines.append(f"{number:<4}{repr(layer)[:39]:<40}{shape:<18}{layer.num_parameters:>10}")
        lines.append(f"{'total':<62}{self.num_parameters:>10}")
        return "\n".join(lines)


def check_layer_output(
    index: int, layer: Layer, out: object, n_samples: int, expected: Shape
) -> None:
    """Raise ``ValueError`` naming the layer if ``out`` has the wrong shape."""
    if not isinstance(out, np.ndarray) or out.shape[:1] != (n_samples,):
        got = out.shape if isinstance(out, np.ndarray) else describe(out)
        raise ValueError(
            f"layers[{index}] ({type(layer).__name__}) returned {got} for {n_samples} samples; "
            f"expected an array of shape {(n_samples, *expected)}."
        )
    if any(e is not None and e != s for e, s in zip(expected, out.shape[1:])) or len(expected) != (
        out.ndim - 1
    ):
        raise ValueError(
            f"layers[{index}] ({type(layer).__name__}) returned shape {out.shape}; expected "
            f"{(n_samples, *expected)}."
        )


def first_non_finite(layers: Sequence[Layer], acts: Sequence[np.ndarray]) -> str | None:
    """``"layers[i] (Name)"`` of the first layer whose output is not finite, if any."""
    for index, (layer, out) in enumerate(zip(layers, acts[1:])):
        if not np.all(np.isfinite(out)):
            return f"layers[{index}] ({type(layer).__name__})"
    return None
