"""Build (once per machine) and locate llama.cpp's ``llama-server``.

The source is the ``llama.cpp`` tree vendored in the ``llama-cpp-python``
sdist from PyPI, so the only network access is ``pip download``. The build
is configured to need nothing else: no web UI download, no OpenSSL, no
FetchContent, no GPU backends, static libraries. The result is cached in
``~/.cache/ellmer-py/llama-server-<version>/bin/llama-server`` (under
``$XDG_CACHE_HOME`` when that is set); a file lock keeps concurrent builds
apart and the cache directory appears atomically (built in a temporary
sibling, then renamed).

Run ``python tests/live/_llama_server.py`` to build ahead of time; it prints
the binary's path. ``ELLMER_PY_LLAMA_SERVER`` may name a prebuilt binary
instead (used as is, nothing is built).
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
# sha256 of llama_cpp_python-0.3.36.tar.gz as served by PyPI
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
BUILD_JOBS = 2

CMAKE_FLAGS: tuple[str, ...] = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    # the web UI would otherwise be downloaded from a Hugging Face bucket
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
    # portable CPU code; no OpenMP runtime to ship; no GPU backends
    "-DGGML_NATIVE=OFF",
    "-DGGML_OPENMP=OFF",
    "-DGGML_METAL=OFF",
    "-DGGML_CUDA=OFF",
    "-DGGML_VULKAN=OFF",
    "-DGGML_BLAS=OFF",
    "-DFETCHCONTENT_FULLY_DISCONNECTED=ON",
)


def log(message: str) -> None:
    """Print a progress line to stderr (bypassing pytest's capture)."""
    stream = sys.__stderr__ or sys.stderr
    print(f"[llama-server] {message}", file=stream, flush=True)


def cache_root() -> Path:
    """``~/.cache/ellmer-py`` (``$XDG_CACHE_HOME/ellmer-py`` when that is set)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ellmer-py"


def install_dir() -> Path:
    """The cache directory holding ``bin/llama-server``."""
    return cache_root() / f"llama-server-{LLAMA_CPP_PYTHON_VERSION}"


def binary_path() -> Path:
    """Where the cached binary lives (it may not exist yet)."""
    return install_dir() / "bin" / "llama-server"


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another process holds {path}; waiting for its build")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(cmd: Sequence[str], cwd: Path, logfile: Path, *, ninja_progress: bool = False) -> None:
    """Run ``cmd``, appending its output to ``logfile``; show progress now and then."""
    log("$ " + " ".join(cmd))
    tail: collections.deque[str] = collections.deque(maxlen=60)
    last_report = 0.0
    with logfile.open("a") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            tail.append(line.rstrip())
            now = time.monotonic()
            if ninja_progress and line.startswith("[") and now - last_report >= 30:
                last_report = now
                log(line.rstrip()[:120])
        rc = proc.wait()
    if rc != 0:
        for line in tail:
            log("  " + line)
        raise RuntimeError(f"{cmd[0]} failed with exit status {rc}; full log in {logfile}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _extract(archive: Path, dest: Path) -> Path:
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # pragma: no cover - Python without PEP 706 backport
            tar.extractall(dest)
    (root,) = [p for p in dest.iterdir() if p.is_dir()]
    return root


def _build(work: Path, stage: Path, logfile: Path) -> None:
    """Download, configure and build into ``stage/bin/llama-server``."""
    download = work / "download"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--dest",
            str(download),
            f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
        ],
        work,
        logfile,
    )
    (sdist,) = download.glob("llama_cpp_python-*.tar.gz")
    actual = _sha256(sdist)
    if actual != SDIST_SHA256:
        raise RuntimeError(f"{sdist.name}: sha256 {actual}, expected {SDIST_SHA256}")
    log(f"unpacking {sdist.name}")
    source = _extract(sdist, work / "src") / "vendor" / "llama.cpp"
    build = work / "build"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    _run(["cmake", "-S", str(source), "-B", str(build), *generator, *CMAKE_FLAGS], work, logfile)
    _run(
        ["cmake", "--build", str(build), "--target", "llama-server", "-j", str(BUILD_JOBS)],
        work,
        logfile,
        ninja_progress=True,
    )
    built = build / "bin" / "llama-server"
    (stage / "bin").mkdir(parents=True)
    shutil.copy2(built, stage / "bin" / "llama-server")
    (stage / "BUILD-INFO.txt").write_text(
        f"llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} sdist sha256 {SDIST_SHA256}\n"
        + "cmake "
        + " ".join(CMAKE_FLAGS)
        + "\n"
    )


def ensure_llama_server() -> Path:
    """Return the path of a working ``llama-server``, building it if needed."""
    override = os.environ.get("ELLMER_PY_LLAMA_SERVER")
    if override:
        return Path(override)
    binary = binary_path()
    if binary.exists():
        return binary
    target = install_dir()
    with _file_lock(target.with_name(target.name + ".lock")):
        if binary.exists():  # built by whoever held the lock
            return binary
        logfile = target.with_name(target.name + ".build.log")
        logfile.write_text("")
        log(f"building llama-server {LLAMA_CPP_PYTHON_VERSION} (10-15 min on 2 cores)")
        log(f"build log: {logfile}")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="llama-build-") as tmp:
            stage = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
            try:
                stage.rmdir()
                _build(Path(tmp), stage, logfile)
                os.rename(stage, target)
            finally:
                shutil.rmtree(stage, ignore_errors=True)
        log(f"built {binary} in {(time.monotonic() - started) / 60:.1f} min")
    return binary


# -- running it ---------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Response:
    """A raw HTTP response."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)

    def sse(self) -> list[tuple[str | None, Any]]:
        """The body as server-sent events: (event name, JSON data), ``[DONE]`` left out."""
        events: list[tuple[str | None, Any]] = []
        for block in self.body.decode().replace("\r\n", "\n").split("\n\n"):
            name: str | None = None
            data: list[str] = []
            for line in block.split("\n"):
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
            if data and data != ["[DONE]"]:
                events.append((name, json.loads("\n".join(data))))
        return events


@dataclass(frozen=True)
class LlamaServer:
    """A running llama-server: where it listens, its key, its model alias, its log."""

    port: int
    api_key: str
    model: str
    log: Path

    @property
    def v1(self) -> str:
        """The API root, ``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        auth: bool = True,
    ) -> Response:
        """Send one request; ``auth`` adds ``Authorization: Bearer <key>``."""
        sent = {"Content-Type": "application/json"} if body is not None else {}
        if auth:
            sent["Authorization"] = f"Bearer {self.api_key}"
        sent.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, None if body is None else json.dumps(body), sent)
            resp = conn.getresponse()
            return Response(resp.status, dict(resp.getheaders()), resp.read())
        finally:
            conn.close()


@contextmanager
def run_llama_server(
    binary: Path, model_path: Path, log: Path, *, api_key: str, alias: str
) -> Iterator[LlamaServer]:
    """Start ``llama-server`` for ``model_path`` on a free port; stop it afterwards."""
    for attempt in range(3):
        port = free_port()
        cmd = [
            str(binary),
            "--model", str(model_path),
            "--alias", alias,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--api-key", api_key,
            "--jinja",
            "--ctx-size", "1024",
            "--parallel", "1",
            "--threads", "2",
            "--threads-http", "2",
            # every request is computed from scratch: the same prompt, the same answer
            "--no-cache-prompt",
            "--cache-ram", "0",
            "--no-warmup",
        ]  # fmt: skip
        with log.open("ab") as out:
            out.write(("$ " + " ".join(cmd) + "\n").encode())
            out.flush()
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        server = LlamaServer(port=port, api_key=api_key, model=alias, log=log)
        try:
            if _wait_healthy(server, proc, timeout=60):
                yield server
                return
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log_text = log.read_text(errors="replace")
        if "bind" not in log_text.lower() or attempt == 2:
            raise RuntimeError(f"llama-server did not start; its log:\n{log_text[-4000:]}")


def _wait_healthy(server: LlamaServer, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Poll ``/health`` until 200; False if the process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if server.request("GET", "/health", auth=False).status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"llama-server not healthy after {timeout:g}s; log in {server.log}")


def main() -> int:
    """Build if needed and print the binary's path."""
    print(ensure_llama_server())
    return 0


if __name__ == "__main__":
    sys.exit(main())
