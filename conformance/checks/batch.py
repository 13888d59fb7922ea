"""``batch_chat()`` against a fake of the provider's batch API (R: ``batch_chat()``).

A provider whose ``ProviderSpec`` names a batch API is run through a whole
job against that API's fake server (``ellmer_py.conformance.batch_openai``,
``batch_anthropic``, ``batch_gemini``, or the fake a third-party
``BatchApi`` names in its ``fake`` attribute, ``"module:attribute"``); a
provider without one must refuse ``batch_chat()`` with an error naming the
providers that have one.
"""

from __future__ import annotations

import importlib
import tempfile
import warnings
from pathlib import Path
from typing import Any

from attrs import evolve

from ellmer_py import BatchItemError, Chat, ConfigurationError, batch_chat, batch_chat_text

from .._batch_fake import BatchFake, ItemError
from .._context import Context
from ..fake_server import FakeServer
from ._common import _check

#: The fake of each built-in batch API.
FAKES = {
    "openai-batch": "ellmer_py.conformance.batch_openai:OpenAIBatchFake",
    "anthropic-batch": "ellmer_py.conformance.batch_anthropic:AnthropicBatchFake",
    "gemini-batch": "ellmer_py.conformance.batch_gemini:GeminiBatchFake",
}
_PROMPTS = ["Say one", "Say two", "Say three", "Say four", "Say five"]


def _fake_class(api: Any) -> type[BatchFake]:
    where = getattr(api, "fake", None) or FAKES.get(api.name)
    if where is None:
        raise AssertionError(
            f"ellmer_py.conformance has no fake server for the batch API {api.name!r}; give the "
            "BatchApi a fake='module:attribute' naming a BatchFake subclass."
        )
    module, _, attribute = where.partition(":")
    fake: type[BatchFake] = getattr(importlib.import_module(module), attribute)
    return fake


def _expected(prompt: str) -> str:
    return f"echo: {prompt}"


def _with_limits(chat: Chat, **limits: int) -> Chat:
    """The same chat, its batch API's limits lowered (to make the job split)."""
    provider = chat.get_provider()
    assert provider.batch is not None
    api: Any = provider.batch  # an attrs class, as the built-in ones are
    return Chat(evolve(provider, batch=evolve(api, **limits)), chat.get_system_prompt())


def _texts(chat: Chat, path: Path, prompts: list[str] = _PROMPTS, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return batch_chat_text(chat, prompts, path, progress=False, **kwargs)


@_check
def check_batch(ctx: Context) -> None:
    """A whole batch job: submitted once, resumed without resubmitting, answers in order.

    For a provider with a batch API: the answers come back in prompt order
    (the fake returns them shuffled), one batch is created, calling again
    with the same arguments creates none and returns the same answers from
    the state file, ``wait=False`` returns None while the batch runs, a
    job over the API's limits is split into several batches, a failed item
    is reported in its own slot without sinking the rest, the state file
    never holds the credential, and reusing it for other prompts is an
    error. A provider without one refuses with a ConfigurationError naming
    ``batch_chat()``'s providers.
    """
    api = ctx.spec.batch
    with tempfile.TemporaryDirectory(prefix="ellmer-conformance-batch-") as folder:
        if api is None:
            with ctx.server() as srv:
                chat = ctx.make_chat(srv)
                try:
                    batch_chat(chat, ["hi"], Path(folder, "none.json"))
                except ConfigurationError as exc:
                    assert "batch" in str(exc) and "parallel_chat" in str(exc), str(exc)
                else:
                    raise AssertionError("batch_chat() ran for a provider with no batch API")
                assert not srv.requests, "batch_chat() sent requests for a provider without one"
            return
        fake_class = _fake_class(api)
        _whole_job(ctx, fake_class, Path(folder))
        _split_and_failures(ctx, fake_class, Path(folder))


def _whole_job(ctx: Context, fake_class: type[BatchFake], folder: Path) -> None:
    fake = fake_class(key=ctx.key, polls=1)
    with FakeServer(default=fake) as srv:
        chat = ctx.make_chat(srv, system_prompt="Be brief.")
        path = folder / "job.json"
        assert _texts(chat, path, wait=False) is None, "wait=False returned before the batch ended"
        assert fake.created == 1, f"{fake.created} batches were created for one job"
        texts = _texts(chat, path)
        assert texts == [_expected(p) for p in _PROMPTS], f"answers out of order: {texts}"
        seen = len(fake.requests_seen)
        again = _texts(chat, path)
        assert again == texts, f"the resumed job answered {again}, first {texts}"
        assert len(fake.requests_seen) == seen, "a finished job sent requests again: " + ", ".join(
            fake.requests_seen[seen:]
        )
        assert fake.created == 1, "a finished job was submitted again"
        state = path.read_text(encoding="utf-8")
        assert ctx.key not in state, "the state file holds the credential"
        chats = batch_chat(chat, _PROMPTS, path, progress=False)
        assert chats is not None
        first = chats[0]
        assert isinstance(first, Chat), f"batch_chat() gave {first!r}"
        turns = first.get_turns()
        assert [t.role for t in turns] == ["user", "assistant"], turns
        assert turns[0].text == _PROMPTS[0]
        assert first.get_system_prompt() == "Be brief.", "the chat's system prompt was lost"
        tokens = first.get_tokens()
        assert tokens and tokens[-1]["output"] == 5, f"the answer's tokens were lost: {tokens}"
        try:
            _texts(chat, path, prompts=[*_PROMPTS[:4], "Something else"])
        except ConfigurationError as exc:
            assert "prompts" in str(exc) and "ignore_hash" in str(exc), str(exc)
        else:
            raise AssertionError("a state file was reused for other prompts without an error")
    if srv.errors:
        raise AssertionError(f"the fake server failed while serving: {srv.errors!r}")


def _split_and_failures(ctx: Context, fake_class: type[BatchFake], folder: Path) -> None:
    def respond(key: str, body: Any) -> Any:
        from .._batch_fake import echo_answer

        if key == "chat-3":
            return ItemError(status=400, message="conformance: this one fails")
        return echo_answer(protocol, body)

    protocol = ctx.spec.protocol
    fake = fake_class(key=ctx.key, polls=0, respond=respond, max_items=2)
    with FakeServer(default=fake) as srv:
        chat = _with_limits(ctx.make_chat(srv), max_items=2)
        path = folder / "split.json"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            chats = batch_chat(chat, _PROMPTS, path, progress=False)
        assert fake.created == 3, f"5 prompts at 2 a batch made {fake.created} batches, not 3"
        assert chats is not None and len(chats) == len(_PROMPTS)
        failed = chats[2]
        assert isinstance(failed, BatchItemError), f"the failed prompt's slot holds {failed!r}"
        assert "this one fails" in str(failed), (
            f"the failed prompt's error does not give the API's reason: {failed}"
        )
        assert failed.index == 2, f"the failed prompt's error names prompts[{failed.index}]"
        for i, item in enumerate(chats):
            if i != 2:
                assert isinstance(item, Chat), f"prompts[{i}] gave {item!r}"
                assert item.get_turns()[-1].text == _expected(_PROMPTS[i])
        said = [str(w.message) for w in caught]
        assert any("prompts[2]" in m and "1 of 5" in m for m in said), said
    if srv.errors:
        raise AssertionError(f"the fake server failed while serving: {srv.errors!r}")
