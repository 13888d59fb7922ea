"""Prompts per second through parallel_chat_text() and its peers, on an instant loopback server.

    python bench/parallel.py            # 10,000 prompts per client, a few minutes
    python bench/parallel.py --quick    # 500 prompts per client: a smoke run

One command starts the loopback server (``_parallel_server``: ``_server.py``
in its own process, every reply cached) and measures, each in a fresh
process, how long one call takes to get every prompt's answer:

- ellmer-py ``parallel_chat_text()`` in threads of one process (the baseline);
- the same with ``executor=`` a ``ProcessPoolExecutor`` of ``--workers``
  spawned processes;
- the same with ``executor=`` a Dask ``Client`` of a ``LocalCluster`` of
  ``--workers`` worker processes, one thread each;
- litellm's ``batch_completion()`` (a thread pool of ``max_workers``);
- chatlas' ``parallel_chat_text()`` (asyncio).

Every client gets the same ``--max-active`` (per worker for the executors)
and no rate limit worth the name; every answer is checked. The timed call
follows an untimed warm-up call (pools, imports, connections). The Markdown
report goes to stdout and ``bench/parallel_results.md`` (``--output``),
progress to stderr. Not part of CI.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _parallel_server import serving
from _wire import MODEL, REPLY

__all__ = ["main"]

BENCH_DIR = Path(__file__).resolve().parent
#: Requests a minute for the clients that throttle: far more than any of them sends.
RPM = 10**9
#: Per client: label, distribution to report the version of, how it runs the prompts.
CLIENTS = {
    "threads": ("ellmer-py, threads", "ellmer-py", "one process, `max_active` threads"),
    "processes": (
        "ellmer-py, ProcessPoolExecutor",
        "ellmer-py",
        "`executor=ProcessPoolExecutor(W)` (spawn), `max_active` per worker",
    ),
    "dask": (
        "ellmer-py, Dask LocalCluster",
        "distributed",
        "`executor=Client(LocalCluster(n_workers=W, threads_per_worker=1))`, per worker",
    ),
    "litellm": ("litellm `batch_completion`", "litellm", "`max_workers=max_active` threads"),
    "chatlas": ("chatlas `parallel_chat_text`", "chatlas", "asyncio, `max_active`"),
}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- in the measuring process ---------------------------------------------------------


def _ellmer(url: str, max_active: int, executor: Any) -> Callable[[list[str]], list[Any]]:
    from ellmer_py import parallel_chat_text
    from ellmer_py.providers.openai_compatible import chat_openai_compatible

    chat = chat_openai_compatible(url, model=MODEL, echo="none")  # key: OPENAI_API_KEY

    def run(prompts: list[str]) -> list[Any]:
        return parallel_chat_text(
            chat, prompts, max_active=max_active, rpm=RPM, progress=False, executor=executor
        )

    return run


def _litellm(url: str, max_active: int) -> Callable[[list[str]], list[Any]]:
    import litellm

    def run(prompts: list[str]) -> list[Any]:
        messages = [[{"role": "user", "content": p}] for p in prompts]
        answers = litellm.batch_completion(
            model=f"openai/{MODEL}",
            messages=messages,
            api_base=url,
            api_key="sk-bench",
            max_workers=max_active,
        )
        return [getattr(a, "choices", [None])[0] and a.choices[0].message.content for a in answers]

    return run


def _chatlas(url: str, max_active: int) -> Callable[[list[str]], list[Any]]:
    import asyncio

    import chatlas

    ctor = getattr(chatlas, "ChatOpenAICompletions", None) or chatlas.ChatOpenAI
    chat = ctor(base_url=url, api_key="sk-bench", model=MODEL)
    loop = asyncio.new_event_loop()  # one loop for both calls: the client is bound to it

    def run(prompts: list[str]) -> list[Any]:
        coro = chatlas.parallel_chat_text(chat, prompts, max_active=max_active, rpm=RPM)
        return list(loop.run_until_complete(coro))

    return run


def _measure(
    key: str, url: str, n: int, max_active: int, workers: int, warmup: int
) -> dict[str, Any]:
    """Set the client up, warm it up, then time one call over ``n`` prompts."""
    os.environ["OPENAI_API_KEY"] = "sk-bench"  # ellmer-py's workers read it too
    started = time.perf_counter()
    closers: list[Callable[[], Any]] = []
    if key == "threads":
        run = _ellmer(url, max_active, None)
    elif key == "processes":
        import concurrent.futures
        import multiprocessing

        spawn = multiprocessing.get_context("spawn")
        pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=spawn)
        closers.append(pool.shutdown)
        run = _ellmer(url, max_active, pool)
    elif key == "dask":
        import logging

        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
        closers += [cluster.close, client.close]
        run = _ellmer(url, max_active, client)
    elif key == "litellm":
        run = _litellm(url, max_active)
    else:
        run = _chatlas(url, max_active)
    try:
        run([f"warm-up {i}" for i in range(warmup)])
        setup = time.perf_counter() - started
        prompts = [f"prompt {i}" for i in range(n)]
        start = time.perf_counter()
        answers = run(prompts)
        seconds = time.perf_counter() - start
    finally:
        for close in reversed(closers):
            close()
    good = sum(1 for a in answers if a == REPLY)
    return {"setup": setup, "seconds": seconds, "good": good, "n": len(answers)}


# -- in the driving process -------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def _run_one(key: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        f"--measure={key}",
        f"--url={url}",
        f"--prompts={args.prompts}",
        f"--max-active={args.max_active}",
        f"--workers={args.workers}",
    ]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONWARNINGS": "ignore"}
    try:
        done = subprocess.run(
            command, cwd=BENCH_DIR, env=env, capture_output=True, text=True, timeout=args.timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"took over {args.timeout} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail[:200]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    if result["good"] != args.prompts:
        result["error"] = f"{result['good']} of {args.prompts} answers right"
    return result


def _report(rows: dict[str, dict[str, Any]], args: argparse.Namespace, took: float) -> str:
    base = rows.get("threads", {})
    base_rate = args.prompts / base["seconds"] if "seconds" in base else None
    out = [
        "# parallel_chat: prompts per second",
        "",
        f"{args.prompts:,} prompts per client against an instant loopback server; "
        f"`max_active={args.max_active}` (per worker with an executor), W = {args.workers} "
        f"workers. Run {datetime.date.today().isoformat()} on {platform.platform()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs; whole run {took:.0f} s.",
        "",
        "| client | version | how | setup s | wall s | prompts/s | vs ellmer-py threads |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for key, row in rows.items():
        label, dist, how = CLIENTS[key]
        if "seconds" not in row or "error" in row:
            out.append(f"| {label} | {_version(dist)} | {how} | - | - | - | {row['error']} |")
            continue
        rate = args.prompts / row["seconds"]
        ratio = f"{rate / base_rate:.2f}x" if base_rate else "-"
        out.append(
            f"| {label} | {_version(dist)} | {how} | {row['setup']:.1f} | "
            f"{row['seconds']:.2f} | {rate:,.0f} | {ratio} |"
        )
    out += [
        "",
        "- **setup s**: imports, client, pool or cluster start and an untimed warm-up call "
        f"of {args.warmup} prompts; **wall s**: the one timed call, every answer checked.",
        "- Server: `bench/_server.py` (asyncio, keep-alive, cached replies) in its own "
        "process on 127.0.0.1; each client measured in a fresh process.",
        "- With an executor, each worker runs ellmer-py's own engine on its chunks: up to "
        "W x `max_active` requests in flight.",
    ]
    return "\n".join(out) + "\n"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 prompts per client")
    parser.add_argument("--prompts", type=int, help="prompts per client (10000; quick 500)")
    parser.add_argument("--max-active", type=int, default=10, help="requests in flight (10)")
    parser.add_argument("--workers", type=int, default=4, help="executor workers (4)")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma list")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per client")
    parser.add_argument(
        "--output", type=Path, default=BENCH_DIR / "parallel_results.md", help="'-': none"
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prompts is None:
        args.prompts = 500 if args.quick else 10_000
    args.warmup = min(args.prompts, 20 * args.workers)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``--measure``, one client); return the exit status."""
    args = _parse(argv)
    if args.measure:
        result = _measure(
            args.measure, args.url, args.prompts, args.max_active, args.workers, args.warmup
        )
        print(json.dumps(result), flush=True)
        return 0
    keys = [k.strip() for k in args.clients.split(",") if k.strip()]
    unknown = [k for k in keys if k not in CLIENTS]
    if unknown:
        _log(f"unknown clients {unknown}; choose from {', '.join(CLIENTS)}")
        return 2
    started = time.perf_counter()
    rows: dict[str, dict[str, Any]] = {}
    with serving() as url:
        _log(f"server at {url}")
        for key in keys:
            _log(f"{CLIENTS[key][0]}: {args.prompts:,} prompts ...")
            rows[key] = _run_one(key, url, args)
            _log(f"  {rows[key]}")
    report = _report(rows, args, time.perf_counter() - started)
    print(report, end="")
    if str(args.output) != "-":
        args.output.write_text(report, encoding="utf-8")
        _log(f"wrote {args.output}")
    return 1 if any("error" in row for row in rows.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
