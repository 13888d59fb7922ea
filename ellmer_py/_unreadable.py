"""An answer that arrived but could not be made into a turn.

A decoder may fail on an answer it received (a field of the wrong type, JSON
nested too deeply). The error raised then is always ours, and carries what
arrived, so that ``exchange()`` records it as a partial turn: nothing the
server answered is lost from ``get_turns()``.
"""

from __future__ import annotations

from ._errors import EllmerError, MalformedResponseError
from ._turn import AssistantTurn, Tokens

__all__ = ["check_turn", "problem", "received_answer", "unreadable", "with_received"]


def unreadable(exc: BaseException, provider: str) -> MalformedResponseError:
    """Our error for a failure not ours while reading an answer (e.g. a RecursionError)."""
    return MalformedResponseError(
        f"{provider}: the answer could not be read: {type(exc).__name__}: {str(exc)[:200]}",
        provider=provider,
    )


def received_answer(exc: BaseException) -> AssistantTurn | None:
    """What arrived of an answer that could not be read, as ``with_received`` left it."""
    turn = getattr(exc, "received", None)
    return turn if isinstance(turn, AssistantTurn) else None


def with_received(exc: BaseException, provider: str, turn: AssistantTurn) -> EllmerError:
    """The error to raise when an answer arrived but could not be made into a turn.

    Our own errors keep their class, anything else becomes a MalformedResponseError;
    ``turn`` (what arrived) goes with it, for ``exchange()`` to record as a partial turn.
    """
    error = exc if isinstance(exc, EllmerError) else unreadable(exc, provider)
    error.received = turn  # type: ignore[attr-defined]
    return error


def check_turn(turn: AssistantTurn, provider: str) -> None:
    """Raise our error for a decoded turn that can't be recorded as it is.

    Called before a turn is priced and logged, so that counts of the wrong
    type never reach the session's usage log.
    """
    if not isinstance(turn, AssistantTurn):
        raise MalformedResponseError(
            f"{provider}: the decoder gave {type(turn).__name__}, not an AssistantTurn.",
            provider=provider,
        )
    problems = [p for n in ("tokens", "cost", "finish_reason") if (p := problem(turn, n))]
    if problems:
        raise MalformedResponseError(
            f"{provider}: the answer has " + "; ".join(problems) + ".", provider=provider
        )


def problem(turn: AssistantTurn, name: str) -> str | None:
    """What is wrong with one accounting field of a decoded turn, or None."""
    value = getattr(turn, name)
    if value is None:
        return None
    if name == "tokens":
        counts = [getattr(value, n, None) for n in ("input", "output", "cached_input")]
        if isinstance(value, Tokens) and all(type(c) is int and c >= 0 for c in counts):
            return None
        return f"token counts that are not whole numbers: {value!r:.100}"
    if name == "cost":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"a cost that is not a number: {value!r:.100}"
    return None if isinstance(value, str) else f"a finish reason that is not text: {value!r:.100}"
