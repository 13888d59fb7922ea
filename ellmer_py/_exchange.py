"""One round trip: provider + stream decoder -> pieces -> always a Turn.

``exchange()`` sends one request (streamed or not), yields what the user
should see as it arrives, and hands exactly one AssistantTurn to ``record``:
the complete answer, or, when the stream fails, is cut, or the caller stops
reading, an ``AssistantPartialTurn`` holding everything that arrived, with
the reason. ``Chat`` owns the conversation; this module owns the trip.

Whatever a decoder does, once an answer has arrived (streamed, or a whole
document received) any failure to make it a turn, pricing it or reading
its JSON still records a partial turn, and raises one of our errors (a
MalformedResponseError for a failure that is not ours, such as a
TypeError from a field of the wrong type or a RecursionError).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._content import Content, ContentText, ContentThinking
from ._errors import EllmerError
from ._params import _caller_stacklevel
from ._redact import redacting
from ._tokens import account_turn
from ._turn import AssistantPartialTurn, AssistantTurn, Turn
from ._unreadable import check_turn, problem, received_answer, unreadable

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
    """``turn`` as a partial turn with ``reason``; accounting of the wrong type is left out."""
    return AssistantPartialTurn(
        turn.contents,
        tokens=turn.tokens if problem(turn, "tokens") is None else None,
        cost=turn.cost if problem(turn, "cost") is None else None,
        finish_reason=turn.finish_reason if problem(turn, "finish_reason") is None else None,
        duration=turn.duration,
        json=turn.json,
        reason=reason,
    )


def _safe_turn(decoder: StreamDecoder, shown: list[Content], duration: float) -> AssistantTurn:
    """The decoder's turn; if even that fails, the text and thinking the user was shown."""
    try:
        turn = decoder.turn(duration)
        if isinstance(turn, AssistantTurn):
            return turn
    except BaseException:  # RecursionError, Ctrl-C again: the stream's own error is raised anyway
        pass
    text = "".join(c.text for c in shown if type(c) is ContentText)
    thinking = "".join(c.thinking for c in shown if isinstance(c, ContentThinking))
    kept: list[Content] = [ContentThinking(thinking)] if thinking else []
    if text:
        kept.append(ContentText(text))
    return AssistantTurn(tuple(kept), duration=duration)


@redacting  # what is recorded and raised shows no credential the provider sent
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
        try:
            turn = send(lambda turns: provider.chat_perform(turns, tools=tools, type=type_))
        except EllmerError as exc:
            received = received_answer(exc)
            if received is not None:  # the answer arrived but could not be read: keep it
                record(partial(received, _reason(exc)))
            raise
        turn = _finished(provider, turn, {}, spec, record, priced=True)
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
    shown: list[Content] = []  # what the user saw, should the decoder fail to give a turn
    try:
        for pieces in provider.stream_pieces(response, decoder):
            shown += pieces
            if contents:
                yield from pieces
            else:
                for piece in pieces:
                    if type(piece) is ContentText:
                        yield piece.text
        turn = decoder.turn(time.perf_counter() - start)
    except GeneratorExit:
        reason = "interrupted: the caller stopped reading the stream"
        record(partial(_safe_turn(decoder, shown, time.perf_counter() - start), reason))
        raise
    except BaseException as exc:
        ours = isinstance(exc, EllmerError) or not isinstance(exc, Exception)  # or Ctrl-C
        error = exc if ours else unreadable(exc, provider.name)
        record(partial(_safe_turn(decoder, shown, time.perf_counter() - start), _reason(error)))
        if ours:
            raise
        raise error from exc
    if not decoder.complete:
        reason = "the stream ended before the server said the answer was finished"
        warnings.warn(
            f"{provider.name}: {reason}; kept as a partial turn.",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
        turn = partial(turn, reason)
    _finished(provider, turn, response.headers, spec, record, priced=False)


def _finished(
    provider: Provider,
    turn: AssistantTurn,
    headers: Mapping[str, str],
    spec: StructuredSpec | None,
    record: Callable[[AssistantTurn], None],
    *,
    priced: bool,
) -> AssistantTurn:
    """Price the answer, make a structured one ContentJson, record it; return what was recorded.

    Whatever fails here (tokens of the wrong type, JSON nested too deeply)
    still records the answer, as a partial turn with the reason, and raises
    a MalformedResponseError: nothing the user saw is lost.
    """
    try:
        if not priced:
            check_turn(turn, provider.name)
            turn = account_turn(provider, turn, headers)  # prices and logs a complete turn
        if spec is not None and not isinstance(turn, AssistantPartialTurn):
            from ._structured import json_turn

            turn = json_turn(turn)
    except Exception as exc:
        error = exc if isinstance(exc, EllmerError) else unreadable(exc, provider.name)
        record(
            partial(turn if isinstance(turn, AssistantTurn) else AssistantTurn(()), _reason(error))
        )
        raise error from (None if error is exc else exc)
    record(turn)
    if spec is None:
        warn_finish_reason(provider.name, turn.finish_reason)
    return turn


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
