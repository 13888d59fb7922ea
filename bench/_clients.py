"""The clients the benchmark compares, each behind the same two calls.

Every client is a :class:`Client` whose ``make(base_url)`` returns a
:class:`Runner` offering ``request()`` (one non-streamed reply, returns the
assistant text) and ``stream()`` (one streamed reply, yields the text
deltas).  A client speaks one API (:data:`APIS`: OpenAI chat completions,
Anthropic Messages, OpenAI Responses, Gemini, AWS Bedrock Converse); each
API has one raw-urllib3 floor, and ``base_url`` always ends in ``/v1``
(Gemini clients swap it for ``/v1beta``, Bedrock clients drop it).

The runners live in one module per API (``_clients_chat``,
``_clients_anthropic``, ``_clients_responses``, ``_clients_gemini``,
``_clients_bedrock``), which ``make`` imports when it is called.  Nothing
imports a client library at module level: the import happens in the
runner's constructor (or in the import-time probe), in a fresh worker
process, so that import time and memory are charged to the right client.

This module itself imports only ``typing`` (which every client imports
anyway), so loading it into a worker costs next to nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "ANTHROPIC",
    "APIS",
    "BEDROCK",
    "CLIENTS",
    "GEMINI",
    "OPENAI",
    "PROMPT",
    "RESPONSES",
    "Client",
    "Runner",
    "by_key",
    "root_url",
]

#: The APIs benchmarked, in report order.
OPENAI = "openai"
ANTHROPIC = "anthropic"
RESPONSES = "responses"
GEMINI = "gemini"
BEDROCK = "bedrock"
APIS = (OPENAI, ANTHROPIC, RESPONSES, GEMINI, BEDROCK)

#: The user message every client sends.
PROMPT = "hi"


def root_url(base_url: str) -> str:
    """``base_url`` without its ``/v1``, for clients that add the version themselves."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


class Runner:
    """One constructed client, ready to send requests to the bench server."""

    def request(self) -> str:
        """Send one non-streamed request; return the assistant text."""
        raise NotImplementedError

    def stream(self) -> Iterator[str]:
        """Send one streamed request; yield the text deltas."""
        raise NotImplementedError


class Client:
    """A benchmarked client: how to import it, how to build a runner.

    ``import_code`` is the statement timed by the import probe (what a user
    writes first); ``module`` is checked with ``importlib.util.find_spec`` to
    tell "not installed" apart from "fails to import"; ``dist`` names the
    distribution whose version goes into the results.  ``runner`` names the
    :class:`Runner` class as ``"module:Class"``.  ``api`` is the API the
    client speaks (which table it goes in); ``floor`` marks that table's raw
    urllib3 baseline.
    """

    def __init__(
        self,
        key: str,
        label: str,
        module: str,
        dist: str,
        import_code: str,
        runner: str,
        api: str = OPENAI,
        floor: bool = False,
    ) -> None:
        self.key = key
        self.label = label
        self.module = module
        self.dist = dist
        self.import_code = import_code
        self.runner = runner
        self.api = api
        self.floor = floor

    def make(self, base_url: str) -> Runner:
        """Import the runner's module (first time only) and build a runner."""
        module, _, name = self.runner.partition(":")
        runner: Runner = getattr(__import__(module), name)(base_url)
        return runner


_URLLIB3_IMPORT = "import json\nimport urllib3"

CLIENTS: tuple[Client, ...] = (
    # OpenAI chat completions
    Client(
        "urllib3",
        "raw urllib3",
        "urllib3",
        "urllib3",
        _URLLIB3_IMPORT,
        "_clients_chat:Urllib3",
        floor=True,
    ),
    Client(
        "ellmer_py",
        "ellmer-py",
        "ellmer_py",
        "ellmer-py",
        "import ellmer_py",
        "_clients_chat:EllmerPy",
    ),
    Client("openai", "openai SDK", "openai", "openai", "import openai", "_clients_chat:OpenAI"),
    Client(
        "huggingface_hub",
        "huggingface_hub",
        "huggingface_hub",
        "huggingface_hub",
        "from huggingface_hub import InferenceClient",
        "_clients_chat:HuggingFaceHub",
    ),
    Client("chatlas", "chatlas", "chatlas", "chatlas", "import chatlas", "_clients_chat:Chatlas"),
    # Anthropic Messages
    Client(
        "anthropic-urllib3",
        "raw urllib3",
        "urllib3",
        "urllib3",
        _URLLIB3_IMPORT,
        "_clients_anthropic:Urllib3",
        api=ANTHROPIC,
        floor=True,
    ),
    Client(
        "ellmer-py-anthropic",
        "ellmer-py",
        "ellmer_py",
        "ellmer-py",
        "from ellmer_py import chat_anthropic",
        "_clients_anthropic:EllmerPy",
        api=ANTHROPIC,
    ),
    Client(
        "anthropic",
        "anthropic SDK",
        "anthropic",
        "anthropic",
        "import anthropic",
        "_clients_anthropic:AnthropicSDK",
        api=ANTHROPIC,
    ),
    # OpenAI Responses
    Client(
        "responses-urllib3",
        "raw urllib3",
        "urllib3",
        "urllib3",
        _URLLIB3_IMPORT,
        "_clients_responses:Urllib3",
        api=RESPONSES,
        floor=True,
    ),
    Client(
        "ellmer-py-responses",
        "ellmer-py",
        "ellmer_py",
        "ellmer-py",
        "from ellmer_py import chat_openai",
        "_clients_responses:EllmerPy",
        api=RESPONSES,
    ),
    Client(
        "openai-responses",
        "openai SDK",
        "openai",
        "openai",
        "import openai",
        "_clients_responses:OpenAI",
        api=RESPONSES,
    ),
    # Gemini
    Client(
        "gemini-urllib3",
        "raw urllib3",
        "urllib3",
        "urllib3",
        _URLLIB3_IMPORT,
        "_clients_gemini:Urllib3",
        api=GEMINI,
        floor=True,
    ),
    Client(
        "ellmer-py-gemini",
        "ellmer-py",
        "ellmer_py",
        "ellmer-py",
        "from ellmer_py import chat_google_gemini",
        "_clients_gemini:EllmerPy",
        api=GEMINI,
    ),
    Client(
        "google-genai",
        "google-genai",
        "google.genai",
        "google-genai",
        "from google import genai",
        "_clients_gemini:GoogleGenAI",
        api=GEMINI,
    ),
    # AWS Bedrock Converse
    Client(
        "bedrock-urllib3",
        "raw urllib3",
        "urllib3",
        "urllib3",
        _URLLIB3_IMPORT,
        "_clients_bedrock:Urllib3",
        api=BEDROCK,
        floor=True,
    ),
    Client(
        "ellmer-py-bedrock",
        "ellmer-py",
        "ellmer_py",
        "ellmer-py",
        "from ellmer_py import AwsCredentials, chat_aws_bedrock",
        "_clients_bedrock:EllmerPy",
        api=BEDROCK,
    ),
    Client(
        "boto3",
        "boto3",
        "boto3",
        "boto3",
        "import boto3",
        "_clients_bedrock:Boto3",
        api=BEDROCK,
    ),
)


def by_key(key: str) -> Client:
    """Return the client registered under ``key``."""
    for client in CLIENTS:
        if client.key == key:
            return client
    raise KeyError(f"unknown client {key!r}; known: {', '.join(c.key for c in CLIENTS)}")
