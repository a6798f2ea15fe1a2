"""The record of a training run: one value per epoch for every logged quantity."""

from __future__ import annotations

from typing import Any


class History:
    """Per-epoch logs of a ``fit`` call, in the shape Keras users know.

    Attributes
    ----------
    history : dict[str, list[float]]
        ``history["loss"][e]`` is the value logged at the end of epoch ``epoch[e]``; keys
        include ``loss``, the compiled metrics, their ``val_`` versions when validation data
        were given, ``evaluations`` (loss evaluations spent in the epoch), ``grad_norm``
        (mean over the epoch's batches), ``lr``, ``fd_step`` (mean finite-difference step)
        and ``seconds``.
    epoch : list[int]
        Epoch indices (0-based) in the order they ran.
    params : dict
        The run's settings: method, optimizer hyperparameters, epochs, batch size, ...
    name : str
        A label for plots and logs, by default the differentiation method.
    """

    def __init__(self, name: str = "", params: dict[str, Any] | None = None) -> None:
        self.name = name
        self.params: dict[str, Any] = dict(params or {})
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        """Record the logs of one finished epoch."""
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __len__(self) -> int:
        return len(self.epoch)

    def last(self, key: str) -> float:
        """The most recent value of ``key``."""
        return self.history[key][-1]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (for checkpoints and reports)."""
        return {
            "name": self.name,
            "params": dict(self.params),
            "epoch": list(self.epoch),
            "history": {k: list(v) for k, v in self.history.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a History saved with :meth:`to_dict`."""
        history = cls(data.get("name", ""), data.get("params"))
        history.epoch = [int(e) for e in data.get("epoch", [])]
        history.history = {k: [float(x) for x in v] for k, v in data.get("history", {}).items()}
        return history

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History(name={self.name!r}, epochs={len(self.epoch)}, keys=[{keys}])"
