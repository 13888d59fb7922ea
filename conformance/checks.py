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

import contextlib
import functools
import inspect
import json
import os
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

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
    contents_record,
    contents_replay,
    modify_list,
    params,
)
from ellmer_py._params import STANDARD_PARAMS

from ._context import Context
from ._protocol import Answer, Usage
from ._strategies import answers, byte_cuts, header_names, header_values, json_dicts, json_keys
from .fake_server import FakeServer, Reply

__all__ = [
    "CHECKS",
    "PROFILE",
    "check_api_args",
    "check_api_headers",
    "check_api_key",
    "check_credentials",
    "check_errors",
    "check_limitations",
    "check_params",
    "check_record_replay",
    "check_streaming",
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


#: How to ask for each feature a ModelLimitation can take away: a description,
#: constructor keywords and contents added to the user turn.
_FEATURES: dict[str, tuple[str, dict[str, Any], tuple[Content, ...]]] = {
    "system_prompt": ("a system prompt", {"system_prompt": _SYSTEM_PROMPT}, ()),
    "images": ("an image", {}, (ContentImageRemote("https://example.invalid/conformance.png"),)),
    "pdf": ("a PDF", {}, (ContentPDF(b"%PDF-1.4\n%conformance\n%%EOF\n", "conformance.pdf"),)),
}


def _refuses(ctx: Context, srv: FakeServer, limitation: ModelLimitation, model: str) -> None:
    what, kwargs, contents = _FEATURES[limitation.feature]
    for stream in (False, True):
        how = "streamed" if stream else "not streamed"
        chat = ctx.make_chat(srv, model=model, **kwargs)
        before = len(srv.requests)
        # if a request does go out, it gets an ordinary answer
        srv.default = ctx.fake.stream(_PLAIN) if stream else ctx.fake.answer(_PLAIN)
        try:
            _send(chat, stream=stream, contents=contents)
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

    For every limitation (features ``system_prompt``, ``images``, ``pdf``),
    its ``example`` model and models generated from its pattern raise
    ModelLimitationError when asked for the feature, streamed or not,
    before anything is sent; with ``system_prompt_fallback="merge"`` a
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

    Over arbitrary answers (text, reasoning, a tool call, usage) and
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


def check_names() -> list[str]:
    """The names of every check, in table order."""
    return list(CHECKS)
