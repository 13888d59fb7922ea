"""HTTP error answers -> typed errors with the server's own one-line message (pure)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from ellmer_py import (
    AuthenticationError,
    BadRequestError,
    EllmerError,
    HTTPStatusError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitError,
    ServerError,
)
from ellmer_py._http_errors import error_from_response, server_message, status_error_class

JSON = "application/json; charset=utf-8"

#: The gateway page the router sent for a 502 (genai GenSync-JSON), trimmed.
HF_502_PAGE = """<!DOCTYPE html>
<html class="" lang="en">
<head>
    <meta charset="utf-8" />
    <meta name="description" content="We're on a journey to advance and democratize AI." />
    <title>Hugging Face - The AI community building the future.</title>
    <style>
        body { margin: 0; }
        .dark h1 { color: rgb(209, 213, 219); }
    </style>
    <script>
        const key = "_tb_global_settings";
        if (theme === "dark") { document.documentElement.classList.add("dark"); }
    </script>
</head>
<body>
<main>
    <img src="https://cdn-media.huggingface.co/assets/huggingface_logo.svg" alt="" />
    <div>
        <h1>502</h1>
        <p>Bad Gateway</p>
    </div>
</main>
</body>
</html>
"""

NGINX_PAGE = (
    "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    "<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def said(body: str | bytes, content_type: str | None = JSON, **headers: str) -> str:
    """server_message() for a body given as text."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return server_message(raw, content_type, headers)


# -- status -> class -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (422, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (402, PaymentRequiredError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (409, BadRequestError),  # any other 4xx: the request was refused
    ],
)
def test_status_gives_the_error_class(status: int, cls: type[HTTPStatusError]) -> None:
    assert status_error_class(status) is cls
    error = error_from_response("P", status, {}, b"")
    assert type(error) is cls
    assert isinstance(error, HTTPStatusError)
    assert isinstance(error, EllmerError)
    assert error.status == status


# -- the body shapes the fixtures README lists ------------------------------------------


def test_error_is_a_string() -> None:
    assert said('{"error":"Invalid credentials in Authorization header"}') == (
        "Invalid credentials in Authorization header"
    )


def test_error_is_an_object_with_a_message() -> None:
    body = {
        "id": "oPNHaqz-zqrih-9ae9a61a7a51e610",
        "error": {
            "message": "Internal server error",
            "type": "server_error",
            "param": None,
            "code": None,
        },
    }
    assert said(json.dumps(body, indent=2)) == "Internal server error"


def test_error_object_code_is_kept() -> None:
    body = {
        "error": {
            "message": "The requested model 'bad model' does not exist.",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
    assert (
        said(json.dumps(body))
        == "The requested model 'bad model' does not exist. (model_not_found)"
    )


def test_message_and_reason() -> None:
    body = (
        '{"code":400, "reason":"INVALID_REQUEST_BODY", '
        '"message":"model features vision not support", "metadata":{}}'
    )
    assert said(body) == "model features vision not support (INVALID_REQUEST_BODY)"


def test_message_and_type() -> None:
    body = (
        '{"message":"unknown error in the model inference server trace_id: 3f4a",'
        '"type":"server_error"}\n'
    )
    assert said(body) == "unknown error in the model inference server trace_id: 3f4a"


def test_reason_already_in_the_message_is_not_repeated() -> None:
    assert said('{"message": "Bad thing: RATE", "reason": "RATE"}') == "Bad thing: RATE"


def test_detail_string() -> None:
    assert said('{"detail": "Model not loaded yet"}') == "Model not loaded yet"


def test_detail_validation_errors() -> None:
    body = {
        "detail": [
            {"loc": ["body", "messages"], "msg": "field required", "type": "value_error.missing"},
            {"loc": ["body", "model"], "msg": "field required", "type": "value_error.missing"},
        ]
    }
    assert said(json.dumps(body)) == "body.messages: field required"


def test_detail_object() -> None:
    assert said('{"detail": {"code": 7}}') == '{"code": 7}'


def test_text_plain() -> None:
    body = (
        "Failed to deserialize the JSON body into the target type: messages: invalid type: "
        "string \"please output 'Observation'\", expected a sequence at line 1 column 58"
    )
    assert said(body, "text/plain; charset=utf-8") == body


def test_json_sent_as_text_plain_is_still_read() -> None:
    assert said('{"error": "Model is overloaded"}', "text/plain") == "Model is overloaded"


def test_html_page_gives_its_visible_words() -> None:
    assert said(HF_502_PAGE, "text/html") == "502 Bad Gateway"


def test_nginx_page_gives_one_short_line() -> None:
    assert said(NGINX_PAGE, "text/html") == "504 Gateway Time-out nginx"


def test_long_html_page_gives_its_title() -> None:
    page = (
        "<html><head><title>example.com | 502: Bad gateway</title></head><body>"
        + "<p>Cloudflare could not reach the origin. " * 20
        + "</p></body></html>"
    )
    assert said(page, "text/html; charset=UTF-8") == "example.com | 502: Bad gateway"


def test_html_without_a_content_type_is_recognised() -> None:
    page = "<html><body><h1>Service&nbsp;Unavailable</h1></body></html>"
    assert said(page, None) == "Service Unavailable"


def test_html_with_no_text() -> None:
    assert said("<html><body><img src='x'></body></html>", "text/html") == (
        "(an HTML error page with no text)"
    )


def test_empty_body() -> None:
    assert said(b"", None) == "(the server sent no message)"
    assert said(b"  \n", "application/json") == "(the server sent no message)"


def test_empty_body_uses_the_x_error_message_header() -> None:
    assert said(b"", JSON, **{"x-error-message": "Model is loading"}) == "Model is loading"


def test_json_without_a_message_uses_the_x_error_message_header() -> None:
    got = said('{"id": "x", "metadata": {}}', JSON, **{"x-error-message": "Rate limit reached"})
    assert got == "Rate limit reached"


def test_json_without_a_message_nor_header_gives_the_json() -> None:
    assert said('{"id": "x", "metadata": {}}') == '{"id": "x", "metadata": {}}'


def test_the_body_wins_over_the_header() -> None:
    got = said('{"error": "From the body"}', JSON, **{"x-error-message": "From the header"})
    assert got == "From the body"


def test_invalid_json_is_shown_as_text() -> None:
    assert said('{"error": oops', JSON) == '{"error": oops'


def test_a_json_string_or_list() -> None:
    assert said('"Just a string"') == "Just a string"
    assert said('[{"error": "First"}, {"error": "Second"}]') == "First"


def test_messages_are_one_line() -> None:
    assert said("line one\n\n   line two\r\n\tthree", "text/plain") == "line one line two three"
    assert said('{"error": "multi\\nline"}') == "multi line"


def test_long_messages_are_cut() -> None:
    got = said("x" * 5000, "text/plain")
    assert len(got) == 500
    assert got.endswith("…")


def test_bytes_that_are_not_utf8() -> None:
    assert said(b"caf\xe9 closed", "text/plain") == "caf\ufffd closed"


# -- error_from_response -------------------------------------------------------------------


def test_error_carries_provider_status_message_and_request_id() -> None:
    headers = {
        "content-type": JSON,
        "x-error-message": "Invalid credentials in Authorization header",
        "x-request-id": "TtpPGx80uP3e6pgl",
        "www-authenticate": 'Bearer realm="Authentication required", charset="UTF-8"',
    }
    error = error_from_response(
        "HuggingFace", 401, headers, b'{"error":"Invalid credentials in Authorization header"}'
    )
    assert type(error) is AuthenticationError
    assert error.provider == "HuggingFace"
    assert error.status == 401
    assert error.server_message == "Invalid credentials in Authorization header"
    assert error.request_id == "TtpPGx80uP3e6pgl"
    assert str(error) == (
        "HuggingFace: HTTP 401: Invalid credentials in Authorization header. Check the credential "
        "(environment variable or `credentials=`). (request id TtpPGx80uP3e6pgl)"
    )


def test_payment_required_says_so() -> None:
    error = error_from_response(
        "HuggingFace", 402, {"content-type": JSON}, b'{"error":"No credits."}'
    )
    assert type(error) is PaymentRequiredError
    assert str(error) == (
        "HuggingFace: HTTP 402: No credits. The account has no credits left for this provider."
    )


def test_no_request_id_header_no_request_id() -> None:
    error = error_from_response("P", 500, {"content-type": JSON}, b'{"error": "boom"}')
    assert error.request_id is None
    assert str(error) == "P: HTTP 500: boom."


@pytest.mark.parametrize("header", ["x-request-id", "request-id", "x-amzn-requestid", "cf-ray"])
def test_request_id_headers(header: str) -> None:
    error = error_from_response("P", 400, {header: "abc-123"}, b"bad")
    assert error.request_id == "abc-123"
    assert str(error).endswith("(request id abc-123)")


def test_tries_are_counted_in_the_message() -> None:
    error = error_from_response("P", 503, {}, b"Service Unavailable", tries=3)
    assert str(error) == "P: HTTP 503 after 3 tries: Service Unavailable."


def test_html_page_error_is_one_short_line() -> None:
    error = error_from_response(
        "HuggingFace", 502, {"content-type": "text/html"}, HF_502_PAGE.encode()
    )
    assert type(error) is ServerError
    assert str(error) == "HuggingFace: HTTP 502: 502 Bad Gateway."
    assert "<" not in str(error)


@pytest.mark.parametrize(
    ("raw", "seconds"), [("2", 2.0), ("1.5", 1.5), ("-4", 0.0), ("soon", None)]
)
def test_rate_limit_keeps_retry_after(raw: str, seconds: float | None) -> None:
    error = error_from_response("P", 429, {"retry-after": raw}, b'{"error": "Too many requests"}')
    assert isinstance(error, RateLimitError)
    assert error.retry_after == seconds
    assert error.server_message == "Too many requests"


def test_rate_limit_retry_after_as_an_http_date() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=90)
    error = error_from_response("P", 429, {"retry-after": format_datetime(when, usegmt=True)}, b"")
    assert isinstance(error, RateLimitError)
    assert error.retry_after is not None
    assert 80 <= error.retry_after <= 91


def test_rate_limit_without_retry_after() -> None:
    error = error_from_response("P", 429, {}, b"")
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None


def test_aws_errors_read_message_in_either_case_and_name_the_error_type() -> None:
    """Bedrock: ``{"message"}`` or ``{"Message"}``, the type in ``x-amzn-errortype``."""
    error = error_from_response(
        "AWS/Bedrock",
        400,
        {
            "content-type": JSON,
            "x-amzn-errortype": "ValidationException:http://internal.amazon.com/coral/x/",
            "x-amzn-requestid": "req-1",
        },
        b'{"Message": "Malformed input request"}',
    )
    assert isinstance(error, BadRequestError)
    assert error.server_message == "Malformed input request [ValidationException]"
    assert error.request_id == "req-1"
    lower = error_from_response(
        "AWS/Bedrock", 429, {"x-amzn-errortype": "ThrottlingException"}, b'{"message": "slow"}'
    )
    assert lower.server_message == "slow [ThrottlingException]"
    odd = error_from_response("P", 400, {"x-amzn-errortype": "<b>no</b>"}, b'{"message": "m"}')
    assert odd.server_message == "m"


# -- a provider's own reading of the body (build_chat(error_message=)) ----------------------


def _reader(body: bytes) -> str | None:
    doc = json.loads(body)
    if doc.get("error_type") == "account_missing":
        return "Finish   setting up\nyour account (key sk-secret-1234567890)."
    if doc.get("error_type") == "broken":
        raise ValueError("the reader fails")
    return None


def test_a_providers_reader_gives_the_message_when_it_has_one() -> None:
    body = json.dumps({"error_type": "account_missing", "error": "user 123 not found"}).encode()
    error = error_from_response(
        "Acme", 403, {}, body, secrets=["sk-secret-1234567890"], reader=_reader
    )
    assert "Finish setting up your account" in str(error)  # one line
    assert "user 123" not in str(error) and "sk-secret-1234567890" not in str(error)
    for other in ({"error_type": "broken", "error": "said"}, {"error": "said"}):
        error = error_from_response("Acme", 400, {}, json.dumps(other).encode(), reader=_reader)
        assert "said" in str(error)  # nothing from the reader: the usual reading


def test_a_chat_built_with_an_error_reader_uses_it() -> None:
    from ellmer_py.conformance.fake_server import FakeServer, Reply
    from ellmer_py.plugin import build_chat

    with FakeServer() as srv:
        srv.enqueue(Reply.json({"error_type": "account_missing"}, status=403))
        chat = build_chat(
            "chat_acme",
            name="Acme",
            model="m",
            base_url=srv.base_url,
            credentials=lambda: "sk-secret-1234567890",
            error_message=_reader,
        )
        with pytest.raises(AuthenticationError) as info:
            chat.chat("hi")
    assert "Finish setting up your account" in str(info.value)
    assert "sk-secret-1234567890" not in str(info.value)
