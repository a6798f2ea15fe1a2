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

As in Keras, ``histogram_freq=k`` adds histograms of every layer's parameters (tags
``weights/layers.i.W``) and of the gradient of the epoch's last step (``gradients/...``,
when the model exposes it as ``model.last_gradient``) every ``k`` epochs;
``update_freq="batch"`` (or ``N``) adds per-batch scalars ``batch_loss`` every ``N`` optimizer
steps; ``write_figures=True`` adds the learning-curve figure as the image ``learning_curves``
when training ends.

tensorboardX is optional: ``pip install tensorboardX`` (or the ``tensorboard`` extra).
"""

from __future__ import annotations

import io
import itertools
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import require
from .._validation import check_int, describe
from ..optim.base import check_bool
from .callbacks import Callback, Logs, training_finished

#: Prefix of the validation keys in the epoch logs (Keras's convention).
VALIDATION_PREFIX = "val_"
#: Prefix of every scalar tag, as Keras's TensorBoard callback names epoch-level scalars.
TAG_PREFIX = "epoch_"
#: Prefix of the per-batch scalar tags (``update_freq="batch"``), as in Keras.
BATCH_PREFIX = "batch_"
#: Tag prefixes of the parameter and gradient histograms.
WEIGHTS_PREFIX, GRADIENTS_PREFIX = "weights/", "gradients/"
#: Tag of the learning-curve image (``write_figures=True``).
FIGURE_TAG = "learning_curves"
#: Buckets of each histogram.
HISTOGRAM_BINS = 30
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

    def add_histogram(self, tag: str, values: np.ndarray, step: int) -> None:
        """Append a histogram of ``values`` (min, max, sum, sum of squares kept in float64)."""
        from tensorboardX.summary import histogram

        self.add_summary(histogram(tag, np.asarray(values, dtype=np.float64), HISTOGRAM_BINS), step)

    def add_png(self, tag: str, png: bytes, height: int, width: int, step: int) -> None:
        """Append an RGBA PNG image."""
        from tensorboardX.proto.summary_pb2 import Summary

        image = Summary.Image(height=height, width=width, colorspace=4, encoded_image_string=png)
        self.add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)

    def flush(self) -> None:
        """Write everything so far to disk."""
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the file."""
        self._writer.close()


class TensorBoardLogger(Callback):
    """Write the logs of ``fit`` as TensorBoard summaries, Keras-style.

    Parameters
    ----------
    log_dir : str or Path
        The run's directory, e.g. ``runs/iris/five_point_midpoint``; scalars go to
        ``log_dir/train`` and ``log_dir/validation``, hyperparameters to ``log_dir``.
        Event files of an earlier run in the same directory are kept (TensorBoard then
        shows both), so give each run its own directory.
    histogram_freq : int, default 0
        Every ``histogram_freq`` epochs (epochs 0, k, 2k, ...), write a histogram of each
        layer's parameters (``weights/layers.i.W``, ``weights/layers.i.b``) and, if the
        model exposes the flat gradient of its last step as ``model.last_gradient``, of
        that gradient split the same way (``gradients/layers.i.W``, ...); 0 writes none.
    write_figures : bool, default False
        When training ends, write the learning curves (loss and metrics, training and
        validation, and the learning rate) as the image ``learning_curves``; needs
        matplotlib.
    update_freq : "epoch", "batch" or int, default "epoch"
        ``"batch"`` also writes the batch logs (``batch_loss``) after every optimizer
        step, an integer ``N`` after every ``N``-th; the step of a batch scalar is the
        number of steps taken (counted from the optimizer's ``step_count`` when training
        begins, so a resumed run continues the axis).
    hparams : dict, optional
        Extra hyperparameters to record with the run (e.g. ``{"dataset": "iris"}``); they
        are added to the model's own (``History.params``: method, optimizer settings,
        epochs, batch size, ...). Values are shown as text, numbers or booleans. (Passed
        as the second positional argument, a dict is taken as ``hparams``, as before.)

    Notes
    -----
    A key ``k`` of the epoch logs is written as the scalar ``epoch_k`` of the ``train`` run,
    and ``val_k`` as ``epoch_k`` of the ``validation`` run, at step = epoch index (0-based).
    Values are stored as 32-bit floats (TensorBoard's ``simple_value``); histograms keep
    their minimum, maximum, sum and sum of squares in float64.

    Examples
    --------
    >>> logger = TensorBoardLogger("runs/iris/adam", histogram_freq=10)  # doctest: +SKIP
    >>> model.fit(X, y, epochs=100, validation_data=(Xv, yv), callbacks=[logger])  # doctest: +SKIP
    """

    def __init__(
        self,
        log_dir: str | os.PathLike,
        histogram_freq: int | Mapping[str, Any] = 0,
        write_figures: bool = False,
        update_freq: str | int = "epoch",
        hparams: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(histogram_freq, Mapping) and hparams is None:  # the old (log_dir, hparams)
            hparams, histogram_freq = histogram_freq, 0
        if not isinstance(log_dir, (str, os.PathLike)) or not str(log_dir):
            raise TypeError(f"log_dir must be a non-empty path; got {describe(log_dir)}.")
        if hparams is not None and not isinstance(hparams, Mapping):
            raise TypeError(f"hparams must be a dict; got {describe(hparams)}.")
        histogram_freq = check_int("histogram_freq", histogram_freq, minimum=0)
        write_figures = check_bool("write_figures", write_figures)
        batch_every = _check_update_freq(update_freq)
        _import_tensorboardx()  # fail now, not after a training run
        if write_figures:
            try:
                import matplotlib  # noqa: F401
            except ImportError as error:
                raise ImportError(
                    f"write_figures=True needs matplotlib: pip install matplotlib ({error})."
                ) from error
        self.log_dir = Path(log_dir)
        self.histogram_freq = histogram_freq
        self.write_figures = write_figures
        self.update_freq = update_freq
        self.hparams: dict[str, Any] = dict(hparams or {})
        self._batch_every = batch_every
        self._writers: dict[str, Any] = {}
        self._experiment_written = False
        self._last_epoch: int | None = None
        self._global_batch = 0

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
        step_count = getattr(getattr(self.model, "optimizer", None), "step_count", 0)
        self._global_batch = step_count if isinstance(step_count, int) else 0
        self._write_session_start()

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self._batch_every is None or not self._writers:
            return
        self._global_batch += 1
        if self._global_batch % self._batch_every:
            return
        for key, value in (logs or {}).items():
            if key != "size":
                self._writers["train"].add_scalar(
                    BATCH_PREFIX + key, float(value), self._global_batch
                )

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
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_histograms(int(epoch))
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._writers:
            if self.write_figures:
                self._write_figure()
            self._write_session_end()
        self.close()

    def close(self) -> None:
        """Flush and close the event files (idempotent)."""
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # ------------------------------------------------------------------ histograms, figure
    def _write_histograms(self, epoch: int) -> None:
        """Parameters, and the last step's gradient if the model exposes it, per layer."""
        model: Any = self.model
        params = np.asarray(model.get_params(), dtype=np.float64)
        blocks = parameter_blocks(model, params.size)
        gradient = getattr(model, "last_gradient", None)
        if gradient is not None:
            gradient = np.asarray(gradient, dtype=np.float64).reshape(-1)
            if gradient.size != params.size:
                raise ValueError(
                    f"model.last_gradient has {gradient.size} entries; the model has "
                    f"{params.size} parameters."
                )
        writer = self._writers["train"]
        for name, start, stop in blocks:
            writer.add_histogram(WEIGHTS_PREFIX + name, params[start:stop], epoch)
            if gradient is not None:
                writer.add_histogram(GRADIENTS_PREFIX + name, gradient[start:stop], epoch)

    def _write_figure(self) -> None:
        history = getattr(self.model, "history", None)
        if history is None or not getattr(history, "epoch", None):
            return
        metrics = [m for m in getattr(self.model, "metrics", None) or [] if isinstance(m, str)]
        figure = learning_curve_figure(history, metrics)
        png, (height, width) = figure_png(figure)
        self._writers["train"].add_png(FIGURE_TAG, png, height, width, history.epoch[-1])
        self._writers["train"].flush()

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

    def _write_session_end(self) -> None:
        from tensorboardX.proto.api_pb2 import Status
        from tensorboardX.proto.plugin_hparams_pb2 import SessionEndInfo

        finished = training_finished(self.model, self._last_epoch)
        status = "STATUS_SUCCESS" if finished else "STATUS_FAILURE"
        info = SessionEndInfo(status=Status.Value(status))
        self._write_plugin_summary("_hparams_/session_end_info", session_end_info=info)

    def __repr__(self) -> str:
        return f"TensorBoardLogger({str(self.log_dir)!r})"


def _check_update_freq(update_freq: Any) -> int | None:
    """Batches between batch scalars: ``None`` for ``"epoch"``, 1 for ``"batch"``, or N."""
    if update_freq == "epoch":
        return None
    if update_freq == "batch":
        return 1
    if isinstance(update_freq, str) or isinstance(update_freq, bool):
        raise ValueError(
            f"update_freq must be 'epoch', 'batch' or an integer >= 1; got {update_freq!r}."
        )
    return check_int("update_freq", update_freq, minimum=1)


def _layer_blocks(layer: Any) -> list[tuple[str, int]]:
    """``(name, size)`` of a layer's parameters in flat order (empty if it has none)."""
    named = getattr(layer, "named_parameters", None)
    if callable(named):
        return [(str(name), int(np.size(value))) for name, value in named()]
    pieces = [
        (name, int(np.size(getattr(layer, name))))
        for name in ("W", "b")
        if isinstance(getattr(layer, name, None), np.ndarray)
    ]
    total = int(getattr(layer, "num_parameters", sum(size for _, size in pieces)))
    if sum(size for _, size in pieces) == total:
        return pieces
    return [("params", total)] if total else []


def parameter_blocks(model: Any, size: int) -> list[tuple[str, int, int]]:
    """``(name, start, stop)`` of every parameter tensor in the model's flat vector.

    Names are ``layers.i.W``, ``layers.i.b`` (or ``layers.i.<name>`` for layers with
    ``named_parameters()``; TensorBoard tags allow no brackets); a model whose layers cannot
    be told apart gets one block.
    """
    layers = getattr(model, "layers", None)
    if layers is None:  # the PyTorch twin: its layers are those of the model it copies
        layers = getattr(getattr(model, "model", None), "layers", None)
    blocks, start = [], 0
    for index, layer in enumerate(layers or []):
        for name, count in _layer_blocks(layer):
            blocks.append((f"layers.{index}.{name}", start, start + count))
            start += count
    return blocks if blocks and start == size else [("params", 0, size)]


def learning_curve_figure(history: Any, metrics: list[str] | tuple[str, ...] = ()) -> Any:
    """A matplotlib ``Figure`` of a History: one panel per quantity, train and validation.

    Panels: ``loss``, each metric in ``metrics`` and every other key logged with a
    ``val_`` twin, and ``lr`` (log scale) when logged. x is the epoch index.
    """
    from matplotlib.figure import Figure

    logged = history.history
    names = ["loss"] + [k for k in logged if k != "loss" and f"val_{k}" in logged]
    names += [m for m in metrics if m in logged and m not in names]
    names += ["lr"] if "lr" in logged else []
    figure = Figure(figsize=(3.6 * len(names), 3.0), dpi=100, layout="constrained")
    for axes, name in zip(figure.subplots(1, len(names), squeeze=False)[0], names):
        axes.plot(history.epoch, logged.get(name, []), label="train")
        if f"val_{name}" in logged:
            axes.plot(history.epoch, logged[f"val_{name}"], label="validation")
            axes.legend()
        if name == "lr" and min(logged["lr"]) > 0:
            axes.set_yscale("log")
        axes.set_xlabel("epoch")
        axes.set_title(name)
    figure.suptitle(getattr(history, "name", "") or "learning curves")
    return figure


def figure_png(figure: Any) -> tuple[bytes, tuple[int, int]]:
    """A figure rendered by Agg as PNG bytes, and its (height, width) in pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    width, height = canvas.get_width_height()
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return buffer.getvalue(), (height, width)
