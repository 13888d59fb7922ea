"""Time one long SSE line fed in small chunks: parsing must stay linear.

    python bench/sse_long_line.py                  # 10 MB line, 1 KiB chunks
    python bench/sse_long_line.py --size-mb 40     # more, to see the growth
    python bench/sse_long_line.py --parser old_sse.py   # another SSEParser, e.g. a saved old one

A server may send one huge ``data:`` line (a long answer in one event, a
base64 image, tool arguments) that arrives in many small reads. A parser
that re-joins or re-scans its buffer per chunk is quadratic in the line's
length (the parser before issue 9 took about 30 s for 10 MB in 1 KiB
chunks). Each row times the same bytes fed in ``--chunk`` byte pieces and
fed in one piece, best of ``--runs``; the ratio is the price of chunking,
which stays a small constant for a linear parser whatever the size:

- ``sse parser``: ``SSEParser.feed`` over a ``data: "xxx..."`` line and its
  blank line (one event of ``--size-mb`` MB);
- ``openai-chat decoder``: the same size as one chat-completions chunk whose
  ``delta.content`` is the long text, through ``OpenAIChatDecoder`` (SSE,
  JSON and the accumulator) up to ``turn()``;
- ``tool arguments``: one tool call whose arguments arrive in ``--chunk``
  byte ``input_json_delta`` events (Anthropic Messages), fed in ``--chunk``
  byte pieces, against the arguments in one delta fed whole, up to
  ``turn()``: the accumulator must not re-join the arguments per delta.

This is a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _load_parser(path: str | None) -> Any:
    """The SSEParser class to time: ellmer_py's, or the one in the file ``path``."""
    if path is None:
        from ellmer_py._sse import SSEParser

        return SSEParser
    spec = importlib.util.spec_from_file_location("_bench_sse_alt", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SSEParser


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _best(runs: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _sse_row(parser_cls: Any, stream: bytes, chunk: int, expect: int) -> Callable[[bool], None]:
    pieces = _pieces(stream, chunk)

    def run(chunked: bool) -> None:
        parser = parser_cls()
        events = []
        for piece in pieces if chunked else (stream,):
            events.extend(parser.feed(piece))
        if len(events) != 1 or len(events[0].data) != expect:
            raise SystemExit("the parser did not return the one long event")

    return run


def _decoder_row(
    stream: bytes, whole: bytes, chunk: int, open_stream: Callable[[], Any]
) -> Callable[[bool], Any]:
    """Feeds ``stream`` in ``chunk`` byte pieces, or ``whole`` (the same answer) in one."""
    pieces = _pieces(stream, chunk)

    def run(chunked: bool) -> Any:
        decoder = open_stream()
        for piece in pieces if chunked else (whole,):
            decoder.feed(piece)
        decoder.close()
        return decoder.turn()

    return run


def _anthropic_tool_stream(size: int, chunk: int) -> bytes:
    """A tool call with ``size`` bytes of arguments, in ``chunk`` byte deltas."""
    text = json.dumps({"blob": "x" * size})
    events = [
        {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 1}}},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
        },
        *(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": text[i : i + chunk]},
            }
            for i in range(0, len(text), chunk)
        ),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {}},
        {"type": "message_stop"},
    ]
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=10.0, help="line length in MB (10)")
    parser.add_argument("--chunk", type=int, default=1024, help="bytes per feed() (1024)")
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs (3)")
    parser.add_argument(
        "--parser", metavar="FILE", help="time the SSEParser of this file (the SSE row only)"
    )
    args = parser.parse_args(argv)
    size = int(args.size_mb * 1_000_000)

    parser_cls = _load_parser(args.parser)
    payload = json.dumps("x" * size)
    rows: list[tuple[str, Callable[[bool], Any]]] = [
        (
            "sse parser",
            _sse_row(parser_cls, f"data: {payload}\n\n".encode(), args.chunk, len(payload)),
        )
    ]
    if args.parser is None:
        from ellmer_py._protocols.anthropic import AnthropicMessages
        from ellmer_py._protocols.openai_chat import OpenAIChat

        doc = {"choices": [{"index": 0, "delta": {"content": "x" * size}}]}
        chat_stream = f"data: {json.dumps(doc)}\n\ndata: [DONE]\n\n".encode()
        chat = OpenAIChat().open_stream
        rows.append(
            ("openai-chat decoder", _decoder_row(chat_stream, chat_stream, args.chunk, chat))
        )
        # Chunked: the arguments in --chunk byte deltas, fed in --chunk byte pieces;
        # one piece: the arguments in one delta, fed whole.
        tools = AnthropicMessages().open_stream
        many = _anthropic_tool_stream(size, args.chunk)
        one = _anthropic_tool_stream(size, 2 * size + 100)
        rows.append(("tool arguments", _decoder_row(many, one, args.chunk, tools)))

    where = args.parser or "ellmer_py._sse"
    print(f"{args.size_mb:g} MB line, {args.chunk} B chunks, best of {args.runs} ({where})")
    print(f"{'row':22s} {'chunked s':>10s} {'one piece s':>12s} {'ratio':>7s} {'MB/s':>8s}")
    for name, run in rows:
        chunked = _best(args.runs, lambda run=run: run(True))
        whole = _best(args.runs, lambda run=run: run(False))
        ratio = chunked / whole if whole else float("inf")
        rate = size / 1e6 / chunked if chunked else float("inf")
        print(f"{name:22s} {chunked:10.3f} {whole:12.3f} {ratio:7.2f} {rate:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
