"""``api_args`` and ``api_headers``: what the caller adds reaches the request."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ellmer_py import modify_list

from .._context import Context
from .._strategies import header_names, header_values, json_dicts, json_keys
from ._common import _HELLO, _PLAIN, _check, _diff, _last_request_json, _profile, _send, _short

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
