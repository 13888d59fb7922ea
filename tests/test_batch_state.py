"""The batch job's state file (ellmer_py._batch_state): atomic, checked, round-tripped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ellmer_py import ConfigurationError
from ellmer_py._batch_state import ChunkState, JobState, job_hash, load_state, save_state


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
