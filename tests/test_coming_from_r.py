"""README "Coming from R": every Python spelling in its table runs (issue 12).

The rows run in order in one namespace (``chat`` made by the first is used
by the next ones), with ``chat_openai`` and ``models_openai`` pointed at a
loopback server. The server answers as a model would, from the request:
JSON fitting the schema when structured output is asked for, a call of the
first tool when tools are offered and no result came back yet, else text.
"""

from __future__ import annotations

import asyncio
import functools
import re
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import ellmer_py
from ellmer_py.conformance._protocol import Answer, ToolCall, Usage
from ellmer_py.conformance.batch_openai import OpenAIBatchFake
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply
from ellmer_py.conformance.openai_responses import FAKE

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = "Hello from the loopback model."


def table_rows() -> list[tuple[str, str]]:
    """The (R, Python) code of each row of the section's table."""
    section = README.read_text(encoding="utf-8").split("## Coming from R", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(.+?)` \| `(.+?)` \|$", section, flags=re.MULTILINE)
    assert len(rows) >= 20, "the README's 'Coming from R' table is missing or cut short"
    return rows


def fitting(schema: Mapping[str, Any]) -> Any:
    """A value that fits a JSON schema (the parts structured output uses)."""
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return fitting(schema[key][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        return {name: fitting(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [fitting(schema.get("items", {"type": "string"}))]
    return {"string": "Ann", "integer": 30, "number": 1.5, "boolean": True}.get(str(kind))


def model(request: RecordedRequest) -> Reply:
    """Answer one request as a model would."""
    if request.method == "GET":  # models_openai()
        return Reply.json({"data": [{"id": "gpt-4.1", "created": 0, "owned_by": "openai"}]})
    body = request.json
    usage = Usage(input=12, output=3)
    items = body["input"]
    answered = any(isinstance(i, dict) and i.get("type") == "function_call_output" for i in items)
    text_format = body.get("text", {}).get("format", {})
    tools = FAKE.tools_offered(body)
    if text_format.get("type") == "json_schema":
        import json

        answer = Answer(text_pieces=(json.dumps(fitting(text_format["schema"])),), usage=usage)
    elif tools and not answered:
        name, spec = next(iter(tools.items()))
        call = ToolCall(id="call_1", name=name, arguments=fitting(spec["parameters"]))
        answer = Answer(tool_calls=(call,), usage=usage)
    else:
        answer = Answer(text_pieces=(TEXT[:10], TEXT[10:]), usage=usage)
    return FAKE.stream(answer) if body.get("stream") else FAKE.answer(answer)


#: OpenAI's Batch API, for the batch_chat rows (files and batches), answering as the model.
BATCH = re.compile(r"/(files|batches)(/|$)")


@pytest.fixture
def batches() -> OpenAIBatchFake:
    return OpenAIBatchFake(polls=0, respond=lambda key, body: Answer(text_pieces=(TEXT,)))


@pytest.fixture
def srv(batches: OpenAIBatchFake) -> Iterator[FakeServer]:
    def route(request: RecordedRequest) -> Reply:
        return batches(request) if BATCH.search(request.path.split("?")[0]) else model(request)

    with FakeServer(default=route) as server:
        yield server
    assert not server.errors, server.errors


def draw(n: int) -> list[float]:
    """Draws ``n`` numbers (the tool of the table's tool row)."""
    return [0.5] * n


def test_every_python_spelling_in_the_table_runs(
    srv: FakeServer,
    batches: OpenAIBatchFake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-coming-from-r")
    monkeypatch.chdir(tmp_path)  # the batch rows' state file
    namespace: dict[str, Any] = {name: getattr(ellmer_py, name) for name in ellmer_py.__all__}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace.update(
        plt=plt,
        asyncio=asyncio,
        draw=draw,
        chat_openai=functools.partial(ellmer_py.chat_openai, base_url=srv.base_url, echo="none"),
        models_openai=functools.partial(ellmer_py.models_openai, base_url=srv.base_url),
    )
    for r_code, python in table_rows():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # R's echo = "text" row
                exec(compile(python, "<README>", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{python!r} (R: {r_code!r}) failed: {exc!r}") from exc
    chat = namespace["chat"]
    assert chat.get_system_prompt() == "Be kind."
    cloned = namespace["chat2"].get_turns()  # the clone did not see what chat said after
    assert chat.get_turns()[: len(cloned)] == cloned and len(chat.get_turns()) > len(cloned)
    sent = [r.json for r in srv.requests if r.method == "POST" and not BATCH.search(r.path)]
    # the tool row: the model called draw(n=30) and the result went back
    outputs = [
        item
        for body in sent
        for item in body["input"]
        if item.get("type") == "function_call_output"
    ]
    assert outputs and "0.5" in outputs[0]["output"]
    printed = capsys.readouterr().out
    assert TEXT in printed  # the streamed story was printed
    assert "<Chat OpenAI/" in printed and "── user ──" in printed  # and so was print(chat)
    assert any(r.method == "GET" and r.path.endswith("/models") for r in srv.requests)
    assert batches.created == 1 and (tmp_path / "greetings.json").exists()  # the batch rows


def test_the_table_pairs_each_r_call_with_its_python_spelling() -> None:
    for r_code, python in table_rows():
        r_names = set(re.findall(r"([A-Za-z_]\w*)\(", r_code))
        py_names = set(re.findall(r"([A-Za-z_]\w*)\(", python))
        # R's list() and cat() are Python's; rnorm is R's tool, draw Python's; a
        # string stands for ContentText() in a Turn
        missing = r_names - py_names - {"list", "c", "cat", "rnorm", "ContentText"}
        assert not missing, f"{python!r} does not use {sorted(missing)} as R's {r_code!r} does"
