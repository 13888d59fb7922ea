"""What every decoder of a server-sent-events stream shares: framing, and reading one event.

A protocol whose stream is SSE subclasses :class:`SSEEventDecoder` and
writes only ``event(name, data, out)``; ``feed()`` and ``close()`` (an event
left without its blank line at the end of the body is still read) are here,
once. :func:`decode_event` reads an event's JSON, turning what can't be read
into our errors.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from .._errors import MalformedResponseError, StreamErrorEvent
from .._sse import SSEParser

if TYPE_CHECKING:
    from .._content import Content

__all__ = ["SSEEventDecoder", "decode_event"]

_decode = json.JSONDecoder().decode


def decode_event(name: str, data: str) -> Any:
    """The JSON an event carries; an ``error`` event that is not JSON is a StreamErrorEvent.

    Data that is not JSON (or nests deeper than the parser can go) is a
    MalformedResponseError.
    """
    try:
        return _decode(data)
    except (ValueError, RecursionError):
        if name == "error":
            raise StreamErrorEvent(
                f"The server sent an error in the stream: {data[:300]}",
                server_message=data[:300],
            ) from None
        raise MalformedResponseError(
            f"The stream carried data that is not JSON: {data[:200]!r}"
        ) from None


class SSEEventDecoder(ABC):
    """A stream decoder fed raw bytes of server-sent events; subclasses read each event."""

    __slots__ = ("_sse", "done")

    def __init__(self) -> None:
        self._sse = SSEParser()
        #: True once the server marked the end of the stream.
        self.done = False

    def feed(self, chunk: bytes) -> list[Content]:
        """Parse ``chunk``; return the pieces to show that its events complete."""
        out: list[Content] = []
        for event in self._sse.feed(chunk):
            if self.done:
                break
            self.event(event.event, event.data, out)
        return out

    def close(self) -> list[Content]:
        """The end of the body: an event left without its blank line is still read."""
        out: list[Content] = []
        last, _ = self._sse.finish()
        if last is not None and not self.done:
            self.event(last.event, last.data, out)
        return out

    @abstractmethod
    def event(self, name: str, data: str, out: list[Content]) -> None:
        """Take one event (its ``event:`` name and ``data``), appending pieces to ``out``."""
