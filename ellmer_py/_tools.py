"""Tools: Python functions the model may call (R: ``tool()``, ``ToolDef``, ``tool_reject()``).

``tool(func, description)`` describes a function to the model; without
``arguments=`` the JSON schema comes from the signature, the type hints and
the docstring (Google, NumPy or Sphinx style). ``ToolBuiltIn`` is a tool the
provider runs. Running a tool the model asked for is ellmer_py._invoke's job.
"""

from __future__ import annotations

import inspect
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from attrs import Factory, evolve, field, frozen

from ._docstrings import docstring_params, docstring_summary
from ._errors import ConfigurationError, ToolError
from ._protocols._schema import as_json_schema
from ._types import _MISSING, Type, TypeIgnore, TypeObject, as_type, is_optional

__all__ = [
    "ToolBuiltIn",
    "ToolDef",
    "ToolReject",
    "as_tool",
    "tool",
    "tool_annotations",
    "tool_list",
    "tool_reject",
]

_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
_counter_lock = threading.Lock()
_counter = 0


def _unique_name() -> str:
    global _counter
    with _counter_lock:
        _counter += 1
        return f"tool_{_counter:03d}"


class ToolReject(ToolError):
    """Raised to reject a tool call (R: the ``ellmer_tool_reject`` condition).

    Raise it (or call ``tool_reject()``) inside a tool or an
    ``on_tool_request`` callback: the call is not run, and the model is told
    "Tool call rejected." with the reason.
    """

    def __init__(self, reason: str = "The user has chosen to disallow the tool call.") -> None:
        if not isinstance(reason, str):
            raise ConfigurationError(f"tool_reject() reason must be a string, not {reason!r}.")
        super().__init__(f"Tool call rejected. {reason}")
        self.reason = reason


def tool_reject(reason: str = "The user has chosen to disallow the tool call.") -> None:
    """Reject the tool call being handled, with a reason the model reads (R: ``tool_reject()``)."""
    raise ToolReject(reason)


def tool_annotations(
    title: str | None = None,
    read_only_hint: bool | None = None,
    open_world_hint: bool | None = None,
    idempotent_hint: bool | None = None,
    destructive_hint: bool | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Hints about a tool's behaviour, from the Model Context Protocol (R: ``tool_annotations()``).

    Unset hints are left out. They are kept on the ToolDef for user
    interfaces; they are not sent to the model.
    """
    for name, value in (
        ("read_only_hint", read_only_hint),
        ("open_world_hint", open_world_hint),
        ("idempotent_hint", idempotent_hint),
        ("destructive_hint", destructive_hint),
    ):
        if value is not None and not isinstance(value, bool):
            raise ConfigurationError(f"{name} must be True, False or None, not {value!r}.")
    if title is not None and not isinstance(title, str):
        raise ConfigurationError(f"title must be a string or None, not {title!r}.")
    out = {
        "title": title,
        "read_only_hint": read_only_hint,
        "open_world_hint": open_world_hint,
        "idempotent_hint": idempotent_hint,
        "destructive_hint": destructive_hint,
        **extra,
    }
    return {k: v for k, v in out.items() if v is not None}


def _signature(func: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    """Resolved type hints of a function, a ``functools.partial`` or a callable object."""
    import typing

    call = vars(type(func)).get("__call__")  # a callable object's method
    for target in (func, getattr(func, "func", None), call):
        if target is None:
            continue
        try:
            return typing.get_type_hints(target, include_extras=True)
        except Exception:
            continue
    return {}


def _check_arguments(_: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, TypeObject):
        raise ConfigurationError(
            f"ToolDef arguments must be a TypeObject, not {type(value).__name__}."
        )


def _check_name(_: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigurationError(
            f"A tool name must contain only letters, numbers, - and _, not {value!r}."
        )


def _check_func(_: Any, attribute: Any, value: Any) -> None:
    if not callable(value):
        raise ConfigurationError(f"A tool needs a function, not {type(value).__name__}.")


@frozen
class ToolDef:
    """A function the model may call, with its name, description and arguments (R: ``ToolDef``).

    Make one with ``tool()``. Calling a ToolDef calls the function.
    """

    func: Callable[..., Any] = field(validator=_check_func)
    name: str = field(validator=_check_name)
    description: str = field(default="")
    arguments: TypeObject = field(factory=TypeObject, validator=_check_arguments)
    convert: bool = True
    annotations: Mapping[str, Any] = field(factory=dict, converter=dict)
    signature: inspect.Signature | None = field(
        default=Factory(lambda self: _signature(self.func), takes_self=True),
        eq=False,
        repr=False,
    )
    hints: Mapping[str, Any] = field(
        default=Factory(lambda self: _hints(self.func), takes_self=True),
        eq=False,
        repr=False,
    )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def schema(self, *, strict: bool = False) -> dict[str, Any]:
        """The JSON schema of the arguments (``strict=True``: OpenAI's strict form)."""
        return as_json_schema(self.arguments, strict=strict)


def tool(
    func: Callable[..., Any],
    description: str | None = None,
    arguments: Mapping[str, Any] | TypeObject | None = None,
    name: str | None = None,
    *,
    convert: bool = True,
    annotations: Mapping[str, Any] | None = None,
) -> ToolDef:
    """Describe a Python function so a model can call it (R: ``tool()``).

    ``description`` defaults to the docstring's summary. Without
    ``arguments`` the argument types come from the type hints (``int``,
    ``list[str]``, ``Literal[...]``, a dataclass, ...; ``Annotated[x,
    "text"]`` adds a description) and the descriptions from the docstring's
    ``Args:`` / ``Parameters`` section; parameters with defaults are not
    required. Otherwise ``arguments`` maps each parameter to a ``type_*()``
    type (or a Python type); ``type_ignore()`` keeps one from the model.
    ``name`` defaults to the function's name. With ``convert`` (the default)
    the model's arguments are checked against the schema and converted to
    the annotated Python types before the call. ``func`` may be an ``async
    def`` function: such a tool runs in ``chat_async()`` / ``stream_async()``
    only (R: "async tools are supported, but you must use ``$chat_async()``").
    """
    if not callable(func):
        raise ConfigurationError(f"tool() needs a function, not {type(func).__name__}.")
    if name is None:
        name = getattr(func, "__name__", None) or ""
        if not _NAME.match(name):
            name = _unique_name()  # a lambda, a partial, a callable object
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(
            f"tool() name must contain only letters, numbers, - and _, not {name!r}."
        )
    doc = inspect.getdoc(func) or ""
    if description is None:
        description = docstring_summary(doc)
        if not description:
            raise ConfigurationError(
                f"tool() needs a description of {name}(): pass description=, or give the "
                "function a docstring."
            )
    if not isinstance(description, str):
        raise ConfigurationError(f"tool() description must be a string, not {description!r}.")
    if not isinstance(convert, bool):
        raise ConfigurationError(f"tool() convert must be True or False, not {convert!r}.")
    signature = _signature(func)
    hints = _hints(func)
    if isinstance(arguments, TypeObject):
        properties: dict[str, Type] = dict(arguments.properties)
        top_description = arguments.description
    elif arguments is None:
        properties = _from_signature(name, signature, hints, doc)
        top_description = None
    elif isinstance(arguments, Mapping):
        properties = {
            str(k): as_type(v, what=f"tool() arguments[{k!r}]") for k, v in arguments.items()
        }
        top_description = None
    else:
        raise ConfigurationError(
            "tool() arguments must be a dict of parameter names to types (type_*() or Python "
            f"types), not {type(arguments).__name__}."
        )
    if signature is not None and arguments is not None:
        _check_names(name, properties, signature)
    sent = {k: v for k, v in properties.items() if not isinstance(v, TypeIgnore)}
    return ToolDef(
        func,
        name=name,
        description=description,
        arguments=TypeObject(sent, description=top_description),
        convert=convert,
        annotations=annotations or {},
        signature=signature,
        hints=hints,
    )


def _parameters(signature: inspect.Signature) -> list[inspect.Parameter]:
    return [
        p
        for p in signature.parameters.values()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]


def _from_signature(
    name: str, signature: inspect.Signature | None, hints: Mapping[str, Any], doc: str
) -> dict[str, Type]:
    if signature is None:
        raise ConfigurationError(
            f"tool() cannot read the signature of {name}(); pass arguments= with a type for "
            "each parameter."
        )
    described = docstring_params(doc)
    out: dict[str, Type] = {}
    for param in _parameters(signature):
        annotation = hints.get(param.name, param.annotation)
        if annotation is inspect.Parameter.empty:
            annotation = _MISSING
        prop = as_type(annotation, what=f"{name}() argument {param.name!r}")
        has_default = param.default is not inspect.Parameter.empty
        required = not has_default and not is_optional(annotation)
        description = prop.description
        if param.name in described and not _annotated_description(annotation):
            description = described[param.name] or description
        out[param.name] = evolve(prop, description=description, required=required)
    return out


def _annotated_description(annotation: Any) -> bool:
    import typing

    if typing.get_origin(annotation) is typing.Annotated:
        return any(isinstance(a, str) for a in typing.get_args(annotation)[1:])
    return False


def _check_names(name: str, properties: Mapping[str, Type], signature: inspect.Signature) -> None:
    """R's check_arguments(): the types must match the function's parameters."""
    params = {p.name: p for p in _parameters(signature)}
    takes_kwargs = any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()
    )
    extra = [k for k in properties if k not in params] if not takes_kwargs else []
    missing = [
        p.name
        for p in params.values()
        if p.default is inspect.Parameter.empty and p.name not in properties
    ]
    problems = []
    if extra:
        problems.append(f"extra type definitions: {', '.join(extra)}")
    if missing:
        problems.append(f"missing type definitions: {', '.join(missing)}")
    if problems:
        raise ConfigurationError(
            f"tool() arguments must match the parameters of {name}(): " + "; ".join(problems) + "."
        )


def _as_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


@frozen
class ToolBuiltIn:
    """A tool the provider runs on its side, such as web search (R: ``ToolBuiltIn``).

    ``json`` is the tool's definition, sent as it is; its calls and results
    come back in the answer (``ContentToolRequestSearch`` and friends) and
    nothing runs locally.
    """

    name: str = field(validator=_check_name)
    json: Mapping[str, Any] = field(converter=_as_dict)
    description: str = ""
    annotations: Mapping[str, Any] = field(factory=dict, converter=_as_dict)


def as_tool(x: Any, what: str) -> ToolDef:
    """``x`` as a tool: a ToolDef or ToolBuiltIn as it is, a plain function through ``tool()``."""
    if isinstance(x, (ToolDef, ToolBuiltIn)):
        return x  # type: ignore[return-value]
    if callable(x):
        return tool(x)
    raise ConfigurationError(
        f"{what} takes tools made with tool() (or plain functions), not {type(x).__name__}."
    )


def tool_list(tools: Any) -> list[Any]:
    """The tools of a list (or of a dict's values); a clear error for anything else."""
    if isinstance(tools, Mapping):
        return list(tools.values())
    if isinstance(tools, (str, bytes)) or not isinstance(tools, Iterable):
        raise ConfigurationError(
            f"Expected a list of tools made with tool(), not {type(tools).__name__}."
        )
    return list(tools)
