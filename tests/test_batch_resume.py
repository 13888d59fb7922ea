"""Kill a real ``batch_chat()`` process at each step and run it again: it resumes.

The batch API's fake runs in this process; the job runs in a child Python
process that the test kills (SIGKILL: no clean-up, no ``finally``) while a
chosen request is in flight, held by the fake until the child is dead:

- the request that creates the batch: the batch exists on the server but the
  child never learned its id; the next run must find it, not create another;
- a poll of the running batch;
- the download of the results;

and, without holding anything, at a few moments spread over a whole run.
After each kill the job is run again to its end: exactly one batch was ever
created, every answer is there in prompt order, and the state file is whole
at every moment (it is written atomically).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ellmer_py.conformance.batch_anthropic import AnthropicBatchFake
from ellmer_py.conformance.batch_gemini import GeminiBatchFake
from ellmer_py.conformance.batch_openai import OpenAIBatchFake
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply

KEY = "resume-test-key-0123456789"
PROMPTS = [f"Question {i}" for i in range(7)]

#: API -> (constructor, env var of its key, the fake, pattern of: create, poll, download).
APIS: dict[str, tuple[str, str, Any, tuple[str, str, str]]] = {
    "openai": (
        "chat_openai",
        "OPENAI_API_KEY",
        OpenAIBatchFake,
        (r"^POST .*/batches$", r"^GET .*/batches/[^/?]+$", r"^GET .*/files/[^/]+/content"),
    ),
    "groq": (
        "chat_groq",
        "GROQ_API_KEY",
        OpenAIBatchFake,
        (r"^POST .*/batches$", r"^GET .*/batches/[^/?]+$", r"^GET .*/files/[^/]+/content"),
    ),
    "anthropic": (
        "chat_anthropic",
        "ANTHROPIC_API_KEY",
        AnthropicBatchFake,
        (
            r"^POST .*/messages/batches$",
            r"^GET .*/messages/batches/[^/?]+$",
            r"^GET .*/messages/batches/[^/]+/results",
        ),
    ),
    "gemini": (
        "chat_google_gemini",
        "GEMINI_API_KEY",
        GeminiBatchFake,
        (r"^POST .*:batchGenerateContent$", r"^GET .*/batches/[^/?:]+$", r"^GET .*:download"),
    ),
}

CHILD = """
import json, sys
import ellmer_py
make = getattr(ellmer_py, sys.argv[1])
chat = make(base_url=sys.argv[2], system_prompt="Be brief.")
texts = ellmer_py.batch_chat_text(chat, json.loads(sys.argv[4]), sys.argv[3], progress=False)
print(json.dumps(texts))
"""


class Holder:
    """A responder around a fake: holds the reply to the first request matching a pattern."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.pattern: re.Pattern[str] | None = None
        self.arrived = threading.Event()
        self.release = threading.Event()

    def hold(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)
        self.arrived.clear()
        self.release.clear()

    def __call__(self, request: RecordedRequest) -> Reply:
        reply: Reply = self.fake(request)  # the fake acts first: a create creates
        line = f"{request.method} {request.path.split('?')[0]}"
        if self.pattern is not None and self.pattern.search(line):
            self.pattern = None
            self.arrived.set()
            self.release.wait(30)
        return reply


@pytest.fixture(params=sorted(APIS))
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _base_url(api: str, srv: FakeServer) -> str:
    root = srv.base_url.rstrip("/").removesuffix("/v1")
    return {
        "openai": f"{root}/v1",
        "groq": f"{root}/openai/v1",
        "anthropic": f"{root}/v1",
        "gemini": f"{root}/v1beta/",
    }[api]


def _start(api: str, srv: FakeServer, path: Path) -> subprocess.Popen[str]:
    function, env_var, _, _ = APIS[api]
    env = {**os.environ, env_var: KEY, "ELLMER_MAX_TRIES": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            function,
            _base_url(api, srv),
            str(path),
            json.dumps(PROMPTS),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> list[str]:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return list(json.loads(out.strip().splitlines()[-1]))


def _kill(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.communicate(timeout=30)


def _expected() -> list[str]:
    return [f"echo: {p}" for p in PROMPTS]


@pytest.fixture
def served(api: str) -> Iterator[tuple[Any, Holder, FakeServer]]:
    fake = APIS[api][2](key=KEY, polls=1)
    holder = Holder(fake)
    with FakeServer(default=holder) as srv:
        yield fake, holder, srv
        holder.release.set()


@pytest.mark.parametrize("step", ["create", "poll", "download"])
def test_killed_in_a_step_resumes_without_resubmitting(
    api: str, step: str, served: tuple[Any, Holder, FakeServer], tmp_path: Path
) -> None:
    fake, holder, srv = served
    path = tmp_path / "job.json"
    create, poll, download = APIS[api][3]
    holder.hold({"create": create, "poll": poll, "download": download}[step])
    child = _start(api, srv, path)
    assert holder.arrived.wait(60), f"the child never sent the {step} request: {fake.requests_seen}"
    _kill(child)
    holder.release.set()
    assert fake.created == 1
    state = json.loads(path.read_text())  # whole, whatever the moment
    assert (
        state["chunks"][0]["stage"]
        == {
            "create": "submitting",
            "poll": "waiting",
            "download": "retrieving",
        }[step]
    )
    assert _finish(_start(api, srv, path)) == _expected()
    assert fake.created == 1, f"the resumed job created another batch: {fake.requests_seen}"
    creates = [r for r in fake.requests_seen if re.search(create, r.split("?")[0])]
    assert len(creates) == 1, creates


def test_killed_at_any_moment_resumes(
    api: str, served: tuple[Any, Holder, FakeServer], tmp_path: Path
) -> None:
    fake, _, srv = served
    path = tmp_path / "job.json"
    for n in range(1, 40):  # kill after the child has sent n requests, until it gets through
        child = _start(api, srv, path)
        deadline = time.monotonic() + 60
        start = len(fake.requests_seen)
        while child.poll() is None and len(fake.requests_seen) < start + n:
            assert time.monotonic() < deadline, "the child hangs"
            time.sleep(0.005)
        if child.poll() is not None:
            break
        _kill(child)
        if path.exists():
            json.loads(path.read_text())  # never half written
    assert _finish(_start(api, srv, path)) == _expected()
    assert fake.created == 1, fake.requests_seen
    assert os.listdir(tmp_path) == ["job.json"]  # no temporary file of a killed save is left


def test_different_prompts_with_the_same_file_are_refused(
    api: str, served: tuple[Any, Holder, FakeServer], tmp_path: Path
) -> None:
    fake, _, srv = served
    path = tmp_path / "job.json"
    assert _finish(_start(api, srv, path)) == _expected()
    function, env_var, _, _ = APIS[api]
    code = CHILD.replace("json.loads(sys.argv[4])", "['another prompt']")
    result = subprocess.run(
        [sys.executable, "-c", code, function, _base_url(api, srv), str(path), "[]"],
        env={**os.environ, env_var: KEY},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "ConfigurationError" in result.stderr and "ignore_hash=True" in result.stderr
    assert KEY not in result.stderr
    assert fake.created == 1
