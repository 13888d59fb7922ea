"""The conformance checks: plain functions ``check_<name>(ctx) -> None``.

Each one raises ``AssertionError`` with a message that says what the
provider did wrong; ``ctx`` (a :class:`~ellmer_py.conformance.Context`)
knows the provider under test and builds chats against a fresh fake
server. Checks over a large input space use hypothesis (``@given`` inside
the check, under the ``"ellmer_py.conformance"`` settings profile: no
deadline, ``ELLMER_PY_CONFORMANCE_EXAMPLES`` examples, 20 by default), so
they run the same from pytest, from ``python -m ellmer_py.conformance`` or
from a notebook.

:data:`CHECKS` maps each check's name to its function, in the order the
results table shows them. A retired provider (``ProviderSpec.retired``)
is held to one thing only, by every check: its constructor raises a
ConfigurationError that says the service is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import inspect
import io
import json
import os
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ellmer_py import (
    AssistantPartialTurn,
    AssistantTurn,
    AuthenticationError,
    BadRequestError,
    Chat,
    ConfigurationError,
    ConnectionCutError,
    Content,
    ContentImageRemote,
    ContentPDF,
    ContentText,
    ContentToolRequest,
    ContentToolResult,
    DeprecatedArgumentError,
    EllmerError,
    HTTPStatusError,
    MalformedResponseError,
    MissingCredentialsError,
    ModelLimitation,
    ModelLimitationError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitError,
    ServerError,
    StructuredOutputError,
    Turn,
    UserTurn,
    content_image_file,
    content_image_url,
    content_pdf_file,
    contents_record,
    contents_replay,
    modify_list,
    params,
    tool,
    type_array,
    type_boolean,
    type_enum,
    type_from_schema,
    type_integer,
    type_number,
    type_object,
    type_string,
)
from ellmer_py._params import STANDARD_PARAMS

from ._context import Context
from ._protocol import Answer, Media, ToolCall, Usage
from ._strategies import answers, byte_cuts, header_names, header_values, json_dicts, json_keys
from .fake_server import FakeServer, Reply

__all__ = [
    "CHECKS",
    "PROFILE",
    "check_api_args",
    "check_api_headers",
    "check_api_key",
    "check_async",
    "check_credentials",
    "check_errors",
    "check_images",
    "check_limitations",
    "check_params",
    "check_record_replay",
    "check_streaming",
    "check_structured",
    "check_tools",
]

#: The hypothesis settings profile every check runs under.
PROFILE = "ellmer_py.conformance"
settings.register_profile(
    PROFILE,
    deadline=None,
    max_examples=int(os.environ.get("ELLMER_PY_CONFORMANCE_EXAMPLES") or 20),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

_T = TypeVar("_T")
Check = Callable[[Context], None]
#: Every check by name, in the order of the results table.
CHECKS: dict[str, Check] = {}

_HELLO = "Hello"
_PLAIN = Answer(text_pieces=("Hi ", "there."), usage=Usage(input=12, output=3, cached=2))
_SYSTEM_PROMPT = "You are the ellmer-py conformance suite. Answer in one word."


def _profile() -> settings:
    """The settings for one hypothesis run (read when the check runs)."""
    return settings(settings.get_profile(PROFILE))


def _check(function: Callable[[Context], None]) -> Check:
    """Register a check; a retired provider gets the retirement check instead."""
    name = function.__name__.removeprefix("check_")

    @functools.wraps(function)
    def run(ctx: Context) -> None:
        if ctx.spec.retired is not None:
            _check_retired(ctx)
            return
        function(ctx)

    CHECKS[name] = run
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


# -- retired providers ----------------------------------------------------------


def _check_retired(ctx: Context) -> None:
    """A retired provider's constructor raises a ConfigurationError saying so."""
    reason = ctx.spec.retired or ""
    with ctx.server() as srv:
        for label, kwargs in (
            ("with no arguments", {}),
            (
                "pointed at a server",
                {**ctx.conformance_kwargs(srv), "credentials": ctx.credentials},
            ),
        ):
            try:
                ctx.spec.chat_function(**kwargs)
            except ConfigurationError as exc:
                message = str(exc)
                if not (reason and reason in message) and "retired" not in message.lower():
                    raise AssertionError(
                        f"{ctx.name} is retired, but its constructor's error ({label}) does not "
                        f"say so: {message!r}"
                    ) from None
            except Exception as exc:
                raise AssertionError(
                    f"{ctx.name} is retired: its constructor ({label}) should raise "
                    f"ConfigurationError saying so, not {type(exc).__name__}: {exc}"
                ) from None
            else:
                raise AssertionError(
                    f"{ctx.name} is declared retired, but its constructor ({label}) made a chat"
                )
        if srv.requests:
            raise AssertionError(f"{ctx.name} is retired but sent {len(srv.requests)} request(s)")
    ctx.note(f"retired: the constructor raises ConfigurationError: {reason}")


# -- api_args -------------------------------------------------------------------


@_check
def check_api_args(ctx: Context) -> None:
    """``api_args`` reach the body as ``modify_list(default_body, api_args)``.

    For arbitrary JSON-like dicts (keys drawn from the default body's own
    keys and a few others, so nested merges and ``None`` deletions happen),
    non-streamed; once more for a streamed request. The caller's dict is
    never changed. (R: ``api_args``, merged with ``modifyList()``.)
    """
    fake = ctx.fake
    with ctx.server() as srv:
        srv.default = fake.answer(_PLAIN)
        ctx.make_chat(srv).chat(_HELLO)
        default_body = srv.requests[-1].json
        if not isinstance(default_body, dict):
            raise AssertionError(f"the request body is not a JSON object: {_short(default_body)}")
        keys = st.sampled_from(sorted(default_body)) | json_keys
        nested = json_dicts(keys)

        @_profile()
        @given(api_args=nested)
        def law(api_args: dict[str, Any]) -> None:
            original = json.loads(json.dumps(api_args))
            before = len(srv.requests)
            ctx.make_chat(srv, api_args=api_args).chat(_HELLO)
            body = _last_request_json(srv, before)
            expected = modify_list(default_body, api_args)
            assert body == expected, (
                f"with api_args={_short(api_args)} the body is not "
                f"modify_list(default_body, api_args): {_diff(body, expected)}"
            )
            assert api_args == original, "the provider changed the caller's api_args dict"

        law()

        srv.default = fake.stream(_PLAIN)
        before = len(srv.requests)
        _send(ctx.make_chat(srv), stream=True)
        stream_body = _last_request_json(srv, before)
        api_args = {"conformance_extra": {"a": [1, 2]}, "model": None}
        before = len(srv.requests)
        _send(ctx.make_chat(srv, api_args=api_args), stream=True)
        body = _last_request_json(srv, before)
        expected = modify_list(stream_body, api_args)
        assert body == expected, (
            f"streamed, with api_args={api_args!r} the body is not "
            f"modify_list(default_body, api_args): {_diff(body, expected)}"
        )


# -- api_headers ------------------------------------------------------------------


def _casings(name: str) -> list[str]:
    return sorted({name, name.lower(), name.upper(), name.title(), name.swapcase()})


@_check
def check_api_headers(ctx: Context) -> None:
    """Arbitrary extra headers reach the server; none can override or remove authentication.

    Extra headers are any valid names (except framing headers such as
    Content-Length) with visible-ASCII values; overrides are the
    provider's own auth header (``Provider.auth_header``) in any case, with
    any value, including an empty one. (R: ``api_headers``.)
    """
    fake = ctx.fake
    with ctx.server() as srv:
        srv.default = fake.answer(_PLAIN)
        chat = ctx.make_chat(srv)
        chat.chat(_HELLO)
        auth_name = chat.get_provider().auth_header
        baseline = srv.requests[-1].headers
        auth_value = baseline.get(auth_name.lower())
        if auth_value is None or ctx.key not in auth_value:
            raise AssertionError(
                f"the credential did not arrive in the {auth_name} header "
                f"(Provider.auth_header); headers sent: {sorted(baseline)}"
            )
        extras = st.lists(
            st.tuples(header_names, header_values),
            max_size=5,
            unique_by=lambda item: item[0].lower(),
        ).map(lambda items: {k: v for k, v in items if k.lower() != auth_name.lower()})
        overrides = st.dictionaries(
            st.sampled_from(_casings(auth_name)), st.just("") | header_values, max_size=3
        )

        @_profile()
        @given(extra=extras, override=overrides)
        def law(extra: dict[str, str], override: dict[str, str]) -> None:
            before = len(srv.requests)
            ctx.make_chat(srv, api_headers={**extra, **override}).chat(_HELLO)
            _last_request_json(srv, before)
            got = srv.requests[before].headers
            for name, value in extra.items():
                assert got.get(name.lower()) == value, (
                    f"api_headers {name!r}: {value!r} arrived as {got.get(name.lower())!r}"
                )
            assert got.get(auth_name.lower()) == auth_value, (
                f"api_headers={_short(override)} changed the {auth_name} header: "
                "authentication must win over api_headers"
            )

        law()

        # Headers a credentials function returns win in the same way.
        headers = {"X-Conformance-Auth": f"dict-{ctx.key}"}
        before = len(srv.requests)
        ctx.make_chat(
            srv, credentials=lambda: headers, api_headers={"x-conformance-auth": "override"}
        ).chat(_HELLO)
        _last_request_json(srv, before)
        got = srv.requests[before].headers.get("x-conformance-auth")
        assert got == headers["X-Conformance-Auth"], (
            f"api_headers replaced a header the credentials function returned: {got!r}"
        )


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


def _error_text(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), *(str(a) for a in exc.args)])


@_check
def check_api_key(ctx: Context) -> None:
    """The deprecated ``api_key=`` is rejected with DeprecatedArgumentError for any string.

    The value never appears in the error (substrings of the fixed message
    text aside), with or without ``credentials=``, and nothing is sent.
    """
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


def _takes(function: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return True
    return name in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


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


# -- limitations ------------------------------------------------------------------


def conformance_probe(x: int) -> int:
    """Return x unchanged (the tool offered to check a declared "tools" limitation).

    Args:
        x: Any whole number.
    """
    return x


def _extract(chat: Chat, type_: Any, *, stream: bool) -> Any:
    """``chat_structured()``, streamed (echo into a throwaway buffer) or not."""
    if not stream:
        return chat.chat_structured(_HELLO, type=type_)
    with contextlib.redirect_stdout(io.StringIO()):
        return chat.chat_structured(_HELLO, type=type_, echo="output")


def _ask_with(*contents: Content) -> Callable[[Chat, bool], Any]:
    return lambda chat, stream: _send(chat, stream=stream, contents=contents)


def _ask_tools(chat: Chat, stream: bool) -> Any:
    chat.register_tool(tool(conformance_probe))
    return _send(chat, stream=stream)


def _ask_structured(chat: Chat, stream: bool) -> Any:
    return _extract(chat, type_object(answer=type_string()), stream=stream)


#: How to ask for each feature a ModelLimitation can take away: a description,
#: constructor keywords, and what to do with the chat (streamed or not).
_FEATURES: dict[str, tuple[str, dict[str, Any], Callable[[Chat, bool], Any]]] = {
    "system_prompt": ("a system prompt", {"system_prompt": _SYSTEM_PROMPT}, _ask_with()),
    "images": (
        "an image",
        {},
        _ask_with(ContentImageRemote("https://example.invalid/conformance.png")),
    ),
    "pdf": (
        "a PDF",
        {},
        _ask_with(ContentPDF(b"%PDF-1.4\n%conformance\n%%EOF\n", "conformance.pdf")),
    ),
    "tools": ("a registered tool", {}, _ask_tools),
    "structured_output": ("chat_structured()", {}, _ask_structured),
}


def _refuses(ctx: Context, srv: FakeServer, limitation: ModelLimitation, model: str) -> None:
    what, kwargs, ask = _FEATURES[limitation.feature]
    for stream in (False, True):
        how = "streamed" if stream else "not streamed"
        chat = ctx.make_chat(srv, model=model, **kwargs)
        before = len(srv.requests)
        # if a request does go out, it gets an ordinary answer
        srv.default = ctx.fake.stream(_PLAIN) if stream else ctx.fake.answer(_PLAIN)
        try:
            ask(chat, stream)
        except ModelLimitationError as exc:
            assert exc.feature == limitation.feature and exc.model == model, (
                f"ModelLimitationError for {model!r} names feature={exc.feature!r}, "
                f"model={exc.model!r}"
            )
        except Exception as exc:
            raise AssertionError(
                f"model {model!r} matches the declared limitation {limitation.pattern!r} "
                f"({limitation.feature}): a chat with {what} ({how}) raised "
                f"{type(exc).__name__} instead of ModelLimitationError: {exc}"
            ) from None
        else:
            raise AssertionError(
                f"model {model!r} matches the declared limitation {limitation.pattern!r} "
                f"({limitation.feature}), but a chat with {what} ({how}) was sent "
                "instead of raising ModelLimitationError"
            )
        assert len(srv.requests) == before, (
            f"model {model!r}: ModelLimitationError came after a request was sent; "
            "the refusal must happen before any request"
        )
        assert chat.get_turns() == [], "a refused chat recorded turns"


def _usable_model(ctx: Context, srv: FakeServer, feature: str) -> dict[str, Any] | None:
    """Keywords for a model that can do ``feature``; None when none can (noted).

    When the provider's default model (or the first model the suite tries)
    declares a limitation for it, its refusal is checked first, as the
    limitations check does.
    """
    default = ctx.candidate_models(srv)[0]
    limitation = ctx.limitation(feature, default)
    if limitation is not None:
        _refuses(ctx, srv, limitation, default)
    model = ctx.model_without(srv, feature)
    if model is None:
        ctx.note(
            f"{feature!r} is a declared limitation of every model: only the refusal "
            "(ModelLimitationError before any request) is checked"
        )
    elif limitation is not None:
        ctx.note(
            f"{feature!r} is a declared limitation of {default!r} (its refusal is checked); "
            f"the rest is checked with {model.get('model')!r}"
        )
    return model


def _regex_models(pattern: str) -> st.SearchStrategy[str] | None:
    try:
        models = st.from_regex(pattern, fullmatch=True)
        models.validate()
    except Exception:
        return None
    return models.filter(lambda m: bool(m) and m.isprintable() and m == m.strip())


@_check
def check_limitations(ctx: Context) -> None:
    """Declared model limitations refuse before any request; other models send the prompt.

    For every limitation (features ``system_prompt``, ``images``, ``pdf``,
    ``tools``: registering a tool, ``structured_output``:
    ``chat_structured()``), its ``example`` model and models generated from
    its pattern raise ModelLimitationError when asked for the feature,
    streamed or not, before anything is sent (registering a tool may
    refuse at once); with ``system_prompt_fallback="merge"`` a
    system prompt is folded into the user turn instead. A model without a
    system_prompt limitation sends the system prompt the way the protocol
    says.
    """
    fake = ctx.fake
    with ctx.server() as srv:
        srv.default = fake.answer(_PLAIN)
        for limitation in ctx.spec.limitations:
            if limitation.feature not in _FEATURES:
                ctx.note(
                    f"limitation {limitation.feature!r} on {limitation.pattern!r} not checked: "
                    f"the suite knows how to ask for {', '.join(_FEATURES)}"
                )
                continue
            if limitation.example is not None:
                assert limitation.matches(limitation.example), (
                    f"ModelLimitation(pattern={limitation.pattern!r}) example "
                    f"{limitation.example!r} does not match its own pattern"
                )
            models = _regex_models(limitation.pattern)
            if limitation.example is None and models is None:
                raise AssertionError(
                    f"cannot make a model matching {limitation.pattern!r}: give the "
                    "ModelLimitation an example= model id"
                )
            if limitation.example is not None:
                _refuses(ctx, srv, limitation, limitation.example)
                if limitation.feature == "system_prompt":
                    _merges(ctx, srv, limitation.example)
            if models is not None:

                @_profile()
                @given(model=models)
                def law(model: str) -> None:
                    _refuses(ctx, srv, limitation, model)  # noqa: B023 - called at once

                law()

        srv.default = fake.answer(_PLAIN)
        before = len(srv.requests)
        ctx.make_chat(srv, **ctx.unlimited_model(srv), system_prompt=_SYSTEM_PROMPT).chat(_HELLO)
        body = _last_request_json(srv, before)
        sent = fake.system_prompt(body)
        assert sent == _SYSTEM_PROMPT, (
            f"a model without declared limitations must send the system prompt as the "
            f"{ctx.spec.protocol} protocol says; it sent {_short(sent)}"
        )


def _merges(ctx: Context, srv: FakeServer, model: str) -> None:
    """With ``system_prompt_fallback="merge"`` the prompt goes in the user turn."""
    if not _takes(ctx.spec.chat_function, "system_prompt_fallback"):
        ctx.note("the constructor has no system_prompt_fallback=: merge not checked")
        return
    chat = ctx.make_chat(
        srv, model=model, system_prompt=_SYSTEM_PROMPT, system_prompt_fallback="merge"
    )
    srv.enqueue(ctx.fake.answer(_PLAIN))
    before = len(srv.requests)
    chat.chat(_HELLO)
    body = _last_request_json(srv, before)
    assert ctx.fake.system_prompt(body) is None, (
        f"system_prompt_fallback='merge' on {model!r} still sent a system prompt"
    )
    assert _SYSTEM_PROMPT in ctx.fake.user_text(body) and _HELLO in ctx.fake.user_text(body), (
        f"system_prompt_fallback='merge' on {model!r} did not fold the prompt into the user turn"
    )


# -- params -----------------------------------------------------------------------

#: One distinctive value per params() field, so each can be found in the body.
PARAM_VALUES: dict[str, Any] = {
    "temperature": 0.37,
    "top_p": 0.91,
    "top_k": 17,
    "frequency_penalty": 0.23,
    "presence_penalty": 0.41,
    "seed": 4242,
    "max_tokens": 321,
    "log_probs": True,
    "stop_sequences": ["STOP-one", "STOP-two"],
    "reasoning_effort": "low",
    "reasoning_tokens": 777,
}

_UNSUPPORTED = "Ignoring unsupported parameters"


def _contains(doc: Any, value: Any) -> bool:
    """Whether ``value`` occurs in ``doc`` (same type: True is not 1)."""
    if type(doc) is type(value) and doc == value:
        return True
    if isinstance(value, list) and value and all(_contains(doc, v) for v in value):
        return True
    if isinstance(doc, Mapping):
        return any(_contains(v, value) for v in doc.values())
    if isinstance(doc, list):
        return any(_contains(v, value) for v in doc)
    return False


def _named(field: str, message: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(field)}(?![A-Za-z0-9_])", message) is not None


@_check
def check_params(ctx: Context) -> None:
    """Every ``params()`` field is sent or reported, never silently dropped.

    For any set of fields: each is either in the body under some wire name
    (its value appears among the keys the params added or changed) or named
    in the one "Ignoring unsupported parameters" warning, not both; there is
    at most one such warning. (R: ``params()``, ``standardise_params()``.)
    """
    missing = [name for name in STANDARD_PARAMS if name not in PARAM_VALUES]
    if missing:
        raise AssertionError(f"the conformance suite has no test value for params({missing[0]}=)")
    fake = ctx.fake
    with ctx.server() as srv:
        srv.default = fake.answer(_PLAIN)
        ctx.make_chat(srv).chat(_HELLO)
        baseline = srv.requests[-1].json

        @_profile()
        @given(fields=st.sets(st.sampled_from(STANDARD_PARAMS), min_size=1))
        def law(fields: set[str]) -> None:
            given_params = {name: PARAM_VALUES[name] for name in sorted(fields)}
            before = len(srv.requests)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                ctx.make_chat(srv, params=params(**given_params)).chat(_HELLO)
            body = _last_request_json(srv, before)
            reports = [str(w.message) for w in caught if _UNSUPPORTED in str(w.message)]
            assert len(reports) <= 1, f"more than one unsupported-parameters warning: {reports}"
            report = reports[0] if reports else ""
            changed = {k: v for k, v in body.items() if k not in baseline or baseline[k] != v}
            for name in sorted(fields):
                sent = _contains(changed, PARAM_VALUES[name])
                named = _named(name, report)
                assert sent or named, (
                    f"params({name}={PARAM_VALUES[name]!r}) was silently dropped: not in the "
                    f"body and not in an {_UNSUPPORTED!r} warning (given: {sorted(fields)})"
                )
                assert not (sent and named), (
                    f"params({name}=...) is sent, but the warning says it is ignored: {report!r}"
                )
            stray = [n for n in STANDARD_PARAMS if n not in fields and _named(n, report)]
            assert not stray, f"the warning names parameters that were not given: {stray}"

        law()


# -- streaming == non-streaming ---------------------------------------------------


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


# -- errors -----------------------------------------------------------------------

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


# -- record / replay --------------------------------------------------------------


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


# -- tools ------------------------------------------------------------------------

#: Split a stream's bytes into HTTP chunks every few bytes (tool-call deltas land in pieces).
_SMALL_CUTS = tuple(range(11, 20_000, 11))

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


_TOOL_NAMES = ["conformance_add", "conformance_fail", "conformance_upper"]


@dataclasses.dataclass
class _Exchange:
    """One chat() / stream() with tools, and what the chat and the server saw."""

    chat: Chat
    text: str
    pieces: list[Any]
    log: _Log
    bodies: list[Any]
    requested: list[ContentToolRequest]
    results: list[ContentToolResult]
    warnings: list[str]


def _tool_exchange(
    ctx: Context,
    srv: FakeServer,
    model: Mapping[str, Any],
    answers: Sequence[Answer],
    *,
    stream: bool,
    content: str = "text",
    label: str,
) -> _Exchange:
    fake = ctx.fake
    log: _Log = []
    chat = ctx.make_chat(srv, **model)
    chat.register_tools(_conformance_tools(log))
    requested: list[ContentToolRequest] = []
    results: list[ContentToolResult] = []
    chat.on_tool_request(requested.append)
    chat.on_tool_result(results.append)
    for answer in answers:
        srv.enqueue(fake.stream(answer, _SMALL_CUTS) if stream else fake.answer(answer))
    before = len(srv.requests)
    how = f"stream(content={content!r})" if stream else "chat()"
    pieces: list[Any] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if stream:
                pieces = list(chat.stream(_HELLO, content=content))  # type: ignore[call-overload]
                text = "".join(
                    p if isinstance(p, str) else p.text
                    for p in pieces
                    if isinstance(p, (str, ContentText))
                )
            else:
                text = chat.chat(_HELLO)
        except Exception as exc:
            raise AssertionError(
                f"{label}: {how} raised {type(exc).__name__}: {exc} (a tool error must reach "
                "the model as an error result, not crash the chat)"
            ) from None
    bodies = [r.json for r in srv.requests[before:]]
    if len(bodies) != len(answers):
        raise AssertionError(
            f"{label}: {how} sent {len(bodies)} request(s), expected {len(answers)} (the tool "
            "loop sends the results back until the model answers in text)"
        )
    return _Exchange(
        chat,
        text,
        pieces,
        log,
        bodies,
        requested,
        results,
        [str(w.message) for w in caught],
    )


def _check_offered(ctx: Context, label: str, body: Any) -> None:
    offered = ctx.fake.tools_offered(body)
    assert sorted(offered) == _TOOL_NAMES, (
        f"{label}: the request offers the tools {sorted(offered)}, expected {_TOOL_NAMES}"
    )
    add = offered["conformance_add"]
    parameters = add.get("parameters")
    properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
    described = {
        name: (prop.get("type"), prop.get("description"))
        for name, prop in (properties or {}).items()
        if isinstance(prop, Mapping)
    }
    assert add.get("description") == "Add two whole numbers." and described == {
        "a": ("integer", "The first number."),
        "b": ("integer", "The second number."),
    }, f"{label}: conformance_add(a: int, b: int) is offered as {_short(add, 400)}"
    required = parameters.get("required") if isinstance(parameters, Mapping) else None
    assert isinstance(required, list) and {"a", "b"} <= set(required), (
        f"{label}: conformance_add's arguments a and b are not required: {_short(parameters)}"
    )


def _calls(calls: Sequence[ToolCall]) -> list[tuple[str, str, Any]]:
    return [(c.id, c.name, c.arguments) for c in calls]


def _requests(calls: Sequence[ToolCall]) -> tuple[ContentToolRequest, ...]:
    return tuple(ContentToolRequest(c.id, c.name, c.arguments) for c in calls)


def _check_turns(label: str, chat: Chat, expected: Sequence[Turn]) -> None:
    turns = chat.get_turns()
    got = [(type(t).__name__, t.contents) for t in turns]
    want = [(type(t).__name__, t.contents) for t in expected]
    assert got == want, f"{label}: the turns are {_short(got, 800)}, expected {_short(want, 800)}"


def _one_call(ctx: Context, srv: FakeServer, model: Mapping[str, Any]) -> None:
    """The model asks for one tool; it runs; the result goes back; the text is returned."""
    call = ToolCall(
        "call_conformance_1",
        "conformance_add",
        {"a": 2, "b": 40},
        pieces=('{"a": 2', ', "b": ', "40}"),
    )
    first = Answer(
        text_pieces=("Let me ", "add that."),
        tool_calls=(call,),
        finish_reason="tool_calls",
        usage=Usage(input=30, output=9),
    )
    last = Answer(text_pieces=("The sum ", "is 42."), usage=Usage(input=50, output=5))
    result = ContentToolResult(call.id, value=42)
    expected: list[Turn] = [
        UserTurn(_HELLO),
        AssistantTurn((ContentText(first.text), *_requests([call]))),
        UserTurn((result,)),
        AssistantTurn(last.text),
    ]
    seen: list[list[Turn]] = []
    for stream in (False, True):
        label = f"one tool call ({'streamed' if stream else 'not streamed'})"
        ex = _tool_exchange(
            ctx, srv, model, [first, last], stream=stream, content="all", label=label
        )
        _check_offered(ctx, f"{label}, first request", ex.bodies[0])
        assert ex.log == [("conformance_add", {"a": 2, "b": 40})], (
            f"{label}: the tool ran as {ex.log}, expected conformance_add(a=2, b=40) once"
        )
        assert ex.requested == list(_requests([call])) and ex.results == [result], (
            f"{label}: on_tool_request / on_tool_result saw {ex.requested} / {ex.results}"
        )
        sent_calls = _calls(ctx.fake.tool_calls_sent(ex.bodies[1]))
        assert sent_calls == _calls([call]), (
            f"{label}: the second request sends back the tool calls {sent_calls}, expected "
            f"{_calls([call])}"
        )
        sent = ctx.fake.tool_results_sent(ex.bodies[1])
        assert sent == [(call.id, "42")], (
            f"{label}: the second request sends the tool results {sent}, expected "
            f"[({call.id!r}, '42')] (the result, with the id of the call it answers)"
        )
        _check_offered(ctx, f"{label}, second request", ex.bodies[1])
        if stream:
            others = [p for p in ex.pieces if not isinstance(p, ContentText)]
            assert others == [*_requests([call]), result], (
                f"{label}: stream(content='all') yielded {_short(others, 400)} besides text, "
                "expected the ContentToolRequest then its ContentToolResult"
            )
            at = ex.pieces.index(others[0])
            before = "".join(p.text for p in ex.pieces[:at] if isinstance(p, ContentText))
            assert before == first.text and ex.text.replace("\n", "") == first.text + last.text, (
                f"{label}: stream(content='all') text is {ex.text!r} ({before!r} before the "
                f"tool call), expected {first.text!r} then {last.text!r}"
            )
        else:
            assert ex.text == last.text, f"{label}: chat() returned {ex.text!r}, not {last.text!r}"
        _check_turns(label, ex.chat, expected)
        seen.append(ex.chat.get_turns())
    assert seen[0] == seen[1], (
        f"one tool call: streamed turns differ from non-streamed ones: {_short(seen[1], 600)} != "
        f"{_short(seen[0], 600)}"
    )


def _parallel_calls(ctx: Context, srv: FakeServer, model: Mapping[str, Any]) -> None:
    """Two calls in one answer: both run, in order; both results go back."""
    calls = (
        ToolCall(
            "call_conformance_a",
            "conformance_add",
            {"a": 1, "b": 2},
            pieces=('{"a"', ': 1, "b": 2}'),
        ),
        ToolCall(
            "call_conformance_b",
            "conformance_upper",
            {"text": "ellmer"},
            pieces=('{"text": "ell', 'mer"}'),
        ),
    )
    first = Answer(tool_calls=calls, finish_reason="tool_calls", usage=Usage(input=20, output=7))
    last = Answer(text_pieces=("3 and ", "ELLMER."), usage=Usage(input=40, output=3))
    results = (
        ContentToolResult("call_conformance_a", value=3),
        ContentToolResult("call_conformance_b", value="ELLMER"),
    )
    for stream in (False, True):
        label = f"parallel tool calls ({'streamed' if stream else 'not streamed'})"
        ex = _tool_exchange(ctx, srv, model, [first, last], stream=stream, label=label)
        assert ex.log == [
            ("conformance_add", {"a": 1, "b": 2}),
            ("conformance_upper", {"text": "ellmer"}),
        ], f"{label}: the tools ran as {ex.log}, expected conformance_add then conformance_upper"
        sent_calls = _calls(ctx.fake.tool_calls_sent(ex.bodies[1]))
        assert sent_calls == _calls(calls), (
            f"{label}: the second request sends back the tool calls {sent_calls}"
        )
        sent = ctx.fake.tool_results_sent(ex.bodies[1])
        assert sent == [("call_conformance_a", "3"), ("call_conformance_b", "ELLMER")], (
            f"{label}: the second request sends the tool results {sent}, expected both, each "
            "with the id of its call"
        )
        assert ex.text == last.text, f"{label}: the answer is {ex.text!r}, not {last.text!r}"
        _check_turns(
            label,
            ex.chat,
            [
                UserTurn(_HELLO),
                AssistantTurn(_requests(calls)),
                UserTurn(results),
                AssistantTurn(last.text),
            ],
        )


def _tool_errors(ctx: Context, srv: FakeServer, model: Mapping[str, Any]) -> None:
    """A tool that raises, an unknown tool, bad arguments: error results, no crash."""
    calls = (
        ToolCall("call_conformance_raises", "conformance_fail", {"reason": "on purpose"}),
        ToolCall("call_conformance_unknown", "conformance_missing", {"x": 1}),
        ToolCall("call_conformance_bad_args", "conformance_add", {"a": "two", "b": 2}),
        ToolCall(
            "call_conformance_bad_json",
            "conformance_add",
            raw_arguments='{"a": 1, "b":',
            pieces=('{"a": 1', ', "b":'),
        ),
    )
    first = Answer(tool_calls=calls, finish_reason="tool_calls", usage=Usage(input=20, output=9))
    last = Answer(text_pieces=("Sorry, ", "the tools failed."), usage=Usage(input=60, output=4))
    for stream in (False, True):
        label = f"tool errors ({'streamed' if stream else 'not streamed'})"
        ex = _tool_exchange(ctx, srv, model, [first, last], stream=stream, label=label)
        assert ex.text == last.text, f"{label}: the answer is {ex.text!r}, not {last.text!r}"
        assert ex.log == [("conformance_fail", {"reason": "on purpose"})], (
            f"{label}: the tools ran as {ex.log}; only conformance_fail should have run (the "
            "others had an unknown name or unusable arguments)"
        )
        turns = ex.chat.get_turns()
        got = turns[2].contents if len(turns) == 4 else ()
        ids = [getattr(r, "id", None) for r in got]
        assert ids == [c.id for c in calls] and all(
            isinstance(r, ContentToolResult) and r.value is None and r.error for r in got
        ), f"{label}: expected an error result for each of the 4 calls, got {_short(got, 600)}"
        errors = [r.error or "" for r in got if isinstance(r, ContentToolResult)]
        assert "conformance tool failure: on purpose" in errors[0], (
            f"{label}: the error result of a tool that raised does not say why: {errors[0]!r}"
        )
        assert "conformance_missing" in errors[1], (
            f"{label}: the error result for an unknown tool does not name it: {errors[1]!r}"
        )
        sent = ctx.fake.tool_results_sent(ex.bodies[1])
        assert [i for i, _ in sent] == [c.id for c in calls], (
            f"{label}: the second request sends results for {[i for i, _ in sent]}, expected "
            f"{[c.id for c in calls]}"
        )
        for (call_id, text), error in zip(sent, errors, strict=True):
            assert error in text, (
                f"{label}: the result sent for {call_id} does not carry its error {error!r}: "
                f"{text!r}"
            )
        failed = [w for w in ex.warnings if "Failed to evaluate 4 tool calls" in w]
        assert len(failed) == 1, (
            f"{label}: expected one warning 'Failed to evaluate 4 tool calls', got {ex.warnings}"
        )


@_check
def check_tools(ctx: Context) -> None:
    """Tools: one call, parallel calls and tool errors, streamed and not.

    The model asks for a registered tool: the request offered it (name,
    description, argument types); it runs with the arguments; the result
    goes back with the id of its call, and the model's tool calls in the
    history; the final text is returned and the four turns are recorded in
    order, the same streamed (tool-call deltas split across chunks) and
    not; ``on_tool_request`` / ``on_tool_result`` see each call, and
    ``stream(content="all")`` yields the request then its result. Two calls
    in one answer both run and both results go back. A tool that raises,
    an unknown tool, arguments of the wrong type and arguments that are not
    JSON give the model error results and one warning, never a crash. A
    model with a declared ``tools`` limitation refuses before any request.
    (R: ``tool()``, ``$register_tool()``, the tool loop of ``$chat()``.)
    """
    with ctx.server() as srv:
        model = _usable_model(ctx, srv, "tools")
        if model is None:
            return
        _one_call(ctx, srv, model)
        _parallel_calls(ctx, srv, model)
        _tool_errors(ctx, srv, model)


# -- structured output ------------------------------------------------------------


@dataclasses.dataclass
class ConformancePerson:
    """A person the conformance suite extracts.

    Args:
        name: The person's name.
        age: The age in years.
    """

    name: str
    age: int


@dataclasses.dataclass(frozen=True)
class _Case:
    """One type for chat_structured(): its JSON schema, an answer that fits, one that does not."""

    label: str
    type: Any
    schema: dict[str, Any]
    value: Any
    result: Any
    misfit: Any


_FROM_SCHEMA = {
    "type": "object",
    "properties": {"x": {"type": "number", "description": "A number."}},
    "required": ["x"],
    "additionalProperties": False,
}
_PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def _structured_cases() -> list[_Case]:
    person = {
        **_PERSON,
        "description": "A person the conformance suite extracts.",
        "properties": {
            "name": {"type": "string", "description": "The person's name."},
            "age": {"type": "integer", "description": "The age in years."},
        },
    }
    ada = {"name": "Ada", "age": 36}
    return [
        _Case("type_boolean()", type_boolean(), {"type": "boolean"}, True, True, "yes"),
        _Case("type_integer()", type_integer(), {"type": "integer"}, 42, 42, 4.5),
        _Case("type_number()", type_number(), {"type": "number"}, 2.5, 2.5, "2.5"),
        _Case(
            "type_string('A word.')",
            type_string("A word."),
            {"type": "string", "description": "A word."},
            "ellmer",
            "ellmer",
            7,
        ),
        _Case(
            "type_enum(['red', 'green'])",
            type_enum(["red", "green"]),
            {"type": "string", "enum": ["red", "green"]},
            "green",
            "green",
            "blue",
        ),
        _Case(
            "type_array(type_integer())",
            type_array(type_integer()),
            {"type": "array", "items": {"type": "integer"}},
            [1, 2, 3],
            [1, 2, 3],
            [1, "two"],
        ),
        _Case(
            "type_object(name=type_string(), age=type_integer())",
            type_object(name=type_string(), age=type_integer()),
            _PERSON,
            ada,
            ada,
            {"name": "Ada"},
        ),
        _Case(
            "type_from_schema(...)",
            type_from_schema(json.dumps(_FROM_SCHEMA)),
            _FROM_SCHEMA,
            {"x": 1.5},
            {"x": 1.5},
            {"x": "no"},
        ),
        _Case(
            "a dataclass",
            ConformancePerson,
            person,
            ada,
            ConformancePerson("Ada", 36),
            {"name": "Ada", "age": "old"},
        ),
    ]


def _plain_schema(schema: Any) -> Any:
    """The schema without empty descriptions (ellmer sends ``"description": ""``)."""
    if isinstance(schema, Mapping):
        return {
            k: _plain_schema(v) for k, v in schema.items() if not (k == "description" and v == "")
        }
    if isinstance(schema, list):
        return [_plain_schema(v) for v in schema]
    return schema


def _wrapper(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"wrapper": schema},
        "required": ["wrapper"],
        "additionalProperties": False,
    }


def _answer_with(text: str, finish_reason: str = "stop") -> Answer:
    half = len(text) // 2
    return Answer(
        text_pieces=(text[:half], text[half:]),
        finish_reason=finish_reason,
        usage=Usage(input=9, output=4),
    )


def _structured_case(
    ctx: Context, srv: FakeServer, model: Mapping[str, Any], case: _Case, *, stream: bool
) -> None:
    fake = ctx.fake
    how = "streamed" if stream else "not streamed"
    label = f"chat_structured(type={case.label}) ({how})"
    wrapped = fake.needs_wrapper(case.schema)
    expected = _wrapper(case.schema) if wrapped else case.schema

    def data(value: Any) -> Any:
        return {"wrapper": value} if wrapped else value

    def reply(answer: Answer) -> Reply:
        return fake.stream(answer) if stream else fake.answer(answer)

    chat = ctx.make_chat(srv, **model)
    srv.enqueue(reply(_answer_with(json.dumps(data(case.value)))))
    before = len(srv.requests)
    try:
        got = _extract(chat, case.type, stream=stream)
    except Exception as exc:
        raise AssertionError(
            f"{label} raised {type(exc).__name__} for an answer that fits: {exc}"
        ) from None
    sent = fake.structured_schema(_last_request_json(srv, before))
    if sent is None:
        raise AssertionError(f"{label}: the request does not ask for structured output")
    assert _plain_schema(sent) == expected, (
        f"{label}: the request asks for the schema {_short(sent, 500)}, expected "
        f"{_short(expected, 500)} ({'wrapped in an object' if wrapped else 'not wrapped'})"
    )
    assert got == case.result and type(got) is type(case.result), (
        f"{label}: the answer {json.dumps(data(case.value))} gave {got!r}, expected "
        f"{case.result!r}" + (" (unwrapped)" if wrapped else "")
    )
    assert len(chat.get_turns()) == 2, f"{label}: expected 2 turns, got {chat.get_turns()}"

    chat = ctx.make_chat(srv, **model)
    srv.enqueue(reply(_answer_with(json.dumps(data(case.misfit)))))
    try:
        got = _extract(chat, case.type, stream=stream)
    except StructuredOutputError:
        pass
    except Exception as exc:
        raise AssertionError(
            f"{label}: an answer that does not fit raised {type(exc).__name__}, expected "
            f"StructuredOutputError: {exc}"
        ) from None
    else:
        raise AssertionError(
            f"{label}: the answer {json.dumps(data(case.misfit))} does not fit the type, but "
            f"gave {got!r} instead of raising StructuredOutputError"
        )
    assert len(chat.get_turns()) == 2, f"{label}: a rejected answer must still be recorded"


@_check
def check_structured(ctx: Context) -> None:
    """Structured output for every ``type_*()`` and a dataclass, streamed and not.

    The request asks for the type's JSON schema the way the protocol says
    (OpenAI: ``response_format`` ``json_schema``), wrapped in an object
    where the protocol wraps it (OpenAI: every non-object type) and
    unwrapped in the result; an answer that fits gives the value (a
    dataclass instance for a dataclass); one that does not fit, one that
    is not JSON, and one cut off (finish reason ``length``) raise
    StructuredOutputError, with the turns recorded. A model with a declared
    ``structured_output`` limitation refuses before any request.
    (R: ``$chat_structured()``, ``type_*()``.)
    """
    fake = ctx.fake
    with ctx.server() as srv:
        model = _usable_model(ctx, srv, "structured_output")
        if model is None:
            return
        cases = _structured_cases()
        for case in cases:
            for stream in (False, True):
                _structured_case(ctx, srv, model, case, stream=stream)
        person = cases[-1]
        text = json.dumps(person.value)
        for what, answer, needle in (
            (
                "a cut-off answer (finish reason length)",
                _answer_with(text[:12], "length"),
                "cut off",
            ),
            ("an answer that is not JSON", _answer_with("I would rather not say."), "not JSON"),
        ):
            for stream in (False, True):
                how = "streamed" if stream else "not streamed"
                chat = ctx.make_chat(srv, **model)
                srv.enqueue(fake.stream(answer) if stream else fake.answer(answer))
                try:
                    _extract(chat, person.type, stream=stream)
                except StructuredOutputError as exc:
                    assert needle in str(exc), (
                        f"{what} ({how}): the StructuredOutputError does not say {needle!r}: {exc}"
                    )
                except Exception as exc:
                    raise AssertionError(
                        f"{what} ({how}) raised {type(exc).__name__}, expected "
                        f"StructuredOutputError: {exc}"
                    ) from None
                else:
                    raise AssertionError(f"{what} ({how}) raised no StructuredOutputError")
                assert len(chat.get_turns()) == 2, f"{what} ({how}): the turns were not recorded"


# -- images and PDFs --------------------------------------------------------------

#: The first bytes of a PNG file (all content_image_file() looks at), then some more.
_PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR-conformance"
_PDF = b"%PDF-1.4\n%conformance suite\n%%EOF\n"
_IMAGE_URL = "https://example.invalid/conformance/cat.png"


@_check
def check_images(ctx: Context) -> None:
    """Images and PDFs reach the server in the protocol's shape, streamed and not.

    ``content_image_url()`` (sent as a URL), ``content_image_file()`` (inline,
    with its type) and ``content_pdf_file()`` (inline, with its file name) go
    with the text in the user message, exactly as given, and the user turn
    keeps them. A model with a declared ``images`` or ``pdf`` limitation
    refuses before any request instead. (R: ``content_image_url()``,
    ``content_image_file()``, ``content_pdf_file()``.)
    """
    fake = ctx.fake
    with ctx.server() as srv, tempfile.TemporaryDirectory(prefix="ellmer-conformance-") as tmp:
        png = Path(tmp, "conformance.png")
        png.write_bytes(_PNG)
        pdf = Path(tmp, "conformance.pdf")
        pdf.write_bytes(_PDF)
        cases: list[tuple[str, tuple[Content, ...], list[Media]]] = [
            (
                "images",
                (content_image_url(_IMAGE_URL), content_image_file(png)),
                [Media("image_url", _IMAGE_URL), Media("image", _PNG, mime="image/png")],
            ),
            ("pdf", (content_pdf_file(pdf),), [Media("pdf", _PDF, filename="conformance.pdf")]),
        ]
        for feature, contents, expected in cases:
            model = _usable_model(ctx, srv, feature)
            if model is None:
                continue
            for stream in (False, True):
                label = f"{feature} ({'streamed' if stream else 'not streamed'})"
                chat = ctx.make_chat(srv, **model)
                srv.enqueue(fake.stream(_PLAIN) if stream else fake.answer(_PLAIN))
                before = len(srv.requests)
                _send(chat, stream=stream, contents=contents)
                body = _last_request_json(srv, before)
                got = fake.media(body)
                assert got == expected, (
                    f"{label}: the request carries {_short(got, 400)}, expected "
                    f"{_short(expected, 400)}"
                )
                assert _HELLO in fake.user_text(body), f"{label}: the text of the turn was lost"
                turns = chat.get_turns()
                assert turns and turns[0].contents == (ContentText(_HELLO), *contents), (
                    f"{label}: the user turn is {_short(turns[:1])}"
                )


# -- async --------------------------------------------------------------------------


def _run_async(make: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine on a fresh event loop in its own thread (a caller's loop may be running)."""
    out: dict[str, Any] = {}

    async def main() -> _T:
        return await make()

    def target() -> None:
        try:
            out["value"] = asyncio.run(main())
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=target, name="ellmer-py-conformance-async")
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    value: _T = out["value"]
    return value


async def _collect(chat: Chat) -> list[str]:
    return [piece async for piece in chat.stream_async(_HELLO)]


@_check
def check_async(ctx: Context) -> None:
    """``chat_async()`` and ``stream_async()`` give what ``chat()`` and ``stream()`` give.

    The same text and equal turns for the same scripted answer (and for a
    tool call, when the model can take tools); cancelling the task reading
    ``stream_async()`` returns at once and leaves the user turn and an
    ``AssistantPartialTurn`` with what arrived. (R: ``$chat_async()``,
    ``$stream_async()``.)
    """
    fake = ctx.fake
    with ctx.server() as srv:
        srv.enqueue(fake.answer(_PLAIN), fake.answer(_PLAIN))
        sync, other = ctx.make_chat(srv), ctx.make_chat(srv)
        text = sync.chat(_HELLO)
        got = _run_async(lambda: other.chat_async(_HELLO))
        assert got == text, f"chat_async() returned {got!r}, chat() {text!r}"
        assert other.get_turns() == sync.get_turns(), (
            f"chat_async() recorded {_short(other.get_turns(), 500)}, chat() "
            f"{_short(sync.get_turns(), 500)}"
        )

        cuts = [3, 60, 61, 250]
        srv.enqueue(fake.stream(_PLAIN, cuts), fake.stream(_PLAIN, cuts))
        sync, other = ctx.make_chat(srv), ctx.make_chat(srv)
        pieces = list(sync.stream(_HELLO))
        async_pieces = _run_async(lambda: _collect(other))
        assert "".join(async_pieces) == "".join(pieces) == _PLAIN.text, (
            f"stream_async() yielded {async_pieces!r}, stream() {pieces!r}"
        )
        assert other.get_turns() == sync.get_turns(), (
            f"stream_async() recorded {_short(other.get_turns(), 500)}, stream() "
            f"{_short(sync.get_turns(), 500)}"
        )

        model = ctx.model_without(srv, "tools")
        if model is None:
            ctx.note("no model takes tools: the tool loop is not checked through chat_async()")
        else:
            call = ToolCall("call_conformance_async", "conformance_add", {"a": 20, "b": 22})
            first = Answer(tool_calls=(call,), finish_reason="tool_calls")
            last = Answer(text_pieces=("42",))
            chats = []
            for run_async in (False, True):
                log: _Log = []
                chat = ctx.make_chat(srv, **model)
                chat.register_tools(_conformance_tools(log))
                srv.enqueue(fake.answer(first), fake.answer(last))
                if run_async:
                    out = _run_async(functools.partial(chat.chat_async, _HELLO))
                else:
                    out = chat.chat(_HELLO)
                assert out == "42" and log == [("conformance_add", {"a": 20, "b": 22})], (
                    f"a tool call through {'chat_async' if run_async else 'chat'}(): the answer "
                    f"is {out!r}, the tool ran as {log}"
                )
                chats.append(chat)
            assert chats[1].get_turns() == chats[0].get_turns(), (
                "a tool call through chat_async() recorded other turns than chat(): "
                f"{_short(chats[1].get_turns(), 600)} != {_short(chats[0].get_turns(), 600)}"
            )

        _cancel_stream_async(ctx, srv)


def _cancel_stream_async(ctx: Context, srv: FakeServer) -> None:
    answer = Answer(text_pieces=("First piece. ", "Never seen."))
    srv.enqueue(ctx.fake.stalled_stream(answer, 60.0))
    chat = ctx.make_chat(srv)

    async def cancel() -> tuple[list[str], float]:
        got: list[str] = []
        first = asyncio.Event()

        async def read() -> None:
            async for piece in chat.stream_async(_HELLO):
                got.append(piece)
                first.set()

        task = asyncio.create_task(read())
        try:
            await asyncio.wait_for(first.wait(), ctx.timeout_s)
        except asyncio.TimeoutError:
            task.cancel()
            raise AssertionError(
                f"stream_async() yielded nothing within {ctx.timeout_s} s; the first piece "
                "was sent at once"
            ) from None
        start = time.monotonic()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return got, time.monotonic() - start

    got, seconds = _run_async(cancel)
    assert "".join(got) == "First piece. ", f"stream_async() yielded {got!r} before the stall"
    assert seconds < 5.0, (
        f"cancelling stream_async() took {seconds:.1f} s: it must close the connection at once"
    )
    turns = chat.get_turns()
    assert (
        len(turns) == 2
        and turns[0] == UserTurn(_HELLO)
        and isinstance(turns[1], AssistantPartialTurn)
        and turns[1].text == "First piece. "
    ), (
        "cancelling stream_async() must leave the user turn and an AssistantPartialTurn with "
        f"what arrived; the turns are {_short(turns, 500)}"
    )
