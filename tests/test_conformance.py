"""The conformance suite over every registered provider, and proof that its checks can fail.

``test_provider_conforms`` is parametrized by provider and check, so CI
output shows each cell of the provider x check table. The rest builds
deliberately broken providers (each breaking one promise), registers them
with ``register_plugin`` for one test, and asserts that the check for that
promise raises AssertionError, while a correct control provider built the
same way passes everything.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import Phase, settings

from ellmer_py import (
    AssistantTurn,
    Chat,
    EllmerError,
    HTTPStatusError,
    MissingCredentialsError,
    ModelLimitation,
    ModelLimitationError,
    Params,
    Provider,
    ProviderSpec,
    chat,
    get_protocol_spec,
    get_provider_spec,
    hookimpl,
    list_protocols,
    list_providers,
    tool,
    type_boolean,
)
from ellmer_py._credentials import as_credentials, env_credentials, reject_api_key
from ellmer_py._protocols.openai_chat import OpenAIChat
from ellmer_py._registry import register_plugin, unregister_plugin
from ellmer_py._sse import ServerSentEvent
from ellmer_py._transport import Transport
from ellmer_py._turn import Turn
from ellmer_py.conformance import (
    CHECKS,
    CheckResult,
    ConformanceTests,
    Context,
    FakeServer,
    format_results,
    run_check,
    run_provider,
)
from ellmer_py.conformance.__main__ import main
from ellmer_py.conformance.checks import PROFILE

ALL_CHECKS = list(CHECKS)

# The suite runs 20 examples a hypothesis check by default. Here, under the
# quick "ci" test profile (tests/conftest.py), 10 are enough for the
# provider x check cells; "dev" runs 50; ELLMER_PY_CONFORMANCE_EXAMPLES wins.
if not os.environ.get("ELLMER_PY_CONFORMANCE_EXAMPLES"):
    settings.register_profile(
        PROFILE,
        settings.get_profile(PROFILE),
        max_examples=10 if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci" else 50,
    )


def _registered() -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list_providers()


# -- every registered provider, every check ------------------------------------


# The checks send answers cut off by max_tokens on purpose; the warning that
# follows is the library doing its job (the runner ignores it too).
@pytest.mark.filterwarnings("ignore:.*the answer was cut off:UserWarning")
@pytest.mark.parametrize("check", ALL_CHECKS)
@pytest.mark.parametrize("provider", _registered())
def test_provider_conforms(provider: str, check: str) -> None:
    CHECKS[check](Context(get_provider_spec(provider)))


def test_the_suite_has_the_checks_the_issue_lists() -> None:
    assert ALL_CHECKS == [
        "api_args",
        "api_headers",
        "api_key",
        "credentials",
        "sigv4_signing",
        "limitations",
        "params",
        "streaming",
        "finish_reason",
        "errors",
        "record_replay",
        "tools",
        "structured",
        "images",
        "async",
        "batch",
    ]


# -- a provider built the way providers/openai_compatible.py is, with knobs to break it --

ENV = ("CONFORMANCE_TEST_KEY", "CONFORMANCE_TEST_TOKEN")
LIMITED = ModelLimitation(
    pattern=r"nosys/.*", feature="system_prompt", advice="no system role", example="nosys/one"
)
NO_TOOLS = ModelLimitation(
    pattern=r"notools/.*", feature="tools", advice="no tools here", example="notools/one"
)
NO_JSON = ModelLimitation(
    pattern=r"nojson/.*", feature="structured_output", advice="no schemas", example="nojson/one"
)
#: What the test providers declare (and, unless told otherwise, enforce).
LIMITS = (LIMITED, NO_TOOLS, NO_JSON)


class HeadersLast(Provider):
    """Broken: api_headers are applied after authentication, so they can replace it."""

    def authenticated(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        out = super().authenticated(method, url, headers, body)
        out.update(self.api_headers)
        return out


class StreamDropsUsage(OpenAIChat):
    """Broken: a streamed answer loses its token counts."""

    def parse_event(self, event: ServerSentEvent) -> Any:
        doc = super().parse_event(event)
        if isinstance(doc, dict):
            doc.pop("usage", None)
        return doc


class OneErrorClass(Provider):
    """Broken: every HTTP error becomes a plain EllmerError."""

    def chat_perform(self, turns: Sequence[Turn], **kwargs: Any) -> AssistantTurn:
        try:
            return super().chat_perform(turns, **kwargs)
        except HTTPStatusError as exc:
            raise EllmerError(str(exc), provider=self.name) from None


class KeepsHeadersInTurn(Provider):
    """Broken: the answer's text keeps the request headers, credential included.

    (A credential in an answer's raw JSON or partial reason is redacted by the
    core before the turn is recorded; its contents are the model's own.)
    """

    def chat_perform(self, turns: Sequence[Turn], **kwargs: Any) -> AssistantTurn:
        from attrs import evolve

        from ellmer_py import ContentText

        turn = super().chat_perform(turns, **kwargs)
        headers = ContentText(repr(self.auth_only_headers()))
        return evolve(turn, contents=(*turn.contents, headers))


class DropsTools(OpenAIChat):
    """Broken: the tools never reach the request body."""

    def chat_body(self, turns: Sequence[Turn], **kwargs: Any) -> dict[str, Any]:
        return super().chat_body(turns, **{**kwargs, "tools": ()})


class DropsToolResults(OpenAIChat):
    """Broken: the tool results are never sent back to the model."""

    def chat_body(self, turns: Sequence[Turn], **kwargs: Any) -> dict[str, Any]:
        body = super().chat_body(turns, **kwargs)
        body["messages"] = [m for m in body["messages"] if m.get("role") != "tool"]
        return body


class FirstArgumentDeltaOnly(OpenAIChat):
    """Broken: streamed tool-call argument deltas after the first are lost."""

    def parse_event(self, event: ServerSentEvent) -> Any:
        doc = super().parse_event(event)
        for choice in (doc or {}).get("choices") or []:
            calls = (choice.get("delta") or {}).get("tool_calls") or []
            if calls and all("id" not in c for c in calls):
                choice["delta"].pop("tool_calls")
        return doc


class IgnoresResponseFormat(OpenAIChat):
    """Broken: chat_structured() asks for no schema."""

    def chat_body(self, turns: Sequence[Turn], **kwargs: Any) -> dict[str, Any]:
        return super().chat_body(turns, **{**kwargs, "type": None})


class NeverWraps(OpenAIChat):
    """Broken: a non-object type is sent as it is, though the protocol takes objects only."""

    def needs_wrapper(self, type: Any, *, model: str | None = None) -> bool:
        return False


class DropsImages(OpenAIChat):
    """Broken: images are dropped from the user message."""

    def chat_body(self, turns: Sequence[Turn], **kwargs: Any) -> dict[str, Any]:
        body = super().chat_body(turns, **kwargs)
        for message in body["messages"]:
            if isinstance(message.get("content"), list):
                message["content"] = [p for p in message["content"] if p["type"] != "image_url"]
        return body


class ForgetfulAsync(Chat):
    """Broken: chat_async() talks through a copy, so the chat never records the turns."""

    async def chat_async(self, *args: Any, echo: Any = "none") -> str:
        return await Chat.chat_async(self.copy(), *args, echo=echo)


class DropsPartialOnCancel(Chat):
    """Broken: cancelling stream_async() throws away the partial turn."""

    def stream_async(self, *args: Any, **kwargs: Any) -> Any:
        inner = super().stream_async(*args, **kwargs)
        chat = self

        class Stream:
            def __aiter__(self) -> Stream:
                return self

            async def __anext__(self) -> Any:
                before = len(chat.get_turns())
                try:
                    return await inner.__anext__()
                except asyncio.CancelledError:
                    chat.set_turns(chat.get_turns()[:before])
                    raise

        return Stream()


class SilentParams(OpenAIChat):
    """Broken: temperature is dropped without a warning."""

    def wire_params(self, params: Params | None) -> dict[str, Any]:
        out = super().wire_params(params)
        out.pop("temperature", None)
        return out


def make_chat_function(
    name: str,
    *,
    provider_class: type[Provider] = Provider,
    protocol: OpenAIChat | None = None,
    takes_api_key: bool = False,
    key_in_api_key_error: bool = False,
    api_args_dropped: bool = False,
    limitations_kept: bool = True,
    limitations: Sequence[ModelLimitation] = LIMITS,
    env_read_early: bool = False,
    chat_class: type[Chat] = Chat,
) -> Callable[..., Chat]:
    """A chat_<name>() like chat_openai_compatible(), with one promise optionally broken."""

    def chat_function(
        system_prompt: str | None = None,
        params: Params | None = None,
        api_key: str | None = None,
        credentials: Callable[[], Any] | None = None,
        model: str | None = None,
        api_args: Mapping[str, Any] | None = None,
        echo: Any = None,
        api_headers: Mapping[str, str] | None = None,
        *,
        base_url: str = "https://broken.invalid/v1",
        system_prompt_fallback: Any = "error",
        max_tries: int | None = None,
        timeout_s: float | None = None,
    ) -> Chat:
        if key_in_api_key_error and api_key is not None:
            from ellmer_py import DeprecatedArgumentError

            raise DeprecatedArgumentError(f"api_key={api_key!r} is not accepted")
        if not takes_api_key:
            reject_api_key(f"chat_{name}", api_key, env=ENV)
        default = env_credentials(name, ENV)
        if env_read_early:
            found = next((os.environ[n] for n in ENV if os.environ.get(n)), None)

            def default() -> str:
                if found is None:
                    raise MissingCredentialsError(f"No {name} credentials: set {ENV}.")
                return found

        if takes_api_key and api_key is not None:
            creds: Any = lambda: api_key  # noqa: E731
        else:
            creds = as_credentials(f"chat_{name}", default, credentials, env=ENV)
        provider = provider_class(
            name=name,
            model=model or "broken-default-model",
            base_url=base_url,
            protocol=protocol or OpenAIChat(),
            params=params,
            api_args={} if api_args_dropped or api_args is None else api_args,
            api_headers=api_headers or {},
            credentials=creds,
            limitations=limitations if limitations_kept else (),
            transport=Transport(name, max_tries=max_tries, timeout_s=timeout_s),
        )
        return chat_class(
            provider, system_prompt, echo, system_prompt_fallback=system_prompt_fallback
        )

    chat_function.__name__ = f"chat_{name}"
    return chat_function


def spec_for(
    name: str,
    retired: str | None = None,
    declared: Sequence[ModelLimitation] = LIMITS,
    default_model: str | None = None,
    **breakage: Any,
) -> ProviderSpec:
    """A spec declaring the ``declared`` limitations; ``breakage`` goes to make_chat_function."""
    return ProviderSpec(
        name=name,
        chat_function=make_chat_function(name, **breakage),
        default_model=default_model,
        credential_sources=ENV,
        credential_env=ENV,
        limitations=declared,
        retired=retired,
    )


class Plugin:
    """A plugin object offering one provider, as a third-party module would."""

    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec

    @hookimpl
    def ellmer_py_register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
        register(self.spec)


@pytest.fixture
def registered() -> Iterator[Callable[[ProviderSpec], ProviderSpec]]:
    """Register provider specs for one test; unregister them afterwards.

    Hypothesis does not shrink the failures these tests provoke on purpose
    (shrinking a failing check costs seconds of requests; it stays on for
    real runs, where the smallest failing example is worth it).
    """
    saved = settings.get_profile(PROFILE)
    settings.register_profile(PROFILE, saved, phases=[Phase.explicit, Phase.reuse, Phase.generate])
    plugins: list[Plugin] = []

    def register(spec: ProviderSpec) -> ProviderSpec:
        plugin = Plugin(spec)
        register_plugin(plugin, name=f"conformance-test-{spec.name}")
        plugins.append(plugin)
        return get_provider_spec(spec.name)

    yield register
    for plugin in plugins:
        unregister_plugin(plugin)
    settings.register_profile(PROFILE, saved)


def failure(spec: ProviderSpec, check: str) -> str:
    """Run one check that must fail; its AssertionError message."""
    with pytest.raises(AssertionError) as info:
        CHECKS[check](Context(spec))
    return str(info.value)


def test_a_correct_provider_built_the_same_way_passes_every_check(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("control"))
    results = run_provider(spec)
    assert [(r.check, r.status) for r in results] == [(c, "PASS") for c in ALL_CHECKS], (
        format_results(results)
    )


def test_api_args_check_fails_when_api_args_are_dropped(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("drops_api_args", api_args_dropped=True))
    assert "is not modify_list(default_body, api_args)" in failure(spec, "api_args")


def test_api_headers_check_fails_when_api_headers_override_auth(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("headers_last", provider_class=HeadersLast))
    message = failure(spec, "api_headers")
    assert "changed the Authorization header" in message
    assert "authentication must win over api_headers" in message


def test_api_key_check_fails_when_the_constructor_accepts_api_key(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("takes_api_key", takes_api_key=True))
    assert failure(spec, "api_key") == (
        "takes_api_key's constructor accepted api_key=; it must reject it"
    )


def test_api_key_check_fails_when_the_error_repeats_the_key(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("leaks_api_key", key_in_api_key_error=True))
    assert failure(spec, "api_key") == "leaks_api_key(api_key=...) repeats the key in its error"


def test_limitations_check_fails_when_a_declared_limitation_is_ignored(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("ignores_limits", limitations_kept=False))
    message = failure(spec, "limitations")
    assert message.startswith("model 'nosys/one' matches the declared limitation 'nosys/.*'")
    assert "instead of raising ModelLimitationError" in message


def test_limitations_check_fails_when_a_tools_limitation_is_ignored(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("ignores_no_tools", limitations=(LIMITED, NO_JSON)))
    assert failure(spec, "limitations") == (
        "model 'notools/one' matches the declared limitation 'notools/.*' (tools), but a chat "
        "with a registered tool (not streamed) was sent instead of raising ModelLimitationError"
    )


def test_limitations_check_fails_when_a_structured_output_limitation_is_ignored(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("ignores_no_json", limitations=(LIMITED, NO_TOOLS)))
    # the plain answer the fake server gives is no JSON: chat_structured() fails late
    assert failure(spec, "limitations").startswith(
        "model 'nojson/one' matches the declared limitation 'nojson/.*' (structured_output): "
        "a chat with chat_structured() (not streamed) raised StructuredOutputError instead of "
        "ModelLimitationError"
    )


def test_tools_check_fails_when_the_protocol_drops_the_tools(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("drops_tools", protocol=DropsTools()))
    assert failure(spec, "tools") == (
        "one tool call (not streamed), first request: the request offers the tools [], "
        "expected ['conformance_add', 'conformance_fail', 'conformance_upper']"
    )


def test_tools_check_fails_when_tool_results_are_not_sent_back(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("drops_tool_results", protocol=DropsToolResults()))
    assert failure(spec, "tools") == (
        "one tool call (not streamed): the second request sends the tool results [], expected "
        "[('call_conformance_1', '42')] (the result, with the id of the call it answers)"
    )


def test_tools_check_fails_when_streamed_argument_deltas_are_lost(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("first_delta_only", protocol=FirstArgumentDeltaOnly()))
    assert failure(spec, "tools") == (
        "one tool call (streamed): the tool ran as [], expected conformance_add(a=2, b=40) once"
    )


def test_tools_check_fails_when_a_tools_limitation_is_not_enforced(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    everything = ModelLimitation(r".*", "tools", example="any/model")
    spec = registered(spec_for("tools_not_refused", declared=(everything,), limitations=(LIMITED,)))
    assert failure(spec, "tools") == (
        "model 'conformance/plain-model' matches the declared limitation '.*' (tools), but a chat "
        "with a registered tool (not streamed) was sent instead of raising ModelLimitationError"
    )


def test_a_provider_without_tools_passes_the_tools_check_with_a_note(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    everything = ModelLimitation(r".*", "tools", example="any/model")
    spec = registered(
        spec_for("no_tools_at_all", declared=(everything,), limitations=(everything,))
    )
    result = run_check(spec, "tools")
    assert (result.status, result.notes) == (
        "PASS*",
        (
            "'tools' is a declared limitation of every model: only the refusal "
            "(ModelLimitationError before any request) is checked",
        ),
    )


def test_a_limited_default_model_is_refused_and_the_rest_checked_with_another(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("limited_default_json", default_model="nojson/default"))
    result = run_check(spec, "structured")
    assert (result.status, result.notes) == (
        "PASS*",
        (
            "'structured_output' is a declared limitation of 'nojson/default' (its refusal is "
            "checked); the rest is checked with 'conformance/plain-model'",
        ),
    ), result.failure


def test_structured_check_fails_when_response_format_is_ignored(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("ignores_schema", protocol=IgnoresResponseFormat()))
    assert failure(spec, "structured") == (
        "chat_structured(type=type_boolean()) (not streamed): the request does not ask for "
        "structured output"
    )


def test_structured_check_fails_when_a_non_object_type_is_not_wrapped(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("never_wraps", protocol=NeverWraps()))
    # the answer comes wrapped, as the protocol says: unwrapped, it does not fit
    assert failure(spec, "structured").startswith(
        "chat_structured(type=type_boolean()) (not streamed) raised StructuredOutputError for "
        "an answer that fits"
    )


def test_images_check_fails_when_images_are_dropped(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("drops_images", protocol=DropsImages()))
    assert failure(spec, "images").startswith(
        "images (not streamed): the request carries [], expected [Media(kind='image_url'"
    )


def test_async_check_fails_when_chat_async_does_not_record_the_turns(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("forgetful_async", chat_class=ForgetfulAsync))
    assert failure(spec, "async").startswith("chat_async() recorded [], chat() [UserTurn(")


def test_async_check_fails_when_cancelling_loses_the_partial_turn(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("drops_partial", chat_class=DropsPartialOnCancel))
    assert failure(spec, "async") == (
        "cancelling stream_async() must leave the user turn and an AssistantPartialTurn with "
        "what arrived; the turns are []"
    )


def test_params_check_fails_when_a_param_is_silently_dropped(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("silent_params", protocol=SilentParams()))
    message = failure(spec, "params")
    assert message.startswith("params(temperature=0.37) was silently dropped")


def test_credentials_check_fails_when_the_env_var_is_read_at_construction(
    registered: Callable[[ProviderSpec], ProviderSpec],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONFORMANCE_TEST_KEY", "set-before-the-chat-was-made")
    spec = registered(spec_for("reads_env_early", env_read_early=True))
    message = failure(spec, "credentials")
    assert "read when the request goes out" in message or "MissingCredentialsError" in message


def test_streaming_check_fails_when_streamed_usage_is_lost(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("drops_usage", protocol=StreamDropsUsage()))
    assert failure(spec, "streaming").startswith("streamed turns differ")


def test_errors_check_fails_when_error_classes_differ(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("one_error_class", provider_class=OneErrorClass))
    message = failure(spec, "errors")
    assert message.startswith(
        "HTTP 401 (not streamed) raised EllmerError, expected AuthenticationError"
    )


def test_record_replay_check_fails_when_a_turn_keeps_the_credential(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("keeps_headers", provider_class=KeepsHeadersInTurn))
    assert failure(spec, "record_replay") == "the record contains the credential"


def test_a_retired_provider_that_still_works_fails_every_check(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("not_really_retired", retired="the service shut down"))
    for check in ALL_CHECKS:
        assert failure(spec, check) == (
            "not_really_retired is declared retired, but its constructor (with no arguments) "
            "made a chat"
        )


# -- the runner, the command line and the pytest class ---------------------------


def test_run_check_reports_a_failure_instead_of_raising(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    spec = registered(spec_for("drops_api_args2", api_args_dropped=True))
    result = run_check(spec, "api_args")
    assert (result.provider, result.check, result.passed, result.status) == (
        "drops_api_args2",
        "api_args",
        False,
        "FAIL",
    )
    assert result.failure is not None
    assert "is not modify_list(default_body, api_args)" in result.failure
    assert "law(\n    api_args=" in result.failure  # hypothesis says which api_args


def test_a_protocol_without_a_fake_fails_every_check_saying_so() -> None:
    spec = ProviderSpec(
        name="other_wire",
        chat_function=make_chat_function("other_wire"),
        protocol="smoke-signals",
    )
    result = run_check(spec, "errors")
    known = ", ".join(sorted(n for n in list_protocols() if get_protocol_spec(n).fake))
    assert (result.passed, result.failure) == (
        False,
        "ellmer_py.conformance has no fake server for the wire protocol 'smoke-signals' "
        f"(it knows: {known}). Register the protocol with a fake= in "
        "its ProtocolSpec (hook ellmer_py_register_protocols).",
    )


def test_format_results_draws_the_table_with_notes_and_failures() -> None:
    results = [
        CheckResult("alpha", "api_args", True),
        CheckResult("alpha", "errors", True, ("one note",)),
        CheckResult("beta", "api_args", False, (), "it broke"),
        CheckResult("beta", "errors", True),
    ]
    assert format_results(results) == (
        "provider  api_args  errors\n"
        "--------  --------  ------\n"
        "alpha     PASS      PASS*\n"
        "beta      FAIL      PASS\n"
        "\n"
        "PASS* = passed, with a note:\n"
        "  alpha (errors): one note\n"
        "\n"
        "Failures:\n"
        "  beta / api_args:\n"
        "      it broke\n"
        "\n"
        "2 provider(s) x 2 check(s): 3 passed, 1 failed."
    )


def test_main_exits_0_and_prints_the_table_when_every_check_passes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["openai_compatible", "--check", "api_key", "--check", "errors"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:3] == [
        "provider           api_key  errors",
        "-----------------  -------  ------",
        "openai_compatible  PASS     PASS",
    ]
    assert out.rstrip().endswith("1 provider(s) x 2 check(s): 2 passed, 0 failed.")


def test_main_exits_1_when_a_check_fails(
    registered: Callable[[ProviderSpec], ProviderSpec],
    capsys: pytest.CaptureFixture[str],
) -> None:
    registered(spec_for("takes_api_key2", takes_api_key=True))
    assert main(["takes_api_key2", "--check", "api_key"]) == 1
    out = capsys.readouterr().out
    assert "takes_api_key2  FAIL" in out
    assert "takes_api_key2's constructor accepted api_key=; it must reject it" in out


def test_main_lists_the_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ALL_CHECKS


def test_main_rejects_unknown_providers_and_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no_such_provider"]) == 2
    assert "No provider called 'no_such_provider' is registered" in capsys.readouterr().err
    assert main(["huggingface", "--check", "nope"]) == 2
    assert "Unknown check 'nope'" in capsys.readouterr().err


def test_command_without_hypothesis_says_how_to_install_it() -> None:
    code = (
        "import sys, runpy; sys.modules['hypothesis'] = None; sys.argv = ['conformance'];"
        "runpy.run_module('ellmer_py.conformance', run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "The conformance suite needs hypothesis: pip install 'ellmer-py[conformance]'\n"
    )


def test_importing_the_package_does_not_import_hypothesis() -> None:
    code = (
        "import sys; import ellmer_py.conformance as c; "
        "assert 'hypothesis' not in sys.modules, 'hypothesis imported'; "
        "c.FakeServer; assert 'hypothesis' not in sys.modules; c.CHECKS; "
        "assert 'hypothesis' in sys.modules; print('ok')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "ok\n", "")


class TestConformanceTestsOnHuggingFace(ConformanceTests):
    """The pytest base class plugin authors subclass, used on a built-in provider."""

    provider = "huggingface"


def test_conformance_tests_has_one_method_per_check() -> None:
    methods = sorted(m for m in vars(ConformanceTests) if m.startswith("test_"))
    assert methods == sorted(f"test_{c}" for c in ALL_CHECKS)


def test_conformance_tests_without_a_provider_says_what_to_set() -> None:
    class TestNothing(ConformanceTests):
        pass

    with pytest.raises(AssertionError, match=r"TestNothing needs provider = '<name>'"):
        TestNothing().test_api_key()  # type: ignore[attr-defined]


def test_chat_through_the_registry_reaches_a_registered_test_provider(
    registered: Callable[[ProviderSpec], ProviderSpec],
) -> None:
    registered(spec_for("control2"))
    with FakeServer() as srv:
        from ellmer_py.conformance._protocol import Answer
        from ellmer_py.conformance.openai_chat import FAKE

        srv.enqueue(FAKE.answer(Answer(text_pieces=("pong",))))
        made = chat("control2/some-model", base_url=srv.base_url, credentials=lambda: "k")
        assert made.chat("ping", echo="none") == "pong"
        assert srv.requests[0].json["model"] == "some-model"


# -- the Context a check is given ---------------------------------------------------


def test_make_chat_points_the_provider_at_the_server_and_keywords_win() -> None:
    ctx = Context(spec_for("ctx_test"))
    with ctx.server() as srv:
        made = ctx.make_chat(srv, model="chosen", max_tries=2)
        provider = made.get_provider()
        assert (provider.base_url, provider.model, provider.transport.max_tries) == (
            srv.base_url,
            "chosen",
            2,
        )
        assert provider.transport.timeout_s == 10.0
        assert made.get_echo() == "none"
        assert provider.auth_only_headers()["Authorization"] == f"Bearer {ctx.key}"


def test_unlimited_model_avoids_a_default_model_with_a_system_prompt_limitation() -> None:
    limited_default = ProviderSpec(
        name="limited_default",
        chat_function=make_chat_function("limited_default"),
        default_model="nosys/default",
        limitations=(LIMITED,),
    )
    with FakeServer() as srv:
        assert Context(limited_default).unlimited_model(srv) == {"model": "conformance/plain-model"}
        fine = ProviderSpec(
            name="fine_default",
            chat_function=make_chat_function("fine_default"),
            default_model="fine/default",
            limitations=(LIMITED,),
        )
        assert Context(fine).unlimited_model(srv) == {}
        # no default model known: name one that is surely free of limitations
        assert Context(spec_for("unknown")).unlimited_model(srv) == {
            "model": "conformance/plain-model"
        }


def test_isolated_environment_hides_credentials_and_home_then_restores_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONFORMANCE_TEST_KEY", "secret-1")
    monkeypatch.setenv("HF_HOME", "/somewhere/hf")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    before = dict(os.environ)
    ctx = Context(spec_for("env_test"))
    with ctx.isolated_environment():
        assert "CONFORMANCE_TEST_KEY" not in os.environ
        assert "HF_HOME" not in os.environ
        home = os.environ["HOME"]
        assert os.environ["XDG_CACHE_HOME"] == home
        assert os.listdir(home) == []
        os.environ["CONFORMANCE_TEST_TOKEN"] = "set-inside"
    assert dict(os.environ) == before
    assert not os.path.exists(home)


# -- the refusals the checks hold every provider to, and the protocol fake's readers --


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_a_tools_limitation_refuses_on_registering_and_after_set_model() -> None:
    ctx = Context(spec_for("refuses_tools"))
    with ctx.server() as srv:
        limited = ctx.make_chat(srv, model="notools/x")
        with pytest.raises(ModelLimitationError) as info:
            limited.register_tool(tool(add))
        assert (info.value.feature, info.value.model, info.value.provider) == (
            "tools",
            "notools/x",
            "refuses_tools",
        )
        assert str(info.value) == (
            "refuses_tools: the model 'notools/x' does not support tool calling. no tools here."
        )
        with pytest.raises(ModelLimitationError):
            limited.register_tools([add])
        with pytest.raises(ModelLimitationError):
            limited.set_tools([add])
        assert limited.set_tools([]).get_tools() == []

        moved = ctx.make_chat(srv).register_tool(tool(add)).set_model("notools/y")
        with pytest.raises(ModelLimitationError, match="'notools/y' does not support tool"):
            moved.chat("Hello")
        with pytest.raises(ModelLimitationError):
            list(moved.stream("Hello"))
        assert srv.requests == []
        assert moved.get_turns() == []


def test_a_structured_output_limitation_refuses_before_any_request() -> None:
    ctx = Context(spec_for("refuses_json"))
    with ctx.server() as srv:
        limited = ctx.make_chat(srv, model="nojson/x").register_tool(tool(add))
        with pytest.raises(ModelLimitationError) as info:
            limited.chat_structured("Is it?", type=type_boolean())
        assert (info.value.feature, str(info.value)) == (
            "structured_output",
            "refuses_json: the model 'nojson/x' does not support structured output. no schemas.",
        )
        assert srv.requests == [] and limited.get_turns() == []


def test_the_fake_reads_what_an_openai_chat_body_carries() -> None:
    from ellmer_py.conformance._protocol import Media, ToolCall
    from ellmer_py.conformance.openai_chat import FAKE

    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
                    {
                        "type": "file",
                        "file": {
                            "filename": "a.pdf",
                            "file_data": "data:application/pdf;base64,JVBE",
                        },
                    },
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "two"}]},
        ],
        "tools": [
            {"type": "function", "function": {"name": "f", "description": "F.", "parameters": {}}}
        ],
    }
    assert FAKE.media(body) == [
        Media("image_url", "https://x.test/a.png"),
        Media("image", b"\x89PN", mime="image/png"),
        Media("pdf", b"%PD", filename="a.pdf"),
    ]
    assert FAKE.tool_calls_sent(body) == [ToolCall("c1", "f", {}), ToolCall("c2", "g", "{")]
    assert FAKE.tool_results_sent(body) == [("c1", "one"), ("c2", "two")]
    assert FAKE.tools_offered(body) == {"f": {"description": "F.", "parameters": {}}}
    assert FAKE.structured_schema(body) is None
    schema = {"type": "object"}
    wanted = {"type": "json_schema", "json_schema": {"name": "n", "schema": schema, "strict": True}}
    assert FAKE.structured_schema({"response_format": wanted}) == schema
    assert (FAKE.needs_wrapper(schema), FAKE.needs_wrapper({"type": "string"})) == (False, True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"response_format": {"type": "json_object"}},
            "response_format must be {'type': 'json_schema', 'json_schema': {'name': ..., "
            "'schema': {...}, 'strict': ...}}, not {'type': 'json_object'}",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "audio", "x": 1}]}]},
            "a user message part of unknown type 'audio': {'type': 'audio', 'x': 1}",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "file", "file": {"file_data": "x"}}]}
                ]
            },
            "a file part must be {'file': {'filename': ..., 'file_data': "
            "'data:application/pdf;base64,...'}}: {'type': 'file', 'file': {'file_data': 'x'}}",
        ),
    ],
)
def test_the_fake_rejects_shapes_the_protocol_does_not_define(body: Any, message: str) -> None:
    from ellmer_py.conformance.openai_chat import FAKE

    with pytest.raises(AssertionError) as info:
        FAKE.structured_schema(body) if "response_format" in body else FAKE.media(body)
    assert str(info.value) == message


def test_a_scripted_tool_call_checks_that_its_pieces_join_to_the_arguments() -> None:
    from ellmer_py.conformance._protocol import ToolCall

    assert ToolCall("c", "f", {"a": 1}).argument_pieces == ('{"a": 1}',)
    assert ToolCall("c", "f", raw_arguments="{").arguments_text == "{"
    with pytest.raises(ValueError, match="do not join to the arguments text"):
        ToolCall("c", "f", {"a": 1}, pieces=('{"a"', "}"))


def test_model_without_finds_a_model_free_of_a_limitation() -> None:
    ctx = Context(spec_for("finds_models", default_model="notools/default"))
    everything = ModelLimitation(r".*", "tools")
    with FakeServer() as srv:
        assert ctx.default_model(srv) == "notools/default"
        assert ctx.limitation("tools", "notools/default") == NO_TOOLS
        assert ctx.limitation("tools", "other") is None
        assert ctx.model_without(srv, "tools") == {"model": "conformance/plain-model"}
        assert ctx.model_without(srv, "structured_output") == {}
        assert (
            Context(spec_for("nothing", declared=(everything,))).model_without(srv, "tools") is None
        )
