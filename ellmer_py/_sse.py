"""A byte-level server-sent-events parser that follows the WHATWG rules.

Lines end with CR, LF or CRLF; ``:`` starts a comment; ``data`` lines of one
event are joined with LF; ``event``, ``id`` and ``retry`` are kept; a blank
line dispatches; a partial event at the end of the stream is dropped. The
events are the same however the bytes are split into chunks. ``[DONE]`` is
not special here: that is an OpenAI convention, handled by the protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

__all__ = ["SSEParser", "ServerSentEvent", "iter_sse"]

# Line-end bytes as ints: ``13 in data`` is a plain memchr, several times
# quicker than ``b"\r" in data`` on short chunks.
_LF, _CR = 10, 13
_MAX_RETRY_DIGITS = 18


class ServerSentEvent(NamedTuple):
    """One dispatched event."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEParser:
    """Incremental parser: ``feed()`` bytes as they arrive, get whole events back."""

    __slots__ = ("_data", "_event", "_id", "_pending", "_retry", "_skip_lf", "_started")

    def __init__(self) -> None:
        # The unfinished last line, as the pieces it came in: a long line fed in
        # small chunks is joined once, when it ends, so parsing stays linear.
        self._pending: list[bytes] = []
        self._skip_lf = False
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self._started = False

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Parse ``chunk`` and return the events it completes, in order."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        pending = self._pending
        if not self._started:
            # A byte-order mark may open the stream; it is not part of a field.
            buf = b"".join(pending) + chunk if pending else chunk
            pending.clear()
            if len(buf) < 3 and b"\xef\xbb\xbf".startswith(buf):
                if buf:
                    pending.append(buf)
                return []
            self._started = True
            if buf[:3] == b"\xef\xbb\xbf":
                buf = buf[3:]
        elif pending:
            if _LF in chunk or _CR in chunk:
                # The line ends in this chunk: join its pieces, once.
                if len(pending) == 1:
                    buf = pending[0] + chunk
                else:
                    pending.append(chunk)
                    buf = b"".join(pending)
                pending.clear()
            else:
                pending.append(chunk)  # the line goes on: only the new bytes were searched
                return []
        else:
            buf = chunk
        if not buf:
            return []  # e.g. a BOM, or the LF of a CRLF, that ended exactly at the chunk's end
        if _CR not in buf:
            # The common case, LF only: the last piece is an unfinished line (or b"").
            lines = buf.split(b"\n")
            last = lines.pop()
            if last:
                pending.append(last)
        else:
            lines = buf.splitlines(keepends=True)
            last = lines[-1]
            if last[-1:] in (b"\n", b"\r"):
                if last[-1:] == b"\r":
                    # A CR at the very end may be the first half of a CRLF.
                    self._skip_lf = True
            else:
                pending.append(last)
                lines.pop()
            lines = [raw.rstrip(b"\r\n") for raw in lines]
        events: list[ServerSentEvent] = []
        data = self._data
        for line in lines:
            if not line:
                # Blank line: dispatch (inlined: this is the hot path).
                if data:
                    events.append(
                        ServerSentEvent(
                            "\n".join(data), self._event or "message", self._id, self._retry
                        )
                    )
                    data = self._data = []
                self._event = ""
            elif line[:5] == b"data:":
                value = line[5:]
                if value[:1] == b" ":
                    value = value[1:]
                data.append(value.decode("utf-8", "replace"))
            else:
                self._field(line)
        return events

    def finish(self) -> tuple[ServerSentEvent | None, bytes]:
        """At the end of the stream: what it left unfinished.

        The standard drops an event that no blank line closed, and ``feed()``
        never returns one. Some servers end their stream that way (one
        newline short), so this returns such an event when its lines were
        complete, and the bytes of an unterminated last line, for the caller
        to decide about. The parser is reset.
        """
        event = None
        if self._data:
            event = ServerSentEvent(
                "\n".join(self._data), self._event or "message", self._id, self._retry
            )
        tail = b"".join(self._pending)
        self._data = []
        self._event = ""
        self._pending = []
        return event, tail

    def _field(self, line: bytes) -> None:
        if line[:1] == b":":
            return  # comment / keep-alive
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        text = value.decode("utf-8", "replace")
        if name == b"data":
            self._data.append(text)
        elif name == b"event":
            self._event = text
        elif name == b"id":
            if "\0" not in text:
                self._id = text
        elif (
            name == b"retry"
            and text.isdigit()
            and text.isascii()
            and len(text) <= _MAX_RETRY_DIGITS  # longer is absurd (and too long for int())
        ):
            self._retry = int(text)
        # any other field name is ignored, as the standard says


def iter_sse(chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
    """Yield the events of a byte stream given as chunks of any size."""
    parser = SSEParser()
    for chunk in chunks:
        yield from parser.feed(chunk)
