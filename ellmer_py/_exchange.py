"""One round trip: provider + stream decoder -> pieces -> always a Turn.

``exchange()`` sends one request (streamed or not), yields what the user
should see as it arrives, and hands exactly one AssistantTurn to ``record``:
the complete answer, or, when the stream fails, is cut, or the caller stops
reading, an ``AssistantPartialTurn`` holding everything that arrived, with
the reason. ``Chat`` owns the conversation; this module owns the trip.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._content import ContentText, ContentThinking
from ._params import _caller_stacklevel
from ._tokens import account_turn
from ._turn import AssistantPartialTurn, AssistantTurn, Turn

if TYPE_CHECKING:
    from ._protocols import StreamDecoder
    from ._provider import Provider
    from ._structured import StructuredSpec
    from ._tools import ToolDef
    from ._transport import StreamResponse

__all__ = ["exchange", "partial", "warn_finish_reason"]

_T = TypeVar("_T")
#: ``send(make_request)``: calls ``make_request(turns)`` with the turns to send
#: (the chat's system-prompt fallback decides them), maybe twice.
Send = Callable[[Callable[[list[Turn]], _T]], _T]


def partial(turn: AssistantTurn, reason: str) -> AssistantPartialTurn:
    """``turn`` as a partial turn with ``reason``."""
    return AssistantPartialTurn(
        turn.contents,
        tokens=turn.tokens,
        cost=turn.cost,
        finish_reason=turn.finish_reason,
        duration=turn.duration,
        json=turn.json,
        reason=reason,
    )


def _safe_turn(decoder: StreamDecoder, duration: float) -> AssistantTurn:
    """The decoder's turn; if even that fails, an empty one (the error is raised anyway)."""
    try:
        return decoder.turn(duration)
    except Exception:
        return AssistantTurn((), duration=duration)


def exchange(
    provider: Provider,
    send: Send[Any],
    record: Callable[[AssistantTurn], None],
    *,
    stream: bool,
    contents: bool,
    tools: Sequence[ToolDef] = (),
    spec: StructuredSpec | None = None,
) -> Iterator[Any]:
    """Send one request, yield the answer's pieces, and ``record`` its turn once.

    Yields text, or with ``contents`` ContentThinking and ContentText pieces.
    ``spec`` asks for structured output (its answer becomes ContentJson).
    """
    type_ = spec.sent if spec is not None else None
    if not stream:
        turn = send(lambda turns: provider.chat_perform(turns, tools=tools, type=type_))
        if spec is not None:
            from ._structured import json_turn

            turn = json_turn(turn)
        record(turn)
        if spec is None:
            warn_finish_reason(provider.name, turn.finish_reason)
        if contents:
            yield from (c for c in turn.contents if isinstance(c, (ContentThinking, ContentText)))
        elif turn.text:
            yield turn.text
        return
    start = time.perf_counter()
    opened: tuple[StreamResponse, StreamDecoder] = send(
        lambda turns: provider.stream_open(turns, tools=tools, type=type_)
    )
    response, decoder = opened
    try:
        if contents:
            for pieces in provider.stream_pieces(response, decoder):
                yield from pieces
        else:
            for pieces in provider.stream_pieces(response, decoder):
                for piece in pieces:
                    if type(piece) is ContentText:
                        yield piece.text
        turn = decoder.turn(time.perf_counter() - start)
    except GeneratorExit:
        reason = "interrupted: the caller stopped reading the stream"
        record(partial(_safe_turn(decoder, time.perf_counter() - start), reason))
        raise
    except BaseException as exc:
        record(partial(_safe_turn(decoder, time.perf_counter() - start), _reason(exc)))
        raise
    if not decoder.complete:
        reason = "the stream ended before the server said the answer was finished"
        warnings.warn(
            f"{provider.name}: {reason}; kept as a partial turn.",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
        turn = partial(turn, reason)
    turn = account_turn(provider, turn, response.headers)  # prices and logs a complete turn
    if spec is not None and not isinstance(turn, AssistantPartialTurn):
        from ._structured import json_turn

        turn = json_turn(turn)
    record(turn)
    if spec is None:
        warn_finish_reason(provider.name, turn.finish_reason)


_FINISH_WARNINGS = {
    "max_tokens": "the answer was cut off because it hit the max_tokens limit. Raise it with "
    "params(max_tokens=...) to get the whole answer",
    "context_window": "the answer was cut off because it exceeded the model's context window",
    "content_filter": "the answer was filtered by the provider's content moderation policy",
}


def warn_finish_reason(provider: str, reason: str | None) -> None:
    """Warn when an answer is incomplete (R: ``check_finish_reason(signal = "warn")``)."""
    message = _FINISH_WARNINGS.get(reason or "")
    if message is not None:
        warnings.warn(f"{provider}: {message}.", UserWarning, stacklevel=_caller_stacklevel())


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
