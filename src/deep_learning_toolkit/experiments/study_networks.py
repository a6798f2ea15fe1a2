"""The networks of the step-size study: Iris and digits, shallow, wide and deep.

Each :class:`StudyNetwork` says how to build its model, which data it sees, how long it is
trained before the study (Adam, three-point formula at the classic step, so that the state
studied does not depend on the steps being studied) and the batch the gradient is taken on.
:data:`NETWORKS` lists them in the order the study runs them; a network of other layers (a
CNN) joins by giving ``build`` (a function returning the uncompiled ``Sequential``): the
study takes its truth from the PyTorch twin of its layers (or the complex step without torch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._validation import check_choice, check_int
from ..model import Sequential
from .setup import build_cnn, build_model


@dataclass(frozen=True)
class StudyNetwork:
    """A network and batch of the study.

    Attributes
    ----------
    dataset : {"iris", "digits", ...}
        A bundled dataset (standardised features).
    hidden : tuple of int
        Hidden widths of a tanh MLP (ignored when ``build`` is given).
    batch_size : int
        Samples in the studied batch.
    epochs : int
        Adam epochs (batches of 32) before the study.
    build : callable, optional
        ``build(n_outputs, seed) -> Sequential`` for other architectures.
    image_shape : tuple, optional
        Shape of one sample for ``build`` (e.g. ``(1, 8, 8)`` for digits), else flat features.
    label : str
        How the table names a ``build`` network.
    """

    dataset: str
    hidden: tuple[int, ...]
    batch_size: int
    epochs: int
    build: Callable[[int, int], Sequential] | None = None
    image_shape: tuple[int, ...] | None = None
    label: str = ""

    def architecture(self, n_inputs: int, n_outputs: int) -> str:
        """``"4-16-3 tanh"`` for an MLP (the layer widths), else :attr:`label`."""
        widths = "-".join(str(w) for w in (n_inputs, *self.hidden, n_outputs))
        return f"{widths} tanh" if self.build is None else self.label


def _digits_cnn(n_outputs: int, seed: int) -> Sequential:
    return build_cnn((1, 8, 8), (32,), n_outputs, "tanh", seed)


#: The study's networks by name (the order of the printed tables).
NETWORKS: dict[str, StudyNetwork] = {
    "iris-4-16-3": StudyNetwork("iris", (16,), 32, 10),
    "iris-4-16-16-3": StudyNetwork("iris", (16, 16), 32, 10),
    "iris-4-64-64-3": StudyNetwork("iris", (64, 64), 32, 10),
    "digits-64-32-10": StudyNetwork("digits", (32,), 256, 2),
    "digits-64-128-10": StudyNetwork("digits", (128,), 256, 2),
    "digits-64-32-32-32-10": StudyNetwork("digits", (32, 32, 32), 128, 2),
    "digits-cnn": StudyNetwork(
        "digits",
        (32,),
        128,
        2,
        build=_digits_cnn,
        image_shape=(1, 8, 8),
        label="CNN Conv2D(1, 8, 3x3, tanh)-AvgPool2D(2)-32-10 tanh",
    ),
}
#: The network of ``study_network()`` without a name (the study's first figure, the README's).
DEFAULT_NETWORK = "iris-4-16-16-3"


def study_network(
    name: str = DEFAULT_NETWORK,
    batch_size: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
) -> tuple[Sequential, np.ndarray, np.ndarray, str]:
    """A compiled model of :data:`NETWORKS`, its batch and a description.

    Parameters
    ----------
    name : str
        A key of :data:`NETWORKS`.
    batch_size, epochs : int, optional
        Override the network's batch size and training epochs.
    seed : int
        Seeds the weights, the training batches and the drawing of the studied batch.

    Returns
    -------
    (model, X, y, description)
    """
    from ..data import StandardScaler, load_dataset

    spec = NETWORKS[check_choice("network", name, NETWORKS)]
    data = load_dataset(spec.dataset)
    n_classes = data.n_classes
    if n_classes is None:  # every study network is a classifier
        raise ValueError(f"network {name!r} needs a classification dataset; got {spec.dataset!r}.")
    X = StandardScaler().fit_transform(data.X)
    batch_size = check_int(
        "batch_size",
        spec.batch_size if batch_size is None else batch_size,
        minimum=1,
        maximum=len(X),
    )
    epochs = check_int("epochs", spec.epochs if epochs is None else epochs, minimum=0)
    if spec.build is None:
        model = build_model(X.shape[1], spec.hidden, n_classes, "tanh", seed)
    else:
        model = spec.build(n_classes, seed)
    architecture = spec.architecture(X.shape[1], n_classes)
    if spec.image_shape is not None:
        X = X.reshape(-1, *spec.image_shape)
    model.compile(loss="cross_entropy", optimizer="adam", method="central", step="classic")
    if epochs:
        model.fit(X, data.y, epochs=epochs, batch_size=32)
    batch = np.random.default_rng(seed).choice(len(X), size=batch_size, replace=False)
    description = (
        f"{spec.dataset}, {architecture} network "
        f"({model.num_parameters} parameters) after {epochs} epochs of Adam, cross-entropy on "
        f"a batch of {batch_size}"
    )
    return model, X[batch], data.y[batch], description
