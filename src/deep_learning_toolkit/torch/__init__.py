"""PyTorch tools: :class:`ZerothOrder`, a MeZO-style optimizer for any ``nn.Module``.

Needs PyTorch (the ``[torch]`` extra); ``import deep_learning_toolkit`` does not import it,
``dlt.torch`` does on first use.

>>> import deep_learning_toolkit as dlt
>>> optimizer = dlt.torch.ZerothOrder(model.parameters(), lr=1e-3)   # doctest: +SKIP
>>> optimizer.step(lambda: loss_fn(model(X), y))                     # doctest: +SKIP
"""

from __future__ import annotations

from .directions import METHODS, direction, direction_seed
from .zeroth_order import ZerothOrder

__all__ = ["METHODS", "ZerothOrder", "direction", "direction_seed"]
