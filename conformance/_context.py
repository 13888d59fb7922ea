"""What a conformance check is given: the provider under test and ways to reach it."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ._protocol import ProtocolFake, protocol_fake
from .fake_server import FakeServer

if TYPE_CHECKING:
    from ellmer_py import Chat, ModelLimitation, ProviderSpec

__all__ = ["Context"]

#: Environment variables that point at a home directory where a provider may
#: keep a token file (``HOME``, ``XDG_CACHE_HOME``, ``HF_HOME``, ...).
_HOME_VAR = re.compile(r"(.*_)?HOME(PATH|DRIVE)?|USERPROFILE|APPDATA|LOCALAPPDATA")
#: Models the suite tries when the default one has a limitation.
_PLAIN_MODELS = ("conformance/plain-model", "plain-model-without-limitations")
_HOME_VARS_SET = ("HOME", "USERPROFILE", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")


class Context:
    """The provider under test, for one check (``ctx`` in ``check_<name>(ctx)``).

    ``make_chat(server, **kwargs)`` builds a chat pointed at a fake server,
    with a per-context credential (``ctx.key``), ``echo="none"`` and one try;
    keywords override any of those. ``note()`` records something a reader of
    the results should know (a part of a check that does not apply).
    """

    def __init__(self, spec: ProviderSpec, *, timeout_s: float = 10.0) -> None:
        self.spec = spec
        #: The credential ``make_chat`` passes; it must never appear in an error.
        self.key = f"conformance-key-{secrets.token_hex(12)}"
        self.timeout_s = timeout_s
        self.notes: list[str] = []

    def __repr__(self) -> str:
        return f"<conformance Context {self.spec.name}>"

    @property
    def name(self) -> str:
        """The provider's registered name."""
        return self.spec.name

    @property
    def fake(self) -> ProtocolFake:
        """Scripted answers for the provider's wire protocol."""
        return protocol_fake(self.spec.protocol)

    def note(self, text: str) -> None:
        """Record a note shown next to the result (PASS with a note)."""
        if text not in self.notes:
            self.notes.append(text)

    def credentials(self) -> str:
        """The credentials function ``make_chat`` passes by default."""
        return self.key

    @contextlib.contextmanager
    def server(self) -> Iterator[FakeServer]:
        """A fresh fake server for the provider's protocol, stopped afterwards."""
        self.fake  # noqa: B018 - fails clearly for a protocol the suite does not know
        with FakeServer() as srv:
            yield srv
        if srv.errors:
            raise AssertionError(f"the fake server failed while serving: {srv.errors!r}")

    def conformance_kwargs(self, server: FakeServer) -> dict[str, Any]:
        """The keywords that point the provider's constructor at ``server``."""
        return dict(self.spec.conformance_kwargs(server.base_url))

    def make_chat(self, server: FakeServer, **kwargs: Any) -> Chat:
        """``spec.chat_function`` pointed at ``server``; ``kwargs`` win over the defaults."""
        arguments: dict[str, Any] = {
            **self.conformance_kwargs(server),
            "credentials": self.credentials,
            "echo": "none",
            "max_tries": 1,
            "timeout_s": self.timeout_s,
        }
        arguments.update(kwargs)
        return self.spec.chat_function(**arguments)

    def unlimited_model(self, server: FakeServer) -> dict[str, Any]:
        """``{"model": m}`` for a model that takes a system prompt, or ``{}``.

        Empty when the model the provider uses by default has no declared
        ``system_prompt`` limitation.
        """
        model = self.model_without(server, "system_prompt")
        if model is None:
            raise AssertionError(
                "every model the suite tried has a declared system_prompt limitation: "
                f"{self.candidate_models(server)!r}"
            )
        return model

    def default_model(self, server: FakeServer) -> str | None:
        """The model a chat made by ``make_chat`` uses, when the suite can tell."""
        default = self.conformance_kwargs(server).get("model") or self.spec.default_model
        return default if isinstance(default, str) else None

    def limitation(self, feature: str, model: str | None) -> ModelLimitation | None:
        """The provider's declared limitation of ``model`` for ``feature``, if any."""
        if model is None:
            return None
        return next(
            (x for x in self.spec.limitations if x.feature == feature and x.matches(model)), None
        )

    def model_without(self, server: FakeServer, feature: str) -> dict[str, Any] | None:
        """``{}`` when the default model can do ``feature``, else ``{"model": m}`` for one that can.

        None when every model the suite tries has a declared limitation for it
        (a pattern such as ``.*``: the provider can't do it at all).
        """
        default = self.default_model(server)
        if default is not None and not self.limitation(feature, default):
            return {}
        model = next((m for m in _PLAIN_MODELS if not self.limitation(feature, m)), None)
        return None if model is None else {"model": model}

    def candidate_models(self, server: FakeServer) -> list[str]:
        """The models the suite tries for a feature: the default one (when known) first."""
        default = self.default_model(server)
        return [*([default] if default else []), *_PLAIN_MODELS]

    @contextlib.contextmanager
    def isolated_environment(self) -> Iterator[None]:
        """No credential in the environment while the block runs.

        Unsets the provider's ``credential_env`` variables, points the home
        and cache directories at an empty temporary one (so no token file
        is found) and drops other ``*_HOME`` variables; everything is put
        back afterwards.
        """
        saved = dict(os.environ)
        with tempfile.TemporaryDirectory(prefix="ellmer-conformance-home-") as home:
            try:
                for name in list(os.environ):
                    if name in self.spec.credential_env or _HOME_VAR.fullmatch(name):
                        del os.environ[name]
                for name in _HOME_VARS_SET:
                    os.environ[name] = home
                yield
            finally:
                for name in [n for n in os.environ if n not in saved]:
                    del os.environ[name]
                for name, value in saved.items():
                    if os.environ.get(name) != value:
                        os.environ[name] = value
