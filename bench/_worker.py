"""One measurement of one client, in a fresh process started by ``run.py``.

    python bench/_worker.py requests KEY BASE_URL --n 500 --warmup 20 --budget 15
    python bench/_worker.py stream KEY BASE_URL --chunks 10000 --warm-url URL

``requests`` builds the client once, sends ``--warmup`` untimed requests,
then up to ``--n`` timed sequential non-streamed requests (stopping early
once ``--budget`` seconds have passed).  ``stream`` consumes one short
warm-up stream from ``--warm-url`` with a throwaway client, then times one
``--chunks``-event stream with a new client and reports the process's peak
resident set size (``ru_maxrss``) afterwards.  Both check every reply
against what the server sent, so a client cannot look fast by dropping data.

The last stdout line is ``RESULT <json>``; failures exit non-zero with a
traceback on stderr.  The import-time probe does not use this module: it
runs a bare ``python -c`` so nothing is imported before the timed import.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import _clients
from _wire import REPLY, expected_text

__all__ = ["main", "peak_rss_mib"]


def peak_rss_mib() -> float | None:
    """Return this process's peak resident set size in MiB (None if unknown)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _requests(key: str, base_url: str, n: int, warmup: int, budget: float) -> dict[str, object]:
    runner = _clients.by_key(key).make(base_url)
    for _ in range(warmup):
        got = runner.request()
        if got != REPLY:
            raise AssertionError(f"unexpected reply {got!r}")
    perf = time.perf_counter
    times: list[float] = []
    deadline = perf() + budget
    start = perf()
    for _ in range(n):
        t0 = perf()
        got = runner.request()
        t1 = perf()
        times.append(t1 - t0)
        if got != REPLY:
            raise AssertionError(f"unexpected reply {got!r}")
        if t1 > deadline:
            break
    total = perf() - start
    times.sort()
    return {
        "count": len(times),
        "total_s": total,
        "mean_ms": 1000 * total / len(times),
        "median_ms": 1000 * times[len(times) // 2],
    }


def _stream(
    key: str, base_url: str, chunks: int, warm_url: str, warm_chunks: int
) -> dict[str, object]:
    client = _clients.by_key(key)
    warm = "".join(client.make(warm_url).stream())
    if warm != expected_text(warm_chunks):
        raise AssertionError(f"warm-up stream gave {len(warm)} characters, not the expected text")
    runner = client.make(base_url)
    pieces = 0
    parts: list[str] = []
    t0 = time.perf_counter()
    for piece in runner.stream():
        parts.append(piece)
        pieces += 1
    seconds = time.perf_counter() - t0
    text = "".join(parts)
    if text != expected_text(chunks):
        raise AssertionError(f"stream gave {len(text)} characters, not the expected text")
    return {
        "chunks": chunks,
        "pieces": pieces,
        "seconds": seconds,
        "chunks_per_s": chunks / seconds,
        "peak_rss_mib": peak_rss_mib(),
    }


def main(argv: list[str] | None = None) -> None:
    """Run one phase for one client and print ``RESULT <json>``."""
    parser = argparse.ArgumentParser(description="one benchmark measurement (used by run.py)")
    parser.add_argument("phase", choices=["requests", "stream"])
    parser.add_argument("key", help="client key, see _clients.CLIENTS")
    parser.add_argument("base_url")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--budget", type=float, default=15.0)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--warm-url", default="")
    parser.add_argument("--warm-chunks", type=int, default=100)
    args = parser.parse_args(argv)
    if args.phase == "requests":
        result = _requests(args.key, args.base_url, args.n, args.warmup, args.budget)
    else:
        result = _stream(args.key, args.base_url, args.chunks, args.warm_url, args.warm_chunks)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
