"""Images and PDFs as chat input.

R: ``content_image_url()``, ``content_image_file()``, ``content_pdf_file()``,
``content_pdf_url()``. Files are read into inline contents; an image's type
comes from its extension and is checked against its first bytes. Resizing
uses Pillow when it is installed (it is not a dependency).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ._content import ContentImageInline, ContentImageRemote, ContentPDF
from ._errors import ConfigurationError

if TYPE_CHECKING:
    from ._content import ContentImage

__all__ = [
    "MAX_IMAGE_BYTES",
    "content_image_file",
    "content_image_url",
    "content_pdf_file",
    "content_pdf_url",
]

#: The largest image sent inline: 20 MiB, OpenAI's limit per image.
MAX_IMAGE_BYTES = 20 * 1024 * 1024

_EXTENSIONS = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
}
_NAMES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP", "image/gif": "GIF"}
_DETAILS = ("auto", "low", "high")
_GEOMETRY = re.compile(r"(\d+)x(\d+)([>!]{0,2})")


def _sniff_image(data: bytes) -> str | None:
    """The image type the first bytes announce, if they are one we know."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _is_pdf(data: bytes) -> bool:
    # The header may follow up to 1 KiB of junk (the PDF spec's implementation note).
    return b"%PDF-" in data[:1024]


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _safe_url(url: str) -> str:
    """A URL for messages: no user:password, query or fragment (signed URLs carry keys)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else parts.path


def _parse_data_url(url: str, function: str) -> tuple[str, bytes]:
    """``data:<type>;base64,<data>`` -> (type, bytes) (R: ``parse_data_url()``)."""
    head, sep, payload = url[len("data:") :].partition(",")
    content_type, _, encoding = head.partition(";")
    if not sep or encoding.strip().lower() != "base64" or not content_type.strip():
        raise ConfigurationError(
            f"{function}(): the data URL is not of the form data:<type>;base64,<data>."
        )
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"{function}(): the data URL does not hold valid base64 data."
        ) from None
    return content_type.strip().lower(), data


def _check_image_type(data: bytes, content_type: str, what: str) -> None:
    """Raise if the bytes are a known image type other than the one claimed."""
    sniffed = _sniff_image(data)
    if sniffed is not None and sniffed != content_type:
        raise ConfigurationError(
            f"{what} is said to be {content_type} but its content is a {_NAMES[sniffed]} "
            f"image; pass content_type={sniffed!r} (or fix the file name)."
        )
    if sniffed is None and content_type in _NAMES:
        raise ConfigurationError(
            f"{what} does not look like a {_NAMES[content_type]} image (its first bytes are "
            "not a known image signature); check that it is the file you meant."
        )


def _check_size(data: bytes, what: str) -> None:
    if len(data) > MAX_IMAGE_BYTES:
        raise ConfigurationError(
            f"{what} is {_megabytes(len(data))}; images sent inline may be at most "
            f"{_megabytes(MAX_IMAGE_BYTES)}. Use a smaller image, or pass resize='high' "
            "(needs Pillow)."
        )


def content_image_url(url: str, detail: str = "auto") -> ContentImage:
    """An image given by URL (R: ``content_image_url()``).

    An ``http(s)`` URL is sent as it is, for the provider to fetch (so is a
    cloud storage one, ``s3://`` for Bedrock, ``gs://`` for Vertex AI);
    ``detail`` ("auto", "low" or "high") is OpenAI's detail setting. A
    ``data:`` URL becomes an inline image, as in R.
    """
    if detail not in _DETAILS:
        raise ConfigurationError(
            f"content_image_url(): detail must be 'auto', 'low' or 'high', not {detail!r}."
        )
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError("content_image_url(): url must be a non-empty string.")
    url = url.strip()
    if url[:5].lower() == "data:":
        content_type, data = _parse_data_url(url, "content_image_url")
        if not content_type.startswith("image/"):
            raise ConfigurationError(
                f"content_image_url(): the data URL holds {content_type}, not an image"
                + ("; use content_pdf_url() for a PDF." if content_type.endswith("/pdf") else ".")
            )
        _check_image_type(data, content_type, "The data URL's image")
        _check_size(data, "The data URL's image")
        return ContentImageInline(content_type, data)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "s3", "gs"):
        hint = " For a file on disk use content_image_file()." if "://" not in url else ""
        raise ConfigurationError(
            f"content_image_url(): {_safe_url(url)!r} is not an http(s), s3, gs or data: URL."
            + hint
        )
    return ContentImageRemote(url=url, detail=detail)


def _existing_file(path: str | os.PathLike[str], function: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ConfigurationError(f"{function}(): path must be a non-empty string or path.")
    file = Path(path)
    if not file.is_file():
        raise ConfigurationError(f"{function}(): {os.fspath(path)!r} must be an existing file.")
    return file


def _target_size(width: int, height: int, resize: str) -> tuple[int, int]:
    """The size an image ends up with, following ImageMagick's geometry rules.

    "low" fits within 512x512 and "high" within 2000x768 (or 768x2000 for a
    portrait image), shrinking only; "WxH" fits within W by H keeping the
    aspect ratio, "WxH>" only shrinks, "WxH!" ignores the aspect ratio.
    """
    if resize == "low":
        resize = "512x512>"
    elif resize == "high":
        resize = "2000x768>" if width > height else "768x2000>"
    match = _GEOMETRY.fullmatch(resize)
    if match is None or int(match[1]) == 0 or int(match[2]) == 0:
        raise ConfigurationError(
            f"resize must be 'none', 'low', 'high' or a size such as '800x600', '800x600>' "
            f"(only shrink) or '800x600!' (ignore the aspect ratio), not {resize!r}."
        )
    box_w, box_h, flags = int(match[1]), int(match[2]), match[3]
    if ">" in flags and width <= box_w and height <= box_h:
        return width, height
    if "!" in flags:
        return box_w, box_h
    scale = min(box_w / width, box_h / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _resize(data: bytes, resize: str, what: str) -> bytes:
    """The image resized with Pillow, in its own format; unchanged if it already fits."""
    import importlib

    try:
        # Pillow is optional, and its types with it: reach it dynamically.
        image_module: Any = importlib.import_module("PIL.Image")
    except ImportError:
        raise ConfigurationError(
            f"content_image_file(resize={resize!r}) needs Pillow to resize images, and it is "
            "not installed: install it (pip install Pillow), or pass resize='none' to send "
            "the file as it is."
        ) from None
    import io

    try:
        image = image_module.open(io.BytesIO(data))
        image_format = image.format
        size = _target_size(image.width, image.height, resize)
        if size == (image.width, image.height):
            return data
        out = io.BytesIO()
        image.resize(size, image_module.Resampling.LANCZOS).save(out, format=image_format)
    except (OSError, ValueError) as exc:
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError(f"{what} could not be resized: {exc}.") from None
    return out.getvalue()


def content_image_file(
    path: str | os.PathLike[str],
    content_type: str = "auto",
    resize: str = "none",
) -> ContentImageInline:
    """An image read from a file and sent inline (R: ``content_image_file()``).

    ``content_type="auto"`` takes the type from the extension (.png, .jpeg,
    .jpg, .webp, .gif), or from the first bytes when the extension says
    nothing; either way the bytes must agree with it. ``resize`` is "none"
    (the default here; R's is "low", which needs an image library), "low"
    (fit within 512x512), "high" (within 2000x768 or 768x2000), or a size
    such as "800x600", "800x600>" (only shrink) or "800x600!" (exact); any
    value but "none" needs Pillow. The image sent may be at most
    :data:`MAX_IMAGE_BYTES`.
    """
    file = _existing_file(path, "content_image_file")
    if not isinstance(content_type, str) or not content_type.strip():
        raise ConfigurationError("content_image_file(): content_type must be a non-empty string.")
    if not isinstance(resize, str) or not resize.strip():
        raise ConfigurationError("content_image_file(): resize must be a non-empty string.")
    if resize != "none":
        _target_size(1, 1, resize)  # a bad value fails before the file is read
    data = file.read_bytes()
    what = f"The file {file.name!r}"
    content_type = content_type.strip().lower()
    if content_type == "auto":
        ext = file.suffix.lower().lstrip(".")
        guessed = _EXTENSIONS.get(ext) or _sniff_image(data)
        if guessed is None:
            raise ConfigurationError(
                f"content_image_file(): unsupported image file extension {ext or '(none)'!r} "
                f"for {file.name!r}; use a PNG, JPEG, WebP or GIF file, or pass content_type=."
            )
        content_type = guessed
    _check_image_type(data, content_type, what)
    if resize != "none":
        data = _resize(data, resize, what)
    _check_size(data, what)
    return ContentImageInline(content_type, data)


def content_pdf_file(path: str | os.PathLike[str]) -> ContentPDF:
    """A PDF document read from a file (R: ``content_pdf_file()``).

    Not every provider or model accepts PDFs; the file's name goes with it.
    """
    file = _existing_file(path, "content_pdf_file")
    data = file.read_bytes()
    if not _is_pdf(data):
        raise ConfigurationError(
            f"content_pdf_file(): {file.name!r} is not a PDF (it does not start with %PDF-)."
        )
    return ContentPDF(data, filename=file.name)


_pdf_ids = itertools.count(1)
_pdf_ids_lock = threading.Lock()


def _unique_pdf_name() -> str:
    with _pdf_ids_lock:
        return f"file_{next(_pdf_ids):03d}.pdf"


def _pdf_name(url: str) -> str:
    name = unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2]).strip()
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name)
    if not name:
        return "document.pdf"
    return name if name.lower().endswith(".pdf") else f"{name}.pdf"


def content_pdf_url(
    url: str, *, max_tries: int | None = None, timeout_s: float | None = None
) -> ContentPDF:
    """A PDF document downloaded from a URL (R: ``content_pdf_url()``).

    The document is fetched now, through ellmer-py's own HTTP transport
    (retries and timeouts as for chats: ``ELLMER_MAX_TRIES``,
    ``ELLMER_TIMEOUT_S``, or these keywords), and sent inline. A ``data:``
    URL is decoded instead, as in R.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError("content_pdf_url(): url must be a non-empty string.")
    url = url.strip()
    if url[:5].lower() == "data:":
        content_type, data = _parse_data_url(url, "content_pdf_url")
        if content_type != "application/pdf" or not _is_pdf(data):
            raise ConfigurationError(
                f"content_pdf_url(): the data URL holds {content_type}, not a PDF "
                "(application/pdf starting with %PDF-)."
            )
        return ContentPDF(data, filename=_unique_pdf_name())
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        hint = " For a file on disk use content_pdf_file()." if "://" not in url else ""
        raise ConfigurationError(
            f"content_pdf_url(): {_safe_url(url)!r} is not an http(s) or data: URL.{hint}"
        )
    from ._transport import Transport

    transport = Transport("content_pdf_url", max_tries=max_tries, timeout_s=timeout_s)
    try:
        data, headers = transport.request_bytes(
            "GET", url, headers={"Accept": "application/pdf, */*;q=0.1"}
        )
    finally:
        transport.close()
    if not _is_pdf(data):
        received = headers.get("content-type", "").split(";")[0].strip() or "no content type"
        raise ConfigurationError(
            f"content_pdf_url(): {_safe_url(url)} did not return a PDF (it sent "
            f"{received}, {len(data)} bytes not starting with %PDF-)."
        )
    return ContentPDF(data, filename=_pdf_name(url))
