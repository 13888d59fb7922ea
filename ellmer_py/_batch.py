"""Many prompts through a provider's batch API: ``batch_chat()`` and friends.

(R: ``batch_chat()``, ``batch_chat_text()``, ``batch_chat_structured()``,
``batch_chat_completed()``.) The batch APIs of OpenAI, Anthropic, Google
Gemini and Groq take many requests at once and answer them within 24 hours
for half the usual price. The job's state lives in a JSON file at ``path``,
rewritten after every step: stop waiting (Ctrl-C, ``wait=False``, a killed
process) and call the same function again with the same arguments to carry
on where it stopped; it never submits the same prompts twice and never loses
an answer already downloaded. Keep the file as a cache of the answers, or
delete it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._content import Content
from ._errors import ConfigurationError
from ._parallel import Prompt, as_chat, prompt_args, report_outcomes
from ._parallel_outcomes import Extracted, Failed, Unextracted
from ._turn import AssistantTurn, Turn, UserTurn, user_turn

if TYPE_CHECKING:
    from ._batch_job import BatchItemError, BatchJob
    from ._chat import Chat

__all__ = ["batch_chat", "batch_chat_completed", "batch_chat_structured", "batch_chat_text"]


def _user_turns(prompts: Any, function: str) -> list[UserTurn]:
    if isinstance(prompts, (str, bytes, Content, Turn, dict)) or not isinstance(prompts, Iterable):
        raise ConfigurationError(
            f"{function}(): prompts must be a list with one prompt per conversation, not "
            f"{type(prompts).__name__}."
        )
    return [user_turn(prompt_args(p, i)) for i, p in enumerate(list(prompts))]


def _job(
    chat: Chat | str,
    prompts: Iterable[Prompt],
    path: str | Path,
    function: str,
    **options: Any,
) -> BatchJob:
    """The job of one call, holding its lock (``with`` lets it go)."""
    import os

    from ._batch_job import BatchJob

    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ConfigurationError(
            f"{function}(): path must be the path of a .json file to keep the job's state in, "
            f"not {path!r}."
        )
    for name in ("wait", "ignore_hash"):
        if not isinstance(options.get(name, False), bool):
            raise ConfigurationError(
                f"{function}(): {name} must be True or False, not {options[name]!r}."
            )
    chat = as_chat(chat)
    return BatchJob(chat, _user_turns(prompts, function), path, function=function, **options)


def _finished(
    chat: Chat | str, prompts: Iterable[Prompt], path: str | Path, function: str, **options: Any
) -> BatchJob | None:
    """The job taken as far as it goes: None while its batches are still running."""
    with _job(chat, prompts, path, function, **options) as job:
        return job if job.step_until_done() else None


def _outcomes(job: BatchJob, answered: Callable[[int, AssistantTurn], Any]) -> list[Any]:
    """One outcome per prompt: ``answered(i, turn)`` for an answer, else its error as Failed."""
    outcomes: list[Any] = []
    for i in range(len(job.user_turns)):
        turn = job.turn(i)
        outcomes.append(answered(i, turn) if isinstance(turn, AssistantTurn) else Failed(turn))
    return outcomes


def batch_chat(
    chat: Chat | str,
    prompts: Iterable[Prompt],
    path: str | Path,
    wait: bool = True,
    ignore_hash: bool = False,
    *,
    progress: bool | None = None,
) -> list[Chat | BatchItemError] | None:
    """Send the prompts as one batch and return a conversation for each (R: ``batch_chat()``).

    Works with ``chat_openai()``, ``chat_anthropic()``, ``chat_google_gemini()``
    and ``chat_groq()`` (their batch APIs; half price, answers within a day).
    ``path`` is the job's JSON state file: calling again with the same
    arguments resumes the job (a different chat or different prompts with an
    existing file is an error; ``ignore_hash=True`` makes it a warning).
    With ``wait`` (default) it polls until the batch ends, showing progress
    on a terminal (``progress``); with ``wait=False`` it polls once and
    returns None while the batch is still running.

    Returns one item per prompt, in prompt order: a Chat forked from
    ``chat`` with the prompt and its answer added (tokens and cost at the
    batch price), or, for a request the API failed, a ``BatchItemError``
    saying why (one warning lists them). Tools are not offered, as in R.
    """
    job = _finished(
        chat, prompts, path, "batch_chat", wait=wait, ignore_hash=ignore_hash, progress=progress
    )
    if job is None:
        return None

    def forked(i: int, turn: AssistantTurn) -> Chat:
        assert job is not None
        fork = job.chat.copy()
        fork.add_turn(job.user_turns[i], turn, log_tokens=False)  # logged when retrieved
        return fork

    outcomes = _outcomes(job, forked)
    results = [o.error if isinstance(o, Failed) else o for o in outcomes]
    return report_outcomes(outcomes, results, "continue", "batch_chat")


def batch_chat_text(
    chat: Chat | str,
    prompts: Iterable[Prompt],
    path: str | Path,
    wait: bool = True,
    ignore_hash: bool = False,
    *,
    progress: bool | None = None,
) -> list[str | None] | None:
    """The answers' text, one per prompt, in order (R: ``batch_chat_text()``).

    None where the request failed (R: ``NA``); None instead of the list while
    the batch is still running and ``wait=False``. Arguments as for
    :func:`batch_chat`.
    """
    job = _finished(
        chat,
        prompts,
        path,
        "batch_chat_text",
        wait=wait,
        ignore_hash=ignore_hash,
        progress=progress,
    )
    if job is None:
        return None
    outcomes = _outcomes(job, lambda i, turn: turn.text)
    results: list[str | None] = [o if isinstance(o, str) else None for o in outcomes]
    return report_outcomes(outcomes, results, "continue", "batch_chat_text")


def batch_chat_structured(
    chat: Chat | str,
    prompts: Iterable[Prompt],
    path: str | Path,
    type: Any,
    wait: bool = True,
    ignore_hash: bool = False,
    convert: bool = True,
    include_tokens: bool = False,
    include_cost: bool = False,
    *,
    progress: bool | None = None,
) -> list[Any] | None:
    """Extract data fitting ``type`` from each prompt, through the batch API.

    (R: ``batch_chat_structured()``.) ``type``, ``convert``,
    ``include_tokens`` and ``include_cost`` are those of
    ``parallel_chat_structured()``: one value per prompt (None where the
    request failed or the answer does not fit, with a warning), or with
    ``include_tokens``/``include_cost`` one dict per prompt with R's columns.
    The other arguments are those of :func:`batch_chat`.
    """
    from ._parallel_outcomes import structured_results
    from ._parallel_rows import check_structured_flags, usage
    from ._structured import StructuredOutputError, extract, spec_for

    check_structured_flags(convert, include_tokens, include_cost)
    chat = as_chat(chat)
    spec = spec_for(type, wrap=chat.get_provider().needs_wrapper)
    job = _finished(
        chat,
        prompts,
        path,
        "batch_chat_structured",
        spec=spec,
        wait=wait,
        ignore_hash=ignore_hash,
        progress=progress,
    )
    if job is None:
        return None

    def extracted(i: int, turn: AssistantTurn) -> Extracted | Unextracted:
        used = usage([turn])
        try:
            return Extracted(extract(spec, turn, convert=convert), used)
        except StructuredOutputError as exc:
            return Unextracted(exc, used)

    outcomes = _outcomes(job, extracted)
    results = structured_results(outcomes, include_tokens=include_tokens, include_cost=include_cost)
    return report_outcomes(outcomes, results, "continue", "batch_chat_structured")


def batch_chat_completed(chat: Chat | str, prompts: Iterable[Prompt], path: str | Path) -> bool:
    """Whether the job's results are ready, polling the batch once (R: ``batch_chat_completed()``).

    False before the job was submitted (no file at ``path``). Once True,
    ``batch_chat()`` with the same arguments downloads and returns them.
    """
    with _job(chat, prompts, path, "batch_chat_completed") as job:
        return job.completed()
