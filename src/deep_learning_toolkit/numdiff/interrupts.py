"""Ctrl-C deferred while parameters are half-changed.

A zeroth-order step shifts the parameters in place and shifts them back; an optimizer
updates several arrays in place. A ``KeyboardInterrupt`` raised in the middle of such a
change would leave the parameters perturbed or half-updated. :func:`deferred_interrupts`
holds SIGINT for the few milliseconds of the change and delivers it right after, so the
interrupt lands between consistent states.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT inside the block and re-deliver it (to the previous handler) on exit.

    Only the main thread receives signals; elsewhere (and where SIGINT is ignored or not
    handled by Python) the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield
        return
    received: list[tuple[int, Any]] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            previous(*received[0])
