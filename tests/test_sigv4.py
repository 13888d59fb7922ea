"""The SigV4 signer against every published vector, and its verifier.

The vectors are ``../shared/fixtures/native/aws_bedrock/vectors/sigv4/`` (see
that README, "The vectors"): the AWS SigV4 test suite as aws-c-auth ships it
(raw HTTP requests, parsed here), botocore's classic suite, and
Bedrock-shaped requests signed by botocore. Each file found by the glob is
one case, so a new file is picked up; the presigned ``query_*`` variants of
aws-c-auth are not checked, as the signer only signs headers.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ellmer_py._sigv4 import (
    AwsCredentials,
    canonical_request,
    sign_headers,
    signature,
    string_to_sign,
    verify,
)

VECTORS = Path(__file__).resolve().parents[2] / "shared/fixtures/native/aws_bedrock/vectors/sigv4"
#: Cases per suite when these tests were written: a broken glob cannot pass vacuously.
MIN_CASES = {"aws-c-auth": 25, "botocore": 24, "bedrock-generated": 4}
#: The aws-c-auth context keys the test understands; a new flag must fail, not be ignored.
AWS_C_AUTH_KEYS = {
    "credentials",
    "expiration_in_seconds",
    "normalize",
    "omit_session_token",
    "region",
    "service",
    "sign_body",
    "timestamp",
}


def _cases(suite: str) -> list[Path]:
    return sorted((VECTORS / suite).glob("*.json"))


def _params(suite: str) -> list[Any]:
    return [pytest.param(path, id=path.stem) for path in _cases(suite)]


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _credentials(context: dict[str, Any]) -> AwsCredentials:
    given = context["credentials"]
    return AwsCredentials(
        given["access_key_id"],
        given["secret_access_key"],
        given.get("token", given.get("session_token")),
    )


class RawRequest:
    """An HTTP/1.1 request of the test suites: request line, ``Name:value`` lines, body."""

    def __init__(self, text: str) -> None:
        head, _, self.body = text.partition("\n\n")
        self.head = head.rstrip("\n")
        request_line, *lines = self.head.split("\n")
        self.method, self.target, _ = request_line.split(" ")
        self.fields: list[list[str]] = []
        for line in lines:
            if line[:1] in (" ", "\t"):  # a folded continuation of the previous value
                self.fields[-1][1] += " " + line.strip()
            else:
                name, _, value = line.partition(":")
                self.fields.append([name, value])

    def headers(self, *, without: tuple[str, ...] = ()) -> dict[str, str]:
        """The header fields (a repeated one's values joined by commas) but ``without``."""
        merged: dict[str, str] = {}
        for name, value in self.fields:
            if name.lower() in without:
                continue
            key = next((k for k in merged if k.lower() == name.lower()), name)
            merged[key] = f"{merged[key]},{value}" if key in merged else value
        return merged

    def header(self, name: str) -> str:
        return self.headers()[next(k for k in self.headers() if k.lower() == name)]


def _signed_names(authorization: str) -> list[str]:
    return authorization.split("SignedHeaders=")[1].split(",")[0].split(";")


def _signature_of(authorization: str) -> str:
    return authorization.rsplit("Signature=", 1)[1]


def test_the_vectors_are_all_found() -> None:
    for suite, least in MIN_CASES.items():
        assert len(_cases(suite)) >= least, suite
    every = sorted(VECTORS.rglob("*.json"))
    assert every == sorted(path for suite in MIN_CASES for path in _cases(suite))


@pytest.mark.parametrize("path", _params("aws-c-auth"))
def test_aws_c_auth_suite(path: Path) -> None:
    case = _load(path)
    context = case["context"]
    assert set(context) <= AWS_C_AUTH_KEYS
    request = RawRequest(case["request"])
    url = f"https://{request.header('host')}{request.target}"
    normalize = context["normalize"]
    timestamp, region, service = _time(context["timestamp"]), context["region"], context["service"]
    body = request.body.encode("utf-8")
    added = sign_headers(
        request.method,
        url,
        request.headers(without=("host",)),
        body,
        credentials=_credentials(context),
        region=region,
        service=service,
        timestamp=timestamp,
        sign_body=context["sign_body"],
        omit_session_token=context.get("omit_session_token", False),
        normalize_path=normalize,
    )
    everything = {**request.headers(), **added}
    canonical = canonical_request(
        request.method,
        url,
        everything,
        body,
        signed_headers=_signed_names(added["Authorization"]),
        normalize_path=normalize,
    )
    assert canonical == case["header_canonical_request"]
    to_sign = string_to_sign(canonical, timestamp=timestamp, region=region, service=service)
    assert to_sign == case["header_string_to_sign"]
    secret = context["credentials"]["secret_access_key"]
    hex_signature = signature(secret, to_sign, timestamp=timestamp, region=region, service=service)
    assert hex_signature == case["header_signature"]
    assert _signature_of(added["Authorization"]) == hex_signature
    added_lines = "".join(f"\n{name}:{value}" for name, value in added.items())
    signed_request = f"{request.head}{added_lines}\n\n{request.body}"
    assert signed_request == case["header_signed_request"]
    assert (
        verify(
            request.method,
            request.target,
            everything,
            body,
            lookup_secret={"AKIDEXAMPLE": secret}.get,
            service=service,
            now=timestamp,
            normalize_path=normalize,
        )
        is None
    )


@pytest.mark.parametrize("path", _params("botocore"))
def test_botocore_suite(path: Path) -> None:
    case = _load(path)
    context = case["context"]
    request = RawRequest(case["request"])
    timestamp, region, service = _time(context["timestamp"]), context["region"], context["service"]
    assert request.header("x-amz-date") == f"{timestamp:%Y%m%dT%H%M%SZ}"
    token = request.headers().get("X-Amz-Security-Token")
    # post-sts-header-after: the suite adds the token after signing, unsigned.
    after = RawRequest(case["signed_request"]).headers().get("X-Amz-Security-Token")
    omit = token is None and after is not None
    given = request.headers(without=("host", "x-amz-date", "x-amz-security-token"))
    url = f"https://{request.header('host')}{request.target}"
    body = request.body.encode("utf-8")
    secret = context["credentials"]["secret_access_key"]
    credentials = AwsCredentials(context["credentials"]["access_key_id"], secret, token or after)
    added = sign_headers(
        request.method,
        url,
        given,
        body,
        credentials=credentials,
        region=region,
        service=service,
        timestamp=timestamp,
        omit_session_token=omit,
    )
    assert added["Authorization"] == case["authorization"]
    canonical = canonical_request(request.method, url, request.headers(), body)
    assert canonical == case["canonical_request"]
    to_sign = string_to_sign(canonical, timestamp=timestamp, region=region, service=service)
    assert to_sign == case["string_to_sign"]
    hex_signature = signature(secret, to_sign, timestamp=timestamp, region=region, service=service)
    assert _signature_of(case["authorization"]) == hex_signature
    token_line = f"\nX-Amz-Security-Token:{after}" if omit else ""
    tail = f"\n\n{request.body}" if request.body else ""
    signed_request = f"{request.head}{token_line}\nAuthorization: {added['Authorization']}{tail}"
    assert signed_request == case["signed_request"]
    reason = verify(
        request.method,
        request.target,
        {**request.headers(), "X-Amz-Security-Token": after or "", **added},
        body,
        lookup_secret={"AKIDEXAMPLE": secret}.get,
        service=service,
        now=timestamp,
    )
    assert reason is None


@pytest.mark.parametrize("path", _params("bedrock-generated"))
def test_bedrock_generated(path: Path) -> None:
    case = _load(path)
    context, request = case["context"], case["request"]
    timestamp, region, service = _time(context["timestamp"]), context["region"], context["service"]
    body = (request["body"] or "").encode("utf-8")
    method, url, headers = request["method"], request["url"], request["headers"]
    added = sign_headers(
        method,
        url,
        headers,
        body,
        credentials=_credentials(context),
        region=region,
        service=service,
        timestamp=timestamp,
    )
    on_the_wire = {**headers, **added}
    assert {k.lower(): v for k, v in on_the_wire.items()} == case["signed_headers"]
    signed = {"Host": urlsplit(url).netloc, **on_the_wire}
    del signed["Authorization"]
    canonical = canonical_request(method, url, signed, body)
    assert canonical == case["canonical_request"]
    to_sign = string_to_sign(canonical, timestamp=timestamp, region=region, service=service)
    assert to_sign == case["string_to_sign"]
    secret = context["credentials"]["secret_access_key"]
    hex_signature = signature(secret, to_sign, timestamp=timestamp, region=region, service=service)
    assert hex_signature == case["signature"]
    assert _signature_of(added["Authorization"]) == hex_signature
    parts = urlsplit(url)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    reason = verify(
        method,
        target,
        {**signed, "Authorization": added["Authorization"]},
        body,
        lookup_secret={"AKIDEXAMPLE": secret}.get,
        service=service,
        now=timestamp,
    )
    assert reason is None


# -- beyond the vectors ------------------------------------------------------------------

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"
CREDENTIALS = AwsCredentials("AKIDEXAMPLE", SECRET, TOKEN)
NOW = _time("2026-08-07T12:36:00Z")
URL = "http://127.0.0.1:8123/model/us.amazon.nova-micro-v1%3A0/converse"
BODY = '{"messages":[{"role":"user","content":[{"text":"1 + 1 = ? ü"}]}]}'.encode()
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def _sign(body: bytes = BODY, **changes: Any) -> dict[str, str]:
    options: dict[str, Any] = {
        "credentials": CREDENTIALS,
        "region": "us-east-1",
        "service": "bedrock",
        "timestamp": NOW,
    }
    return sign_headers("POST", URL, HEADERS, body, **(options | changes))


def _server_view(added: dict[str, str]) -> dict[str, str]:
    """The headers as the loopback server receives them."""
    return {"Host": "127.0.0.1:8123", **HEADERS, "Content-Length": str(len(BODY)), **added}


def _verify(
    headers: dict[str, str],
    *,
    path: str = "/model/us.amazon.nova-micro-v1%3A0/converse",
    body: bytes = BODY,
    service: str = "bedrock",
    now: datetime = NOW,
) -> str | None:
    return verify(
        "POST",
        path,
        headers,
        body,
        lookup_secret={"AKIDEXAMPLE": SECRET}.get,
        service=service,
        now=now,
    )


def test_repr_hides_the_secret_and_the_token() -> None:
    text = repr(CREDENTIALS)
    assert SECRET not in text
    assert TOKEN not in text
    assert "AKIDEXAMPLE" in text
    assert SECRET not in repr(AwsCredentials("AKIDEXAMPLE", SECRET))


def test_the_secret_is_in_no_returned_header() -> None:
    for added in (_sign(), _sign(sign_body=True), _sign(credentials=AwsCredentials("A", SECRET))):
        for name, value in added.items():
            assert SECRET not in name
            assert SECRET not in value


def test_signed_headers_and_token() -> None:
    added = _sign()
    assert list(added) == ["X-Amz-Security-Token", "X-Amz-Date", "Authorization"]
    assert added["X-Amz-Security-Token"] == TOKEN
    assert added["X-Amz-Date"] == "20260807T123600Z"
    assert (
        "SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token,"
        in added["Authorization"]
    )
    assert (
        "Credential=AKIDEXAMPLE/20260807/us-east-1/bedrock/aws4_request,"
        in (added["Authorization"])
    )


def test_a_changed_body_byte_changes_the_signature() -> None:
    changed = bytearray(BODY)
    changed[-3] ^= 0x01
    assert _sign()["Authorization"] != _sign(bytes(changed))["Authorization"]


def test_the_host_keeps_a_non_default_port_only() -> None:
    for url, host in [
        ("http://127.0.0.1:8123/", "127.0.0.1:8123"),
        ("https://example.com:443/", "example.com"),
        ("http://example.com:80/", "example.com"),
        ("https://[::1]:8443/", "[::1]:8443"),
    ]:
        added = sign_headers(
            "GET", url, {}, b"", credentials=CREDENTIALS, region="r", service="s", timestamp=NOW
        )
        for sent_host, reason in [(host, None), (f"{host}0", "signature does not match")]:
            assert (
                verify(
                    "GET",
                    "/",
                    {"Host": sent_host, **added},
                    b"",
                    lookup_secret={"AKIDEXAMPLE": SECRET}.get,
                    service="s",
                    now=NOW,
                )
                == reason
            )


def test_canonical_uri_and_query_encoding() -> None:
    def uri_and_query(url: str, **options: Any) -> list[str]:
        return canonical_request("GET", url, {"host": "h"}, b"", **options).split("\n")[1:3]

    url = "https://h/model/a%3ab/./x//y/?b=2&a=%7e+&a=1&c"
    assert uri_and_query(url) == ["/model/a%253ab/x/y/", "a=1&a=~%2B&b=2&c="]
    assert uri_and_query(url, double_encode=False) == [
        "/model/a%3Ab/x/y/",
        "a=1&a=~%2B&b=2&c=",
    ]
    assert uri_and_query(url, normalize_path=False)[0] == "/model/a%253ab/./x//y/"
    assert uri_and_query("https://h")[0] == "/"


def test_header_values_are_trimmed_and_collapsed() -> None:
    canonical = canonical_request(
        "GET", "https://h/", {"Host": "h", "My-Header": "  a   b \t c  ", "my-header": "d"}, b""
    )
    assert "\nmy-header:a b c,d\n" in canonical


def test_a_naive_timestamp_or_a_header_it_adds_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        _sign(timestamp=datetime(2026, 8, 7, 12, 36))
    with pytest.raises(ValueError, match="x-amz-date"):
        sign_headers(
            "GET",
            URL,
            {"X-Amz-Date": "x"},
            b"",
            credentials=CREDENTIALS,
            region="r",
            service="s",
            timestamp=NOW,
        )


def test_verify_accepts_what_sign_headers_produced() -> None:
    assert _verify(_server_view(_sign())) is None
    assert _verify(_server_view(_sign()), now=NOW + timedelta(minutes=4)) is None
    assert _verify(_server_view(_sign(sign_body=True))) is None


def test_verify_rejects_tampering() -> None:
    headers = _server_view(_sign())
    assert _verify(headers, body=BODY + b" ") == "signature does not match"
    assert _verify(headers, path="/model/us.amazon.nova-micro-v1%3A1/converse") == (
        "signature does not match"
    )
    assert _verify(headers, path="/model/us.amazon.nova-micro-v1%3A0/converse?x=1") == (
        "signature does not match"
    )
    assert _verify({**headers, "Content-Type": "text/plain"}) == "signature does not match"
    assert _verify({**headers, "X-Amz-Security-Token": "other"}) == "signature does not match"
    assert _verify({**headers, "Content-Length": "1"}) is None  # not signed
    assert _verify(_server_view(_sign(sign_body=True)), body=b"{}") == (
        "x-amz-content-sha256 does not match the body"
    )


def test_verify_rejects_a_stale_or_foreign_request() -> None:
    headers = _server_view(_sign())
    assert _verify(headers, now=NOW + timedelta(minutes=6)) == "request time too skewed"
    assert _verify(headers, now=NOW - timedelta(minutes=6)) == "request time too skewed"
    assert _verify(headers, service="bedrock-runtime") == (
        "credential scope service is 'bedrock', expected 'bedrock-runtime'"
    )
    runtime = _server_view(_sign(service="bedrock-runtime"))
    assert _verify(runtime) == "credential scope service is 'bedrock-runtime', expected 'bedrock'"
    no_date = {k: v for k, v in headers.items() if k != "X-Amz-Date"}
    assert _verify(no_date) == "missing x-amz-date"
    assert _verify({k: v for k, v in headers.items() if k != "Authorization"}) == (
        "missing authorization header"
    )
    other_key = _server_view(_sign(credentials=AwsCredentials("AKIDOTHER", SECRET)))
    assert _verify(other_key) == "unknown access key id"
    wrong_secret = _server_view(_sign(credentials=AwsCredentials("AKIDEXAMPLE", SECRET + "x")))
    assert _verify(wrong_secret) == "signature does not match"
    basic = {**headers, "Authorization": "Basic dXNlcjpwYXNz"}
    assert _verify(basic) == "unsupported algorithm 'Basic'"
