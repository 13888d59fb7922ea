"""The outcome of one prompt of a run of many, and the work that makes it.

``parallel_chat*()`` (``_parallel``), its chunks on other workers
(``_parallel_executor``) and ``batch_chat*()`` (``_batch``) all speak of a
prompt's outcome the same way: what the work returned, :data:`SKIPPED` (never
sent), :class:`Failed` (its request failed), :class:`Extracted` or
:class:`Unextracted` (structured output that did or did not fit the type).
They pickle, as a worker process sends them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._chat import Chat

__all__ = [
    "SKIPPED",
    "Extracted",
    "Failed",
    "Skipped",
    "Unextracted",
    "chat_work",
    "structured_results",
    "structured_work",
    "text_work",
]


# -- the outcome of one prompt --------------------------------------------------------


class Skipped:
    """The prompt was never sent (the run stopped first)."""

    def __reduce__(self) -> str:
        return "SKIPPED"  # unpickles as the one SKIPPED, so ``is SKIPPED`` holds


SKIPPED = Skipped()


class Failed:
    """The prompt's request failed with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error


class Unextracted:
    """The request worked but the answer did not fit the type (R: a warning, NA)."""

    def __init__(self, error: Exception, usage: dict[str, Any]) -> None:
        self.error = error
        self.usage = usage


class Extracted:
    """The data extracted from an answer, and the tokens and cost of getting it."""

    def __init__(self, value: Any, usage: dict[str, Any]) -> None:
        self.value = value
        self.usage = usage


# -- one prompt's work (at module level, so that it pickles) ------------------------------


def chat_work(fork: Chat, args: tuple[Any, ...]) -> Chat:
    """``parallel_chat()``: the fork, with the prompt and its answer added."""
    fork.chat(*args, echo="none")
    return fork


def text_work(fork: Chat, args: tuple[Any, ...]) -> str:
    """``parallel_chat_text()``: the answer's text."""
    return fork.chat(*args, echo="none")


def structured_work(fork: Chat, args: tuple[Any, ...], *, type: Any, convert: bool) -> Any:
    """``parallel_chat_structured()``: the data extracted, and what it cost."""
    from ._parallel_rows import usage
    from ._structured import StructuredOutputError

    before = len(fork.get_turns())
    try:
        value = fork.chat_structured(*args, type=type, convert=convert)
    except StructuredOutputError as exc:
        return Unextracted(exc, usage(fork.get_turns()[before:]))
    return Extracted(value, usage(fork.get_turns()[before:]))


def structured_results(
    outcomes: Sequence[Any], *, include_tokens: bool, include_cost: bool
) -> list[Any]:
    """One result per outcome: the data extracted (None where there is none), or its row.

    An outcome with ``value`` is data extracted; one with ``usage`` also
    carries its tokens and cost (``parallel_chat_structured()``,
    ``batch_chat_structured()``).
    """
    from ._parallel_rows import row

    values = [o.value if isinstance(o, Extracted) else None for o in outcomes]
    if not (include_tokens or include_cost):
        return values
    return [
        row(
            value,
            getattr(outcome, "usage", None),
            include_tokens=include_tokens,
            include_cost=include_cost,
        )
        for value, outcome in zip(values, outcomes, strict=True)
    ]
