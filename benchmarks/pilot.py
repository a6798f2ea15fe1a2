"""The cost of the pilot behind a model's default steps (deep_learning_toolkit.gradients.steps).

Run ``python benchmarks/pilot.py`` (``--quick`` for fewer repeats). For each benchmark network
of ``benchmarks/engine.py`` and each midpoint formula it prints, measured in this run:

* ms per gradient at the default (pilot) steps and ms per pilot (three gradients at larger and
  smaller steps, plus the arithmetic that turns them into steps), and their ratio;
* the share of a training run's time the pilot takes at one refresh per
  ``PILOT_INTERVAL`` batches: ``pilot / (interval * gradient + pilot)``.

The pilot's gradients at ``H = 2c`` and ``4c`` can cost more than one at the default step:
the five-point formula's larger perturbations need more terms of the loss-change series.
"""

from __future__ import annotations

import argparse
from functools import partial

from engine import NETWORKS, best_time, build

from deep_learning_toolkit.gradients.steps import PILOT_INTERVAL, pilot_steps
from deep_learning_toolkit.numdiff import get_stencil

METHODS = ("three_point_midpoint", "five_point_midpoint")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 3 if args.quick else 10
    header = (
        f"{'network':<18}{'P':>7}  {'method':<22}{'gradient ms':>12}{'pilot ms':>10}"
        f"{'ratio':>7}{'share of fit':>14}"
    )
    print(f"pilot every {PILOT_INTERVAL} batches; best of {repeats} repeats")
    print(header)
    print("-" * len(header))
    for label, dataset, hidden, batch in NETWORKS:
        model, X, y = build(dataset, hidden, batch)
        model.compile(loss="cross_entropy", optimizer="sgd")
        targets = model.loss.prepare_targets(y, model.n_outputs)
        for name in METHODS:
            stencil = get_stencil(name)
            evaluate = partial(model.compute_gradient, X, targets, stencil)
            steps = pilot_steps(model, stencil, evaluate).steps(model.params)
            gradient = best_time(lambda: evaluate(steps), repeats)
            pilot = best_time(lambda: pilot_steps(model, stencil, evaluate), repeats)
            share = pilot / (PILOT_INTERVAL * gradient + pilot)
            print(
                f"{label:<18}{model.num_parameters:>7}  {name:<22}{gradient * 1e3:>12.2f}"
                f"{pilot * 1e3:>10.2f}{pilot / gradient:>7.2f}{share:>13.1%}"
            )


if __name__ == "__main__":
    main()
