"""The rejected ``api_key=``, and ``credentials``: functions, headers, env vars."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ellmer_py import Chat, DeprecatedArgumentError, EllmerError, MissingCredentialsError

from .._context import Context
from ..fake_server import FakeServer
from ._common import _HELLO, _PLAIN, _check, _error_text, _last_request_json, _profile

# -- api_key ----------------------------------------------------------------------

_SENTINEL = "SENTINEL-api-key-7f3a9c"


def _api_key_error(ctx: Context, kwargs: Mapping[str, Any], key: str) -> DeprecatedArgumentError:
    try:
        ctx.spec.chat_function(**kwargs, api_key=key)
    except DeprecatedArgumentError as exc:
        return exc
    except Exception as exc:
        raise AssertionError(
            f"{ctx.name}(api_key=...) must raise DeprecatedArgumentError, not {type(exc).__name__}"
        ) from None
    raise AssertionError(f"{ctx.name}'s constructor accepted api_key=; it must reject it")


@_check
def check_api_key(ctx: Context) -> None:
    """The deprecated ``api_key=`` is rejected with DeprecatedArgumentError for any string.

    The value never appears in the error (substrings of the fixed message
    text aside), with or without ``credentials=``, and nothing is sent. A
    constructor without an ``api_key`` argument (as R's ``chat_google_vertex()``)
    has nothing to reject: Python's own TypeError names the argument only.
    """
    parameters = inspect.signature(ctx.spec.chat_function).parameters
    if "api_key" not in parameters and not any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    ):
        ctx.note("no api_key argument (none in R either): nothing to reject")
        return
    with ctx.server() as srv:
        base = {**ctx.conformance_kwargs(srv), "max_tries": 1}
        template = _error_text(_api_key_error(ctx, base, _SENTINEL))
        if _SENTINEL in template:
            raise AssertionError(f"{ctx.name}(api_key=...) repeats the key in its error")
        if not str(_api_key_error(ctx, base, _SENTINEL)).strip():
            raise AssertionError(f"{ctx.name}(api_key=...) raises an error with no message")
        with_credentials = {**base, "credentials": ctx.credentials, "echo": "none"}

        @_profile()
        @given(key=st.text(max_size=40), credentials=st.booleans())
        def law(key: str, credentials: bool) -> None:
            exc = _api_key_error(ctx, with_credentials if credentials else base, key)
            if key.strip() and key not in template:
                assert key not in _error_text(exc), (
                    f"the error for api_key={key!r} repeats the key: {exc}"
                )

        law()
        if srv.requests:
            raise AssertionError(f"api_key= was rejected, but {len(srv.requests)} request(s) sent")


# -- credentials ------------------------------------------------------------------


def _auth_value(chat: Chat, key: str) -> tuple[str, str]:
    provider = chat.get_provider()
    return provider.auth_header.lower(), f"{provider.auth_prefix}{key}"


@_check
def check_credentials(ctx: Context) -> None:
    """Credentials: a function returning a key or headers, called per request; env vars.

    A function returning a string is sent in the provider's auth header; one
    returning a dict sends those headers instead; it is called again for
    every request (rotating tokens). Each of ``ProviderSpec.credential_env``
    is read when the request goes out (set after the chat is made), the
    first set one wins, and with none set (and no token file in an empty
    home directory) the error is MissingCredentialsError naming each of
    them, raised before anything is sent. (R: ``credentials``.)
    """
    spec = ctx.spec
    fake = ctx.fake
    with ctx.server() as srv:
        srv.default = fake.answer(_PLAIN)

        key = f"callable-{ctx.key}"
        chat = ctx.make_chat(srv, credentials=lambda: key)
        chat.chat(_HELLO)
        header, value = _auth_value(chat, key)
        prefix = value[: len(value) - len(key)]
        got = srv.requests[-1].headers.get(header)
        assert got == value, (
            f"credentials=lambda: key: the {header} header is {got!r}, expected {value!r}"
        )

        calls: list[str] = []

        def rotating() -> str:
            calls.append(f"rotating-{len(calls)}-{ctx.key}")
            return calls[-1]

        chat = ctx.make_chat(srv, credentials=rotating)
        before = len(srv.requests)
        chat.chat(_HELLO)
        chat.chat(_HELLO)
        sent = [r.headers.get(header) for r in srv.requests[before:]]
        assert len(sent) == 2 and sent[0] != sent[1], (
            "the credentials function must be called for every request (rotating tokens); "
            f"two requests sent the same {header} header"
        )
        assert sent == [f"{prefix}{c}" for c in calls[-2:]], (
            f"the {header} header did not carry what the credentials function returned"
        )

        headers = {"X-Conformance-Auth": f"dict-{ctx.key}", "X-Conformance-Team": "team-1"}
        before = len(srv.requests)
        ctx.make_chat(srv, credentials=lambda: headers).chat(_HELLO)
        got_headers = _request_headers(srv, before)
        for name, expected in headers.items():
            arrived = got_headers.get(name.lower())
            assert arrived == expected, (
                f"credentials returning headers: {name} arrived as {arrived!r}"
            )
        assert header not in got_headers, (
            f"credentials returned a dict of headers, but the {header} header was sent as well"
        )

        if not spec.credential_env:
            ctx.note("no credential_env declared (no key needed): environment part not checked")
            return
        _check_env_credentials(ctx, srv, header, prefix)


def _request_headers(srv: FakeServer, before: int) -> dict[str, str]:
    _last_request_json(srv, before)
    return srv.requests[before].headers


def _check_env_credentials(ctx: Context, srv: FakeServer, header: str, prefix: str) -> None:
    names = list(ctx.spec.credential_env)
    with ctx.isolated_environment():
        before = len(srv.requests)
        try:
            ctx.make_chat(srv, credentials=None).chat(_HELLO)
        except MissingCredentialsError as exc:
            message = str(exc)
            missing = [n for n in names if n not in message]
            assert not missing, (
                f"with no credentials, the error does not name {', '.join(missing)}: {message}"
            )
        except Exception as exc:
            raise AssertionError(
                "with no credentials anywhere, expected MissingCredentialsError, not "
                f"{type(exc).__name__}: {exc}"
            ) from None
        else:
            raise AssertionError(
                f"with none of {', '.join(names)} set (and an empty home directory), a chat "
                "request went out instead of raising MissingCredentialsError"
            )
        assert len(srv.requests) == before, "a request was sent without credentials"

        for name in names:
            chat = ctx.make_chat(srv, credentials=None)  # made before the variable is set
            os.environ[name] = f"env-{name}-{ctx.key}"
            before = len(srv.requests)
            try:
                chat.chat(_HELLO)
            except EllmerError as exc:
                raise AssertionError(
                    f"{name} was set after the chat was made, and the request failed with "
                    f"{type(exc).__name__}: {exc} (the key must be read when the request goes out)"
                ) from None
            finally:
                del os.environ[name]
            got = _request_headers(srv, before).get(header)
            expected = f"{prefix}env-{name}-{ctx.key}"
            assert got == expected, (
                f"{name} set after the chat was made: the {header} header is {got!r}, "
                f"expected {expected!r} (the key must be read when the request goes out)"
            )

        if len(names) > 1:
            for name in names:
                os.environ[name] = f"env-{name}-{ctx.key}"
            before = len(srv.requests)
            ctx.make_chat(srv, credentials=None).chat(_HELLO)
            got = _request_headers(srv, before).get(header)
            expected = f"{prefix}env-{names[0]}-{ctx.key}"
            assert got == expected, (
                f"with all of {', '.join(names)} set, the first must win: the {header} "
                f"header is {got!r}"
            )
