"""Streamed and non-streamed, the same answer gives the same turns and tokens."""

from __future__ import annotations

import warnings

from hypothesis import given

from ellmer_py import AssistantTurn

from .._context import Context
from .._protocol import Answer
from .._strategies import answers, byte_cuts
from ._common import _HELLO, _check, _profile, _short


@_check
def check_streaming(ctx: Context) -> None:
    """Streamed and non-streamed, the same scripted answer gives equal turns and tokens.

    Over arbitrary answers (text, reasoning, tool calls, usage) and
    arbitrary splits of the event stream into HTTP chunks; the text
    ``chat()`` returns equals the streamed text, and the token counts are
    the ones the answer reported.
    """
    fake = ctx.fake
    with ctx.server() as srv:

        @_profile()
        @given(answer=answers, cuts=byte_cuts())
        def law(answer: Answer, cuts: list[int]) -> None:
            srv.enqueue(fake.answer(answer))
            plain = ctx.make_chat(srv)
            text = plain.chat(_HELLO)
            srv.enqueue(fake.stream(answer, cuts))
            streamed = ctx.make_chat(srv)
            with warnings.catch_warnings():
                # a complete answer must not be "kept as a partial turn"
                warnings.filterwarnings("error", ".*partial turn", UserWarning)
                pieces = list(streamed.stream(_HELLO))
            assert text == answer.text, f"chat() returned {text!r}, the answer was {answer.text!r}"
            assert "".join(pieces) == text, (
                f"stream() yielded {''.join(pieces)!r}, chat() returned {text!r}"
            )
            turns, streamed_turns = plain.get_turns(), streamed.get_turns()
            assert streamed_turns == turns, (
                f"streamed turns differ: {_short(streamed_turns, 500)} != {_short(turns, 500)}"
            )
            assert plain.get_tokens() == streamed.get_tokens(), "token counts differ"
            last = turns[-1]
            assert isinstance(last, AssistantTurn) and last.tokens is not None
            got = (last.tokens.input, last.tokens.output, last.tokens.cached_input)
            assert got == fake.expected_tokens(answer.usage), (
                f"tokens {got} do not match the usage the server reported {answer.usage}"
            )

        law()
