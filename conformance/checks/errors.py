"""Errors: the same failure gives the same error class on every provider."""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Iterator

from ellmer_py import (
    AssistantPartialTurn,
    AuthenticationError,
    BadRequestError,
    ConnectionCutError,
    EllmerError,
    HTTPStatusError,
    MalformedResponseError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitError,
    ServerError,
)

from .._context import Context
from .._protocol import Answer
from ..fake_server import FakeServer, Reply
from ._common import _HELLO, _check, _error_text, _send, _short

_HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>body{}</style></head>"
    "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


def _error_cases(
    ctx: Context,
) -> Iterator[tuple[str, Callable[[], Reply], type[EllmerError], int | None]]:
    fake = ctx.fake
    for status, cls in (
        (401, AuthenticationError),
        (403, AuthenticationError),
        (402, PaymentRequiredError),
        (404, NotFoundError),
        (400, BadRequestError),
        (422, BadRequestError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
    ):
        message = f"conformance says {status}"
        yield f"HTTP {status}", functools.partial(fake.error, status, message), cls, status
    yield (
        "HTTP 429 with Retry-After",
        functools.partial(fake.error, 429, "conformance says 429", {"Retry-After": "7"}),
        RateLimitError,
        429,
    )
    yield (
        "an HTML error page (502)",
        functools.partial(Reply.raw, 502, _HTML_PAGE, "text/html"),
        ServerError,
        502,
    )


def _expect_error(
    ctx: Context,
    srv: FakeServer,
    label: str,
    reply: Reply,
    expected: type[EllmerError],
    *,
    stream: bool,
) -> EllmerError:
    how = "streamed" if stream else "not streamed"
    chat = ctx.make_chat(srv)
    srv.enqueue(reply)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a partial turn is reported by a warning
            _send(chat, stream=stream)
    except EllmerError as exc:
        assert type(exc) is expected, (
            f"{label} ({how}) raised {type(exc).__name__}, expected {expected.__name__}: {exc}"
        )
        assert exc.provider, f"{label} ({how}): the error does not name the provider"
        assert ctx.key not in _error_text(exc), f"{label} ({how}): the error shows the credential"
        return exc
    except Exception as exc:
        raise AssertionError(
            f"{label} ({how}) raised {type(exc).__name__} (not an EllmerError), expected "
            f"{expected.__name__}: {exc}"
        ) from None
    raise AssertionError(f"{label} ({how}) raised nothing, expected {expected.__name__}")


@_check
def check_errors(ctx: Context) -> None:
    """The same failure gives the same error class on every provider.

    401/403, 402, 404, 400, 422, 429 with Retry-After, 500, 502, 503, an HTML
    error page, a connection closed without an answer, a stream cut short
    and malformed JSON, each streamed and not, with one try: exact classes
    from ellmer-py's hierarchy, naming the provider, with the server's own
    message and status, never the credential; a request that failed
    before any answer leaves the turns as they were, a cut stream keeps
    what arrived as an AssistantPartialTurn.
    """
    fake = ctx.fake
    with ctx.server() as srv:
        for stream in (False, True):
            for label, reply, expected, status in _error_cases(ctx):
                exc = _expect_error(ctx, srv, label, reply(), expected, stream=stream)
                assert isinstance(exc, HTTPStatusError) and exc.status == status, (
                    f"{label}: the error's status is {exc.status!r}"
                )
                if status == 429:
                    assert isinstance(exc, RateLimitError) and exc.retry_after == 7.0, (
                        "429 with Retry-After: 7 gave "
                        f"retry_after={getattr(exc, 'retry_after', None)!r}"
                    )
                if "HTML" in label:
                    assert "Bad Gateway" in str(exc) and "<" not in str(exc), (
                        f"an HTML error page should give its text, not markup: {exc}"
                    )
                else:
                    assert f"conformance says {status}" in str(exc), (
                        f"{label}: the server's message is not in the error: {exc}"
                    )
            _expect_error(
                ctx,
                srv,
                "a connection closed without an answer",
                Reply.drop(),
                ConnectionCutError,
                stream=stream,
            )
            _expect_error(
                ctx,
                srv,
                "malformed JSON",
                fake.malformed(stream=stream),
                MalformedResponseError,
                stream=stream,
            )

        cut = Answer(text_pieces=("Half ", "an answer"))
        chat = ctx.make_chat(srv)
        srv.enqueue(fake.cut_stream(cut))
        pieces: list[str] = []
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pieces.extend(chat.stream(_HELLO))
        except ConnectionCutError:
            pass
        except Exception as exc:
            raise AssertionError(
                f"a stream cut short raised {type(exc).__name__}, expected ConnectionCutError"
            ) from None
        else:
            raise AssertionError("a stream cut short raised nothing, expected ConnectionCutError")
        turns = chat.get_turns()
        assert len(turns) == 2 and isinstance(turns[-1], AssistantPartialTurn), (
            f"a cut stream must keep an AssistantPartialTurn, the turns are {_short(turns)}"
        )
        assert turns[-1].text == "".join(pieces) == cut.text, (
            f"the partial turn has {turns[-1].text!r}, the stream showed {''.join(pieces)!r}"
        )

        chat = ctx.make_chat(srv)
        srv.enqueue(fake.error(500, "conformance says 500"))
        with contextlib.suppress(ServerError):
            chat.chat(_HELLO)
        assert chat.get_turns() == [], "a request that failed before any answer recorded turns"
