"""Benchmark ellmer-py against raw urllib3 and its peers, side by side.

    python bench/run.py            # full run, about a minute or two
    python bench/run.py --quick    # smoke run for CI (a few seconds per client)

One command starts a loopback server speaking five chat APIs
(``_server.py``, 127.0.0.1 only, in its own process so it never competes
with the client for a GIL) and measures, for each client in ``_clients.py``,
one table per API, each with a raw urllib3 floor:

- OpenAI chat completions: ellmer-py (``chat_openai_compatible``), the
  openai SDK, huggingface_hub's ``InferenceClient``, chatlas;
- Anthropic Messages: ellmer-py (``chat_anthropic``), the anthropic SDK;
- OpenAI Responses: ellmer-py (``chat_openai``), the openai SDK's
  ``responses.create``;
- Gemini: ellmer-py (``chat_google_gemini``), google-genai's
  ``models.generate_content``;
- AWS Bedrock Converse: ellmer-py (``chat_aws_bedrock``), boto3's
  ``bedrock-runtime`` client (``converse`` / ``converse_stream``), both
  signing every request with SigV4.

Columns:

import s
    ``perf_counter`` around the import statement in a fresh ``python -c``
    (interpreter start-up excluded), median of ``--import-runs`` runs after
    one untimed run that warms the bytecode cache.
import+client s
    the same runs, up to a constructed client (lazy imports show up here).
ms/request
    mean wall time of sequential non-streamed requests on one client
    object, after warm-up, in a fresh process; overhead is that minus the
    same table's raw urllib3.
chunks/s, events/s
    content events (one-token ``chat.completion.chunk``,
    ``content_block_delta``, ``response.output_text.delta``, Gemini
    response, Bedrock ``contentBlockDelta``) per second over one ``--chunks``-event stream,
    in a fresh process, after a 100-event warm-up stream, and as a ratio to
    the same table's raw urllib3.
peak RSS MiB
    ``ru_maxrss`` of that streaming process: interpreter, imports and the
    stream together (not tracemalloc, which would slow the stream down).

A client that is not installed is reported as such, one whose import fails
as "not available: <reason>" (neither fails the run); one that fails later
is reported with the reason and makes the exit status 1.  The Markdown
report goes to stdout and to ``bench/results.md`` (``--output``); progress
goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _clients

__all__ = ["main"]

BENCH_DIR = Path(__file__).resolve().parent
_UNUSED_URL = "http://127.0.0.1:9/v1"  # the import probe builds, never sends
_WARM_CHUNKS = 100
_TIMEOUT_S = 180


class Row:
    """Everything measured for one client; ``None`` where not measured."""

    def __init__(self, client: _clients.Client) -> None:
        self.client = client
        self.version: str = ""
        # "" when measured, else "not installed", "not available: <why>" or "failed"
        self.status: str = ""
        self.errors: list[str] = []
        self.import_s: float | None = None
        self.import_client_s: float | None = None
        self.ms_per_request: float | None = None
        self.requests: int = 0
        self.chunks_per_s: float | None = None
        self.peak_rss_mib: float | None = None


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


#: Where workers keep their bytecode during a run (set by ``main``).
_pycache_prefix: str | None = None


#: AWS settings for every worker (all other ``AWS_*`` variables are dropped):
#: boto3 and ellmer-py get their credentials and region explicitly, and must
#: read no shared config or credentials file and ask no metadata service.
_AWS_ENV = {
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _child_env() -> dict[str, str]:
    """The environment for workers: ours, but never through an HTTP proxy.

    httpx (under openai, huggingface_hub and anthropic) honours
    ``HTTP_PROXY``; urllib3's PoolManager does not.  Exempting loopback keeps
    every client on the same direct path to the bench server.

    The ``AWS_*`` variables are replaced by :data:`_AWS_ENV`, so that the
    Bedrock clients see the same (empty) AWS configuration on every machine
    and nothing (a profile, a region, an SSO or metadata lookup) reaches
    past the loopback.

    Bytecode is always cached, in a scratch ``PYTHONPYCACHEPREFIX`` for the
    run: with ``PYTHONDONTWRITEBYTECODE`` set (tox and some sandboxes set
    it), a client living in a source tree, like ellmer-py here, would be
    compiled again on every timed import while installed packages load
    their ``.pyc``.  The prefix puts every client on the same footing (the
    untimed first import probe fills it) and leaves the source tree clean.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(_AWS_ENV)
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(filter(None, [env.get(name, ""), "127.0.0.1", "localhost"]))
    if _pycache_prefix is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = _pycache_prefix
    return env


def _run(cmd: list[str], cwd: Path) -> tuple[str | None, str]:
    """Run a worker; return ``(stdout, "")`` or ``(None, error summary)``."""
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            env=_child_env(),
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {_TIMEOUT_S} s"
    if proc.returncode != 0:
        return None, _last_line(proc.stderr)
    return proc.stdout, ""


def _result(stdout: str) -> dict[str, float]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("RESULT "):
            parsed: dict[str, float] = json.loads(line[len("RESULT ") :])
            return parsed
    raise ValueError("worker printed no RESULT line")


_UNAVAILABLE = "UNAVAILABLE"


def _import_probe(client: _clients.Client, runs: int, row: Row) -> None:
    """Time the import; set ``row.status`` to "not available: ..." if it fails."""
    guarded = "\n".join("    " + line for line in client.import_code.splitlines())
    code = "\n".join(
        [
            "import time",
            "t0 = time.perf_counter()",
            "try:",
            guarded,
            "except Exception as exc:",
            f"    print({_UNAVAILABLE!r}, type(exc).__name__ + ': ' + str(exc))",
            "    raise SystemExit(0)",
            "t1 = time.perf_counter()",
            "import _clients",
            f"_clients.by_key({client.key!r}).make({_UNUSED_URL!r})",
            "t2 = time.perf_counter()",
            "print('RESULT', t1 - t0, t2 - t0)",
        ]
    )
    imports: list[float] = []
    with_client: list[float] = []
    for i in range(runs + 1):
        # cwd is the bench directory: '' on sys.path finds _clients and
        # _wire, and nothing else that could shadow an installed module.
        stdout, error = _run([sys.executable, "-c", code], BENCH_DIR)
        if stdout is None:
            row.errors.append(f"import: {error}")
            return
        last = _last_line(stdout)
        if last.startswith(_UNAVAILABLE):
            row.status = "not available: " + last[len(_UNAVAILABLE) :].strip()
            return
        if i == 0:
            continue  # warms the bytecode cache; not timed
        _, t_import, t_client = last.split()
        imports.append(float(t_import))
        with_client.append(float(t_client))
    row.import_s = statistics.median(imports)
    row.import_client_s = statistics.median(with_client)


def _requests(client: _clients.Client, base_url: str, args: argparse.Namespace, row: Row) -> None:
    cmd = [
        sys.executable,
        str(BENCH_DIR / "_worker.py"),
        "requests",
        client.key,
        base_url,
        f"--n={args.requests}",
        f"--warmup={args.warmup}",
        f"--budget={args.budget}",
    ]
    stdout, error = _run(cmd, BENCH_DIR)
    if stdout is None:
        row.errors.append(f"requests: {error}")
        return
    result = _result(stdout)
    row.ms_per_request = result["mean_ms"]
    row.requests = int(result["count"])


def _stream(client: _clients.Client, base_url: str, warm_url: str, chunks: int, row: Row) -> None:
    cmd = [
        sys.executable,
        str(BENCH_DIR / "_worker.py"),
        "stream",
        client.key,
        base_url,
        f"--chunks={chunks}",
        f"--warm-url={warm_url}",
        f"--warm-chunks={_WARM_CHUNKS}",
    ]
    stdout, error = _run(cmd, BENCH_DIR)
    if stdout is None:
        row.errors.append(f"stream: {error}")
        return
    result = _result(stdout)
    row.chunks_per_s = result["chunks_per_s"]
    row.peak_rss_mib = result["peak_rss_mib"]


def _baseline_rss() -> float | None:
    """Peak RSS of a worker process that imports no client (for scale)."""
    code = "import argparse, json, _clients, _worker; print('RESULT', _worker.peak_rss_mib())"
    stdout, _ = _run([sys.executable, "-c", code], BENCH_DIR)
    if stdout is None:
        return None
    value = _last_line(stdout).split()[-1]
    return None if value == "None" else float(value)


def _measure(client: _clients.Client, port: int, args: argparse.Namespace) -> Row:
    row = Row(client)
    if importlib.util.find_spec(client.module) is None:
        row.status = "not installed"
        _log(f"{client.label}: not installed")
        return row
    try:
        row.version = importlib.metadata.version(client.dist)
    except importlib.metadata.PackageNotFoundError:
        row.version = "?"
    base_url = f"http://127.0.0.1:{port}/v1"
    warm_url = f"http://127.0.0.1:{port}/chunks/{_WARM_CHUNKS}/v1"
    started = time.perf_counter()
    _log(f"{client.label} {row.version}: import time ...")
    _import_probe(client, args.import_runs, row)
    if row.status:
        _log(f"{client.label}: {row.status}")
        return row
    if not row.errors:  # a client that cannot be imported cannot be run
        _log(f"{client.label}: requests ...")
        _requests(client, base_url, args, row)
        _log(f"{client.label}: stream ...")
        _stream(client, base_url, warm_url, args.chunks, row)
    if row.errors:
        row.status = "failed"
    _log(f"{client.label}: done in {time.perf_counter() - started:.1f} s")
    return row


def _start_server(chunks: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "_server.py"), f"--chunks={chunks}"],
        cwd=BENCH_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"bench server did not start (said {line!r})")
    return proc, int(line.split()[1])


def _stop_server(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


#: Per API: section title, what the streamed events are called, what they are.
_APIS = {
    _clients.OPENAI: (
        "OpenAI chat completions",
        "chunks",
        "one-token `chat.completion.chunk` SSE events, one HTTP chunk each, then `data: [DONE]`",
    ),
    _clients.ANTHROPIC: (
        "Anthropic Messages",
        "events",
        "one-token `content_block_delta`/`text_delta` SSE events, one HTTP chunk each, "
        "between `message_start`, `content_block_start`, `ping` and "
        "`content_block_stop`, `message_delta`, `message_stop`. The anthropic SDK iterates "
        "`messages.create(..., stream=True)` and takes the `text_delta` text (faster here "
        "than `messages.stream()`'s `text_stream`, which also rebuilds the message "
        "snapshot on every event)",
    ),
    _clients.RESPONSES: (
        "OpenAI Responses",
        "events",
        "one-token `response.output_text.delta` SSE events, one HTTP chunk each, "
        "between `response.created`, `response.in_progress`, `response.output_item.added`, "
        "`response.content_part.added` and `response.output_text.done`, "
        "`response.content_part.done`, `response.output_item.done`, `response.completed` "
        "(which carries the whole response again); no `[DONE]`. The openai SDK iterates "
        "`responses.create(..., stream=True)` and takes each delta event's `delta`",
    ),
    _clients.GEMINI: (
        "Gemini",
        "chunks",
        "`streamGenerateContent?alt=sse` events, one HTTP chunk each, every `data:` a whole "
        "`GenerateContentResponse` carrying one token (and `usageMetadata`), then one with "
        "`finishReason: STOP`; no `[DONE]`. All three clients post to "
        "`/v1beta/models/m:...` (google-genai given `HttpOptions(base_url=..., "
        'api_version="v1beta")`, its default being `v1`); google-genai iterates '
        "`generate_content_stream` and takes each chunk's `.text`",
    ),
    _clients.BEDROCK: (
        "AWS Bedrock Converse",
        "events",
        "one-token `contentBlockDelta` AWS event-stream frames "
        "(`application/vnd.amazon.eventstream`), one HTTP chunk each, between "
        "`messageStart` and `contentBlockStop`, `messageStop`, `metadata`, every payload "
        "padded with Bedrock's `p` field. All three clients post to "
        "`/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse` (and "
        "`converse-stream`); ellmer-py and boto3 sign every request with SigV4 (explicit "
        "credentials, no AWS config files), raw urllib3 does not sign and splits frames by "
        "their length prefix without checking CRCs. boto3 iterates `converse_stream(...)"
        '["stream"]` and takes each `contentBlockDelta`\'s `delta.text`',
    ),
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: list[Row], unit: str) -> str:
    floor = next((r for r in rows if r.client.floor), None)
    floor_ms = floor.ms_per_request if floor else None
    floor_cps = floor.chunks_per_s if floor else None
    header = (
        "| client | version | import s | import+client s | ms/request "
        f"| overhead vs urllib3 ms | {unit}/s | {unit}/s vs urllib3 | peak RSS MiB |"
    )
    lines = [header, "|---|---|--:|--:|--:|--:|--:|--:|--:|"]
    for row in rows:
        name = row.client.label
        if row.status.startswith("not "):
            lines.append(f"| {name} | {_cell(row.status)} | | | | | | | |")
            continue
        overhead = (
            row.ms_per_request - floor_ms
            if row.ms_per_request is not None and floor_ms is not None and row is not floor
            else None
        )
        ratio = (
            row.chunks_per_s / floor_cps
            if row.chunks_per_s is not None and floor_cps and row is not floor
            else None
        )
        version = row.version + (" (failed)" if row.status == "failed" else "")
        cells = [
            name,
            version,
            _fmt(row.import_s, ".3f"),
            _fmt(row.import_client_s, ".3f"),
            _fmt(row.ms_per_request, ".3f"),
            "0 (floor)" if row is floor else _fmt(overhead, "+.3f"),
            _fmt(row.chunks_per_s, ",.0f"),
            "1.00x (floor)" if row is floor else ("-" if ratio is None else f"{ratio:.2f}x"),
            _fmt(row.peak_rss_mib, ".1f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _versus(rows: list[Row], unit: str) -> list[str]:
    """One line per other measured row: how ellmer-py compares with it."""

    def measured(row: Row) -> bool:
        return not row.status and row.ms_per_request is not None and bool(row.chunks_per_s)

    ours = next((r for r in rows if r.client.dist == "ellmer-py" and measured(r)), None)
    if ours is None:
        return []
    assert ours.ms_per_request is not None and ours.chunks_per_s
    floor = next((r for r in rows if r.client.floor and measured(r)), None)
    lines = []
    for peer in rows:
        if peer is ours or not measured(peer):
            continue
        assert peer.ms_per_request is not None and peer.chunks_per_s
        facts = [
            f"{ours.ms_per_request / peer.ms_per_request:.2f}x the time per request",
            f"{ours.chunks_per_s / peer.chunks_per_s:.2f}x the {unit}/s",
        ]
        if peer is not floor and floor is not None and floor.ms_per_request is not None:
            ours_over = ours.ms_per_request - floor.ms_per_request
            peer_over = peer.ms_per_request - floor.ms_per_request
            facts[0] += f" (overhead {ours_over:+.3f} vs {peer_over:+.3f} ms)"
        if ours.import_client_s is not None and peer.import_client_s is not None:
            facts.append(
                f"import+client {ours.import_client_s:.3f} vs {peer.import_client_s:.3f} s"
            )
        if ours.peak_rss_mib and peer.peak_rss_mib:
            facts.append(f"peak RSS {ours.peak_rss_mib:.1f} vs {peer.peak_rss_mib:.1f} MiB")
        lines.append(f"- ellmer-py vs {peer.client.label}: " + ", ".join(facts) + ".")
    return lines


def _report(
    rows: list[Row], args: argparse.Namespace, baseline_rss: float | None, wall: float
) -> str:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cpu = platform.processor() or platform.machine()
    requests = sorted({r.requests for r in rows if r.requests})
    sections: list[str] = []
    for api, (title, unit, events) in _APIS.items():
        api_rows = [r for r in rows if r.client.api == api]
        if not api_rows:
            continue
        sections += [f"## {title}", "", _table(api_rows, unit), "", f"**{unit}/s**: {events}.", ""]
        versus = _versus(api_rows, unit)
        if versus:
            sections += [*versus, ""]
    parts = [
        "# ellmer-py benchmark" + (" (--quick)" if args.quick else ""),
        "",
        f"{when}; Python {platform.python_version()} ({platform.python_implementation()}) on "
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs; "
        f"whole run {wall:.0f} s. Produced by `python bench/run.py"
        + (" --quick" if args.quick else "")
        + "`; numbers from one machine, compare rows, not runs.",
        "",
        *sections,
        "Columns, every table:",
        "",
        "- **import s**: `perf_counter` around the import statement in a fresh "
        f"`python -c`, median of {args.import_runs} runs (interpreter start-up excluded); "
        "**import+client s** adds building the client object.",
        f"- **ms/request**: mean of {'/'.join(map(str, requests)) or args.requests} sequential "
        f"non-streamed requests (cap {args.requests}, or {args.budget:g} s) after "
        f"{args.warmup} warm-up requests, one client object, fresh process. "
        "ellmer-py and chatlas clear the chat's turns before each request.",
        f"- **chunks/s**, **events/s**: one {args.chunks:,}-event stream (as described "
        f"under each table), after a {_WARM_CHUNKS}-event warm-up stream; every client's "
        "text is checked.",
        "- **peak RSS MiB**: `ru_maxrss` of the streaming process (interpreter + imports + "
        "stream), not tracemalloc"
        + (
            f"; a worker that imports no client peaks at {baseline_rss:.1f} MiB."
            if baseline_rss
            else "."
        ),
        "- Server: asyncio HTTP/1.1 keep-alive on 127.0.0.1 in its own process, "
        "precomputed bodies (`bench/_server.py`).",
    ]
    for row in rows:
        for error in row.errors:
            parts.append(f"- {row.client.label} ({row.client.key}) failed: {error}")
    return "\n".join(parts) + "\n"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: few requests, 1,000 chunks"
    )
    parser.add_argument("--requests", type=int, help="timed requests per client (500; quick 50)")
    parser.add_argument("--warmup", type=int, help="untimed requests first (20; quick 5)")
    parser.add_argument("--budget", type=float, help="seconds cap for timed requests (15; quick 3)")
    parser.add_argument("--chunks", type=int, help="events in the timed stream (10000; quick 1000)")
    parser.add_argument("--import-runs", type=int, help="import probes per client (5; quick 3)")
    keys = ",".join(c.key for c in _clients.CLIENTS)
    parser.add_argument("--clients", default=keys, help=f"comma list (default {keys})")
    parser.add_argument(
        "--output", type=Path, default=BENCH_DIR / "results.md", help="report file ('-': none)"
    )
    args = parser.parse_args(argv)
    defaults = {
        "requests": (500, 50),
        "warmup": (20, 5),
        "budget": (15.0, 3.0),
        "chunks": (10_000, 1_000),
        "import_runs": (5, 3),
    }
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the process exit status."""
    args = _parse(argv)
    try:
        selected = [_clients.by_key(k.strip()) for k in args.clients.split(",") if k.strip()]
    except KeyError as exc:
        _log(str(exc.args[0]))
        return 2
    global _pycache_prefix
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ellmer-bench-pycache-") as pycache:
        _pycache_prefix = pycache
        server, port = _start_server(args.chunks)
        _log(f"bench server on 127.0.0.1:{port} (pid {server.pid}), {args.chunks:,}-event streams")
        try:
            rows = [_measure(client, port, args) for client in selected]
            baseline_rss = _baseline_rss()
        finally:
            _stop_server(server)
            _pycache_prefix = None
    report = _report(rows, args, baseline_rss, time.perf_counter() - started)
    print(report, end="")
    if str(args.output) != "-":
        args.output.write_text(report, encoding="utf-8")
        _log(f"wrote {args.output}")
    return 1 if any(row.status == "failed" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
