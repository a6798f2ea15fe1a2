"""scikit-learn estimators around ``Sequential`` networks: ``Pipeline``, ``GridSearchCV``, ...

>>> from deep_learning_toolkit.sklearn import NumDiffClassifier, NumDiffRegressor

Needs scikit-learn >= 1.6 (``pip install 'scikit-learn>=1.6'``); the rest of the toolkit
does not import this module.
"""

from .base import InvalidParameterError
from .estimators import EXPECTED_FAILED_CHECKS, NumDiffClassifier, NumDiffRegressor

__all__ = [
    "EXPECTED_FAILED_CHECKS",
    "InvalidParameterError",
    "NumDiffClassifier",
    "NumDiffRegressor",
]
