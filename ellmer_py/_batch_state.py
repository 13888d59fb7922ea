"""The state file of a batch job: what was submitted, where it is, what came back.

(R: ``BatchJob$save_state()``.) One JSON file per job, rewritten atomically
after every step (written beside itself, flushed to disk, then renamed over
the old one), so a process killed at any moment leaves either the state
before the step or the state after it, never half of one. It holds:

- ``hash``: hashes of the provider (name, model, base URL), the prompts,
  the chat's turns before them and the structured-output type, so a file is
  never reused for another job by mistake;
- one entry per batch (a job larger than the API's limits is split), each
  with its ``stage`` (``submitting``, ``waiting``, ``retrieving``,
  ``done``), its tag, the API's batch object once created, and once
  downloaded each request's answer document or error;
- ``creating_since``: set (and saved) just before the request that creates a
  batch is sent, so a resumed job first looks for a batch created then
  instead of creating a second one.

While a job runs, it holds an exclusive lock on a file beside the state file
(``.<name>.lock``): a second process (or thread) running the same job at the
same time gets a clear error instead of submitting the prompts again or
writing over the first one's answers. The operating system drops the lock
when the process ends, however it ends, so a killed job resumes at once.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import define, field

from ._errors import ConfigurationError

__all__ = ["ChunkState", "JobLock", "JobState", "job_hash", "load_state", "save_state"]

VERSION = 1
STAGES = ("submitting", "waiting", "retrieving", "done")


@define
class ChunkState:
    """One batch of the job: prompts ``start`` to ``stop`` (0-based, ``stop`` excluded)."""

    start: int
    stop: int
    tag: str
    stage: str = "submitting"
    creating_since: float | None = None
    batch: dict[str, Any] | None = None
    #: custom id -> ``ItemResult.to_json()``, once downloaded.
    results: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The chunk as the file stores it."""
        return {
            "start": self.start,
            "stop": self.stop,
            "tag": self.tag,
            "stage": self.stage,
            "creating_since": self.creating_since,
            "batch": self.batch,
            "results": self.results,
        }


@define
class JobState:
    """The whole job, as the state file holds it."""

    api: str
    hash: dict[str, str]
    started_at: float
    chunks: list[ChunkState] = field(factory=list)

    def to_json(self) -> dict[str, Any]:
        """The job as the file stores it."""
        return {
            "version": VERSION,
            "api": self.api,
            "hash": self.hash,
            "started_at": self.started_at,
            "chunks": [c.to_json() for c in self.chunks],
        }


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def job_hash(
    provider: Mapping[str, Any],
    prompts: Sequence[Any],
    turns: Sequence[Any],
    type_schema: Any,
) -> dict[str, str]:
    """The hashes that tie a state file to one job (R: ``compute_hash()``)."""
    return {
        "provider": _digest(provider),
        "prompts": _digest(list(prompts)),
        "turns": _digest(list(turns)),
        "type": _digest(type_schema),
    }


def _bad(path: Path, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"{path} is not a batch_chat() state file ({why}). Pick another path, or delete the "
        "file to start the job again."
    )


def _chunk(value: Any, path: Path) -> ChunkState:
    if not isinstance(value, Mapping):
        raise _bad(path, "a batch entry is not an object")
    try:
        start, stop, tag, stage = value["start"], value["stop"], value["tag"], value["stage"]
    except KeyError as exc:
        raise _bad(path, f"a batch entry has no {exc.args[0]!r}") from None
    if not (isinstance(start, int) and isinstance(stop, int) and 0 <= start < stop):
        raise _bad(path, "a batch entry has no valid prompt range")
    if stage not in STAGES or not isinstance(tag, str):
        raise _bad(path, f"unknown stage {stage!r}")
    since = value.get("creating_since")
    batch = value.get("batch")
    results = value.get("results")
    if stage != "submitting" and not isinstance(batch, dict):
        raise _bad(path, f"a batch in stage {stage!r} has no batch object")
    if stage == "done" and not isinstance(results, dict):
        raise _bad(path, "a finished batch has no results")
    return ChunkState(
        start=start,
        stop=stop,
        tag=tag,
        stage=stage,
        creating_since=float(since) if isinstance(since, (int, float)) else None,
        batch=batch if isinstance(batch, dict) else None,
        results=results if isinstance(results, dict) else None,
    )


def load_state(path: Path) -> JobState | None:
    """The job saved at ``path``, or None when there is no file.

    A temporary file left beside it by a save that was killed is removed.
    """
    folder = path.parent if str(path.parent) else Path(".")
    for stale in folder.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(f"Cannot read the batch state file {path}: {exc}") from None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise _bad(path, "it is not JSON") from None
    if not isinstance(doc, Mapping) or doc.get("version") != VERSION:
        raise _bad(path, f"version {doc.get('version') if isinstance(doc, Mapping) else None!r}")
    hashes, chunks = doc.get("hash"), doc.get("chunks")
    if not isinstance(hashes, dict) or not isinstance(chunks, list) or not chunks:
        raise _bad(path, "no hash or no batches")
    started = doc.get("started_at")
    return JobState(
        api=str(doc.get("api")),
        hash={str(k): str(v) for k, v in hashes.items()},
        started_at=float(started) if isinstance(started, (int, float)) else 0.0,
        chunks=[_chunk(c, path) for c in chunks],
    )


def save_state(path: Path, state: JobState) -> None:
    """Write the job to ``path`` atomically (a temporary file, fsync, rename)."""
    data = json.dumps(state.to_json(), ensure_ascii=False, indent=1).encode("utf-8")
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # the rename itself survives a crash too
        with contextlib.suppress(OSError):
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def _lock_fd(fd: int) -> None:
    """Take an exclusive lock on ``fd`` without waiting; OSError when another holds it."""
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


class JobLock:
    """One process (or thread) at a time runs the job kept at ``path``.

    The lock is on ``.<name>.lock`` beside the state file (the state file
    itself is replaced on every save, so it cannot carry a lock). Releasing
    it removes that file; the end of the process, however it ends, lets the
    lock go and leaves the file for the next run to take.
    """

    def __init__(self, path: Path, function: str) -> None:
        self.path = path.with_name(f".{path.name}.lock")
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise ConfigurationError(
                    f"{function}(): cannot keep the job's state at {path}: "
                    f"{exc.strerror or exc}. Pass a path in a folder that exists and that you "
                    "can write to."
                ) from None
            try:
                _lock_fd(fd)
            except OSError:
                os.close(fd)
                raise ConfigurationError(
                    f"{function}(): another process is running the batch job kept at {path} "
                    "right now. Wait for it to finish (then call again to read the results), "
                    "or stop it."
                ) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # its holder removed it as we took it: take the new one
        self._fd: int | None = fd

    def release(self) -> None:
        """Let the next process run the job (and remove the lock file)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.unlink(self.path)  # while still held: nobody takes a file on its way out
            os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False
