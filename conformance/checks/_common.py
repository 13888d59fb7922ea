"""What every check shares: the hypothesis profile, the ``_check`` wrapper, the
prompt and answer most checks send, the tools the tool checks offer, and
small helpers to send, extract and compare.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import HealthCheck, settings

from ellmer_py import Chat, Content, tool

from .._context import Context
from .._protocol import Answer, Usage
from ..fake_server import FakeServer
from .retired import _check_retired

#: The hypothesis settings profile every check runs under.
PROFILE = "ellmer_py.conformance"
settings.register_profile(
    PROFILE,
    deadline=None,
    max_examples=int(os.environ.get("ELLMER_PY_CONFORMANCE_EXAMPLES") or 20),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

#: A check: raises AssertionError when the provider in the context does not conform.
Check = Callable[[Context], None]

_HELLO = "Hello"
_PLAIN = Answer(text_pieces=("Hi ", "there."), usage=Usage(input=12, output=3, cached=2))
_SYSTEM_PROMPT = "You are the ellmer-py conformance suite. Answer in one word."


def _profile() -> settings:
    """The settings for one hypothesis run (read when the check runs)."""
    return settings(settings.get_profile(PROFILE))


def _check(function: Callable[[Context], None]) -> Check:
    """Make a check; a retired provider gets the retirement check instead.

    (:data:`~ellmer_py.conformance.checks.CHECKS` lists the checks, in table order.)
    """

    @functools.wraps(function)
    def run(ctx: Context) -> None:
        if ctx.spec.retired is not None:
            _check_retired(ctx)
            return
        function(ctx)

    return run


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _diff(got: Mapping[str, Any], expected: Mapping[str, Any]) -> str:
    """What differs between two bodies, key by key, briefly."""
    parts = []
    for key in sorted(set(got) | set(expected), key=str):
        if key not in got:
            parts.append(f"missing {key!r} (expected {_short(expected[key], 80)})")
        elif key not in expected:
            parts.append(f"unexpected {key!r}={_short(got[key], 80)}")
        elif got[key] != expected[key]:
            parts.append(f"{key!r} is {_short(got[key], 80)}, expected {_short(expected[key], 80)}")
    return "; ".join(parts) or "(no difference)"


def _last_request_json(srv: FakeServer, before: int) -> Any:
    requests = srv.requests
    if len(requests) != before + 1:
        raise AssertionError(f"expected one request, the fake server got {len(requests) - before}")
    return requests[before].json


def _send(chat: Chat, *, stream: bool, contents: tuple[Content, ...] = ()) -> str:
    """One exchange, streamed or not; the answer's text."""
    if stream:
        return "".join(chat.stream(_HELLO, *contents))
    return chat.chat(_HELLO, *contents)


def _error_text(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), *(str(a) for a in exc.args)])


def _extract(chat: Chat, type_: Any, *, stream: bool) -> Any:
    """``chat_structured()``, streamed (echo into a throwaway buffer) or not."""
    if not stream:
        return chat.chat_structured(_HELLO, type=type_)
    with contextlib.redirect_stdout(io.StringIO()):
        return chat.chat_structured(_HELLO, type=type_, echo="output")


_Log = list[tuple[str, dict[str, Any]]]


def _conformance_tools(log: _Log) -> list[Any]:
    """The tools a tools check offers; each call is appended to ``log``."""

    def conformance_add(a: int, b: int) -> int:
        """Add two whole numbers.

        Args:
            a: The first number.
            b: The second number.
        """
        log.append(("conformance_add", {"a": a, "b": b}))
        return a + b

    def conformance_upper(text: str) -> str:
        """Upper-case a text.

        Args:
            text: The text.
        """
        log.append(("conformance_upper", {"text": text}))
        return text.upper()

    def conformance_fail(reason: str) -> str:
        """Always fail.

        Args:
            reason: Why it fails.
        """
        log.append(("conformance_fail", {"reason": reason}))
        raise RuntimeError(f"conformance tool failure: {reason}")

    return [tool(conformance_add), tool(conformance_upper), tool(conformance_fail)]
