"""``TensorBoardLogger``: a callback that writes TensorBoard event files with tensorboardX.

The layout is Keras's: a run directory ``log_dir`` holds ``log_dir/train`` and
``log_dir/validation``, and a quantity appears under the same tag in both, so TensorBoard
draws the training and validation curves of ``epoch_loss`` in one chart. Every key of the
epoch logs is written: ``loss`` and the metrics (train), ``val_loss`` and ``val_<metric>``
(as ``epoch_loss`` / ``epoch_<metric>`` of the validation run), and the bookkeeping of
``fit``: ``epoch_grad_norm``, ``epoch_lr``, ``epoch_fd_step``, ``epoch_seconds``,
``epoch_evaluations`` (train). Each epoch's values are written and flushed to disk before
``fit`` moves on (:class:`EventFile`), so a ``tensorboard --logdir`` started beside a run
shows it live.

The run's hyperparameters go to ``log_dir`` itself as HParams-plugin summaries (one session
per run, with the ``train`` / ``validation`` curves as its metrics), which is how Keras's
``hparams`` callback lays them out: TensorBoard's HParams tab then lists the runs side by
side with their final losses and metrics.

tensorboardX is optional: ``pip install tensorboardX`` (or the ``tensorboard`` extra).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._optional import require
from .._validation import describe
from .callbacks import Callback, Logs

#: Prefix of the validation keys in the epoch logs (Keras's convention).
VALIDATION_PREFIX = "val_"
#: Prefix of every scalar tag, as Keras's TensorBoard callback names epoch-level scalars.
TAG_PREFIX = "epoch_"
#: Sub-directories of a run, by split.
SPLIT_DIRS = {"train": "train", "validation": "validation"}

_FILE_NUMBERS = itertools.count()


def split_key(key: str) -> tuple[str, str]:
    """Split an epoch-log key into its quantity and split.

    ``"val_accuracy"`` -> ``("accuracy", "validation")``; any other key, e.g. ``"loss"`` or
    ``"grad_norm"``, -> ``(key, "train")``.
    """
    if key.startswith(VALIDATION_PREFIX):
        return key[len(VALIDATION_PREFIX) :], "validation"
    return key, "train"


def _import_tensorboardx() -> Any:
    return require("tensorboardX", "TensorBoard logging")


def _hparam_value(value: Any) -> str | bool | float | None:
    """A value the HParams plugin can show: str, bool or float (lists become text)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if hasattr(value, "item") and getattr(value, "size", 0) == 1:
        return _hparam_value(value.item())
    return str(value)


class EventFile:
    """One TensorBoard event file in ``directory``, written synchronously.

    tensorboardX's ``SummaryWriter`` hands events to a background thread, and its
    ``flush()`` does not wait for that thread, so the last events can stay in memory for
    up to ``flush_secs``. Here :meth:`add_scalar` writes the record at once (with
    tensorboardX's ``EventsWriter``) and :meth:`flush` puts it on disk.
    """

    def __init__(self, directory: Path) -> None:
        from tensorboardX.event_file_writer import EventsWriter

        directory.mkdir(parents=True, exist_ok=True)
        # A per-process suffix keeps two files created in the same second apart.
        suffix = f".{os.getpid()}.{next(_FILE_NUMBERS)}"
        self._writer = EventsWriter(str(directory / "events"), filename_suffix=suffix)

    def add_summary(self, summary: Any, step: int) -> None:
        """Append a ``Summary`` protocol buffer at ``step``."""
        from tensorboardX.proto.event_pb2 import Event

        self._writer.write_event(Event(wall_time=time.time(), step=step, summary=summary))

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        """Append one scalar (stored as float32, TensorBoard's ``simple_value``)."""
        from tensorboardX.summary import scalar

        self.add_summary(scalar(tag, value), step)

    def flush(self) -> None:
        """Write everything so far to disk."""
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the file."""
        self._writer.close()


class TensorBoardLogger(Callback):
    """Write the epoch logs of ``fit`` as TensorBoard scalars, Keras-style.

    Parameters
    ----------
    log_dir : str or Path
        The run's directory, e.g. ``runs/iris/five_point_midpoint``; scalars go to
        ``log_dir/train`` and ``log_dir/validation``, hyperparameters to ``log_dir``.
        Event files of an earlier run in the same directory are kept (TensorBoard then
        shows both), so give each run its own directory.
    hparams : dict, optional
        Extra hyperparameters to record with the run (e.g. ``{"dataset": "iris"}``); they
        are added to the model's own (``History.params``: method, optimizer settings,
        epochs, batch size, ...). Values are shown as text, numbers or booleans.

    Notes
    -----
    A key ``k`` of the epoch logs is written as the scalar ``epoch_k`` of the ``train`` run,
    and ``val_k`` as ``epoch_k`` of the ``validation`` run, at step = epoch index (0-based).
    Values are stored as 32-bit floats (TensorBoard's ``simple_value``).

    Examples
    --------
    >>> logger = TensorBoardLogger("runs/iris/five_point_midpoint")   # doctest: +SKIP
    >>> model.fit(X, y, epochs=100, validation_data=(Xv, yv), callbacks=[logger])  # doctest: +SKIP
    """

    def __init__(
        self, log_dir: str | os.PathLike, hparams: Mapping[str, Any] | None = None
    ) -> None:
        if not isinstance(log_dir, (str, os.PathLike)) or not str(log_dir):
            raise TypeError(f"log_dir must be a non-empty path; got {describe(log_dir)}.")
        if hparams is not None and not isinstance(hparams, Mapping):
            raise TypeError(f"hparams must be a dict; got {describe(hparams)}.")
        _import_tensorboardx()  # fail now, not after a training run
        self.log_dir = Path(log_dir)
        self.hparams: dict[str, Any] = dict(hparams or {})
        self._writers: dict[str, Any] = {}
        self._experiment_written = False
        self._last_epoch: int | None = None

    # ------------------------------------------------------------------ paths
    def run_dir(self, split: str) -> Path:
        """Directory of the ``"train"`` or ``"validation"`` event files."""
        return self.log_dir / SPLIT_DIRS[split]

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.close()
        self._writers = {"run": EventFile(self.log_dir)}
        for split in SPLIT_DIRS:
            self._writers[split] = EventFile(self.run_dir(split))
        self._experiment_written = False
        self._last_epoch = None
        self._write_session_start()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if not self._writers:
            raise RuntimeError("TensorBoardLogger.on_epoch_end called before on_train_begin.")
        logs = logs or {}
        if not self._experiment_written:
            self._write_experiment(logs)
        self._last_epoch = int(epoch)
        for key, value in logs.items():
            name, split = split_key(key)
            self._writers[split].add_scalar(TAG_PREFIX + name, float(value), int(epoch))
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._writers:
            self._write_session_end()
        self.close()

    def close(self) -> None:
        """Flush and close the event files (idempotent)."""
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # ------------------------------------------------------------------ hparams
    def run_hparams(self) -> dict[str, str | bool | float]:
        """Hyperparameters recorded for the run: the model's ``History.params`` and ours."""
        history = getattr(self.model, "history", None)
        merged = {**dict(getattr(history, "params", None) or {}), **self.hparams}
        values = {str(key): _hparam_value(value) for key, value in merged.items()}
        return {key: value for key, value in values.items() if value is not None}

    def _write_plugin_summary(self, tag: str, **content: Any) -> None:
        from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
        from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata

        data = HParamsPluginData(version=0, **content)
        metadata = SummaryMetadata(
            plugin_data=SummaryMetadata.PluginData(
                plugin_name="hparams", content=data.SerializeToString()
            )
        )
        summary = Summary(value=[Summary.Value(tag=tag, metadata=metadata)])
        self._writers["run"].add_summary(summary, step=0)
        self._writers["run"].flush()

    def _write_session_start(self) -> None:
        from tensorboardX.proto.plugin_hparams_pb2 import SessionStartInfo

        info = SessionStartInfo()
        for key, value in self.run_hparams().items():
            if isinstance(value, bool):
                info.hparams[key].bool_value = value
            elif isinstance(value, float):
                info.hparams[key].number_value = value
            else:
                info.hparams[key].string_value = value
        self._write_plugin_summary("_hparams_/session_start_info", session_start_info=info)

    def _write_experiment(self, logs: Logs) -> None:
        """Declare the hyperparameters and, as metrics, every quantity of the first epoch."""
        from tensorboardX.proto.api_pb2 import (
            DatasetType,
            DataType,
            Experiment,
            HParamInfo,
            MetricInfo,
            MetricName,
        )

        types = {bool: "DATA_TYPE_BOOL", float: "DATA_TYPE_FLOAT64", str: "DATA_TYPE_STRING"}
        hparam_infos = [
            HParamInfo(name=key, type=DataType.Value(types[type(value)]))
            for key, value in self.run_hparams().items()
        ]
        datasets = {"train": "DATASET_TRAINING", "validation": "DATASET_VALIDATION"}
        metric_infos = []
        for key in logs:
            name, split = split_key(key)
            metric_infos.append(
                MetricInfo(
                    name=MetricName(group=SPLIT_DIRS[split], tag=TAG_PREFIX + name),
                    display_name=key,
                    dataset_type=DatasetType.Value(datasets[split]),
                )
            )
        experiment = Experiment(hparam_infos=hparam_infos, metric_infos=metric_infos)
        self._write_plugin_summary("_hparams_/experiment", experiment=experiment)
        self._experiment_written = True

    def _finished(self) -> bool:
        """True if the run reached its last epoch or a callback stopped it on purpose."""
        if getattr(self.model, "stop_training", False):
            return True
        history = getattr(self.model, "history", None)
        epochs = (getattr(history, "params", None) or {}).get("epochs")
        return self._last_epoch is not None and (epochs is None or self._last_epoch + 1 >= epochs)

    def _write_session_end(self) -> None:
        from tensorboardX.proto.api_pb2 import Status
        from tensorboardX.proto.plugin_hparams_pb2 import SessionEndInfo

        status = "STATUS_SUCCESS" if self._finished() else "STATUS_FAILURE"
        info = SessionEndInfo(status=Status.Value(status))
        self._write_plugin_summary("_hparams_/session_end_info", session_end_info=info)

    def __repr__(self) -> str:
        return f"TensorBoardLogger({str(self.log_dir)!r})"
