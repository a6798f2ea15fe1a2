"""Experiments built on the library: the method comparison and sweeps.

Above the library: nothing in the library imports this package; the command lines
(``train.py``, ``study.py``) use it.
"""

from .comparison import Comparison, RunResult, make_plots, run_comparison
from .setup import DEFAULT_LR, DEFAULTS, TASKS, build_model, make_optimizer, prepare_data
from .sweep import TRIAL_KEYS, TrialResult, expand_grid, sweep, train_trial

__all__ = [
    "DEFAULTS",
    "DEFAULT_LR",
    "TASKS",
    "TRIAL_KEYS",
    "Comparison",
    "RunResult",
    "TrialResult",
    "build_model",
    "expand_grid",
    "make_optimizer",
    "make_plots",
    "prepare_data",
    "run_comparison",
    "sweep",
    "train_trial",
]
