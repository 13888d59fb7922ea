"""Declared model limitations: refused before any request; other models work.

``_usable_model()`` is shared with the checks of the features a limitation
can take away (tools, structured output, images and PDFs).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ellmer_py import (
    Chat,
    Content,
    ContentImageRemote,
    ContentPDF,
    ModelLimitation,
    ModelLimitationError,
    tool,
    type_object,
    type_string,
)

from .._context import Context
from ..fake_server import FakeServer
from ._common import (
    _HELLO,
    _PLAIN,
    _SYSTEM_PROMPT,
    _check,
    _extract,
    _last_request_json,
    _profile,
    _send,
    _short,
)


def conformance_probe(x: int) -> int:
    """Return x unchanged (the tool offered to check a declared "tools" limitation).

    Args:
        x: Any whole number.
    """
    return x


def _ask_with(*contents: Content) -> Callable[[Chat, bool], Any]:
    return lambda chat, stream: _send(chat, stream=stream, contents=contents)


def _ask_tools(chat: Chat, stream: bool) -> Any:
    chat.register_tool(tool(conformance_probe))
    return _send(chat, stream=stream)


def _ask_structured(chat: Chat, stream: bool) -> Any:
    return _extract(chat, type_object(answer=type_string()), stream=stream)


#: How to ask for each feature a ModelLimitation can take away: a description,
#: constructor keywords, and what to do with the chat (streamed or not).
_FEATURES: dict[str, tuple[str, dict[str, Any], Callable[[Chat, bool], Any]]] = {
    "system_prompt": ("a system prompt", {"system_prompt": _SYSTEM_PROMPT}, _ask_with()),
    "images": (
        "an image",
        {},
        _ask_with(ContentImageRemote("https://example.invalid/conformance.png")),
    ),
    "pdf": (
        "a PDF",
        {},
        _ask_with(ContentPDF(b"%PDF-1.4\n%conformance\n%%EOF\n", "conformance.pdf")),
    ),
    "tools": ("a registered tool", {}, _ask_tools),
    "structured_output": ("chat_structured()", {}, _ask_structured),
}


def _refuses(ctx: Context, srv: FakeServer, limitation: ModelLimitation, model: str) -> None:
    what, kwargs, ask = _FEATURES[limitation.feature]
    for stream in (False, True):
        how = "streamed" if stream else "not streamed"
        chat = ctx.make_chat(srv, model=model, **kwargs)
        before = len(srv.requests)
        # if a request does go out, it gets an ordinary answer
        srv.default = ctx.fake.stream(_PLAIN) if stream else ctx.fake.answer(_PLAIN)
        try:
            ask(chat, stream)
        except ModelLimitationError as exc:
            assert exc.feature == limitation.feature and exc.model == model, (
                f"ModelLimitationError for {model!r} names feature={exc.feature!r}, "
                f"model={exc.model!r}"
            )
        except Exception as exc:
            raise AssertionError(
                f"model {model!r} matches the declared limitation {limitation.pattern!r} "
                f"({limitation.feature}): a chat with {what} ({how}) raised "
                f"{type(exc).__name__} instead of ModelLimitationError: {exc}"
            ) from None
        else:
            raise AssertionError(
                f"model {model!r} matches the declared limitation {limitation.pattern!r} "
                f"({limitation.feature}), but a chat with {what} ({how}) was sent "
                "instead of raising ModelLimitationError"
            )
        assert len(srv.requests) == before, (
            f"model {model!r}: ModelLimitationError came after a request was sent; "
            "the refusal must happen before any request"
        )
        assert chat.get_turns() == [], "a refused chat recorded turns"


def _usable_model(ctx: Context, srv: FakeServer, feature: str) -> dict[str, Any] | None:
    """Keywords for a model that can do ``feature``; None when none can (noted).

    When the provider's default model (or the first model the suite tries)
    declares a limitation for it, its refusal is checked first, as the
    limitations check does.
    """
    default = ctx.candidate_models(srv)[0]
    limitation = ctx.limitation(feature, default)
    if limitation is not None:
        _refuses(ctx, srv, limitation, default)
    model = ctx.model_without(srv, feature)
    if model is None:
        ctx.note(
            f"{feature!r} is a declared limitation of every model: only the refusal "
            "(ModelLimitationError before any request) is checked"
        )
    elif limitation is not None:
        ctx.note(
            f"{feature!r} is a declared limitation of {default!r} (its refusal is checked); "
            f"the rest is checked with {model.get('model')!r}"
        )
    return model


def _regex_models(pattern: str) -> st.SearchStrategy[str] | None:
    try:
        models = st.from_regex(pattern, fullmatch=True)
        models.validate()
    except Exception:
        return None
    return models.filter(lambda m: bool(m) and m.isprintable() and m == m.strip())


@_check
def check_limitations(ctx: Context) -> None:
    """Declared model limitations refuse before any request; other models send the prompt.

    For every limitation (features ``system_prompt``, ``images``, ``pdf``,
    ``tools``: registering a tool, ``structured_output``:
    ``chat_structured()``), its ``example`` model and models generated from
    its pattern raise ModelLimitationError when asked for the feature,
    streamed or not, before anything is sent (registering a tool may
    refuse at once); with ``system_prompt_fallback="merge"`` a
    system prompt is folded into the user turn instead. A model without a
    system_prompt limitation sends the system prompt the way the protocol
    says.
    """
    fake = ctx.fake
    with ctx.server() as srv:
        srv.default = fake.answer(_PLAIN)
        for limitation in ctx.spec.limitations:
            if limitation.feature not in _FEATURES:
                ctx.note(
                    f"limitation {limitation.feature!r} on {limitation.pattern!r} not checked: "
                    f"the suite knows how to ask for {', '.join(_FEATURES)}"
                )
                continue
            if limitation.example is not None:
                assert limitation.matches(limitation.example), (
                    f"ModelLimitation(pattern={limitation.pattern!r}) example "
                    f"{limitation.example!r} does not match its own pattern"
                )
            models = _regex_models(limitation.pattern)
            if limitation.example is None and models is None:
                raise AssertionError(
                    f"cannot make a model matching {limitation.pattern!r}: give the "
                    "ModelLimitation an example= model id"
                )
            if limitation.example is not None:
                _refuses(ctx, srv, limitation, limitation.example)
                if limitation.feature == "system_prompt":
                    _merges(ctx, srv, limitation.example)
            if models is not None:

                @_profile()
                @given(model=models)
                def law(model: str) -> None:
                    _refuses(ctx, srv, limitation, model)  # noqa: B023 - called at once

                law()

        srv.default = fake.answer(_PLAIN)
        before = len(srv.requests)
        ctx.make_chat(srv, **ctx.unlimited_model(srv), system_prompt=_SYSTEM_PROMPT).chat(_HELLO)
        body = _last_request_json(srv, before)
        sent = fake.system_prompt(body)
        assert sent == _SYSTEM_PROMPT, (
            f"a model without declared limitations must send the system prompt as the "
            f"{ctx.spec.protocol} protocol says; it sent {_short(sent)}"
        )


def _merges(ctx: Context, srv: FakeServer, model: str) -> None:
    """With ``system_prompt_fallback="merge"`` the prompt goes in the user turn."""
    if not _takes(ctx.spec.chat_function, "system_prompt_fallback"):
        ctx.note("the constructor has no system_prompt_fallback=: merge not checked")
        return
    chat = ctx.make_chat(
        srv, model=model, system_prompt=_SYSTEM_PROMPT, system_prompt_fallback="merge"
    )
    srv.enqueue(ctx.fake.answer(_PLAIN))
    before = len(srv.requests)
    chat.chat(_HELLO)
    body = _last_request_json(srv, before)
    assert ctx.fake.system_prompt(body) is None, (
        f"system_prompt_fallback='merge' on {model!r} still sent a system prompt"
    )
    assert _SYSTEM_PROMPT in ctx.fake.user_text(body) and _HELLO in ctx.fake.user_text(body), (
        f"system_prompt_fallback='merge' on {model!r} did not fold the prompt into the user turn"
    )


def _takes(function: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return True
    return name in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
