"""AWS event-stream framing (``application/vnd.amazon.eventstream``), as Bedrock streams it.

Pure and incremental: no I/O; feed bytes as they arrive, get whole messages back. A frame
(all integers big-endian)::

    total length    uint32   the whole frame, these 4 bytes and the final CRC included (>= 16)
    headers length  uint32   bytes of headers
    prelude CRC     uint32   CRC32 of the 8 bytes above
    headers         a run of: name length (uint8), name (UTF-8), type (uint8), value
    payload         total length - headers length - 16 bytes
    message CRC     uint32   CRC32 of everything before it

Header types and the Python value they decode to (``HeaderValue``): 0 true / 1 false ->
``bool``; 2 byte (int8), 3 short (int16), 4 integer (int32), 5 long (int64) -> ``int``;
6 byte array (uint16 length + bytes) -> ``bytes``; 7 string (uint16 length + UTF-8) -> ``str``;
8 timestamp (int64 milliseconds since the epoch) -> an aware UTC ``datetime``; 9 UUID
(16 bytes) -> ``uuid.UUID``. (botocore keeps timestamps as int milliseconds and UUIDs as
bytes.) Any framing problem raises ``MalformedResponseError``, and the decoder stays failed.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Literal, TypeAlias
from zlib import crc32

from attrs import field, frozen
from attrs.validators import in_

from ._errors import MalformedResponseError

__all__ = ["EventMessage", "EventStreamDecoder", "HeaderInt", "HeaderValue", "encode_message"]

HeaderValue: TypeAlias = bool | int | bytes | str | datetime | uuid.UUID

_PRELUDE = 12  # total length, headers length, prelude CRC
_MIN_FRAME = 16  # a prelude and a message CRC
_MAX_VALUE_LEN = 32767  # the longest byte array or string the AWS SDKs write
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
# type -> struct format of the fixed-size numbers (0/1 have no value, 6/7 are sized, 9 is 16 bytes)
_FIXED = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}
_INT_TYPES = {8: 2, 16: 3, 32: 4, 64: 5}  # bits -> header type


def _error(what: str) -> MalformedResponseError:
    return MalformedResponseError(f"event-stream frame: {what}")


@frozen
class HeaderInt:
    """An int header sent as a chosen width (8, 16, 32 or 64 bits), for ``encode_message``.

    A plain ``int`` is sent as an integer (int32), or a long (int64) when it does not fit.
    """

    value: int
    bits: Literal[8, 16, 32, 64] = field(default=32, validator=in_((8, 16, 32, 64)))


@frozen
class EventMessage:
    """One decoded frame: its headers (in frame order) and its raw payload.

    The string properties read ``:message-type`` (``event``, ``exception`` or ``error``),
    ``:event-type``, ``:exception-type``, ``:error-code``, ``:error-message`` and
    ``:content-type`` (or a plain ``content-type``); ``None`` when absent or not a string.
    """

    headers: Mapping[str, HeaderValue]
    payload: bytes

    def _text(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value if isinstance(value, str) else None

    @property
    def message_type(self) -> str | None:
        return self._text(":message-type")

    @property
    def event_type(self) -> str | None:
        return self._text(":event-type")

    @property
    def exception_type(self) -> str | None:
        return self._text(":exception-type")

    @property
    def error_code(self) -> str | None:
        return self._text(":error-code")

    @property
    def error_message(self) -> str | None:
        return self._text(":error-message")

    @property
    def content_type(self) -> str | None:
        return self._text(":content-type") or self._text("content-type")


class EventStreamDecoder:
    """Incremental decoder: any split of the bytes gives the same messages, in linear time.

    A frame declaring more than ``max_message_size`` bytes is refused as soon as its
    prelude is read. When a chunk completes some messages and then hits an error, those
    messages are returned and the error is raised by the next ``feed`` or ``close``.
    """

    __slots__ = ("_buf", "_error", "_headers", "_max", "_need", "_pos")

    def __init__(self, max_message_size: int = 16 * 1024 * 1024) -> None:
        if max_message_size < _MIN_FRAME:
            raise ValueError(f"max_message_size must be at least {_MIN_FRAME}")
        self._max = max_message_size
        self._buf = bytearray()
        self._pos = 0  # where the current frame starts in _buf
        self._need = 0  # the current frame's total length, once its prelude is read
        self._error: str | None = None
        # header blocks seen, parsed: a stream repeats a handful of them
        self._headers: dict[bytes, dict[str, HeaderValue]] = {}

    def feed(self, data: bytes) -> list[EventMessage]:
        """Take the next bytes of the stream; return the messages they complete."""
        if self._error is not None:
            raise MalformedResponseError(self._error)
        buf = self._buf
        buf += data
        out: list[EventMessage] = []
        try:
            while True:
                available = len(buf) - self._pos
                if not self._need:
                    if available < _PRELUDE:
                        break
                    self._need = self._read_prelude()
                if available < self._need:
                    break
                end = self._pos + self._need
                with memoryview(buf) as view, view[self._pos : end] as frame:
                    out.append(_parse_frame(frame, self._headers))
                self._pos, self._need = end, 0
        except MalformedResponseError as exc:
            self._error = exc.message
            self._buf, self._pos, self._need = bytearray(), 0, 0
            if not out:
                raise
            return out
        if self._pos and 2 * self._pos >= len(buf):  # drop what is consumed, amortized O(1)
            del buf[: self._pos]
            self._pos = 0
        return out

    def close(self) -> None:
        """End of the stream: raise if it stopped inside a frame (or after an error)."""
        if self._error is not None:
            raise MalformedResponseError(self._error)
        left = len(self._buf) - self._pos
        if left:
            size = f"of {self._need} bytes" if self._need else f"bytes of a {_PRELUDE}-byte prelude"
            error = _error(f"stream ended in the middle of a frame ({left} {size})")
            self._error = error.message
            raise error

    def _read_prelude(self) -> int:
        total, hlen, declared = struct.unpack_from(">III", self._buf, self._pos)
        computed = crc32(self._buf[self._pos : self._pos + 8])
        if declared != computed:
            raise _error(f"prelude CRC mismatch (expected 0x{declared:08x}, got 0x{computed:08x})")
        if total < _MIN_FRAME:
            raise _error(f"total length {total} is under the {_MIN_FRAME}-byte minimum")
        if total > self._max:
            raise _error(f"frame of {total} bytes is over the {self._max}-byte limit")
        if hlen > total - _MIN_FRAME:
            raise _error(f"headers length {hlen} is larger than the frame ({total} bytes)")
        return int(total)


def _parse_frame(frame: memoryview, seen: dict[bytes, dict[str, HeaderValue]]) -> EventMessage:
    """Check the message CRC and split a whole frame (prelude already checked).

    ``seen`` caches parsed header blocks by their bytes (at most 64 kept).
    """
    end = len(frame) - 4
    (declared,) = struct.unpack_from(">I", frame, end)
    computed = crc32(frame[:end])
    if declared != computed:
        raise _error(f"message CRC mismatch (expected 0x{declared:08x}, got 0x{computed:08x})")
    (headers_length,) = struct.unpack_from(">I", frame, 4)
    block = frame[_PRELUDE : _PRELUDE + headers_length].tobytes()
    parsed = seen.get(block)
    if parsed is None:
        parsed = _parse_headers(block)
        if len(seen) < 64:
            seen[block] = parsed
    return EventMessage(dict(parsed), frame[_PRELUDE + headers_length : end].tobytes())


def _past(what: str, n: int, pos: int, end: int) -> MalformedResponseError:
    return _error(f"{what} runs past the end of the headers ({n} bytes at {pos} of {end})")


def _parse_headers(data: bytes) -> dict[str, HeaderValue]:
    """The headers, in frame order, in one pass (error texts built only on error)."""
    headers: dict[str, HeaderValue] = {}
    pos, end = 0, len(data)
    while pos < end:
        n = data[pos]
        pos += 1
        if pos + n > end:
            raise _past("a header name", n, pos, end)
        name = _utf8(data[pos : pos + n], "a header name")
        pos += n
        if pos >= end:
            raise _past(f"the type of header {name!r}", 1, pos, end)
        kind = data[pos]
        pos += 1
        value: HeaderValue
        if kind == 7 or kind == 6:
            if pos + 2 > end:
                raise _past(f"the value of header {name!r}", 2, pos, end)
            size = (data[pos] << 8) | data[pos + 1]
            pos += 2
            if pos + size > end:
                raise _past(f"the value of header {name!r}", size, pos, end)
            raw = data[pos : pos + size]
            pos += size
            value = _utf8(raw, f"the value of header {name!r}") if kind == 7 else raw
        elif kind == 0 or kind == 1:
            value = kind == 0
        elif kind == 9:
            if pos + 16 > end:
                raise _past(f"the value of header {name!r}", 16, pos, end)
            value = uuid.UUID(bytes=data[pos : pos + 16])
            pos += 16
        elif kind in _FIXED:
            fmt = _FIXED[kind]
            size = struct.calcsize(fmt)
            if pos + size > end:
                raise _past(f"the value of header {name!r}", size, pos, end)
            (number,) = struct.unpack_from(fmt, data, pos)
            pos += size
            value = number
            if kind == 8:
                try:
                    value = _EPOCH + number * _MS
                except OverflowError:
                    raise _error(f"timestamp {number} ms of {name!r} is out of range") from None
        else:
            raise _error(f"unknown header type {kind} (header {name!r})")
        if name in headers:
            raise _error(f"duplicate header {name!r}")
        headers[name] = value
    return headers


def _utf8(raw: bytes, what: str) -> str:
    try:
        return str(raw, "utf-8")
    except UnicodeDecodeError:
        raise _error(f"{what} is not valid UTF-8: {bytes(raw[:32])!r}") from None


def encode_message(headers: Mapping[str, HeaderValue | HeaderInt], payload: bytes) -> bytes:
    """Build one frame (the inverse of the decoder), for fakes and tests.

    The header type follows the Python type (see the module docstring); wrap an int in
    ``HeaderInt`` to choose its width. Datetimes must be aware; sub-millisecond parts are
    dropped. Raises ``TypeError`` / ``ValueError`` for a value that cannot be sent.
    """
    encoded = b"".join(_encode_header(name, value) for name, value in headers.items())
    prelude = struct.pack(">II", _MIN_FRAME + len(encoded) + len(payload), len(encoded))
    body = b"".join([prelude, struct.pack(">I", crc32(prelude)), encoded, payload])
    return body + struct.pack(">I", crc32(body))


def _encode_header(name: str, value: HeaderValue | HeaderInt) -> bytes:
    raw_name = name.encode("utf-8")
    if len(raw_name) > 255:
        raise ValueError(f"header name {name!r} is over 255 bytes of UTF-8")
    head = bytes([len(raw_name)]) + raw_name
    if isinstance(value, bool):
        return head + bytes([0 if value else 1])
    if isinstance(value, int):
        value = HeaderInt(value, 32 if -(2**31) <= value < 2**31 else 64)
    if isinstance(value, HeaderInt):
        kind = _INT_TYPES[value.bits]
        try:
            return head + bytes([kind]) + struct.pack(_FIXED[kind], value.value)
        except struct.error:
            raise ValueError(f"header {name!r}: {value.value} is not an int{value.bits}") from None
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(f"header {name!r}: the datetime has no time zone")
        return head + bytes([8]) + struct.pack(">q", (value - _EPOCH) // _MS)
    if isinstance(value, uuid.UUID):
        return head + bytes([9]) + value.bytes
    if isinstance(value, (bytes, str)):
        kind, raw = (6, value) if isinstance(value, bytes) else (7, value.encode("utf-8"))
        if len(raw) > _MAX_VALUE_LEN:
            raise ValueError(f"header {name!r}: value of {len(raw)} bytes is over {_MAX_VALUE_LEN}")
        return head + bytes([kind]) + struct.pack(">H", len(raw)) + raw
    raise TypeError(f"header {name!r}: cannot send a {type(value).__name__}")
