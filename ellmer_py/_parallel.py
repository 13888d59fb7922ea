"""Many conversations at once: ``parallel_chat()`` and friends (R: ``parallel_chat()``).

Each prompt gets its own copy of the chat (same provider, system prompt,
tools and history; its own turns), run in a pool of worker threads on the
provider's shared connection pool:

- at most ``max_active`` requests are in flight at a time;
- requests start at ``rpm`` per minute on average (as R's
  ``req_throttle(capacity = rpm)``, a token bucket that starts full: the
  first ``rpm`` requests are not held back; every HTTP request counts,
  retries and tool-loop rounds too);
- results come back in prompt order, whatever order they finish in;
- ``on_error`` says what a failure does, as in R: ``"return"`` (default)
  starts no new requests, lets those in flight finish and returns;
  ``"continue"`` performs every request; ``"stop"`` ends the requests in
  flight and raises :class:`ParallelChatError`, which carries the results so
  far. A failed prompt's slot holds its error (``parallel_chat()``) or None
  (``parallel_chat_text()``, ``parallel_chat_structured()``); a prompt never
  sent holds None; one warning lists what failed.
- a progress bar is drawn on stderr when it is a terminal;
- ``executor=`` runs chunks of the prompts with this engine on the workers of a
  ``concurrent.futures`` executor or a Dask cluster (``_parallel_executor``): the
  limits above then hold per worker.

Tools registered on the chat run in the worker threads, so several may run
at once. Ctrl-C ends the requests in flight and raises KeyboardInterrupt.
"""

from __future__ import annotations

import functools
import queue
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from ._content import Content
from ._errors import ConfigurationError, EllmerError
from ._parallel_outcomes import (
    SKIPPED,
    Failed,
    Unextracted,
    chat_work,
    structured_work,
    text_work,
)
from ._progress import Progress, progress_stream
from ._turn import Turn, UserTurn

if TYPE_CHECKING:
    from ._chat import Chat

__all__ = [
    "ParallelChatError",
    "as_chat",
    "fork_chat",
    "parallel_chat",
    "parallel_chat_structured",
    "parallel_chat_text",
    "prompt_args",
    "report_outcomes",
]

OnError = Literal["return", "continue", "stop"]
Prompt = str | Content | UserTurn | Sequence[str | Content]


class ParallelChatError(EllmerError):
    """``on_error="stop"``: a prompt failed, so the parallel run stopped.

    ``results`` is what the function would have returned (finished prompts
    filled in, the failed one holding its error or None, the rest None);
    ``errors`` maps each failed prompt's index to its error. The first error
    is also the ``__cause__``.
    """

    def __init__(self, message: str, *, results: list[Any], errors: dict[int, Exception]) -> None:
        super().__init__(message)
        self.results = results
        self.errors = errors


def fork_chat(chat: Chat) -> Chat:
    """A copy of ``chat`` with its own turns (R: ``chat$clone()``).

    Same provider (and connection pool), system prompt, echo, tools and
    callbacks; the turns, tools and callbacks are copied, so changing one
    chat never changes the other. (``Chat.copy()``.)
    """
    return chat.copy()


def prompt_args(prompt: Any, index: int) -> tuple[Any, ...]:
    if isinstance(prompt, (str, Content, UserTurn)):
        return (prompt,)
    if isinstance(prompt, Sequence) and not isinstance(prompt, (bytes, bytearray)):
        parts = tuple(prompt)
        if parts and all(isinstance(p, (str, Content)) for p in parts):
            return parts
    raise ConfigurationError(
        f"prompts[{index}] must be a string, a Content object, a UserTurn or a list of "
        f"strings and Content objects, not {type(prompt).__name__}."
    )


def _check_args(prompts: Any, max_active: Any, rpm: Any, on_error: Any) -> list[tuple[Any, ...]]:
    if isinstance(prompts, (str, bytes, Content, Turn, Mapping)) or not isinstance(
        prompts, Iterable
    ):
        raise ConfigurationError(
            "prompts must be a list with one prompt per conversation (for one prompt, "
            f"use chat.chat()), not {type(prompts).__name__}."
        )
    if isinstance(max_active, bool) or not isinstance(max_active, int) or max_active < 1:
        raise ConfigurationError(
            f"max_active must be a whole number of requests, 1 or more, not {max_active!r}."
        )
    if (
        isinstance(rpm, bool)
        or not isinstance(rpm, (int, float))
        or not rpm > 0
        or rpm == float("inf")
    ):
        raise ConfigurationError(
            f"rpm must be a positive number of requests per minute, not {rpm!r}."
        )
    if on_error not in ("return", "continue", "stop"):
        raise ConfigurationError(
            f"on_error must be 'return', 'continue' or 'stop', not {on_error!r}."
        )
    return [prompt_args(p, i) for i, p in enumerate(list(prompts))]


def as_chat(chat: Any) -> Chat:
    from ._chat import Chat

    if isinstance(chat, str):
        from ._registry import chat as chat_from_name

        return chat_from_name(chat)
    if not isinstance(chat, Chat):
        raise ConfigurationError(
            "parallel_chat() needs a Chat (from a chat_*() function) or a "
            f'"provider/model" string, not {type(chat).__name__}.'
        )
    return chat


# -- the engine ---------------------------------------------------------------------


def _run(
    chat: Chat,
    prompts: Any,
    work: Callable[[Chat, tuple[Any, ...]], Any],
    *,
    max_active: int,
    rpm: float,
    on_error: OnError,
    progress: bool | None,
    label: str,
    executor: Any = None,
    chunk_size: Any = None,
    limiter: Any = None,
) -> list[Any]:
    """Run ``work(fork, prompt_args)`` for every prompt; one outcome per prompt, in order.

    With ``executor`` (or ``chunk_size``), in chunks on its workers (``_parallel_executor``);
    ``limiter``: a worker's rate limiter, kept across its chunks.
    """
    import concurrent.futures

    from ._scope import RateLimiter, RequestCancelled, RequestScope

    args = _check_args(prompts, max_active, rpm, on_error)
    if executor is not None or chunk_size is not None:
        from ._parallel_executor import run_on_executor

        engine = functools.partial(
            _run,
            work=work,
            max_active=max_active,
            rpm=rpm,
            on_error=on_error,
            progress=False,
            label=label,
        )
        items = [a[0] if len(a) == 1 else list(a) for a in args]  # each as it was given
        return run_on_executor(
            executor,
            engine,
            chat,
            items,
            chunk_size=chunk_size,
            rpm=rpm,
            on_error=on_error,
            progress=progress,
            label=label,
        )
    n = len(args)
    outcomes: list[Any] = [SKIPPED] * n
    if n == 0:
        return outcomes
    scope = RequestScope(RateLimiter(rpm, capacity=rpm) if limiter is None else limiter)
    stop = threading.Event()

    def task(i: int) -> Any:
        # A prompt is in flight once it has a worker (the first max_active at once, then
        # each as a worker is done with its last): its first request goes even if another
        # prompt fails meanwhile; its later ones (tool rounds, retries) are new requests.
        if scope.cancelled or (i >= max_active and stop.is_set()):
            return SKIPPED
        with scope.active(in_flight=True):
            try:
                return work(fork_chat(chat), args[i])
            except RequestCancelled:
                return SKIPPED  # refused before it was sent
            except Exception as exc:
                if scope.cancelled:
                    return SKIPPED  # ended by us (on_error="stop")
                if on_error != "continue":  # at once, before this worker takes a prompt
                    stop.set()  # no new prompts
                    scope.refuse()  # nor new requests (tool rounds, retries)
                if on_error == "stop":
                    scope.cancel()  # and end those in flight
                return Failed(exc)

    bar = Progress(n, progress_stream(progress), label)
    done = failed = 0
    bar.update(0, 0, force=True)
    pool = concurrent.futures.ThreadPoolExecutor(
        max_active, thread_name_prefix="ellmer-py-parallel"
    )
    # Each future, once done, queues its index: waiting on the queue costs the same
    # whatever the number of prompts (concurrent.futures.wait() on all those pending
    # would walk them all at every step).
    finished: queue.SimpleQueue[int] = queue.SimpleQueue()
    try:
        futures = [pool.submit(task, i) for i in range(n)]
        for i, future in enumerate(futures):
            future.add_done_callback(lambda _, i=i: finished.put(i))  # type: ignore[misc]
        for left in range(n - 1, -1, -1):
            while True:
                try:
                    i = finished.get(timeout=0.2)  # a timeout, so Ctrl-C is seen
                    break
                except queue.Empty:
                    bar.update(done, failed)  # the elapsed time moves on
            outcome = outcomes[i] = futures[i].result()
            done += outcome is not SKIPPED
            failed += isinstance(outcome, Failed)
            bar.update(done, failed, force=not left)
    except BaseException:
        # Ctrl-C (or a bug): end everything now and say so.
        stop.set()
        scope.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        bar.close()
    pool.shutdown(wait=True)
    return outcomes


def report_outcomes(
    outcomes: list[Any],
    results: list[Any],
    on_error: OnError,
    function: str,
) -> list[Any]:
    """Warn about (or, with on_error="stop", raise for) the prompts that failed."""
    errors = {i: o.error for i, o in enumerate(outcomes) if isinstance(o, Failed)}
    skipped = sum(1 for o in outcomes if o is SKIPPED)
    unextracted = {i: o.error for i, o in enumerate(outcomes) if isinstance(o, Unextracted)}
    lines = [
        f" * prompts[{i}]: {type(e).__name__}: {e}"
        for i, e in sorted({**errors, **unextracted}.items())
    ]
    details = "\n" + "\n".join(lines) if lines else ""
    if errors and on_error == "stop":
        first = min(errors)
        message = (
            f"{function}(): prompts[{first}] failed, so the run stopped (on_error='stop'); "
            f"{len(results) - len(errors) - skipped} of {len(results)} prompts finished. "
            f"The results so far are in this error's .results.{details}"
        )
        raise ParallelChatError(message, results=results, errors=errors) from errors[first]
    parts = []
    if errors:
        parts.append(f"{len(errors)} of {len(results)} requests failed")
    if skipped:
        why = " (on_error='return' stops the run at the first failure)" if errors else ""
        parts.append(f"{skipped} did not complete{why}")
    if unextracted:
        parts.append(
            f"the data could not be extracted from {len(unextracted)} of {len(results)} answers"
        )
    if parts:
        warnings.warn(f"{function}(): {'; '.join(parts)}.{details}", UserWarning, stacklevel=3)
    return results


# -- the public functions --------------------------------------------------------------


def parallel_chat(
    chat: Chat | str,
    prompts: Iterable[Prompt],
    max_active: int = 10,
    rpm: float = 500,
    on_error: OnError = "return",
    *,
    progress: bool | None = None,
    executor: Any = None,
    chunk_size: int | None = None,
) -> list[Chat | Exception | None]:
    """Send each prompt in its own copy of ``chat``, many at once (R: ``parallel_chat()``).

    Returns one item per prompt, in prompt order: the conversation (a Chat
    forked from ``chat``, with the prompt and its answer added; registered
    tools are run), the error if its request failed, or None if it was never
    sent. ``max_active`` bounds the requests in flight, ``rpm`` the requests
    per minute; ``on_error`` is "return" (default: stop sending new requests
    after a failure), "continue" or "stop" (raise ParallelChatError).
    ``progress``: draw a progress bar on stderr (default: when it is a
    terminal). ``executor``: run the prompts in chunks of ``chunk_size`` on
    its workers (a ``concurrent.futures.Executor`` such as
    ``ProcessPoolExecutor``, or a ``dask.distributed.Client``); ``max_active``
    and ``rpm`` then hold per worker (see ``ellmer_py._parallel_executor``).
    """
    outcomes = _run(
        as_chat(chat),
        prompts,
        chat_work,
        max_active=max_active,
        rpm=rpm,
        on_error=on_error,
        progress=progress,
        label="parallel_chat",
        executor=executor,
        chunk_size=chunk_size,
    )
    results: list[Chat | Exception | None] = [
        o.error if isinstance(o, Failed) else None if o is SKIPPED else o for o in outcomes
    ]
    return report_outcomes(outcomes, results, on_error, "parallel_chat")


def parallel_chat_text(
    chat: Chat | str,
    prompts: Iterable[Prompt],
    max_active: int = 10,
    rpm: float = 500,
    on_error: OnError = "return",
    *,
    progress: bool | None = None,
    executor: Any = None,
    chunk_size: int | None = None,
) -> list[str | None]:
    """The answers' text, one per prompt, in order (R: ``parallel_chat_text()``).

    None where the request failed or was never sent (R: ``NA``); a warning
    lists the failures. Arguments as for :func:`parallel_chat`.
    """
    outcomes = _run(
        as_chat(chat),
        prompts,
        text_work,
        max_active=max_active,
        rpm=rpm,
        on_error=on_error,
        progress=progress,
        label="parallel_chat_text",
        executor=executor,
        chunk_size=chunk_size,
    )
    results: list[str | None] = [o if isinstance(o, str) else None for o in outcomes]
    return report_outcomes(outcomes, results, on_error, "parallel_chat_text")


def parallel_chat_structured(
    chat: Chat | str,
    prompts: Iterable[Prompt],
    type: Any,
    convert: bool = True,
    include_tokens: bool = False,
    include_cost: bool = False,
    *,
    max_active: int = 10,
    rpm: float = 500,
    on_error: OnError = "return",
    progress: bool | None = None,
    executor: Any = None,
    chunk_size: int | None = None,
) -> list[Any]:
    """Extract data fitting ``type`` from each prompt, many at once.

    (R: ``parallel_chat_structured()``.) ``type`` and ``convert`` are those
    of ``Chat.chat_structured()``. Returns one value per prompt, in order;
    None where the request failed, was never sent, or the answer did not fit
    the type (which, as in R, warns but does not stop the run).

    With ``include_tokens`` or ``include_cost`` (R's extra data-frame
    columns), each item is instead a dict, one row per prompt: ``"data"``
    (the value above), then with ``include_tokens`` R's ``"input_tokens"``,
    ``"output_tokens"`` and ``"cached_input_tokens"``, and with
    ``include_cost`` R's ``"cost"`` (US dollars; None when the model's price
    is unknown) -- all for that prompt's request alone, not the history it
    was forked from. As in R, a prompt whose request failed or was never
    sent counts 0 tokens and costs 0. ``pandas.json_normalize(rows)`` gives
    R's data frame (its data columns named ``data.<property>``). The other
    arguments are those of :func:`parallel_chat`.
    """
    from ._parallel_outcomes import structured_results
    from ._parallel_rows import check_structured_flags

    check_structured_flags(convert, include_tokens, include_cost)
    outcomes = _run(
        as_chat(chat),
        prompts,
        functools.partial(structured_work, type=type, convert=convert),
        max_active=max_active,
        rpm=rpm,
        on_error=on_error,
        progress=progress,
        label="parallel_chat_structured",
        executor=executor,
        chunk_size=chunk_size,
    )
    results = structured_results(outcomes, include_tokens=include_tokens, include_cost=include_cost)
    return report_outcomes(outcomes, results, on_error, "parallel_chat_structured")
