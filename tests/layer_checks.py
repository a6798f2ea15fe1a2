"""Checks every built-in layer goes through, shared by the test_<layer module> files.

Each check takes a compiled model with the layer under test (and data), and compares it to
an independent reference: torch autograd in float64 (through the layer's PyTorch twin), the
plain per-parameter loop, an uninterrupted run, or the same call made twice.
"""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.gradients import engine, model_gradient, reference_gradient
from deep_learning_toolkit.numdiff import METHODS, get_method, get_stencil, resolve_steps

#: Largest error of each formula's gradient relative to the largest autograd entry, at the
#: default steps, for the small smooth models of these tests (measured: about 1e-8, 1e-10 and
#: 1e-11 for orders 1, 2 and 4; the bounds leave a factor of about 100).
TOLERANCE = {1: 1e-6, 2: 1e-8, 4: 1e-9}


def relative(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference relative to the largest entry of ``b``."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def torch_modules():
    """``torch``, the twin builder and the twin's step keys (skips without torch)."""
    torch = pytest.importorskip("torch")
    from deep_learning_toolkit.baselines import build_network, twin_layers

    return torch, build_network, twin_layers.set_step


def autograd(model, X, y, training: bool = True):
    """Loss and gradient (flat, in our layout) of the model's PyTorch twin, by autograd.

    The twin draws the dropout masks of ``loss_and_gradient`` (step key ``(seed,)``).
    """
    torch, build_network, set_step = torch_modules()
    from deep_learning_toolkit.baselines.torch_twin import _loss_function

    X, targets = model._prepare(X, y)
    network = build_network(model)
    network.train(training)
    set_step(network, model.seed)
    dtype = torch.int64 if model.loss.task == "classification" else torch.float64
    value = _loss_function(model.loss.name)(
        network(torch.from_numpy(X)), torch.as_tensor(targets, dtype=dtype)
    )
    value.backward()
    grads = [
        np.asarray(p.from_torch(p.tensor.grad.numpy())).ravel() for p in network.dltk_parameters
    ]
    return float(value.detach()), np.concatenate(grads)


def our_gradient(model, X, y, method: str, training: bool = True):
    """Loss and gradient by ``method`` at the default steps, in training or inference mode."""
    X, targets = model._prepare(X, y)
    model.set_step(model.seed)
    stencil = get_method(method)
    steps = resolve_steps(model.params, stencil)
    result = model_gradient(model, X, targets, model.loss, stencil, steps, training=training)
    return result.loss, result.gradient


def check_formulas_against_autograd(model, X, y, training: bool = True) -> None:
    """Each of the six formulas against autograd, to the tolerance of its order, and the
    complex step (no cancellation: measured <= 1e-15) to 1e-13."""
    exact_loss, exact = autograd(model, X, y, training)
    for method in METHODS:
        value, gradient = our_gradient(model, X, y, method, training)
        assert value == pytest.approx(exact_loss, rel=1e-13), method
        error = relative(gradient, exact)
        assert error <= TOLERANCE[get_stencil(method).order], (method, error)
    _, gradient = our_gradient(model, X, y, "complex_step", training)
    assert relative(gradient, exact) <= 1e-13


def check_engine_equals_reference(model, X, y, chunk_sizes=(None, 3)) -> None:
    """The batched engine (whole layers, and chunks of 3 parameters) and the plain loop, at
    ``h = 1/8``, in training and inference mode: <= 1e-12 relative."""
    X, targets = model._prepare(X, y)
    model.set_step(model.seed)
    steps = np.full(model.num_parameters, 0.125)
    for training in (True, False):
        for method in METHODS:
            stencil = get_stencil(method)
            slow = reference_gradient(model, X, targets, model.loss, stencil, steps, training)
            for chunk_size in chunk_sizes:
                fast = engine.batched_gradient(
                    model,
                    X,
                    targets,
                    model.loss,
                    stencil,
                    steps,
                    chunk_size=chunk_size,
                    training=training,
                )
                error = relative(fast.gradient, slow.gradient)
                assert error <= 1e-12, (method, training, chunk_size, error)
                assert fast.loss == pytest.approx(slow.loss, rel=1e-14)


def check_deterministic(model, X, y) -> None:
    """``loss_and_gradient`` twice gives the same bits; two formulas agree to truncation."""
    first = model.loss_and_gradient(X, y, method="central")
    again = model.loss_and_gradient(X, y, method="central")
    assert first[0] == again[0]
    np.testing.assert_array_equal(first[1], again[1])
    five = model.loss_and_gradient(X, y, method="five_point_midpoint")
    assert relative(first[1], five[1]) <= TOLERANCE[2]


def check_resume(make_model, X, y, tmp_path, **fit_args) -> tuple:
    """4 epochs straight equal 2 epochs, save, load, 2 more, bit for bit (parameters, layer
    state, optimizer, predictions); returns both models."""
    straight = make_model()
    straight.fit(X, y, epochs=4, **fit_args)
    half = make_model()
    half.fit(X, y, epochs=2, **fit_args)
    path = half.save(tmp_path / "half.dltk")
    resumed = dlt.load_model(path)
    for layer, loaded in zip(half.layers, resumed.layers):
        for key, value in layer.state_dict().items():
            np.testing.assert_array_equal(loaded.state_dict()[key], value)
    resumed.fit(X, y, epochs=4, initial_epoch=resumed.epochs_completed, **fit_args)
    np.testing.assert_array_equal(resumed.get_params(), straight.get_params())
    for layer, other in zip(resumed.layers, straight.layers):
        for key, value in layer.state_dict().items():
            np.testing.assert_array_equal(value, other.state_dict()[key])
    np.testing.assert_array_equal(resumed.predict(X), straight.predict(X))
    return straight, resumed


def check_twin(make_model, X, y, epochs: int = 3, batch_size: int = 8) -> float:
    """``train_torch_twin`` and ``fit`` (central differences) from the same start: the largest
    parameter difference at the end (returned), refused above 1e-6."""
    pytest.importorskip("torch")
    from deep_learning_toolkit.baselines import train_torch_twin

    model = make_model()
    twin = train_torch_twin(model, X, y, epochs=epochs, batch_size=batch_size)
    model.fit(X, y, epochs=epochs, batch_size=batch_size)
    difference = float(np.max(np.abs(model.get_params() - twin.params)))
    assert difference <= 1e-6, difference
    return difference


def check_refused_fit_changes_nothing(model, X, y, match: str) -> None:
    """A fit on bad data raises ``ValueError`` matching ``match`` and leaves the model as it
    was: parameters, layer state, history, epochs."""
    params = model.get_params()
    states = [layer.state_dict() for layer in model.layers]
    history, epochs = model.history, model.epochs_completed
    with pytest.raises(ValueError, match=match):
        model.fit(X, y, epochs=2, batch_size=4)
    np.testing.assert_array_equal(model.get_params(), params)
    for layer, state in zip(model.layers, states):
        for key, value in state.items():
            np.testing.assert_array_equal(layer.state_dict()[key], value)
    assert model.history is history and model.epochs_completed == epochs
