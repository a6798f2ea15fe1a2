"""Tests of the PyTorch twin: same network, same optimizer, same batches, same results."""

from __future__ import annotations

import numpy as np
import pytest

import deep_learning_toolkit as dlt
from deep_learning_toolkit.training.callbacks import Callback, EarlyStopping

torch = pytest.importorskip("torch")

from deep_learning_toolkit.baselines import (  # noqa: E402
    build_network,
    network_params,
    torch_optimizer,
    train_torch_twin,
)


def toy_data(n: int = 40, d: int = 3, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.argmax(X @ rng.normal(size=(d, classes)), axis=1)
    return X, y


def compiled(activation: str = "tanh", loss: str = "cross_entropy", outputs: int = 3, **kw):
    model = dlt.Sequential(
        [dlt.Dense(3, 5, activation=activation), dlt.Dense(5, 4, activation=activation)]
        + [dlt.Dense(4, outputs)],
        seed=7,
    )
    model.compile(loss=loss, optimizer=kw.pop("optimizer", dlt.optim.SGD(lr=0.1)), **kw)
    return model


@pytest.mark.parametrize(
    "activation", ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"]
)
def test_network_computes_the_model(activation: str) -> None:
    model = compiled(activation)
    network = build_network(model)
    X = np.random.default_rng(1).normal(size=(11, 3))
    with torch.no_grad():
        ours_in_torch = network(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(ours_in_torch, model.forward(X), rtol=1e-13, atol=1e-14)
    assert all(p.dtype == torch.float64 for p in network.parameters())
    np.testing.assert_array_equal(network_params(network), model.get_params())
    first = network[0]
    np.testing.assert_array_equal(first.weight.detach().numpy(), model.layers[0].W.T)


def test_building_a_twin_leaves_torch_global_generator_alone() -> None:
    state = torch.random.get_rng_state()
    build_network(compiled())
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize(
    ("loss", "outputs", "targets"),
    [
        ("cross_entropy", 3, lambda X: np.argmax(X, axis=1)),
        ("binary_cross_entropy", 2, lambda X: (X[:, :2] > 0).astype(float)),
        ("mse", 2, lambda X: X[:, :2] * 2.0 - 1.0),
    ],
)
def test_autograd_gradient_equals_finite_differences(loss, outputs, targets) -> None:
    """The twin's loss and gradient are ours: exact ones vs a five-point estimate."""
    from deep_learning_toolkit.baselines.torch_twin import TorchTwin

    model = compiled(loss=loss, outputs=outputs, method="five_point_midpoint")
    X = np.random.default_rng(2).normal(size=(17, 3))
    y = targets(X)
    value, gradient = model.loss_and_gradient(X, y)
    twin = TorchTwin(model)
    X_t, T_t, _ = twin._prepare(X, y, ("X", "y"))
    torch_loss = twin._loss_function(twin.network(X_t), T_t)
    torch_loss.backward()
    exact = np.concatenate(
        [
            np.concatenate([m.weight.grad.numpy().T.ravel(), m.bias.grad.numpy()])
            for m in twin.network[::2]
        ]
    )
    assert float(torch_loss.detach()) == pytest.approx(value, rel=1e-14)
    np.testing.assert_allclose(gradient, exact, rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize(
    "optimizer",
    [
        dlt.optim.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        dlt.optim.Adam(lr=0.01, betas=(0.8, 0.99), amsgrad=True, weight_decay=0.1),
        dlt.optim.Adam(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
        dlt.optim.RMSprop(lr=0.01, alpha=0.9, momentum=0.5, centered=True),
    ],
    ids=repr,
)
def test_torch_optimizer_takes_our_hyperparameters(optimizer) -> None:
    rng = np.random.default_rng(3)
    start = rng.normal(size=8)
    grads = [rng.normal(size=8) for _ in range(20)]
    ours = start.copy()
    for grad in grads:
        optimizer.step(ours, grad)
    parameter = torch.nn.Parameter(torch.tensor(start))
    theirs = torch_optimizer(optimizer, [parameter])
    for grad in grads:
        parameter.grad = torch.tensor(grad)
        theirs.step()
    np.testing.assert_allclose(parameter.detach().numpy(), ours, rtol=0, atol=1e-13)


def test_history_has_our_keys_and_meanings() -> None:
    """With a vanishing learning rate every epoch sees the initial parameters."""
    X, y = toy_data()
    Xv, yv = toy_data(n=15, seed=1)
    model = compiled(optimizer=dlt.optim.SGD(lr=1e-300), metrics=["accuracy"])
    before = model.get_params()
    result = train_torch_twin(model, X, y, epochs=2, batch_size=16, validation_data=(Xv, yv))
    ours = compiled(optimizer=dlt.optim.SGD(lr=1e-300), metrics=["accuracy"]).fit(
        X, y, epochs=2, batch_size=16, validation_data=(Xv, yv)
    )
    history = result.history
    assert history.name == "pytorch" and set(history.history) == set(ours.history)
    assert history.params["method"] == "autograd" and history.params["lr"] == 1e-300
    np.testing.assert_array_equal(model.get_params(), before)  # the model is untouched
    train, test = model.evaluate(X, y), model.evaluate(Xv, yv)
    # loss: batch losses weighted by batch size = the full-data loss at fixed parameters
    assert history.history["loss"] == pytest.approx([train["loss"]] * 2, rel=1e-14)
    assert history.history["accuracy"] == [train["accuracy"]] * 2
    assert history.history["val_loss"] == pytest.approx([test["loss"]] * 2, rel=1e-14)
    assert history.history["val_accuracy"] == [test["accuracy"]] * 2
    assert history.history["evaluations"] == [3.0, 3.0]  # forward+backward pairs: 40 = 16+16+8
    assert history.history["fd_step"] == [0.0, 0.0]
    assert history.history["lr"] == [1e-300, 1e-300]
    assert history.history["grad_norm"] == pytest.approx(ours.history["grad_norm"], rel=1e-7)
    np.testing.assert_allclose(result.params, before, rtol=1e-15, atol=1e-290)


def test_twin_replays_our_batches_and_optimizer() -> None:
    """Three-point steps: after 30 SGD+momentum epochs the parameters agree closely."""
    X, y = toy_data(n=50)

    def kwargs():  # one optimizer per model: a shared one would mix their states
        return {"optimizer": dlt.optim.SGD(lr=0.1, momentum=0.9), "method": "three_point_midpoint"}

    model = compiled(**kwargs())
    result = train_torch_twin(model, X, y, epochs=30, batch_size=8, seed=5)
    model.fit(X, y, epochs=30, batch_size=8, seed=5)
    assert np.max(np.abs(model.get_params() - result.params)) < 1e-7
    other_batches = train_torch_twin(compiled(**kwargs()), X, y, epochs=30, batch_size=8, seed=6)
    assert np.max(np.abs(other_batches.params - result.params)) > 1e-4


def test_callbacks_see_the_twin_like_a_model() -> None:
    X, y = toy_data()
    seen: list[np.ndarray] = []

    class Recorder(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model.get_params())

    stopper = EarlyStopping(monitor="loss", min_delta=10.0, patience=1, restore_best_weights=True)
    result = train_torch_twin(compiled(), X, y, epochs=10, callbacks=[Recorder(), stopper])
    assert len(result.history) == 2 and stopper.stopped_epoch == 1
    np.testing.assert_array_equal(result.params, seen[0])  # best weights restored


def test_torch_threads_are_restored() -> None:
    threads = torch.get_num_threads()
    X, y = toy_data()
    train_torch_twin(compiled(), X, y, epochs=1, num_threads=1)
    assert torch.get_num_threads() == threads


def test_twin_rejects_bad_input() -> None:
    X, y = toy_data()
    uncompiled = dlt.Sequential([dlt.Dense(3, 3)])
    with pytest.raises(RuntimeError, match="compile"):
        train_torch_twin(uncompiled, X, y)
    with pytest.raises(ValueError, match="X has 2 features"):
        train_torch_twin(compiled(), X[:, :2], y)
    with pytest.raises(ValueError, match="same number of samples"):
        train_torch_twin(compiled(), X, y[:-1])
    with pytest.raises(ValueError, match="validation_data must be a tuple"):
        train_torch_twin(compiled(), X, y, validation_data=X)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        train_torch_twin(compiled(), X, y, epochs=0)


def test_midpoint_methods_end_where_pytorch_ends() -> None:
    """The default experiment (plain SGD, default epochs, lr and batches) on Iris."""
    pytest.importorskip("sklearn")
    from deep_learning_toolkit.train import DEFAULTS, run_comparison

    comparison = run_comparison(methods=["three_point_midpoint", "five_point_midpoint"])
    assert comparison.settings["optimizer"] == "sgd" == DEFAULTS.optimizer
    reference = comparison.histories["pytorch"]
    assert reference.params["momentum"] == 0.0 and len(reference) == DEFAULTS.epochs
    for method in ("three_point_midpoint", "five_point_midpoint"):
        difference = np.max(np.abs(comparison.params[method] - comparison.params["pytorch"]))
        assert difference <= 1e-6, (method, difference)  # measured: ~1e-11 and ~1e-12
        history = comparison.histories[method]
        assert history.last("val_accuracy") == reference.last("val_accuracy")
        assert history.last("loss") == pytest.approx(reference.last("loss"), rel=1e-8)
