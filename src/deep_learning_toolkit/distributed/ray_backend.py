"""Sharded finite-difference gradients on Ray actors.

:class:`RayGradient` is called exactly like :func:`~deep_learning_toolkit.gradients.engine.
batched_gradient` and returns the same :class:`~deep_learning_toolkit.gradients.GradientResult`;
only where the engine's chunks are evaluated changes:

* a pool of actors (one CPU each) keeps the layer structure between calls (a ``Network`` of
  copies of the layers, built-in or user-defined);
* each step puts its data (parameters, batch, targets, loss, stencil, steps) into the object
  store **once**; every task of the step carries only a reference to it, and an actor fetches
  it and does the unperturbed forward pass once per step, however many tasks it runs;
* the parameters are cut into tasks of about equal *measured* cost: the first step splits them
  evenly over the workers; from then on every layer's seconds per parameter and sample, timed
  by the actors, sets the cut points, and the number of tasks grows (up to
  ``tasks_per_worker`` per worker) only while each task still computes at least
  ``overhead_factor`` times the measured round trip of an empty call, so that scheduling stays
  a small fraction of the work;
* tasks are handed out from a queue to whichever actor is free (two in flight per actor), so a
  slow worker or a costly layer does not hold up the rest.

Every task evaluates sub-blocks of the engine's own memory-budgeted chunks with
:meth:`~deep_learning_toolkit.gradients.engine.GradientStep.chunk_gradient`, so each gradient entry
is the same finite difference of the same loss values as the local engine's; only the grouping
of perturbations into matrix products differs, which can move the last bits (measured:
identical, and below ``1e-12`` relative in any case).

Fault tolerance is Ray's: the actors are created with ``max_restarts`` and
``max_task_retries``, so an actor process that dies mid-step is restarted and its tasks are run
again; the restarted actor fetches the step's data from the object store, which the driver
keeps alive until the step ends.

Ray is optional: ``pip install ray`` (the ``[ray]`` extra in a checkout); it is imported only
here and only when a Ray gradient or session is used.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._optional import require
from .._validation import check_int, describe
from ..gradients import engine
from ..gradients.engine import Chunk, GradientStep
from ..gradients.result import GradientResult
from ..nn.layer import Layer
from ..nn.losses import Loss
from ..nn.network import Network
from ..numdiff.stencils import Stencil

#: A task should compute at least this many times the round trip of an empty actor call.
OVERHEAD_FACTOR = 20.0
#: Most tasks per worker and step (more tasks balance better but cost more round trips).
TASKS_PER_WORKER = 4
#: Tasks queued on one actor at a time: one running, one waiting, so no actor idles.
IN_FLIGHT_PER_WORKER = 2
#: Restarts of a dead actor, and re-runs of its tasks, before the step fails.
MAX_RESTARTS = 3
#: Seconds to wait for the workers to start (they queue while other work holds the CPUs).
WORKER_START_TIMEOUT = 120.0
#: Round trips of an empty call timed when the workers start (their median is the latency).
LATENCY_PROBES = 5


def import_ray() -> Any:
    """Import Ray, or raise an ImportError saying how to install it."""
    return require("ray", "the Ray backend")


def init_ray(address: str | None = None, num_cpus: int | None = None, **init_kwargs: Any) -> bool:
    """Start or connect to Ray unless it is running; return whether this call started it.

    Parameters
    ----------
    address : str, optional
        ``None`` starts a local Ray (unless the ``RAY_ADDRESS`` environment variable names a
        cluster); ``"auto"``, ``"host:6379"`` or ``"ray://host:10001"`` connect to a running
        cluster.
    num_cpus : int, optional
        CPUs of a local Ray (default: all of this machine's). Not allowed with an address:
        a cluster has the CPUs it was started with.
    **init_kwargs
        Passed to ``ray.init`` (e.g. ``runtime_env={"py_modules": [...]}``).
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    connect = address is not None or bool(os.environ.get("RAY_ADDRESS"))
    if num_cpus is not None:
        num_cpus = check_int("num_cpus", num_cpus, minimum=1)
        if connect:
            raise ValueError(
                f"num_cpus applies to a local Ray only; got num_cpus={num_cpus} with address "
                f"{address or os.environ.get('RAY_ADDRESS')!r} (a cluster keeps its own CPUs)."
            )
    if address is not None and (not isinstance(address, str) or not address):
        raise TypeError(f"address must be a non-empty string; got {describe(address)}.")
    options: dict[str, Any] = {"logging_level": logging.WARNING}
    if not connect:
        options.update(num_cpus=num_cpus, include_dashboard=False)
    options.update(init_kwargs)
    ray.init(address=address, **options)
    return True


@contextmanager
def ray_session(
    address: str | None = None, num_cpus: int | None = None, **init_kwargs: Any
) -> Iterator[Any]:
    """Run the block with Ray: started (or connected) on entry, shut down on exit.

    If Ray is already initialised the block uses it as it is and leaves it running.

    Parameters
    ----------
    address, num_cpus, **init_kwargs
        As for :func:`init_ray`: without an address a local Ray with ``num_cpus`` CPUs
        (default: all) and no dashboard is started.

    Yields
    ------
    module
        The ``ray`` module.

    Examples
    --------
    >>> from deep_learning_toolkit.distributed import ray_session
    >>> with ray_session(num_cpus=2) as ray:                      # doctest: +SKIP
    ...     model.compile(loss="cross_entropy", backend="ray")
    ...     model.fit(X, y, epochs=10)
    """
    ray = import_ray()
    started = init_ray(address, num_cpus, **init_kwargs)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def _session_id(ray: Any) -> str:
    """Which Ray connection this is: a new local Ray has a new node, a reconnection a new job."""
    context = ray.get_runtime_context()
    return f"{context.get_node_id()}/{context.get_job_id()}"


@dataclass(frozen=True)
class StepData:
    """What every task of one gradient step needs; put into the object store once."""

    params: np.ndarray
    X: np.ndarray
    targets: np.ndarray
    loss: Loss
    stencil: Stencil
    steps: np.ndarray
    training: bool
    #: Each layer's step key (random draws such as dropout masks) and non-parameter state
    #: (running statistics): what the workers' copies of the layers must share with the
    #: driver's for this step.
    step_keys: list[tuple[int, ...]]
    states: list[dict[str, np.ndarray]]


class ShardWorker:
    """A Ray actor: holds the network and the current step, evaluates tasks of chunks."""

    def __init__(self, layers: list[Layer]) -> None:
        self.network = Network(layers)
        self.step_id: int | None = None
        self.step: GradientStep | None = None

    def ping(self) -> int:
        """The worker's process id (an empty call, for latency and liveness)."""
        return os.getpid()

    def evaluate(
        self, step_id: int, boxed_data: list[Any], chunks: list[Chunk]
    ) -> tuple[np.ndarray, list[float]]:
        """Gradient entries of ``chunks`` (contiguous), and the seconds each chunk took.

        ``boxed_data`` is ``[ObjectRef of StepData]``: boxed in a list so that Ray passes the
        reference instead of fetching the data for every task; it is fetched once per step.
        """
        if step_id != self.step_id:
            import ray

            data: StepData = ray.get(boxed_data[0])
            self.network.set_params(data.params)
            for layer, key, state in zip(self.network.layers, data.step_keys, data.states):
                layer.step_key = key
                if state:
                    layer.load_state_dict(state)
            self.step = GradientStep(
                self.network,
                data.X,
                data.targets,
                data.loss,
                data.stencil,
                data.steps,
                data.training,
            )
            self.step_id = step_id
        pieces, seconds = [], []
        for chunk in chunks:
            started = time.perf_counter()
            pieces.append(self.step.chunk_gradient(chunk))
            seconds.append(time.perf_counter() - started)
        return np.concatenate(pieces), seconds


def split_tasks(
    layers: Sequence[Layer], chunks: Sequence[Chunk], costs: np.ndarray, n_tasks: int
) -> list[list[Chunk]]:
    """Cut the parameters into ``n_tasks`` contiguous tasks of about equal cost.

    Parameters
    ----------
    layers : sequence of Layer
    chunks : sequence of Chunk
        The engine's chunks (from :func:`~deep_learning_toolkit.gradients.engine.plan_chunks`),
        covering every parameter in order; a task never crosses a chunk's memory bound, it
        holds pieces of chunks.
    costs : ndarray
        Cost of one parameter of each layer (any positive unit).
    n_tasks : int
        Wanted number of tasks (fewer if there are fewer parameters).

    Returns
    -------
    list of list of Chunk
        Each task's pieces, in parameter order; together they cover every parameter once.
    """
    sizes = [layer.num_parameters for layer in layers]
    per_parameter = np.repeat(np.asarray(costs, dtype=np.float64), sizes)
    cumulative = np.cumsum(per_parameter)
    total = cumulative[-1]
    n_tasks = max(1, min(int(n_tasks), len(per_parameter)))
    # Task k ends after the first parameter whose cumulative cost reaches k/n of the total.
    cuts = np.searchsorted(cumulative, total * np.arange(1, n_tasks) / n_tasks) + 1
    bounds = np.unique(np.concatenate([[0], cuts, [len(per_parameter)]]))
    tasks = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        pieces = [
            Chunk(chunk.layer, max(chunk.start, lo), min(chunk.stop, hi), chunk.offset)
            for chunk in chunks
            if chunk.start < hi and chunk.stop > lo
        ]
        tasks.append(pieces)
    return tasks


class RayGradient:
    """Finite-difference gradients of a network, sharded over Ray actors.

    Call it like :func:`~deep_learning_toolkit.gradients.engine.batched_gradient`; it returns
    the same :class:`~deep_learning_toolkit.gradients.GradientResult`. Ray is started
    locally (all CPUs, no dashboard) on the first call unless it is already running; use
    :func:`ray_session` to choose a cluster or to shut Ray down afterwards.

    Parameters
    ----------
    num_workers : int, optional
        Actors (one CPU each); default: all the CPUs of the Ray cluster. Workers that find
        no free CPU wait for one (up to :data:`WORKER_START_TIMEOUT`), so inside a Ray task,
        or beside other Ray work, pass fewer.
    overhead_factor : float
        A task is made at least this many times longer than the measured round trip of an
        empty call before the work is cut into more than one task per worker.
    tasks_per_worker : int
        Most tasks per worker and step.
    max_restarts : int
        Restarts of an actor whose process died, and re-runs of its tasks.

    Attributes
    ----------
    last_tasks : list of list of Chunk
        The tasks of the last call (for benchmarks and tuning).
    latency : float or None
        Median seconds of an empty actor call, measured when the workers start.

    Notes
    -----
    The actors live until :meth:`shutdown` (also called by ``with RayGradient() as g:``),
    until this object is garbage-collected, or until Ray shuts down; a call in a later Ray
    session starts new ones. Each actor may use up to
    ``memory_budget`` bytes per chunk, as the local engine does.

    Examples
    --------
    >>> from deep_learning_toolkit.distributed import RayGradient, ray_session
    >>> with ray_session(num_cpus=2), RayGradient() as sharded:      # doctest: +SKIP
    ...     result = sharded(model, X, targets, model.loss, model.stencil, steps)
    """

    def __init__(
        self,
        num_workers: int | None = None,
        *,
        overhead_factor: float = OVERHEAD_FACTOR,
        tasks_per_worker: int = TASKS_PER_WORKER,
        max_restarts: int = MAX_RESTARTS,
    ) -> None:
        import_ray()  # fail at construction (e.g. in compile), not at the first step
        self.num_workers = (
            None if num_workers is None else check_int("num_workers", num_workers, minimum=1)
        )
        if (
            isinstance(overhead_factor, bool)
            or not isinstance(overhead_factor, (int, float))
            or not np.isfinite(overhead_factor)
            or overhead_factor < 0
        ):
            raise ValueError(
                f"overhead_factor must be a finite number >= 0; got {describe(overhead_factor)}."
            )
        self.overhead_factor = float(overhead_factor)
        self.tasks_per_worker = check_int("tasks_per_worker", tasks_per_worker, minimum=1)
        self.max_restarts = check_int("max_restarts", max_restarts, minimum=0)
        self._reset()

    def _reset(self) -> None:
        self._actors: list[Any] = []
        self._configs: list[dict[str, Any]] | None = None
        self._session: str | None = None  # the Ray session the actors belong to
        self._costs: np.ndarray | None = None  # seconds per parameter and sample, by layer
        self._step_id = 0
        self.latency: float | None = None
        self.last_tasks: list[list[Chunk]] = []

    # ------------------------------------------------------------------ workers
    def _start(self, layers: Sequence[Layer]) -> None:
        ray = import_ray()
        init_ray()
        session = _session_id(ray)
        configs = [layer.config() for layer in layers]
        if self._actors and configs == self._configs and session == self._session:
            return
        self.shutdown()
        count = self.num_workers
        if count is None:
            count = max(1, int(ray.cluster_resources().get("CPU", 1)))
        worker = ray.remote(ShardWorker).options(
            num_cpus=1,
            max_restarts=self.max_restarts,
            max_task_retries=self.max_restarts,
            scheduling_strategy="SPREAD",
        )
        copies = [_detached(layer) for layer in layers]
        self._actors = [worker.remote(copies) for _ in range(count)]
        pings = [actor.ping.remote() for actor in self._actors]
        ready, _ = ray.wait(pings, num_returns=len(pings), timeout=WORKER_START_TIMEOUT)
        if len(ready) < len(pings):
            self.shutdown()
            raise RuntimeError(
                f"only {len(ready)} of {count} Ray gradient workers (1 CPU each) started within "
                f"{WORKER_START_TIMEOUT:g} s; other work holds the CPUs. Pass a smaller "
                "num_workers or free the cluster."
            )
        probes = []
        for _ in range(LATENCY_PROBES):
            started = time.perf_counter()
            ray.get(self._actors[0].ping.remote())
            probes.append(time.perf_counter() - started)
        self.latency = float(np.median(probes))
        self._configs = configs
        self._session = session

    def worker_pids(self) -> list[int]:
        """Process ids of the live actors (they change when Ray restarts one)."""
        if not self._actors:
            return []
        return list(import_ray().get([actor.ping.remote() for actor in self._actors]))

    def shutdown(self) -> None:
        """Stop the actors (Ray itself keeps running)."""
        if self._actors:
            ray = import_ray()
            # Actors of an earlier Ray session died with it; only live ones are killed.
            if ray.is_initialized() and _session_id(ray) == self._session:
                for actor in self._actors:
                    ray.kill(actor)
        self._reset()

    def __enter__(self) -> RayGradient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __getstate__(self) -> dict[str, Any]:
        # A copy (e.g. of a model that holds this backend) gets its own workers when used.
        state = dict(self.__dict__)
        state.update(
            _actors=[], _configs=None, _session=None, _costs=None, latency=None, last_tasks=[]
        )
        return state

    # ------------------------------------------------------------------ planning
    def _n_tasks(self, n_samples: int, sizes: np.ndarray) -> int:
        workers = len(self._actors)
        if self._costs is None:
            return workers
        estimate = float(np.dot(self._costs, sizes)) * n_samples
        least = self.overhead_factor * (self.latency or 0.0)
        per_worker = estimate / (workers * least) if least > 0 else np.inf
        return workers * int(np.clip(np.floor(per_worker), 1, self.tasks_per_worker))

    def _learn_costs(self, tasks: list[list[Chunk]], seconds: list[list[float]], n: int) -> None:
        spent = np.zeros(len(self._configs))
        counted = np.zeros(len(self._configs))
        for pieces, times in zip(tasks, seconds):
            for piece, took in zip(pieces, times):
                spent[piece.layer] += took
                counted[piece.layer] += piece.stop - piece.start
        # layers without parameters (dropout, pooling) are never timed: cost 0, then floored
        costs = np.divide(spent, counted * n, out=np.zeros_like(spent), where=counted > 0)
        smallest = costs[costs > 0].min() if np.any(costs > 0) else 1.0
        self._costs = np.maximum(costs, smallest * 1e-3)  # a timer's 0 must not empty a layer

    # ------------------------------------------------------------------ the gradient
    def __call__(
        self,
        network: Network,
        X: np.ndarray,
        targets: np.ndarray,
        loss: Loss,
        stencil: Stencil,
        steps: np.ndarray,
        memory_budget: int = engine.DEFAULT_MEMORY_BUDGET,
        chunk_size: int | None = None,
        training: bool = True,
    ) -> GradientResult:
        """Loss and finite-difference gradient, the chunks evaluated by the Ray actors.

        Parameters are those of :func:`~deep_learning_toolkit.gradients.engine.
        batched_gradient`; ``chunk_size`` (like the budget) bounds the pieces, which the
        task planner may cut smaller.

        Returns
        -------
        GradientResult
        """
        if not isinstance(network, Network):
            raise TypeError(
                f"RayGradient needs a network (e.g. a Sequential); got {describe(network)}."
            )
        layers, params = network.layers, network.params
        steps = np.asarray(steps, dtype=np.float64)
        if steps.shape != params.shape:
            raise ValueError(f"steps must have shape {params.shape}; got {describe(steps)}.")
        memory_budget = check_int("memory_budget", memory_budget, minimum=1)
        ray = import_ray()
        self._start(layers)
        sizes = np.array([layer.num_parameters for layer in layers])
        n_offsets = len(stencil.offsets_array())
        # The driver's own unperturbed pass (loss, outputs, widths) before the workers start.
        local = GradientStep(network, X, targets, loss, stencil, steps, training)
        chunks = local.chunks(memory_budget, chunk_size, 1)
        costs = np.ones(len(layers)) if self._costs is None else self._costs
        tasks = split_tasks(layers, chunks, costs, self._n_tasks(len(X), sizes))
        self._step_id += 1
        data = ray.put(
            StepData(
                params,
                X,
                targets,
                loss,
                stencil,
                steps,
                training,
                [layer.step_key for layer in layers],
                [layer.state_dict() for layer in layers],
            )
        )
        queue = deque(range(len(tasks)))
        pending: dict[Any, tuple[int, Any]] = {}

        def submit(actor: Any) -> None:
            index = queue.popleft()
            ref = actor.evaluate.remote(self._step_id, [data], tasks[index])
            pending[ref] = (index, actor)

        for _ in range(IN_FLIGHT_PER_WORKER):
            for actor in self._actors:
                if queue:
                    submit(actor)
        gradient = np.empty(params.shape, dtype=np.float64)
        seconds: list[list[float]] = [[] for _ in tasks]
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            index, actor = pending.pop(done[0])
            values, seconds[index] = ray.get(done[0])
            gradient[tasks[index][0].start : tasks[index][-1].stop] = values
            if queue:
                submit(actor)
        self._learn_costs(tasks, seconds, len(X))
        self.last_tasks = tasks
        evaluations = n_offsets * params.size + 1
        return GradientResult(local.loss, gradient, local.outputs, evaluations)

    def __repr__(self) -> str:
        workers = len(self._actors) if self._actors else self.num_workers
        return f"RayGradient(num_workers={workers!r})"


def _detached(layer: Layer) -> Layer:
    """A copy of ``layer`` that belongs to no model (to send to an actor)."""
    import copy

    clone = copy.copy(layer)
    clone._owner = None
    for name in layer.parameters:
        setattr(clone, name, np.array(getattr(layer, name)))
    return clone
