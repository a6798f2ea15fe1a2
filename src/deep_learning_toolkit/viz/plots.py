"""Seaborn plots of training runs, drawn from :class:`~deep_learning_toolkit.training.History`.

Histories become one long-form pandas frame (columns ``run``, ``epoch``, ``metric``,
``split``, ``value``), the shape seaborn plots from. Figures are built on a bare
:class:`matplotlib.figure.Figure`, never through ``pyplot``, so nothing needs a display and
no global figure state is touched (PNG files are rendered by the Agg canvas).

pandas, seaborn and matplotlib are optional (``pip install pandas seaborn matplotlib``, or the
``plot`` extra of a checkout).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._optional import require
from .._validation import describe
from ..training.history import History
from ..training.metrics import METRICS
from ..training.tensorboard import split_key

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: Columns of the long-form frame, in order.
FRAME_COLUMNS = ("run", "epoch", "metric", "split", "value")
#: Line style of each split in single-run figures.
SPLIT_STYLES = {"train": "-", "validation": "--"}
#: Width and height (inches) of one panel, and the resolution of saved PNGs.
PANEL_SIZE = (5.4, 3.6)
DPI = 110


def require_plotting() -> tuple[Any, Any, Any]:
    """Import pandas, seaborn and matplotlib's Figure, or say which package to install."""
    pandas = require("pandas", "plots")
    seaborn = require("seaborn", "plots")
    Figure = require("matplotlib.figure", "plots").Figure
    return pandas, seaborn, Figure


def _named_histories(histories: object) -> dict[str, History]:
    """``{run name: History}`` from a list of Histories (named by ``.name``) or a mapping."""
    if isinstance(histories, History):
        histories = [histories]
    if isinstance(histories, Mapping):
        pairs = [(str(name), history) for name, history in histories.items()]
    elif isinstance(histories, Sequence) and not isinstance(histories, str):
        pairs = [(getattr(history, "name", ""), history) for history in histories]
    else:
        raise TypeError(
            "histories must be a list of History objects or a dict {name: History}; "
            f"got {describe(histories)}."
        )
    if not pairs:
        raise ValueError("histories is empty; pass at least one History.")
    named: dict[str, History] = {}
    for index, (name, history) in enumerate(pairs):
        if not isinstance(history, History):
            raise TypeError(f"histories[{index}] must be a History; got {describe(history)}.")
        name = name or f"run {index}"
        if name in named:
            raise ValueError(
                f"two histories are named {name!r}; pass a dict {{name: History}} to tell "
                "them apart."
            )
        named[name] = history
    return named


def histories_to_frame(histories: Sequence[History] | Mapping[str, History]) -> pd.DataFrame:
    """Every logged value of every run as one long-form frame.

    Parameters
    ----------
    histories : list of History or dict {name: History}
        Runs; a list names each run by ``History.name``.

    Returns
    -------
    pandas.DataFrame
        Columns ``run`` (categorical, in the given order), ``epoch`` (as in
        ``History.epoch``: 0-based, the TensorBoard step), ``metric`` (``"loss"``,
        ``"accuracy"``, ``"grad_norm"``, ...), ``split`` (``"train"`` or ``"validation"``;
        a ``val_<metric>`` key is the validation split of ``<metric>``, every other key is
        ``train``) and ``value`` (float).

    Examples
    --------
    >>> frame = histories_to_frame([history])            # doctest: +SKIP
    >>> frame.query("metric == 'accuracy' and split == 'validation'")  # doctest: +SKIP
    """
    pandas, _, _ = require_plotting()
    named = _named_histories(histories)
    rows: dict[str, list] = {column: [] for column in FRAME_COLUMNS}
    for name, history in named.items():
        for key, values in history.history.items():
            metric, split = split_key(key)
            rows["run"] += [name] * len(values)
            rows["epoch"] += list(history.epoch[: len(values)])
            rows["metric"] += [metric] * len(values)
            rows["split"] += [split] * len(values)
            rows["value"] += [float(v) for v in values]
    frame = pandas.DataFrame(rows, columns=list(FRAME_COLUMNS))
    frame["run"] = pandas.Categorical(frame["run"], categories=list(named), ordered=True)
    frame["epoch"] = frame["epoch"].astype("int64")
    frame["value"] = frame["value"].astype("float64")
    return frame


def _default_metrics(frame: pd.DataFrame) -> list[str]:
    """The loss and every compiled metric (names of ``METRICS``) present in ``frame``."""
    present = set(frame["metric"])
    return [name for name in ("loss", *METRICS) if name in present]


def _check_metrics(frame: pd.DataFrame, metrics: Sequence[str] | None) -> list[str]:
    chosen = _default_metrics(frame) if metrics is None else list(metrics)
    if isinstance(metrics, str) or not chosen:
        raise ValueError(f"metrics must be a non-empty list of names; got {describe(metrics)}.")
    available = set(frame["metric"])
    missing = [m for m in chosen if m not in available]
    if missing:
        raise ValueError(f"metrics {missing} are not logged; available: {sorted(available)}.")
    return chosen


def _check_reference(named: dict[str, History], reference: str | None) -> None:
    if reference is not None and reference not in named:
        raise ValueError(f"reference {reference!r} is not one of the runs {list(named)}.")


def _splits(frame: pd.DataFrame) -> list[str]:
    present = set(frame["split"])
    return [split for split in ("train", "validation") if split in present]


def _line(seaborn: Any, ax: Any, part: pd.DataFrame, style: dict[str, Any]) -> None:
    """One run's (or split's) curve: raw values, no aggregation, no per-axes legend."""
    if part.empty:
        return
    seaborn.lineplot(
        data=part, x="epoch", y="value", ax=ax, estimator=None, errorbar=None, legend=False, **style
    )


def _draw_grid(
    seaborn: Any,
    Figure: Any,
    frame: pd.DataFrame,
    runs: list[str],
    metrics: list[str],
    reference: str | None,
    ylabel: str = "{metric}",
) -> tuple[Any, Any]:
    """One row per metric, one column per split, one line per run (``reference`` on top)."""
    splits = _splits(frame)
    figure = Figure(
        figsize=(PANEL_SIZE[0] * len(splits) + 2.2, PANEL_SIZE[1] * len(metrics) + 0.6),
        layout="constrained",
    )
    axes = figure.subplots(len(metrics), len(splits), squeeze=False)
    others = [name for name in runs if name != reference]
    palette = seaborn.color_palette("tab10", max(len(others), 1))
    reference_style = {"label": reference, "color": "black", "linestyle": "--", "linewidth": 2}
    for i, metric in enumerate(metrics):
        for j, split in enumerate(splits):
            ax = axes[i, j]
            part = frame[(frame["metric"] == metric) & (frame["split"] == split)]
            for k, name in enumerate(others):
                _line(seaborn, ax, part[part["run"] == name], {"label": name, "color": palette[k]})
            if reference is not None and reference in runs:
                _line(seaborn, ax, part[part["run"] == reference], reference_style)
            ax.set_title(f"{metric} ({split})")
            ax.set_xlabel("epoch")
            ax.set_ylabel(ylabel.format(metric=metric))
    return figure, axes


def _finish(
    figure: Any, axes: Any, legend_title: str, title: str | None, path: str | Path | None
) -> None:
    """Add one legend beside the panels and the title; save as PNG when ``path`` is given."""
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right upper", title=legend_title)
    if title:
        figure.suptitle(title)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=DPI)


@contextmanager
def _style(seaborn: Any) -> Iterator[None]:
    """Seaborn's white-grid style, applied only inside the ``with`` block."""
    with seaborn.axes_style("whitegrid"), seaborn.plotting_context("notebook", font_scale=0.9):
        yield


def plot_histories(
    histories: Sequence[History] | Mapping[str, History],
    path: str | Path | None = None,
    title: str | None = None,
    metrics: Sequence[str] | None = None,
    reference: str | None = None,
) -> Figure:
    """Plot learning curves of one or more runs with seaborn.

    Parameters
    ----------
    histories : list of History or dict {name: History}
        Runs to plot; a list names each run by ``History.name``.
    path : str or Path, optional
        Where to save the figure as PNG (parent folders are created).
    title : str, optional
        Figure title.
    metrics : list of str, optional
        Logged quantities to plot, e.g. ``["loss", "accuracy", "grad_norm"]``; by default
        the loss and the compiled metrics found in the histories.
    reference : str, optional
        Name of a run drawn on top in black dashes (e.g. ``"pytorch"``), so runs that
        coincide with it stay visible.

    Returns
    -------
    matplotlib.figure.Figure
        With a single run: one panel per metric, train (solid) and validation (dashed)
        lines. With several runs: one row per metric and one column per split, one line per
        run. Every data line is labelled with its run (several runs) or split (one run).

    Examples
    --------
    >>> import deep_learning_toolkit as dlt
    >>> figure = dlt.viz.plot_histories([h1, h2], path="curves.png", title="Iris")  # doctest: +SKIP
    """
    _, seaborn, Figure = require_plotting()
    named = _named_histories(histories)
    frame = histories_to_frame(named)
    chosen = _check_metrics(frame, metrics)
    _check_reference(named, reference)
    frame = frame[frame["metric"].isin(chosen)]
    with _style(seaborn):
        if len(named) > 1:
            figure, axes = _draw_grid(seaborn, Figure, frame, list(named), chosen, reference)
            _finish(figure, axes, "run", title, path)
            return figure
        splits = _splits(frame)
        figure = Figure(
            figsize=(PANEL_SIZE[0] * len(chosen) + 2.2, PANEL_SIZE[1] + 0.6),
            layout="constrained",
        )
        axes = figure.subplots(1, len(chosen), squeeze=False)
        palette = seaborn.color_palette("tab10", len(splits))
        for i, metric in enumerate(chosen):
            ax = axes[0, i]
            for j, split in enumerate(splits):
                part = frame[(frame["metric"] == metric) & (frame["split"] == split)]
                style = {"label": split, "color": palette[j], "linestyle": SPLIT_STYLES[split]}
                _line(seaborn, ax, part, style)
            ax.set_title(metric)
            ax.set_xlabel("epoch")
            ax.set_ylabel(metric)
        _finish(figure, axes, "split", title, path)
    return figure


def differences_frame(
    histories: Sequence[History] | Mapping[str, History], reference: str
) -> pd.DataFrame:
    """``|value - value of reference|`` for every other run, epoch, metric and split.

    Same columns as :func:`histories_to_frame`; exact agreement (a difference of 0) becomes
    NaN, so that a log-scale plot leaves a gap rather than failing.
    """
    named = _named_histories(histories)
    _check_reference(named, reference)
    frame = histories_to_frame(named)
    keys = ["epoch", "metric", "split"]
    base = frame[frame["run"] == reference][[*keys, "value"]]
    others = frame[frame["run"] != reference]
    merged = others.merge(base, on=keys, suffixes=("", "_reference"))
    merged["value"] = (merged["value"] - merged["value_reference"]).abs()
    merged.loc[merged["value"] == 0, "value"] = float("nan")
    merged["run"] = merged["run"].cat.remove_categories([reference])
    return merged[list(FRAME_COLUMNS)].reset_index(drop=True)


def plot_differences(
    histories: Sequence[History] | Mapping[str, History],
    reference: str,
    path: str | Path | None = None,
    title: str | None = None,
    metrics: Sequence[str] = ("loss",),
) -> Figure:
    """How far each run is from a reference run: ``|value - reference|`` per epoch, log scale.

    Parameters
    ----------
    histories : list of History or dict {name: History}
        The runs, the reference among them.
    reference : str
        Name of the run to compare against (e.g. ``"pytorch"``).
    path, title
        As in :func:`plot_histories`.
    metrics : list of str, default ("loss",)
        Quantities to compare (one row each; one column per split).

    Returns
    -------
    matplotlib.figure.Figure
        One line per non-reference run (see :func:`differences_frame`).
    """
    _, seaborn, Figure = require_plotting()
    frame = differences_frame(histories, reference)
    chosen = _check_metrics(frame, list(metrics))
    frame = frame[frame["metric"].isin(chosen)]
    runs = list(frame["run"].cat.categories)
    with _style(seaborn):
        figure, axes = _draw_grid(
            seaborn, Figure, frame, runs, chosen, None, ylabel=f"|{{metric}} - {reference}|"
        )
        for ax in axes.flat:
            ax.set_yscale("log")
        _finish(figure, axes, "run", title, path)
    return figure
