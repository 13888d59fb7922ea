"""Images and PDFs reach the server in the protocol's shape."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ellmer_py import Content, ContentText, content_image_file, content_image_url, content_pdf_file

from .._context import Context
from .._protocol import Media
from ._common import _HELLO, _PLAIN, _check, _last_request_json, _send, _short
from .limitations import _usable_model

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
    refuses before any request instead. A fake whose protocol has no place
    for a file name (``pdf_filenames = False``: Gemini's ``inlineData``) is
    not asked for one; a fake whose protocol takes only its own kind of image
    URL names one in ``image_url`` (Bedrock: an ``s3://`` location). (R: ``content_image_url()``,
    ``content_image_file()``, ``content_pdf_file()``.)
    """
    fake = ctx.fake
    pdf_name = "conformance.pdf" if getattr(fake, "pdf_filenames", True) else None
    image_url = getattr(fake, "image_url", _IMAGE_URL)
    with ctx.server() as srv, tempfile.TemporaryDirectory(prefix="ellmer-conformance-") as tmp:
        png = Path(tmp, "conformance.png")
        png.write_bytes(_PNG)
        pdf = Path(tmp, "conformance.pdf")
        pdf.write_bytes(_PDF)
        cases: list[tuple[str, tuple[Content, ...], list[Media]]] = [
            (
                "images",
                (content_image_url(image_url), content_image_file(png)),
                [Media("image_url", image_url), Media("image", _PNG, mime="image/png")],
            ),
            ("pdf", (content_pdf_file(pdf),), [Media("pdf", _PDF, filename=pdf_name)]),
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
