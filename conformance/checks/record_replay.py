"""``contents_record()`` / ``contents_replay()``: a recorded chat replays the same."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ellmer_py import contents_record, contents_replay

from .._context import Context
from .._protocol import Answer
from .._strategies import answers
from ._common import (
    _PLAIN,
    _SYSTEM_PROMPT,
    _check,
    _diff,
    _last_request_json,
    _profile,
    _send,
    _short,
)


@_check
def check_record_replay(ctx: Context) -> None:
    """A conversation recorded with ``contents_record()`` replays equal and continues the same.

    Over arbitrary answers, streamed and not, with a system prompt: the
    JSON record holds no credential, ``contents_replay()`` gives equal turns,
    and a new chat given those turns sends the same next request.
    (R: ``contents_record()`` / ``contents_replay()``.)
    """
    fake = ctx.fake
    with ctx.server() as srv:
        model = ctx.unlimited_model(srv)

        @_profile()
        @given(script=st.lists(st.tuples(answers, st.booleans()), min_size=1, max_size=3))
        def law(script: list[tuple[Answer, bool]]) -> None:
            chat = ctx.make_chat(srv, **model, system_prompt=_SYSTEM_PROMPT)
            for answer, stream in script:
                srv.enqueue(fake.stream(answer) if stream else fake.answer(answer))
                _send(chat, stream=stream)
            text = json.dumps(contents_record(chat))
            assert ctx.key not in text, "the record contains the credential"
            replayed = contents_replay(text)
            original = chat.get_turns(include_system_prompt=True)
            assert replayed == original, (
                f"replayed turns differ: {_short(replayed, 500)} != {_short(original, 500)}"
            )
            again = ctx.make_chat(srv, **model).set_turns(replayed)
            bodies = []
            for each in (chat, again):
                srv.enqueue(fake.answer(_PLAIN))
                before = len(srv.requests)
                each.chat("And then?")
                bodies.append(_last_request_json(srv, before))
            assert bodies[0] == bodies[1], (
                f"the replayed chat sends a different request: {_diff(bodies[1], bodies[0])}"
            )

        law()
