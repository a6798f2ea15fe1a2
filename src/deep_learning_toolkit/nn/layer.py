"""The ``Layer`` protocol: what every layer, built-in or user-defined, provides.

A layer declares its parameters with :meth:`Layer.add_parameter`; the network that holds it
allocates one flat vector (float64, or float32 for ``dtype="float32"``) for all layers and
*binds* each layer to its slice, after which ``layer.W`` (say) is a view into that vector, in
C order, in the order of declaration.
Writing an entry of the flat vector therefore perturbs the layer directly, which is what a
finite difference needs, and the flat layout is the layout of ``model.get_params()``.

A layer computes ``forward(x, training=False)`` on a batch ``x`` of shape ``(N, ...)``. The
gradient engine also calls :meth:`Layer.forward_stack` on a stack of perturbed batches
``(M, N, ...)``; the default reshapes the stack into one batch of ``M * N`` samples, which is
right for every layer whose samples do not interact (``per_sample = True``), and loops over
the stack otherwise.

Layers may add an *engine hook* (see :mod:`deep_learning_toolkit.nn.perturbation`): how a
perturbation of one of their parameters, or a structured change of their input, changes
their output. Layers without hooks are handled by the generic batched path.

Saving: :meth:`Layer.config` returns the constructor's arguments (recorded automatically);
:func:`layer_from_config` rebuilds a layer from them. A user-defined layer is found by its
class name once registered with :func:`register_layer` (or passed to ``load_model`` as
``custom_layers``); its constructor arguments must be JSON values. Layers rebuilt from a
file are built under a :func:`parameter_budget`, so that a crafted size (``Dense(10**6,
10**6)``) is refused before its parameters are allocated.
"""

from __future__ import annotations

import inspect
import math
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from .._validation import describe
from .initializers import Initializer, fans, get_initializer

Shape = tuple  # a per-sample shape; None marks a size known only from the data

_BUDGET: ContextVar[list[int] | None] = ContextVar("parameter_budget", default=None)


@contextmanager
def parameter_budget(limit: int) -> Iterator[None]:
    """Layers created inside may declare at most ``limit`` parameter values in all.

    :meth:`Layer.add_parameter` raises ``ValueError`` before allocating a parameter that
    would exceed what is left; used when rebuilding layers from a file, whose parameter
    vector says how many values its layers hold.
    """
    token = _BUDGET.set([int(limit)])
    try:
        yield
    finally:
        _BUDGET.reset(token)


@dataclass(frozen=True)
class Parameter:
    """A declared parameter: its shape and initialiser."""

    name: str
    shape: tuple[int, ...]
    initializer: Initializer

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class Layer:
    """Base class of all layers (see the module notes).

    Subclasses call ``super().__init__()``, declare parameters with :meth:`add_parameter`
    and implement :meth:`forward`. Everything else has a working default.

    Examples
    --------
    >>> import numpy as np
    >>> import deep_learning_toolkit as dlt
    >>> class Scale(dlt.Layer):
    ...     def __init__(self, n):
    ...         super().__init__()
    ...         self.add_parameter("s", (n,), initializer="ones")
    ...     def forward(self, x, training=False):
    ...         return x * self.s
    >>> model = dlt.Sequential([dlt.Dense(3, 2), Scale(2)], seed=0)
    >>> model.num_parameters
    10
    """

    #: Each sample's output depends on that sample alone (False for e.g. batch statistics).
    per_sample: bool = True
    #: Name under which :func:`layer_from_config` finds the class (the class name).
    type_name: str = "Layer"
    #: The constructor's ``(args, kwargs)``, recorded by ``__new__`` for :meth:`config`.
    _arguments: tuple[tuple[Any, ...], dict[str, Any]]

    def __new__(cls, *args: Any, **kwargs: Any) -> Layer:
        layer = super().__new__(cls)
        layer._arguments = (args, kwargs)
        return layer

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.type_name = cls.__name__

    def __init__(self) -> None:
        self._parameters: dict[str, Parameter] = {}
        #: A weak reference to the network that owns the layer (None until it joins one).
        self._owner: weakref.ref[Any] | None = None
        #: Key of the current step, ``(seed, epoch, batch, layer index)`` during ``fit``: a
        #: layer that draws random numbers (dropout) seeds them from it, so that every
        #: perturbed evaluation of one step sees the same draws and a resumed run replays them.
        self.step_key: tuple[int, ...] = (0,)

    def step_rng(self) -> np.random.Generator:
        """A generator seeded from :attr:`step_key`: the same draws all through one step."""
        return np.random.default_rng(self.step_key)

    # ------------------------------------------------------------------ parameters
    def add_parameter(
        self, name: str, shape: tuple[int, ...] | int, initializer: str | Initializer = "zeros"
    ) -> np.ndarray:
        """Declare a parameter; it reads as ``self.<name>``, a view into the flat vector.

        Parameters
        ----------
        name : str
            A Python identifier not yet used by the layer.
        shape : tuple of int or int
            Its shape; every size at least 1.
        initializer : str or callable
            A name from :data:`~deep_learning_toolkit.nn.initializers.INITIALIZERS` or a
            callable ``f(rng, shape, fan_in, fan_out) -> ndarray``.

        Returns
        -------
        ndarray
            The parameter (float64 zeros until the network binds it to its vector, of the
            network's dtype, and initialises it: values drawn in float64, then rounded).
        """
        if "_parameters" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before "
                "add_parameter()."
            )
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"parameter name must be an identifier; got {describe(name)}.")
        if name in self._parameters or hasattr(type(self), name):
            raise ValueError(f"{type(self).__name__} already has an attribute {name!r}.")
        if self._owner is not None:
            raise RuntimeError("add_parameter() after the layer was put in a model.")
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        if not shape or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in shape
        ):
            raise ValueError(
                f"shape of parameter {name!r} must be positive integers; got {describe(shape)}."
            )
        shape = tuple(int(s) for s in shape)
        budget = _BUDGET.get()
        if budget is not None:
            if math.prod(shape) > budget[0]:
                raise ValueError(
                    f"{type(self).__name__} parameter {name!r} of shape {shape} needs "
                    f"{math.prod(shape)} values, more than the {budget[0]} parameters left "
                    "to build from."
                )
            budget[0] -= math.prod(shape)
        self._parameters[name] = Parameter(name, shape, get_initializer(initializer))
        value = np.zeros(shape)
        setattr(self, name, value)
        return value

    @property
    def parameters(self) -> dict[str, Parameter]:
        """The declared parameters, in flat order."""
        return dict(self.__dict__.get("_parameters", {}))

    @property
    def num_parameters(self) -> int:
        """Number of scalar parameters."""
        return sum(p.size for p in self.__dict__.get("_parameters", {}).values())

    def bind(self, flat: np.ndarray) -> None:
        """Make every parameter a view of ``flat`` (this layer's slice, C order)."""
        start = 0
        for parameter in self.parameters.values():
            view = flat[start : start + parameter.size].reshape(parameter.shape)
            setattr(self, parameter.name, view)
            start += parameter.size

    def initialize(self, rng: np.random.Generator) -> None:
        """Draw every parameter in place from ``rng``, in declaration order."""
        for parameter in self.parameters.values():
            fan_in, fan_out = fans(parameter.shape)
            value = parameter.initializer(rng, parameter.shape, fan_in, fan_out)
            getattr(self, parameter.name)[...] = value

    def parameter_name(self, index: int) -> str:
        """Name of the layer's flat parameter ``index``, e.g. ``"W[2, 5]"``."""
        for parameter in self.parameters.values():
            if index < parameter.size:
                where = np.unravel_index(index, parameter.shape)
                return f"{parameter.name}[{', '.join(str(int(i)) for i in where)}]"
            index -= parameter.size
        raise IndexError(f"parameter index out of range for {self!r}.")

    # ------------------------------------------------------------------ computation
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Outputs for a batch ``x`` of shape ``(N, ...)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x, training).")

    def forward_stack(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Outputs for a stack of batches ``x`` of shape ``(M, N, ...)``."""
        M, N = x.shape[:2]
        if self.per_sample:
            out = self.forward(x.reshape((M * N,) + x.shape[2:]), training)
            return out.reshape((M, N) + out.shape[1:])
        return np.stack([self.forward(x[m], training) for m in range(M)])

    def input_shape(self) -> Shape | None:
        """Per-sample input shape this layer needs (``None`` entries: any size), if known."""
        return None

    def output_shape(self, input_shape: Shape) -> Shape:
        """Per-sample output shape for ``input_shape``; raises ``ValueError`` if it does not fit.

        The default runs :meth:`forward` on one zero sample when every size is known, and
        returns ``input_shape`` otherwise.
        """
        if any(size is None for size in input_shape):
            return tuple(input_shape)
        probe = np.zeros((1, *input_shape))
        with np.errstate(all="ignore"):
            out = np.asarray(self.forward(probe, training=False))
        if out.ndim < 1 or out.shape[0] != 1:
            raise ValueError(
                f"{self!r} returned shape {out.shape} for one sample of shape "
                f"{tuple(input_shape)}; forward must keep the batch axis first."
            )
        return tuple(out.shape[1:])

    #: Whether :meth:`update_state` does anything (the training step skips the extra pass).
    has_state: bool = False

    def update_state(self, x: np.ndarray) -> None:
        """Update non-parameter state (e.g. running statistics) from the unperturbed input ``x``
        of a training step; called once per step by ``fit`` (set :attr:`has_state`)."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """Non-parameter state to save with the model (e.g. running statistics)."""
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned."""
        if state:
            raise ValueError(f"{type(self).__name__} has no state; got keys {sorted(state)}.")

    # ------------------------------------------------------------------ engine hooks
    def perturbation_cache(self, x: np.ndarray, out: np.ndarray) -> object | None:
        """Per-step data for :meth:`perturb` / :meth:`propagate`; ``None``: no hooks."""
        return None

    # perturb(cache, index, deltas, scratch) -> Change and
    # propagate(cache, change, scratch) -> Change | None are looked up by the engine only
    # when perturbation_cache returns a cache (see nn/perturbation.py).

    # ------------------------------------------------------------------ saving
    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its owner (a weak reference); the owning network re-binds it."""
        state = dict(self.__dict__)
        state["_owner"] = None
        return state

    def config(self) -> dict[str, Any]:
        """``{"type": <class name>, <constructor arguments>}``, to rebuild the layer."""
        args, kwargs = self.__dict__.get("_arguments", ((), {}))
        bound = inspect.signature(type(self).__init__).bind(self, *args, **kwargs)
        arguments = dict(bound.arguments)
        arguments.pop(next(iter(arguments)))  # self
        return {"type": self.type_name, **arguments}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """Rebuild a layer from :meth:`config` (without its ``type`` key)."""
        return cls(**config)

    def __repr__(self) -> str:
        arguments = ", ".join(
            f"{key}={value!r}" for key, value in self.config().items() if key != "type"
        )
        return f"{type(self).__name__}({arguments})"


#: Layer classes by :attr:`Layer.type_name`, for loading.
LAYER_TYPES: dict[str, type[Layer]] = {}

L = TypeVar("L", bound=type[Layer])


def register_layer(cls: L) -> L:
    """Register a layer class so that saved models using it load (usable as a decorator).

    Examples
    --------
    >>> import deep_learning_toolkit as dlt
    >>> @dlt.register_layer
    ... class Double(dlt.Layer):
    ...     def forward(self, x, training=False):
    ...         return 2 * x
    >>> dlt.nn.layer_from_config({"type": "Double"})
    Double()
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer takes a Layer subclass; got {describe(cls)}.")
    known = LAYER_TYPES.get(cls.type_name)
    if known is not None and known is not cls and known.__module__.startswith(__package__):
        raise ValueError(f"{cls.type_name!r} is a built-in layer; give your class another name.")
    LAYER_TYPES[cls.type_name] = cls
    return cls


def layer_from_config(
    config: dict[str, Any], custom_layers: dict[str, type[Layer]] | None = None
) -> Layer:
    """Rebuild a layer from :meth:`Layer.config`; ``custom_layers`` adds classes by name."""
    if not isinstance(config, dict) or not isinstance(config.get("type"), str):
        raise ValueError(f"a layer config must be a dict with a 'type'; got {describe(config)}.")
    known: dict[str, type[Layer]] = {**LAYER_TYPES, **(custom_layers or {})}
    kind = config["type"]
    if kind not in known:
        raise ValueError(
            f"Unknown layer type {kind!r}; known ones are {sorted(known)}. Register a custom "
            "layer with dlt.register_layer(cls) or pass load_model(..., custom_layers={...})."
        )
    arguments = {key: value for key, value in config.items() if key != "type"}
    try:
        return known[kind].from_config(arguments)
    except TypeError as error:
        raise ValueError(
            f"cannot rebuild layer {kind!r} from {describe(arguments)}: {error}"
        ) from None


def layer_hooks(layer: Layer) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """The layer's ``(perturb, propagate)`` engine hooks, or ``None`` if it has none."""
    perturb = getattr(layer, "perturb", None)
    propagate = getattr(layer, "propagate", None)
    if perturb is None or propagate is None:
        return None
    return perturb, propagate
