"""An answer cut off or filtered warns, as R's ``check_finish_reason()`` does."""

from __future__ import annotations

import warnings

from .._context import Context
from .._protocol import Answer, Usage
from ._common import _HELLO, _check

#: Finish reason sent (the fakes' names) -> what the warning must say.
_WARNINGS = {
    "length": "cut off because it hit the max_tokens limit",
    "content_filter": "filtered by the provider's content moderation policy",
}


def _answer(reason: str) -> Answer:
    return Answer(text_pieces=("Once upon ", "a time"), finish_reason=reason, usage=Usage(5, 4))


@_check
def check_finish_reason(ctx: Context) -> None:
    """``chat()`` and ``stream()`` warn when the answer was cut off or filtered.

    An answer that hit the token limit (the protocol's ``length``) and one
    the provider filtered each give one UserWarning naming the provider and
    saying what happened, streamed and not, and the answer is still recorded
    and returned; an answer that stopped normally gives none.
    (R: ``check_finish_reason(signal = "warn")``.)
    """
    fake = ctx.fake
    with ctx.server() as srv:
        for reason in ("stop", *_WARNINGS):
            for stream in (False, True):
                how = f"finish reason {reason!r}, {'streamed' if stream else 'not streamed'}"
                chat = ctx.make_chat(srv)
                answer = _answer(reason)
                srv.enqueue(fake.stream(answer) if stream else fake.answer(answer))
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    text = "".join(chat.stream(_HELLO)) if stream else chat.chat(_HELLO)
                said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
                assert text == answer.text, f"{how}: got {text!r}, the answer was {answer.text!r}"
                assert len(chat.get_turns()) == 2, f"{how}: the turns were not recorded"
                needle = _WARNINGS.get(reason)
                if needle is None:
                    assert not said, f"{how}: a complete answer warned: {said}"
                    continue
                hits = [m for m in said if needle in m]
                assert len(hits) == 1, f"{how}: expected one warning saying {needle!r}, got {said}"
                assert hits[0].startswith(f"{chat.get_provider().name}: "), (
                    f"{how}: the warning does not name the provider: {hits[0]!r}"
                )
