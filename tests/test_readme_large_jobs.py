"""The README's "Large jobs" examples work, offline.

The ``batch_chat`` block runs against a loopback fake of Anthropic's Message
Batches (``chat_anthropic()`` is pointed at it by rewriting the block's
syntax tree, as tests/test_readme.py does for the router), answering each
fruit with its colour; the Dask block runs on a real ``LocalCluster`` of
worker processes against a loopback chat server.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_readme import RESULTS, URL, Block, KeepResults, readme_blocks

import ellmer_py._batch_job as batch_job
from ellmer_py.conformance._protocol import Answer, Usage, protocol_fake
from ellmer_py.conformance.batch_anthropic import AnthropicBatchFake
from ellmer_py.conformance.fake_server import FakeServer

KEY = "sk-ant-readme-large-jobs-0123456789"
BLOCKS = [b for b in readme_blocks("python") if b.section == "Large jobs"]
COLOURS = {"banana": "Yellow", "plum": "Purple", "kiwi": "Brown"}


class ToFakes(ast.NodeTransformer):
    """``chat_anthropic(...)`` and ``chat_huggingface(...)`` get ``base_url=`` the fake's."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in (
            "chat_anthropic",
            "chat_huggingface",
        ):
            node.keywords.append(ast.keyword("base_url", ast.Name(URL, ast.Load())))
        return node


def run(block: Block, base_url: str) -> dict[str, Any]:
    tree = KeepResults().visit(ToFakes().visit(ast.parse(block.code)))
    code = compile(ast.fix_missing_locations(tree), f"README.md:{block.line}", "exec")
    namespace: dict[str, Any] = {"__name__": "__readme__", URL: base_url, RESULTS: []}
    exec(code, namespace)
    return namespace


def colour(key: str, body: Any) -> Answer:
    text = protocol_fake("anthropic-messages").user_text(body)
    fruit = next(f for f in COLOURS if f in text)
    return Answer(text_pieces=(COLOURS[fruit],), usage=Usage(20, 1))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("HUGGINGFACE_API_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(batch_job, "FIRST_WAIT_S", 0.01)
    yield tmp_path


def test_the_section_has_a_batch_and_a_dask_example() -> None:
    assert any("batch_chat" in b.code for b in BLOCKS)
    assert any("LocalCluster" in b.code for b in BLOCKS)


def test_batch_chat_example(env: Path) -> None:
    (block,) = [b for b in BLOCKS if "batch_chat" in b.code]
    fake = AnthropicBatchFake(key=KEY, polls=1, respond=colour)
    with FakeServer(default=fake) as srv:
        ns = run(block, srv.base_url)
    assert not srv.errors, srv.errors
    first, completed = ns[RESULTS]
    assert first is None  # wait=False while the batch runs
    assert completed is True
    assert ns["colours"] == ["Yellow", "Purple", "Brown"]  # the README's comment
    assert fake.created == 1
    state = json.loads((env / "colours.json").read_text())
    assert [c["stage"] for c in state["chunks"]] == ["done"]
    assert KEY not in (env / "colours.json").read_text()


def test_dask_example(env: Path) -> None:
    pytest.importorskip("dask.distributed")
    from test_parallel import completion, prompt_of

    from ellmer_py.conformance.fake_server import RecordedRequest, Reply

    def answer(request: RecordedRequest) -> Reply:
        assert request.headers["authorization"] == f"Bearer {KEY}"
        fruit = next(f for f in ("banana", "plum", "lime") if f in prompt_of(request))
        return Reply.json(
            completion({"banana": "Yellow", "plum": "Purple", "lime": "Green"}[fruit])
        )

    (block,) = [b for b in BLOCKS if "LocalCluster" in b.code]
    with FakeServer(default=answer) as srv:
        ns = run(block, srv.base_url)
    assert not srv.errors, srv.errors
    assert ns["answers"] == ["Yellow", "Purple", "Green"] * 100
    assert len(srv.requests) == 300
