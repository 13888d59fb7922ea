"""AWS SigV4: a signing protocol's requests all arrive signed, and the server verifies them."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any, Protocol, cast
from urllib.parse import unquote

from ellmer_py import AuthenticationError, Chat, EllmerError
from ellmer_py._sigv4 import AwsCredentials

from .._context import Context
from .._protocol import Answer, ProtocolFake, ToolCall, Usage
from ..fake_server import FakeServer, RecordedRequest, Reply, Responder
from ._common import _HELLO, _PLAIN, _check, _conformance_tools, _error_text, _Log, _short

#: A model id with a ``:`` (``%3A`` on the wire, ``%253A`` in the canonical URI) and an
#: inference-profile ARN (its ``/`` must be sent as ``%2F``, inside one path segment).
_MODELS = (
    "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/conformance1",
)
_MISMATCH = "The request signature we calculated does not match"


class _SigningFake(Protocol):
    """What the check needs of a fake whose protocol signs requests (``bedrock.BedrockFake``)."""

    signing: str

    def signed(
        self, reply: Responder, secrets: Mapping[str, str], *, verdicts: list[Any] | None = None
    ) -> Callable[[RecordedRequest], Reply]:
        """``reply`` for requests that pass the signature check; each verdict recorded."""
        ...


def _exchange(label: str, verdicts: list[Any], run: Callable[[], object]) -> None:
    """Run one exchange; a failure says what the server thought of the last request."""
    before = len(verdicts)
    try:
        run()
    except EllmerError as exc:
        refused = [v for v in verdicts[before:] if not v.ok]
        why = f" (the server refused it: {refused[-1].reason})" if refused else ""
        raise AssertionError(f"{label} failed with {type(exc).__name__}: {exc}{why}") from None


def _signed_exchanges(
    ctx: Context,
    srv: FakeServer,
    fake: _SigningFake,
    plain: ProtocolFake,
    model: str,
    credentials: AwsCredentials,
    keys: Mapping[str, str],
    verdicts: list[Any],
) -> None:
    """A plain chat, a streamed one and a tool round trip, every reply behind the check."""

    def signed(reply: Reply) -> Callable[[RecordedRequest], Reply]:
        return fake.signed(reply, keys, verdicts=verdicts)

    chat = ctx.make_chat(srv, model=model, credentials=lambda: credentials)
    srv.enqueue(signed(plain.answer(_PLAIN)))
    _exchange(f"model={model!r}: a chat", verdicts, lambda: chat.chat(_HELLO))
    srv.enqueue(signed(plain.stream(_PLAIN)))
    _exchange(f"model={model!r}: a stream", verdicts, lambda: "".join(chat.stream(_HELLO)))

    log: _Log = []
    chat = ctx.make_chat(srv, model=model, credentials=lambda: credentials)
    chat.register_tools(_conformance_tools(log))
    call = ToolCall("tooluse_conformance_sigv4", "conformance_add", {"a": 2, "b": 3})
    calling = Answer(tool_calls=(call,), finish_reason="tool_calls", usage=Usage(10, 5))
    srv.enqueue(signed(plain.answer(calling)), signed(plain.answer(_PLAIN)))
    _exchange(f"model={model!r}: a tool round trip", verdicts, lambda: chat.chat(_HELLO))
    assert log == [("conformance_add", {"a": 2, "b": 3})], (
        f"model={model!r}: the tool round trip ran {log}, expected conformance_add(a=2, b=3)"
    )


def _check_verdicts(
    srv: FakeServer, verdicts: list[Any], key_id: str, token: str, secret: str
) -> None:
    requests = srv.requests
    assert len(verdicts) == len(requests), (
        f"the server got {len(requests)} request(s) but checked {len(verdicts)} signature(s)"
    )
    for request, verdict in zip(requests, verdicts, strict=True):
        where = f"{request.method} {request.path}"
        assert verdict.scheme == "sigv4", (
            f"{where} arrived without an AWS4-HMAC-SHA256 Authorization ({verdict.scheme}), "
            "though the credentials function returned AwsCredentials"
        )
        assert verdict.ok, f"{where}: the SigV4 signature does not verify: {verdict.reason}"
        assert verdict.access_key_id == key_id, (
            f"{where} is signed with the access key id {verdict.access_key_id!r}, not {key_id!r}"
        )
        assert verdict.session_token == token, (
            f"{where}: X-Amz-Security-Token is {verdict.session_token!r}, expected the session "
            "token of the credentials"
        )
        assert "x-amz-security-token" in verdict.signed_headers, (
            f"{where}: the X-Amz-Security-Token is sent but not signed "
            f"(SignedHeaders={';'.join(verdict.signed_headers)})"
        )
        sent = request.body.decode("utf-8", "replace") + repr(request.headers)
        assert secret not in sent, f"{where}: the secret access key was sent"


def _check_model_in_path(srv: FakeServer, model: str, before: int) -> None:
    for request in srv.requests[before:]:
        segments = request.path.partition("?")[0].split("/")
        assert any(unquote(s) == model for s in segments), (
            f"{request.method} {request.path}: no path segment is the model id {model!r} "
            "percent-encoded (an ARN's '/' must be sent as %2F)"
        )


def _check_wrong_secret(
    ctx: Context,
    srv: FakeServer,
    fake: _SigningFake,
    plain: ProtocolFake,
    keys: Mapping[str, str],
    credentials: AwsCredentials,
) -> None:
    verdicts: list[Any] = []
    chat: Chat = ctx.make_chat(srv, model=_MODELS[0], credentials=lambda: credentials)
    srv.enqueue(fake.signed(plain.answer(_PLAIN), keys, verdicts=verdicts))
    try:
        chat.chat(_HELLO)
    except AuthenticationError as exc:
        text = _error_text(exc)
        assert _MISMATCH in str(exc), (
            f"a wrong secret: the AuthenticationError does not give the server's message "
            f"{_MISMATCH!r}...: {exc}"
        )
        for name, value in (
            ("secret access key", credentials.secret_access_key),
            ("correct secret access key", keys[credentials.access_key_id]),
            ("session token", credentials.session_token),
        ):
            assert value is None or value not in text, f"a wrong secret: the error shows the {name}"
    except Exception as exc:
        raise AssertionError(
            "a wrong secret: the server answered 403 InvalidSignatureException, expected "
            f"AuthenticationError, not {type(exc).__name__}: {exc}"
        ) from None
    else:
        raise AssertionError(
            "a chat signed with the wrong secret succeeded: the server refused it "
            f"({_short([v.reason for v in verdicts])}) but no AuthenticationError was raised"
        )
    assert [v.ok for v in verdicts] == [False], (
        f"a wrong secret: the server should have refused one request, verdicts {verdicts}"
    )
    assert chat.get_turns() == [], "a request refused before any answer recorded turns"


@_check
def check_sigv4_signing(ctx: Context) -> None:
    """A SigV4 protocol signs every request so that an independent verifier accepts it.

    Only for a protocol whose fake has a ``signing`` attribute (the SigV4
    service, Bedrock's ``bedrock``). With ``credentials`` returning
    ``AwsCredentials`` (with a session token), a plain chat, a streamed chat
    and a tool round trip, for a model id with ``:`` and an
    inference-profile ARN, each arrive signed ``AWS4-HMAC-SHA256`` with that
    key id, the model id percent-encoded in one path segment, the session
    token sent and signed, the secret never sent, and the fake server's own
    SigV4 verifier (not ellmer-py's signer) accepts every signature. Signed
    with a wrong secret, the server's 403 InvalidSignatureException is an
    AuthenticationError with the server's message and none of the secrets.
    (R: ``chat_aws_bedrock()`` signs with httr2's ``req_auth_aws_v4()``, the
    credentials from paws.common.)
    """
    fake = ctx.fake
    if getattr(fake, "signing", None) is None:
        return  # the protocol does not sign requests with AWS SigV4: nothing to check
    signing = cast(_SigningFake, fake)
    key_id = "AKIACONFORMANCE" + secrets.token_hex(4).upper()
    secret = f"conformance-secret-{secrets.token_urlsafe(24)}"
    token = f"conformance-session-token-{secrets.token_urlsafe(24)}"
    keys = {key_id: secret}
    good = AwsCredentials(access_key_id=key_id, secret_access_key=secret, session_token=token)
    with ctx.server() as srv:
        verdicts: list[Any] = []
        for model in _MODELS:
            before = len(srv.requests)
            _signed_exchanges(ctx, srv, signing, fake, model, good, keys, verdicts)
            _check_model_in_path(srv, model, before)
        _check_verdicts(srv, verdicts, key_id, token, secret)
        wrong = AwsCredentials(
            access_key_id=key_id,
            secret_access_key=f"wrong-secret-{secrets.token_urlsafe(24)}",
            session_token=token,
        )
        _check_wrong_secret(ctx, srv, signing, fake, keys, wrong)
