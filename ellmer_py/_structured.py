"""Structured output: ask for JSON that fits a type, check it, convert it.

(R: ``chat_structured()``, ``extract_data()``.)

``spec_for()`` turns what the user asked for (a ``type_*()`` type, or a
Python type such as a dataclass, an attrs class, a TypedDict or
``list[...]``, or a pydantic model) into the type sent to the model, wrapped in an object when
the protocol needs one. ``json_turn()`` makes the answer's text a
``ContentJson``; ``extract()`` checks the finish reason, validates the data
against the schema and, for Python types, structures it with cattrs (a
pydantic model validates its own data, ``model_validate()``). cattrs is
imported the first time something is structured; pydantic never is.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from attrs import evolve, frozen

from ._content import Content, ContentJson, ContentText
from ._errors import EllmerError
from ._protocols._schema import as_json_schema
from ._pydantic import ModelValidationError, dump_model, is_pydantic_model, validate_model
from ._turn import AssistantTurn
from ._types import (
    Type,
    TypeArray,
    TypeBasic,
    TypeEnum,
    TypeJsonSchema,
    TypeObject,
    as_type,
    fields_of,
    is_optional,
)
from ._validate import validate

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "StructureError",
    "StructuredOutputError",
    "StructuredSpec",
    "converter",
    "extract",
    "json_turn",
    "spec_for",
    "structure",
]


class StructuredOutputError(EllmerError, ValueError):
    """The model's structured answer was cut off, is not JSON, or does not fit the type.

    ``data`` holds what the model sent (parsed JSON, or the text when it is
    not JSON), ``problems`` the schema violations, ``finish_reason`` why the
    answer ended. The turns are recorded all the same.
    """

    def __init__(
        self,
        message: str,
        *,
        data: Any = None,
        problems: list[str] | None = None,
        finish_reason: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.data = data
        self.problems = problems or []
        self.finish_reason = finish_reason


class StructureError(ValueError):
    """Data could not be converted to a Python type; the message says where and why."""


class _ScalarError(ValueError):
    pass


def _scalar(value: Any, cls: type) -> Any:
    """JSON scalars only as what they are (an integral float will do for an int)."""
    if cls is bool:
        if isinstance(value, bool):
            return value
    elif cls is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif cls is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(value, cls):
        return value
    raise _ScalarError(f"expected {cls.__name__}, got {type(value).__name__} {value!r:.40}")


@cache
def converter() -> cattrs.Converter:
    """The cattrs Converter for structured output and tool arguments (strict scalars)."""
    import cattrs

    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    for scalar in (str, int, float, bool):
        conv.register_structure_hook(scalar, _scalar)

    def union(value: Any, annotation: Any) -> Any:
        """``int | str`` and the like: the first member the value fits, its own type first."""
        members = typing.get_args(annotation)
        if value is None and type(None) in members:
            return None
        exact = [m for m in members if isinstance(m, type) and type(value) is m]
        for member in [*exact, *(m for m in members if m not in exact and m is not type(None))]:
            try:
                return conv.structure(value, member)
            except Exception:  # the next member may fit
                continue
        names = " | ".join(getattr(m, "__name__", repr(m)) for m in members)
        raise _ScalarError(f"expected {names}, got {type(value).__name__} {value!r:.40}")

    conv.register_structure_hook_func(_is_plain_union, union)
    conv.register_structure_hook_func(is_pydantic_model, validate_model)
    conv.register_unstructure_hook_func(is_pydantic_model, dump_model)
    return conv


def _is_plain_union(annotation: Any) -> bool:
    """A union of more than one type besides None (cattrs handles ``X | None`` itself)."""
    import types

    origin = typing.get_origin(annotation)
    if origin is not typing.Union and origin is not getattr(types, "UnionType", None):
        return False
    return len([a for a in typing.get_args(annotation) if a is not type(None)]) > 1


def _format(exc: BaseException, type_: Any) -> str:
    from cattrs.v import format_exception

    if isinstance(exc, (_ScalarError, ModelValidationError)):
        return str(exc)
    return format_exception(exc, type_)


def structure(value: Any, annotation: Any) -> Any:
    """Convert JSON data to ``annotation`` with cattrs; nulls for fields with defaults are dropped.

    Raises StructureError with every problem and its path.
    """
    import cattrs

    value = _prune(value, annotation)
    try:
        return converter().structure(value, annotation)
    except cattrs.BaseValidationError as exc:
        messages = cattrs.transform_error(exc, "$", _format)
        raise StructureError("; ".join(messages)) from None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise StructureError(f"{_format(exc, annotation)} @ $") from None
    except cattrs.errors.StructureHandlerNotFoundError as exc:
        raise StructureError(f"{exc} @ $") from None


def _prune(value: Any, annotation: Any) -> Any:
    """Drop nulls where a field has a default; fill null where an optional field is missing.

    In OpenAI's strict mode every property is sent, and "no value" arrives
    as null: for a field with a default that means "use the default".
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _prune(value, args[0])
    if isinstance(value, list) and args and (origin in (list, tuple, set, frozenset)):
        return [_prune(v, args[0]) for v in value]
    if origin is not None and is_optional(annotation) and value is not None:
        members = [a for a in args if a is not type(None)]
        return _prune(value, members[0]) if len(members) == 1 else value
    if not isinstance(value, dict) or not isinstance(annotation, type):
        return value
    try:
        fields = fields_of(annotation)
    except Exception:
        return value
    if not fields and not hasattr(annotation, "__annotations__"):
        return value
    out = dict(value)
    for name, hint, required in fields:
        if name in out:
            if out[name] is None and not required and not is_optional(hint):
                del out[name]
            else:
                out[name] = _prune(out[name], hint)
        elif is_optional(hint) and required:
            out[name] = None
    return out


# -- the request side ------------------------------------------------------------------


@frozen
class StructuredSpec:
    """What ``chat_structured()`` asked for and what is sent to the model."""

    target: Any
    type: Type
    sent: Type
    wrapped: bool
    python: bool

    def schema(self) -> dict[str, Any]:
        """The JSON schema answers are checked against (optional properties may be null)."""
        return as_json_schema(self.sent, _nullable=True)


def needs_wrapper(type_: Type) -> bool:
    """Whether a type must be wrapped in an object (R: ``type_needs_wrapper()``, OpenAI).

    Strict mode takes object schemas only: a JSON schema given as it is goes
    unwrapped when it describes an object, and is wrapped otherwise (the
    ``anyOf`` of ``int | str``, an enum of numbers, an array).
    """
    if isinstance(type_, TypeJsonSchema):
        return type_.json.get("type") != "object"
    return not isinstance(type_, TypeObject)


def spec_for(target: Any, *, wrap: Callable[[Type], bool] = needs_wrapper) -> StructuredSpec:
    """Describe ``target`` for a structured request; ``wrap(type)`` says whether to wrap it."""
    python = not isinstance(target, Type)
    type_ = as_type(target, what="chat_structured() type")
    wrapped = wrap(type_)
    sent = TypeObject({"wrapper": type_}) if wrapped else type_
    return StructuredSpec(target=target, type=type_, sent=sent, wrapped=wrapped, python=python)


# -- the answer side ---------------------------------------------------------------------


def _strip_fences(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        _, _, rest = text.partition("\n")
        if rest.rstrip().endswith("```"):
            return rest.rstrip()[:-3].strip()
    return text


def json_turn(turn: AssistantTurn) -> AssistantTurn:
    """The turn with its text replaced by ContentJson when the text is JSON (R: ``has_type``)."""
    if any(isinstance(c, ContentJson) for c in turn.contents):
        return turn
    text = turn.text
    if not text.strip():
        return turn
    try:
        value = json.loads(_strip_fences(text))
    except (ValueError, RecursionError):  # not JSON, or nested too deeply: left as text
        return turn
    contents: list[Content] = []
    placed = False
    for content in turn.contents:
        if isinstance(content, ContentText):
            if not placed:
                contents.append(ContentJson(value))
                placed = True
        else:
            contents.append(content)
    return evolve(turn, contents=tuple(contents))


_CUT_OFF = {"max_tokens", "length"}


def extract(spec: StructuredSpec, turn: AssistantTurn, *, convert: bool = True) -> Any:
    """The data of a structured answer, checked and converted (R: ``extract_data()``)."""
    reason = turn.finish_reason
    found = [c for c in turn.contents if isinstance(c, ContentJson)]
    data: Any = found[0].value if found else turn.text
    if reason in _CUT_OFF:
        raise StructuredOutputError(
            "The structured answer was cut off because it hit the max_tokens limit, so it is "
            "not complete JSON. Raise max_tokens (params(max_tokens=...)) and ask again.",
            data=data,
            finish_reason=reason,
        )
    if reason == "content_filter":
        raise StructuredOutputError(
            "The structured answer was filtered by the provider's content moderation policy.",
            data=data,
            finish_reason=reason,
        )
    if not found:
        text = turn.text
        what = f"not JSON: {text[:200]!r}" if text.strip() else "empty"
        raise StructuredOutputError(
            f"Data extraction failed: the model's answer is {what}.",
            data=text,
            finish_reason=reason,
        )
    if len(found) > 1:
        import warnings

        warnings.warn(
            f"Found {len(found)} JSON answers, using the first.", UserWarning, stacklevel=3
        )
    if convert:
        data = _normalise(data, spec.sent)
    problems = validate(data, spec.schema())
    if problems:
        raise StructuredOutputError(
            "The structured answer does not fit the type: " + "; ".join(problems),
            data=data,
            problems=problems,
            finish_reason=reason,
        )
    if spec.wrapped:
        data = data["wrapper"]
    if not convert:
        return data
    if spec.python:
        try:
            return structure(data, spec.target)
        except StructureError as exc:
            raise StructuredOutputError(
                f"The structured answer could not be converted to {_name(spec.target)}: {exc}",
                data=data,
                finish_reason=reason,
            ) from None
    return _fill(data, spec.type)


def _name(target: Any) -> str:
    return getattr(target, "__name__", None) or repr(target)


def _normalise(value: Any, type_: Type) -> Any:
    """Fix what models get slightly wrong (R: ``convert_from_type()``).

    A scalar wrapped in a one-item list is unwrapped (ellmer #931), and an
    integral float is an integer where an integer is expected.
    """
    if isinstance(type_, (TypeBasic, TypeEnum)):
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if (
            isinstance(type_, TypeBasic)
            and type_.type == "integer"
            and isinstance(value, float)
            and value.is_integer()
        ):
            value = int(value)
        return value
    if isinstance(type_, TypeArray) and isinstance(value, list):
        return [_normalise(v, type_.items) for v in value]
    if isinstance(type_, TypeObject) and isinstance(value, dict):
        return {
            k: _normalise(v, type_.properties[k]) if k in type_.properties else v
            for k, v in value.items()
        }
    return value


def _fill(value: Any, type_: Type) -> Any:
    """Every declared property present: a missing optional one is None (R fills NA)."""
    if isinstance(type_, TypeArray) and isinstance(value, list):
        return [_fill(v, type_.items) for v in value]
    if isinstance(type_, TypeObject) and isinstance(value, dict):
        out = {name: _fill(value.get(name), prop) for name, prop in type_.properties.items()}
        out.update({k: v for k, v in value.items() if k not in type_.properties})
        return out
    return value
