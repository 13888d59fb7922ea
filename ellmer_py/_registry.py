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
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from ._errors import ConfigurationError

if TYPE_CHECKING:
    import pluggy

    from ._chat import Chat
    from ._provider import ModelLimitation

__all__ = [
    "ENTRY_POINT_GROUP",
    "ProviderSpec",
    "chat",
    "get_provider_spec",
    "list_providers",
    "plugin_manager",
]

ENTRY_POINT_GROUP = "ellmer_py"


@frozen
class ProviderSpec:
    """What a provider plugin tells the registry about itself.

    ``chat_function`` is the ``chat_<name>()`` constructor; it must accept
    ``model=`` and the common keyword arguments.
    """

    name: str
    chat_function: Callable[..., Chat] = field(repr=lambda f: getattr(f, "__name__", repr(f)))
    protocol: str = "openai-chat"
    default_base_url: str | None = None
    default_model: str | None = None
    credential_sources: Sequence[str] = ()
    limitations: Sequence[ModelLimitation] = ()
    description: str = ""


class _Registry:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._pm: pluggy.PluginManager | None = None
        self._specs: dict[str, ProviderSpec] | None = None

    def plugin_manager(self) -> pluggy.PluginManager:
        with self._lock:
            if self._pm is None:
                import pluggy

                from . import _hookspecs

                pm = pluggy.PluginManager(_hookspecs.PROJECT_NAME)
                pm.add_hookspecs(_hookspecs)
                self._pm = pm
                _load_entry_points(pm)
            return self._pm

    def specs(self) -> dict[str, ProviderSpec]:
        with self._lock:
            if self._specs is None:
                pm = self.plugin_manager()
                found: dict[str, ProviderSpec] = {}

                def register(spec: ProviderSpec) -> None:
                    if not isinstance(spec, ProviderSpec):
                        raise TypeError(
                            f"register() takes a ProviderSpec, not {type(spec).__name__}."
                        )
                    if spec.name in found:
                        warnings.warn(
                            f"Two plugins register the provider {spec.name!r}; using the later one.",
                            stacklevel=2,
                        )
                    found[spec.name] = spec

                pm.hook.ellmer_py_register_providers(register=register)
                self._specs = found
            return self._specs

    def invalidate(self) -> None:
        with self._lock:
            self._specs = None

    def reset(self) -> None:
        with self._lock:
            self._pm = None
            self._specs = None


_REGISTRY = _Registry()


def _allowed(name: str) -> bool:
    only = os.environ.get("ELLMER_PY_PLUGINS")
    if only is None or not only.strip():
        return True
    return name in {n.strip() for n in only.split(",")}


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    """Load each plugin on its own: one that fails is skipped with a warning."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if not _allowed(ep.name) or pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            dist = getattr(getattr(ep, "dist", None), "name", None) or "an unknown package"
            warnings.warn(
                f"ellmer-py plugin {ep.name!r} (from {dist}, {ep.value}) could not be loaded "
                f"and was skipped: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
    pm.check_pending()


def plugin_manager() -> pluggy.PluginManager:
    """The pluggy PluginManager, with every allowed plugin loaded."""
    return _REGISTRY.plugin_manager()


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register a plugin object directly (tests, notebooks); providers are re-read."""
    pm = plugin_manager()
    pm.register(plugin, name=name)
    pm.check_pending()
    _REGISTRY.invalidate()


def unregister_plugin(plugin: object | None = None, name: str | None = None) -> None:
    """Undo ``register_plugin``."""
    plugin_manager().unregister(plugin, name=name)
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


def chat(name: str, **kwargs: Any) -> Chat:
    """A Chat from a ``"provider/model"`` string (R: ``chat()``).

    ``chat("huggingface/meta-llama/Llama-3.1-8B-Instruct")`` calls the
    Hugging Face plugin's constructor with that model; ``chat("huggingface")``
    uses the provider's default model. Other keywords go to the constructor.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError('chat() needs a "provider/model" string, such as "huggingface/org/model".')
    provider, _, model = name.partition("/")
    spec = get_provider_spec(provider)
    if model:
        if "model" in kwargs:
            raise ConfigurationError(f"chat({name!r}) names a model already; don't pass model= too.")
        kwargs["model"] = model
    return spec.chat_function(**kwargs)
