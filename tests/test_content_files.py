"""Tests of images and PDFs as chat input (``ellmer_py._content_files``).

Files are real files in a temporary directory; downloads and chats go to a
real loopback server (``FakeServer``), whose recorded requests are checked.
The recorded image answers of the Hugging Face router are replayed too.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ellmer_py import (
    BadRequestError,
    Chat,
    ConfigurationError,
    ContentImageInline,
    ContentImageRemote,
    ContentPDF,
    NotFoundError,
    PaymentRequiredError,
    chat_huggingface,
    content_image_file,
    content_image_url,
    content_pdf_file,
    content_pdf_url,
)
from ellmer_py import _content_files as content_files
from ellmer_py._content_files import MAX_IMAGE_BYTES, _target_size
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "hf-router"
KEY = "hf_test_key_0123456789"

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(40))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(40))
GIF = b"GIF89a" + bytes(range(40))
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(range(40))
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient credentials or settings leak into these tests."""
    for name in ("HUGGINGFACE_API_KEY", "HF_TOKEN", "ELLMER_ECHO", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "5")


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def hf(srv: FakeServer, **kwargs: Any) -> Chat:
    kwargs.setdefault("credentials", lambda: KEY)
    kwargs.setdefault("echo", "none")
    kwargs.setdefault("model", "org/model")
    return chat_huggingface(base_url=srv.base_url, max_tries=1, timeout_s=5, **kwargs)


def completion(text: str) -> dict[str, Any]:
    return {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }


def user_content(srv: FakeServer, n: int = -1) -> Any:
    """The content of the last user message of request ``n``."""
    body = srv.requests[n].json
    assert isinstance(body, dict)
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


# -- content_image_url -----------------------------------------------------------


@pytest.mark.parametrize("detail", ["auto", "low", "high"])
def test_image_url_is_remote(detail: str) -> None:
    content = content_image_url("https://example.org/cat.png", detail=detail)
    assert content == ContentImageRemote(url="https://example.org/cat.png", detail=detail)


def test_image_url_default_detail_is_auto() -> None:
    assert content_image_url("http://example.org/a.jpg").detail == "auto"  # type: ignore[attr-defined]


def test_image_url_rejects_an_unknown_detail() -> None:
    with pytest.raises(
        ConfigurationError, match="detail must be 'auto', 'low' or 'high', not 'max'"
    ):
        content_image_url("https://example.org/a.png", detail="max")


@pytest.mark.parametrize("mime,data", [("image/png", PNG), ("image/jpeg", JPEG)])
def test_a_data_url_becomes_inline(mime: str, data: bytes) -> None:
    assert content_image_url(data_url(mime, data)) == ContentImageInline(mime, data)


def test_a_data_url_with_an_unknown_image_type_is_kept() -> None:
    assert content_image_url(data_url("image/heic", b"abc")) == ContentImageInline(
        "image/heic", b"abc"
    )


@pytest.mark.parametrize(
    "url,message",
    [
        ("data:image/png,abc", "not of the form data:<type>;base64,<data>"),
        ("data:;base64,AAAA", "not of the form data:<type>;base64,<data>"),
        ("data:image/png;base64,@@@", "does not hold valid base64 data"),
        ("data:text/plain;base64,aGk=", "holds text/plain, not an image."),
        ("data:application/pdf;base64,aGk=", "use content_pdf_url\\(\\) for a PDF"),
    ],
)
def test_bad_data_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        content_image_url(url)


def test_a_data_url_whose_bytes_disagree_with_its_type() -> None:
    with pytest.raises(ConfigurationError, match="said to be image/png but its content is a JPEG"):
        content_image_url(data_url("image/png", JPEG))


@pytest.mark.parametrize("url", ["cat.png", "/tmp/cat.png", "ftp://example.org/cat.png", ""])
def test_image_url_needs_http_or_data(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        content_image_url(url)
    if url and "://" not in url:
        assert "content_image_file()" in str(info.value)


def test_image_url_messages_leave_out_the_query() -> None:
    with pytest.raises(ConfigurationError) as info:
        content_image_url("ftp://user:pw@example.org/cat.png?sig=SECRET")
    assert "SECRET" not in str(info.value) and "pw" not in str(info.value)
    assert "ftp://example.org/cat.png" in str(info.value)


# -- content_image_file ----------------------------------------------------------


@pytest.mark.parametrize(
    "name,data,mime",
    [
        ("a.png", PNG, "image/png"),
        ("a.PNG", PNG, "image/png"),
        ("a.jpg", JPEG, "image/jpeg"),
        ("a.jpeg", JPEG, "image/jpeg"),
        ("a.gif", GIF, "image/gif"),
        ("a.webp", WEBP, "image/webp"),
    ],
)
def test_image_file_type_from_extension(tmp_path: Path, name: str, data: bytes, mime: str) -> None:
    assert content_image_file(write(tmp_path, name, data)) == ContentImageInline(mime, data)


def test_image_file_accepts_a_string_path(tmp_path: Path) -> None:
    path = write(tmp_path, "a.png", PNG)
    assert content_image_file(str(path)).data == PNG


def test_image_file_without_a_known_extension_is_sniffed(tmp_path: Path) -> None:
    assert content_image_file(write(tmp_path, "picture", GIF)).type == "image/gif"
    assert content_image_file(write(tmp_path, "picture.img", WEBP)).type == "image/webp"


def test_image_file_with_neither_extension_nor_signature(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"unsupported image file extension 'bmp'"):
        content_image_file(write(tmp_path, "a.bmp", b"BM" + bytes(40)))
    with pytest.raises(ConfigurationError, match=r"unsupported image file extension '\(none\)'"):
        content_image_file(write(tmp_path, "noext", b"hello"))


def test_image_file_extension_disagreeing_with_content(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"'photo.png' is said to be image/png but its content is a JPEG image; "
        r"pass content_type='image/jpeg'",
    ):
        content_image_file(write(tmp_path, "photo.png", JPEG))


def test_image_file_that_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not look like a PNG image"):
        content_image_file(write(tmp_path, "notes.png", b"just some text"))


def test_image_file_explicit_content_type(tmp_path: Path) -> None:
    path = write(tmp_path, "a.bin", JPEG)
    assert content_image_file(path, content_type="image/jpeg").type == "image/jpeg"
    assert content_image_file(path, content_type="IMAGE/JPEG").type == "image/jpeg"
    with pytest.raises(ConfigurationError, match="content is a JPEG image"):
        content_image_file(path, content_type="image/gif")
    exotic = write(tmp_path, "a.heic", b"....ftypheic")
    assert content_image_file(exotic, content_type="image/heic").type == "image/heic"


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_image_file_must_exist(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nope.png"
    if kind == "directory":
        path.mkdir()
    with pytest.raises(ConfigurationError, match=r"nope\.png' must be an existing file"):
        content_image_file(path)


def test_image_file_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert MAX_IMAGE_BYTES == 20 * 1024 * 1024
    monkeypatch.setattr(content_files, "MAX_IMAGE_BYTES", len(PNG))
    assert content_image_file(write(tmp_path, "ok.png", PNG)).data == PNG
    with pytest.raises(ConfigurationError) as info:
        content_image_file(write(tmp_path, "big.png", PNG + b"x"))
    assert "The file 'big.png' is 0.0 MB; images sent inline may be at most 0.0 MB" in str(
        info.value
    )
    assert "resize='high'" in str(info.value)
    with pytest.raises(ConfigurationError, match="images sent inline may be at most"):
        content_image_url(data_url("image/png", PNG + b"x"))


def test_image_file_real_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    with path.open("wb") as f:
        f.write(PNG)
        f.truncate(MAX_IMAGE_BYTES + 1)
    with pytest.raises(ConfigurationError, match=r"'huge\.png' is 20\.0 MB; .* at most 20\.0 MB"):
        content_image_file(path)


def test_resize_without_pillow_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now raises ImportError
    monkeypatch.setitem(sys.modules, "PIL.Image", None)  # even once matplotlib loaded it
    path = write(tmp_path, "a.png", PNG)
    for resize in ("low", "high", "100x100"):
        with pytest.raises(ConfigurationError) as info:
            content_image_file(path, resize=resize)
        message = str(info.value)
        assert "needs Pillow" in message
        assert "pip install Pillow" in message
        assert "resize='none'" in message
    assert content_image_file(path, resize="none").data == PNG


@pytest.mark.parametrize("resize", ["tiny", "100", "100x", "x100", "0x100", "100x100<", ""])
def test_bad_resize_values_fail_before_reading(tmp_path: Path, resize: str) -> None:
    with pytest.raises(ConfigurationError, match="resize must be"):
        content_image_file(write(tmp_path, "a.png", PNG), resize=resize)


@pytest.mark.parametrize(
    "size,resize,expected",
    [
        ((1024, 768), "low", (512, 384)),
        ((300, 200), "low", (300, 200)),  # only shrinks
        ((4000, 1000), "high", (2000, 500)),
        ((1000, 4000), "high", (500, 2000)),
        ((3000, 3000), "high", (768, 768)),  # square: the portrait box
        ((1000, 500), "200x200", (200, 100)),
        ((100, 50), "200x200", (200, 100)),  # without ">" it grows, as ImageMagick does
        ((100, 50), "200x200>", (100, 50)),
        ((1000, 500), "300x200!", (300, 200)),
        ((100, 50), "300x200>!", (100, 50)),
        ((1000, 500), "300x200>!", (300, 200)),
        ((5000, 1), "100x100", (100, 1)),  # never below one pixel
    ],
)
def test_target_sizes_follow_imagemagick(
    size: tuple[int, int], resize: str, expected: tuple[int, int]
) -> None:
    assert _target_size(*size, resize) == expected


def test_resize_with_pillow(tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")
    path = tmp_path / "big.png"
    image_module.new("RGB", (1024, 256), (255, 0, 0)).save(path)
    content = content_image_file(path, resize="low")
    assert content.type == "image/png"
    with image_module.open(__import__("io").BytesIO(content.data)) as resized:
        assert resized.size == (512, 128)
        assert resized.format == "PNG"
    small = tmp_path / "small.png"
    image_module.new("RGB", (10, 10)).save(small)
    assert content_image_file(small, resize="low").data == small.read_bytes()  # untouched


# -- PDFs ---------------------------------------------------------------------


def test_pdf_file(tmp_path: Path) -> None:
    path = write(tmp_path, "report.pdf", PDF)
    assert content_pdf_file(path) == ContentPDF(PDF, filename="report.pdf")
    assert content_pdf_file(str(path)).filename == "report.pdf"


def test_pdf_file_must_be_a_pdf(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"'notes.pdf' is not a PDF \(it does not start"):
        content_pdf_file(write(tmp_path, "notes.pdf", b"hello"))
    with pytest.raises(ConfigurationError, match="must be an existing file"):
        content_pdf_file(tmp_path / "missing.pdf")


def test_pdf_url_downloads_through_the_transport(srv: FakeServer) -> None:
    srv.enqueue(Reply.raw(200, PDF, content_type="application/pdf"))
    content = content_pdf_url(srv.url + "/docs/Annual%20Report.pdf?token=abc", max_tries=1)
    assert content == ContentPDF(PDF, filename="Annual Report.pdf")
    (request,) = srv.requests
    assert request.method == "GET"
    assert request.path == "/docs/Annual%20Report.pdf?token=abc"
    assert request.headers["accept"].startswith("application/pdf")
    assert request.headers["user-agent"] == "ellmer-py"


def test_pdf_url_without_a_pdf_name(srv: FakeServer) -> None:
    srv.enqueue(Reply.raw(200, PDF, content_type="application/pdf"))
    srv.enqueue(Reply.raw(200, PDF, content_type="application/pdf"))
    assert content_pdf_url(srv.url + "/download/1234", max_tries=1).filename == "1234.pdf"
    assert content_pdf_url(srv.url + "/", max_tries=1).filename == "document.pdf"


def test_pdf_url_http_error_is_typed(srv: FakeServer) -> None:
    srv.enqueue(Reply.json({"error": "no such file"}, status=404))
    with pytest.raises(NotFoundError) as info:
        content_pdf_url(srv.url + "/missing.pdf", max_tries=1)
    assert info.value.status == 404
    assert "no such file" in str(info.value)


def test_pdf_url_that_is_not_a_pdf(srv: FakeServer) -> None:
    srv.enqueue(Reply.raw(200, "<!DOCTYPE html><p>Login</p>", content_type="text/html"))
    with pytest.raises(ConfigurationError) as info:
        content_pdf_url(srv.url + "/paper.pdf?sig=SECRET", max_tries=1)
    message = str(info.value)
    assert f"{srv.url}/paper.pdf did not return a PDF (it sent text/html, 27 bytes" in message
    assert "SECRET" not in message


def test_pdf_data_urls_get_unique_names() -> None:
    first = content_pdf_url(data_url("application/pdf", PDF))
    second = content_pdf_url(data_url("application/pdf", PDF))
    assert first.data == PDF
    n = int(first.filename.removeprefix("file_").removesuffix(".pdf"))
    assert first.filename == f"file_{n:03d}.pdf"
    assert second.filename == f"file_{n + 1:03d}.pdf"


@pytest.mark.parametrize(
    "url,message",
    [
        ("data:text/plain;base64,aGk=", "holds text/plain, not a PDF"),
        ("data:application/pdf;base64,aGk=", "holds application/pdf, not a PDF"),
        ("report.pdf", "For a file on disk use content_pdf_file()"),
        ("", "url must be a non-empty string"),
    ],
)
def test_pdf_url_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        content_pdf_url(url)


# -- sent in a chat ----------------------------------------------------------------


def test_an_inline_image_goes_as_a_data_url(srv: FakeServer, tmp_path: Path) -> None:
    srv.enqueue(Reply.json(completion("red")))
    chat = hf(srv)
    image = content_image_file(write(tmp_path, "a.png", PNG))
    assert chat.chat("What colour?", image) == "red"
    assert user_content(srv) == [
        {"type": "text", "text": "What colour?"},
        {"type": "image_url", "image_url": {"url": data_url("image/png", PNG)}},
    ]
    assert chat.get_turns()[0].contents == (chat.get_turns()[0].contents[0], image)


def test_a_remote_image_goes_as_its_url_with_detail(srv: FakeServer) -> None:
    srv.enqueue(Reply.json(completion("a cat")))
    chat = hf(srv)
    chat.chat(content_image_url("https://example.org/cat.png", detail="low"), "What is it?")
    assert user_content(srv) == [
        {"type": "image_url", "image_url": {"url": "https://example.org/cat.png", "detail": "low"}},
        {"type": "text", "text": "What is it?"},
    ]


def test_a_pdf_goes_as_a_file_part(srv: FakeServer, tmp_path: Path) -> None:
    srv.enqueue(Reply.json(completion("a report")))
    chat = hf(srv)
    chat.chat("Summarise", content_pdf_file(write(tmp_path, "r.pdf", PDF)))
    assert user_content(srv) == [
        {"type": "text", "text": "Summarise"},
        {
            "type": "file",
            "file": {"filename": "r.pdf", "file_data": data_url("application/pdf", PDF)},
        },
    ]


def test_images_are_sent_again_with_the_history(srv: FakeServer, tmp_path: Path) -> None:
    srv.enqueue(Reply.json(completion("red")), Reply.json(completion("square")))
    chat = hf(srv)
    chat.chat("Colour?", content_image_file(write(tmp_path, "a.png", PNG)))
    chat.chat("Shape?")
    body = srv.requests[1].json
    assert body["messages"][0]["content"][1]["image_url"]["url"] == data_url("image/png", PNG)
    assert body["messages"][2] == {"role": "user", "content": "Shape?"}


def test_a_streamed_answer_about_an_image(srv: FakeServer, tmp_path: Path) -> None:
    events = [
        sse_data({"choices": [{"index": 0, "delta": {"content": "A "}}]}),
        sse_data(
            {"choices": [{"index": 0, "delta": {"content": "dot."}, "finish_reason": "stop"}]}
        ),
        sse_data("[DONE]"),
    ]
    srv.enqueue(Reply.sse(events))
    chat = hf(srv)
    image = content_image_file(write(tmp_path, "a.gif", GIF))
    assert "".join(chat.stream("What?", image)) == "A dot."
    assert user_content(srv)[1] == {
        "type": "image_url",
        "image_url": {"url": data_url("image/gif", GIF)},
    }


# -- the recorded image answers ----------------------------------------------------

GENAI_IMAGE_FILES = sorted(FIXTURES.glob("genai/*/Gen*MultiModal-Image-jpg-*.json"))


def recorded_image_part(request_body: dict[str, Any]) -> dict[str, Any]:
    (message,) = request_body["messages"]
    return next(p for p in message["content"] if p["type"] == "image_url")  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", GENAI_IMAGE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_recorded_image_errors(srv: FakeServer, tmp_path: Path, path: Path) -> None:
    """The router refused these images (400: no vision; 402: out of credits).

    The same image, made with content_image_file() or content_image_url(),
    goes out exactly as the recording's client sent it, and the refusal
    comes back as the typed error with the server's words.
    """
    assert len(GENAI_IMAGE_FILES) == 12
    (interaction,) = json.loads(path.read_text(encoding="utf-8"))["interactions"]
    request, response = interaction["request"], interaction["response"]
    recorded_part = recorded_image_part(request["body"])
    url = recorded_part["image_url"]["url"]
    if path.stem.endswith("Inline"):
        header, _, payload = url.partition(",")
        assert header == "data:image/jpeg;base64"
        image = content_image_file(write(tmp_path, "fruit.jpg", base64.b64decode(payload)))
        expected_part = recorded_part  # byte for byte what the recording sent
    else:
        image = content_image_url(url)
        expected_part = {"type": "image_url", "image_url": {"url": url, "detail": "auto"}}
    prompt = request["body"]["messages"][0]["content"][0]["text"]
    streamed = bool(request["body"].get("stream"))
    srv.enqueue(Reply.from_recording(response))
    chat = hf(srv, model=request["body"]["model"])
    error_class = {400: BadRequestError, 402: PaymentRequiredError}[response["status"]]
    with pytest.raises(error_class) as info:
        if streamed:
            list(chat.stream(prompt, image))
        else:
            chat.chat(prompt, image)
    assert info.value.status == response["status"]
    words = json.loads(response["body"]).get("message") or json.loads(response["body"])["error"]
    assert words in str(info.value)
    assert chat.get_turns() == []
    (sent,) = srv.requests
    assert sent.method == "POST" and sent.path == urlsplit(request["url"]).path
    assert sent.json["stream"] is streamed
    assert user_content(srv) == [{"type": "text", "text": prompt}, expected_part]


def sse_text_and_usage(body: str) -> tuple[str, dict[str, Any]]:
    text, usage = "", {}
    for line in body.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            chunk = json.loads(line[len("data: ") :])
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                text += (choice.get("delta") or {}).get("content") or ""
    return text, usage


def test_recorded_streamed_image_answers(srv: FakeServer) -> None:
    """chatlas asked about an inline PNG and a remote logo; the answers stream back."""
    data = json.loads((FIXTURES / "chatlas" / "test_huggingface_images.json").read_text())
    assert len(data["interactions"]) == 2
    for n, interaction in enumerate(data["interactions"]):
        request, response = interaction["request"], interaction["response"]
        (message,) = request["body"]["messages"]
        prompt, recorded_part = message["content"]
        image = content_image_url(recorded_part["image_url"]["url"])
        assert isinstance(image, ContentImageInline if n == 0 else ContentImageRemote)
        srv.enqueue(Reply.from_recording(response))
        chat = hf(srv, model=request["body"]["model"])
        text = "".join(chat.stream(prompt["text"], image))
        expected_text, usage = sse_text_and_usage(response["body"])
        assert text == expected_text
        turn = chat.get_turns()[-1]
        assert turn.tokens is not None  # type: ignore[attr-defined]
        assert turn.tokens.input == usage["prompt_tokens"]  # type: ignore[attr-defined]
        assert turn.tokens.output == usage["completion_tokens"]  # type: ignore[attr-defined]
        assert user_content(srv) == message["content"]  # the very request chatlas sent
