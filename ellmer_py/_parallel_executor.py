"""``parallel_chat*(..., executor=)``: the prompts in chunks, on workers of an executor.

The prompts are split into chunks of ``chunk_size`` (default: about four
chunks per worker, so that a worker that finishes early takes another). Each
chunk runs ``parallel_chat()``'s own engine on a worker, with the same
``max_active``, ``rpm`` and ``on_error``:

- a worker is one thread of a ``ThreadPoolExecutor``, one process of a
  ``ProcessPoolExecutor``, one thread of a Dask worker
  (``dask.distributed.Client``); it runs one chunk at a time, and keeps one
  ``rpm`` token bucket (and one copy of the chat, so one connection pool)
  for all its chunks of the run. With W workers, up to W x ``max_active``
  requests are in flight and W x ``rpm`` start per minute;
- the chat, the prompts and what comes back are pickled to and from worker
  processes (the chat without its key: see ``ellmer_py._pickling``);
- at most one chunk per worker is handed out at a time, so a failure stops
  the run as locally: ``on_error="return"`` hands out no new chunk and waits
  for those running; ``"stop"`` raises at once; ``"continue"`` runs them
  all. A chunk still running on a worker when the run stops (or on Ctrl-C)
  is not interrupted: its results are dropped. A chunk that cannot run at
  all (its worker died) counts as a failure of each of its prompts;
- results, warnings and errors are those of a local run, with each prompt's
  index in the whole list; the progress bar moves as chunks finish.

What a worker sends back is one outcome per prompt (``_parallel_outcomes``).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import ConfigurationError, EllmerError
from ._parallel_outcomes import SKIPPED, Failed, Unextracted
from ._progress import Progress, progress_stream

if TYPE_CHECKING:
    from ._chat import Chat
    from ._scope import RateLimiter

__all__ = ["CHUNKS_PER_WORKER", "run_on_executor"]

#: Default chunks per worker: enough that a worker done early takes another.
CHUNKS_PER_WORKER = 4

#: The engine that runs one chunk: ``engine(chat, prompts, limiter=...) -> outcomes``.
Engine = Callable[..., list[Any]]


# -- arguments ------------------------------------------------------------------------


def _is_dask_client(executor: object) -> bool:
    """Whether ``executor`` is a ``distributed.Client`` (dask is never imported to tell)."""
    return any(
        cls.__name__ == "Client" and cls.__module__.startswith("distributed.")
        for cls in type(executor).__mro__
    )


def _check_executor(executor: object) -> bool:
    """Raise ConfigurationError unless ``executor`` can run chunks; whether it is Dask's."""
    import concurrent.futures

    if _is_dask_client(executor):
        if getattr(executor, "asynchronous", False):
            raise ConfigurationError(
                "executor= needs a synchronous dask.distributed Client, not one made with "
                "asynchronous=True: parallel_chat() waits for its chunks."
            )
        if getattr(executor, "status", "running") != "running":
            raise ConfigurationError(
                f"executor= is a dask.distributed Client that is {executor.status}, "  # type: ignore[attr-defined]
                "not running: pass an open Client."
            )
        return True
    if isinstance(executor, concurrent.futures.Executor):
        return False
    what = type(executor)
    hint = ""
    if what.__module__.startswith(("distributed.", "dask.")):
        hint = " For a Dask cluster, pass Client(cluster), not the cluster."
    raise ConfigurationError(
        "executor must be a concurrent.futures.Executor (ThreadPoolExecutor, "
        "ProcessPoolExecutor, ...) or a dask.distributed Client, not "
        f"{what.__module__}.{what.__qualname__}.{hint} Leave it out (None) to run the "
        "prompts in threads of this process."
    )


def _workers(executor: Any, dask: bool) -> int:
    """How many chunks the executor runs at once (unknown: the CPU count)."""
    import os

    if dask:
        return max(1, sum(int(n) for n in executor.nthreads().values()))
    n = getattr(executor, "_max_workers", None)  # ThreadPoolExecutor, ProcessPoolExecutor
    return n if isinstance(n, int) and n > 0 else os.cpu_count() or 1


def _chunk_size(chunk_size: object, n: int, workers: int) -> int:
    import math

    if chunk_size is None:
        return max(1, math.ceil(n / (CHUNKS_PER_WORKER * workers)))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigurationError(
            f"chunk_size must be a whole number of prompts, 1 or more (or None: about "
            f"{CHUNKS_PER_WORKER} chunks per worker), not {chunk_size!r}."
        )
    return chunk_size


# -- on a worker ----------------------------------------------------------------------

#: Per run, per worker thread: the chat it uses and its rpm bucket, kept across chunks.
_STATE: collections.OrderedDict[str, dict[int, tuple[Chat, RateLimiter]]] = (
    collections.OrderedDict()
)
_STATE_LOCK = threading.Lock()
#: Runs a worker process remembers (older ones are forgotten).
_KEPT_RUNS = 8


def _worker_state(run_id: str, chat: Chat, rpm: float) -> tuple[Chat, RateLimiter]:
    """This worker's chat and token bucket for the run: made by its first chunk."""
    from ._scope import RateLimiter

    thread = threading.get_ident()
    with _STATE_LOCK:
        runs = _STATE.get(run_id)
        if runs is None:
            runs = _STATE[run_id] = {}
            while len(_STATE) > _KEPT_RUNS:
                _STATE.popitem(last=False)
        _STATE.move_to_end(run_id)
        state = runs.get(thread)
        if state is None:
            state = runs[thread] = (chat, RateLimiter(rpm, capacity=rpm))
    return state


def _sendable(outcome: Any) -> Any:
    """The outcome, with an error that cannot be pickled replaced by one that can."""
    import pickle

    error = getattr(outcome, "error", None)
    if not isinstance(outcome, (Failed, Unextracted)) or error is None:
        return outcome
    try:
        pickle.dumps(error)
    except Exception as exc:
        outcome.error = EllmerError(
            f"{type(error).__name__}: {error} (this error could not be sent back from "
            f"the worker: {type(exc).__name__}: {exc})"
        )
    return outcome


def _run_chunk(
    engine: Engine, chat: Chat, prompts: Sequence[Any], run_id: str, rpm: float
) -> list[Any]:
    """On a worker: run one chunk of prompts with the engine; one outcome per prompt."""
    own_chat, limiter = _worker_state(run_id, chat, rpm)
    return [_sendable(o) for o in engine(own_chat, prompts, limiter=limiter)]


# -- in the caller --------------------------------------------------------------------


def _chunk_outcomes(future: Any, size: int) -> list[Any]:
    """What a finished chunk sent back; each prompt failed if the chunk itself failed."""
    try:
        outcomes = future.result()
    except Exception as exc:
        return [Failed(exc)] * size
    if not isinstance(outcomes, list) or len(outcomes) != size:
        bad = EllmerError(f"a worker sent back {type(outcomes).__name__}, not {size} outcomes")
        return [Failed(bad)] * size
    return outcomes


def run_on_executor(
    executor: Any,
    engine: Engine,
    chat: Chat,
    prompts: Sequence[Any],
    *,
    chunk_size: object,
    rpm: float,
    on_error: str,
    progress: bool | None,
    label: str,
) -> list[Any]:
    """Run ``engine`` over chunks of ``prompts`` on ``executor``; one outcome per prompt.

    ``engine(chat, chunk, limiter=...)`` is the local engine with the run's
    ``max_active``, ``rpm`` and ``on_error`` bound; it and ``chat`` are
    pickled to worker processes.
    """
    import concurrent.futures
    import pickle
    import queue
    import uuid

    if executor is None:
        raise ConfigurationError(
            "chunk_size= splits the prompts between the workers of executor=: pass an "
            "executor too, or leave chunk_size out."
        )
    dask = _check_executor(executor)
    workers = _workers(executor, dask)
    n = len(prompts)
    size = _chunk_size(chunk_size, n, workers)
    outcomes: list[Any] = [SKIPPED] * n
    if n == 0:
        return outcomes
    if not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        pickle.dumps(chat)  # a chat that cannot go to a worker says why, before any request
    options = {"pure": False} if dask else {}
    run_id = uuid.uuid4().hex
    todo = collections.deque(range(0, n, size))
    finished: queue.SimpleQueue[Any] = queue.SimpleQueue()
    running: dict[Any, int] = {}  # future -> index of its first prompt
    bar = Progress(n, progress_stream(progress), label)
    bar.update(0, 0, force=True)
    done = failed = 0
    halted = False
    try:
        while True:
            while todo and not halted and len(running) < workers:
                start = todo.popleft()
                chunk = prompts[start : start + size]
                try:
                    future = executor.submit(
                        _run_chunk, engine, chat, chunk, run_id, rpm, **options
                    )
                except RuntimeError as exc:  # shut down, or a broken process pool
                    if start == 0:
                        raise ConfigurationError(
                            f"executor= cannot take work: {exc}. Pass an executor that is "
                            "not shut down."
                        ) from exc
                    future = concurrent.futures.Future()
                    future.set_exception(exc)
                running[future] = start
                future.add_done_callback(finished.put)
            if not running:
                break
            try:
                future = finished.get(timeout=0.2)
            except queue.Empty:
                bar.update(done, failed)
                continue
            start = running.pop(future)
            chunk_outcomes = _chunk_outcomes(future, min(size, n - start))
            outcomes[start : start + len(chunk_outcomes)] = chunk_outcomes
            done += sum(1 for o in chunk_outcomes if o is not SKIPPED)
            failures = sum(1 for o in chunk_outcomes if isinstance(o, Failed))
            failed += failures
            if failures and on_error != "continue":
                halted = True  # no new chunk
                if on_error == "stop":
                    break  # nor wait for those running
            bar.update(done, failed, force=not running and (halted or not todo))
    finally:
        for future in running:
            future.cancel()
        bar.close()
        with _STATE_LOCK:  # a worker in this process: forget the run's chats and buckets
            _STATE.pop(run_id, None)
    return outcomes
