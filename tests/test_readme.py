"""Every example in README.md works, offline.

Each ```python block of the README runs on its own (a fresh namespace, as a
reader would paste it) against a loopback FakeServer that plays the Hugging
Face router: the calls that would reach the internet are pointed at it by
rewriting the block's syntax tree (``base_url=`` of ``chat_huggingface()``,
``chat("huggingface/...")``, ``chat_openai_compatible()`` and
``models_huggingface()``, and the URL of ``content_pdf_url()``), and nothing
else changes. The fake answers in kind: a tool call when tools are offered,
JSON that fits the schema when structured output is asked for, a text answer
otherwise, streamed when asked, with usage and an ``x-inference-provider``
header, and the router's model list (with prices) on ``GET /models``.

Then each block's results are checked against what the README says, and the
README's other claims that code can check are checked: the two commands at
the top, every name a block imports, the ``base_url`` positions, and the
names of ``ellmer_py.plugin`` it mentions.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import ellmer_py
from ellmer_py import plugin
from ellmer_py._registry import reload_plugins
from ellmer_py._tokens import _local_token_usage
from ellmer_py.conformance._protocol import Answer, ToolCall, Usage
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply
from ellmer_py.conformance.openai_chat import completion, sse_bytes

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
KEY = "hf_readme_test_key_0123456789"
TEXT = ("Canned ", "answer.")
USAGE = Usage(input=41, output=23)
#: What the fake router charges for the README's model on novita (dollars per million tokens).
MODEL_LIST = {
    "object": "list",
    "data": [
        {
            "id": "meta-llama/Llama-3.1-8B-Instruct",
            "object": "model",
            "created": 1721292960,
            "owned_by": "meta-llama",
            "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
            "providers": [
                {
                    "provider": "novita",
                    "status": "live",
                    "context_length": 16384,
                    "pricing": {"input": 0.02, "output": 0.05},
                    "supports_tools": False,
                    "supports_structured_output": False,
                },
                {
                    "provider": "cerebras",
                    "status": "live",
                    "pricing": {"input": 0.1, "output": 0.1},
                },
            ],
        },
        {
            "id": "Qwen/Qwen2.5-VL-72B-Instruct",
            "object": "model",
            "created": 1737936000,
            "owned_by": "Qwen",
            "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]},
            "providers": [
                {"provider": "nebius", "status": "live", "pricing": {"input": 0.25, "output": 0.75}}
            ],
        },
    ],
}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


# -- the README's blocks --------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int
    section: str

    @property
    def id(self) -> str:
        return f"line{self.line}-{re.sub(r'[^a-z]+', '-', self.section.lower()).strip('-')}"


def readme_blocks(lang: str) -> list[Block]:
    """The fenced code blocks of README.md in ``lang``, with the section each is in."""
    blocks, section, fence, start, lines = [], "", None, 0, README.read_text("utf-8").split("\n")
    body: list[str] = []
    for number, line in enumerate(lines, 1):
        if fence is None:
            if line.startswith("#"):
                section = line.lstrip("#").strip()
            elif line.startswith("```"):
                fence, start, body = line[3:].strip(), number + 1, []
        elif line.startswith("```"):
            blocks.append(Block(fence, "\n".join(body) + "\n", start, section))
            fence = None
        else:
            body.append(line)
    assert fence is None, "README.md has an unclosed code fence"
    return [b for b in blocks if b.lang == lang]


#: "Large jobs" talks to batch APIs and a Dask cluster: tests/test_readme_large_jobs.py runs it.
SEPARATE = ("Large jobs",)
PYTHON = [b for b in readme_blocks("python") if b.section not in SEPARATE]


# -- the fake router -------------------------------------------------------------------


def instance(schema: Mapping[str, Any]) -> Any:
    """A small JSON value that fits ``schema`` (the shapes ellmer-py's type_*() produce)."""
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return instance(schema["anyOf"][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        return {name: instance(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [instance(schema.get("items", {})) for _ in range(2)]
    return {"integer": 7, "number": 1.5, "boolean": True}.get(str(kind), "text")


def answer_for(body: Mapping[str, Any]) -> Answer:
    """A tool call when tools are offered (once), JSON for a schema, else text."""
    tools = body.get("tools") or []
    messages = body.get("messages") or []
    if tools and not any(m.get("role") == "tool" for m in messages):
        function = tools[0]["function"]
        call = ToolCall("call_1", function["name"], instance(function.get("parameters", {})))
        return Answer(tool_calls=(call,), finish_reason="tool_calls", usage=USAGE)
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        data = instance(response_format["json_schema"]["schema"])
        return Answer(text_pieces=(json.dumps(data),), usage=USAGE)
    return Answer(text_pieces=TEXT, usage=USAGE)


def respond(request: RecordedRequest) -> Reply:
    path = request.path.partition("?")[0]
    if request.method == "GET" and path.endswith("/models"):
        return Reply.json(MODEL_LIST)
    if request.method == "GET" and path.endswith(".pdf"):
        return Reply.raw(200, PDF, content_type="application/pdf")
    body = request.json or {}
    answer = answer_for(body)
    headers = {"x-inference-provider": "novita"}
    if body.get("stream"):
        return Reply.sse([sse_bytes(answer)], headers=headers)
    return Reply.json(completion(answer), headers=headers)


# -- pointing a block at the fake ---------------------------------------------------------

URL = "__readme_base_url__"
RESULTS = "__readme_results__"


class ToFake(ast.NodeTransformer):
    """Point the calls that would reach the internet at the fake server; keep the rest."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        name = func.id if isinstance(func, ast.Name) else None
        url = ast.Name(URL, ast.Load())
        if name in ("chat_huggingface", "chat", "chat_openai_compatible", "models_huggingface"):
            if name == "chat" and not (
                node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).startswith("huggingface/")
            ):
                return node
            given = [k for k in node.keywords if k.arg == "base_url"]
            if name in ("chat_openai_compatible", "models_huggingface") and node.args:
                node.args[0] = url
            elif given:
                given[0].value = url
            else:
                node.keywords.append(ast.keyword("base_url", url))
                if name == "chat_huggingface":  # the fake plays the router: price its answers
                    node.keywords.append(ast.keyword("pricing", ast.Constant(True)))
            if not any(k.arg == "max_tries" for k in node.keywords):
                node.keywords.append(ast.keyword("max_tries", ast.Constant(1)))
        elif name == "content_pdf_url":
            node.args[0] = ast.BinOp(url, ast.Add(), ast.Constant("/paper.pdf"))
        return node


class KeepResults(ast.NodeTransformer):
    """Record the value of each top-level expression statement, as a REPL would show it."""

    def visit_Module(self, node: ast.Module) -> ast.AST:
        body: list[ast.stmt] = []
        for stmt in node.body:
            if isinstance(stmt, ast.Expr) and not (
                isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Name)
                and stmt.value.func.id == "print"
            ):
                append = ast.Attribute(ast.Name(RESULTS, ast.Load()), "append", ast.Load())
                stmt = ast.Expr(ast.Call(append, [stmt.value], []))
            body.append(stmt)
        node.body = body
        return node


def run_block(block: Block, base_url: str) -> dict[str, Any]:
    tree = KeepResults().visit(ToFake().visit(ast.parse(block.code)))
    code = compile(
        ast.fix_missing_locations(tree), f"README.md:{block.line}", "exec", dont_inherit=True
    )
    namespace: dict[str, Any] = {"__name__": "__readme__", URL: base_url, RESULTS: []}
    exec(code, namespace)
    return namespace


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer(default=respond) as server:
        yield server
    assert not server.errors, server.errors


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A key for Hugging Face only, no plugin filter, files the README reads, a clean log."""
    for name in ("ELLMER_PY_PLUGINS", "HF_TOKEN", "OPENAI_API_KEY", "ELLMER_ECHO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUGGINGFACE_API_KEY", KEY)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "10")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photo.png").write_bytes(png(4, 3))
    (tmp_path / "paper.pdf").write_bytes(PDF)
    reload_plugins()
    with _local_token_usage():
        yield tmp_path
    reload_plugins()


def png(width: int, height: int) -> bytes:
    """A small valid RGB PNG, made without any image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    rows = b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def chat_requests(srv: FakeServer) -> list[RecordedRequest]:
    return [r for r in srv.requests if r.path.endswith("/chat/completions")]


# -- every block runs ----------------------------------------------------------------


def test_the_readme_has_the_examples_it_should() -> None:
    sections = {b.section for b in PYTHON}
    assert {
        "Using it",
        "Tools and structured data",
        "Images and PDFs",
        "Async and parallel",
        "Tokens and cost",
        "Writing a provider",
    } <= sections


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_block_imports_only_names_that_exist(block: Block) -> None:
    for node in ast.walk(ast.parse(block.code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ellmer_py"):
            module = importlib.import_module(node.module or "")
            missing = [a.name for a in node.names if not hasattr(module, a.name)]
            assert missing == [], f"README.md:{block.line} imports {missing} from {node.module}"


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_block_runs(
    block: Block, srv: FakeServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if "resize=" in block.code:
        pytest.importorskip("PIL", reason="the README's resize= example needs Pillow (dev extra)")
    namespace = run_block(block, srv.base_url)
    for request in chat_requests(srv):
        assert request.headers["authorization"] == f"Bearer {KEY}"
    check = CHECKS.get(block.section)
    if check is not None:
        check(namespace, srv, capsys.readouterr().out)


# -- what each block must have done -----------------------------------------------------


def check_using_it(ns: dict[str, Any], srv: FakeServer, out: str) -> None:
    if not isinstance(ns.get("chat"), ellmer_py.Chat):  # the block of constructors
        made = [r for r in ns[RESULTS] if isinstance(r, ellmer_py.Chat)]
        assert [c.get_model() for c in made] == ["tgi", "llama3.2", "Qwen/Qwen2.5-7B-Instruct"]
        assert chat_requests(srv) == []
        return
    chat = ns["chat"]
    assert ns[RESULTS][0] == "Canned answer."
    assert "Canned answer." in out  # the streamed pieces were printed
    (first, second) = chat_requests(srv)
    assert first.json["stream"] is False
    assert second.json["stream"] is True
    assert first.json["temperature"] == 0.2
    assert first.json["max_tokens"] == 200
    assert first.json["messages"][0] == {"role": "system", "content": "Be terse."}
    assert [t.role for t in chat.get_turns()] == ["user", "assistant"] * 2
    assert [row["input"] for row in chat.get_tokens()] == [41, 41]


def check_tools(ns: dict[str, Any], srv: FakeServer, out: str) -> None:
    chat = ns["chat"]
    if "get_weather" in ns:
        results = [
            c
            for t in chat.get_turns()
            for c in t.contents
            if isinstance(c, ellmer_py.ContentToolResult)
        ]
        assert [(r.value, r.error) for r in results] == [
            ("12 degrees text and windy in text", None)
        ]
        assert ns[RESULTS][-1] == "Canned answer."
        assert [r.json["tools"][0]["function"]["name"] for r in chat_requests(srv)] == [
            "get_weather",
            "get_weather",
        ]
        return
    people, article = ns[RESULTS]
    person = ns["Person"]
    assert people == [person(name="text", age=7), person(name="text", age=7)]
    assert article == {"title": "text", "authors": ["text", "text"]}
    first, second = chat_requests(srv)
    assert "wrapper" in first.json["response_format"]["json_schema"]["schema"]["properties"]
    assert second.json["response_format"]["json_schema"]["strict"] is True


def check_images(ns: dict[str, Any], srv: FakeServer, out: str) -> None:
    parts = [
        [p for p in r.json["messages"][-1]["content"] if p["type"] != "text"]
        for r in chat_requests(srv)
    ]
    assert [p["type"] for (p,) in parts] == ["image_url", "image_url", "file", "file"]
    assert parts[0][0]["image_url"]["url"] == "https://www.r-project.org/logo/Rlogo.png"
    assert parts[1][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert [p[0]["file"]["filename"] for p in parts[2:]] == ["paper.pdf", "paper.pdf"]
    assert any(r.path.endswith("/paper.pdf") and r.method == "GET" for r in srv.requests)


def check_async(ns: dict[str, Any], srv: FakeServer, out: str) -> None:
    assert out.count("Canned answer.") == 2  # chat_async() printed, stream_async() printed
    _, texts, structured = ns[RESULTS]  # asyncio.run() returns None
    assert texts == ["Canned answer."] * 3
    assert [type(c) for c in ns["chats"]] == [ellmer_py.Chat] * 3
    assert structured == [{"name": "text", "age": 7}] * 2
    assert len(chat_requests(srv)) == 2 + 3 + 3 + 2


def check_tokens(ns: dict[str, Any], srv: FakeServer, out: str) -> None:
    answer, tokens, cost, usage = ns[RESULTS]
    assert answer == "Canned answer."
    # the values the README's comment shows
    assert tokens == [
        {
            "role": "assistant",
            "input": 41,
            "output": 23,
            "cached_input": 0,
            "cost": pytest.approx(1.97e-06),
        }
    ]
    assert cost == pytest.approx(1.97e-06)
    assert usage == [
        {
            "provider": "HuggingFace",
            "model": "meta-llama/Llama-3.1-8B-Instruct:novita",
            "input": 41,
            "output": 23,
            "cached_input": 0,
            "cost": pytest.approx(1.97e-06),
        }
    ]
    assert "meta-llama/Llama-3.1-8B-Instruct novita 16384 0.02 0.05 False" in out
    assert "Qwen/Qwen2.5-VL-72B-Instruct nebius None 0.25 0.75 None" in out


def check_writing_a_provider(ns: dict[str, Any], srv: FakeServer, out: str) -> None:
    specs: list[plugin.ProviderSpec] = []
    ns["ellmer_py_register_providers"](specs.append)
    (spec,) = specs
    assert spec.name == "example"
    made = spec.chat_function(**spec.conformance_kwargs(srv.base_url), credentials=lambda: "k-1")
    assert made.chat("Hi") == "Canned answer."
    (request,) = chat_requests(srv)
    assert request.json["model"] == "example-large"
    assert request.headers["authorization"] == "Bearer k-1"
    with pytest.raises(ellmer_py.DeprecatedArgumentError):
        spec.chat_function(api_key="sk-123")
    tiny = spec.chat_function(
        base_url=srv.base_url, model="example-tiny-1", system_prompt="Hi", credentials=lambda: "k"
    )
    with pytest.raises(ellmer_py.ModelLimitationError, match="use example-large"):
        tiny.chat("Hi")


CHECKS = {
    "Using it": check_using_it,
    "Tools and structured data": check_tools,
    "Images and PDFs": check_images,
    "Async and parallel": check_async,
    "Tokens and cost": check_tokens,
    "Writing a provider": check_writing_a_provider,
}


# -- the rest of what the README promises -------------------------------------------------


def test_toml_block_declares_the_entry_point() -> None:
    (block,) = readme_blocks("toml")
    # tomllib is 3.11+; the block is two lines, so read it by hand on every version
    lines = [ln for ln in block.code.splitlines() if ln and not ln.startswith("#")]
    assert lines == ["[project.entry-points.ellmer_py]", 'example = "ellmer_py_example"']
    if sys.version_info >= (3, 11):
        import tomllib

        assert tomllib.loads(block.code)["project"]["entry-points"]["ellmer_py"] == {
            "example": "ellmer_py_example"
        }


def test_the_two_commands_at_the_top() -> None:
    first = readme_blocks("sh")[0].code
    commands = [line for line in first.split("\n") if line and not line.startswith("#")]
    assert commands == [
        'python3 -m pip install -e . && python3 -m ellmer_py "Tell me three jokes about '
        'statisticians"',
        "python3 -m pip install tox && python3 -m tox",
    ]
    # the second: tox runs the tests on 3.10-3.13, lint and types, as the comment says
    tox = (ROOT / "tox.ini").read_text("utf-8")
    (env_list,) = re.findall(r"^env_list = (.*)$", tox, flags=re.MULTILINE)
    assert env_list.split(", ") == ["py310", "py311", "py312", "py313", "lint", "type"]
    assert "python3 -m tox" in (ROOT / ".ci" / "run").read_text("utf-8")


def test_the_first_command_chats(srv: FakeServer, tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ELLMER", "HF_"))}
    environ.update(
        HUGGINGFACE_API_KEY=KEY, HF_HOME=str(tmp_path), ELLMER_MAX_TRIES="1", PYTHONUTF8="1"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ellmer_py",
            "--base-url",
            srv.base_url,
            "Tell me three jokes about statisticians",
        ],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.strip() == "Canned answer."
    (request,) = chat_requests(srv)
    assert request.json["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert request.json["messages"] == [
        {"role": "user", "content": "Tell me three jokes about statisticians"}
    ]


def _differs_bullet(start: str) -> str:
    text = README.read_text("utf-8")
    section = text.split("## Where ellmer-py differs from R's ellmer", 1)[1].split("\n## ", 1)[0]
    (bullet,) = [b for b in section.split("\n- ") if b.startswith(start)]
    return bullet


def test_base_url_positions_are_as_the_readme_says() -> None:
    bullet = _differs_bullet("`base_url` stays where R has it")
    positional, keyword_only = bullet.split("added as a", 1)
    for names, kind in (
        (positional, inspect.Parameter.POSITIONAL_OR_KEYWORD),
        (keyword_only, inspect.Parameter.KEYWORD_ONLY),
    ):
        functions = re.findall(r"`(chat_\w+)\(\)`", names)
        assert len(functions) >= 6
        for name in functions:
            parameter = inspect.signature(getattr(ellmer_py, name)).parameters["base_url"]
            assert parameter.kind is kind, name
    assert next(iter(inspect.signature(ellmer_py.chat_openai_compatible).parameters)) == (
        "base_url"
    )
    named = set(re.findall(r"`(chat_\w+)\(\)`", bullet))
    assert named == {n for n in ellmer_py.__all__ if n.startswith("chat_")}


def test_content_image_file_resize_default_is_as_the_readme_says() -> None:
    assert '`resize="none"`' in _differs_bullet("`content_image_file()`")
    default = inspect.signature(ellmer_py.content_image_file).parameters["resize"].default
    assert default == "none"


def test_plugin_names_the_readme_mentions_exist() -> None:
    text = README.read_text("utf-8")
    section = text.split("## Writing a provider", 1)[1].split("\n## ", 1)[0]
    prose = re.sub(r"```.*?```", "", section, flags=re.DOTALL)
    paragraph = prose.split("`ellmer_py.plugin` also has", 1)[1].split("\n\n", 1)[0]
    names = set(re.findall(r"`(\w+)(?:\(\))?`", paragraph))
    assert len(names) >= 12
    assert names <= set(plugin.__all__)
    keywords = set(re.findall(r"`(\w+)=`", paragraph))
    assert keywords == {"auth_header", "auth_prefix", "url_params", "user_agent", "prices"}
    assert keywords <= set(inspect.signature(plugin.build_chat).parameters)


def test_the_providers_table_matches_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELLMER_PY_PLUGINS", raising=False)
    reload_plugins()
    text = README.read_text("utf-8")
    table = text.split("### Providers", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    rows = [[cell.strip() for cell in row.strip("|").split("|")] for row in table.split("\n")[2:]]
    built_in = sorted(n for n in ellmer_py.__all__ if n.startswith("chat_"))
    assert sorted(row[0].strip("`()") for row in rows) == built_in
    for constructor, name, key, model in rows:
        spec = ellmer_py.get_provider_spec(name.strip("`"))
        assert getattr(ellmer_py, constructor.strip("`()")) is spec.chat_function
        if spec.retired:
            assert "retired" in key
            continue
        assert all(f"`{env}`" in key for env in spec.credential_env), name
        if spec.default_model is None:
            assert model.startswith("none: "), name
        else:
            assert model == f"`{spec.default_model}`", name
    reload_plugins()
