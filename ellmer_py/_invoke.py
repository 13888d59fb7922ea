"""Running the tools a model asks for (R: ``invoke_tool()``, ``invoke_tools()``).

``invoke_tool()`` runs one ``ContentToolRequest`` and always returns a
``ContentToolResult``: an unknown tool, arguments that are not valid JSON or
do not fit the schema, a tool that raises, and a rejected call all become
error results the model reads, as ellmer does. ``warn_tool_errors()`` sums
up the failures of a conversation in one warning.
"""

from __future__ import annotations

import inspect
import json
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from attrs import evolve

from ._content import Content, ContentToolRequest, ContentToolResult
from ._errors import ToolError
from ._params import _caller_stacklevel
from ._protocols._schema import as_json_schema
from ._tools import ToolBuiltIn, ToolDef, ToolReject, _parameters
from ._types import is_optional
from ._validate import json_type_name, validate

__all__ = [
    "failed_call",
    "invoke_tool",
    "invoke_tools",
    "prepare_call",
    "refuse_awaitable",
    "tool_result",
    "warn_tool_errors",
]


class _ArgumentError(Exception):
    """The model's arguments cannot be used: the message is what the model reads."""


def _error(request: ContentToolRequest, message: str) -> ContentToolResult:
    return ContentToolResult(id=request.id, error=message)


def _preview(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _prepare(tool_: ToolDef, args: dict[str, Any]) -> dict[str, Any]:
    """Check the model's arguments against the schema and convert them.

    (R: ``tool_request_args()``.)
    """
    properties = tool_.arguments.properties
    extra = [k for k in args if k not in properties]
    if extra:
        s = "s" if len(extra) > 1 else ""
        raise _ArgumentError(f"Unused argument{s}: {', '.join(extra)}")
    problems = validate(args, as_json_schema(tool_.arguments, _nullable=True))
    if problems:
        raise _ArgumentError("Invalid arguments: " + "; ".join(problems))
    params = {p.name: p for p in _parameters(tool_.signature)} if tool_.signature else {}
    out: dict[str, Any] = {}
    for key, value in args.items():
        param = params.get(key)
        if value is None and param is not None and param.default is not inspect.Parameter.empty:
            continue  # null means "use the default", as ellmer drops NULL arguments
        out[key] = value
    for key, param in params.items():
        if (
            key not in out
            and key in properties
            and param.default is inspect.Parameter.empty
            and is_optional(tool_.hints.get(key, Any))
        ):
            out[key] = None
    from ._structured import StructureError, structure

    for key, value in list(out.items()):
        hint = tool_.hints.get(key)
        if hint is None or hint is Any:
            continue
        try:
            out[key] = structure(value, hint)
        except StructureError as exc:
            raise _ArgumentError(f"Invalid argument {key}: {exc}") from None
    return out


def _bind(tool_: ToolDef, kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """The call's arguments; positional-only parameters are passed by position."""
    signature = tool_.signature
    if signature is None:
        return [], kwargs
    positional: list[Any] = []
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.POSITIONAL_ONLY and param.name in kwargs:
            positional.append(kwargs.pop(param.name))
        elif param.kind is inspect.Parameter.POSITIONAL_ONLY:
            break
    try:
        signature.bind(*positional, **kwargs)
    except TypeError as exc:
        raise _ArgumentError(f"Invalid arguments: {exc}") from None
    return positional, kwargs


def _json_ready(value: Any) -> Any:
    """The tool's value as plain JSON data (dataclasses, attrs classes and enums unstructured)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        pass
    from ._structured import converter

    unstructured = converter().unstructure(value)
    return json.loads(json.dumps(unstructured))


def prepare_call(
    tool_: ToolDef | ToolBuiltIn | None, request: ContentToolRequest
) -> ContentToolResult | tuple[ToolDef, list[Any], dict[str, Any]]:
    """The tool and the arguments to call it with, or the error result the model reads.

    (R: the checks of ``invoke_tool()`` before ``do.call()``.) Shared by
    ``invoke_tool()`` and ``invoke_tool_async()``.
    """
    if tool_ is None:
        return _error(request, f"Unknown tool {request.name!r}.")
    if isinstance(tool_, ToolBuiltIn):
        return _error(request, f"{request.name!r} is run by the provider, not locally.")
    args = request.arguments
    if isinstance(args, str):
        return _error(
            request, f"The arguments are not valid JSON: {_preview(args)}; send a JSON object."
        )
    if not isinstance(args, dict):
        return _error(
            request, f"The arguments must be a JSON object, not a JSON {json_type_name(args)}."
        )
    try:
        kwargs = _prepare(tool_, args) if tool_.convert else dict(args)
        positional, kwargs = _bind(tool_, kwargs)
    except _ArgumentError as exc:
        return _error(request, str(exc))
    return tool_, positional, kwargs


def failed_call(request: ContentToolRequest, exc: Exception) -> ContentToolResult:
    """The error result of a tool that raised; a ToolReject gives "Tool call rejected. ..."."""
    if isinstance(exc, ToolReject):
        return _error(request, str(exc))
    text = str(exc)
    return _error(request, f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def tool_result(request: ContentToolRequest, value: Any) -> ContentToolResult:
    """The result of a tool that returned ``value`` (R: ``new_tool_result()``)."""
    if isinstance(value, ContentToolResult):
        return evolve(value, id=request.id)
    if isinstance(value, Content) or (
        isinstance(value, (list, tuple)) and value and all(isinstance(v, Content) for v in value)
    ):
        # an image (or images) returned by the tool is its result (R: a tool may return content)
        return ContentToolResult(id=request.id, value=value)
    try:
        return ContentToolResult(id=request.id, value=_json_ready(value))
    except (TypeError, ValueError):
        return _error(
            request,
            f"The tool returned a {type(value).__name__}, which cannot be sent as JSON; return "
            "a string or JSON-ready data.",
        )


def refuse_awaitable(value: Any, kind: str, detail: str = "") -> None:
    """R's error for an async tool or callback in ``chat()`` or ``stream()`` (a ToolError).

    ``kind`` is "tools" or "callbacks"; ``value`` (a coroutine never to be
    awaited) is closed first, so Python does not warn about it.
    """
    close = getattr(value, "close", None)
    if callable(close):
        close()
    raise ToolError(
        f"Can't use async {kind} with chat() or stream(){detail}. Async {kind} are supported, "
        "but you must use chat_async() or stream_async()."
    )


def invoke_tool(
    tool_: ToolDef | ToolBuiltIn | None, request: ContentToolRequest
) -> ContentToolResult:
    """Run one tool request; any failure becomes an error result (R: ``invoke_tool()``).

    ``tool_`` is None when the model asked for a tool that is not
    registered. A ``ToolReject`` raised by the tool gives "Tool call
    rejected. ..."; an async tool in a synchronous chat raises ToolError
    (R: "Can't use async tools with ``$chat()`` or ``$stream()``").
    """
    call = prepare_call(tool_, request)
    if isinstance(call, ContentToolResult):
        return call
    checked, positional, kwargs = call
    try:
        value = checked.func(*positional, **kwargs)
    except Exception as exc:
        return failed_call(request, exc)
    if inspect.isawaitable(value):
        refuse_awaitable(value, "tools", f": {checked.name}() is async")
    return tool_result(request, value)


def invoke_tools(
    requests: list[ContentToolRequest],
    tools: Mapping[str, ToolDef],
    on_request: Callable[[ContentToolRequest], None] | None = None,
    on_result: Callable[[ContentToolResult], None] | None = None,
) -> Iterator[ContentToolRequest | ContentToolResult]:
    """Run each request in order; yield the request, then its result (R: ``invoke_tools()``).

    ``on_request`` may raise ToolReject: the call is skipped and the result
    says why. Any other exception from a callback propagates.
    """
    for request in requests:
        yield request
        result: ContentToolResult | None = None
        if on_request is not None:
            try:
                on_request(request)
            except ToolReject as exc:
                result = _error(request, str(exc))
        if result is None:
            result = invoke_tool(tools.get(request.name), request)
        if on_result is not None:
            on_result(result)
        yield result


def warn_tool_errors(failed: list[tuple[ContentToolRequest, ContentToolResult]]) -> None:
    """One warning listing the tool calls that failed (R: ``warn_tool_errors()``)."""
    n = len(failed)
    lines = [f"Failed to evaluate {n} tool call{'s' if n > 1 else ''}."]
    for request, result in failed[:3]:
        lines.append(f"x [{request.name or 'unknown_tool'} ({request.id})]: {result.error}")
    if n > 3:
        lines.append(f"... and {n - 3} more.")
    warnings.warn("\n".join(lines), UserWarning, stacklevel=_caller_stacklevel())
