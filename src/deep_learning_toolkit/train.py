"""``python -m deep_learning_toolkit.train``: the six finite-difference methods against PyTorch.

One network is trained on one dataset once per finite-difference method and once as its
PyTorch twin (same initial weights, optimizer, hyperparameters and mini-batches; exact
autograd gradients). The runs are logged to TensorBoard, plotted with seaborn, and summed up
in a table.

The experiment is :func:`~deep_learning_toolkit.experiments.run_comparison` (importable,
returns the histories); this module only parses the command line, calls it and prints.
Data pipeline and tasks: :mod:`deep_learning_toolkit.experiments.setup`. Run
``python -m deep_learning_toolkit.train --help`` for the options.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .baselines.torch_twin import TWIN_NAME
from .distributed import BACKENDS, ray_session
from .experiments.comparison import (
    Comparison,
    check_output_directory,
    make_plots,
    run_comparison,
)
from .experiments.setup import (
    DATASETS,
    DEFAULT_LR,
    DEFAULTS,
    HIDDEN_ACTIVATIONS,
    MODELS,
    TASKS,
    build_model,
    prepare_data,
)
from .numdiff import METHODS
from .optim import OPTIMIZERS

#: Start of every command-line error line (the console script's name).
ERROR_PREFIX = "dltk-train: error: "
#: Exit statuses: bad input (as argparse), a run that failed (training diverged), Ctrl-C.
EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130

#: Re-exported for ``from deep_learning_toolkit.train import ...``.
__all__ = [
    "DATASETS",
    "DEFAULTS",
    "DEFAULT_LR",
    "HIDDEN_ACTIVATIONS",
    "TASKS",
    "build_model",
    "build_parser",
    "main",
    "make_plots",
    "prepare_data",
    "run_comparison",
]


# ---------------------------------------------------------------------- command line
def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _hidden_widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in _comma_list(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected widths like 16 or 32,16; got {text!r}"
        ) from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected positive widths like 16 or 32,16; got {text!r}")
    return widths


def _optional_path(text: str) -> str | None:
    return None if text.lower() in ("", "none") else text


def _fail(message: object, status: int = EXIT_BAD_INPUT) -> NoReturn:
    """Write ``dltk-train: error: <message>`` as one line on stderr and exit with ``status``."""
    text = " ".join(line.strip() for line in str(message).splitlines() if line.strip())
    print(ERROR_PREFIX + text, file=sys.stderr)
    raise SystemExit(status)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    """The command-line options of ``python -m deep_learning_toolkit.train``."""
    d = DEFAULTS
    parser = _Parser(
        prog="python -m deep_learning_toolkit.train",
        description=(
            "Train one network with each finite-difference method and as its PyTorch twin "
            "(same initial weights, optimizer and mini-batches); log to TensorBoard, plot "
            "the learning curves and print a results table."
        ),
    )
    add = parser.add_argument
    add("--dataset", choices=DATASETS, default=d.dataset, help=f"default: {d.dataset}")
    add(
        "--methods",
        nargs="+",
        default=list(METHODS),
        help="finite-difference methods, space- or comma-separated; 'central' is accepted, "
        "and so are the zeroth-order estimators 'spsa' and 'gaussian' (default: all six)",
    )
    add("--epochs", type=int, default=d.epochs, help=f"default: {d.epochs}")
    add("--batch-size", type=int, default=d.batch_size, help=f"default: {d.batch_size}")
    lr_defaults = ", ".join(f"{name} {lr:g}" for name, lr in DEFAULT_LR.items())
    add("--lr", type=float, default=None, help=f"learning rate (default: {lr_defaults})")
    add(
        "--optimizer",
        choices=sorted(OPTIMIZERS),
        default=d.optimizer,
        help=f"other settings keep their defaults (default: {d.optimizer}, no momentum)",
    )
    add(
        "--hidden",
        type=_hidden_widths,
        default=d.hidden,
        help="hidden layer widths, e.g. 16 or 32,16 (default: "
        + ",".join(map(str, d.hidden))
        + ")",
    )
    add(
        "--model",
        choices=MODELS,
        default=d.model,
        help="mlp, or cnn: Conv2D(8, 3x3) + pooling + the hidden Dense layers, on the images "
        f"of an image dataset (digits) (default: {d.model})",
    )
    add(
        "--activation",
        choices=HIDDEN_ACTIVATIONS,
        default=d.activation,
        help=f"of the hidden layers (default: {d.activation})",
    )
    add(
        "--seed",
        type=int,
        default=d.seed,
        help=f"seeds the split, the initial weights and the batches (default: {d.seed})",
    )
    add(
        "--logdir",
        type=_optional_path,
        default=d.logdir,
        help=f"TensorBoard root: runs go to LOGDIR/<dataset>/<run>; 'none' to skip "
        f"(default: {d.logdir})",
    )
    add(
        "--plots-dir",
        type=_optional_path,
        default=d.plots_dir,
        help=f"where to save the PNG figures; 'none' to skip (default: {d.plots_dir})",
    )
    add("--no-torch", action="store_true", help="skip the PyTorch baseline")
    add(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="train the methods one after another here, or as parallel Ray tasks (default: local)",
    )
    add(
        "--ray-address",
        default=None,
        help="Ray cluster for --backend ray: auto, HOST:6379 or ray://HOST:10001 "
        "(default: start a local Ray with this machine's CPUs, shut down at the end)",
    )
    add("--quiet", action="store_true", help="no progress bars")
    return parser


def describe_setup(comparison: Comparison) -> str:
    """One line saying what was trained."""
    s, split = comparison.settings, comparison.split
    if s.get("model") == "cnn":
        hidden = "-".join(map(str, (*s["hidden"], split.n_outputs)))
        shape = "x".join(map(str, split.X_train.shape[1:]))
        widths = f"{shape} conv(8,3x3)-pool-{hidden}"
    else:
        widths = "-".join(map(str, (split.X_train.shape[1], *s["hidden"], split.n_outputs)))
    return (
        f"{s['dataset']}: {widths} {s['activation']} network, {s['optimizer']} (lr={s['lr']:g}), "
        f"{s['epochs']} epochs, batch size {s['batch_size']}, seed {s['seed']}; "
        f"{len(split.y_train)} training / {len(split.y_test)} test samples."
    )


def _existing_runs(logdir: str | None, dataset: str, names: list[str]) -> list[Path]:
    if logdir is None:
        return []
    runs = [Path(logdir) / dataset / name for name in names]
    return [run for run in runs if run.is_dir() and any(run.rglob("events.out.tfevents.*"))]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison from the command line; returns the exit status (0).

    Bad input (an invalid option, or a ``ValueError``, ``TypeError``, ``OSError`` such as
    ``FileNotFoundError``, or ``ImportError`` from the library) is written as one line
    ``dltk-train: error: ...`` on stderr and exits with status 2 (``SystemExit``, as argparse
    does), never with a traceback. Every output directory (``--logdir``, ``--plots-dir``) is
    created and probed for writing before any training. A diverged run
    (``FloatingPointError``) exits with status 1 and a Ctrl-C, after the current batch and
    the log flush, with status 130. The results table is printed before the plots are
    written: an I/O error then (a full disk) exits with status 1 after the table. Any other
    exception is a bug and keeps its traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.ray_address is not None and args.backend != "ray":
        parser.error("--ray-address needs --backend ray")
    methods = [name for item in args.methods for name in _comma_list(item)]
    _check_outputs(args)
    old = _existing_runs(args.logdir, args.dataset, [*methods, TWIN_NAME])
    if old:
        print(
            f"note: {len(old)} run director{'ies' if len(old) > 1 else 'y'} under "
            f"{Path(args.logdir) / args.dataset} already hold event files; TensorBoard will "
            "show the old points too (use a new --logdir for a clean view).",
            file=sys.stderr,
        )
    comparison = _train(args, methods)
    _report(comparison)
    if args.plots_dir is not None:
        _write_plots(comparison, Path(args.plots_dir))
    return 0


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output location is creatable and writable, and plotting installed: before
    training, not after."""
    try:
        check_output_directory("--logdir", args.logdir)
        check_output_directory("--plots-dir", args.plots_dir)
        if args.plots_dir is not None:
            from .viz.plots import require_plotting

            require_plotting()
    except (ImportError, OSError, TypeError, ValueError) as error:
        _fail(error)


def _train(args: argparse.Namespace, methods: list[str]) -> Comparison:
    """The comparison (plots are written later, after the table is printed)."""
    try:
        session = (
            ray_session(args.ray_address) if args.backend == "ray" else contextlib.nullcontext()
        )
        with session:
            return run_comparison(
                dataset=args.dataset,
                methods=methods,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                optimizer=args.optimizer,
                hidden=args.hidden,
                activation=args.activation,
                seed=args.seed,
                model=args.model,
                logdir=args.logdir,
                plots_dir=None,
                torch_baseline=not args.no_torch,
                verbose=0 if args.quiet else 1,
                backend=args.backend,
            )
    except (ImportError, OSError, TypeError, ValueError) as error:
        _fail(error)
    except FloatingPointError as error:
        _fail(f"training diverged: {error}", EXIT_FAILED)
    except KeyboardInterrupt:
        logs = (
            ""
            if args.logdir is None
            else f"; the TensorBoard logs written so far are under {args.logdir}"
        )
        _fail(
            "interrupted (Ctrl-C) during training; the command line saves no checkpoints, so "
            f"run it again to repeat the comparison{logs}",
            EXIT_INTERRUPTED,
        )


def _report(comparison: Comparison) -> None:
    """Print the setup, the results table and where the logs went."""
    print(describe_setup(comparison))
    print()
    print(comparison.table())
    print()
    if comparison.torch_skipped is None:
        print(
            "* pytorch: forward + backward passes per epoch (one per batch), not loss evaluations."
        )
    else:
        print(f"PyTorch baseline skipped: {comparison.torch_skipped}")
    if comparison.logdir is not None:
        where = comparison.logdir / comparison.split.name
        print(
            f"TensorBoard logs: {where}/<run>/{{train,validation}} "
            f"(view with: tensorboard --logdir {comparison.logdir})"
        )
    sys.stdout.flush()


def _write_plots(comparison: Comparison, plots_dir: Path) -> None:
    """Save the figures after the table is out; an I/O error now loses no result."""
    try:
        comparison.plots = make_plots(
            comparison.histories, plots_dir, comparison.split.name, comparison.task
        )
    except (OSError, ValueError) as error:
        _fail(
            f"the results above are complete, but writing the plots to {str(plots_dir)!r} "
            f"failed: {error}",
            EXIT_FAILED,
        )
    print(f"Plots ({len(comparison.plots)} PNG files):")
    for path in comparison.plots.values():
        print(f"  {path}")


if __name__ == "__main__":
    sys.exit(main())
