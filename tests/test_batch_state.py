"""The batch job's state file (ellmer_py._batch_state): atomic, checked, round-tripped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ellmer_py import ConfigurationError
from ellmer_py._batch_state import (
    ChunkState,
    JobLock,
    JobState,
    job_hash,
    load_state,
    save_state,
)


def _state() -> JobState:
    return JobState(
        api="openai-batch",
        hash=job_hash({"name": "OpenAI"}, ["a"], [], None),
        started_at=1_800_000_000.5,
        chunks=[
            ChunkState(0, 2, "t1", "done", None, {"id": "b1"}, {"chat-1": {"doc": {"x": 1}}}),
            ChunkState(2, 3, "t2", "submitting", 1_800_000_001.0),
        ],
    )


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    assert load_state(path) is None
    save_state(path, _state())
    assert load_state(path) == _state()
    assert os.listdir(tmp_path) == ["job.json"]  # no temporary file left behind


def test_a_temporary_file_left_by_a_killed_save_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    save_state(path, _state())
    (tmp_path / ".job.json.abc123.tmp").write_text("half a state")
    (tmp_path / ".other.json.abc123.tmp").write_text("another job's")
    assert load_state(path) == _state()
    assert sorted(os.listdir(tmp_path)) == [".other.json.abc123.tmp", "job.json"]


def test_a_failed_write_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "job.json"
    save_state(path, _state())
    before = path.read_bytes()
    changed = _state()
    changed.chunks[1].stage = "waiting"
    changed.chunks[1].batch = {"id": "b2"}

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_state(path, changed)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["job.json"]


def test_hash_parts_tell_what_changed() -> None:
    base = job_hash({"name": "p"}, ["a", "b"], ["s"], {"type": "object"})
    assert set(base) == {"provider", "prompts", "turns", "type"}
    assert job_hash({"name": "p"}, ["a", "b"], ["s"], {"type": "object"}) == base
    other = job_hash({"name": "p"}, ["a", "c"], ["s"], {"type": "object"})
    assert [k for k in base if base[k] != other[k]] == ["prompts"]
    other = job_hash({"name": "p"}, ["a", "b"], ["s"], None)
    assert [k for k in base if base[k] != other[k]] == ["type"]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"not json", "not JSON"),
        (b"[]", "version None"),
        (json.dumps({"version": 99}).encode(), "version 99"),
        (json.dumps({"version": 1, "hash": {}, "chunks": []}).encode(), "no batches"),
        (
            json.dumps(
                {
                    "version": 1,
                    "hash": {},
                    "chunks": [{"start": 0, "stop": 1, "tag": "t", "stage": "odd"}],
                }
            ).encode(),
            "unknown stage 'odd'",
        ),
        (
            json.dumps(
                {
                    "version": 1,
                    "hash": {},
                    "chunks": [{"start": 0, "stop": 1, "tag": "t", "stage": "waiting"}],
                }
            ).encode(),
            "no batch object",
        ),
        (
            json.dumps(
                {
                    "version": 1,
                    "hash": {},
                    "chunks": [{"start": 2, "stop": 1, "tag": "t", "stage": "submitting"}],
                }
            ).encode(),
            "no valid prompt range",
        ),
    ],
)
def test_a_file_that_is_not_a_state_file_is_a_clear_error(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "job.json"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError, match="is not a batch_chat\\(\\) state file") as info:
        load_state(path)
    assert why in str(info.value)
    assert "Pick another path, or delete the file" in str(info.value)


# -- one run at a time --------------------------------------------------------------------

LOCK_HOLDER = """
import sys, time
from pathlib import Path
from ellmer_py._batch_state import JobLock
lock = JobLock(Path(sys.argv[1]), "batch_chat")
print("held", flush=True)
time.sleep(120)
"""


def test_a_second_lock_on_the_same_job_is_refused_then_released(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    first = JobLock(path, "batch_chat")
    with pytest.raises(ConfigurationError) as info:
        JobLock(path, "batch_chat_text")
    assert "batch_chat_text(): another process is running the batch job" in str(info.value)
    assert str(path) in str(info.value)
    other = JobLock(tmp_path / "other.json", "batch_chat")  # another job is free
    first.release()
    first.release()  # twice is harmless
    assert os.listdir(tmp_path) == [".other.json.lock"]  # released: its file is gone
    JobLock(path, "batch_chat").release()
    other.release()
    assert os.listdir(tmp_path) == []


def test_a_lock_held_by_a_killed_process_is_free_again(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    path = tmp_path / "job.json"
    child = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        with pytest.raises(ConfigurationError, match="another process is running"):
            JobLock(path, "batch_chat")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert (tmp_path / ".job.json.lock").exists()  # left behind by the killed holder
    lock = JobLock(path, "batch_chat")  # and taken at once
    lock.release()
    assert os.listdir(tmp_path) == []


def test_a_lock_file_removed_while_taking_it_is_taken_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ellmer_py._batch_state as state

    path = tmp_path / "job.json"
    real_lock = state._lock_fd
    removed: list[int] = []

    def lock_then_lose_it(fd: int) -> None:
        real_lock(fd)
        if not removed:  # as if its last holder removed the file just now
            removed.append(fd)
            os.unlink(tmp_path / ".job.json.lock")

    monkeypatch.setattr(state, "_lock_fd", lock_then_lose_it)
    lock = JobLock(path, "batch_chat")
    assert os.path.samestat(os.fstat(lock._fd or -1), os.stat(lock.path))  # the file in place
    lock.release()


def test_a_folder_that_does_not_exist_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        JobLock(tmp_path / "no" / "such" / "job.json", "batch_chat")
    assert "batch_chat(): cannot keep the job's state at" in str(info.value)
    assert "folder that exists" in str(info.value)
