"""Which finite-difference formula trains best? A scikit-learn grid search answers.

A ``Pipeline`` of ``StandardScaler`` and :class:`~deep_learning_toolkit.sklearn.
NumDiffClassifier` (13-16-3 tanh network, Adam) is cross-validated by ``GridSearchCV`` over
the gradient ``method`` on the Wine data (178 samples, 3 classes): the scaler is fitted on
each training fold only, every candidate sees the same folds and the same initial weights
(``random_state``), and the best one is refitted on all the data. It prints the table of
``cv_results_``: mean and spread of the fold accuracies, fit time and rank.

Run: ``python examples/sklearn_grid_search.py`` (about 20 seconds on 2 cores); ``--epochs 5``
for a smoke run. Needs scikit-learn >= 1.6.
"""

from __future__ import annotations

import argparse

from sklearn.datasets import load_wine
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from deep_learning_toolkit.sklearn import NumDiffClassifier

METHODS = ["forward", "three_point_midpoint", "five_point_midpoint", "complex_step", "spsa"]


def main(epochs: int) -> None:
    X, y = load_wine(return_X_y=True)
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("net", NumDiffClassifier(hidden_layer_sizes=(16,), epochs=epochs,
                                      learning_rate=0.01, batch_size=32, random_state=0)),
        ]
    )  # fmt: skip
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    search = GridSearchCV(pipeline, {"net__method": METHODS}, cv=folds, n_jobs=1)
    search.fit(X, y)

    results = search.cv_results_
    print(f"Wine, 5-fold CV, {epochs} epochs, 13-16-3 tanh network, Adam lr 0.01")
    print(f"{'method':<22}{'mean acc':>10}{'std':>8}{'fit s':>8}{'rank':>6}")
    for index in sorted(range(len(METHODS)), key=lambda i: results["rank_test_score"][i]):
        print(
            f"{results['param_net__method'][index]:<22}"
            f"{results['mean_test_score'][index]:>10.4f}"
            f"{results['std_test_score'][index]:>8.4f}"
            f"{results['mean_fit_time'][index]:>8.2f}"
            f"{results['rank_test_score'][index]:>6d}"
        )
    best = search.best_estimator_.named_steps["net"]
    print(f"best: {search.best_params_['net__method']}, refitted on all {len(X)} samples, "
          f"training accuracy {search.score(X, y):.4f} after {best.n_iter_} epochs")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100, help="epochs per fit (default 100)")
    main(parser.parse_args().epochs)
