"""Models as data: the header and arrays of a model file, and back.

Each object describes itself: layers by :meth:`~deep_learning_toolkit.nn.Layer.config`
(and ``state_dict`` for non-parameter state such as running statistics), optimizers by
``state_dict``, the history by ``to_dict``; this module gathers those pieces into the header
of :mod:`deep_learning_toolkit.archive` and turns a header back into the pieces. It does
not know the model class (:func:`deep_learning_toolkit.io.load_model` assembles it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ._validation import describe
from .archive import FORMAT, VERSION
from .gradients.steps import MODEL_STEP_RULES, PilotState
from .nn.layer import Layer, layer_from_config, parameter_budget
from .nn.losses import LOSSES
from .numdiff.fornberg import analyse
from .numdiff.stencils import COMPLEX_STEP, STENCILS, ComplexStep, Stencil, get_method
from .numdiff.zeroth_order import ZerothOrder
from .optim import OPTIMIZERS, Optimizer
from .training.history import History


def model_payload(model: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and arrays of ``model`` (a ``Sequential``, read through its attributes)."""
    arrays: dict[str, np.ndarray] = {"params": model.params}
    for index, layer in enumerate(model.layers):
        for key, value in layer.state_dict().items():
            arrays[f"layers.{index}.{key}"] = np.asarray(value)
    compiled = None
    optimizer = None
    if model.loss is not None:
        compiled = {
            "loss": _loss_name(model.loss),
            "method": _method_to_json(model.stencil),
            "step": _step_to_json(model.step, arrays),
            "metrics": _metric_names(model.metrics),
            "gradient_engine": model.gradient_engine,
            "memory_budget": int(model.memory_budget),
        }
        optimizer = _optimizer_to_json(model.optimizer, arrays)
    history = getattr(model, "history", None)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "library_version": _library_version(),
        "architecture": model.config(),
        "epochs_completed": int(getattr(model, "epochs_completed", 0)),
        "batches_completed": int(getattr(model, "batches_completed", 0)),
        "compile": compiled,
        "optimizer": optimizer,
        "step_pilot": _pilot_to_json(getattr(model, "step_pilot", None), arrays),
        "history": None if history is None else history.to_dict(),
        "arrays": {
            name: {"dtype": value.dtype.str, "shape": list(value.shape)}
            for name, value in arrays.items()
        },
    }
    return header, arrays


@dataclass
class ModelParts:
    """What a model file holds, rebuilt: enough for ``Sequential`` to assemble itself."""

    layers: list[Layer]
    seed: int
    input_shape: tuple | None
    params: np.ndarray
    compile: dict[str, Any] | None
    epochs_completed: int
    history: History | None
    batches_completed: int = 0
    step_pilot: PilotState | None = None
    dtype: str = "float64"

    def restore_state(self, layers: list[Layer], arrays: dict[str, np.ndarray]) -> None:
        """Give each layer its saved non-parameter state."""
        for index, layer in enumerate(layers):
            prefix = f"layers.{index}."
            state = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            layer.load_state_dict(state)


def model_parts(
    header: dict[str, Any],
    arrays: dict[str, np.ndarray],
    custom_layers: dict[str, type[Layer]] | None = None,
) -> ModelParts:
    """Rebuild the pieces of a model from a verified header and its arrays.

    The header has passed :func:`~deep_learning_toolkit.header_schema.check_header`; the
    layers are built under a budget of the parameters the file holds, so that no layer
    allocates more than the file can account for.
    """
    architecture = header["architecture"]
    with parameter_budget(_array(arrays, "params").size):
        layers = [layer_from_config(dict(c), custom_layers) for c in architecture["layers"]]
    compiled = header.get("compile")
    settings = None
    if compiled is not None:
        settings = {
            "loss": compiled["loss"],
            "optimizer": _optimizer_from_json(header["optimizer"], arrays),
            "method": _method_from_json(compiled["method"]),
            "step": _step_from_json(compiled["step"], arrays),
            "metrics": compiled["metrics"],
            "gradient_engine": compiled["gradient_engine"],
            "memory_budget": compiled["memory_budget"],
        }
    shape = architecture.get("input_shape")
    parts = ModelParts(
        layers=layers,
        seed=architecture["seed"],
        input_shape=None if shape is None else tuple(shape),
        params=_array(arrays, "params"),
        compile=settings,
        epochs_completed=int(header["epochs_completed"]),
        batches_completed=int(header.get("batches_completed", 0)),
        history=None if header.get("history") is None else History.from_dict(header["history"]),
        step_pilot=_pilot_from_json(header.get("step_pilot"), arrays),
        dtype=architecture.get("dtype", "float64"),  # files from before float32 support
    )
    parts.restore_state(layers, arrays)
    return parts


def _optimizer_to_json(optimizer: Optimizer, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    state = optimizer.state_dict()
    for key, value in state["state"].items():
        arrays[f"optimizer.{key}"] = value
    return {
        "name": state["optimizer"],
        "hyperparameters": state["hyperparameters"],
        "step": int(state["step"]),
        "shape": None if state["shape"] is None else list(state["shape"]),
        "state": sorted(state["state"]),
    }


def _optimizer_from_json(spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> Optimizer:
    name = spec["name"]
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; known ones are {sorted(OPTIMIZERS)}")
    optimizer = OPTIMIZERS[name]()  # type: ignore[call-arg]  # every subclass has a default lr
    optimizer.load_state_dict(
        {
            "optimizer": name,
            "hyperparameters": spec["hyperparameters"],
            "step": spec["step"],
            "shape": spec.get("shape"),
            "state": {key: _array(arrays, f"optimizer.{key}") for key in spec["state"]},
        }
    )
    return optimizer


def _metric_names(metrics: list[Any]) -> list[str]:
    for metric in metrics:
        if not isinstance(metric, str):
            raise TypeError(
                f"Cannot save a model compiled with the metric function {describe(metric)}; "
                "only named metrics can be saved (compile again with names before saving)."
            )
    return list(metrics)


def _loss_name(loss: Any) -> str:
    if LOSSES.get(loss.name) is not type(loss):
        raise TypeError(
            f"Cannot save a model compiled with the custom loss {describe(loss)}; only the "
            f"built-in losses {list(LOSSES)} can be saved."
        )
    return loss.name


def _method_to_json(method: Any) -> dict[str, Any]:
    if isinstance(method, Stencil):
        if STENCILS.get(method.name) == method:
            return {"name": method.name}
        row: dict[str, Any] = {
            "name": method.name,
            "offsets": list(method.offsets),
            "weights": list(method.weights),
            "order": method.order,
            "default_step": method.default_step,
        }
        if method.exact is not None:
            row["exact"] = _formula_to_json(method.exact)
        return {"stencil": row}
    if isinstance(method, ComplexStep):
        if method == COMPLEX_STEP:
            return {"name": method.name}
        return {"complex_step": dataclasses.asdict(method)}
    if isinstance(method, ZerothOrder):
        return {"zeroth_order": method.config()}
    raise TypeError(f"Cannot save a model compiled with the method {describe(method)}.")


def _method_from_json(spec: dict[str, Any]) -> Any:
    if "name" in spec:
        return get_method(spec["name"])
    if "stencil" in spec:
        row = spec["stencil"]
        exact = _formula_from_json(row["exact"]) if "exact" in row else None
        if exact is not None and (
            exact.float_offsets() != tuple(row["offsets"])
            or exact.float_weights() != tuple(row["weights"])
        ):
            raise ValueError("the stencil's exact formula does not match its offsets and weights")
        return Stencil(
            row["name"],
            tuple(float(o) for o in row["offsets"]),
            tuple(float(w) for w in row["weights"]),
            int(row["order"]),
            float(row["default_step"]),
            exact,
        )
    if "complex_step" in spec:
        return ComplexStep(**spec["complex_step"])
    if "zeroth_order" in spec:
        return ZerothOrder(**spec["zeroth_order"])
    raise ValueError(f"unknown method description {spec!r}")


def _formula_to_json(formula: Any) -> dict[str, Any]:
    return {
        "offsets": [str(o) for o in formula.offsets],
        "weights": [str(w) for w in formula.weights],
        "derivative": formula.derivative,
        "order": formula.order,
        "error_terms": [[power, str(c)] for power, c in formula.error_terms],
    }


def _formula_from_json(spec: dict[str, Any]) -> Any:
    """The exact formula, analysed again from its offsets and weights (not trusted)."""
    offsets = tuple(Fraction(o) for o in spec["offsets"])
    weights = tuple(Fraction(w) for w in spec["weights"])
    terms = tuple((int(power), Fraction(c)) for power, c in spec["error_terms"])
    formula = analyse(offsets, weights, 1, n_terms=len(terms))
    if (formula.order, formula.error_terms) != (int(spec["order"]), terms):
        raise ValueError(
            "the exact formula's order and error terms do not match its offsets and weights"
        )
    return formula


def _step_to_json(step: Any, arrays: dict[str, np.ndarray]) -> Any:
    # ``null`` meant the classic rule before the pilot existed, so the pilot is spelled out.
    if step is None:
        return {"rule": "pilot"}
    if isinstance(step, str):
        return {"rule": step}
    if isinstance(step, (int, float, np.integer, np.floating)) and not isinstance(step, bool):
        return {"scalar": float(step)}
    arrays["step"] = np.asarray(step, dtype=np.float64)
    return {"array": "step"}


def _step_from_json(spec: Any, arrays: dict[str, np.ndarray]) -> Any:
    if spec is None:  # a file from before the pilot: it trained with the classic steps
        return "classic"
    if "rule" in spec:
        rule = spec["rule"]
        if rule != "pilot" and rule not in MODEL_STEP_RULES:
            raise ValueError(f"unknown step rule {rule!r}")
        return None if rule == "pilot" else rule
    if "scalar" in spec:
        return float(spec["scalar"])
    return _array(arrays, spec["array"])


def _array(arrays: dict[str, np.ndarray], name: str) -> np.ndarray:
    if name not in arrays:
        raise ValueError(f"the header names an array {name!r} that the file does not index")
    return arrays[name]


def _pilot_to_json(state: PilotState | None, arrays: dict[str, np.ndarray]) -> Any:
    if state is None:
        return None
    arrays["step_pilot"] = np.asarray(state.relative, dtype=np.float64)
    return {"method": state.method, "age": int(state.age), "relative": "step_pilot"}


def _pilot_from_json(spec: Any, arrays: dict[str, np.ndarray]) -> PilotState | None:
    if spec is None:
        return None
    return PilotState(str(spec["method"]), _array(arrays, spec["relative"]), int(spec["age"]))


def _library_version() -> str:
    try:
        from importlib.metadata import version

        return version("deep_learning_toolkit")
    except Exception:  # not installed (a source checkout on the path)
        return "unknown"
