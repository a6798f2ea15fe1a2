"""Reference implementations the toolkit is measured against.

``torch_twin``: the PyTorch twin of a ``Sequential`` (same architecture, initial weights,
optimizer and mini-batches; exact autograd gradients). Needs the ``torch`` extra, imported
only when a twin is built: ``pip install torch`` (the ``[torch]`` extra in a checkout).
"""

from .torch_twin import (
    TWIN_NAME,
    TorchTwin,
    TwinResult,
    build_network,
    network_params,
    require_torch,
    set_network_params,
    torch_optimizer,
    train_torch_twin,
)

__all__ = [
    "TWIN_NAME",
    "TorchTwin",
    "TwinResult",
    "build_network",
    "network_params",
    "require_torch",
    "set_network_params",
    "torch_optimizer",
    "train_torch_twin",
]
