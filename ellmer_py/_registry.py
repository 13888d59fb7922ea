"""The provider registry: pluggy hooks, entry-point loading, ``chat("p/model")``.

Plugins are found in the ``ellmer_py`` entry-point group; the built-in
providers are declared there in ellmer-py's own pyproject, exactly as a
third-party package declares its own. ``ELLMER_PY_PLUGINS`` (a comma list of
entry-point names) limits which ones load.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import ConfigurationError
from ._specs import ProtocolSpec, ProviderSpec

if TYPE_CHECKING:
    import pluggy

    from ._chat import Chat

__all__ = [
    "ENTRY_POINT_GROUP",
    "ProtocolSpec",
    "ProviderSpec",
    "chat",
    "get_protocol_spec",
    "get_provider_spec",
    "list_protocols",
    "list_providers",
    "plugin_manager",
    "register_plugin",
    "reload_plugins",
    "unregister_plugin",
]

ENTRY_POINT_GROUP = "ellmer_py"


class _Registry:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._pm: pluggy.PluginManager | None = None
        self._specs: dict[str, ProviderSpec] | None = None
        self._protocols: dict[str, ProtocolSpec] | None = None
        self._loading = False

    def plugin_manager(self) -> pluggy.PluginManager:
        with self._lock:
            if self._pm is None:
                import pluggy

                from . import _hookspecs

                pm = pluggy.PluginManager(_hookspecs.PROJECT_NAME)
                pm.add_hookspecs(_hookspecs)
                # Set before loading: a plugin that does ``from ellmer_py import
                # chat_openai_compatible`` on import looks the registry up again
                # (same thread, re-entrant lock) and sees what is loaded so far.
                self._pm = pm
                self._loading = True
                try:
                    _load_entry_points(pm)
                finally:
                    self._loading = False
            return self._pm

    def specs(self) -> dict[str, ProviderSpec]:
        with self._lock:
            if self._specs is not None:
                return self._specs
            specs = _collect_specs(self.plugin_manager())
            if not self._loading:  # a look-up while plugins load must not be kept
                self._specs = specs
            return specs

    def protocols(self) -> dict[str, ProtocolSpec]:
        with self._lock:
            if self._protocols is not None:
                return self._protocols
            found = _collect(
                self.plugin_manager(), "ellmer_py_register_protocols", ProtocolSpec, "protocol"
            )
            if not self._loading:
                self._protocols = found
            return found

    def invalidate(self) -> None:
        with self._lock:
            self._specs = None
            self._protocols = None

    def reset(self) -> None:
        with self._lock:
            self._pm = None
            self._specs = None
            self._protocols = None


_REGISTRY = _Registry()


def _allowed(name: str) -> bool:
    only = os.environ.get("ELLMER_PY_PLUGINS")
    if only is None or not only.strip():
        return True
    return name in {n.strip() for n in only.split(",")}


_OWN_DIST = "ellmer-py"


def _dist_name(ep: Any) -> str | None:
    name = getattr(getattr(ep, "dist", None), "name", None)
    return name if isinstance(name, str) else None


def _skip(name: str, where: str, problem: str, exc: BaseException) -> None:
    warnings.warn(
        f"ellmer-py plugin {name!r} ({where}) {problem} and was skipped: "
        f"{type(exc).__name__}: {exc}",
        RuntimeWarning,
        stacklevel=4,
    )


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    """Load each plugin on its own: one that fails is skipped with a warning.

    A plugin that imports but implements a hook ellmer-py does not define (a
    misspelled name) is also skipped with a warning that names the hook,
    rather than silently never being called.
    """
    from importlib.metadata import entry_points

    # ellmer-py's own entry points first, so that a third-party plugin can build
    # on chat_openai_compatible while it is being imported.
    found = sorted(
        entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: _dist_name(ep) != _OWN_DIST
    )
    for ep in found:
        if not _allowed(ep.name) or pm.get_plugin(ep.name) is not None:
            continue
        dist = _dist_name(ep) or "an unknown package"
        where = f"from {dist}, {ep.value}"
        try:
            plugin = ep.load()
        except Exception as exc:
            _skip(ep.name, where, "could not be loaded", exc)
            continue
        try:
            pm.register(plugin, name=ep.name)
            pm.check_pending()
        except Exception as exc:  # pluggy.PluginValidationError, or registered twice
            if pm.get_plugin(ep.name) is plugin:
                pm.unregister(name=ep.name)
            _skip(ep.name, where, "is not a valid ellmer-py plugin", exc)


def _collect_specs(pm: pluggy.PluginManager) -> dict[str, ProviderSpec]:
    """Ask each plugin for its providers (see :func:`_collect`)."""
    return _collect(pm, "ellmer_py_register_providers", ProviderSpec, "provider")


_S = TypeVar("_S")


def _collect(pm: pluggy.PluginManager, hook: str, kind: type[_S], noun: str) -> dict[str, _S]:
    """Ask each plugin for what it registers through ``hook``, one plugin at a time.

    A plugin whose hook raises, or hands ``register`` something that is not
    a ``kind``, is skipped with a warning; the others still count. Plugins
    registered later win over earlier ones for the same name.
    """
    found: dict[str, _S] = {}
    for impl in getattr(pm.hook, hook).get_hookimpls():
        if impl.hookwrapper or impl.wrapper:
            continue
        mine: dict[str, _S] = {}

        def register(spec: _S, mine: dict[str, _S] = mine) -> None:
            if not isinstance(spec, kind):
                raise TypeError(f"register() takes a {kind.__name__}, not {type(spec).__name__}.")
            mine[spec.name] = spec  # type: ignore[attr-defined]

        try:
            impl.function(*[{"register": register}[arg] for arg in impl.argnames])
        except Exception as exc:
            _skip(impl.plugin_name, f"its {hook} hook", "failed", exc)
            continue
        for name, spec in mine.items():
            if name in found:
                warnings.warn(
                    f"Two plugins register the {noun} {name!r}; using the one from "
                    f"plugin {impl.plugin_name!r}.",
                    RuntimeWarning,
                    stacklevel=3,
                )
            found[name] = spec
    return found


def plugin_manager() -> pluggy.PluginManager:
    """The pluggy PluginManager, with every allowed plugin loaded."""
    return _REGISTRY.plugin_manager()


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register a plugin object directly (tests, notebooks); providers are re-read."""
    pm = plugin_manager()
    registered = pm.register(plugin, name=name)
    try:
        pm.check_pending()
    except Exception:
        # a misspelled hook fails loudly, and leaves the registry as it was
        pm.unregister(plugin, name=registered)
        raise
    _REGISTRY.invalidate()


def unregister_plugin(plugin: object | None = None, name: str | None = None) -> None:
    """Undo ``register_plugin``; unknown plugins are ignored."""
    pm = plugin_manager()
    if (plugin is None or pm.is_registered(plugin)) and (name is None or pm.has_plugin(name)):
        pm.unregister(plugin, name=name)
    _REGISTRY.invalidate()


def reload_plugins() -> None:
    """Forget every loaded plugin; the next look-up reads entry points again."""
    _REGISTRY.reset()


def list_providers() -> list[str]:
    """Names of every registered provider, sorted."""
    return sorted(_REGISTRY.specs())


def get_provider_spec(name: str) -> ProviderSpec:
    """The registered provider called ``name``; a clear error if there is none."""
    specs = _REGISTRY.specs()
    try:
        return specs[name]
    except KeyError:
        known = ", ".join(sorted(specs)) or "none"
        raise ConfigurationError(
            f"No provider called {name!r} is registered (registered: {known}). "
            "Install the package that provides it, or check ELLMER_PY_PLUGINS."
        ) from None


def list_protocols() -> list[str]:
    """Names of every registered wire protocol, sorted."""
    return sorted(_REGISTRY.protocols())


def get_protocol_spec(name: str) -> ProtocolSpec:
    """The registered wire protocol called ``name``; a clear error if there is none."""
    protocols = _REGISTRY.protocols()
    try:
        return protocols[name]
    except KeyError:
        known = ", ".join(sorted(protocols)) or "none"
        raise ConfigurationError(
            f"No wire protocol called {name!r} is registered (registered: {known}). "
            "Install the package that provides it, or check ELLMER_PY_PLUGINS."
        ) from None


def chat(name: str, **kwargs: Any) -> Chat:
    """A Chat from a ``"provider/model"`` string (R: ``chat()``).

    ``chat("huggingface/meta-llama/Llama-3.1-8B-Instruct")`` calls the
    Hugging Face plugin's constructor with that model; ``chat("huggingface")``
    uses the provider's default model. Other keywords go to the constructor.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(
            'chat() needs a "provider/model" string, such as "huggingface/org/model".'
        )
    provider, _, model = name.partition("/")
    spec = get_provider_spec(provider)
    if model:
        if "model" in kwargs:
            raise ConfigurationError(
                f"chat({name!r}) names a model already; don't pass model= too."
            )
        kwargs["model"] = model
    return spec.chat_function(**kwargs)
