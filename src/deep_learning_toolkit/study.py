"""Command line of the step-size study: ``python -m deep_learning_toolkit.study``.

For every network of :data:`~deep_learning_toolkit.experiments.study_networks.NETWORKS`
(Iris 4-16-3, 4-16-16-3 and 4-64-64-3; digits 64-32-10, 64-128-10, 64-32-32-32-10 and a
CNN; or those named by ``--networks``) it sweeps the step of every method
(:mod:`~deep_learning_toolkit.experiments.step_study`), prints a markdown table (measured
order, best error and step, classic default step and its error, the pilot's default steps
and their error) and the pilot's cost, saves ``docs/images/step_size_study_<network>.png``,
and ends with a summary table of every network. ``--quick`` sweeps every third step only.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .experiments.step_study import (
    COMPLEX_EXPONENTS,
    DASHED,
    ORDER_CEILING,
    ORDER_FLOOR,
    STENCIL_EXPONENTS,
    TRUTHS,
    Curve,
    StudyResult,
    autograd_gradient,
    measured_order,
    plot_study,
    reference_gradient,
    step_size_study,
    summary_table,
)
from .experiments.study_networks import DEFAULT_NETWORK, NETWORKS, StudyNetwork, study_network
from .numdiff.stencils import ALL_METHODS

#: Where the figures go: ``step_size_study_<network>.png``.
DEFAULT_OUTPUT_DIR = Path("docs/images")
#: The formulas of the closing summary table.
SUMMARY_METHODS = ("forward", "three_point_midpoint", "five_point_midpoint")


def figure_path(directory: Path, network: str) -> Path:
    """``<directory>/step_size_study_<network>.png``."""
    return Path(directory) / f"step_size_study_{network}.png"


def _networks(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in NETWORKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown network(s) {unknown}; choose from {', '.join(NETWORKS)}"
        )
    return names


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deep_learning_toolkit.study",
        description="Relative gradient error against the step h for every method, per network.",
    )
    parser.add_argument(
        "--networks", type=_networks, default=list(NETWORKS), help="comma-separated names"
    )
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument("--no-plot", action="store_true", help="print the tables only")
    parser.add_argument("--batch-size", type=int, help="override each network's batch size")
    parser.add_argument("--epochs", type=int, help="override each network's Adam epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--truth", choices=TRUTHS, default="auto")
    parser.add_argument("--quick", action="store_true", help="sweep every third step only")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study on each network: print its table, save its figure; then the summary."""
    args = parse_arguments(argv)
    stride = 3 if args.quick else 1
    results = []
    for name in args.networks:
        model, X, y, description = study_network(name, args.batch_size, args.epochs, args.seed)
        result = step_size_study(
            model,
            X,
            y,
            stencil_exponents=STENCIL_EXPONENTS[::stride],
            complex_exponents=COMPLEX_EXPONENTS[::stride],
            truth=args.truth,
            description=description,
            name=name,
        )
        results.append(result)
        print(f"## {result.table()}\n\n{result.pilot_cost()}")
        if not args.no_plot:
            print(f"figure: {plot_study(result, figure_path(args.output_dir, name))}")
        print()
    print(summary_table(results, SUMMARY_METHODS))
    return 0


__all__ = [
    "ALL_METHODS",
    "COMPLEX_EXPONENTS",
    "DASHED",
    "DEFAULT_NETWORK",
    "NETWORKS",
    "ORDER_CEILING",
    "ORDER_FLOOR",
    "STENCIL_EXPONENTS",
    "TRUTHS",
    "Curve",
    "StudyNetwork",
    "StudyResult",
    "autograd_gradient",
    "main",
    "measured_order",
    "plot_study",
    "reference_gradient",
    "step_size_study",
    "study_network",
    "summary_table",
]

if __name__ == "__main__":
    raise SystemExit(main())
