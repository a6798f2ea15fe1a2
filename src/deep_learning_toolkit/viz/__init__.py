"""Plots of training runs (seaborn, headless): learning curves from History objects.

>>> import deep_learning_toolkit as dlt
>>> figure = dlt.viz.plot_histories([history_a, history_b], path="curves.png")  # doctest: +SKIP
>>> frame = dlt.viz.histories_to_frame([history_a, history_b])               # doctest: +SKIP

Needs pandas, seaborn and matplotlib: ``pip install pandas seaborn matplotlib`` (or the
``plot`` extra of a checkout: ``pip install -e '.[plot]'``).
"""

from .plots import differences_frame, histories_to_frame, plot_differences, plot_histories

__all__ = ["differences_frame", "histories_to_frame", "plot_differences", "plot_histories"]
